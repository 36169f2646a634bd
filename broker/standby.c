/*  standby - standby brokers (--standby) on a shared NATS journal: the
    thin I/O around the pure role state machine (role.h). A standby follows
    the stream into its table and answers clients that it is a standby;
    the active broker holds the stream every heartbeat and serves only
    within its window. See docs/durability.md, "Standby brokers".
*/
#include "internal.h"

//  Where clients reach this broker: --advertise, or --bind with this
//  host's name for a wildcard.
static void s_advertise_init (broker_t *self)
{
    const char *bind = self->config.bind;
    const char *star = strstr (bind, "://*:");
    const char *any = strstr (bind, "://0.0.0.0:");
    if (self->config.advertise)
        snprintf (self->advertise, sizeof self->advertise, "%s", self->config.advertise);
    else if (star || any) {
        char host [200] = "localhost";
        gethostname (host, sizeof host - 1);
        snprintf (self->advertise, sizeof self->advertise, "tcp://%s%s", host, strrchr (bind, ':'));
    } else
        snprintf (self->advertise, sizeof self->advertise, "%s", bind);
}

void broker_role_init (broker_t *self)
{
    self->shared = self->config.standby; //  a set of brokers, each started --standby
    self->role_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (1, 10000);
    s_advertise_init (self);
    sl_role_init (&self->role, self->config.standby, self->config.heartbeat_ms, zclock_mono ());
}

//  Standby: applies what the active broker appended since the last call.
static void s_follow (broker_t *self, int64_t now)
{
    char err [512];
    if (sl_durable_follow (self->journal, self->table, broker_on_replayed_done, self, err,
                           sizeof err) < 0) {
        if (sl_journal_fenced (self->journal)) {
            sl_error ("standby: %s", err); //  its table is incomplete: it must stop
            self->fenced = true;
            return;
        }
        if (sl_ratelimit_allow (&self->role_log, now, NULL))
            sl_warn ("standby: cannot follow the journal %s: %s", sl_journal_dir (self->journal),
                     err);
    }
    sl_role_followed (&self->role, sl_journal_last_seq (self->journal), now);
}

//  The workers of this broker, comma-separated, for its hold messages;
//  "*" if they do not fit. Caller owns the result (NULL if out of memory).
static char *s_workers (broker_t *self)
{
    size_t cap = MAX_HOLD_WORKERS_BYTES, len = 0;
    char *list = malloc (cap);
    if (!list)
        return NULL;
    list [0] = '\0';
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        size_t n = strlen (peer->name);
        if (len + n + 2 > cap || strchr (peer->name, ',')) {
            strcpy (list, "*");
            break;
        }
        len += (size_t) sprintf (list + len, "%s%s", len ? "," : "", peer->name);
    }
    return list;
}

//  The workers a new active broker waits for before it deals: those the
//  old one named in its last hold (NULL or "*": unknown, the full grace).
static void s_awaited_set (broker_t *self, const char *workers)
{
    zhashx_destroy (&self->awaited);
    if (!workers || streq (workers, "*") || !(self->awaited = zhashx_new ()))
        return;
    char *copy = strdup (workers);
    for (char *name = copy ? strtok (copy, ",") : NULL; name; name = strtok (NULL, ","))
        zhashx_insert (self->awaited, name, (void *) 1);
    if (!copy)
        zhashx_destroy (&self->awaited);
    free (copy);
}

//  A worker claimed its runs (its heartbeat after the hello): once every
//  worker of the old broker has, a new active broker may deal at once.
void broker_standby_heard (broker_t *self, sl_peer_t *peer)
{
    if (!self->awaited || !zhashx_lookup (self->awaited, peer->name))
        return;
    zhashx_delete (self->awaited, peer->name);
    if (zhashx_size (self->awaited) == 0 && self->grace_until) {
        sl_info ("every worker of the old broker claimed its runs: dealing");
        self->grace_until = zclock_mono ();
    }
}

//  Holds the journal: commits what is buffered, then appends a hold
//  message naming this broker and its workers. Returns 0 or -1 with err.
static int s_hold (broker_t *self, char *err, size_t errlen)
{
    if (sl_journal_uncommitted (self->journal) && broker_journal_commit (self)) {
        snprintf (err, errlen, "%s", self->journal_error);
        return -1;
    }
    char *workers = s_workers (self);
    int rc = sl_journal_hold (self->journal, self->advertise, workers ? workers : "*", err, errlen);
    free (workers);
    //  The hold waited for every commit in flight: what became durable on
    //  the way (results, answers) goes out now, not at the next commit
    //  (there may be none: a job's last results would wait for ever).
    if (rc == 0)
        broker_journal_poll (self);
    return rc;
}

//  Standby: the stream was silent for 2.5 heartbeats; takes the journal
//  over if nobody wrote since this broker last read it. Returns true if
//  this broker is now active.
static bool s_take_over (broker_t *self, int64_t now)
{
    char err [512];
    //  The old broker's workers, as its last hold named them: the ones to
    //  wait for before dealing (read before this hold, which names none).
    s_awaited_set (self, sl_journal_holder_workers (self->journal));
    if (sl_journal_hold (self->journal, self->advertise, "*", err, sizeof err)) {
        if (sl_journal_refused (self->journal))
            sl_role_refused (&self->role, now); //  another standby was faster
        else if (sl_ratelimit_allow (&self->role_log, now, NULL))
            sl_warn ("standby: cannot take over: %s", err);
        return false;
    }
    sl_role_held (&self->role, now);
    sl_table_hold_fresh (self->table, true);
    //  Workers find the old broker silent about when this one takes over,
    //  and may first hear "standby" here: give them a hello's retry more
    //  (sl_client says hello again every heartbeat, at most every second).
    int64_t beat = self->config.heartbeat_ms;
    if (sl_table_queued (self->table))
        self->grace_until = zclock_mono () + GRACE_BEATS * beat +
                            (beat < TAKEOVER_GRACE_MS ? beat : TAKEOVER_GRACE_MS);
    if (self->awaited && zhashx_size (self->awaited) == 0)
        self->grace_until = 0; //  the old broker had no worker: nothing runs
    self->check_finished = true;
    sl_info ("took over the journal %s at sequence %llu as %s, %lld ms after the last sign of "
             "the active broker: %zu unfinished jobs, %zu tasks queued, %zu results to deliver",
             sl_journal_dir (self->journal),
             (unsigned long long) sl_journal_last_seq (self->journal), self->advertise,
             (long long) (now - self->role.progress_at), sl_table_job_count (self->table),
             sl_table_queued (self->table), sl_table_deliverable (self->table, NULL));
    return true;
}

//  What a standby tells a client: it serves nobody, and who does.
void broker_standby_answer (broker_t *self, zframe_t *routing_id, sl_env_t *env)
{
    if (!routing_id)
        return;
    if (env->body_case == SLUICE__ENVELOPE__BODY_COMMAND &&
        env->command->kind == SLUICE__COMMAND_KIND__COMMAND_STATUS) {
        broker_status (self, routing_id);
        return;
    }
    if (env->body_case == SLUICE__ENVELOPE__BODY_HELLO &&
        env->hello->role == SLUICE__ROLE__ROLE_CONTROL) {
        sl_peer_t scratch = { .routing_id = routing_id };
        broker_welcome (self, &scratch, NULL, 0); //  sluice-ctl status works on a standby
        return;
    }
    if (env->body_case != SLUICE__ENVELOPE__BODY_HELLO &&
        env->body_case != SLUICE__ENVELOPE__BODY_JOB_QUERY &&
        env->body_case != SLUICE__ENVELOPE__BODY_COMMAND)
        return;
    const char *active = sl_journal_holder (self->journal);
    char why [400];
    if (self->role.state == SL_ROLE_DEPOSED)
        snprintf (why, sizeof why, "deposed; another broker took over the journal");
    else if (active && !streq (active, self->advertise))
        snprintf (why, sizeof why, "standby; the active broker is %s", active);
    else
        snprintf (why, sizeof why, "standby; no active broker known yet");
    sl_proto_send_refuse (self->control, routing_id, why);
}

//  Standby: follows the journal and answers clients that it is a standby
//  until the active broker falls silent and this one takes over. Returns
//  0 once active, -1 if interrupted.
int broker_standby_run (broker_t *self)
{
    //  The stream is read every tick: a message is noticed at most a tick
    //  late, which only delays a takeover (role.h); and the takeover is
    //  tried when it is due, not at the next tick.
    int64_t tick = self->config.heartbeat_ms / 10;
    tick = tick < 1 ? 1 : tick > 20 ? 20 : tick;
    sl_info ("standby: following the journal %s from sequence %llu", sl_journal_dir (self->journal),
             (unsigned long long) sl_journal_last_seq (self->journal));
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        s_follow (self, now);
        broker_standbys_tick (self, now); //  announces this standby to the active broker
        if (sl_role_takeover_due (&self->role, now) && s_take_over (self, now))
            return 0;
        int64_t wait = sl_role_wake (&self->role) - zclock_mono ();
        wait = wait < 1 ? 1 : wait > tick ? tick : wait;
        zmq_pollitem_t item = { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, wait) > 0)
            broker_on_control (self);
        if (self->metrics)
            http_handle (self->metrics, broker_render_http, self);
    }
    return -1;
}

//  Active on a shared journal: true if it may serve now. Holds again when
//  a heartbeat has passed since its last hold (a commit, or an empty
//  message); past its window it serves nothing until a hold succeeds, and
//  a refused hold deposes it (fenced: the loop stops).
bool broker_role_serving (broker_t *self, int64_t now)
{
    if (!self->shared || self->fenced)
        return !self->fenced;
    if (sl_role_hold_due (&self->role, now)) {
        char err [512] = "";
        if (s_hold (self, err, sizeof err) == 0) {
            sl_role_held (&self->role, now);
            broker_journal_held (self); //  a checkpoint may be due (holds count)
        } else if (sl_journal_fenced (self->journal)) {
            sl_role_refused (&self->role, now);
            if (!self->fenced)
                sl_error ("deposed: %s", err);
            self->fenced = true;
        } else if (sl_ratelimit_allow (&self->role_log, now, NULL))
            sl_warn ("cannot hold the journal %s: %s", sl_journal_dir (self->journal), err);
    }
    if (sl_role_may_serve (&self->role, now))
        return true;
    if (!self->fenced)
        zclock_sleep ((int) (self->config.heartbeat_ms / 4 + 1));
    return false;
}

//  A standby: how long since the stream last moved under it (ms); 0 else.
int64_t broker_follow_age (broker_t *self)
{
    return self->shared && self->role.state == SL_ROLE_STANDBY
               ? zclock_mono () - self->role.progress_at
               : 0;
}
