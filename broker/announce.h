/*  announce - the brokers of one shared NATS stream telling each other who
    they are: a core NATS subject ("sluice-brokers.STREAM"), one message
    per announcement (standbys.h has the format). A thin I/O shell: it
    sends and receives bytes; what they mean is standbys.h's.

    Core NATS only: nothing is stored, the journal stream (subject
    "sluice-journal.STREAM") neither grows nor sees these messages, and an
    announcement lost while a server is down is just one heartbeat missed.
    The connection is the announcer's own (not the journal's), with the
    journal's servers, credentials and TLS: a journal publish never waits
    behind an announcement, nor one behind the journal's window.

    Built with libnats only; without it, announce_none.c makes
    sl_announce_new fail (a broker without NATS has no standbys).
*/
#ifndef ANNOUNCE_H_INCLUDED
#define ANNOUNCE_H_INCLUDED

#include <stddef.h>

#include "journal_nats.h"

#define SL_ANNOUNCE_PREFIX "sluice-brokers." //  then the stream's name

typedef struct _sl_announce_t sl_announce_t;

//  Connects to config's servers and subscribes to the stream's brokers
//  subject. Returns NULL with err. Caller owns the result.
sl_announce_t *sl_announce_new (const sl_nats_config_t *config, char *err, size_t errlen);

//  Closes the connection. NULL-safe, nulls *self_p.
void sl_announce_destroy (sl_announce_t **self_p);

//  Publishes data (size bytes) on the subject, without waiting. 0 or -1.
int sl_announce_send (sl_announce_t *self, const char *data, size_t size);

//  The next message received, if one waits (never blocks): copies at most
//  len - 1 bytes into buf, terminated. Returns its size (longer ones are
//  cut), or -1 if none waits.
int sl_announce_recv (sl_announce_t *self, char *buf, size_t len);

#endif
