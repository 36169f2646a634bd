/*  sl_curve - CurveZMQ for sluice: certificates in czmq's zcert format
    (NAME holds the public key, NAME_secret both), loaded with clear
    errors, and applied to sockets as server (the broker) or client.
*/
#ifndef SL_CURVE_H_INCLUDED
#define SL_CURVE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

//  A client's CurveZMQ settings; NULL pointers = not given.
typedef struct {
    zcert_t *cert;           //  the client's own pair (owned)
    char server_public [41]; //  the broker's public key (Z85), "" = plain
    char token_origin [32];  //  where the join token came from ("--token"), "" = none
} sl_curve_client_t;

//  Where a client's join token comes from when --token is not given.
#define SL_TOKEN_ENV "SLUICE_TOKEN"

//  Loads a certificate. With need_secret the file must hold the secret key
//  (PATH_secret is tried first, as zcert_load does). Returns NULL with a
//  message naming the file in err. Caller owns the result.
zcert_t *sl_curve_load (const char *path, bool need_secret, char *err, size_t errlen);

//  Fills curve from the --curve-secret and --curve-server options (either
//  may be NULL). A client given only the server key gets a fresh key pair
//  of its own (enough for a broker that admits any key). Returns 0, or -1
//  with err. Free with sl_curve_client_clear.
int sl_curve_client_init (sl_curve_client_t *curve, const char *secret_path,
                          const char *server_path, char *err, size_t errlen);
void sl_curve_client_clear (sl_curve_client_t *curve);

//  Fills curve from a client's options: the join token (token, i.e.
//  --token or `token =` in the config file; else $SLUICE_TOKEN unless key
//  files are given), or the --curve-secret and --curve-server files, or
//  none of them (plain). A malformed token is an error naming where it
//  came from. Returns 0, or -1 with err. Free with sl_curve_client_clear.
int sl_curve_client_setup (sl_curve_client_t *curve, const char *token, const char *secret_path,
                           const char *server_path, char *err, size_t errlen);

//  True if the client uses CurveZMQ.
bool sl_curve_client_on (const sl_curve_client_t *curve);

//  Makes sock a CURVE client (before connect).
void sl_curve_client_apply (const sl_curve_client_t *curve, zsock_t *sock);

//  Makes sock a CURVE server with cert (before bind).
void sl_curve_server_apply (zcert_t *cert, zsock_t *sock);

#endif
