/*  journal_url - the --journal option: a directory, or a list of NATS
    servers.

    Pure: no sockets. `--journal nats://h1:4222,nats://h2:4222` (tls://
    for TLS) names the NATS servers of a JetStream cluster, any of which
    the broker may connect to; anything else is a directory for the file
    journal.
*/
#ifndef JOURNAL_URL_H_INCLUDED
#define JOURNAL_URL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Most servers in a list.
#define SL_JOURNAL_MAX_URLS 16
#define SL_JOURNAL_MAX_URLS_TEXT "16"

//  True if spec names NATS servers (starts with nats:// or tls://).
bool sl_journal_url_is_nats (const char *spec);

//  Splits a comma-separated list of NATS URLs into urls [0..*n), each
//  scheme://HOST:PORT (scheme nats or tls; HOST a name, an IPv4 address,
//  or an IPv6 address in brackets; PORT 1..65535), optionally with
//  user:password@ before HOST. Empty items, spaces, paths and more than
//  SL_JOURNAL_MAX_URLS items are errors. On success urls [i] are
//  allocated strings the caller frees with sl_journal_urls_free. Returns
//  0, or -1 with a message naming the bad item in err (and nothing to
//  free).
int sl_journal_urls_parse (const char *spec, char **urls, size_t *n, char *err, size_t errlen);

//  True if name is a valid JetStream stream name for the journal: 1 to 64
//  letters, digits, - and _.
bool sl_journal_stream_valid (const char *name);

//  Frees urls [0..n) and zeroes them.
void sl_journal_urls_free (char **urls, size_t n);

#endif
