/*  sl_keys - the join keys file, see sl_keys.h.  */
#include "sl_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_FILE_BYTES 4096 //  the file is about 200 bytes

//  Z85 text of a key is valid: 40 characters that decode to 32 bytes.
static bool s_z85_valid (const char *text)
{
    uint8_t raw [32];
    return strlen (text) == 40 && zmq_z85_decode (raw, text) != NULL;
}

//  Fills the public halves from the secret ones.
static int s_derive (sl_keys_t *keys)
{
    return zmq_curve_public (keys->broker_public, keys->broker_secret) == 0 &&
                   zmq_curve_public (keys->client_public, keys->client_secret) == 0
               ? 0
               : -1;
}

//  Reads one `name = value` line into keys.
static int s_line (const char *path, int lineno, char *line, sl_keys_t *keys, char *err,
                   size_t errlen)
{
    char *eq = strchr (line, '=');
    if (!eq) {
        snprintf (err, errlen, "%s:%d: not a 'name = value' line", path, lineno);
        return -1;
    }
    char *name = line, *value = eq + 1;
    for (char *end = eq; end > name && end [-1] == ' ';)
        *--end = '\0';
    *eq = '\0';
    while (*name == ' ')
        name++;
    while (*value == ' ')
        value++;
    size_t len = strlen (value);
    while (len > 0 && (value [len - 1] == ' ' || value [len - 1] == '\r'))
        value [--len] = '\0';
    char *target = strcmp (name, "broker-secret") == 0   ? keys->broker_secret
                   : strcmp (name, "client-secret") == 0 ? keys->client_secret
                                                         : NULL;
    if (!target) {
        snprintf (err, errlen, "%s:%d: unknown name '%.40s' (broker-secret, client-secret)", path,
                  lineno, name);
        return -1;
    }
    if (!s_z85_valid (value)) {
        snprintf (err, errlen, "%s:%d: %s is not a CurveZMQ key (40 characters of Z85)", path,
                  lineno, name);
        return -1;
    }
    memcpy (target, value, 41);
    return 0;
}

int sl_keys_load (const char *path, sl_keys_t *keys, char *err, size_t errlen)
{
    memset (keys, 0, sizeof *keys);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, errlen, "cannot read the join keys %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        snprintf (err, errlen, "the join keys %s: not a regular file", path);
        close (fd);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf (err, errlen,
                  "the join keys %s have mode %04o: they are secret, only their owner may read "
                  "them (chmod 600 %s)",
                  path, (unsigned) (st.st_mode & 07777), path);
        close (fd);
        return -1;
    }
    char text [MAX_FILE_BYTES + 1];
    ssize_t size = read (fd, text, sizeof text);
    close (fd);
    if (size < 0 || size > MAX_FILE_BYTES) {
        snprintf (err, errlen, "cannot read the join keys %s: %s", path,
                  size < 0 ? strerror (errno) : "larger than 4 KiB: not a keys file");
        return -1;
    }
    text [size] = '\0';
    if (memchr (text, '\0', (size_t) size)) {
        snprintf (err, errlen, "the join keys %s: a NUL byte: not a keys file", path);
        return -1;
    }
    int lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        lineno++;
        next = strchr (line, '\n');
        if (next)
            *next++ = '\0';
        char *start = line;
        while (*start == ' ' || *start == '\t' || *start == '\r')
            start++;
        if (*start == '\0' || *start == '#')
            continue;
        if (s_line (path, lineno, start, keys, err, errlen))
            return -1;
    }
    if (!keys->broker_secret [0] || !keys->client_secret [0]) {
        snprintf (err, errlen, "the join keys %s: no %s line", path,
                  keys->broker_secret [0] ? "client-secret" : "broker-secret");
        return -1;
    }
    if (s_derive (keys)) {
        snprintf (err, errlen, "the join keys %s: cannot derive the public keys", path);
        return -1;
    }
    return 0;
}

//  Writes keys to path atomically: a temporary file beside it (0600),
//  fsync, rename over path, fsync of the directory. With exclusive, an
//  existing path is left alone (-1, EEXIST in *errno_p).
static int s_write (const char *path, const sl_keys_t *keys, bool exclusive, char *err,
                    size_t errlen)
{
    char tmp [PATH_MAX];
    if (snprintf (tmp, sizeof tmp, "%s.tmp%d", path, (int) getpid ()) >= (int) sizeof tmp) {
        snprintf (err, errlen, "the join keys %s: path too long", path);
        return -1;
    }
    char text [512];
    int len = snprintf (text, sizeof text,
                        "# sluice join keys: SECRET. The broker's CurveZMQ key pair and the\n"
                        "# cluster client's; `sluice-ctl token` prints the join token made of\n"
                        "# them, `sluice-ctl token --rotate` replaces the client pair.\n"
                        "broker-secret = %s\nclient-secret = %s\n",
                        keys->broker_secret, keys->client_secret);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, errlen, "cannot write the join keys %s: %s", tmp, strerror (errno));
        return -1;
    }
    bool ok = write (fd, text, (size_t) len) == len && fsync (fd) == 0;
    int saved = errno;
    close (fd);
    if (ok && exclusive) {
        //  link() fails if path exists: a broker starting beside another
        //  one never replaces the keys that one made.
        ok = link (tmp, path) == 0;
        saved = errno;
        unlink (tmp);
    } else if (ok) {
        ok = rename (tmp, path) == 0;
        saved = errno;
    }
    if (!ok) {
        unlink (tmp);
        snprintf (err, errlen, "cannot write the join keys %s: %s", path, strerror (saved));
        errno = saved;
        return -1;
    }
    char dir [PATH_MAX];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        strcpy (dir, ".");
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync (dfd);
        close (dfd);
    }
    return 0;
}

static int s_new_pair (char public_key [41], char secret_key [41])
{
    return zmq_curve_keypair (public_key, secret_key);
}

int sl_keys_open (const char *path, sl_keys_t *keys, bool *created, char *err, size_t errlen)
{
    *created = false;
    struct stat st;
    if (lstat (path, &st) == 0 || errno != ENOENT)
        return sl_keys_load (path, keys, err, errlen);
    char dir [PATH_MAX];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
            snprintf (err, errlen, "cannot make the directory %s for the join keys: %s", dir,
                      strerror (errno));
            return -1;
        }
    }
    memset (keys, 0, sizeof *keys);
    if (s_new_pair (keys->broker_public, keys->broker_secret) ||
        s_new_pair (keys->client_public, keys->client_secret)) {
        snprintf (err, errlen, "cannot make CurveZMQ keys: %s", zmq_strerror (errno));
        return -1;
    }
    if (s_write (path, keys, true, err, errlen)) {
        if (errno == EEXIST) //  made by another process meanwhile: use those
            return sl_keys_load (path, keys, err, errlen);
        return -1;
    }
    *created = true;
    return 0;
}

int sl_keys_rotate (const char *path, sl_keys_t *keys, char *err, size_t errlen)
{
    if (sl_keys_load (path, keys, err, errlen))
        return -1;
    sl_keys_t fresh = *keys;
    if (s_new_pair (fresh.client_public, fresh.client_secret)) {
        snprintf (err, errlen, "cannot make CurveZMQ keys: %s", zmq_strerror (errno));
        return -1;
    }
    if (s_write (path, &fresh, false, err, errlen))
        return -1;
    *keys = fresh;
    return 0;
}

void sl_keys_token (const sl_keys_t *keys, char out [SL_TOKEN_SIZE])
{
    sl_token_keys_t raw;
    zmq_z85_decode (raw.server_public, keys->broker_public);
    zmq_z85_decode (raw.client_secret, keys->client_secret);
    sl_token_encode (&raw, out);
}

void sl_keys_from_token (const sl_token_keys_t *token, char server_public [41],
                         char client_public [41], char client_secret [41])
{
    zmq_z85_encode (server_public, token->server_public, SL_TOKEN_KEY_BYTES);
    zmq_z85_encode (client_secret, token->client_secret, SL_TOKEN_KEY_BYTES);
    zmq_curve_public (client_public, client_secret);
}

int sl_keys_default_dir (const char *endpoint, bool create, char *dir, size_t len)
{
    const char *port = strrchr (endpoint, ':');
    port = port ? port + 1 : "5560";
    if (geteuid () == 0) {
        if (create)
            mkdir ("/var/lib/sluice", 0755);
        snprintf (dir, len, "/var/lib/sluice/broker-%s", port);
        return 0;
    }
    const char *home = getenv ("HOME");
    if (!home || !*home)
        return -1;
    if (create) {
        //  The parents are made here; the journal makes the last one itself.
        snprintf (dir, len, "%s/.local", home);
        mkdir (dir, 0755);
        snprintf (dir, len, "%s/.local/state", home);
        mkdir (dir, 0755);
        snprintf (dir, len, "%s/.local/state/sluice", home);
        mkdir (dir, 0700);
    }
    snprintf (dir, len, "%s/.local/state/sluice/broker-%s", home, port);
    return 0;
}
