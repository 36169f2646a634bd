/*  secure - CurveZMQ and the join token: who may talk to the broker.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

//  czmq's certificate store aborts on two files with the same public key
//  (zcertstore_insert asserts): find them first and say which. Returns 0,
//  or -1 with err naming both files.
static int s_curve_duplicates (const char *dir, char *err, size_t errlen)
{
    zdir_t *files = zdir_new (dir, "-");
    if (!files)
        return 0;
    zhashx_t *seen = zhashx_new (); //  public key -> file name (owned)
    zhashx_set_destructor (seen, broker_free_item);
    zhashx_set_duplicator (seen, (zhashx_duplicator_fn *) strdup);
    int rc = 0;
    zfile_t **list = zdir_flatten (files);
    for (size_t i = 0; list && list [i] && rc == 0; i++) {
        const char *path = zfile_filename (list [i], NULL);
        size_t len = strlen (path);
        if (len >= 7 && streq (path + len - 7, "_secret"))
            continue; //  the store reads public files only
        zcert_t *cert = zcert_load (path);
        if (!cert)
            continue;
        const char *other = (const char *) zhashx_lookup (seen, zcert_public_txt (cert));
        if (other) {
            snprintf (err, errlen,
                      "--curve-clients %s: %s and %s hold the same public key; remove one", dir,
                      other, path);
            rc = -1;
        } else
            zhashx_insert (seen, zcert_public_txt (cert), (void *) path);
        zcert_destroy (&cert);
    }
    zdir_flatten_free (&list);
    zhashx_destroy (&seen);
    zdir_destroy (&files);
    return rc;
}

//  The join token: the broker's key pair and the cluster client's from the
//  keys file, made the first time. A new file logs the line to copy.
static int s_token_setup (broker_t *self, char *err, size_t errlen)
{
    sl_keys_t keys;
    bool created;
    //  The file's identity before it is read: a rotation in between is
    //  seen as a change at the first check, never missed.
    if (stat (self->config.keys_file, &self->keys_stat) != 0)
        memset (&self->keys_stat, 0, sizeof self->keys_stat);
    if (sl_keys_open (self->config.keys_file, &keys, &created, err, errlen))
        return -1;
    byte public_key [32], secret_key [32];
    zmq_z85_decode (public_key, keys.broker_public);
    zmq_z85_decode (secret_key, keys.broker_secret);
    self->cert = zcert_new_from (public_key, secret_key);
    memset (secret_key, 0, sizeof secret_key);
    if (!self->cert) {
        snprintf (err, errlen, "cannot use the keys in %s", self->config.keys_file);
        return -1;
    }
    snprintf (self->token_key, sizeof self->token_key, "%s", keys.client_public);
    sl_keys_token (&keys, self->token);
    const char *token = self->token;
    if (created) {
        //  Clients are given the address they reach the broker by: a
        //  wildcard bind gets this host's name.
        char host [256];
        const char *bind = self->config.bind + 6;
        const char *colon = strrchr (bind, ':');
        snprintf (host, sizeof host, "%.*s", (int) (colon - bind), bind);
        if (streq (host, "*") || streq (host, "0.0.0.0") || streq (host, "[::]")) {
            char *name = zsys_hostname ();
            snprintf (host, sizeof host, "%s", name ? name : "HOST");
            zstr_free (&name);
        }
        sl_info ("made the join keys %s; on each client host run:", self->config.keys_file);
        sl_info ("sluice-worker --broker tcp://%s:%s --token %s", host, colon + 1, token);
        sl_info ("(the token is a secret: whoever holds it may act as any client)");
    } else
        sl_info ("join keys from %s; `sluice-ctl token` prints the join token",
                 self->config.keys_file);
    memset (&keys, 0, sizeof keys);
    return 0;
}

//  CurveZMQ: the broker's certificate (--curve-secret, or the join keys)
//  and the ZAP handler admitting clients: the join token's, those whose
//  public certificates are in --curve-clients (re-read when it changes),
//  or, with --curve-secret alone, any client.
int broker_curve_setup (broker_t *self, char *err, size_t errlen)
{
    if (self->config.keys_file
            ? s_token_setup (self, err, errlen) != 0
            : !(self->cert = sl_curve_load (self->config.curve_secret, true, err, errlen)))
        return -1;
    const char *dir = self->config.curve_clients;
    if (dir) {
        struct stat st;
        if (stat (dir, &st) != 0 || !S_ISDIR (st.st_mode)) {
            snprintf (err, errlen, "--curve-clients %s is not a directory", dir);
            return -1;
        }
        if (s_curve_duplicates (dir, err, errlen))
            return -1;
        self->admitted = zcertstore_new (dir);
    }
    admit_config_t admit = { self->token_key [0] ? self->token_key : NULL, dir };
    if (!(self->auth = admit_new (&admit, err, errlen)))
        return -1;
    sl_info ("CurveZMQ on every port, broker key %s; admitting %s%s%s",
             zcert_public_txt (self->cert), self->token_key [0] ? "the join token's clients" : "",
             self->token_key [0] && dir ? " and " : "",
             dir                   ? "the clients in "
             : self->token_key [0] ? ""
                                   : "any client");
    if (dir)
        sl_info ("(--curve-clients %s)", dir);
    return 0;
}

//  True if the client with this key may still talk to us: the join
//  token's (not rotated since), or still in --curve-clients (a revoked
//  client is cut off at once).
bool broker_admitted (broker_t *self, const char *key)
{
    return !key [0] || !self->auth || admit_allows (self->token_key, self->admitted, key);
}

//  With a join token, the HTTP endpoint bound beyond loopback wants it too.
void broker_metrics_guard (broker_t *self)
{
    if (self->metrics && self->token [0] && !sl_endpoint_loopback (self->config.metrics))
        http_require_bearer (self->metrics, self->token);
}

//  Join token: a keys file replaced since it was read (sluice-ctl token
//  --rotate) brings a new client key; clients with the old one are cut
//  off at their next message. Called at each housekeeping tick.
void broker_token_check (broker_t *self)
{
    struct stat st;
    if (!self->config.keys_file || stat (self->config.keys_file, &st) != 0)
        return;
    if (st.st_ino == self->keys_stat.st_ino && st.st_size == self->keys_stat.st_size &&
        st.st_mtim.tv_sec == self->keys_stat.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == self->keys_stat.st_mtim.tv_nsec)
        return;
    self->keys_stat = st;
    sl_keys_t keys;
    char err [512];
    if (sl_keys_load (self->config.keys_file, &keys, err, sizeof err))
        sl_error ("%s; keeping the join token in use", err);
    else if (!streq (keys.broker_public, zcert_public_txt (self->cert)))
        sl_error ("the broker key in %s changed: restart the broker to use it; until then the "
                  "clients need the old token",
                  self->config.keys_file);
    else if (!streq (keys.client_public, self->token_key)) {
        snprintf (self->token_key, sizeof self->token_key, "%s", keys.client_public);
        admit_set_token_key (self->auth, self->token_key);
        sl_keys_token (&keys, self->token);
        broker_metrics_guard (self);
        sl_warn ("the join token was rotated (%s changed): clients holding the old one are cut "
                 "off at their next message",
                 self->config.keys_file);
    }
    memset (&keys, 0, sizeof keys);
}

//  --insecure: bound beyond loopback with no CurveZMQ. Said at the start
//  and every hour, so that it is never forgotten in a log.
void broker_insecure_warning (broker_t *self, int64_t now)
{
    if (!self->config.insecure || now < self->next_insecure_warning)
        return;
    sl_warn ("INSECURE: listening on %s without CurveZMQ (--insecure): anyone who can reach it "
             "may take tasks, read results and forge them",
             self->config.bind);
    self->next_insecure_warning = now + INSECURE_WARNING_MS;
}
