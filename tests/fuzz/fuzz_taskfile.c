/*  =========================================================================
    fuzz_taskfile - libFuzzer target for the task-file reader (sl_taskfile)

    Every input is the content of a task file. The reader's answers are
    compared, call by call, with a few lines that restate the rules of
    lib/sl_taskfile.h: a task is a line without its "\n" and one "\r"
    before it (or before the end of input); empty lines are skipped but
    counted; a task longer than max_payload is an error "PATH:LINE: ..."
    that sticks; after the end, next() keeps returning 0.

    Each input is read several times: with max_payload so large that every
    line passes, exactly the longest task (all pass), one less (the first
    longest task fails), and a few tiny limits. Each limit is tried two
    ways:
      - from a memfd opened by its /proc/self/fd path, so one read(2)
        returns the whole input (up to the reader's 64 KiB buffer);
      - as standard input ("-") from an AF_UNIX SOCK_SEQPACKET pair, whose
        reads return one packet each: the input is cut into up to 16
        packets at places derived from a hash of the input, so lines span
        refills and "\r\n" falls across a boundary. This mode is used for
        inputs up to S_CHUNKED_MAX bytes, which the socket buffer holds
        without a writer thread.
    A difference is reported with abort(), so libFuzzer keeps the input.
    Build and run with tests/fuzz/run.sh.
    =========================================================================
*/

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sl_taskfile.h"

//  Largest packet: the reader reads at most this much at once, and a
//  SOCK_SEQPACKET read shorter than its packet would drop the rest.
#define S_PACKET_MAX ((size_t) 64 * 1024)
//  Largest input read through the socket pair (see the top comment).
#define S_CHUNKED_MAX ((size_t) 128 * 1024)
//  Most packets one input is cut into.
#define S_PACKETS_MAX 16

//  The reference: a cursor over the input that applies the header's rules.
typedef struct {
    const uint8_t *data; //  whole input
    size_t size;         //  bytes in data
    size_t pos;          //  start of the next physical line
    size_t lineno;       //  physical lines begun so far
} s_model_t;

//  Reports a difference and aborts, which libFuzzer records as a crash.
static void s_fail (const char *mode, size_t max_payload, const char *what, const char *err)
{
    fprintf (stderr, "fuzz_taskfile (%s, max_payload %zu): %s (err: \"%s\")\n", mode, max_payload,
             what, err ? err : "");
    abort ();
}

//  Next task by the rules: 1 with *start/*len/*lineno set, 0 at the end,
//  -1 for a task over max_payload (*len/*lineno say which).
static int s_model_next (s_model_t *model, size_t max_payload, const uint8_t **start, size_t *len,
                         size_t *lineno)
{
    while (model->pos < model->size) {
        const uint8_t *line = model->data + model->pos;
        size_t avail = model->size - model->pos;
        const uint8_t *newline = memchr (line, '\n', avail);
        size_t raw = newline ? (size_t) (newline - line) : avail;
        model->pos += newline ? raw + 1 : raw;
        model->lineno++;
        size_t payload = raw > 0 && line [raw - 1] == '\r' ? raw - 1 : raw;
        if (payload == 0)
            continue;
        *start = line;
        *len = payload;
        *lineno = model->lineno;
        return payload > max_payload ? -1 : 1;
    }
    return 0;
}

//  Reads the whole of path with the reader and checks every answer.
static void s_check_reader (const char *mode, const char *path, const char *name,
                            const uint8_t *data, size_t size, size_t max_payload)
{
    char err [512] = "";
    sl_taskfile_t *reader = sl_taskfile_new (path, max_payload, err, sizeof err);
    if (!reader)
        s_fail (mode, max_payload, "cannot open", err);
    if (strcmp (sl_taskfile_name (reader), name) != 0)
        s_fail (mode, max_payload, "wrong name", sl_taskfile_name (reader));
    if (sl_taskfile_lineno (reader) != 0)
        s_fail (mode, max_payload, "line number before the first task is not 0", NULL);

    s_model_t model = { data, size, 0, 0 };
    while (true) {
        const uint8_t *expect = NULL;
        size_t expect_len = 0, expect_lineno = 0;
        int expect_rc = s_model_next (&model, max_payload, &expect, &expect_len, &expect_lineno);

        const uint8_t *task = NULL;
        size_t task_size = 0;
        err [0] = '\0';
        int rc = sl_taskfile_next (reader, &task, &task_size, err, sizeof err);
        if (rc != expect_rc) {
            char what [128];
            snprintf (what, sizeof what, "next() returned %d, expected %d at line %zu", rc,
                      expect_rc, expect_lineno);
            s_fail (mode, max_payload, what, err);
        }
        if (rc == 1) {
            if (task_size != expect_len || !task || memcmp (task, expect, expect_len) != 0)
                s_fail (mode, max_payload, "task bytes differ", NULL);
            if (sl_taskfile_lineno (reader) != expect_lineno)
                s_fail (mode, max_payload, "wrong line number", NULL);
            continue;
        }
        if (rc == 0) {
            //  The end is sticky
            if (sl_taskfile_next (reader, &task, &task_size, err, sizeof err) != 0)
                s_fail (mode, max_payload, "next() after the end is not 0", err);
            break;
        }
        //  A too-long task: "PATH:LINE: ...", and the error is sticky
        char prefix [300];
        snprintf (prefix, sizeof prefix, "%s:%zu: ", name, expect_lineno);
        if (strncmp (err, prefix, strlen (prefix)) != 0)
            s_fail (mode, max_payload, "error does not start with PATH:LINE:", err);
        char again [512] = "";
        if (sl_taskfile_next (reader, &task, &task_size, again, sizeof again) != -1 ||
            strcmp (again, err) != 0)
            s_fail (mode, max_payload, "error is not sticky", again);
        break;
    }
    sl_taskfile_destroy (&reader);
    if (reader)
        s_fail (mode, max_payload, "destroy did not null the pointer", NULL);
}

//  Reads the input from a memfd, by path.
static void s_check_memfd (const uint8_t *data, size_t size, size_t max_payload)
{
    int fd = memfd_create ("fuzz_taskfile", MFD_CLOEXEC);
    if (fd < 0)
        s_fail ("memfd", max_payload, "harness: memfd_create failed", strerror (errno));
    for (size_t done = 0; done < size;) {
        ssize_t n = write (fd, data + done, size - done);
        if (n <= 0)
            s_fail ("memfd", max_payload, "harness: write failed", strerror (errno));
        done += (size_t) n;
    }
    char path [64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    s_check_reader ("memfd", path, path, data, size, max_payload);
    close (fd);
}

//  xorshift64: the packet boundaries are random but fixed by the input.
static uint64_t s_random (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

//  Reads the input as standard input, in packets, through a socket pair.
static void s_check_chunked (const uint8_t *data, size_t size, size_t max_payload, uint64_t seed)
{
    if (size > S_CHUNKED_MAX)
        return;
    int pair [2];
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        s_fail ("chunked", max_payload, "harness: socketpair failed", strerror (errno));
    int sndbuf = 1024 * 1024; //  the kernel caps it at wmem_max; 208 KiB suffice
    setsockopt (pair [1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    uint64_t state = seed | 1;
    size_t packets = 1 + s_random (&state) % S_PACKETS_MAX;
    size_t done = 0;
    for (size_t i = 0; done < size; i++) {
        size_t left = size - done;
        size_t piece = i + 1 >= packets ? left : 1 + s_random (&state) % (2 * size / packets + 1);
        if (piece > left)
            piece = left;
        if (piece > S_PACKET_MAX)
            piece = S_PACKET_MAX;
        //  A zero-length packet would read as the end of input: never sent
        ssize_t n = send (pair [1], data + done, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n != (ssize_t) piece)
            s_fail ("chunked", max_payload, "harness: send failed", strerror (errno));
        done += piece;
    }
    close (pair [1]);

    //  The reader takes standard input as it finds it and never closes it
    int saved = dup (STDIN_FILENO);
    if (dup2 (pair [0], STDIN_FILENO) < 0)
        s_fail ("chunked", max_payload, "harness: dup2 failed", strerror (errno));
    close (pair [0]);
    s_check_reader ("chunked", "-", "stdin", data, size, max_payload);
    if (saved >= 0) {
        dup2 (saved, STDIN_FILENO);
        close (saved);
    } else
        close (STDIN_FILENO);
}

//  FNV-1a of the input, to seed the packet boundaries.
static uint64_t s_hash (const uint8_t *data, size_t size)
{
    uint64_t hash = UINT64_C (14695981039346656037);
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ data [i]) * UINT64_C (1099511628211);
    return hash;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  Longest task, so that one limit passes every task and the next fails
    s_model_t model = { data, size, 0, 0 };
    size_t longest = 0, len, lineno;
    const uint8_t *start;
    while (s_model_next (&model, SIZE_MAX, &start, &len, &lineno) == 1)
        if (len > longest)
            longest = len;

    size_t limits [] = { SIZE_MAX, longest, longest > 1 ? longest - 1 : 0, 1, 2, 7 };
    uint64_t hash = s_hash (data, size);
    for (size_t i = 0; i < sizeof limits / sizeof limits [0]; i++) {
        if (limits [i] == 0)
            continue; //  max_payload must be > 0
        s_check_memfd (data, size, limits [i]);
        s_check_chunked (data, size, limits [i], hash + i);
    }
    return 0;
}
