/*  sl_follow - which of several brokers a client talks to: the address
    list a user gives (--broker tcp://a:5560,tcp://b:5560, the config file,
    discovery), the one in use, and what to do when it refuses or falls
    silent. Pure: no sockets; `now` (ms, monotonic) is an argument.

    Standby brokers (broker/role.h) refuse clients with "standby; the
    active broker is ADDRESS" (or "standby; no active broker known yet",
    or "deposed; ..."): the client goes to that address (added to the list
    if the user did not give it), or to the next one. A broker that does
    not answer is left for the next address after SL_FOLLOW_DWELL_MS (so
    that a connection has time to be made). Any other refusal is final:
    the caller reports it. With one address, a client stays with it.

    A welcomed link is lost after SL_FOLLOW_LOST_BEATS heartbeats without
    an answer; with other addresses to try, also after one heartbeat
    without an answer if the last heartbeat found no connection to send
    on (ZMQ_IMMEDIATE: the broker's process is gone, its host refuses).
    A lost link moves to the next address at once (sl_follow_lost): the
    standby there takes over within 2.5 heartbeats of the active broker's
    last append (broker/role.h), and the client is already saying hello.

    A standby's hint may name the broker that just died (it does not know
    yet): a broker left for silence in the last SL_FOLLOW_STALE_MS is not
    gone back to on a hint or a refusal; the client stays with the standby,
    which takes over shortly.

    sl_client.c uses this for every program and libsluice.
*/
#ifndef SL_FOLLOW_H_INCLUDED
#define SL_FOLLOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_FOLLOW_MAX 8         //  addresses in a list, at most
#define SL_FOLLOW_ADDR 256      //  longest address, with its terminator
#define SL_FOLLOW_DWELL_MS 500  //  a silent broker is left after this long
#define SL_FOLLOW_STALE_MS 3000 //  a broker left silent is not gone back to for this long
#define SL_FOLLOW_LOST_BEATS 3  //  heartbeats without an answer that lose a link
#define SL_FOLLOW_RETRY_MS 25   //  a standby that refused: say hello again after this long

typedef enum {
    SL_FOLLOW_STAY,   //  keep saying hello to the current address
    SL_FOLLOW_SWITCH, //  the current address changed: connect there
    SL_FOLLOW_FINAL   //  a refusal that another broker would not change
} sl_follow_action_t;

typedef struct {
    char addrs [SL_FOLLOW_MAX][SL_FOLLOW_ADDR]; //  the brokers, as given (then as told)
    size_t n;                                   //  how many
    size_t current;                             //  the one in use
    int64_t since;                              //  when it became the one in use, or last
                                                //  answered (ms)
    int64_t left_silent [SL_FOLLOW_MAX];        //  when each was left for silence (ms), or 0
    uint64_t switches;                          //  times the current address changed
} sl_follow_t;

//  Parses a comma-separated list of tcp://HOST:PORT (spaces around commas
//  allowed, duplicates dropped). Returns 0, or -1 with err naming the bad
//  address (or an empty or too long list).
int sl_follow_init (sl_follow_t *self, const char *list, int64_t now, char *err, size_t errlen);

//  Checks a list as sl_follow_init does: 0, or -1 with err.
int sl_follow_check (const char *list, char *err, size_t errlen);

//  The address in use.
const char *sl_follow_current (const sl_follow_t *self);

//  The broker in use refused a hello with reason: see above.
sl_follow_action_t sl_follow_refused (sl_follow_t *self, const char *reason, int64_t now);

//  The broker in use has not answered: SWITCH to the next address once it
//  was tried for SL_FOLLOW_DWELL_MS, else STAY.
sl_follow_action_t sl_follow_silent (sl_follow_t *self, int64_t now);

//  The broker in use, welcomed, has not answered for silent_ms (the
//  heartbeat is beat_ms); unsent: the last heartbeat found no connection
//  to send on. True if the link is lost (see above).
bool sl_follow_link_lost (const sl_follow_t *self, int64_t silent_ms, int64_t beat_ms, bool unsent);

//  When a link silent since last_answer is lost, as sl_follow_link_lost
//  says (ms): the time to check it again.
int64_t sl_follow_lost_at (const sl_follow_t *self, int64_t last_answer, int64_t beat_ms,
                           bool unsent);

//  The link to the broker in use was lost: SWITCH to the next address at
//  once, the lost one left as silent (not gone back to on a hint for
//  SL_FOLLOW_STALE_MS); STAY with one address.
sl_follow_action_t sl_follow_lost (sl_follow_t *self, int64_t now);

//  The list, comma-separated, for messages ("a, b").
void sl_follow_list (const sl_follow_t *self, char *out, size_t outlen);

#endif
