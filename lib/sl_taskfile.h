/*  =========================================================================
    sl_taskfile - streaming reader for task files

    A task file holds one task per line; the task's payload is the line's
    bytes without its terminator ("\n", or "\r\n"). Empty lines are skipped
    and are not tasks; any other bytes, including NUL and invalid UTF-8, are
    payload. The ventilator reads its input with this class.

    The reader streams with bounded memory: one read buffer plus, for lines
    that span a refill, a line buffer of at most max_payload + 1 bytes. A line
    longer than max_payload is an error, reported without being held in
    memory. Errors name the input ("PATH:LINE: problem" or "cannot read PATH:
    reason") and are sticky: once next() fails, it keeps failing.
    =========================================================================
*/

#ifndef SL_TASKFILE_H_INCLUDED
#define SL_TASKFILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _sl_taskfile_t sl_taskfile_t;

//  Opens a task file; path "-" reads standard input. max_payload is the
//  largest line accepted (bytes, > 0). Returns NULL on failure with a message
//  naming the path in errbuf ("cannot open PATH: reason"). A directory is
//  refused here. Caller owns the return value.
sl_taskfile_t *sl_taskfile_new (const char *path, size_t max_payload, char *errbuf, size_t errlen);

//  Destroys the reader, closing the file (not stdin). NULL-safe, nulls *self_p.
void sl_taskfile_destroy (sl_taskfile_t **self_p);

//  Reads the next task. Returns 1 with *data/*size set (the bytes stay valid
//  until the next call and are owned by the reader; *size is never 0), 0 at
//  end of file, -1 on error with a message in errbuf ("PATH:LINE: problem" or
//  "cannot read PATH: strerror"). After 0 further calls return 0; after -1
//  they return -1 with the same message.
int sl_taskfile_next (sl_taskfile_t *self, const uint8_t **data, size_t *size, char *errbuf,
                      size_t errlen);

//  Physical 1-based line number of the task last returned (0 before the first).
//  Empty lines count as lines but are never returned.
size_t sl_taskfile_lineno (sl_taskfile_t *self);

//  Name used in messages: the path, or "stdin". Owned by the reader.
const char *sl_taskfile_name (sl_taskfile_t *self);

#ifdef __cplusplus
}
#endif

#endif
