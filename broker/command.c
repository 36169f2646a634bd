/*  command - sluice-ctl commands: cancel, drain, and their replies.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

//  Every reply to a command goes through the outbox: one that reports a
//  change (a cancel) leaves only once the records it made are durable, and
//  the others (refusals, a drain order) never overtake it.
void broker_command_reply (broker_t *self, zframe_t *routing_id, bool ok, const char *message)
{
    Sluice__CommandReply reply = SLUICE__COMMAND_REPLY__INIT;
    reply.ok = ok;
    reply.message = (char *) message;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_COMMAND_REPLY;
    env.command_reply = &reply;
    broker_answer (self, routing_id, &env);
}

//  Adds the seqs of job that never arrived (up to its total) as empty
//  tasks, journaled, so that a cancel can end them too. Returns how many,
//  or -1 with why if there are too many.
static int64_t s_fill_absent (broker_t *self, const char *job_id, char *why, size_t whylen)
{
    uint64_t ranges [2 * MAX_MISSING_RANGES];
    int64_t filled = 0;
    size_t nranges;
    while ((nranges = sl_table_missing (self->table, job_id, ranges, MAX_MISSING_RANGES))) {
        uint64_t count = 0;
        for (size_t r = 0; r < nranges; r++)
            count += ranges [2 * r + 1] - ranges [2 * r] + 1;
        if (filled + count > MAX_FILL_SEQS) {
            snprintf (why, whylen,
                      "job %s lacks more than %d of its tasks; run its ventilator again with "
                      "--job %s first",
                      job_id, MAX_FILL_SEQS, job_id);
            return -1;
        }
        for (size_t r = 0; r < nranges; r++) {
            Sluice__Task tasks [64];
            Sluice__Task *ptrs [64];
            size_t n = 0;
            for (uint64_t seq = ranges [2 * r]; seq <= ranges [2 * r + 1]; seq++) {
                if (sl_table_submit (self->table, job_id, seq, NULL, 0, 0, 0) != SL_TABLE_OK)
                    continue;
                self->count.tasks_in++;
                Sluice__Task init = SLUICE__TASK__INIT;
                tasks [n] = init;
                tasks [n].seq = seq;
                ptrs [n] = &tasks [n];
                if (++n == 64 || seq == ranges [2 * r + 1]) {
                    if (self->journal) {
                        char err [512];
                        broker_journal_appended (
                            self,
                            sl_durable_tasks (self->journal, job_id, ptrs, n, err, sizeof err),
                            err);
                    }
                    filled += (int64_t) n;
                    n = 0;
                }
            }
        }
    }
    return filled;
}

//  COMMAND_CANCEL: every task of the job not yet ended ends `cancelled`
//  (queued ones at once; running ones too, and their workers are told to
//  stop them). The sink gets a record for each, so the job finishes as
//  usual. A job whose ventilator has not sent its end yet is cut at the
//  highest seq that arrived.
static void s_cancel (broker_t *self, zframe_t *routing_id, const char *job_id)
{
    char message [512];
    sl_job_t *job = sl_job_id_valid (job_id) ? sl_table_job (self->table, job_id) : NULL;
    if (!job) {
        snprintf (message, sizeof message, "%s: %s", job_id,
                  broker_finished_lookup (self, job_id) ? "already finished" : "no such job");
        broker_command_reply (self, routing_id, false, message);
        return;
    }
    const sl_job_counts_t *counts = sl_job_counts (job);
    if (counts->total_known && counts->done == counts->total) {
        snprintf (message, sizeof message,
                  "%s: already finished: all %llu of its tasks have ended, nothing to cancel",
                  job_id, (unsigned long long) counts->total);
        broker_command_reply (self, routing_id, false, message);
        return;
    }
    if (self->journal_failed) {
        snprintf (message, sizeof message, "cannot cancel now: %.400s", self->journal_error);
        broker_command_reply (self, routing_id, false, message);
        return;
    }
    broker_journal_tag (self);
    if (!counts->total_known) {
        uint64_t total = sl_job_highest (job);
        if (sl_table_end (self->table, job_id, total) == SL_TABLE_OK && self->journal) {
            char err [512];
            broker_journal_appended (
                self, sl_durable_end (self->journal, job_id, total, err, sizeof err), err);
        }
    }
    int64_t filled = s_fill_absent (self, job_id, message, sizeof message);
    if (filled < 0) {
        broker_command_reply (self, routing_id, false, message);
        return;
    }
    size_t running = counts->running;
    size_t cancelled = sl_table_cancel (self->table, job_id);
    self->check_finished = true;
    //  Workers stop what they run of it (their results would be dropped).
    Sluice__CancelJob cancel = SLUICE__CANCEL_JOB__INIT;
    cancel.job = (char *) job_id;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CANCEL_JOB;
    env.cancel_job = &cancel;
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers))
        broker_reply (self, peer->routing_id, &env);
    snprintf (message, sizeof message,
              "job %s cancelled: %zu tasks ended (%zu of them were running), %llu of %llu had "
              "ended before",
              job_id, cancelled, running, (unsigned long long) (counts->done - cancelled),
              (unsigned long long) counts->total);
    sl_warn ("%s", message);
    broker_command_reply (self, routing_id, true, message); //  once the cancel is durable
}

//  COMMAND_DRAIN: the worker takes no new task, hands back those it has
//  not started, finishes the others and exits.
static void s_drain (broker_t *self, zframe_t *routing_id, const char *name)
{
    char message [512];
    sl_peer_t *peer = broker_peer_by_name (self, name);
    if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER) {
        snprintf (message, sizeof message, "%s: no such worker (sluice-ctl status lists them)",
                  name);
        broker_command_reply (self, routing_id, false, message);
        return;
    }
    Sluice__Drain drain = SLUICE__DRAIN__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_DRAIN;
    env.drain = &drain;
    broker_reply (self, peer->routing_id, &env);
    peer->draining = true;
    snprintf (message, sizeof message, "worker %s told to drain (%u tasks running)", peer->name,
              peer->running);
    sl_info ("%s", message);
    broker_command_reply (self, routing_id, true, message);
}

void broker_on_command (broker_t *self, zframe_t *routing_id, Sluice__Command *command)
{
    switch (command->kind) {
        case SLUICE__COMMAND_KIND__COMMAND_STATUS:
            broker_status (self, routing_id);
            break;
        case SLUICE__COMMAND_KIND__COMMAND_CANCEL:
            s_cancel (self, routing_id, command->target);
            break;
        case SLUICE__COMMAND_KIND__COMMAND_DRAIN:
            s_drain (self, routing_id, command->target);
            break;
        default:
            broker_bad (self, "control", NULL, "unknown command");
            broker_command_reply (self, routing_id, false, "unknown command");
    }
}
