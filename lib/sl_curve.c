/*  sl_curve - CurveZMQ certificates and sockets, see sl_curve.h.  */
#include "sl_curve.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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

void sl_curve_client_clear (sl_curve_client_t *curve)
{
    zcert_destroy (&curve->cert);
    curve->server_public [0] = '\0';
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
