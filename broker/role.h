/*  role - which of several brokers on one shared journal acts: a pure
    state machine (no sockets, no clock: `now` is an argument, ms on a
    monotonic clock).

            start --standby                   start (no --standby)
                  |                                 |
                  v      stream silent 3 beats,     v
              STANDBY -- and this broker's hold --> ACTIVE --- hold refused ---> DEPOSED
                 ^  |    succeeds                    |         (another broker
                 +--+ hold refused: another          |          wrote first)
                      broker won; go on following    +-- holds again every beat

    A standby follows the journal stream; every message it reads shows an
    active broker alive (the active one appends at least an empty "hold"
    message every heartbeat). Silence for 2.5 heartbeats
    (sl_role_takeover_ms) makes it try to take over: a hold that expects
    the last sequence it read, which the stream refuses if anyone wrote
    since.

    An active broker serves (dispatches, delivers, answers) only within 2
    heartbeats (sl_role_serve_ms) of the start of its last successful
    hold: a standby cannot take over before 2.5 heartbeats after it read
    that hold, which came after the hold started, so the window closes
    half a heartbeat (and at least SL_ROLE_MARGIN_MS) before any takeover.
    A broker past its window (it was stopped, or cut off from NATS) holds
    again before it serves; if another broker wrote meanwhile, the hold is
    refused and it is deposed. The journal's fencing (journal.h) does not
    depend on these clocks; the window only keeps a deposed broker from
    dispatching or delivering what it already held (docs/durability.md,
    "Why at most one broker acts").
*/
#ifndef ROLE_H_INCLUDED
#define ROLE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define SL_ROLE_TAKEOVER_TENTHS 25 //  stream silence before a standby takes over (tenths of a beat)
#define SL_ROLE_SERVE_TENTHS 20    //  an active broker serves this long after its hold (tenths)
#define SL_ROLE_MARGIN_MS 100 //  the serving window closes at least this long before a takeover

typedef enum {
    SL_ROLE_STANDBY, //  follows the journal, serves nobody
    SL_ROLE_ACTIVE,  //  holds the journal and serves
    SL_ROLE_DEPOSED  //  another broker took over: serves nothing more, stops
} sl_role_state_t;

typedef struct {
    sl_role_state_t state; //  see the diagram
    int64_t beat_ms;       //  the heartbeat interval
    int64_t takeover_ms;   //  standby: stream silence before it takes over (sl_role_takeover_ms)
    int64_t serve_ms;      //  active: how long it serves after its hold (sl_role_serve_ms)
    uint64_t seen_seq;     //  standby: the stream's last sequence read
    int64_t progress_at;   //  standby: when seen_seq last moved (or following began)
    int64_t held_at;       //  active: when its last successful hold began
    int64_t took_over_at;  //  when it became active, or -1
    uint64_t takeovers;    //  times it took over (0 or 1 for one process)
} sl_role_t;

//  How long a standby waits for a silent stream before it takes over (ms):
//  2.5 heartbeats, and at least SL_ROLE_MARGIN_MS more than sl_role_serve_ms.
int64_t sl_role_takeover_ms (int64_t beat_ms);

//  How long an active broker serves after the start of its last
//  successful hold (ms): 2 heartbeats.
int64_t sl_role_serve_ms (int64_t beat_ms);

//  Starts as a standby (following since now) or as the active broker
//  (held at now: it just replayed the journal, or has none to share).
void sl_role_init (sl_role_t *self, bool standby, int64_t beat_ms, int64_t now);

//  Standby: the stream's last sequence read is seq (as of now).
void sl_role_followed (sl_role_t *self, uint64_t seq, int64_t now);

//  Standby: true if the stream has been silent long enough to take over.
bool sl_role_takeover_due (const sl_role_t *self, int64_t now);

//  A hold (or commit) that began at started succeeded: a standby is now
//  active; an active broker may serve for another window.
void sl_role_held (sl_role_t *self, int64_t started);

//  A hold was refused: another broker wrote first. A standby goes on
//  following (the stream moved at now); an active broker is deposed.
void sl_role_refused (sl_role_t *self, int64_t now);

//  Active: true if it may dispatch, deliver and answer now.
bool sl_role_may_serve (const sl_role_t *self, int64_t now);

//  Active: true if it must hold again now (a heartbeat since the last).
bool sl_role_hold_due (const sl_role_t *self, int64_t now);

//  When the role next needs the loop (ms), or INT64_MAX.
int64_t sl_role_wake (const sl_role_t *self);

//  "standby", "active", "deposed".
const char *sl_role_name (sl_role_state_t state);

#endif
