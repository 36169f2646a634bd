/*  sl_token - the join token's text form, see sl_token.h.  */
#include "sl_token.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PAYLOAD_BYTES (2 * SL_TOKEN_KEY_BYTES + 4) //  keys and CRC-32

static const char s_alphabet [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

//  CRC-32 (IEEE 802.3, as zlib's), bit by bit: 64 bytes, once per start.
static uint32_t s_crc32 (const uint8_t *data, size_t size)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) {
        crc ^= data [i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

//  The value of a base64url character, or -1.
static int s_value (char c)
{
    const char *at = c ? strchr (s_alphabet, c) : NULL;
    return at ? (int) (at - s_alphabet) : -1;
}

static bool s_blank (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void sl_token_encode (const sl_token_keys_t *keys, char out [SL_TOKEN_SIZE])
{
    uint8_t bytes [PAYLOAD_BYTES];
    memcpy (bytes, keys->server_public, SL_TOKEN_KEY_BYTES);
    memcpy (bytes + SL_TOKEN_KEY_BYTES, keys->client_secret, SL_TOKEN_KEY_BYTES);
    uint32_t crc = s_crc32 (bytes, 2 * SL_TOKEN_KEY_BYTES);
    for (int i = 0; i < 4; i++)
        bytes [2 * SL_TOKEN_KEY_BYTES + i] = (uint8_t) (crc >> (24 - 8 * i));
    char *at = out + sizeof SL_TOKEN_PREFIX - 1;
    memcpy (out, SL_TOKEN_PREFIX, sizeof SL_TOKEN_PREFIX - 1);
    //  68 bytes: 22 groups of 3 (88 characters), then 2 bytes (3 characters).
    for (size_t i = 0; i < PAYLOAD_BYTES; i += 3) {
        uint32_t group = (uint32_t) bytes [i] << 16;
        size_t left = PAYLOAD_BYTES - i;
        if (left > 1)
            group |= (uint32_t) bytes [i + 1] << 8;
        if (left > 2)
            group |= bytes [i + 2];
        size_t chars = left >= 3 ? 4 : left + 1;
        for (size_t c = 0; c < chars; c++)
            *at++ = s_alphabet [(group >> (18 - 6 * c)) & 63];
    }
    *at = '\0';
}

int sl_token_decode (const char *text, sl_token_keys_t *keys, char *err, size_t errlen)
{
    const size_t prefix = sizeof SL_TOKEN_PREFIX - 1;
    while (s_blank (*text))
        text++;
    size_t len = strlen (text);
    while (len > 0 && s_blank (text [len - 1]))
        len--;
    if (len == 0) {
        snprintf (err, errlen, "empty: give the token the broker printed (SLUICE1-...)");
        return -1;
    }
    if (len < prefix || memcmp (text, SL_TOKEN_PREFIX, prefix) != 0) {
        bool other = len > 6 && memcmp (text, "SLUICE", 6) == 0;
        snprintf (err, errlen,
                  "not a sluice join token: it does not start with " SL_TOKEN_PREFIX "%s",
                  other ? " (a token of another sluice version?)" : "");
        return -1;
    }
    for (size_t i = prefix; i < len; i++)
        if (s_value (text [i]) < 0) {
            snprintf (err, errlen,
                      "not a sluice join token: character %zu is not one of A-Z a-z 0-9 - _",
                      i + 1);
            return -1;
        }
    if (len != SL_TOKEN_LEN) {
        snprintf (err, errlen, "not a whole sluice join token: %zu characters, a token has %zu%s",
                  len, (size_t) SL_TOKEN_LEN,
                  len < SL_TOKEN_LEN ? " (cut short when copied?)" : "");
        return -1;
    }
    uint8_t bytes [PAYLOAD_BYTES];
    const char *at = text + prefix;
    for (size_t i = 0; i < PAYLOAD_BYTES; i += 3) {
        size_t left = PAYLOAD_BYTES - i;
        size_t chars = left >= 3 ? 4 : left + 1;
        uint32_t group = 0;
        for (size_t c = 0; c < chars; c++)
            group |= (uint32_t) s_value (*at++) << (18 - 6 * c);
        bytes [i] = (uint8_t) (group >> 16);
        if (left > 1)
            bytes [i + 1] = (uint8_t) (group >> 8);
        if (left > 2)
            bytes [i + 2] = (uint8_t) group;
        //  The last character may carry bits past the payload: they must
        //  be zero, so that one token has exactly one spelling.
        if (left < 3 && (group & (left == 2 ? 0xFFu : 0xFFFFu))) {
            snprintf (err, errlen, "not a sluice join token: its last character is wrong");
            return -1;
        }
    }
    uint32_t crc = s_crc32 (bytes, 2 * SL_TOKEN_KEY_BYTES);
    uint32_t said = (uint32_t) bytes [64] << 24 | (uint32_t) bytes [65] << 16 |
                    (uint32_t) bytes [66] << 8 | bytes [67];
    if (crc != said) {
        snprintf (err, errlen, "damaged: its checksum does not match (a character mistyped?)");
        return -1;
    }
    memcpy (keys->server_public, bytes, SL_TOKEN_KEY_BYTES);
    memcpy (keys->client_secret, bytes + SL_TOKEN_KEY_BYTES, SL_TOKEN_KEY_BYTES);
    return 0;
}
