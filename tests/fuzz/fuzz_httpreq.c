/*  fuzz_httpreq - libFuzzer target for the broker's HTTP request parser
    (broker/httpreq.c), the first code that reads the bytes of anyone who
    connects to --http.

    A parse never reads past size and, when it says the head is complete,
    gives an upper-case method, a path starting with '/', NUL-terminated
    fields within their buffers and a head size within the input; every
    prefix of a complete head is "incomplete" or "not HTTP", never complete.
    The query's numbers parse without a crash. A rule broken aborts, so
    libFuzzer keeps the input. Build and run with tests/fuzz/run.sh.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  A copy of exactly size bytes: ASan catches a read past the end.
    char *copy = (char *) malloc (size ? size : 1);
    if (!copy)
        return 0;
    memcpy (copy, data, size);
    httpreq_t req;
    int rc = httpreq_parse (copy, size, &req);
    if (rc < -1 || rc > 1)
        abort ();
    if (rc == 1) {
        size_t method_len = strnlen (req.method, sizeof req.method);
        if (method_len == 0 || method_len == sizeof req.method)
            abort ();
        for (size_t i = 0; i < method_len; i++)
            if (req.method [i] < 'A' || req.method [i] > 'Z')
                abort ();
        if (req.path [0] != '/' || strnlen (req.path, sizeof req.path) == sizeof req.path ||
            strnlen (req.query, sizeof req.query) == sizeof req.query)
            abort ();
        if (req.head_size == 0 || req.head_size > size)
            abort ();
        //  The head alone parses the same; a byte less is never complete.
        httpreq_t again;
        if (httpreq_parse (copy, req.head_size, &again) != 1 ||
            strcmp (again.path, req.path) != 0 || again.head_size != req.head_size)
            abort ();
        if (httpreq_parse (copy, req.head_size - 1, &again) == 1)
            abort ();
        uint64_t value;
        (void) httpreq_query_u64 (req.query, "after", &value);
        (void) httpreq_query_u64 (req.query, "limit", &value);
    }
    free (copy);
    return 0;
}
