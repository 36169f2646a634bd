/*  attach - the broker's store of job attachments (sluice-ventilator
    --attach): files kept by the SHA-1 of their content in one directory.

    A file arrives in pieces, in order, into HASH.part; the last piece is
    checked against the hash, the file fsync'd, renamed to HASH and the
    directory fsync'd. Only then is it "held" (sl_attach_held): what the
    broker tells a ventilator about an attachment is true on disk before it
    says so, as a task is journaled before it is confirmed.

    A piece that cannot be written (a full disk, say) removes the .part:
    the space it took is given back, and the next attempt starts from byte
    0. The reason is kept per hash until the file is held or a new attempt
    begins, so that the ventilator can be told why (sl_attach_error).

    No sockets, no clock: the caller's event loop hands pieces in.
*/
#ifndef ATTACH_H_INCLUDED
#define ATTACH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sl_attach_store_t sl_attach_store_t;

//  A store in dir, which must exist. Returns NULL if out of memory.
//  Caller owns the result.
sl_attach_store_t *sl_attach_store_new (const char *dir);

//  Frees the store (the files stay). NULL-safe, nulls *self_p.
void sl_attach_store_destroy (sl_attach_store_t **self_p);

//  True if hash is 40 lowercase hex digits.
bool sl_attach_hash_valid (const char *hash);

//  Takes a piece of the file hash (total bytes) at offset. A piece that
//  does not continue the .part is dropped (the sender sends again what
//  the store lacks). Returns 0 (taken or dropped; the file may now be
//  held), or -1 if it could not be stored: the reason is logged once and
//  kept for sl_attach_error, and the .part is gone. The caller checks the
//  hash and bounds first (sl_attach_hash_valid, offset + size <= total).
int sl_attach_put (sl_attach_store_t *self, const char *hash, uint64_t offset, uint64_t total,
                   const uint8_t *data, size_t size);

//  True if the file is whole, checked and durable here.
bool sl_attach_held (sl_attach_store_t *self, const char *hash);

//  Bytes of a file under way (its .part), 0 if none.
uint64_t sl_attach_partial (sl_attach_store_t *self, const char *hash);

//  Why the last attempt to store hash failed, or NULL. Valid until the
//  next call that takes a piece.
const char *sl_attach_error (sl_attach_store_t *self, const char *hash);

//  Writes the path of a held file into path.
void sl_attach_path (sl_attach_store_t *self, const char *hash, char *path, size_t len);

#endif
