/*  sl_keys - the join keys file: the broker's CurveZMQ key pair and the
    cluster client's, from which the join token is made (sl_token.h).

    A broker bound beyond loopback creates the file the first time it needs
    it, in its data directory (SL_KEYS_FILE) or where --token-file says;
    `sluice-ctl token` prints the token from it and `--rotate` replaces the
    client pair in it, which the broker notices. The file holds secrets: it
    is created mode 0600, and a file that others may read or write is
    refused. Brokers that share a stream share one file.

    The format is text, one `name = value` a line (`#` starts a comment
    line), the two secret keys in Z85; the public keys follow from them:

        broker-secret = <40 characters of Z85>
        client-secret = <40 characters of Z85>

    Writes are atomic (a temporary file, fsync, rename, fsync of the
    directory): a reader sees the old file or the new one, never half.
*/
#ifndef SL_KEYS_H_INCLUDED
#define SL_KEYS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "sl_token.h"

#define SL_KEYS_FILE "cluster.keys"

//  The four keys in Z85 (40 characters and a NUL).
typedef struct {
    char broker_public [41]; //  the broker's public key: clients check the broker with it
    char broker_secret [41]; //  the broker's secret key
    char client_public [41]; //  the cluster client's public key: the broker admits it
    char client_secret [41]; //  the cluster client's secret key: in the token
} sl_keys_t;

//  Reads the file at path. Returns 0, or -1 with a message naming the file
//  in err (missing, unreadable, open to others, malformed).
int sl_keys_load (const char *path, sl_keys_t *keys, char *err, size_t errlen);

//  Reads the file at path, or, if there is none, makes fresh keys and
//  writes it (mode 0600; its directory is made mode 0700 if missing).
//  *created tells which. Returns 0, or -1 with err.
int sl_keys_open (const char *path, sl_keys_t *keys, bool *created, char *err, size_t errlen);

//  Replaces the client pair in the file at path with a fresh one (the
//  broker pair stays), atomically. keys gets the new content. Returns 0,
//  or -1 with err (the file is then unchanged).
int sl_keys_rotate (const char *path, sl_keys_t *keys, char *err, size_t errlen);

//  The join token of keys (SL_TOKEN_SIZE bytes into out).
void sl_keys_token (const sl_keys_t *keys, char out [SL_TOKEN_SIZE]);

//  The keys a token carries, in Z85: the broker's public key and the
//  client's pair (its public key derived from the secret one).
void sl_keys_from_token (const sl_token_keys_t *token, char server_public [41],
                         char client_public [41], char client_secret [41]);

//  The broker's default data directory for its address (one per port:
//  /var/lib/sluice/broker-PORT as root, else
//  ~/.local/state/sluice/broker-PORT). With create, its parents are made.
//  Returns 0, or -1 if there is no home directory.
int sl_keys_default_dir (const char *endpoint, bool create, char *dir, size_t len);

#endif
