/*  standbys_io - the brokers of a shared stream (--standby) telling each
    other who they are: a standby announces its address, the stream
    sequence it applied and its role every heartbeat (announce.h); the
    active broker lists what it hears (standbys.h) for sluice-ctl status,
    --json and /metrics. Also keeps the --discover beacon saying whether
    this broker is a standby. Part of the broker; state in internal.h.
*/
#include "internal.h"

void broker_standbys_open (broker_t *self)
{
    sl_standbys_init (&self->standbys);
    self->announce_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (1, 10000);
    if (!self->shared || !self->config.nats.servers)
        return;
    char err [512];
    if (!(self->announce = sl_announce_new (&self->config.nats, err, sizeof err)))
        sl_warn ("%s: the active broker will not list this one's standbys", err);
}

void broker_standbys_close (broker_t *self)
{
    sl_announce_destroy (&self->announce);
}

//  A standby: its address, the sequence it applied, its role.
static void s_announce (broker_t *self, int64_t now)
{
    if (now < self->next_announce)
        return;
    self->next_announce = now + self->config.heartbeat_ms;
    sl_announcement_t said = {
        .seq = sl_journal_last_seq (self->journal),
        .every_ms = self->config.heartbeat_ms,
    };
    snprintf (said.broker, sizeof said.broker, "%s", self->advertise);
    snprintf (said.role, sizeof said.role, "%s", sl_role_name (self->role.state));
    char msg [SL_STANDBYS_MSG_MAX];
    size_t size = sl_announcement_encode (&said, msg, sizeof msg);
    if ((!size || sl_announce_send (self->announce, msg, size)) &&
        sl_ratelimit_allow (&self->announce_log, now, NULL))
        sl_warn ("cannot announce this standby to the active broker");
}

//  Reads what the standbys said, drops the silent ones.
static void s_listen (broker_t *self, int64_t now)
{
    char msg [SL_STANDBYS_MSG_MAX + 1], why [128];
    int size;
    while ((size = sl_announce_recv (self->announce, msg, sizeof msg)) >= 0) {
        sl_announcement_t said;
        if (sl_announcement_decode (msg, (size_t) size, &said, why, sizeof why)) {
            if (sl_ratelimit_allow (&self->announce_log, now, NULL))
                sl_warn ("dropped a broker announcement: %s", why);
            continue;
        }
        if (streq (said.broker, self->advertise))
            continue; //  its own (a standby before it took over)
        if (!streq (said.role, "standby")) {
            sl_standbys_forget (&self->standbys, said.broker);
            continue;
        }
        size_t before = self->standbys.n;
        if (sl_standbys_heard (&self->standbys, &said, now) == 0 && self->standbys.n > before &&
            self->role.state == SL_ROLE_ACTIVE)
            broker_event (self, SL_LOG_INFO, "standby %s follows the stream (at sequence %llu)",
                          said.broker, (unsigned long long) said.seq);
    }
    size_t before = self->standbys.n;
    if (sl_standbys_expire (&self->standbys, now) && self->role.state == SL_ROLE_ACTIVE)
        broker_event (self, SL_LOG_INFO,
                      "%zu standby(s) silent for %d of their heartbeats: no longer listed",
                      before - self->standbys.n, SL_STANDBYS_EXPIRE_BEATS);
    //  A checkpoint's purge waits for the live standbys (a silent one is
    //  not waited for: it is dropped from the list above).
    if (self->role.state == SL_ROLE_ACTIVE)
        sl_journal_keep_from (self->journal, self->standbys.n
                                                 ? sl_standbys_min_seq (&self->standbys) + 1
                                                 : 0);
}

//  --discover: the beacon says "standby" while this broker is not active,
//  so that clients that hear several put the active one first.
static void s_beacon (broker_t *self)
{
    bool standby = self->shared && self->role.state != SL_ROLE_ACTIVE;
    if (self->beacon && standby != self->beacon_standby) {
        sl_discover_set_standby (self->beacon, standby);
        self->beacon_standby = standby;
    }
}

void broker_standbys_tick (broker_t *self, int64_t now)
{
    s_beacon (self);
    if (!self->announce)
        return;
    if (self->role.state == SL_ROLE_STANDBY)
        s_announce (self, now);
    //  A standby listens too: what it hears would otherwise pile up in its
    //  subscription, and once it takes over it lists the others at once.
    s_listen (self, now);
}

void broker_discover_set (broker_t *self, sl_discover_t *beacon)
{
    assert (self);
    self->beacon = beacon;
    self->beacon_standby = false;
    s_beacon (self);
}
