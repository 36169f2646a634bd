/*  broker - the sluice broker's event loop, see broker.h.

    One thread, one zmq_poll loop. zloop is not used because the loop needs
    ZMQ_POLLOUT on the dispatch and delivery sockets: the broker sends only
    while a socket can take a message without blocking, and otherwise keeps
    the work in its table (that is the back-pressure: a slow sink or slow
    workers make the table grow, never the broker block).
*/
#include "internal.h"
#include "sl_zpoll.h"

void broker_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  --- Set-up -------------------------------------------------------------

//  Creates a socket of `type` and binds it to `port` derived from the
//  broker's address. Options are set before the bind: libzmq copies a
//  listener's options into every connection it accepts.
static zsock_t *s_bind (const broker_config_t *config, zcert_t *cert, sl_port_t port, int type,
                        char *err, size_t errlen)
{
    char endpoint [300];
    if (sl_endpoint_derive (config->bind, port, endpoint, sizeof endpoint, err, errlen))
        return NULL;
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        snprintf (err, errlen, "cannot create a socket: %s", zmq_strerror (errno));
        return NULL;
    }
    //  ZMTP heartbeats close a connection whose peer stopped answering
    //  (killed, hung, cut off): then PUSH stops dealing tasks into it, and
    //  what was queued there comes back through the unclaimed lease.
    if (port == SL_PORT_DISPATCH) {
        //  Only here: it is where a dead peer costs (tasks dealt into its
        //  buffers). Elsewhere the application heartbeats suffice, and
        //  libzmq 4.3.4 can assert when a ZMTP heartbeat resets a connection
        //  whose receive queue is full (libzmq#4364).
        zsock_set_heartbeat_ivl (sock, (int) config->heartbeat_ms);
        zsock_set_heartbeat_timeout (sock, 3 * (int) config->heartbeat_ms);
    }
    if (cert)
        sl_curve_server_apply (cert, sock);
    if (type == ZMQ_ROUTER) {
        //  Replies to a client that vanished must not block or pile up.
        zsock_set_router_mandatory (sock, 1);
        //  A worker that reconnects takes its routing id back at once.
        //  A collector's delivery DEALER is known by its name too.
        if (port == SL_PORT_DISPATCH || port == SL_PORT_DELIVERY)
            zsock_set_router_handover (sock, 1);
    }
    if (port == SL_PORT_INTAKE)
        //  What the broker has not read yet is outside its memory limit:
        //  keep it small, so that a paused intake stops ventilators soon
        //  (at most INTAKE_HWM batches of 256 KiB wait here).
        zsock_set_rcvhwm (sock, INTAKE_HWM);
    if (port == SL_PORT_RESULTS)
        //  The same for results: while the journal fails they are not read,
        //  and must wait in the workers, not here.
        zsock_set_rcvhwm (sock, RESULTS_HWM);
    if (port == SL_PORT_DELIVERY)
        //  Collectors send nothing here: what comes is read and dropped.
        zsock_set_rcvhwm (sock, INTAKE_HWM);
    if (port == SL_PORT_DELIVERY)
        //  What goes to a collector is bounded by its window of results
        //  sent and not acknowledged (--sink-window): a limit here would
        //  only make a send within the window fail (and a ROUTER polls
        //  writable whatever its pipes hold).
        zsock_set_sndhwm (sock, 0);
    if (port == SL_PORT_DISPATCH)
        //  Push: PUSH deals to any worker whose pipe has room, busy or
        //  not, so the pipe is all that bounds what a worker is dealt:
        //  keep it small, and the tasks wait in the table, where the
        //  broker sees them. Fair: credit bounds it (each batch spends at
        //  least one, so a worker's pipe never holds more batches than it
        //  asked tasks for), and a limit here would only make sends within
        //  credit fail, each one a batch packed for nothing: none. (No
        //  finite one would do: libzmq tells a pipe's writer what its
        //  reader took in steps of up to half the limit, and late, when
        //  the writer's thread next reads its commands, so a pipe refuses
        //  with room in it.)
        zsock_set_sndhwm (sock, type == ZMQ_ROUTER ? 0 : PUSH_SNDHWM);
    //  A peer sending a message larger than any a sluice program sends is
    //  cut off by libzmq before the broker reads it (ZMQ_MAXMSGSIZE).
    int64_t max = port == SL_PORT_INTAKE    ? (int64_t) config->max_payload + INTAKE_SLACK
                  : port == SL_PORT_RESULTS ? RESULTS_MAX_BYTES
                                            : CONTROL_MAX_BYTES;
    //  (Also on the PUSH to the sink: a peer there may send frames too.)
    zsock_set_maxmsgsize (sock, (int) (max > INT32_MAX ? INT32_MAX : max));
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        snprintf (err, errlen, "cannot bind %s: %s%s", endpoint, zmq_strerror (errno),
                  errno == EADDRINUSE ? " (another broker running? sluice needs 5 consecutive "
                                        "ports from the one given)"
                                      : "");
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

broker_t *broker_new (const broker_config_t *config, char *err, size_t errlen)
{
    assert (config);
    broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->config = *config;
    sl_random_hex (self->broker_id, sizeof self->broker_id, 16);
    self->bad_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (10, 60000);
    self->event_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (60, 10000);
    self->throttle_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (1, 60000);
    self->started_at = zclock_mono ();
    self->next_rate_sample = self->started_at;
    self->table = sl_table_new ();
    self->peers = sl_peers_new ();
    self->job_times = zhashx_new ();
    self->finished = sl_finished_new (FINISHED_MEMORY, MAX_FAILED_RANGES);
    if (!self->table || !self->peers || !self->finished || !self->job_times) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    zhashx_set_destructor (self->job_times, broker_free_item);
    self->fair = sl_fair_new ();
    if (!self->fair) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    self->answers = sl_outbox_new ();
    if (!self->answers || broker_collecting_new (self)) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    if ((config->curve_secret || config->keys_file) && broker_curve_setup (self, err, errlen))
        goto fail;
    if (!(self->control = s_bind (config, self->cert, SL_PORT_CONTROL, ZMQ_ROUTER, err, errlen)) ||
        !(self->intake = s_bind (config, self->cert, SL_PORT_INTAKE, ZMQ_PULL, err, errlen)) ||
        !(self->dispatch = s_bind (config, self->cert, SL_PORT_DISPATCH,
                                   config->fair ? ZMQ_ROUTER : ZMQ_PUSH, err, errlen)) ||
        !(self->results = s_bind (config, self->cert, SL_PORT_RESULTS, ZMQ_PULL, err, errlen)) ||
        !(self->delivery = s_bind (config, self->cert, SL_PORT_DELIVERY, ZMQ_ROUTER, err, errlen)))
        goto fail;
    //  Every client says hello on the control port first: a client turned
    //  away there before its key is known is logged too.
    if (self->auth && admit_watch (self->auth, self->control))
        sl_warn ("cannot watch the control port's handshakes: clients that speak plain are "
                 "refused without a word in this log");
    //  A worker claims each task in the heartbeat after it took it; one not
    //  claimed within 5 intervals was lost on the way (or sits in the
    //  buffers of a worker that stopped reading).
    self->unclaimed_lease_ms = 5 * (int64_t) config->heartbeat_ms;
    broker_role_init (self);
    if ((config->data_dir || config->nats.servers) && broker_journal_open (self, err, errlen))
        goto fail;
    broker_standbys_open (self);
    if (config->metrics && !(self->metrics = http_new (config->metrics, err, errlen)))
        goto fail;
    broker_metrics_guard (self);
    //  Failed tasks kept for the dashboard: a share of --max-memory, capped.
    uint64_t failure_bytes = config->max_memory / FAILURES_MEMORY_SHARE;
    if (failure_bytes > FAILURES_MAX_BYTES)
        failure_bytes = FAILURES_MAX_BYTES;
    size_t max_failures = (size_t) (failure_bytes / sizeof (failure_t));
    if (!(self->history = history_new ()) ||
        !(self->failures =
              failures_new (max_failures > 100 ? max_failures : 100, FAILURES_PER_JOB))) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    if (broker_attach_setup (self, err, errlen))
        goto fail;
    return self;
fail:
    broker_destroy (&self);
    return NULL;
}

void broker_destroy (broker_t **self_p)
{
    assert (self_p);
    broker_t *self = *self_p;
    if (!self)
        return;
    http_destroy (&self->metrics);
    broker_standbys_close (self);
    history_destroy (&self->history);
    failures_destroy (&self->failures);
    zstr_free (&self->status_body);
    broker_attach_cleanup (self);
    zhashx_destroy (&self->job_times);
    zhashx_destroy (&self->awaited);
    zsock_destroy (&self->control);
    zsock_destroy (&self->intake);
    zsock_destroy (&self->dispatch);
    zsock_destroy (&self->results);
    zsock_destroy (&self->delivery);
    sl_peers_destroy (&self->peers);
    sl_fair_destroy (&self->fair);
    broker_collecting_destroy (self);
    sl_outbox_destroy (&self->answers);
    sl_journal_destroy (&self->journal);
    zactor_destroy (&self->auth);
    zcertstore_destroy (&self->admitted);
    zcert_destroy (&self->cert);
    memset (self->token, 0, sizeof self->token);
    sl_table_destroy (&self->table);
    sl_finished_destroy (&self->finished);
    free (self);
    *self_p = NULL;
}

//  --- Helpers ------------------------------------------------------------

//  Counts and (rate-limited) logs a message the broker drops.
void broker_bad (broker_t *self, const char *where, const char *from, const char *why)
{
    self->count.bad_messages++;
    uint32_t suppressed = 0;
    if (sl_ratelimit_allow (&self->bad_log, zclock_mono (), &suppressed)) {
        if (suppressed)
            sl_warn ("dropped %u more bad messages (not logged)", suppressed);
        sl_warn ("dropped a message on the %s socket%s%s: %s", where, from ? " from " : "",
                 from ? from : "", why);
    }
}

//  Logs a peer or a job coming or going, rate-limited: peers can make
//  these happen at will (a flood of hellos must not flood the log).

void broker_event (broker_t *self, sl_log_level_t level, const char *format, ...)
{
    if (!sl_log_enabled (level))
        return;
    uint32_t suppressed = 0;
    if (!sl_ratelimit_allow (&self->event_log, zclock_mono (), &suppressed))
        return;
    if (suppressed)
        sl_log (level, "(%u more events of workers, sinks and jobs not logged)", suppressed);
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    sl_log (level, "%s", line);
}

void broker_key (zframe_t *routing_id, char *key, size_t keylen)
{
    static const char hex [] = "0123456789abcdef";
    size_t size = zframe_size (routing_id);
    const uint8_t *data = zframe_data (routing_id);
    size_t i;
    for (i = 0; i < size && 2 * i + 2 < keylen; i++) {
        key [2 * i] = hex [data [i] >> 4];
        key [2 * i + 1] = hex [data [i] & 15];
    }
    key [2 * i] = '\0';
}

void broker_reply (broker_t *self, zframe_t *routing_id, sl_env_t *env)
{
    //  EHOSTUNREACH: the client left meanwhile; nothing to do.
    sl_proto_send (self->control, routing_id, env, ZMQ_DONTWAIT);
}

//  A finished job still remembered (within --retention), or NULL.
sl_finished_job_t *broker_finished_lookup (broker_t *self, const char *job_id)
{
    return sl_finished_lookup (self->finished, job_id, zclock_time () - self->config.retention_ms);
}

void broker_remember (broker_t *self, const char *job_id, const sl_job_counts_t *counts,
                      int64_t finished_at, const sl_failed_t *failed)
{
    sl_finished_remember (self->finished, job_id, counts, finished_at, failed);
}

//  --- Housekeeping -----------------------------------------------------------

static void s_expire_peers (broker_t *self, int64_t now)
{
    sl_peer_t *gone [256];
    size_t ngone = sl_peers_silent (self->peers, now, gone, 256); //  the rest next time
    for (size_t i = 0; i < ngone; i++) {
        sl_peer_t *peer = gone [i];
        if (peer->role == SLUICE__ROLE__ROLE_SINK)
            broker_collector_detach (self, peer, "no heartbeat");
        else {
            char why [80];
            if (peer->bye_batch)
                snprintf (why, sizeof why, "left, and its last results did not come");
            else
                snprintf (why, sizeof why, "silent for %lld ms",
                          (long long) (now - peer->last_seen));
            broker_worker_gone (self, peer, why);
        }
    }
    //  Results sent to a collector and not acknowledged for a while were
    //  lost on the way (or taken by a peer that is not the collector: anyone
    //  may connect to the delivery port unless CurveZMQ keeps them out).
    broker_collectors_tick (self, now);
    //  Tasks that no worker claimed in time were lost on the way.
    size_t expired = sl_table_expire (self->table, now);
    if (expired) {
        self->count.tasks_lost += expired;
        sl_warn ("%zu dispatched tasks were not claimed by a worker in time: queued again",
                 expired);
    }
}

//  Logs each worker's capacity: what it can run, runs, and has done.
static void s_report_workers (broker_t *self)
{
    if (sl_peers_workers (self->peers) == 0)
        return;
    uint32_t slots = 0, busy = 0;
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        sl_info ("worker %s: %u slots, %u busy, %llu tasks done%s", peer->name, peer->slots,
                 peer->running, (unsigned long long) peer->done,
                 self->config.fair && !peer->dispatch_id ? " (no credit yet)" : "");
        slots += peer->slots;
        busy += peer->running;
    }
    sl_info ("%zu workers: %u slots, %u busy; %zu tasks queued, %zu running",
             sl_peers_workers (self->peers), slots, busy, sl_table_queued (self->table),
             sl_table_running (self->table));
}

//  Says where the broker listens (and its dashboard).
static void s_announce (broker_t *self)
{
    sl_info ("broker %s listening on %s (and the next %d ports), heartbeat %u ms", self->broker_id,
             self->config.bind, SL_PORT_COUNT - 1, self->config.heartbeat_ms);
    if (self->metrics)
        sl_info ("dashboard at http://%s/ and Prometheus metrics at /metrics%s",
                 self->config.metrics + (strncmp (self->config.metrics, "tcp://", 6) ? 0 : 6),
                 self->token [0] && !sl_endpoint_loopback (self->config.metrics)
                     ? " (requests need Authorization: Bearer JOIN-TOKEN)"
                     : "");
    broker_insecure_warning (self, zclock_mono ());
}

//  What to wait for on each socket (the order of broker_run's items).
//  Wait for writability only when there is something to write: the PUSH
//  to workers when tasks are queued, the delivery ROUTER (always writable)
//  when there is something the sink may be sent now. Under fair dispatch the dispatch ROUTER is read for
//  credits instead.
static void s_poll_events (broker_t *self, zmq_pollitem_t *items)
{
    bool dealing = sl_table_queued (self->table) && !self->grace_until && !self->journal_failed;
    bool to_sink = broker_delivery_pending (self);
    items [1].events = broker_throttled (self) ? 0 : ZMQ_POLLIN;
    //  Results not journaled would only pile up in memory: while the
    //  journal fails they wait in the workers (as while the broker is
    //  away) and in small socket buffers.
    items [2].events = self->journal_failed ? 0 : ZMQ_POLLIN;
    items [3].events = self->config.fair ? ZMQ_POLLIN : dealing ? ZMQ_POLLOUT : 0;
    items [4].events = ZMQ_POLLIN | (to_sink ? ZMQ_POLLOUT : 0);
}

//  How long the poll may wait: until the next timer.
static long s_poll_timeout (broker_t *self, int64_t now)
{
    int64_t wake = self->next_housekeeping;
    if (broker_journal_wake (self) < wake)
        wake = broker_journal_wake (self);
    if (self->grace_until && self->grace_until < wake)
        wake = self->grace_until;
    if (broker_delivery_wake (self) < wake)
        wake = broker_delivery_wake (self);
    if (self->shared && sl_role_wake (&self->role) < wake)
        wake = sl_role_wake (&self->role);
    return wake > now ? (long) (wake - now) : 0;
}

//  Reads what came in, then moves work on: dispatch, delivery, answers.
static void s_turn (broker_t *self, zmq_pollitem_t *items)
{
    if (self->config.fair && (items [3].revents & ZMQ_POLLIN))
        broker_on_dispatch (self);
    if (items [0].revents & ZMQ_POLLIN)
        broker_on_control (self);
    if (items [1].revents & ZMQ_POLLIN)
        broker_on_intake (self);
    if (items [2].revents & ZMQ_POLLIN)
        broker_on_results (self);
    if (items [4].revents & ZMQ_POLLIN)
        broker_on_delivery_input (self);
    if (self->metrics && (items [5].revents & ZMQ_POLLIN))
        http_handle (self->metrics, broker_render_http, self);
    if (items [6].revents & ZMQ_POLLIN)
        broker_journal_poll (self); //  the journal's answers (NATS)
    //  On a shared journal the window was checked before the handlers;
    //  check it again before dealing and delivering, so that a long turn
    //  cannot carry a deposed broker's sends into a takeover (role.h).
    if (self->shared && !sl_role_may_serve (&self->role, zclock_mono ()))
        return; //  the next turn holds the journal first
    broker_dispatch (self);
    broker_deliver (self);
    broker_finish_jobs (self);
    broker_notices_flush (self);
    broker_outbox_flush (self, self->answers, self->control);
}

//  The clock's work: commits, rates, reports, expiry.
static void s_timers (broker_t *self, int64_t now, int64_t tick)
{
    broker_journal_tick (self, now);
    broker_rate_tick (self, now);
    broker_history_tick (self);
    broker_standbys_tick (self, now);
    if (now >= self->next_report) {
        s_report_workers (self);
        self->next_report = now + WORKER_REPORT_MS;
    }
    if (now >= self->next_housekeeping) {
        s_expire_peers (self, now);
        broker_token_check (self);
        broker_insecure_warning (self, now);
        if (self->metrics)
            http_expire (self->metrics, now);
        self->next_housekeeping = now + tick;
    }
}

//  Commits what is left and says what the broker did. Returns broker_run's
//  result.
static int s_stop (broker_t *self)
{
    broker_journal_sync (self);
    sl_info ("broker stopping: %llu tasks accepted, %llu results, %llu runs lost, %llu handed "
             "back, %llu retried, %llu duplicates dropped, %llu bad messages dropped",
             (unsigned long long) self->count.tasks_in, (unsigned long long) self->count.results_in,
             (unsigned long long) self->count.tasks_lost,
             (unsigned long long) self->count.tasks_released,
             (unsigned long long) self->count.retries, (unsigned long long) self->count.duplicates,
             (unsigned long long) self->count.bad_messages);
    if (self->fenced) {
        sl_error ("broker stopped: another broker took over the journal %s; nothing that was "
                  "not in the journal was confirmed",
                  sl_journal_dir (self->journal));
        return -1;
    }
    return 0;
}

int broker_run (broker_t *self)
{
    assert (self);
    s_announce (self);
    zmq_pollitem_t items [] = {
        { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->intake), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->results), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->dispatch), 0, ZMQ_POLLOUT, 0 },
        { zsock_resolve (self->delivery), 0, ZMQ_POLLOUT, 0 },
        //  The HTTP socket and the journal's answers (NATS), if any: an fd
        //  of -1 is never ready.
        { self->metrics ? zsock_resolve (http_sock (self->metrics)) : NULL, -1, ZMQ_POLLIN, 0 },
        { NULL, self->journal ? sl_journal_fd (self->journal) : -1, ZMQ_POLLIN, 0 },
    };
    int nitems = 7;
    int64_t tick = self->config.heartbeat_ms / 2 > 0 ? self->config.heartbeat_ms / 2 : 1;
    self->next_housekeeping = zclock_mono () + tick;
    self->next_report = zclock_mono () + WORKER_REPORT_MS;
    if (self->role.state == SL_ROLE_STANDBY && broker_standby_run (self))
        return 0; //  interrupted while a standby
    //  As zmq_poll, without asking again after the wait the sockets whose
    //  ZMQ_FD stayed quiet (no socket is tracked: all are used everywhere).
    sl_zpoll_t poller = { 0 };
    while (!zsys_interrupted && !self->fenced) {
        s_poll_events (self, items);
        int rc = sl_zpoll (&poller, items, (size_t) nitems, s_poll_timeout (self, zclock_mono ()));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            sl_error ("poll failed: %s", zmq_strerror (errno));
            break;
        }
        if (!broker_role_serving (self, zclock_mono ()))
            continue; //  deposed (fenced), or holding the journal again first
        s_turn (self, items);
        s_timers (self, zclock_mono (), tick);
    }
    sl_zpoll_clear (&poller);
    return s_stop (self);
}
