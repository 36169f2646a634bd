/*  sl_curve - CurveZMQ certificates and sockets, see sl_curve.h.  */
#include "sl_curve.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "sl_keys.h"
#include "sl_token.h"

zcert_t *sl_curve_load (const char *path, bool need_secret, char *err, size_t errlen)
{
    char secret [PATH_MAX];
    snprintf (secret, sizeof secret, "%s_secret", path);
    struct stat st;
    if (stat (path, &st) != 0 && stat (secret, &st) != 0) {
        snprintf (err, errlen, "cannot read certificate %s: %s (make one with sluice-keygen)", path,
                  strerror (errno));
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (err, errlen, "%s is not a CurveZMQ certificate (czmq zcert format)", path);
        return NULL;
    }
    static const char no_secret [] = "0000000000000000000000000000000000000000";
    if (need_secret && streq (zcert_secret_txt (cert), no_secret)) {
        snprintf (err, errlen,
                  "%s holds no secret key: give the secret file (%s_secret, made by "
                  "sluice-keygen)",
                  path, path);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

int sl_curve_client_init (sl_curve_client_t *curve, const char *secret_path,
                          const char *server_path, char *err, size_t errlen)
{
    memset (curve, 0, sizeof *curve);
    if (!secret_path && !server_path)
        return 0;
    if (!server_path) {
        snprintf (err, errlen,
                  "--curve-secret needs --curve-server (the broker's public "
                  "certificate)");
        return -1;
    }
    zcert_t *server = sl_curve_load (server_path, false, err, errlen);
    if (!server)
        return -1;
    snprintf (curve->server_public, sizeof curve->server_public, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    curve->cert = secret_path ? sl_curve_load (secret_path, true, err, errlen) : zcert_new ();
    return curve->cert ? 0 : -1;
}

int sl_curve_client_setup (sl_curve_client_t *curve, const char *token, const char *secret_path,
                           const char *server_path, char *err, size_t errlen)
{
    memset (curve, 0, sizeof *curve);
    const char *origin = "--token";
    if (token && (secret_path || server_path)) {
        snprintf (err, errlen, "give --token or --curve-server/--curve-secret, not both");
        return -1;
    }
    if (!token && !secret_path && !server_path) {
        token = getenv (SL_TOKEN_ENV);
        origin = "$" SL_TOKEN_ENV;
        if (token && !*token)
            token = NULL;
    }
    if (!token)
        return sl_curve_client_init (curve, secret_path, server_path, err, errlen);
    sl_token_keys_t keys;
    char why [256];
    if (sl_token_decode (token, &keys, why, sizeof why)) {
        snprintf (err, errlen, "%s: %s", origin, why);
        return -1;
    }
    char client_public [41], client_secret [41];
    sl_keys_from_token (&keys, curve->server_public, client_public, client_secret);
    byte public_key [32], secret_key [32];
    zmq_z85_decode (public_key, client_public);
    zmq_z85_decode (secret_key, client_secret);
    curve->cert = zcert_new_from (public_key, secret_key);
    memset (&keys, 0, sizeof keys);
    memset (secret_key, 0, sizeof secret_key);
    memset (client_secret, 0, sizeof client_secret);
    if (!curve->cert) {
        snprintf (err, errlen, "%s: cannot make a CurveZMQ certificate of it", origin);
        curve->server_public [0] = '\0';
        return -1;
    }
    snprintf (curve->token_origin, sizeof curve->token_origin, "%s", origin);
    return 0;
}

void sl_curve_client_clear (sl_curve_client_t *curve)
{
    zcert_destroy (&curve->cert);
    curve->server_public [0] = '\0';
    curve->token_origin [0] = '\0';
}

bool sl_curve_client_on (const sl_curve_client_t *curve)
{
    return curve && curve->server_public [0];
}

void sl_curve_client_apply (const sl_curve_client_t *curve, zsock_t *sock)
{
    if (!sl_curve_client_on (curve))
        return;
    zcert_apply (curve->cert, sock);
    zsock_set_curve_serverkey (sock, curve->server_public);
}

void sl_curve_server_apply (zcert_t *cert, zsock_t *sock)
{
    zcert_apply (cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "sluice");
}
