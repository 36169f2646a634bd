/*  httpreq - parses the head of an HTTP/1.x request, for the broker's HTTP
    endpoint (http.c). Outside input: every byte may be hostile, so the
    parser reads only within size, never writes past its buffers, and
    tells apart "not yet complete" from "not HTTP at all".

    Pure: no sockets, no clock, no allocation.
*/
#ifndef HTTPREQ_H_INCLUDED
#define HTTPREQ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPREQ_METHOD_MAX 16 //  bytes of method kept, with its NUL
#define HTTPREQ_PATH_MAX 256  //  bytes of path kept, with its NUL
#define HTTPREQ_QUERY_MAX 256 //  bytes of query kept, with its NUL

typedef struct {
    char method [HTTPREQ_METHOD_MAX]; //  "GET", "HEAD"... (upper-case letters only)
    char path [HTTPREQ_PATH_MAX];     //  the target up to '?', as sent (not decoded)
    char query [HTTPREQ_QUERY_MAX];   //  after '?' ("" = none), as sent
    bool too_long;                    //  the target did not fit path or query
    size_t head_size;                 //  bytes of the head, its empty line included
} httpreq_t;

//  Parses the request head at data (size bytes). Returns 1 when the head
//  is complete (req filled), 0 when more bytes are needed, -1 when the
//  bytes are not an HTTP/1.x request line.
int httpreq_parse (const char *data, size_t size, httpreq_t *req);

//  The value of name in query ("a=1&b=2") as a decimal uint64: true with
//  *value set, false if absent or not a number (no sign, no overflow).
bool httpreq_query_u64 (const char *query, const char *name, uint64_t *value);

#endif
