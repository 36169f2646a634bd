/*  bearer - the HTTP endpoint's token check, see bearer.h.  */
#include "bearer.h"

#include <string.h>
#include <strings.h>

//  Compares a and b (len bytes each) without stopping at the first
//  difference, so the time taken says nothing about the token.
static bool s_same (const char *a, const char *b, size_t len)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char) (a [i] ^ b [i]);
    return diff == 0;
}

bool bearer_allows (const char *token, const char *head, size_t size)
{
    static const char name [] = "authorization:";
    static const char scheme [] = "bearer ";
    size_t token_len = strlen (token);
    const char *end = head + size;
    //  Header lines start after the request line's CRLF (or LF).
    const char *line = memchr (head, '\n', size);
    while (line && ++line < end) {
        const char *eol = memchr (line, '\n', (size_t) (end - line));
        size_t len = (size_t) ((eol ? eol : end) - line);
        if (len > 0 && line [len - 1] == '\r')
            len--;
        if (len == 0)
            break; //  the blank line: end of the head
        if (len > sizeof name - 1 && strncasecmp (line, name, sizeof name - 1) == 0) {
            const char *value = line + sizeof name - 1;
            size_t value_len = len - (sizeof name - 1);
            while (value_len > 0 && (*value == ' ' || *value == '\t')) {
                value++;
                value_len--;
            }
            while (value_len > 0 && (value [value_len - 1] == ' ' || value [value_len - 1] == '\t'))
                value_len--;
            return value_len == sizeof scheme - 1 + token_len &&
                   strncasecmp (value, scheme, sizeof scheme - 1) == 0 &&
                   s_same (value + sizeof scheme - 1, token, token_len);
        }
        line = eol;
    }
    return false;
}
