/*  standbys - the standby brokers an active broker has heard from, and
    how far behind it each one is. Pure: no sockets, no clock (`now` is an
    argument, ms on a monotonic clock).

    Every broker of a shared stream (--standby) that follows it announces
    itself every heartbeat on a core NATS subject of its own
    ("sluice-brokers.STREAM", announce.h): its address, the last stream
    sequence it applied, its role and how often it announces. Core NATS,
    not JetStream: an announcement is worth nothing a few heartbeats
    later, so nothing is stored, the journal stream does not grow, and its
    fencing (expected last sequence) never sees these messages.

    The active broker keeps what it heard here: one entry per address,
    replaced by each announcement, dropped after SL_STANDBYS_EXPIRE_BEATS
    of the announcer's own intervals without one (a standby killed -9
    leaves the list within three of its heartbeats). The lag of a standby
    is the active broker's last stream sequence minus the one the standby
    applied (0 if it is ahead: it read a hold the active one has not
    counted yet), and the age of its last announcement.

    The wire format is a small JSON object, one per NATS message:
      {"v":1,"broker":"tcp://host:5560","seq":1234,"role":"standby","every_ms":500}
    Unknown fields are ignored; another "v" is refused.
*/
#ifndef STANDBYS_H_INCLUDED
#define STANDBYS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_STANDBYS_MAX 16         //  standbys listed, at most (more are not kept)
#define SL_STANDBYS_EXPIRE_BEATS 3 //  announcements missed before an entry goes
#define SL_STANDBYS_ADDR 256       //  longest address, with its terminator
#define SL_STANDBYS_ROLE 16        //  longest role name, with its terminator
#define SL_STANDBYS_VERSION 1      //  the announcement format
#define SL_STANDBYS_MSG_MAX 512    //  longest announcement

//  One announcement.
typedef struct {
    char broker [SL_STANDBYS_ADDR]; //  where clients reach it (--advertise)
    char role [SL_STANDBYS_ROLE];   //  "standby" (or "active", "deposed")
    uint64_t seq;                   //  the last stream sequence it applied
    int64_t every_ms;               //  how often it announces (its heartbeat)
} sl_announcement_t;

//  One standby heard from.
typedef struct {
    sl_announcement_t said; //  its last announcement
    int64_t seen_at;        //  when it came (ms)
} sl_standby_t;

typedef struct {
    sl_standby_t entries [SL_STANDBYS_MAX]; //  in the order first heard
    size_t n;                               //  how many
    uint64_t dropped;                       //  announcements not kept: the list was full
} sl_standbys_t;

//  An empty list.
void sl_standbys_init (sl_standbys_t *self);

//  An announcement came at now: replaces the entry of its address, or adds
//  one. Returns 0, or -1 if the list is full (counted in dropped).
int sl_standbys_heard (sl_standbys_t *self, const sl_announcement_t *said, int64_t now);

//  Drops the entries silent for SL_STANDBYS_EXPIRE_BEATS of their
//  intervals as of now. Returns how many went.
size_t sl_standbys_expire (sl_standbys_t *self, int64_t now);

//  Drops the entry of broker, if any (it became the active one).
void sl_standbys_forget (sl_standbys_t *self, const char *broker);

//  The lowest sequence a listed standby applied (the one furthest behind),
//  or 0 if none is listed.
uint64_t sl_standbys_min_seq (const sl_standbys_t *self);

//  Records the entry is behind a stream whose last sequence is active_seq.
uint64_t sl_standby_lag (const sl_standby_t *entry, uint64_t active_seq);

//  The announcement as its wire text into buf. Returns its length, or 0 if
//  it does not fit (or a field is empty).
size_t sl_announcement_encode (const sl_announcement_t *said, char *buf, size_t len);

//  Reads an announcement. Returns 0, or -1 with why (not JSON, another
//  version, a missing or bad field).
int sl_announcement_decode (const char *data, size_t size, sl_announcement_t *said, char *why,
                            size_t whylen);

#endif
