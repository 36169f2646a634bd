/*  sl_zpoll - zmq_poll for a loop that turns once per short task: the
    same items and results, at one poll() system call a turn.

    zmq_poll asks every socket for its ZMQ_EVENTS before it sleeps and
    again after (in libzmq 4.3.4 each ask is a getpid and a poll of the
    socket's mailbox): 13 system calls a turn for 3 sockets, where the
    worker's turns are a few per task. sl_zpoll polls the sockets'
    ZMQ_FDs together with the plain fds, and asks a socket for its events
    only when they may have changed: its ZMQ_FD signalled (libzmq
    signals it when a command arrives, e.g. "a pipe has messages again"),
    it was ready at the last turn (the caller will use it), or the caller
    says it used it (sl_zpoll_touch: a send or receive may take in
    commands, and with them the ZMQ_FD's signal). Between those, a
    socket's events cannot change: that is libzmq's ZMQ_FD contract
    (zmq_getsockopt(3), ZMQ_FD).

    Only the sockets the caller tracks (sl_zpoll_track) are trusted so:
    the caller must touch each of them it sent on or read from outside
    the turn where it was ready (forgetting one can make the loop sleep on
    a message that has arrived). Any other socket in the items (an
    executor's, say) is asked before every poll, as zmq_poll would, and
    after it only if its ZMQ_FD signalled. Owns nothing but its table.
*/
#ifndef SL_ZPOLL_H_INCLUDED
#define SL_ZPOLL_H_INCLUDED

#include <stdbool.h>
#include <zmq.h>

#define SL_ZPOLL_MAX_SOCKETS 8

typedef struct {
    void *handle; //  the libzmq socket
    int fd;       //  its ZMQ_FD
    short events; //  its ZMQ_EVENTS when last asked
    bool stale;   //  ask again before trusting events
} sl_zpoll_socket_t;

typedef struct {
    sl_zpoll_socket_t sockets [SL_ZPOLL_MAX_SOCKETS]; //  the tracked sockets
    size_t nsockets;                                  //  how many
    struct pollfd *fds;         //  per item of the last call: what poll() watched
    sl_zpoll_socket_t *untracked; //  per item: an untracked socket's state this call
    size_t cap;                 //  room in fds and untracked
} sl_zpoll_t;

//  Frees what the table holds (not the sockets). self may be reused after.
void sl_zpoll_clear (sl_zpoll_t *self);

//  Trusts the socket handle (a libzmq socket, as in zmq_pollitem_t.socket)
//  to be touched after each use. At most SL_ZPOLL_MAX_SOCKETS. 0 or -1.
int sl_zpoll_track (sl_zpoll_t *self, void *handle);

//  The tracked socket handle was sent on or read from: its events are
//  asked again before the next sleep. Other handles are ignored.
void sl_zpoll_touch (sl_zpoll_t *self, void *handle);

//  As zmq_poll (items, count, timeout_ms): fills each item's revents and
//  returns how many are ready, 0 on timeout, -1 with errno (EINTR).
int sl_zpoll (sl_zpoll_t *self, zmq_pollitem_t *items, size_t count, long timeout_ms);

#endif
