/*  =========================================================================
    fuzz_token - libFuzzer target for the join token parser (sl_token)

    A token comes from outside: the command line, $SLUICE_TOKEN, a config
    file. Every input is decoded as a C string (cut at its first NUL, as
    those sources would). The decoder must either refuse it with a
    message, or accept it; an accepted token, trimmed of its blanks, must
    be exactly what encoding its keys gives back (one spelling per token),
    and encoding any keys must decode to the same keys. A difference is
    reported with abort(), so libFuzzer keeps the input.
    Build and run with tests/fuzz/run.sh.
    =========================================================================
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_token.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text [size] = '\0';
    sl_token_keys_t keys;
    char err [256] = "";
    if (sl_token_decode (text, &keys, err, sizeof err) == 0) {
        char again [SL_TOKEN_SIZE];
        sl_token_encode (&keys, again);
        const char *start = text;
        while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
            start++;
        if (strncmp (start, again, SL_TOKEN_LEN) != 0) {
            fprintf (stderr, "fuzz_token: accepted '%s', which encodes back as '%s'\n", text,
                     again);
            abort ();
        }
    } else if (!err [0]) {
        fprintf (stderr, "fuzz_token: refused without a message\n");
        abort ();
    }
    //  The other way: the input's bytes as keys.
    if (size >= sizeof keys) {
        memcpy (&keys, data, sizeof keys);
        char token [SL_TOKEN_SIZE];
        sl_token_encode (&keys, token);
        sl_token_keys_t back;
        if (sl_token_decode (token, &back, err, sizeof err) != 0 ||
            memcmp (&keys, &back, sizeof keys) != 0) {
            fprintf (stderr, "fuzz_token: '%s' does not decode to its keys: %s\n", token, err);
            abort ();
        }
    }
    free (text);
    return 0;
}
