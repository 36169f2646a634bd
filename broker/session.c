/*  session - peers' sessions on the control socket: hello, welcome, heartbeats, bye, queries.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

//  Forgets a peer (frees it).
void broker_peer_remove (broker_t *self, sl_peer_t *peer)
{
    if (peer->role == SLUICE__ROLE__ROLE_WORKER) {
        sl_fair_leave (self->fair, &peer->fair);
        self->worker_slots -= peer->slots;
    }
    sl_peers_remove (self->peers, peer);
}

sl_peer_t *broker_peer_by_name (broker_t *self, const char *name)
{
    return sl_peers_by_name (self->peers, name);
}

//  A worker is gone (silent, or it left without handing everything back):
//  every task it held is queued again, ahead of new work.
void broker_worker_gone (broker_t *self, sl_peer_t *peer, const char *why)
{
    size_t lost = peer->holder ? sl_table_worker_lost (self->table, peer->holder) : 0;
    self->count.tasks_lost += lost;
    if (lost)
        broker_event (self, SL_LOG_WARN, "worker %s %s: its %zu tasks go to other workers",
                      peer->name, why, lost);
    else
        broker_event (self, SL_LOG_INFO, "worker %s %s", peer->name, why);
    broker_peer_remove (self, peer);
}

//  A worker hands tasks back: only those it holds (or that nobody has
//  claimed yet) are queued again.
static void s_task_refs_release (broker_t *self, sl_peer_t *peer, Sluice__TaskRef **refs, size_t n)
{
    if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER) {
        broker_bad (self, "control", peer ? peer->name : NULL, "tasks handed back by a non-worker");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (sl_table_release_by (self->table, refs [i]->job, refs [i]->seq, refs [i]->attempt,
                                 peer->holder) == SL_TABLE_OK)
            self->count.tasks_released++;
}

//  A worker's Bye: what it lists is handed back at once; what it does not
//  is lost, but only once the last result batch it sent before the Bye
//  is here (results and Bye travel on different sockets: nothing orders
//  them). Until then it gets no task; if the batch never comes (lost with
//  a broken connection), it is given up as silent after SL_PEERS_LIVENESS beats.
static void s_on_bye (broker_t *self, sl_peer_t *peer, Sluice__Bye *bye)
{
    s_task_refs_release (self, peer, bye->unfinished, bye->n_unfinished);
    if (bye->last_batch <= peer->batches_seen) {
        broker_worker_gone (self, peer, "left");
        return;
    }
    peer->bye_batch = bye->last_batch;
    peer->last_seen = zclock_mono ();
    sl_fair_credit (self->fair, &peer->fair, 0, true);
    sl_debug ("worker %s left after its result batch %llu (%llu here): waiting for it", peer->name,
              (unsigned long long) bye->last_batch, (unsigned long long) peer->batches_seen);
}

void broker_welcome (broker_t *self, sl_peer_t *peer, char **jobs, size_t njobs)
{
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    welcome.broker_id = self->broker_id;
    welcome.heartbeat_ms = peer->heartbeat_ms ? peer->heartbeat_ms : self->config.heartbeat_ms;
    welcome.jobs = jobs;
    welcome.n_jobs = njobs;
    welcome.fair = self->config.fair;
    welcome.max_payload = self->config.max_payload;
    welcome.max_attachment = self->config.max_attachment;
    welcome.delivery = SL_DELIVERY_VERSION;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_WELCOME;
    env.welcome = &welcome;
    broker_reply (self, peer->routing_id, &env);
}

//  Result read back from the journal for --from-start: delivered again.
static void s_on_old_result (const char *job, Sluice__Result *r, void *arg)
{
    broker_t *self = (broker_t *) arg;
    sl_result_in_t in;
    sl_durable_result_in (r, &in);
    sl_table_redeliver (self->table, job, r->seq, &in);
}

//  --from-start: the job's results already delivered are delivered again.
//  Returns NULL, or why it cannot be done.
const char *broker_from_start (broker_t *self, const char *job_id, char *why, size_t whylen)
{
    sl_job_t *job = sl_table_job (self->table, job_id);
    if (!job) {
        snprintf (why, whylen,
                  broker_finished_lookup (self, job_id)
                      ? "job %s finished and was delivered in full; its results are no longer "
                        "kept"
                      : "this broker does not know job %s",
                  job_id);
        return why;
    }
    if (!self->journal) {
        snprintf (why, whylen, "--from-start needs a broker with a journal (not --in-memory)");
        return why;
    }
    broker_journal_sync (self);
    if (sl_durable_scan_results (self->journal, sl_job_tag (job), job_id, s_on_old_result, self,
                                 why, whylen) < 0)
        return why;
    return NULL;
}

//  The named queues a hello asks for must be valid, few, and (with push
//  dispatch, which cannot choose a worker by queue) only the default one.
//  Returns true with why if the hello is refused for them.
static bool s_hello_refused (broker_t *self, Sluice__Hello *hello, char *why, size_t whylen)
{
    if (sl_peers_hello_refused (hello, self->config.fair, why, whylen))
        return true;
    for (size_t i = 0; i < hello->n_queues; i++)
        if (!sl_table_queue (self->table, hello->queues [i], true)) {
            snprintf (why, whylen, "the broker has no room for another queue (at most %d)",
                      SL_TABLE_MAX_QUEUES);
            return true;
        }
    return false;
}

//  A connection that says hello again under another name or role is a new
//  client, and a client that reconnects (a new connection, the same name)
//  takes over its old session's place and tasks: the sessions in the way
//  are given up first.
static void s_hello_supersede (broker_t *self, const char *key, Sluice__Hello *hello)
{
    bool again = false;
    sl_peer_t *old;
    while ((old = sl_peers_superseded (self->peers, key, hello->role, hello->name, &again))) {
        bool same_connection = streq (old->key, key);
        if (!same_connection)
            broker_event (self, SL_LOG_INFO, "%s %s reconnected",
                          old->role == SLUICE__ROLE__ROLE_SINK ? "sink" : "worker", old->name);
        if (old->role == SLUICE__ROLE__ROLE_SINK)
            broker_collector_detach (self, old,
                                     same_connection ? "it said hello as another client"
                                                     : "it reconnected");
        else if (same_connection)
            broker_worker_gone (self, old, "said hello as another client");
        else
            broker_peer_remove (self, old);
    }
}

//  The session as the hello describes it: name, job, slots, queues, and
//  the heartbeat it gets (its wish, within the bounds --heartbeat has).
static void s_peer_update (broker_t *self, sl_peer_t *peer, Sluice__Hello *hello)
{
    peer->role = hello->role;
    snprintf (peer->name, sizeof peer->name, "%s", hello->name);
    snprintf (peer->job, sizeof peer->job, "%s", hello->job);
    peer->follow = hello->follow;
    if (peer->role == SLUICE__ROLE__ROLE_WORKER)
        self->worker_slots += (uint64_t) hello->slots - peer->slots;
    peer->slots = hello->slots;
    peer->nqueues = 0;
    for (size_t i = 0; i < hello->n_queues; i++)
        peer->queues [peer->nqueues++] = sl_table_queue (self->table, hello->queues [i], true);
    if (peer->nqueues == 0)
        peer->queues [peer->nqueues++] = sl_table_queue (self->table, NULL, true);
    if (peer->role == SLUICE__ROLE__ROLE_WORKER)
        sl_fair_set_queues (self->fair, &peer->fair, peer->queues, peer->nqueues);
    peer->heartbeat_ms = sl_peers_heartbeat (hello->heartbeat_ms, self->config.heartbeat_ms);
    peer->holder = sl_table_intern (self->table, peer->name);
    peer->last_seen = zclock_mono ();
    if (hello->role == SLUICE__ROLE__ROLE_WORKER &&
        (int64_t) peer->heartbeat_ms > self->max_worker_heartbeat_ms)
        self->max_worker_heartbeat_ms = peer->heartbeat_ms;
}

static void s_on_hello (broker_t *self, zframe_t *routing_id, const char *key, Sluice__Hello *hello)
{
    char why [300];
    if (s_hello_refused (self, hello, why, sizeof why)) {
        if (streq (why, "unknown client role"))
            broker_bad (self, "control", hello->name, "hello with an unknown role");
        sl_proto_send_refuse (self->control, routing_id, why);
        return;
    }
    if (hello->role == SLUICE__ROLE__ROLE_CONTROL || hello->role == SLUICE__ROLE__ROLE_VENTILATOR) {
        //  sluice-ctl and ventilators: welcomed (so they know their keys
        //  work), not peers.
        sl_peer_t scratch = { .routing_id = routing_id };
        broker_welcome (self, &scratch, NULL, 0);
        if (hello->role == SLUICE__ROLE__ROLE_VENTILATOR)
            sl_debug ("ventilator %s submits job %s", hello->name, hello->job);
        return;
    }
    s_hello_supersede (self, key, hello);
    sl_peer_t *peer = sl_peers_by_key (self->peers, key);
    bool is_new = !peer;
    if (is_new) {
        peer =
            sl_peers_add (self->peers, key, routing_id, hello->role, hello->name, zclock_mono ());
        if (!peer)
            return;
        if (hello->role == SLUICE__ROLE__ROLE_WORKER)
            sl_fair_join (self->fair, &peer->fair, peer);
    }
    s_peer_update (self, peer, hello);
    if (hello->role == SLUICE__ROLE__ROLE_SINK)
        broker_hello_sink (self, peer, hello);
    else {
        if (is_new)
            broker_event (self, SL_LOG_INFO, "worker %s joined with %u slots, heartbeat %u ms",
                          peer->name, peer->slots, peer->heartbeat_ms);
        broker_welcome (self, peer, NULL, 0);
    }
}

static void s_on_job_query (broker_t *self, zframe_t *routing_id, Sluice__JobQuery *query)
{
    //  What the broker confirms must be durable first (a peek confirms
    //  nothing): the reply waits in the outbox for the records so far.
    if (!query->peek)
        broker_journal_commit (self);
    Sluice__JobState state = SLUICE__JOB_STATE__INIT;
    state.job = query->job;
    uint64_t ranges [2 * MAX_MISSING_RANGES];
    sl_job_t *job = sl_table_job (self->table, query->job);
    sl_finished_job_t *done = job ? NULL : broker_finished_lookup (self, query->job);
    if (job) {
        const sl_job_counts_t *counts = sl_job_counts (job);
        state.known = true;
        state.received = counts->received;
        state.total = counts->total_known ? counts->total : 0;
        state.finished = sl_job_finished (job);
        state.queued = counts->queued;
        state.running = counts->running;
        state.done = counts->done;
        state.failed = counts->failed + counts->timeout;
        if (query->want_missing) {
            state.n_missing =
                2 * sl_table_missing (self->table, query->job, ranges, MAX_MISSING_RANGES);
            state.missing = ranges;
        }
    } else if (done) {
        state.known = true;
        state.received = done->counts.total;
        state.total = done->counts.total;
        state.finished = true;
        state.done = done->counts.total;
        state.failed = done->counts.failed + done->counts.timeout;
        if (query->want_failed) {
            state.failed_seqs = done->failed;
            state.n_failed_seqs = 2 * done->nfailed;
            state.failed_truncated = done->failed_truncated;
        }
    }
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        state.workers++;
        if (peer->running)
            state.busy_workers++;
    }
    if (self->journal_failed)
        state.error = self->journal_error;
    state.throttled = self->throttled;
    //  Attachments: held only once whole and durable (see attach.h), so a
    //  ventilator told none is missing may go.
    char *missing [SL_MAX_ATTACHMENTS];
    if (job) {
        size_t nattach;
        const sl_attach_t *list = sl_job_attachments (job, &nattach);
        for (size_t i = 0; i < nattach; i++) {
            if (sl_attach_held (self->attach, list [i].hash))
                continue;
            missing [state.n_attachments_missing++] = (char *) list [i].hash;
            state.attachments_partial += sl_attach_partial (self->attach, list [i].hash);
            const char *why = sl_attach_error (self->attach, list [i].hash);
            if (why)
                state.attachments_error = (char *) why;
        }
        state.attachments_missing = missing;
    }
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_STATE;
    env.job_state = &state;
    if (query->peek || self->journal_failed) //  confirms nothing: at once
        broker_reply (self, routing_id, &env);
    else
        broker_answer (self, routing_id, &env);
}

static void s_on_heartbeat (broker_t *self, zframe_t *routing_id, sl_peer_t *peer,
                            Sluice__Heartbeat *hb)
{
    Sluice__Heartbeat reply = SLUICE__HEARTBEAT__INIT;
    reply.broker_id = self->broker_id;
    if (peer) {
        int64_t now = zclock_mono ();
        peer->last_seen = now;
        peer->running = hb->running;
        //  A worker whose last dispatch send failed (its connection was
        //  gone) is tried again once it is heard from.
        if (peer->role == SLUICE__ROLE__ROLE_WORKER && peer->dispatch_id && !peer->fair.routable)
            sl_fair_set_routable (self->fair, &peer->fair, true);
        //  The worker took these runs: they are alive while it is (a long
        //  task on a live worker never expires), and lost with it.
        for (size_t i = 0; i < hb->n_held; i++) {
            Sluice__TaskRef *ref = hb->held [i];
            if (sl_table_claim (self->table, ref->job, ref->seq, ref->attempt, peer->holder,
                                INT64_MAX) == SL_TABLE_DUPLICATE &&
                sl_table_adopt (self->table, ref->job, ref->seq, ref->attempt, ref->stage,
                                peer->holder, INT64_MAX) == SL_TABLE_OK)
                //  A run from before this broker started, still going.
                self->count.tasks_adopted++;
            if (ref->waiting)
                sl_table_waiting (self->table, ref->job, ref->seq, ref->attempt);
        }
        if (peer->role == SLUICE__ROLE__ROLE_WORKER)
            broker_standby_heard (self, peer); //  standby.c: its runs are claimed

    } else
        //  A client this broker does not know (it restarted, or gave the
        //  client up for dead): it must say hello again.
        reply.rehello = true;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &reply;
    broker_reply (self, routing_id, &env);
}

//  A client whose key was revoked since it connected: refused, and
//  forgotten.
static void s_revoked (broker_t *self, zframe_t *routing_id, sl_peer_t *peer, const char *user)
{
    sl_warn ("client %s: its key %s was revoked; cutting it off", peer ? peer->name : "?", user);
    sl_proto_send_refuse (self->control, routing_id,
                          self->token_key [0]
                              ? "this client's CurveZMQ key is no longer admitted (its "
                                "join token was rotated? `sluice-ctl token` prints the "
                                "new one on the broker host)"
                              : "this client's CurveZMQ key is no longer admitted");
    if (peer && peer->role == SLUICE__ROLE__ROLE_SINK)
        broker_collector_detach (self, peer, "its key was revoked");
    else if (peer)
        broker_worker_gone (self, peer, "was revoked");
}

static void s_on_message (broker_t *self, zframe_t *routing_id, const char *key, sl_peer_t *peer,
                          sl_env_t *env)
{
    switch (env->body_case) {
        case SLUICE__ENVELOPE__BODY_HELLO:
            s_on_hello (self, routing_id, key, env->hello);
            break;
        case SLUICE__ENVELOPE__BODY_HEARTBEAT:
            s_on_heartbeat (self, routing_id, peer, env->heartbeat);
            break;
        case SLUICE__ENVELOPE__BODY_ACK:
            broker_on_ack (self, peer, env->ack);
            break;
        case SLUICE__ENVELOPE__BODY_JOB_QUERY:
            s_on_job_query (self, routing_id, env->job_query);
            break;
        case SLUICE__ENVELOPE__BODY_BYE:
            if (peer && peer->role == SLUICE__ROLE__ROLE_SINK)
                broker_collector_detach (self, peer, "it said goodbye");
            else if (peer && peer->role == SLUICE__ROLE__ROLE_WORKER)
                s_on_bye (self, peer, env->bye);
            else if (peer) {
                s_task_refs_release (self, peer, env->bye->unfinished, env->bye->n_unfinished);
                broker_worker_gone (self, peer, "left");
            }
            break;
        case SLUICE__ENVELOPE__BODY_RELEASE:
            s_task_refs_release (self, peer, env->release->tasks, env->release->n_tasks);
            break;
        case SLUICE__ENVELOPE__BODY_COMMAND:
            broker_on_command (self, routing_id, env->command);
            break;
        case SLUICE__ENVELOPE__BODY_ATTACH_GET:
            broker_on_attach_get (self, routing_id, peer, env->attach_get);
            break;
        default:
            broker_bad (self, "control", peer ? peer->name : NULL,
                        "message of a type not expected here");
            break;
    }
}

void broker_on_control (broker_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        zframe_t *routing_id = NULL;
        char why [256];
        char user [48];
        sl_recv_t rc = sl_proto_recv_user (self->control, &env, &routing_id, user, sizeof user, why,
                                           sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        char key [64] = "";
        if (routing_id)
            broker_key (routing_id, key, sizeof key);
        sl_peer_t *peer = sl_peers_by_key (self->peers, key);
        if (rc != SL_RECV_OK) {
            broker_bad (self, "control", peer ? peer->name : NULL, why);
            if (rc == SL_RECV_VERSION && routing_id) {
                char reason [300];
                snprintf (reason, sizeof reason, "%s; upgrade so both sides match", why);
                sl_proto_send_refuse (self->control, routing_id, reason);
            }
        } else if (!broker_admitted (self, user))
            s_revoked (self, routing_id, peer, user);
        else if (self->role.state != SL_ROLE_ACTIVE)
            broker_standby_answer (self, routing_id, env); //  standby.c
        else
            s_on_message (self, routing_id, key, peer, env);
        sl_proto_free (&env);
        zframe_destroy (&routing_id);
    }
}
