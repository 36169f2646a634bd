/*  sl_seen - the set of seqs of one job that a collector (the sink, a
    libsluice client; see sl_collect.h) has written or handed out, for
    dropping a result delivered twice.

    A radix tree of bitmap pages: a seq's high bits pick nodes of page
    pointers (three small levels), its low 12 bits a bit in a 512-byte
    page. Nodes and pages are allocated when a seq under them is first
    added, so the memory is proportional to the seqs actually seen: 1 bit
    per seq when they are dense, about 3 KiB for a job with a few results,
    and at most about 2.5 KiB per seq when they are spread far apart; never
    to the highest seq (the bitmap this replaces grew to 512 MiB for one
    result with seq 2^32). Lookup and insert are three array indexes (none
    when the seq is on the page used last) and a bit test: no hashing, and
    no allocation once the page exists.

    Seqs run from 1 to SL_SEEN_MAX_SEQ. A set is not thread-safe.
*/
#ifndef SL_SEEN_H_INCLUDED
#define SL_SEEN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Highest seq a set takes (the sink drops results with a higher one).
#define SL_SEEN_MAX_SEQ (UINT64_C (1) << 32)

typedef struct _sl_seen_t sl_seen_t;

//  Creates an empty set. Returns NULL if out of memory. Caller owns the
//  result and destroys it with sl_seen_destroy.
sl_seen_t *sl_seen_new (void);

//  Frees the set. NULL-safe; nulls *self_p.
void sl_seen_destroy (sl_seen_t **self_p);

//  Adds seq. Returns 1 if it was not in the set, 0 if it already was, -1
//  if it cannot be tracked (seq 0 or above SL_SEEN_MAX_SEQ, or out of
//  memory); the set is then unchanged.
int sl_seen_add (sl_seen_t *self, uint64_t seq);

//  True if seq is in the set.
bool sl_seen_has (sl_seen_t *self, uint64_t seq);

//  Removes seq (nothing if it is not there). Pages stay allocated.
void sl_seen_remove (sl_seen_t *self, uint64_t seq);

//  Seqs in the set.
uint64_t sl_seen_count (sl_seen_t *self);

//  The smallest seq >= from that is not in the set (from 0 counts as 1),
//  skipping full pages and 64-bit words at a time. Returns
//  SL_SEEN_MAX_SEQ + 1 if every seq from there on is in the set.
uint64_t sl_seen_next_missing (sl_seen_t *self, uint64_t from);

//  Bytes allocated by the set (for tests and memory accounting).
size_t sl_seen_memory (sl_seen_t *self);

#endif
