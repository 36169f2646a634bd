/*  journal_nats - the NATS JetStream backend of the journal (journal.h).

    The records go to one JetStream stream (file storage, replicated on
    `replicas` servers), subject "sluice-journal.STREAM", packed into
    messages as journal_frame.h describes. The broker connects to any of
    the servers it is given and follows the cluster as servers come and go.

    Durable: commit publishes the buffered records without waiting, up to
    32 messages in flight (journal_window.h), and sl_journal_poll advances
    sl_journal_durable as JetStream's acknowledgements come back (each sent
    once its message is stored on a majority of the stream's replicas), in
    stream order. A publish that fails or gets no answer (a server lost, a
    leader being elected) stops the journal at the message before it; once
    every message in flight has its answer, the next commit sends the
    first one again, without waiting, with the same message id, which
    JetStream's duplicate window (2 minutes) recognises if it was stored
    after all; once that one is stored the rest follows.

    Fencing: every message is published with the stream's expected last
    sequence (Nats-Expected-Last-Sequence): the sequence of the last
    message this broker read (replay) or wrote, and, when the message
    before it is still in flight, that message's id as the stream's last
    (Nats-Expected-Last-Msg-Id). If another broker wrote to
    the stream since, JetStream refuses the message; the journal is then
    fenced (sl_journal_fenced) and writes nothing more, and the broker
    stops. Since a broker confirms nothing before its records are
    acknowledged, a deposed broker confirms nothing after another broker
    wrote. On an empty stream, where no sequence can be expected (0 means
    "none" to JetStream), replay first publishes an empty message without
    expectation and reads the stream up to it.

    Replay reads the stream from its first message with an ordered
    consumer up to the last sequence at the time (after that empty message,
    if any). The stream has no segments; the broker's segment ids count its
    rotations, each of which waits until everything is acknowledged, so
    that the checkpoint written next starts a message, and deleting the
    segments before one purges the stream up to that message.

    Built only with libnats (pkg-config libnats); without it,
    journal_nats_none.c provides sl_journal_new_nats, which says so.
*/
#ifndef JOURNAL_NATS_H_INCLUDED
#define JOURNAL_NATS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

#define SL_NATS_DEFAULT_STREAM "sluice"
#define SL_NATS_DEFAULT_REPLICAS 3
#define SL_NATS_DEFAULT_TIMEOUT_MS 3000

typedef struct {
    const char *servers; //  nats://HOST:PORT,... (journal_url.h)
    const char *stream;  //  the stream's name (letters, digits, - and _)
    int replicas;        //  replicas, if the stream is created (1..5)
    const char *creds;   //  NATS credentials file (user JWT and NKey seed), or NULL
    const char *tls_ca;  //  CA certificates to check the servers' TLS with, or NULL
    int64_t timeout_ms;  //  how long a publish or a read waits for the servers
} sl_nats_config_t;

//  True if this broker was built with NATS support.
bool sl_nats_available (void);

//  Connects to the servers and opens (or creates) the stream. Returns NULL
//  with a message in err (no server reachable, JetStream off, the stream
//  cannot be made, or no NATS support in this build). Caller owns the
//  result.
sl_journal_t *sl_journal_new_nats (const sl_nats_config_t *config, char *err, size_t errlen);

#endif
