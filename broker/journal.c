/*  journal - the journal interface, see journal.h: a backend object and
    its methods (journal_backend.h); every call is forwarded. The file
    backend's methods are adapted here (journal_file.h keeps its own typed
    API for its tests and tools); other backends wrap themselves.
*/
#include "journal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "journal_backend.h"
#include "journal_file.h"

struct _sl_journal_t {
    const sl_journal_ops_t *ops; //  the backend's methods
    void *impl;                  //  the backend's object (owned)
};

sl_journal_t *sl_journal_wrap (const sl_journal_ops_t *ops, void **impl_p)
{
    assert (ops);
    assert (impl_p && *impl_p);
    sl_journal_t *self = calloc (1, sizeof *self);
    if (!self) {
        ops->destroy (impl_p);
        return NULL;
    }
    self->ops = ops;
    self->impl = *impl_p;
    *impl_p = NULL;
    return self;
}

//  --- The file backend's methods ----------------------------------------------

static void s_file_destroy (void **impl_p)
{
    sl_jfile_t *file = *impl_p;
    sl_jfile_destroy (&file);
    *impl_p = NULL;
}

static int64_t s_file_replay (void *impl, sl_journal_fn *fn, void *arg, char *err, size_t errlen)
{
    return sl_jfile_replay (impl, fn, arg, err, errlen);
}

static uint64_t s_file_torn_bytes (void *impl)
{
    return sl_jfile_torn_bytes (impl);
}

static const char *s_file_repaired (void *impl)
{
    return sl_jfile_repaired (impl);
}

static int s_file_append (void *impl, uint8_t type, const uint8_t *data, size_t size, char *err,
                          size_t errlen)
{
    return sl_jfile_append (impl, type, data, size, err, errlen);
}

static int s_file_commit (void *impl, char *err, size_t errlen)
{
    return sl_jfile_commit (impl, err, errlen);
}

static int s_file_fd (void *impl)
{
    (void) impl;
    return -1; //  a commit is durable when it returns
}

static int s_file_poll (void *impl, char *err, size_t errlen)
{
    (void) impl;
    (void) err;
    (void) errlen;
    return 0;
}

static size_t s_file_uncommitted (void *impl)
{
    return sl_jfile_uncommitted (impl);
}

static uint64_t s_file_appended (void *impl)
{
    return sl_jfile_appended (impl);
}

static uint64_t s_file_durable (void *impl)
{
    return sl_jfile_durable (impl);
}

static bool s_file_failed (void *impl)
{
    return sl_jfile_failed (impl);
}

static bool s_file_fenced (void *impl)
{
    (void) impl;
    return false; //  the directory lock keeps a second broker out
}

static uint64_t s_file_segment (void *impl)
{
    return sl_jfile_segment (impl);
}

static uint64_t s_file_segment_bytes (void *impl)
{
    return sl_jfile_segment_bytes (impl);
}

static uint64_t s_file_total_bytes (void *impl)
{
    return sl_jfile_total_bytes (impl);
}

static uint64_t s_file_rotate (void *impl, char *err, size_t errlen)
{
    return sl_jfile_rotate (impl, err, errlen);
}

static int s_file_delete_before (void *impl, uint64_t segment, char *err, size_t errlen)
{
    return sl_jfile_delete_before (impl, segment, err, errlen);
}

static int64_t s_file_scan (void *impl, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                            size_t errlen)
{
    return sl_jfile_scan (impl, from, fn, arg, err, errlen);
}

static const char *s_file_dir (void *impl)
{
    return sl_jfile_dir (impl);
}

static const sl_journal_ops_t s_file_ops = {
    .destroy = s_file_destroy,
    .replay = s_file_replay,
    .torn_bytes = s_file_torn_bytes,
    .repaired = s_file_repaired,
    .append = s_file_append,
    .commit = s_file_commit,
    .sync = s_file_commit,
    .fd = s_file_fd,
    .poll = s_file_poll,
    .uncommitted = s_file_uncommitted,
    .unflushed = s_file_uncommitted,
    .appended = s_file_appended,
    .durable = s_file_durable,
    .failed = s_file_failed,
    .fenced = s_file_fenced,
    .segment = s_file_segment,
    .segment_bytes = s_file_segment_bytes,
    .total_bytes = s_file_total_bytes,
    .rotate = s_file_rotate,
    .delete_before = s_file_delete_before,
    .scan = s_file_scan,
    .dir = s_file_dir,
};

sl_journal_t *sl_journal_new (const char *dir, sl_fsync_t mode, char *err, size_t errlen)
{
    void *file = sl_jfile_new (dir, mode, err, errlen);
    if (!file)
        return NULL;
    sl_journal_t *self = sl_journal_wrap (&s_file_ops, &file);
    if (!self)
        snprintf (err, errlen, "out of memory opening journal %s", dir);
    return self;
}

//  --- Forwarding -------------------------------------------------------------

void sl_journal_destroy (sl_journal_t **self_p)
{
    assert (self_p);
    sl_journal_t *self = *self_p;
    if (!self)
        return;
    self->ops->destroy (&self->impl);
    free (self);
    *self_p = NULL;
}

int64_t sl_journal_replay (sl_journal_t *self, sl_journal_fn *fn, void *arg, char *err,
                           size_t errlen)
{
    assert (self);
    return self->ops->replay (self->impl, fn, arg, err, errlen);
}

uint64_t sl_journal_torn_bytes (sl_journal_t *self)
{
    assert (self);
    return self->ops->torn_bytes (self->impl);
}

const char *sl_journal_repaired (sl_journal_t *self)
{
    assert (self);
    return self->ops->repaired (self->impl);
}

int sl_journal_append (sl_journal_t *self, uint8_t type, const uint8_t *data, size_t size,
                       char *err, size_t errlen)
{
    assert (self);
    return self->ops->append (self->impl, type, data, size, err, errlen);
}

int sl_journal_commit (sl_journal_t *self, char *err, size_t errlen)
{
    assert (self);
    return self->ops->commit (self->impl, err, errlen);
}

int sl_journal_sync (sl_journal_t *self, char *err, size_t errlen)
{
    assert (self);
    return self->ops->sync (self->impl, err, errlen);
}

int sl_journal_fd (sl_journal_t *self)
{
    assert (self);
    return self->ops->fd (self->impl);
}

int sl_journal_poll (sl_journal_t *self, char *err, size_t errlen)
{
    assert (self);
    return self->ops->poll (self->impl, err, errlen);
}

size_t sl_journal_uncommitted (sl_journal_t *self)
{
    assert (self);
    return self->ops->uncommitted (self->impl);
}

size_t sl_journal_unflushed (sl_journal_t *self)
{
    assert (self);
    return self->ops->unflushed (self->impl);
}

uint64_t sl_journal_appended (sl_journal_t *self)
{
    assert (self);
    return self->ops->appended (self->impl);
}

uint64_t sl_journal_durable (sl_journal_t *self)
{
    assert (self);
    return self->ops->durable (self->impl);
}

bool sl_journal_failed (sl_journal_t *self)
{
    assert (self);
    return self->ops->failed (self->impl);
}

bool sl_journal_fenced (sl_journal_t *self)
{
    assert (self);
    return self->ops->fenced (self->impl);
}

int64_t sl_journal_follow (sl_journal_t *self, sl_journal_fn *fn, void *arg, char *err,
                           size_t errlen)
{
    assert (self);
    return self->ops->follow ? self->ops->follow (self->impl, fn, arg, err, errlen) : 0;
}

int sl_journal_hold (sl_journal_t *self, const char *holder, const char *workers, char *err,
                     size_t errlen)
{
    assert (self);
    return self->ops->hold ? self->ops->hold (self->impl, holder, workers, err, errlen) : 0;
}

const char *sl_journal_holder_workers (sl_journal_t *self)
{
    assert (self);
    return self->ops->holder_workers ? self->ops->holder_workers (self->impl) : NULL;
}

bool sl_journal_refused (sl_journal_t *self)
{
    assert (self);
    return self->ops->refused ? self->ops->refused (self->impl) : false;
}

const char *sl_journal_holder (sl_journal_t *self)
{
    assert (self);
    return self->ops->holder ? self->ops->holder (self->impl) : NULL;
}

uint64_t sl_journal_last_seq (sl_journal_t *self)
{
    assert (self);
    return self->ops->last_seq ? self->ops->last_seq (self->impl) : 0;
}

void sl_journal_keep_from (sl_journal_t *self, uint64_t seq)
{
    assert (self);
    if (self->ops->keep_from)
        self->ops->keep_from (self->impl, seq);
}

uint64_t sl_journal_segment (sl_journal_t *self)
{
    assert (self);
    return self->ops->segment (self->impl);
}

uint64_t sl_journal_segment_bytes (sl_journal_t *self)
{
    assert (self);
    return self->ops->segment_bytes (self->impl);
}

uint64_t sl_journal_total_bytes (sl_journal_t *self)
{
    assert (self);
    return self->ops->total_bytes (self->impl);
}

uint64_t sl_journal_rotate (sl_journal_t *self, char *err, size_t errlen)
{
    assert (self);
    return self->ops->rotate (self->impl, err, errlen);
}

int sl_journal_delete_before (sl_journal_t *self, uint64_t segment, char *err, size_t errlen)
{
    assert (self);
    return self->ops->delete_before (self->impl, segment, err, errlen);
}

int64_t sl_journal_scan (sl_journal_t *self, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                         size_t errlen)
{
    assert (self);
    return self->ops->scan (self->impl, from, fn, arg, err, errlen);
}

const char *sl_journal_dir (sl_journal_t *self)
{
    assert (self);
    return self->ops->dir (self->impl);
}
