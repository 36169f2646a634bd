/*  sl_seen - set of written seqs as a sparse bitmap, see sl_seen.h.

    A seq (1..2^32) splits into
        [ root: 0..128 | mid: 7 bits | leaf: 6 bits | bit in page: 12 bits ]
    The root holds 129 pointers to mid nodes (seq 2^32 is the only one in
    the last), a mid node 128 pointers to leaves, a leaf 64 pointers to
    pages, a page 4096 bits and how many of them are set (so that
    sl_seen_next_missing skips a full page at once). Nodes are small so
    that a job with a few results costs about 3 KiB; the page last used is
    cached, as consecutive seqs mostly share one.
*/
#include "sl_seen.h"

#include <assert.h>
#include <stdlib.h>

#define PAGE_SHIFT 12                       //  4096 seqs per page
#define PAGE_BITS (1u << PAGE_SHIFT)        //
#define PAGE_WORDS (PAGE_BITS / 64)         //  64-bit words per page
#define LEAF_SHIFT 6                        //  64 pages per leaf
#define MID_SHIFT 7                         //  128 leaves per mid node
#define LEAF_SPAN (PAGE_SHIFT + LEAF_SHIFT) //  2^18 seqs per leaf
#define MID_SPAN (LEAF_SPAN + MID_SHIFT)    //  2^25 seqs per mid node
#define ROOT_SIZE ((size_t) (SL_SEEN_MAX_SEQ >> MID_SPAN) + 1)
#define NO_PAGE UINT64_MAX //  cache key that matches no page

typedef struct {
    uint64_t bits [PAGE_WORDS]; //  bit i: seq (page base + i) is in the set
    uint32_t count;             //  bits set
} page_t;

typedef struct {
    page_t *pages [1u << LEAF_SHIFT]; //  NULL: no seq of that page yet
} leaf_t;

typedef struct {
    leaf_t *leaves [1u << MID_SHIFT]; //  NULL: no seq of that leaf yet
} mid_t;

struct _sl_seen_t {
    mid_t *root [ROOT_SIZE]; //  NULL: no seq of that mid node yet
    uint64_t cached_index;   //  seq >> PAGE_SHIFT of the cached page, or NO_PAGE
    page_t *cached;          //  that page
    uint64_t count;          //  seqs in the set
    size_t memory;           //  bytes allocated
};

sl_seen_t *sl_seen_new (void)
{
    sl_seen_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cached_index = NO_PAGE;
    self->memory = sizeof *self;
    return self;
}

void sl_seen_destroy (sl_seen_t **self_p)
{
    assert (self_p);
    sl_seen_t *self = *self_p;
    if (!self)
        return;
    for (size_t r = 0; r < ROOT_SIZE; r++) {
        mid_t *mid = self->root [r];
        for (size_t m = 0; mid && m < (1u << MID_SHIFT); m++) {
            leaf_t *leaf = mid->leaves [m];
            for (size_t l = 0; leaf && l < (1u << LEAF_SHIFT); l++)
                free (leaf->pages [l]);
            free (leaf);
        }
        free (mid);
    }
    free (self);
    *self_p = NULL;
}

//  The page holding seq (1..SL_SEEN_MAX_SEQ); if create, allocated (with
//  the nodes above it) when missing. NULL if missing, or out of memory.
static page_t *s_page (sl_seen_t *self, uint64_t seq, bool create)
{
    uint64_t index = seq >> PAGE_SHIFT;
    if (index == self->cached_index)
        return self->cached;
    mid_t **mid_p = &self->root [seq >> MID_SPAN];
    if (!*mid_p) {
        if (!create || !(*mid_p = calloc (1, sizeof **mid_p)))
            return NULL;
        self->memory += sizeof **mid_p;
    }
    leaf_t **leaf_p = &(*mid_p)->leaves [(seq >> LEAF_SPAN) & ((1u << MID_SHIFT) - 1)];
    if (!*leaf_p) {
        if (!create || !(*leaf_p = calloc (1, sizeof **leaf_p)))
            return NULL; //  empty nodes above stay: harmless
        self->memory += sizeof **leaf_p;
    }
    page_t **page_p = &(*leaf_p)->pages [index & ((1u << LEAF_SHIFT) - 1)];
    if (!*page_p) {
        if (!create || !(*page_p = calloc (1, sizeof **page_p)))
            return NULL;
        self->memory += sizeof **page_p;
    }
    self->cached_index = index;
    self->cached = *page_p;
    return *page_p;
}

int sl_seen_add (sl_seen_t *self, uint64_t seq)
{
    assert (self);
    if (seq == 0 || seq > SL_SEEN_MAX_SEQ)
        return -1;
    page_t *page = s_page (self, seq, true);
    if (!page)
        return -1;
    uint32_t bit = (uint32_t) (seq & (PAGE_BITS - 1));
    uint64_t mask = UINT64_C (1) << (bit & 63);
    if (page->bits [bit >> 6] & mask)
        return 0;
    page->bits [bit >> 6] |= mask;
    page->count++;
    self->count++;
    return 1;
}

bool sl_seen_has (sl_seen_t *self, uint64_t seq)
{
    assert (self);
    if (seq == 0 || seq > SL_SEEN_MAX_SEQ)
        return false;
    page_t *page = s_page (self, seq, false);
    uint32_t bit = (uint32_t) (seq & (PAGE_BITS - 1));
    return page && (page->bits [bit >> 6] >> (bit & 63) & 1);
}

void sl_seen_remove (sl_seen_t *self, uint64_t seq)
{
    assert (self);
    if (!sl_seen_has (self, seq))
        return;
    page_t *page = s_page (self, seq, false);
    uint32_t bit = (uint32_t) (seq & (PAGE_BITS - 1));
    page->bits [bit >> 6] &= ~(UINT64_C (1) << (bit & 63));
    page->count--;
    self->count--;
}

uint64_t sl_seen_count (sl_seen_t *self)
{
    assert (self);
    return self->count;
}

uint64_t sl_seen_next_missing (sl_seen_t *self, uint64_t from)
{
    assert (self);
    uint64_t seq = from ? from : 1;
    while (seq <= SL_SEEN_MAX_SEQ) {
        page_t *page = s_page (self, seq, false);
        if (!page)
            return seq;
        uint64_t base = seq & ~(uint64_t) (PAGE_BITS - 1);
        if (page->count < PAGE_BITS) {
            uint32_t bit = (uint32_t) (seq - base);
            uint32_t w = bit >> 6;
            uint64_t clear = ~page->bits [w] & (~UINT64_C (0) << (bit & 63));
            while (!clear && ++w < PAGE_WORDS)
                clear = ~page->bits [w];
            if (clear)
                return base + w * 64 + (uint64_t) __builtin_ctzll (clear);
        }
        seq = base + PAGE_BITS; //  the rest of this page is in the set
    }
    return SL_SEEN_MAX_SEQ + 1;
}

size_t sl_seen_memory (sl_seen_t *self)
{
    assert (self);
    return self->memory;
}
