/*  sl_zpoll - zmq_poll at one poll() a turn, see sl_zpoll.h.

    Each call: the sockets whose events are stale are asked (ZMQ_EVENTS;
    untracked ones always are); if one is ready already the poll does not
    sleep; then one poll() over the sockets' ZMQ_FDs and the plain fds; a
    socket whose ZMQ_FD signalled is asked again. A tracked socket found
    ready is stale at the next call, as the caller will use it.
*/
#include "sl_zpoll.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

void sl_zpoll_clear (sl_zpoll_t *self)
{
    assert (self);
    free (self->fds);
    free (self->untracked);
    memset (self, 0, sizeof *self);
}

static sl_zpoll_socket_t *s_find (sl_zpoll_t *self, void *handle)
{
    for (size_t i = 0; i < self->nsockets; i++)
        if (self->sockets [i].handle == handle)
            return &self->sockets [i];
    return NULL;
}

//  Fills in sock for handle (its ZMQ_FD), stale. 0 or -1.
static int s_init (sl_zpoll_socket_t *sock, void *handle)
{
    size_t size = sizeof sock->fd;
    sock->handle = handle;
    sock->stale = true;
    sock->events = 0;
    return zmq_getsockopt (handle, ZMQ_FD, &sock->fd, &size);
}

int sl_zpoll_track (sl_zpoll_t *self, void *handle)
{
    assert (self);
    if (s_find (self, handle))
        return 0;
    if (self->nsockets == SL_ZPOLL_MAX_SOCKETS) {
        errno = EMFILE;
        return -1;
    }
    if (s_init (&self->sockets [self->nsockets], handle))
        return -1;
    self->nsockets++;
    return 0;
}

void sl_zpoll_touch (sl_zpoll_t *self, void *handle)
{
    assert (self);
    sl_zpoll_socket_t *sock = s_find (self, handle);
    if (sock)
        sock->stale = true;
}

//  Asks a socket for its events. 0 or -1.
static int s_ask (sl_zpoll_socket_t *sock)
{
    int events;
    size_t size = sizeof events;
    if (zmq_getsockopt (sock->handle, ZMQ_EVENTS, &events, &size))
        return -1;
    sock->events = (short) events;
    sock->stale = false;
    return 0;
}

//  A plain fd's poll() result as zmq_poll reports it.
static short s_fd_revents (short revents)
{
    short out = 0;
    if (revents & POLLIN)
        out |= ZMQ_POLLIN;
    if (revents & POLLOUT)
        out |= ZMQ_POLLOUT;
    if (revents & POLLPRI)
        out |= ZMQ_POLLPRI;
    if (revents & ~(POLLIN | POLLOUT | POLLPRI))
        out |= ZMQ_POLLERR;
    return out;
}

//  The state of item i's socket: tracked, or this call's own.
static sl_zpoll_socket_t *s_state (sl_zpoll_t *self, zmq_pollitem_t *items, size_t i)
{
    sl_zpoll_socket_t *sock = s_find (self, items [i].socket);
    return sock ? sock : &self->untracked [i];
}

//  Fills self->fds for items; *ready counts the sockets ready now.
static int s_prepare (sl_zpoll_t *self, zmq_pollitem_t *items, size_t count, int *ready)
{
    if (count > self->cap) {
        struct pollfd *fds = realloc (self->fds, count * sizeof *fds);
        if (fds)
            self->fds = fds;
        sl_zpoll_socket_t *untracked =
            fds ? realloc (self->untracked, count * sizeof *untracked) : NULL;
        if (!untracked)
            return -1;
        self->untracked = untracked;
        self->cap = count;
    }
    *ready = 0;
    for (size_t i = 0; i < count; i++) {
        items [i].revents = 0;
        if (!items [i].socket) {
            short want = (short) ((items [i].events & ZMQ_POLLIN ? POLLIN : 0) |
                                  (items [i].events & ZMQ_POLLOUT ? POLLOUT : 0) |
                                  (items [i].events & ZMQ_POLLPRI ? POLLPRI : 0));
            self->fds [i] = (struct pollfd){ items [i].fd, want, 0 };
            continue;
        }
        sl_zpoll_socket_t *sock = s_find (self, items [i].socket);
        if (!sock && s_init (sock = &self->untracked [i], items [i].socket))
            return -1;
        if (sock->stale && s_ask (sock))
            return -1;
        if (sock->events & items [i].events)
            (*ready)++;
        self->fds [i] = (struct pollfd){ sock->fd, POLLIN, 0 };
    }
    return 0;
}

int sl_zpoll (sl_zpoll_t *self, zmq_pollitem_t *items, size_t count, long timeout_ms)
{
    assert (self);
    int ready;
    if (s_prepare (self, items, count, &ready))
        return -1;
    int timeout = ready ? 0 : timeout_ms > 0x7fffffff ? -1 : (int) timeout_ms;
    if (poll (self->fds, (nfds_t) count, timeout) < 0)
        return -1;
    int n = 0;
    for (size_t i = 0; i < count; i++) {
        if (!items [i].socket)
            items [i].revents = (short) (s_fd_revents (self->fds [i].revents) &
                                         (items [i].events | ZMQ_POLLERR));
        else {
            sl_zpoll_socket_t *sock = s_state (self, items, i);
            if ((self->fds [i].revents & POLLIN) && s_ask (sock))
                return -1;
            items [i].revents = (short) (sock->events & items [i].events);
            if (items [i].revents)
                sock->stale = true; //  the caller will use it
        }
        if (items [i].revents)
            n++;
    }
    return n;
}
