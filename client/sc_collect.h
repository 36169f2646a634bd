/*  sc_collect - which tasks of a client's job to send again (the walks
    over the seqs). Which results came and which were handed to the user
    is the collect core's (lib/sl_collect.h), shared with the sink.

    Pure: no sockets, no clock.
*/
#ifndef SC_COLLECT_H_INCLUDED
#define SC_COLLECT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Walks the seqs to send in one pass: every seq of 1..n, or only those in
//  ranges (first, last pairs as the broker's JobState.missing lists them;
//  clamped to 1..n, ascending).
typedef struct {
    uint64_t n;       //  tasks in the job
    uint64_t *ranges; //  owned copy, NULL = all
    size_t nranges;   //  pairs at ranges
    size_t at;        //  range being walked
    uint64_t next;    //  next seq to return, 0 = none left
} sc_cursor_t;

//  Starts a walk (copies ranges; nranges pairs, NULL = all). Returns 0, or
//  -1 if out of memory.
int sc_cursor_init (sc_cursor_t *self, uint64_t n, const uint64_t *ranges, size_t nranges);

//  The next seq to send, or 0 at the end.
uint64_t sc_cursor_next (sc_cursor_t *self);

//  Frees the walk's copy of the ranges.
void sc_cursor_clear (sc_cursor_t *self);

#endif
