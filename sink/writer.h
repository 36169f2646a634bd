/*  =========================================================================
    writer - buffered result writer of the sink (text or JSON Lines)

    The sink hands every task result to a writer, which formats it into an
    in-memory buffer and writes that buffer to standard output or a file in
    large chunks with write(2). Nothing is lost silently: a failed write
    leaves the unwritten bytes buffered and is reported, with the file name
    and the error, by sl_writer_flush, which the sink calls before it
    confirms results to the broker.

    Formats:
      text   the task's output bytes as they are, plus "\n" when the output
             does not already end with one (an empty output gives one "\n").
      jsonl  one JSON object per line (see sl_writer_put). The line is
             always valid JSON whatever the bytes: text that is not valid
             UTF-8 is written lossily (each bad byte as U+FFFD), and for
             output and stderr the exact bytes are added in base64.

    A writer owns its buffer and its file descriptor (never standard
    output, which it writes but does not close). It is not thread-safe.
    Writing to a closed pipe raises SIGPIPE; a program that wants EPIPE
    reported instead must ignore SIGPIPE.
    =========================================================================
*/

#ifndef SL_WRITER_H_INCLUDED
#define SL_WRITER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SL_FORMAT_TEXT, //  raw output bytes, newline-terminated
    SL_FORMAT_JSONL //  one JSON object per line
} sl_format_t;

//  Parses "text" or "jsonl" (also accepts "json" as jsonl). Returns 0 and
//  sets *fmt, or -1 if the name is unknown (or NULL); *fmt is then unchanged.
int sl_format_parse (const char *name, sl_format_t *fmt);

//  One task result. The writer reads it during sl_writer_put only and keeps
//  no pointer into it; strings are NUL-terminated, byte buffers are not.
typedef struct {
    const char *job;       //  job id
    uint64_t seq;          //  1-based task number in the job
    const char *id;        //  user's task id, or NULL
    uint32_t stage;        //  multi-stage job: the stage it ended in (1-based), 0 = not one
    const char *status;    //  "ok", "failed", "timeout", ...
    int32_t exit_code;     //  command's exit code (128+N for signal N)
    uint32_t attempts;     //  runs it took
    const char *worker;    //  "host:pid" of the worker
    uint64_t duration_ms;  //  run time
    const uint8_t *output; //  task's output bytes (may be NULL when output_size is 0)
    size_t output_size;    //  bytes in output
    const uint8_t *err;    //  last bytes of stderr (may be NULL when err_size is 0)
    size_t err_size;       //  bytes in err
    bool output_truncated; //  output was capped by the worker
} sl_record_t;

typedef struct _sl_writer_t sl_writer_t;

//  Opens the output: path NULL or "-" means standard output. append true
//  opens an existing file for append (else truncate/create, mode 0644).
//  Returns NULL with a message naming the path in errbuf on failure.
//  Caller owns the result and must destroy it with sl_writer_destroy.
sl_writer_t *sl_writer_new (const char *path, sl_format_t fmt, bool append, char *errbuf,
                            size_t errlen);

//  Flushes what is buffered (errors ignored at this point: call
//  sl_writer_flush first to see them), closes the file (not standard
//  output) and frees the writer. NULL-safe; sets *self_p to NULL.
void sl_writer_destroy (sl_writer_t **self_p);

//  Formats one record into the internal buffer. Returns 0, or -1 if it
//  cannot be formatted (message in errbuf; nothing of the record is
//  buffered). Does not write to the file unless the buffer exceeds 1 MiB;
//  then it writes, and a write failure is remembered and returned by the
//  next sl_writer_flush (until then the writer only buffers).
//
//  In jsonl format the keys are, in this order: job, seq, id (only when
//  rec->id is not NULL), status, stage (only when not 0), exit_code, attempts, worker, duration_ms,
//  output, output_base64 (only when output is not valid UTF-8), stderr and
//  stderr_base64 (only when err_size > 0; base64 only when stderr is not
//  valid UTF-8), output_truncated (true, only when set). seq and
//  duration_ms above INT64_MAX cannot be formatted.
int sl_writer_put (sl_writer_t *self, const sl_record_t *rec, char *errbuf, size_t errlen);

//  Formats one record as sl_writer_put would, but hands the bytes back
//  instead of queueing them for the file: *data_p points to *size_p bytes
//  that stay valid until the next call on this writer (copy them). Returns
//  0, or -1 with a message in errbuf. Nothing is written or queued.
int sl_writer_format (sl_writer_t *self, const sl_record_t *rec, const uint8_t **data_p,
                      size_t *size_p, char *errbuf, size_t errlen);

//  Queues bytes made by sl_writer_format (by a writer of the same format)
//  for the file, as sl_writer_put queues a record. data must not point
//  into this writer's own buffer (copy what sl_writer_format returned
//  first). Returns 0, or -1 if out of memory (nothing is queued).
int sl_writer_put_formatted (sl_writer_t *self, const uint8_t *data, size_t size, char *errbuf,
                             size_t errlen);

//  Writes everything buffered to the file descriptor (handles short writes
//  and EINTR). If sync is true and the output is a regular file, also
//  fdatasync()s it. Returns 0, or -1 with a message naming the file and the
//  error in errbuf (e.g. "cannot write results.jsonl: No space left on
//  device"). After a failure the unwritten bytes stay buffered, and the
//  next flush tries them again. A failure remembered by sl_writer_put is
//  returned without trying to write.
int sl_writer_flush (sl_writer_t *self, bool sync, char *errbuf, size_t errlen);

//  Bytes written to the file so far by this writer (in append mode, not
//  counting what the file held before). Buffered bytes are not counted.
uint64_t sl_writer_offset (sl_writer_t *self);

//  Exposed for tests and fuzzing: true if data[0..size) is valid UTF-8
//  (no overlong forms, no surrogates U+D800..U+DFFF, nothing above
//  U+10FFFF, no truncated sequence). data may be NULL when size is 0.
bool sl_utf8_valid (const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
