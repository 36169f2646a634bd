/*  httpreq - parses the head of an HTTP/1.x request, see httpreq.h.  */
#include "httpreq.h"

#include <string.h>

//  Copies n bytes of from into a buffer of len bytes, NUL-terminated;
//  false if they did not fit (then cut).
static bool s_copy (char *to, size_t len, const char *from, size_t n)
{
    bool fits = n < len;
    if (!fits)
        n = len - 1;
    memcpy (to, from, n);
    to [n] = '\0';
    return fits;
}

int httpreq_parse (const char *data, size_t size, httpreq_t *req)
{
    memset (req, 0, sizeof *req);
    //  Request line: METHOD SP TARGET SP HTTP/x.y CRLF
    const char *eol = (const char *) memchr (data, '\n', size);
    size_t line_len = eol ? (size_t) (eol - data) : size;
    const char *sp1 = (const char *) memchr (data, ' ', line_len);
    if (!sp1 || sp1 == data)
        return eol || size > HTTPREQ_METHOD_MAX ? -1 : 0;
    if ((size_t) (sp1 - data) >= HTTPREQ_METHOD_MAX)
        return -1;
    for (const char *p = data; p < sp1; p++)
        if (*p < 'A' || *p > 'Z')
            return -1;
    if (!eol)
        return 0;
    const char *target = sp1 + 1;
    const char *sp2 = (const char *) memchr (target, ' ', (size_t) (eol - target));
    if (!sp2 || sp2 == target || *target != '/' || (size_t) (eol - sp2) < 9 ||
        strncmp (sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    //  The head ends with an empty line (LF LF or LF CR LF).
    size_t end = 0;
    for (size_t i = (size_t) (eol - data); i + 1 < size && !end; i++) {
        if (data [i] != '\n')
            continue;
        if (data [i + 1] == '\n')
            end = i + 2;
        else if (i + 2 < size && data [i + 1] == '\r' && data [i + 2] == '\n')
            end = i + 3;
    }
    if (!end)
        return 0;
    s_copy (req->method, sizeof req->method, data, (size_t) (sp1 - data));
    size_t target_len = (size_t) (sp2 - target);
    const char *query = (const char *) memchr (target, '?', target_len);
    size_t path_len = query ? (size_t) (query - target) : target_len;
    bool fits = s_copy (req->path, sizeof req->path, target, path_len);
    if (query)
        fits = s_copy (req->query, sizeof req->query, query + 1, target_len - path_len - 1) && fits;
    req->too_long = !fits;
    req->head_size = end;
    return 1;
}

bool httpreq_query_u64 (const char *query, const char *name, uint64_t *value)
{
    size_t name_len = strlen (name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr (p, '&');
        size_t len = amp ? (size_t) (amp - p) : strlen (p);
        if (len > name_len && strncmp (p, name, name_len) == 0 && p [name_len] == '=') {
            const char *digits = p + name_len + 1;
            size_t ndigits = len - name_len - 1;
            if (ndigits == 0 || ndigits > 20)
                return false;
            uint64_t v = 0;
            for (size_t i = 0; i < ndigits; i++) {
                if (digits [i] < '0' || digits [i] > '9')
                    return false;
                unsigned d = (unsigned) (digits [i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                    return false;
                v = v * 10 + d;
            }
            *value = v;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}
