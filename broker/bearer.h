/*  bearer - the check that guards the broker's HTTP endpoint when it is
    bound beyond loopback and the broker has a join token: the request must
    carry `Authorization: Bearer <token>`. Pure: a request head in, a
    yes or no out; http.c calls it once, before answering anything.
*/
#ifndef BEARER_H_INCLUDED
#define BEARER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  True if the request head (size bytes, not NUL-terminated; its end is
//  the blank line or size) has an Authorization header whose value is
//  "Bearer " and then exactly token. The header name and the scheme are
//  case-insensitive; the token is compared in constant time.
bool bearer_allows (const char *token, const char *head, size_t size);

#endif
