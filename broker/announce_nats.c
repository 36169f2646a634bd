/*  announce_nats - the brokers' announcements on core NATS, see announce.h.
    A synchronous subscription read without waiting (its pending count
    first), so no libnats thread calls into the broker.
*/
#include "announce.h"

#include <assert.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_url.h"

struct _sl_announce_t {
    natsConnection *conn;  //  the announcer's own connection
    natsSubscription *sub; //  to the subject, read by sl_announce_recv
    char subject [128];    //  "sluice-brokers.STREAM"
};

static const char *s_error (natsStatus s)
{
    const char *last = nats_GetLastError (NULL);
    return last && *last ? last : natsStatus_GetText (s);
}

//  Connects as the journal does (servers, credentials, TLS). 0 or -1.
static int s_connect (sl_announce_t *self, const sl_nats_config_t *config, char **urls,
                      size_t nurls, char *err, size_t errlen)
{
    natsOptions *opts = NULL;
    natsStatus s;
    int64_t timeout = config->timeout_ms > 0 ? config->timeout_ms : SL_NATS_DEFAULT_TIMEOUT_MS;
    if ((s = natsOptions_Create (&opts)) != NATS_OK ||
        (s = natsOptions_SetServers (opts, (const char **) urls, (int) nurls)) != NATS_OK ||
        (s = natsOptions_SetName (opts, "sluice-broker announcements")) != NATS_OK ||
        (s = natsOptions_SetTimeout (opts, timeout)) != NATS_OK ||
        (s = natsOptions_SetMaxReconnect (opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait (opts, 250)) != NATS_OK ||
        (config->creds &&
         (s = natsOptions_SetUserCredentialsFromFiles (opts, config->creds, NULL)) != NATS_OK) ||
        (config->tls_ca &&
         ((s = natsOptions_SetSecure (opts, true)) != NATS_OK ||
          (s = natsOptions_LoadCATrustedCertificates (opts, config->tls_ca)) != NATS_OK)) ||
        (s = natsConnection_Connect (&self->conn, opts)) != NATS_OK ||
        (s = natsConnection_SubscribeSync (&self->sub, self->conn, self->subject)) != NATS_OK) {
        snprintf (err, errlen, "cannot announce this broker on %s (NATS %s): %s", self->subject,
                  config->servers, s_error (s));
        natsOptions_Destroy (opts);
        return -1;
    }
    natsOptions_Destroy (opts);
    return 0;
}

sl_announce_t *sl_announce_new (const sl_nats_config_t *config, char *err, size_t errlen)
{
    assert (config && config->servers && config->stream);
    sl_announce_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (self->subject, sizeof self->subject, SL_ANNOUNCE_PREFIX "%s", config->stream);
    char *urls [SL_JOURNAL_MAX_URLS];
    size_t nurls = 0;
    int rc = sl_journal_urls_parse (config->servers, urls, &nurls, err, errlen);
    if (rc == 0) {
        rc = s_connect (self, config, urls, nurls, err, errlen);
        sl_journal_urls_free (urls, nurls);
    }
    if (rc)
        sl_announce_destroy (&self);
    return self;
}

void sl_announce_destroy (sl_announce_t **self_p)
{
    assert (self_p);
    sl_announce_t *self = *self_p;
    if (!self)
        return;
    natsSubscription_Destroy (self->sub);
    natsConnection_Destroy (self->conn);
    free (self);
    *self_p = NULL;
}

int sl_announce_send (sl_announce_t *self, const char *data, size_t size)
{
    assert (self);
    return natsConnection_Publish (self->conn, self->subject, data, (int) size) == NATS_OK ? 0 : -1;
}

int sl_announce_recv (sl_announce_t *self, char *buf, size_t len)
{
    assert (self && buf && len > 0);
    int msgs = 0, bytes = 0;
    natsMsg *msg = NULL;
    if (natsSubscription_GetPending (self->sub, &msgs, &bytes) != NATS_OK || msgs <= 0 ||
        natsSubscription_NextMsg (&msg, self->sub, 1) != NATS_OK)
        return -1;
    int size = natsMsg_GetDataLength (msg);
    size_t n = (size_t) size < len - 1 ? (size_t) size : len - 1;
    memcpy (buf, natsMsg_GetData (msg), n);
    buf [n] = '\0';
    natsMsg_Destroy (msg);
    return (int) n;
}
