/*  journal_backend - what a journal backend provides to journal.c.

    A backend is an object (impl) and a table of its methods, each the
    backend's side of the sl_journal_* function of the same name in
    journal.h, with the same contract. sl_journal_wrap makes a journal of
    them; journal.c only forwards calls. Only backends include this header.
*/
#ifndef JOURNAL_BACKEND_H_INCLUDED
#define JOURNAL_BACKEND_H_INCLUDED

#include "journal.h"

typedef struct {
    void (*destroy) (void **impl_p); //  commits (errors ignored), frees, nulls
    int64_t (*replay) (void *impl, sl_journal_fn *fn, void *arg, char *err, size_t errlen);
    uint64_t (*torn_bytes) (void *impl);
    const char *(*repaired) (void *impl);
    int (*append) (void *impl, uint8_t type, const uint8_t *data, size_t size, char *err,
                   size_t errlen);
    int (*commit) (void *impl, char *err, size_t errlen);
    int (*sync) (void *impl, char *err, size_t errlen);
    int (*fd) (void *impl);
    int (*poll) (void *impl, char *err, size_t errlen);
    size_t (*uncommitted) (void *impl);
    size_t (*unflushed) (void *impl);
    uint64_t (*appended) (void *impl);
    uint64_t (*durable) (void *impl);
    bool (*failed) (void *impl);
    bool (*fenced) (void *impl);
    uint64_t (*segment) (void *impl);
    uint64_t (*segment_bytes) (void *impl);
    uint64_t (*total_bytes) (void *impl);
    uint64_t (*rotate) (void *impl, char *err, size_t errlen);
    int (*delete_before) (void *impl, uint64_t segment, char *err, size_t errlen);
    int64_t (*scan) (void *impl, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                     size_t errlen);
    const char *(*dir) (void *impl);
    //  Standby brokers; NULL in a backend that has none (the file journal).
    int64_t (*follow) (void *impl, sl_journal_fn *fn, void *arg, char *err, size_t errlen);
    int (*hold) (void *impl, const char *holder, const char *workers, char *err, size_t errlen);
    const char *(*holder_workers) (void *impl);
    bool (*refused) (void *impl);
    const char *(*holder) (void *impl);
    uint64_t (*last_seq) (void *impl);
    void (*keep_from) (void *impl, uint64_t seq);
} sl_journal_ops_t;

//  A journal over impl with its methods ops (static, not copied). Takes
//  ownership of *impl_p and nulls it, also on failure (out of memory:
//  impl is destroyed, NULL returned). Caller owns the result.
sl_journal_t *sl_journal_wrap (const sl_journal_ops_t *ops, void **impl_p);

#endif
