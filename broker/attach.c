/*  attach - the broker's attachment store, see attach.h.

    State: the directory and, per hash whose last attempt failed, the reason
    (a zhashx of strings). Whether a file is held is the file system's
    answer (HASH exists), since a file only takes that name once it is
    checked and synced, and a restarted broker must find it there.
*/
#include "attach.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_log.h"
#include "sl_util.h"

#define MAX_ERRORS 1024 //  reasons kept, at most (then forgotten all at once)

struct _sl_attach_store_t {
    char *dir;        //  where the files are (owned)
    zhashx_t *errors; //  hash -> why its last attempt failed (owned strings)
};

//  fsync of a directory, so that a rename in it is durable. 0 or -1.
static int s_sync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int errnum = errno;
    close (fd);
    errno = errnum;
    return rc;
}

sl_attach_store_t *sl_attach_store_new (const char *dir)
{
    assert (dir);
    sl_attach_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup (dir);
    self->errors = zhashx_new ();
    if (!self->dir || !self->errors) {
        sl_attach_store_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->errors, (zhashx_destructor_fn *) zstr_free);
    //  The directory itself must be durable (it may have just been made)
    //  before a file in it is said to be held.
    char parent [PATH_MAX + 8];
    snprintf (parent, sizeof parent, "%s/..", dir);
    if (s_sync_dir (dir) || s_sync_dir (parent))
        sl_warn ("cannot sync attachment directory %s: %s", dir, strerror (errno));
    return self;
}

void sl_attach_store_destroy (sl_attach_store_t **self_p)
{
    assert (self_p);
    sl_attach_store_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->errors);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

bool sl_attach_hash_valid (const char *hash)
{
    if (strlen (hash) != 40)
        return false;
    for (size_t i = 0; i < 40; i++)
        if (!((hash [i] >= '0' && hash [i] <= '9') || (hash [i] >= 'a' && hash [i] <= 'f')))
            return false;
    return true;
}

static void s_path (sl_attach_store_t *self, const char *hash, bool part, char *path, size_t len)
{
    snprintf (path, len, "%s/%s%s", self->dir, hash, part ? ".part" : "");
}

void sl_attach_path (sl_attach_store_t *self, const char *hash, char *path, size_t len)
{
    assert (self);
    s_path (self, hash, false, path, len);
}

bool sl_attach_held (sl_attach_store_t *self, const char *hash)
{
    assert (self);
    char path [PATH_MAX];
    s_path (self, hash, false, path, sizeof path);
    return access (path, R_OK) == 0;
}

uint64_t sl_attach_partial (sl_attach_store_t *self, const char *hash)
{
    assert (self);
    char part [PATH_MAX];
    struct stat st;
    s_path (self, hash, true, part, sizeof part);
    return stat (part, &st) == 0 ? (uint64_t) st.st_size : 0;
}

const char *sl_attach_error (sl_attach_store_t *self, const char *hash)
{
    assert (self);
    return (const char *) zhashx_lookup (self->errors, hash);
}

//  The attempt at hash failed: logs why, keeps it for the ventilator, and
//  removes the .part (its space comes back; the next attempt starts over).
//  Returns -1.
__attribute__ ((format (printf, 4, 5))) static int s_failed (sl_attach_store_t *self, const char *hash, const char *part,
                     const char *format, ...)
{
    char why [PATH_MAX + 200];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    unlink (part);
    sl_warn ("attachment %s: %s; what was stored of it is removed, the ventilator must send it "
             "again",
             hash, why);
    //  Bounded: a peer sending garbage must not grow it for ever (the
    //  reasons are for ventilators that ask within seconds).
    if (zhashx_size (self->errors) >= MAX_ERRORS)
        zhashx_purge (self->errors);
    zhashx_update (self->errors, hash, strdup (why));
    return -1;
}

static int s_finish (sl_attach_store_t *self, const char *hash, int fd, const char *part,
                     uint64_t total);

int sl_attach_put (sl_attach_store_t *self, const char *hash, uint64_t offset, uint64_t total,
                   const uint8_t *data, size_t size)
{
    assert (self);
    assert (offset + size <= total);
    if (sl_attach_held (self, hash))
        return 0; //  already whole
    char part [PATH_MAX];
    s_path (self, hash, true, part, sizeof part);
    if (offset == 0)
        zhashx_delete (self->errors, hash); //  a new attempt
    //  Only the first piece makes the file: a later one with no .part
    //  belongs to an attempt that failed (or to a broker that restarted).
    int fd = open (part, O_WRONLY | O_CLOEXEC | (offset == 0 ? O_CREAT : 0), 0600);
    if (fd < 0 && errno == ENOENT && offset > 0)
        return 0; //  dropped, sent again later
    struct stat st;
    if (fd < 0 || fstat (fd, &st)) {
        int errnum = errno;
        if (fd >= 0)
            close (fd);
        return s_failed (self, hash, part, "cannot open %s: %s", part, strerror (errnum));
    }
    uint64_t have = (uint64_t) st.st_size;
    if (have > total) {
        close (fd);
        return s_failed (self, hash, part, "%s holds %llu bytes, more than the file's %llu", part,
                         (unsigned long long) have, (unsigned long long) total);
    }
    //  A .part already whole (a broker that stopped before it could check
    //  and name it) is finished now, whatever piece came: else every piece
    //  would be dropped for ever.
    if (have == total)
        return s_finish (self, hash, fd, part, total);
    if (have != offset) {
        close (fd); //  not the next piece: dropped, sent again later
        return 0;
    }
    //  pwrite may write less than asked (a disk filling up): go on until
    //  it says why it cannot.
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite (fd, data + done, size - done, (off_t) (offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int errnum = n < 0 ? errno : EIO;
            close (fd);
            return s_failed (self, hash, part, "cannot write %s (%llu of %llu bytes there): %s",
                             part, (unsigned long long) (offset + done),
                             (unsigned long long) total, strerror (errnum));
        }
        done += (size_t) n;
    }
    if (offset + size < total) {
        close (fd);
        return 0;
    }
    return s_finish (self, hash, fd, part, total);
}

//  The whole file is in the .part (fd, which this closes): synced, checked,
//  named, and the name synced. 0 when held, else -1 (see s_failed).
static int s_finish (sl_attach_store_t *self, const char *hash, int fd, const char *part,
                     uint64_t total)
{
    char path [PATH_MAX];
    s_path (self, hash, false, path, sizeof path);
    if (fsync (fd)) {
        int errnum = errno;
        close (fd);
        return s_failed (self, hash, part, "cannot sync %s: %s", part, strerror (errnum));
    }
    close (fd);
    char sum [41], why [PATH_MAX + 100];
    uint64_t got;
    if (sl_file_sha1 (part, sum, &got, why, sizeof why))
        return s_failed (self, hash, part, "%s", why);
    if (!streq (sum, hash) || got != total)
        return s_failed (self, hash, part,
                         "what arrived (%llu bytes, SHA-1 %s) is not the file announced (%llu "
                         "bytes)",
                         (unsigned long long) got, sum, (unsigned long long) total);
    if (rename (part, path))
        return s_failed (self, hash, part, "cannot rename %s: %s", part, strerror (errno));
    if (s_sync_dir (self->dir)) {
        int errnum = errno;
        unlink (path); //  not durable: not held
        return s_failed (self, hash, part, "cannot sync directory %s: %s", self->dir,
                         strerror (errnum));
    }
    zhashx_delete (self->errors, hash);
    sl_info ("attachment %s stored (%llu bytes)", hash, (unsigned long long) total);
    return 0;
}
