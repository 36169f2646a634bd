/*  journal - the broker's write-ahead journal, see journal.h.

    State: the directory (an fd kept open for openat, fsync and the flock),
    the older segments with their sizes, the current segment's fd and how
    many of its bytes are committed, and one buffer holding the records
    appended since the last good commit. The buffer maps onto the file: its
    first byte goes at offset `committed`; `written` says how much of it a
    failed commit already wrote, so a retry goes on from there (pwrite at
    explicit offsets, so the file position never matters).

    Reading (replay, scan) goes through a window reader: one buffer over a
    range of the file, refilled with pread when a record falls outside it.

    Deciding whether valid records follow a bad one could cost, done
    naively, a CRC over up to 64 MiB at every byte offset after the bad
    spot. s_valid_after instead keeps the CRC of every prefix of the rest of
    the file at MARK-byte intervals and derives the CRC of any range from
    two prefixes (as zlib's crc32_combine does), so each offset costs a few
    hundred operations and the scan is linear in the bytes it covers.
*/
#include "journal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE 16 //  segment header: magic, version, reserved
#define RECORD_HEAD 9  //  record header: size, crc, type
#define FORMAT_VERSION 1
#define NAME_PREFIX "journal-"
#define NAME_DIGITS 16
#define NAME_SUFFIX ".wal"
#define NAME_SIZE 40                     //  room for a segment file name (any u64)
#define PATH_SIZE (PATH_MAX + NAME_SIZE) //  room for dir/name in messages
#define MAX_SEGMENT 9999999999999999ULL  //  largest id 16 digits can hold
#define READ_CHUNK (1u << 20)            //  bytes the reader fetches at a time
#define BUFFER_KEEP (16u << 20)          //  a commit frees a buffer bigger than this
#define MARK 256                         //  prefix CRC interval of s_valid_after
#define MARK_CHUNK (64u << 10)           //  bytes read at a time to extend the marks
#define PROBE_NAME ".sluice-journal-probe"

static const uint8_t s_header [HEADER_SIZE] = {
    'S', 'L', 'U', 'I', 'C', 'E', 'J', '1', FORMAT_VERSION, 0, 0, 0, 0, 0, 0, 0
};

typedef struct {
    uint64_t id;    //  segment id
    uint64_t bytes; //  size of its file
} s_segment_t;

struct _sl_journal_t {
    char *dir;            //  directory path, trailing slashes removed (owned)
    int dir_fd;           //  the directory, open and flocked
    sl_fsync_t mode;      //  when commits sync
    bool replayed;        //  replay was called (it may only be once)
    s_segment_t *segs;    //  segments before the current one, oldest first
    size_t nsegs;         //  entries in segs
    size_t segs_cap;      //  room in segs
    uint64_t older_bytes; //  bytes in the segments of segs
    int fd;               //  current segment, read-write; -1 until replay succeeds
    uint64_t segment;     //  current segment id, 0 until replay succeeds
    uint64_t committed;   //  bytes of the current segment committed; buf goes after them
    uint8_t *buf;         //  records appended and not yet committed
    size_t len;           //  bytes in buf
    size_t cap;           //  room in buf
    size_t written;       //  bytes of buf already written by a commit that then failed
    bool failed;          //  the last commit failed
    uint64_t torn_bytes;  //  torn tail (and torn header) bytes dropped by replay
};

//  --- CRC32C ---------------------------------------------------------------

//  Byte table of the reflected Castagnoli polynomial 0x82F63B78.
static const uint32_t s_crc_table [256] = {
    0x00000000, 0xF26B8303, 0xE13B70F7, 0x1350F3F4, 0xC79A971F, 0x35F1141C, 0x26A1E7E8, 0xD4CA64EB,
    0x8AD958CF, 0x78B2DBCC, 0x6BE22838, 0x9989AB3B, 0x4D43CFD0, 0xBF284CD3, 0xAC78BF27, 0x5E133C24,
    0x105EC76F, 0xE235446C, 0xF165B798, 0x030E349B, 0xD7C45070, 0x25AFD373, 0x36FF2087, 0xC494A384,
    0x9A879FA0, 0x68EC1CA3, 0x7BBCEF57, 0x89D76C54, 0x5D1D08BF, 0xAF768BBC, 0xBC267848, 0x4E4DFB4B,
    0x20BD8EDE, 0xD2D60DDD, 0xC186FE29, 0x33ED7D2A, 0xE72719C1, 0x154C9AC2, 0x061C6936, 0xF477EA35,
    0xAA64D611, 0x580F5512, 0x4B5FA6E6, 0xB93425E5, 0x6DFE410E, 0x9F95C20D, 0x8CC531F9, 0x7EAEB2FA,
    0x30E349B1, 0xC288CAB2, 0xD1D83946, 0x23B3BA45, 0xF779DEAE, 0x05125DAD, 0x1642AE59, 0xE4292D5A,
    0xBA3A117E, 0x4851927D, 0x5B016189, 0xA96AE28A, 0x7DA08661, 0x8FCB0562, 0x9C9BF696, 0x6EF07595,
    0x417B1DBC, 0xB3109EBF, 0xA0406D4B, 0x522BEE48, 0x86E18AA3, 0x748A09A0, 0x67DAFA54, 0x95B17957,
    0xCBA24573, 0x39C9C670, 0x2A993584, 0xD8F2B687, 0x0C38D26C, 0xFE53516F, 0xED03A29B, 0x1F682198,
    0x5125DAD3, 0xA34E59D0, 0xB01EAA24, 0x42752927, 0x96BF4DCC, 0x64D4CECF, 0x77843D3B, 0x85EFBE38,
    0xDBFC821C, 0x2997011F, 0x3AC7F2EB, 0xC8AC71E8, 0x1C661503, 0xEE0D9600, 0xFD5D65F4, 0x0F36E6F7,
    0x61C69362, 0x93AD1061, 0x80FDE395, 0x72966096, 0xA65C047D, 0x5437877E, 0x4767748A, 0xB50CF789,
    0xEB1FCBAD, 0x197448AE, 0x0A24BB5A, 0xF84F3859, 0x2C855CB2, 0xDEEEDFB1, 0xCDBE2C45, 0x3FD5AF46,
    0x7198540D, 0x83F3D70E, 0x90A324FA, 0x62C8A7F9, 0xB602C312, 0x44694011, 0x5739B3E5, 0xA55230E6,
    0xFB410CC2, 0x092A8FC1, 0x1A7A7C35, 0xE811FF36, 0x3CDB9BDD, 0xCEB018DE, 0xDDE0EB2A, 0x2F8B6829,
    0x82F63B78, 0x709DB87B, 0x63CD4B8F, 0x91A6C88C, 0x456CAC67, 0xB7072F64, 0xA457DC90, 0x563C5F93,
    0x082F63B7, 0xFA44E0B4, 0xE9141340, 0x1B7F9043, 0xCFB5F4A8, 0x3DDE77AB, 0x2E8E845F, 0xDCE5075C,
    0x92A8FC17, 0x60C37F14, 0x73938CE0, 0x81F80FE3, 0x55326B08, 0xA759E80B, 0xB4091BFF, 0x466298FC,
    0x1871A4D8, 0xEA1A27DB, 0xF94AD42F, 0x0B21572C, 0xDFEB33C7, 0x2D80B0C4, 0x3ED04330, 0xCCBBC033,
    0xA24BB5A6, 0x502036A5, 0x4370C551, 0xB11B4652, 0x65D122B9, 0x97BAA1BA, 0x84EA524E, 0x7681D14D,
    0x2892ED69, 0xDAF96E6A, 0xC9A99D9E, 0x3BC21E9D, 0xEF087A76, 0x1D63F975, 0x0E330A81, 0xFC588982,
    0xB21572C9, 0x407EF1CA, 0x532E023E, 0xA145813D, 0x758FE5D6, 0x87E466D5, 0x94B49521, 0x66DF1622,
    0x38CC2A06, 0xCAA7A905, 0xD9F75AF1, 0x2B9CD9F2, 0xFF56BD19, 0x0D3D3E1A, 0x1E6DCDEE, 0xEC064EED,
    0xC38D26C4, 0x31E6A5C7, 0x22B65633, 0xD0DDD530, 0x0417B1DB, 0xF67C32D8, 0xE52CC12C, 0x1747422F,
    0x49547E0B, 0xBB3FFD08, 0xA86F0EFC, 0x5A048DFF, 0x8ECEE914, 0x7CA56A17, 0x6FF599E3, 0x9D9E1AE0,
    0xD3D3E1AB, 0x21B862A8, 0x32E8915C, 0xC083125F, 0x144976B4, 0xE622F5B7, 0xF5720643, 0x07198540,
    0x590AB964, 0xAB613A67, 0xB831C993, 0x4A5A4A90, 0x9E902E7B, 0x6CFBAD78, 0x7FAB5E8C, 0x8DC0DD8F,
    0xE330A81A, 0x115B2B19, 0x020BD8ED, 0xF0605BEE, 0x24AA3F05, 0xD6C1BC06, 0xC5914FF2, 0x37FACCF1,
    0x69E9F0D5, 0x9B8273D6, 0x88D28022, 0x7AB90321, 0xAE7367CA, 0x5C18E4C9, 0x4F48173D, 0xBD23943E,
    0xF36E6F75, 0x0105EC76, 0x12551F82, 0xE03E9C81, 0x34F4F86A, 0xC69F7B69, 0xD5CF889D, 0x27A40B9E,
    0x79B737BA, 0x8BDCB4B9, 0x988C474D, 0x6AE7C44E, 0xBE2DA0A5, 0x4C4623A6, 0x5F16D052, 0xAD7D5351
};

//  x^(2^k) modulo the polynomial, for k = 0..31 (the sequence has period 31).
static const uint32_t s_x2n_table [32] = {
    0x40000000, 0x20000000, 0x08000000, 0x00800000, 0x00008000, 0x82F63B78, 0x6EA2D55C, 0x18B8EA18,
    0x510AC59A, 0xB82BE955, 0xB8FDB1E7, 0x88E56F72, 0x74C360A4, 0xE4172B16, 0x0D65762A, 0x35D73A62,
    0x28461564, 0xBF455269, 0xE2EA32DC, 0xFE7740E6, 0xF946610B, 0x3C204F8F, 0x538586E3, 0x59726915,
    0x734D5309, 0xBC1AC763, 0x7D0722CC, 0xD289CABE, 0xE94CA9BC, 0x05B74F3F, 0xA51E1F42, 0x40000000
};

uint32_t sl_crc32c (uint32_t crc, const uint8_t *data, size_t size)
{
    assert (data || size == 0);
    crc = ~crc;
    for (size_t i = 0; i < size; i++)
        crc = s_crc_table [(crc ^ data [i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

//  a * b modulo the polynomial (bit 31 is x^0, reflected like the CRC).
static uint32_t s_multmodp (uint32_t a, uint32_t b)
{
    uint32_t m = (uint32_t) 1 << 31;
    uint32_t p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ 0x82F63B78 : b >> 1;
    }
    return p;
}

//  The CRC of A then B, given the CRCs of A and of B and B's length:
//  crc (AB) = crc (A) * x^(8 * length of B) ^ crc (B). This shifts crc (A).
static uint32_t s_crc_shift (uint32_t crc, uint64_t bytes)
{
    uint32_t p = (uint32_t) 1 << 31; //  x^0
    unsigned k = 3;                  //  bytes are 2^3 bits
    for (; bytes; bytes >>= 1, k++)
        if (bytes & 1)
            p = s_multmodp (s_x2n_table [k & 31], p);
    return s_multmodp (p, crc);
}

//  --- Little helpers ---------------------------------------------------------

static uint32_t s_get32 (const uint8_t *p)
{
    return (uint32_t) p [0] | (uint32_t) p [1] << 8 | (uint32_t) p [2] << 16 |
           (uint32_t) p [3] << 24;
}

static void s_put32 (uint8_t *p, uint32_t value)
{
    p [0] = (uint8_t) value;
    p [1] = (uint8_t) (value >> 8);
    p [2] = (uint8_t) (value >> 16);
    p [3] = (uint8_t) (value >> 24);
}

static void s_error (char *err, size_t errlen, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_error (char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, errlen, format, args);
    va_end (args);
}

//  What the operator can do about a failed write, sync or create in dir.
static void s_advice (const char *dir, int errnum, char *text, size_t size)
{
    switch (errnum) {
        case ENOSPC:
        case EDQUOT:
            snprintf (text, size, "free disk space in %s", dir);
            break;
        case EFBIG:
            snprintf (text, size,
                      "raise the broker's file size limit (ulimit -f) or rotate segments sooner");
            break;
        case EROFS:
            snprintf (text, size, "the file system holding %s is read-only; remount it read-write",
                      dir);
            break;
        case EIO:
            snprintf (text, size, "check the disk holding %s (see the kernel log)", dir);
            break;
        case EACCES:
        case EPERM:
            snprintf (text, size, "fix the permissions of %s", dir);
            break;
        default:
            snprintf (text, size, "check the disk and file system holding %s", dir);
            break;
    }
}

static void s_name (uint64_t id, char *name)
{
    snprintf (name, NAME_SIZE, NAME_PREFIX "%016" PRIu64 NAME_SUFFIX, id);
}

static void s_path (sl_journal_t *self, uint64_t id, char *path)
{
    snprintf (path, PATH_SIZE, "%s/" NAME_PREFIX "%016" PRIu64 NAME_SUFFIX, self->dir, id);
}

//  Id of a segment file name, or 0 if name is not one.
static uint64_t s_parse_name (const char *name)
{
    size_t prefix = strlen (NAME_PREFIX);
    if (strlen (name) != prefix + NAME_DIGITS + strlen (NAME_SUFFIX) ||
        memcmp (name, NAME_PREFIX, prefix) != 0 ||
        strcmp (name + prefix + NAME_DIGITS, NAME_SUFFIX) != 0)
        return 0;
    uint64_t id = 0;
    for (size_t i = prefix; i < prefix + NAME_DIGITS; i++) {
        if (name [i] < '0' || name [i] > '9')
            return 0;
        id = id * 10 + (uint64_t) (name [i] - '0');
    }
    return id;
}

//  Writes size bytes at offset, resuming short and interrupted writes.
//  Returns 0, or -1 with errno; *done says how many bytes were written.
static int s_pwrite_all (int fd, const uint8_t *data, size_t size, uint64_t offset, size_t *done)
{
    *done = 0;
    while (*done < size) {
        ssize_t n = pwrite (fd, data + *done, size - *done, (off_t) (offset + *done));
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; //  cannot happen on a regular file; never loop on it
            return -1;
        }
        *done += (size_t) n;
    }
    return 0;
}

//  fsync or fdatasync, retried when interrupted. Returns 0 or -1 with errno.
static int s_sync_fd (int fd, bool data_only)
{
    int rc;
    do
        rc = data_only ? fdatasync (fd) : fsync (fd);
    while (rc == -1 && errno == EINTR);
    return rc;
}

//  Makes the directory's entries durable. Some file systems cannot sync a
//  directory (EINVAL); that is no error. Returns 0 or -1 with errno.
static int s_sync_dir (sl_journal_t *self)
{
    if (s_sync_fd (self->dir_fd, false) == -1 && errno != EINVAL)
        return -1;
    return 0;
}

//  mkdir -p: creates dir and missing parents (dir itself mode 0700).
//  Returns 0 or -1 with errno.
static int s_mkdirs (const char *dir)
{
    char *copy = strdup (dir);
    if (!copy)
        return -1;
    int rc = 0;
    for (char *slash = strchr (copy + 1, '/'); slash && rc == 0; slash = strchr (slash + 1, '/')) {
        *slash = '\0';
        if (mkdir (copy, 0755) == -1 && errno != EEXIST)
            rc = -1;
        *slash = '/';
    }
    if (rc == 0 && mkdir (copy, 0700) == -1 && errno != EEXIST)
        rc = -1;
    int errnum = errno;
    free (copy);
    errno = errnum;
    return rc;
}

//  --- Reading ----------------------------------------------------------------

//  A window over the first `limit` bytes of a file.
typedef struct {
    int fd;         //  the file (not owned)
    uint64_t limit; //  bytes of the file to read
    size_t chunk;   //  bytes to fetch at least on a refill
    uint8_t *buf;   //  the window (owned)
    size_t cap;     //  room in buf
    uint64_t start; //  file offset of buf [0]
    size_t len;     //  bytes valid in buf
} s_reader_t;

//  Points *ptr at `size` bytes from `offset`, valid until the next call.
//  Returns 0, 1 if they run past the limit (or the end of the file), or
//  -1 with errno.
static int s_view (s_reader_t *r, uint64_t offset, size_t size, const uint8_t **ptr)
{
    if (offset > r->limit || size > r->limit - offset)
        return 1;
    if (offset >= r->start && offset - r->start <= r->len && size <= r->len - (offset - r->start)) {
        *ptr = r->buf + (offset - r->start);
        return 0;
    }
    size_t want = size > r->chunk ? size : r->chunk;
    if (want > r->limit - offset)
        want = (size_t) (r->limit - offset);
    if (want > r->cap) {
        uint8_t *buf = realloc (r->buf, want);
        if (!buf) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = buf;
        r->cap = want;
    }
    r->start = offset;
    r->len = 0;
    while (r->len < want) {
        ssize_t n = pread (r->fd, r->buf + r->len, want - r->len, (off_t) (offset + r->len));
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        if (n == 0)
            break;
        r->len += (size_t) n;
    }
    if (r->len < size)
        return 1;
    *ptr = r->buf;
    return 0;
}

typedef struct {
    uint8_t type;        //  record type
    const uint8_t *data; //  in the reader's window
    uint32_t size;       //  bytes at data
} s_record_t;

//  Reads the record at offset. Returns 0 with *rec set, 1 if no valid
//  record starts there (*why says what is wrong), or -1 with errno.
static int s_record (s_reader_t *r, uint64_t offset, s_record_t *rec, const char **why)
{
    const uint8_t *p;
    int rc = s_view (r, offset, RECORD_HEAD, &p);
    if (rc != 0) {
        *why = "record header cut short";
        return rc;
    }
    uint32_t size = s_get32 (p);
    uint32_t crc = s_get32 (p + 4);
    if (size > SL_JOURNAL_MAX_RECORD) {
        *why = "record size over the limit";
        return 1;
    }
    rc = s_view (r, offset, RECORD_HEAD + (size_t) size, &p);
    if (rc != 0) {
        *why = "record runs past the end of the file";
        return rc;
    }
    if (sl_crc32c (0, p + 8, 1 + (size_t) size) != crc) {
        *why = "checksum mismatch";
        return 1;
    }
    if (p [8] == 0) {
        *why = "record type 0";
        return 1;
    }
    rec->type = p [8];
    rec->data = p + RECORD_HEAD;
    rec->size = size;
    return 0;
}

//  Prefix CRCs of a file from `from`, for s_valid_after.
typedef struct {
    int fd;          //  the file (not owned)
    uint64_t from;   //  prefixes start here
    uint64_t limit;  //  and end at most here
    uint32_t *marks; //  marks [j] = CRC of bytes [from, from + j * MARK) (owned)
    size_t nmarks;   //  entries in marks (at least 1)
    size_t cap;      //  room in marks
    uint8_t *chunk;  //  read buffer, MARK_CHUNK bytes (owned)
} s_prefixes_t;

//  Reads exactly size bytes at offset. Returns 0, or -1 with errno (EIO if
//  the file is shorter than expected).
static int s_pread_all (int fd, uint8_t *buf, size_t size, uint64_t offset)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread (fd, buf + got, size - got, (off_t) (offset + got));
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; //  the file shrank under us
            return -1;
        }
        got += (size_t) n;
    }
    return 0;
}

//  Sets *crc to the CRC32C of bytes [from, offset), offset <= limit.
//  Returns 0 or -1 with errno.
static int s_prefix_crc (s_prefixes_t *f, uint64_t offset, uint32_t *crc)
{
    uint64_t j = (offset - f->from) / MARK;
    while (f->nmarks <= j) {
        //  Extend the marks by up to a chunk, in whole MARKs; the loop makes
        //  progress because mark j ends at or before offset <= limit.
        uint64_t at = f->from + (uint64_t) (f->nmarks - 1) * MARK;
        size_t want = MARK_CHUNK;
        if (want > f->limit - at)
            want = (size_t) (f->limit - at);
        want -= want % MARK;
        assert (want >= MARK);
        if (f->cap - f->nmarks < want / MARK) {
            size_t cap = f->cap * 2 + want / MARK;
            uint32_t *marks = realloc (f->marks, cap * sizeof *marks);
            if (!marks) {
                errno = ENOMEM;
                return -1;
            }
            f->marks = marks;
            f->cap = cap;
        }
        if (s_pread_all (f->fd, f->chunk, want, at) == -1)
            return -1;
        uint32_t c = f->marks [f->nmarks - 1];
        for (size_t k = 0; k < want; k += MARK) {
            c = sl_crc32c (c, f->chunk + k, MARK);
            f->marks [f->nmarks++] = c;
        }
    }
    uint64_t at = f->from + j * MARK;
    uint8_t tail [MARK];
    size_t rest = (size_t) (offset - at);
    if (s_pread_all (f->fd, tail, rest, at) == -1)
        return -1;
    *crc = sl_crc32c (f->marks [j], tail, rest);
    return 0;
}

//  Whether a valid record (size within the limit and the file, type not 0,
//  CRC good) starts at any offset after bad_at. Returns 1, 0, or -1 with
//  errno. The CRC of each candidate comes from two prefix CRCs, so this
//  is linear in the bytes after bad_at (and keeps 4 bytes per MARK of them).
static int s_valid_after (s_reader_t *r, uint64_t bad_at)
{
    s_prefixes_t f = { .fd = r->fd, .from = bad_at + 1, .limit = r->limit, .cap = 1024 };
    f.marks = malloc (f.cap * sizeof *f.marks);
    f.chunk = malloc (MARK_CHUNK);
    int found = 0;
    if (!f.marks || !f.chunk) {
        errno = ENOMEM;
        found = -1;
    } else
        f.marks [f.nmarks++] = 0;
    for (uint64_t at = f.from; found == 0 && at < f.limit && f.limit - at >= RECORD_HEAD; at++) {
        const uint8_t *p;
        int rc = s_view (r, at, RECORD_HEAD, &p);
        if (rc != 0) {
            found = rc == 1 ? 0 : -1; //  1: the file shrank; nothing more to see
            break;
        }
        uint32_t size = s_get32 (p);
        uint32_t crc = s_get32 (p + 4);
        if (p [8] == 0 || size > SL_JOURNAL_MAX_RECORD || size > f.limit - at - RECORD_HEAD)
            continue;
        uint32_t head, whole;
        if (s_prefix_crc (&f, at + 8, &head) == -1 ||
            s_prefix_crc (&f, at + RECORD_HEAD + size, &whole) == -1)
            found = -1;
        else if ((whole ^ s_crc_shift (head, 1 + (uint64_t) size)) == crc)
            found = 1;
    }
    free (f.marks);
    free (f.chunk);
    return found;
}

//  --- Segments ---------------------------------------------------------------

//  What replay and scan share: the callback and the count.
typedef struct {
    sl_journal_fn *fn; //  called per record, or NULL
    void *arg;         //  its argument
    const char *what;  //  "replay" or "scan", for messages
    int64_t count;     //  records seen
    char *err;         //  where messages go
    size_t errlen;
} s_pass_t;

//  Checks the segment header. Returns 0 if good; 1 if the file is a header
//  cut short or never written (shorter than a header, or exactly a header
//  of zeros), which only the caller's last segment may be; -1 with err.
static int s_check_header (s_reader_t *r, const char *path, s_pass_t *pass)
{
    size_t have = r->limit < HEADER_SIZE ? (size_t) r->limit : HEADER_SIZE;
    const uint8_t *p = s_header;
    int rc = have ? s_view (r, 0, have, &p) : 0;
    if (rc != 0) {
        s_error (pass->err, pass->errlen, "cannot read journal segment %s: %s", path,
                 rc == 1 ? "it shrank while being read" : strerror (errno));
        return -1;
    }
    static const uint8_t zeros [HEADER_SIZE] = { 0 };
    if (have < HEADER_SIZE && memcmp (p, s_header, have) == 0)
        return 1;
    if (r->limit == HEADER_SIZE && memcmp (p, zeros, HEADER_SIZE) == 0)
        return 1;
    if (have < HEADER_SIZE || memcmp (p, s_header, 8) != 0) {
        s_error (pass->err, pass->errlen,
                 "journal segment %s does not start with a sluice journal header; it is not "
                 "a journal segment or its header is damaged: move it out of the journal "
                 "directory to start without it",
                 path);
        return -1;
    }
    uint32_t version = s_get32 (p + 8);
    if (version != FORMAT_VERSION) {
        s_error (pass->err, pass->errlen,
                 "journal segment %s has format version %" PRIu32
                 ", this broker reads version %d; run the broker that wrote it, or move the "
                 "journal directory aside to start empty",
                 path, version, FORMAT_VERSION);
        return -1;
    }
    return 0; //  the reserved word is not checked: it is for future use
}

//  Calls pass->fn for each record after the header, up to r->limit.
//  Returns 0 if every byte belonged to a good record; 1 at the first bad
//  record, with its offset in *bad_at and what is wrong in *why; -1 with
//  err (read error, or fn refused a record).
static int s_walk (s_reader_t *r, uint64_t segment, const char *path, s_pass_t *pass,
                   uint64_t *bad_at, const char **why)
{
    uint64_t at = HEADER_SIZE;
    while (at < r->limit) {
        s_record_t rec = { 0 };
        int rc = s_record (r, at, &rec, why);
        if (rc == -1) {
            s_error (pass->err, pass->errlen, "cannot read journal segment %s: %s", path,
                     strerror (errno));
            return -1;
        }
        if (rc == 1) {
            *bad_at = at;
            return 1;
        }
        if (pass->fn && pass->fn (rec.type, rec.data, rec.size, segment, pass->arg) == -1) {
            if (!pass->err || pass->err [0] == '\0')
                s_error (pass->err, pass->errlen,
                         "journal %s stopped: the callback refused the record at byte %" PRIu64
                         " of %s",
                         pass->what, at, path);
            return -1;
        }
        pass->count++;
        at += RECORD_HEAD + (uint64_t) rec.size;
    }
    return 0;
}

static void s_damaged (sl_journal_t *self, s_pass_t *pass, const char *path, uint64_t at,
                       const char *why, const char *context)
{
    s_error (pass->err, pass->errlen,
             "journal segment %s is damaged at byte %" PRIu64
             " (%s)%s; the journal is damaged in the middle: move %s aside to start empty, "
             "or remove segment %s to lose what it holds",
             path, at, why, context, self->dir, path);
}

//  Creates segment id with its header, synced with the directory unless
//  the mode is OFF. Returns its fd (read-write), or -1 with err and no file.
static int s_segment_create (sl_journal_t *self, uint64_t id, char *err, size_t errlen)
{
    char name [NAME_SIZE], path [PATH_SIZE], advice [PATH_SIZE];
    s_name (id, name);
    s_path (self, id, path);
    int fd = openat (self->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        int errnum = errno;
        s_advice (self->dir, errnum, advice, sizeof advice);
        s_error (err, errlen, "cannot create journal segment %s: %s; %s", path, strerror (errnum),
                 advice);
        return -1;
    }
    size_t done;
    bool sync = self->mode != SL_FSYNC_OFF;
    if (s_pwrite_all (fd, s_header, HEADER_SIZE, 0, &done) == -1 ||
        (sync && (s_sync_fd (fd, true) == -1 || s_sync_dir (self) == -1))) {
        int errnum = errno;
        close (fd);
        unlinkat (self->dir_fd, name, 0);
        s_advice (self->dir, errnum, advice, sizeof advice);
        s_error (err, errlen, "cannot write the header of new journal segment %s: %s; %s", path,
                 strerror (errnum), advice);
        return -1;
    }
    return fd;
}

//  Makes room for one more older segment. Returns 0 or -1.
static int s_segs_reserve (sl_journal_t *self)
{
    if (self->nsegs < self->segs_cap)
        return 0;
    size_t cap = self->segs_cap ? self->segs_cap * 2 : 16;
    s_segment_t *segs = realloc (self->segs, cap * sizeof *segs);
    if (!segs)
        return -1;
    self->segs = segs;
    self->segs_cap = cap;
    return 0;
}

//  Compares segment ids for qsort.
static int s_compare_ids (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a;
    uint64_t y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

//  Lists the segment ids in the directory, sorted. Returns 0 with *ids_p
//  (caller frees) and *count_p, or -1 with err.
static int s_list (sl_journal_t *self, uint64_t **ids_p, size_t *count_p, char *err, size_t errlen)
{
    *ids_p = NULL;
    *count_p = 0;
    int fd = openat (self->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd == -1 ? NULL : fdopendir (fd);
    if (!dir) {
        s_error (err, errlen, "cannot list journal directory %s: %s", self->dir, strerror (errno));
        if (fd != -1)
            close (fd);
        return -1;
    }
    uint64_t *ids = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *entry;
    errno = 0;
    while (rc == 0 && (entry = readdir (dir))) {
        uint64_t id = s_parse_name (entry->d_name);
        if (id == 0) {
            if (strcmp (entry->d_name, NAME_PREFIX "0000000000000000" NAME_SUFFIX) == 0) {
                s_error (err, errlen,
                         "journal directory %s holds %s, but segment ids start at 1: move "
                         "that file away",
                         self->dir, entry->d_name);
                rc = -1;
            }
            errno = 0;
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *grown = realloc (ids, cap * sizeof *ids);
            if (!grown) {
                s_error (err, errlen, "out of memory listing journal directory %s", self->dir);
                rc = -1;
                break;
            }
            ids = grown;
        }
        ids [count++] = id;
        errno = 0;
    }
    if (rc == 0 && errno != 0) {
        s_error (err, errlen, "cannot list journal directory %s: %s", self->dir, strerror (errno));
        rc = -1;
    }
    closedir (dir);
    if (rc == -1) {
        free (ids);
        return -1;
    }
    if (count)
        qsort (ids, count, sizeof *ids, s_compare_ids);
    *ids_p = ids;
    *count_p = count;
    return 0;
}

//  Replays one segment; the last one becomes the current segment, its torn
//  tail or torn header repaired. Returns 0 or -1 with err.
static int s_replay_segment (sl_journal_t *self, uint64_t id, bool last, s_pass_t *pass)
{
    char name [NAME_SIZE], path [PATH_SIZE];
    s_name (id, name);
    s_path (self, id, path);
    int fd = openat (self->dir_fd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (fd == -1 || fstat (fd, &st) == -1) {
        s_error (pass->err, pass->errlen, "cannot open journal segment %s: %s", path,
                 strerror (errno));
        if (fd != -1)
            close (fd);
        return -1;
    }
    s_reader_t reader = { .fd = fd, .limit = (uint64_t) st.st_size, .chunk = READ_CHUNK };
    uint64_t size = reader.limit;
    int rc = -1;
    int header = s_check_header (&reader, path, pass);
    if (header == -1)
        goto close_fd;
    if (header == 1) {
        //  A crash right after the segment was created: write the header again.
        size_t done;
        if (!last) {
            s_damaged (self, pass, path, 0, "header cut short", " and is not the last segment");
            goto close_fd;
        }
        if (ftruncate (fd, 0) == -1 || s_pwrite_all (fd, s_header, HEADER_SIZE, 0, &done) == -1 ||
            s_sync_fd (fd, false) == -1 || s_sync_dir (self) == -1) {
            s_error (pass->err, pass->errlen, "cannot rewrite the header of journal segment %s: %s",
                     path, strerror (errno));
            goto close_fd;
        }
        self->torn_bytes += size;
        size = HEADER_SIZE;
    } else {
        uint64_t bad_at = 0;
        const char *why = NULL;
        int walked = s_walk (&reader, id, path, pass, &bad_at, &why);
        if (walked == -1)
            goto close_fd;
        if (walked == 1) {
            if (!last) {
                s_damaged (self, pass, path, bad_at, why, " and is not the last segment");
                goto close_fd;
            }
            int follows = s_valid_after (&reader, bad_at);
            if (follows == -1) {
                s_error (pass->err, pass->errlen, "cannot read journal segment %s: %s", path,
                         strerror (errno));
                goto close_fd;
            }
            if (follows == 1) {
                s_damaged (self, pass, path, bad_at, why, " and valid records follow");
                goto close_fd;
            }
            //  The torn tail of a crash: drop it.
            if (ftruncate (fd, (off_t) bad_at) == -1 || s_sync_fd (fd, false) == -1) {
                s_error (pass->err, pass->errlen,
                         "cannot truncate the torn tail of journal segment %s at byte %" PRIu64
                         ": %s",
                         path, bad_at, strerror (errno));
                goto close_fd;
            }
            self->torn_bytes += size - bad_at;
            size = bad_at;
        }
    }
    if (last) {
        self->fd = fd;
        fd = -1;
        self->segment = id;
        self->committed = size;
    } else {
        if (s_segs_reserve (self) == -1) {
            s_error (pass->err, pass->errlen, "out of memory replaying the journal in %s",
                     self->dir);
            goto close_fd;
        }
        self->segs [self->nsegs++] = (s_segment_t){ id, size };
        self->older_bytes += size;
    }
    rc = 0;
close_fd:
    if (fd != -1)
        close (fd);
    free (reader.buf);
    return rc;
}

//  Scans one segment's records up to limit. Returns 0 or -1 with err.
static int s_scan_segment (sl_journal_t *self, int fd, uint64_t id, uint64_t limit, s_pass_t *pass)
{
    char path [PATH_SIZE];
    s_path (self, id, path);
    s_reader_t reader = { .fd = fd, .limit = limit, .chunk = READ_CHUNK };
    uint64_t bad_at = 0;
    const char *why = NULL;
    int rc = s_check_header (&reader, path, pass);
    if (rc == 1) {
        s_damaged (self, pass, path, 0, "header cut short", "");
        rc = -1;
    }
    if (rc == 0)
        rc = s_walk (&reader, id, path, pass, &bad_at, &why);
    if (rc == 1) {
        s_damaged (self, pass, path, bad_at, why, " (found by a scan)");
        rc = -1;
    }
    free (reader.buf);
    return rc;
}

//  --- API --------------------------------------------------------------------

int sl_fsync_parse (const char *name, sl_fsync_t *mode)
{
    assert (mode);
    if (!name)
        return -1;
    if (strcmp (name, "always") == 0)
        *mode = SL_FSYNC_ALWAYS;
    else if (strcmp (name, "batch") == 0)
        *mode = SL_FSYNC_BATCH;
    else if (strcmp (name, "off") == 0)
        *mode = SL_FSYNC_OFF;
    else
        return -1;
    return 0;
}

sl_journal_t *sl_journal_new (const char *dir, sl_fsync_t mode, char *err, size_t errlen)
{
    assert (dir);
    assert (mode == SL_FSYNC_ALWAYS || mode == SL_FSYNC_BATCH || mode == SL_FSYNC_OFF);
    if (*dir == '\0') {
        s_error (err, errlen, "the journal directory name is empty");
        return NULL;
    }
    sl_journal_t *self = calloc (1, sizeof *self);
    if (!self || !(self->dir = strdup (dir))) {
        s_error (err, errlen, "out of memory opening journal %s", dir);
        free (self);
        return NULL;
    }
    self->fd = -1;
    self->dir_fd = -1;
    self->mode = mode;
    size_t len = strlen (self->dir);
    while (len > 1 && self->dir [len - 1] == '/')
        self->dir [--len] = '\0';

    if (s_mkdirs (self->dir) == -1) {
        s_error (err, errlen,
                 "cannot create journal directory %s: %s; create it, or choose "
                 "another directory",
                 self->dir, strerror (errno));
        goto fail;
    }
    self->dir_fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd == -1) {
        s_error (err, errlen, "cannot open journal directory %s: %s; choose another directory",
                 self->dir, strerror (errno));
        goto fail;
    }
    if (flock (self->dir_fd, LOCK_EX | LOCK_NB) == -1) {
        if (errno == EWOULDBLOCK)
            s_error (err, errlen,
                     "journal directory %s is in use by another journal (it is "
                     "locked); stop the broker using it, or choose another directory",
                     self->dir);
        else
            s_error (err, errlen, "cannot lock journal directory %s: %s", self->dir,
                     strerror (errno));
        goto fail;
    }
    //  Probe: a directory we cannot create files in fails now, not at the
    //  first rotate.
    int probe = openat (self->dir_fd, PROBE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (probe == -1 || close (probe) == -1 || unlinkat (self->dir_fd, PROBE_NAME, 0) == -1) {
        s_error (err, errlen,
                 "journal directory %s is not writable: %s; fix its permissions, "
                 "or choose another directory",
                 self->dir, strerror (errno));
        goto fail;
    }
    return self;
fail:
    sl_journal_destroy (&self);
    return NULL;
}

void sl_journal_destroy (sl_journal_t **self_p)
{
    assert (self_p);
    sl_journal_t *self = *self_p;
    if (!self)
        return;
    if (self->fd != -1) {
        sl_journal_commit (self, NULL, 0);
        close (self->fd);
    }
    if (self->dir_fd != -1)
        close (self->dir_fd); //  releases the lock
    free (self->buf);
    free (self->segs);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

int64_t sl_journal_replay (sl_journal_t *self, sl_journal_fn *fn, void *arg, char *err,
                           size_t errlen)
{
    assert (self);
    assert (!self->replayed);
    self->replayed = true;
    if (err && errlen)
        err [0] = '\0';
    s_pass_t pass = { .fn = fn, .arg = arg, .what = "replay", .err = err, .errlen = errlen };
    uint64_t *ids;
    size_t count;
    if (s_list (self, &ids, &count, err, errlen) == -1)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = s_replay_segment (self, ids [i], i + 1 == count, &pass);
    free (ids);
    if (rc == 0 && count == 0) {
        self->fd = s_segment_create (self, 1, err, errlen);
        if (self->fd == -1)
            rc = -1;
        else {
            self->segment = 1;
            self->committed = HEADER_SIZE;
        }
    }
    return rc == 0 ? pass.count : -1;
}

uint64_t sl_journal_torn_bytes (sl_journal_t *self)
{
    assert (self);
    return self->torn_bytes;
}

int sl_journal_append (sl_journal_t *self, uint8_t type, const uint8_t *data, size_t size,
                       char *err, size_t errlen)
{
    assert (self);
    assert (self->fd != -1); //  replay succeeded first
    assert (data || size == 0);
    if (type == 0) {
        s_error (err, errlen, "journal record type 0 is not allowed");
        return -1;
    }
    if (size > SL_JOURNAL_MAX_RECORD) {
        s_error (err, errlen, "journal record of %zu bytes is over the limit of %u bytes", size,
                 SL_JOURNAL_MAX_RECORD);
        return -1;
    }
    size_t need = RECORD_HEAD + size;
    if (need > self->cap - self->len) {
        if (self->len > SIZE_MAX / 2 - need) {
            s_error (err, errlen, "out of memory buffering a journal record of %zu bytes", size);
            return -1;
        }
        size_t cap = self->cap ? self->cap : 4096;
        while (cap < self->len + need)
            cap *= 2;
        uint8_t *buf = realloc (self->buf, cap);
        if (!buf) {
            s_error (err, errlen, "out of memory buffering a journal record of %zu bytes", size);
            return -1;
        }
        self->buf = buf;
        self->cap = cap;
    }
    uint8_t *p = self->buf + self->len;
    s_put32 (p, (uint32_t) size);
    p [8] = type;
    if (size)
        memcpy (p + RECORD_HEAD, data, size);
    s_put32 (p + 4, sl_crc32c (0, p + 8, 1 + size));
    self->len += need;
    return 0;
}

int sl_journal_commit (sl_journal_t *self, char *err, size_t errlen)
{
    assert (self);
    if (self->len == 0) {
        self->failed = false;
        return 0;
    }
    assert (self->fd != -1);
    char path [PATH_SIZE], advice [PATH_SIZE];
    size_t done;
    if (s_pwrite_all (self->fd, self->buf + self->written, self->len - self->written,
                      self->committed + self->written, &done) == -1) {
        int errnum = errno;
        self->written += done;
        self->failed = true;
        s_path (self, self->segment, path);
        s_advice (self->dir, errnum, advice, sizeof advice);
        s_error (err, errlen,
                 "cannot write journal segment %s: %s; %s (%zu bytes of records stay buffered "
                 "and the next commit writes them)",
                 path, strerror (errnum), advice, self->len);
        return -1;
    }
    self->written = self->len;
    if (self->mode != SL_FSYNC_OFF && s_sync_fd (self->fd, true) == -1) {
        int errnum = errno;
        //  The kernel may have dropped the pages that failed: write again
        //  everything since the last good sync.
        self->written = 0;
        self->failed = true;
        s_path (self, self->segment, path);
        s_advice (self->dir, errnum, advice, sizeof advice);
        s_error (err, errlen,
                 "cannot sync journal segment %s: %s; %s (%zu bytes of records stay buffered "
                 "and the next commit writes them again)",
                 path, strerror (errnum), advice, self->len);
        return -1;
    }
    self->committed += self->len;
    self->len = 0;
    self->written = 0;
    self->failed = false;
    if (self->cap > BUFFER_KEEP) {
        free (self->buf);
        self->buf = NULL;
        self->cap = 0;
    }
    return 0;
}

size_t sl_journal_uncommitted (sl_journal_t *self)
{
    assert (self);
    return self->len;
}

bool sl_journal_failed (sl_journal_t *self)
{
    assert (self);
    return self->failed;
}

uint64_t sl_journal_segment (sl_journal_t *self)
{
    assert (self);
    return self->segment;
}

uint64_t sl_journal_segment_bytes (sl_journal_t *self)
{
    assert (self);
    return self->committed;
}

uint64_t sl_journal_total_bytes (sl_journal_t *self)
{
    assert (self);
    return self->older_bytes + self->committed;
}

uint64_t sl_journal_rotate (sl_journal_t *self, char *err, size_t errlen)
{
    assert (self);
    assert (self->fd != -1);
    if (sl_journal_commit (self, err, errlen) == -1)
        return 0;
    if (self->segment >= MAX_SEGMENT) {
        s_error (err, errlen, "journal in %s has used every segment id", self->dir);
        return 0;
    }
    if (s_segs_reserve (self) == -1) {
        s_error (err, errlen, "out of memory rotating the journal in %s", self->dir);
        return 0;
    }
    uint64_t id = self->segment + 1;
    int fd = s_segment_create (self, id, err, errlen);
    if (fd == -1)
        return 0;
    close (self->fd); //  committed (and synced unless OFF) already
    self->segs [self->nsegs++] = (s_segment_t){ self->segment, self->committed };
    self->older_bytes += self->committed;
    self->fd = fd;
    self->segment = id;
    self->committed = HEADER_SIZE;
    return id;
}

int sl_journal_delete_before (sl_journal_t *self, uint64_t segment, char *err, size_t errlen)
{
    assert (self);
    assert (self->fd != -1);
    int deleted = 0;
    int rc = 0;
    size_t gone = 0; //  entries of segs handled, from the front
    char name [NAME_SIZE], path [PATH_SIZE], advice [PATH_SIZE];
    while (gone < self->nsegs && self->segs [gone].id < segment) {
        s_name (self->segs [gone].id, name);
        if (unlinkat (self->dir_fd, name, 0) == -1 && errno != ENOENT) {
            int errnum = errno;
            s_path (self, self->segs [gone].id, path);
            s_advice (self->dir, errnum, advice, sizeof advice);
            s_error (err, errlen, "cannot delete journal segment %s: %s; %s", path,
                     strerror (errnum), advice);
            rc = -1;
            break;
        }
        deleted++;
        self->older_bytes -= self->segs [gone].bytes;
        gone++;
    }
    memmove (self->segs, self->segs + gone, (self->nsegs - gone) * sizeof *self->segs);
    self->nsegs -= gone;
    if (rc == 0 && deleted && self->mode != SL_FSYNC_OFF && s_sync_dir (self) == -1) {
        s_error (err, errlen, "cannot sync journal directory %s: %s", self->dir, strerror (errno));
        rc = -1;
    }
    return rc == 0 ? deleted : -1;
}

int64_t sl_journal_scan (sl_journal_t *self, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                         size_t errlen)
{
    assert (self);
    assert (self->fd != -1);
    if (err && errlen)
        err [0] = '\0';
    s_pass_t pass = { .fn = fn, .arg = arg, .what = "scan", .err = err, .errlen = errlen };
    char name [NAME_SIZE], path [PATH_SIZE];
    for (size_t i = 0; i < self->nsegs; i++) {
        if (self->segs [i].id < from)
            continue;
        s_name (self->segs [i].id, name);
        int fd = openat (self->dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            s_path (self, self->segs [i].id, path);
            s_error (err, errlen, "cannot open journal segment %s: %s", path, strerror (errno));
            return -1;
        }
        int rc = s_scan_segment (self, fd, self->segs [i].id, self->segs [i].bytes, &pass);
        close (fd);
        if (rc == -1)
            return -1;
    }
    if (self->segment >= from &&
        s_scan_segment (self, self->fd, self->segment, self->committed, &pass) == -1)
        return -1;
    return pass.count;
}

const char *sl_journal_dir (sl_journal_t *self)
{
    assert (self);
    return self->dir;
}
