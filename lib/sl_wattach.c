/*  sl_wattach - a worker's attachment cache, see sl_wattach.h.

    One download at a time, a piece per request: a request goes out, its
    piece is written at its offset in HASH.part, the next one is asked
    for; the whole file is checked against its hash before it takes its
    name. A broker that lacks the file (yet) is asked again after
    WATTACH_RETRY_MS, one silent for WATTACH_STALL_MS again at once.
*/
#include "sl_wattach.h"

#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sl_log.h"
#include "sl_util.h"

#define WATTACH_RETRY_MS 500  //  the broker did not have it yet: ask again after this
#define WATTACH_STALL_MS 5000 //  no answer to a request this long: ask again
#define WATTACH_TELL_MS 10000 //  fetches failing this long are a warning (again after 6 times that)

//  The files of one job.
typedef struct {
    size_t n;                                //  how many
    sl_wattach_file_t list [SL_WATTACH_MAX]; //  name and cache path, pointing below
    char names [SL_WATTACH_MAX][65];         //  names in the job
    char paths [SL_WATTACH_MAX][4096];       //  where each is kept
    char hashes [SL_WATTACH_MAX][41];        //  their SHA-1, lower-case hex
} job_files_t;

struct _sl_wattach_t {
    char dir [3072];    //  the cache directory
    uint64_t max_bytes; //  what it may hold
    zhashx_t *jobs;     //  job id -> job_files_t
    zlistx_t *queue;    //  hashes to fetch (owned strings)
    int fd;             //  the download under way (its .part file), or -1
    char hash [41];     //  its hash
    uint64_t offset;    //  bytes of it here
    int64_t asked;      //  when the last piece was asked for
    bool request_due;   //  a request is to be sent (sl_wattach_request)
    int64_t retry_at;   //  no download before this: the broker lacked one
    int64_t failing;    //  since when the broker has answered every fetch with an error, or 0
    int64_t told;       //  when that was last logged as a warning
    uint64_t bytes;     //  bytes received
};

static void s_path (sl_wattach_t *self, const char *hash, bool part, char *path, size_t len)
{
    snprintf (path, len, "%s/%s%s", self->dir, hash, part ? ".part" : "");
}

static bool s_cached (sl_wattach_t *self, const char *hash)
{
    char path [4200];
    s_path (self, hash, false, path, sizeof path);
    return access (path, R_OK) == 0;
}

static void s_job_files_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

sl_wattach_t *sl_wattach_new (const char *dir, uint64_t max_bytes)
{
    sl_wattach_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->max_bytes = max_bytes;
    const char *xdg = getenv ("XDG_CACHE_HOME"), *home = getenv ("HOME");
    if (dir)
        snprintf (self->dir, sizeof self->dir, "%s", dir);
    else if (xdg && *xdg)
        snprintf (self->dir, sizeof self->dir, "%s/sluice/attachments", xdg);
    else
        snprintf (self->dir, sizeof self->dir, "%s/.cache/sluice/attachments",
                  home && *home ? home : "/tmp");
    self->jobs = zhashx_new ();
    self->queue = zlistx_new ();
    if (!self->jobs || !self->queue) {
        sl_wattach_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, s_job_files_free);
    zlistx_set_destructor (self->queue, (zlistx_destructor_fn *) zstr_free);
    if (zsys_dir_create ("%s", self->dir)) {
        sl_error ("cannot make the attachment cache %s: %s", self->dir, strerror (errno));
        sl_wattach_destroy (&self);
        return NULL;
    }
    return self;
}

void sl_wattach_destroy (sl_wattach_t **self_p)
{
    assert (self_p);
    sl_wattach_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0) {
        char part [4200];
        s_path (self, self->hash, true, part, sizeof part);
        close (self->fd);
        unlink (part);
    }
    if (self->bytes)
        sl_info ("attachments: %llu bytes fetched", (unsigned long long) self->bytes);
    zhashx_destroy (&self->jobs);
    zlistx_destroy (&self->queue);
    free (self);
    *self_p = NULL;
}

uint64_t sl_wattach_bytes (sl_wattach_t *self)
{
    assert (self);
    return self->bytes;
}

void sl_wattach_note (sl_wattach_t *self, const Sluice__TaskBatch *batch)
{
    assert (self);
    if (!batch->n_attachments || zhashx_lookup (self->jobs, batch->job))
        return;
    job_files_t *files = calloc (1, sizeof *files);
    if (!files)
        return;
    for (size_t i = 0; i < batch->n_attachments && files->n < SL_WATTACH_MAX; i++) {
        const Sluice__Attachment *a = batch->attachments [i];
        bool ok = strlen (a->hash) == 40 && sl_job_id_valid (a->name);
        for (size_t k = 0; ok && k < 40; k++)
            ok = isxdigit ((unsigned char) a->hash [k]) && !isupper ((unsigned char) a->hash [k]);
        if (!ok)
            continue;
        size_t k = files->n++;
        snprintf (files->names [k], sizeof files->names [k], "%s", a->name);
        snprintf (files->hashes [k], sizeof files->hashes [k], "%s", a->hash);
        s_path (self, a->hash, false, files->paths [k], sizeof files->paths [k]);
        files->list [k].name = files->names [k];
        files->list [k].path = files->paths [k];
    }
    zhashx_insert (self->jobs, batch->job, files);
}

const sl_wattach_file_t *sl_wattach_files (sl_wattach_t *self, const char *job, size_t *count)
{
    assert (self);
    job_files_t *files = (job_files_t *) zhashx_lookup (self->jobs, job);
    *count = files ? files->n : 0;
    return files && files->n ? files->list : NULL;
}

static void s_ask (sl_wattach_t *self, int64_t now)
{
    self->request_due = true;
    self->asked = now;
}

bool sl_wattach_request (sl_wattach_t *self, Sluice__AttachGet *get)
{
    assert (self);
    if (!self->request_due || self->fd < 0)
        return false;
    self->request_due = false;
    get->hash = self->hash;
    get->offset = self->offset;
    return true;
}

//  Starts the next download if none runs.
static void s_next (sl_wattach_t *self, int64_t now)
{
    while (self->fd < 0 && zlistx_size (self->queue) && now >= self->retry_at) {
        char *hash = (char *) zlistx_detach (self->queue, NULL);
        if (!s_cached (self, hash)) {
            char part [4200];
            s_path (self, hash, true, part, sizeof part);
            self->fd = open (part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (self->fd < 0)
                sl_error ("cannot write %s: %s", part, strerror (errno));
            else {
                snprintf (self->hash, sizeof self->hash, "%s", hash);
                self->offset = 0;
                s_ask (self, now);
            }
        }
        free (hash);
    }
}

bool sl_wattach_ready (sl_wattach_t *self, const char *job, int64_t now)
{
    assert (self);
    job_files_t *files = (job_files_t *) zhashx_lookup (self->jobs, job);
    bool ready = true;
    for (size_t i = 0; files && i < files->n; i++) {
        if (s_cached (self, files->hashes [i]))
            continue;
        ready = false;
        bool queued = self->fd >= 0 && streq (self->hash, files->hashes [i]);
        for (char *h = (char *) zlistx_first (self->queue); h && !queued;
             h = (char *) zlistx_next (self->queue))
            queued = streq (h, files->hashes [i]);
        if (!queued)
            zlistx_add_end (self->queue, strdup (files->hashes [i]));
    }
    if (!ready)
        s_next (self, now);
    return ready;
}

//  Keeps the cache under its limit: the files used longest ago go first,
//  never one a job this worker knows still needs.
static void s_evict (sl_wattach_t *self)
{
    zdir_t *dir = zdir_new (self->dir, "-");
    if (!dir)
        return;
    zfile_t **files = zdir_flatten (dir);
    uint64_t total = 0;
    size_t n = 0;
    for (; files && files [n]; n++)
        total += (uint64_t) zfile_cursize (files [n]);
    while (total > self->max_bytes) {
        zfile_t *oldest = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!files [i] || zfile_is_directory (files [i]))
                continue;
            const char *base = strrchr (zfile_filename (files [i], NULL), '/');
            base = base ? base + 1 : zfile_filename (files [i], NULL);
            bool needed = false;
            for (job_files_t *jf = (job_files_t *) zhashx_first (self->jobs); jf && !needed;
                 jf = (job_files_t *) zhashx_next (self->jobs))
                for (size_t k = 0; k < jf->n && !needed; k++)
                    needed = streq (jf->hashes [k], base);
            if (!needed && (!oldest || zfile_modified (files [i]) < zfile_modified (oldest)))
                oldest = files [i];
        }
        if (!oldest)
            break;
        total -= (uint64_t) zfile_cursize (oldest);
        sl_info ("attachment cache over %llu bytes: removing %s",
                 (unsigned long long) self->max_bytes, zfile_filename (oldest, NULL));
        zfile_remove (oldest);
        for (size_t i = 0; i < n; i++)
            if (files [i] == oldest)
                files [i] = NULL; //  (the array still owns it: freed below)
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
}

//  The download failed: fetch it again after a pause.
static void s_retry (sl_wattach_t *self, const char *part, int64_t now)
{
    if (self->fd >= 0)
        close (self->fd);
    self->fd = -1;
    unlink (part);
    zlistx_add_end (self->queue, strdup (self->hash));
    self->retry_at = now + WATTACH_RETRY_MS;
}

void sl_wattach_on_chunk (sl_wattach_t *self, const Sluice__AttachChunk *chunk, int64_t now)
{
    assert (self);
    if (self->fd < 0 || !streq (chunk->hash, self->hash) || chunk->offset != self->offset)
        return; //  stale
    char part [4200], path [4200];
    s_path (self, self->hash, true, part, sizeof part);
    s_path (self, self->hash, false, path, sizeof path);
    if (chunk->error [0] ||
        (chunk->data.len && pwrite (self->fd, chunk->data.data, chunk->data.len,
                                    (off_t) chunk->offset) != (ssize_t) chunk->data.len)) {
        if (chunk->error [0]) {
            //  Tasks that need it wait: say so, not only in debug output.
            if (!self->failing)
                self->failing = now;
            if (now - self->failing >= WATTACH_TELL_MS &&
                (!self->told || now - self->told >= 6 * WATTACH_TELL_MS)) {
                sl_warn ("attachment %s: the broker has answered \"%s\" for %lld s; the tasks "
                         "that need it wait (the ventilator must send it again), asking every "
                         "%d ms",
                         self->hash, chunk->error, (long long) (now - self->failing) / 1000,
                         WATTACH_RETRY_MS);
                self->told = now;
            } else
                sl_debug ("attachment %s: %s; asking again soon", self->hash, chunk->error);
        } else
            sl_error ("cannot write %s: %s", part, strerror (errno));
        s_retry (self, part, now);
        return;
    }
    self->failing = self->told = 0;
    self->offset += chunk->data.len;
    self->bytes += chunk->data.len;
    if (self->offset < chunk->total && chunk->data.len) {
        s_ask (self, now);
        return;
    }
    close (self->fd);
    self->fd = -1;
    char hash [41], err [300];
    uint64_t size;
    if (sl_file_sha1 (part, hash, &size, err, sizeof err) || !streq (hash, self->hash)) {
        sl_warn ("attachment %s: what arrived does not match its hash; fetching it again",
                 self->hash);
        s_retry (self, part, now);
    } else if (rename (part, path))
        sl_error ("cannot rename %s: %s", part, strerror (errno));
    else {
        sl_info ("attachment %s fetched (%llu bytes)", self->hash, (unsigned long long) size);
        s_evict (self);
    }
    s_next (self, now);
}

void sl_wattach_tick (sl_wattach_t *self, int64_t now)
{
    assert (self);
    if (self->fd >= 0 && now - self->asked > WATTACH_STALL_MS)
        s_ask (self, now);
    s_next (self, now);
}

int64_t sl_wattach_next_wake (sl_wattach_t *self)
{
    assert (self);
    if (self->fd >= 0)
        return self->asked + WATTACH_STALL_MS + 1;
    if (zlistx_size (self->queue))
        return self->retry_at;
    return INT64_MAX;
}
