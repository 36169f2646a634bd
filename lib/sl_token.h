/*  sl_token - the join token: one string that lets a client into a sluice
    cluster, encoded and decoded. Pure: no sockets, no files, no clock.

    A token carries the broker's CurveZMQ public key and the cluster
    client's secret key (the client derives its public key from it), so
    it is a secret: whoever holds it may act as any client.

        SLUICE1-<91 characters of base64url>

    The 91 characters encode 68 bytes: the broker's public key (32), the
    client's secret key (32) and a CRC-32 of those 64 (4, big-endian), so
    a token cut short or mistyped is told apart from a token of another
    cluster. base64url (A-Z a-z 0-9 - _, no padding) needs no quoting in a
    shell, a config file or an environment variable.

    Changing the format: a new prefix (SLUICE2-) and a decoder that still
    reads SLUICE1- tokens; the prefix names the format, nothing else does.
*/
#ifndef SL_TOKEN_H_INCLUDED
#define SL_TOKEN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SL_TOKEN_KEY_BYTES 32
#define SL_TOKEN_PREFIX "SLUICE1-"
#define SL_TOKEN_CHARS 91                                          //  after the prefix
#define SL_TOKEN_LEN (sizeof SL_TOKEN_PREFIX - 1 + SL_TOKEN_CHARS) //  99
#define SL_TOKEN_SIZE (SL_TOKEN_LEN + 1)                           //  with the NUL

//  The keys a token carries (raw bytes, not Z85).
typedef struct {
    uint8_t server_public [SL_TOKEN_KEY_BYTES]; //  the broker's public key
    uint8_t client_secret [SL_TOKEN_KEY_BYTES]; //  the cluster client's secret key
} sl_token_keys_t;

//  Writes the token of keys into out (SL_TOKEN_SIZE bytes, NUL-terminated).
void sl_token_encode (const sl_token_keys_t *keys, char out [SL_TOKEN_SIZE]);

//  Reads a token. Blanks around it (a token pasted with its newline) are
//  allowed; anything else wrong is an error. Returns 0 with *keys set, or
//  -1 with what is wrong in err (e.g. "not a sluice join token: it does
//  not start with SLUICE1-"); the caller prefixes the option's name.
//  text may be any bytes up to its NUL: it comes from the command line,
//  the environment or a file.
int sl_token_decode (const char *text, sl_token_keys_t *keys, char *err, size_t errlen);

#endif
