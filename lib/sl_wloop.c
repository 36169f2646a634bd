/*  sl_wloop - a worker's event loop, see sl_wloop.h.

    One thread: one poll over the control DEALER, the dispatch socket
    (DEALER fed credit, or PULL with push dispatch), the results PUSH
    (only while results wait) and the executor's items (sl_zpoll: one
    system call a turn where zmq_poll made 13; every send and receive
    outside a socket's ready turn is told to it with sl_zpoll_touch).
    Tasks are read as soon as they arrive and wait in the core until a
    slot frees: what the broker deals to this worker is better held where
    the broker can see it (the core's claims) than in ZeroMQ's buffers.
*/
#include "sl_wloop.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#include "sl_client.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_wcore.h"
#include "sl_zpoll.h"

#define MAX_POLL_ITEMS 4096
#define STOP_CHECK_MS 100 //  a stop request is noticed within this long

typedef struct {
    const sl_wloop_config_t *config; //  the caller's
    sl_wexec_t *exec;                //  runs the tasks
    sl_wcore_t *core;                //  the protocol
    sl_wattach_t *attach;            //  attachment cache
    sl_client_t *client;             //  control DEALER and data sockets
    zsock_t *tasks;                  //  dispatch: DEALER (fair) or PULL (push)
    zsock_t *results;                //  PUSH to the results port
    bool fair;                       //  credit-based dispatch
    bool refused;                    //  refused after a reconnect (or our key revoked)
    sl_zpoll_t poller;               //  the sockets' events between turns
} wloop_t;

//  Sends the control frames the core queued.
static void s_flush_control (wloop_t *self, int64_t now)
{
    bool heartbeat;
    zframe_t *frame;
    while ((frame = sl_wcore_control_next (self->core, &heartbeat))) {
        sl_zpoll_touch (&self->poller, zsock_resolve (sl_client_control (self->client)));
        bool sent = zframe_send (&frame, sl_client_control (self->client), ZFRAME_DONTWAIT) == 0;
        if (!sent)
            zframe_destroy (&frame); //  the broker is away: claims go again after the welcome
        if (heartbeat)
            sl_client_heartbeat_sent (self->client, now, sent);
    }
}

//  Sends what the core queued: control frames, credit, then results in
//  order until ZeroMQ takes no more.
static void s_flush (wloop_t *self, int64_t now)
{
    s_flush_control (self, now);
    zframe_t *frame;
    Sluice__Credit credit;
    if (sl_wcore_credit (self->core, &credit)) {
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_CREDIT;
        env.credit = &credit;
        sl_zpoll_touch (&self->poller, zsock_resolve (self->tasks));
        if (sl_proto_send (self->tasks, NULL, &env, ZMQ_DONTWAIT) == 0)
            sl_wcore_credit_sent (self->core);
    }
    while ((frame = sl_wcore_result_peek (self->core))) {
        sl_zpoll_touch (&self->poller, zsock_resolve (self->results));
        zframe_t *copy = zframe_dup (frame);
        if (zframe_send (&copy, self->results, ZFRAME_DONTWAIT)) {
            zframe_destroy (&copy);
            break;
        }
        sl_wcore_result_sent (self->core);
    }
}

//  Reads every task batch ZeroMQ holds.
static void s_read_tasks (wloop_t *self, int64_t now)
{
    sl_zpoll_touch (&self->poller, zsock_resolve (self->tasks));
    while (true) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->tasks, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK)
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS)
            sl_wcore_tasks (self->core, env->tasks, now);
        else
            sl_warn_dropped ("dropped an unexpected %s message on the task socket",
                             sl_proto_body_name (env));
        sl_proto_free (&env);
    }
}

//  Starts draining: what ZeroMQ holds is read first (and handed back with
//  the rest). Fair: credit 0. Push: the PULL disconnects, so that nothing
//  more is dealt.
static void s_drain (wloop_t *self, int64_t now)
{
    if (sl_wcore_draining (self->core))
        return;
    s_read_tasks (self, now);
    sl_wcore_drain (self->core, now);
    if (!self->fair) {
        char endpoint [300], err [256];
        if (sl_endpoint_derive (sl_client_broker (self->client), SL_PORT_DISPATCH, endpoint, sizeof endpoint,
                                err, sizeof err) == 0)
            zsock_disconnect (self->tasks, "%s", endpoint);
    }
}

static void s_on_control (wloop_t *self, int64_t now)
{
    sl_zpoll_touch (&self->poller, zsock_resolve (sl_client_control (self->client)));
    sl_env_t *env;
    sl_link_t link;
    bool consumed;
    while ((env = sl_client_recv (self->client, now, &link, &consumed))) {
        if (link == SL_LINK_REFUSED)
            self->refused = true; //  e.g. our key was revoked: stop
        else if (link == SL_LINK_BACK || link == SL_LINK_RESTARTED)
            sl_wcore_welcome (self->core, self->fair, now);
        else if (!consumed && sl_wcore_control (self->core, env, now) == SL_WCORE_DRAIN)
            s_drain (self, now);
        sl_proto_free (&env);
    }
}

//  Hello, then the data sockets. Returns 0, 1 if interrupted, -1 on error.
static int s_connect (wloop_t *self)
{
    const sl_wloop_config_t *config = self->config;
    char err [512];
    self->client = sl_client_new (config->broker, config->curve, err, sizeof err);
    if (!self->client) {
        sl_error ("%s", err);
        return -1;
    }
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_WORKER;
    hello.name = (char *) config->name;
    hello.slots = config->slots;
    hello.heartbeat_ms = config->heartbeat_ms;
    hello.queues = (char **) config->queues;
    hello.n_queues = config->nqueues;
    sl_env_t *welcome = NULL;
    sl_hello_t said = sl_client_hello (self->client, &hello, config->connect_timeout_ms, &welcome,
                                       err, sizeof err);
    if (said != SL_HELLO_WELCOME) {
        if (said != SL_HELLO_INTERRUPTED)
            sl_error ("%s", err);
        return said == SL_HELLO_INTERRUPTED ? 1 : -1;
    }
    self->fair = welcome->welcome->fair;
    sl_proto_free (&welcome);
    //  Fair dispatch: a DEALER the broker knows by our name, fed credit.
    sl_client_set_routing_id (self->client, self->fair ? config->name : NULL);
    if (!(self->tasks = sl_client_open (self->client, SL_PORT_DISPATCH,
                                        self->fair ? ZMQ_DEALER : ZMQ_PULL, 0, err, sizeof err)) ||
        !(self->results =
              sl_client_open (self->client, SL_PORT_RESULTS, ZMQ_PUSH, 2000, err, sizeof err))) {
        sl_error ("%s", err);
        return -1;
    }
    sl_client_set_routing_id (self->client, NULL);
    sl_zpoll_track (&self->poller, zsock_resolve (sl_client_control (self->client)));
    sl_zpoll_track (&self->poller, zsock_resolve (self->tasks));
    sl_zpoll_track (&self->poller, zsock_resolve (self->results));
    //  Keep what ZeroMQ buffers for this worker small: tasks are better
    //  left with the broker than queued behind a busy worker.
    zsock_set_rcvhwm (self->tasks, 2);
    sl_wcore_welcome (self->core, self->fair, zclock_mono ());
    char served [SL_WLOOP_MAX_QUEUES * 66] = "default";
    for (size_t i = 0, at = 0; i < config->nqueues && at < sizeof served; i++)
        at += (size_t) snprintf (served + at, sizeof served - at, "%s%s", i ? "," : "",
                                 config->queues [i]);
    sl_info ("worker %s connected to broker %s at %s, %s %s, running %u tasks at once, "
             "heartbeat %u ms",
             config->name, sl_client_broker_id (self->client), config->broker,
             config->nqueues > 1 ? "queues" : "queue", served, config->slots,
             sl_client_heartbeat_ms (self->client));
    return 0;
}

//  A stop (signal or request): the first drains, a second stops now.
//  Returns true when the loop must end now.
static bool s_on_stop (wloop_t *self, int64_t now, bool signalled)
{
    if (sl_wcore_draining (self->core)) {
        sl_warn ("%s: stopping now; %zu running tasks go back to the broker",
                 signalled ? "second signal" : "stopped again", sl_wcore_running (self->core));
        return true;
    }
    s_drain (self, now);
    return false;
}

//  Turns of the loop until it must end. Returns 0 or -1.
static int s_loop (wloop_t *self, zmq_pollitem_t *items)
{
    while (true) {
        int64_t now = zclock_mono ();
        bool signalled = zsys_interrupted;
        if (signalled || (self->config->stop_requested &&
                          self->config->stop_requested (self->config->stop_arg))) {
            zsys_interrupted = 0; //  so that a second signal is seen
            if (s_on_stop (self, now, signalled))
                return 0;
        }
        if (self->refused)
            return -1;
        sl_wcore_step (self->core, now);
        if (sl_wcore_drained (self->core))
            return 0;
        if (sl_wcore_draining (self->core) && now >= sl_wcore_drain_until (self->core)) {
            sl_warn ("drain timeout: stopping %zu running tasks; they go back to the broker",
                     sl_wcore_running (self->core));
            return 0;
        }
        if (sl_client_tick (self->client, now) == SL_LINK_LOST)
            sl_wcore_lost (self->core);
        if (!sl_client_connected (self->client)) //  (it says hello again on its own)
            sl_zpoll_touch (&self->poller, zsock_resolve (sl_client_control (self->client)));
        if (sl_client_heartbeat_due (self->client, now))
            sl_wcore_heartbeat (self->core, now);
        s_flush (self, now);
        items [0] =
            (zmq_pollitem_t){ zsock_resolve (sl_client_control (self->client)), 0, ZMQ_POLLIN, 0 };
        //  Read even while draining: what arrives then is handed back.
        items [1] = (zmq_pollitem_t){ zsock_resolve (self->tasks), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t){ zsock_resolve (self->results), 0,
                                      sl_wcore_outbox_size (self->core) ? ZMQ_POLLOUT : 0, 0 };
        size_t n = 3 + self->exec->pollitems (self->exec->self, items + 3, MAX_POLL_ITEMS - 3);
        int64_t wake = sl_client_next_wake (self->client);
        int64_t timer = self->exec->next_timer (self->exec->self);
        if (timer >= 0 && timer < wake)
            wake = timer;
        if (sl_wcore_next_wake (self->core) < wake)
            wake = sl_wcore_next_wake (self->core);
        if (sl_wcore_draining (self->core) && sl_wcore_drain_until (self->core) < wake)
            wake = sl_wcore_drain_until (self->core);
        if (self->config->stop_requested && wake > now + STOP_CHECK_MS)
            wake = now + STOP_CHECK_MS;
        long timeout = wake > now ? (long) (wake - now) : 0;
        if (sl_zpoll (&self->poller, items, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            sl_error ("poll failed: %s", zmq_strerror (errno));
            return -1;
        }
        now = zclock_mono ();
        self->exec->handle (self->exec->self, items + 3, n - 3, now);
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (self, now);
        if (items [1].revents & ZMQ_POLLIN)
            s_read_tasks (self, now);
        sl_wcore_step (self->core, now);
        s_flush (self, now);
    }
}

int sl_wloop_run (const sl_wloop_config_t *config, sl_wexec_t *exec)
{
    assert (config);
    assert (exec);
    wloop_t self = { .config = config, .exec = exec };
    sl_wcore_config_t core_config = { .name = config->name,
                                      .slots = config->slots,
                                      .prefetch = config->prefetch,
                                      .drain_timeout_ms = config->drain_timeout_ms };
    zmq_pollitem_t *items = calloc (MAX_POLL_ITEMS, sizeof *items);
    self.attach = sl_wattach_new (config->attach_cache, config->attach_cache_max);
    self.core = self.attach ? sl_wcore_new (&core_config, exec, self.attach) : NULL;
    int rc = -1;
    if (!items || !self.core)
        sl_error ("cannot set up the worker: %s", self.attach ? "out of memory" : "no cache");
    else {
        rc = s_connect (&self);
        if (rc == 0)
            rc = s_loop (&self, items);
        else if (rc > 0)
            rc = 0; //  interrupted while waiting for the broker
    }
    if (self.core && self.results) {
        //  The results that can go first, then the Bye naming the last
        //  batch sent and handing back what still runs or waits.
        int64_t now = zclock_mono ();
        sl_wcore_step (self.core, now);
        s_flush (&self, now);
        sl_wcore_bye (self.core, now);
        s_flush_control (&self, now); //  no result after the Bye: it names the last
        if (sl_wcore_outbox_size (self.core))
            sl_warn ("%zu result batches could not be sent; the broker will redo those tasks",
                     sl_wcore_outbox_size (self.core));
        sl_info ("worker done: %llu tasks finished",
                 (unsigned long long) sl_wcore_done (self.core));
    }
    free (items);
    sl_zpoll_clear (&self.poller);
    //  The core's tasks go once the executor is done with them.
    exec->shutdown (exec->self);
    sl_client_destroy (&self.client);
    sl_wcore_destroy (&self.core);
    sl_wattach_destroy (&self.attach);
    return rc;
}
