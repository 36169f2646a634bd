/*  Tests of sl_token: the join token's text form. Every token decodes to
    the keys it was made of; anything else a user may paste (cut short,
    mistyped, another format, blanks, NUL-free garbage) is an error that
    says what is wrong, never a crash or a wrong key.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_token.h"

static void s_fill (sl_token_keys_t *keys, unsigned seed)
{
    srand (seed);
    for (size_t i = 0; i < SL_TOKEN_KEY_BYTES; i++) {
        keys->server_public [i] = (uint8_t) rand ();
        keys->client_secret [i] = (uint8_t) rand ();
    }
}

static void s_expect_error (const char *text, const char *want)
{
    sl_token_keys_t keys;
    memset (&keys, 0x5A, sizeof keys);
    sl_token_keys_t untouched = keys;
    char err [256] = "";
    if (sl_token_decode (text, &keys, err, sizeof err) != -1)
        fail_msg ("'%s' decoded", text);
    if (!strstr (err, want))
        fail_msg ("'%s': error '%s' lacks '%s'", text, err, want);
    assert_memory_equal (&keys, &untouched, sizeof keys);
}

static void test_token_round_trips (void **state)
{
    (void) state;
    for (unsigned seed = 1; seed <= 500; seed++) {
        sl_token_keys_t keys, back;
        s_fill (&keys, seed);
        if (seed == 1)
            memset (&keys, 0, sizeof keys);
        if (seed == 2)
            memset (&keys, 0xFF, sizeof keys);
        char token [SL_TOKEN_SIZE];
        sl_token_encode (&keys, token);
        assert_int_equal (strlen (token), SL_TOKEN_LEN);
        assert_memory_equal (token, SL_TOKEN_PREFIX, strlen (SL_TOKEN_PREFIX));
        //  Shell-safe: base64url only after the prefix.
        for (size_t i = strlen (SL_TOKEN_PREFIX); i < SL_TOKEN_LEN; i++)
            assert_non_null (strchr (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", token [i]));
        char err [256] = "";
        if (sl_token_decode (token, &back, err, sizeof err) != 0)
            fail_msg ("seed %u: %s: %s", seed, token, err);
        assert_memory_equal (&keys, &back, sizeof keys);
    }
}

static void test_token_allows_blanks_around (void **state)
{
    (void) state;
    sl_token_keys_t keys, back;
    s_fill (&keys, 7);
    char token [SL_TOKEN_SIZE], padded [SL_TOKEN_SIZE + 8];
    sl_token_encode (&keys, token);
    snprintf (padded, sizeof padded, " \t%s\r\n", token);
    char err [256] = "";
    assert_int_equal (sl_token_decode (padded, &back, err, sizeof err), 0);
    assert_memory_equal (&keys, &back, sizeof keys);
}

static void test_token_rejects_wrong_prefix_or_empty (void **state)
{
    (void) state;
    s_expect_error ("", "empty");
    s_expect_error ("  \n", "empty");
    s_expect_error ("hello", "does not start with SLUICE1-");
    s_expect_error ("sluice1-AAAA", "does not start with SLUICE1-");
    s_expect_error ("SLUICE2-AAAAAAAA", "another sluice version");
    s_expect_error ("SLUICE1", "does not start with SLUICE1-");
}

static void test_token_rejects_cut_or_long (void **state)
{
    (void) state;
    sl_token_keys_t keys;
    s_fill (&keys, 9);
    char token [SL_TOKEN_SIZE];
    sl_token_encode (&keys, token);
    for (size_t len = strlen (SL_TOKEN_PREFIX); len < SL_TOKEN_LEN; len++) {
        char cut [SL_TOKEN_SIZE];
        memcpy (cut, token, len);
        cut [len] = '\0';
        s_expect_error (cut, len == strlen (SL_TOKEN_PREFIX) ? "" : "cut short");
    }
    char longer [SL_TOKEN_SIZE + 2];
    snprintf (longer, sizeof longer, "%sA", token);
    s_expect_error (longer, "100 characters");
}

static void test_token_rejects_bad_characters (void **state)
{
    (void) state;
    sl_token_keys_t keys;
    s_fill (&keys, 11);
    char token [SL_TOKEN_SIZE];
    sl_token_encode (&keys, token);
    const char bad [] = { '+', '/', '=', '.', ' ', '$', '\x80', '\xff' };
    for (size_t i = 0; i < sizeof bad; i++) {
        char copy [SL_TOKEN_SIZE];
        memcpy (copy, token, sizeof copy);
        copy [40] = bad [i];
        s_expect_error (copy, "character 41");
    }
}

//  Any one character changed is caught: by the checksum, or, in the last
//  character, by its unused bits; a token never decodes to other keys.
static void test_token_detects_every_single_change (void **state)
{
    (void) state;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (unsigned seed = 1; seed <= 5; seed++) {
        sl_token_keys_t keys;
        s_fill (&keys, 100 + seed);
        char token [SL_TOKEN_SIZE];
        sl_token_encode (&keys, token);
        for (size_t at = strlen (SL_TOKEN_PREFIX); at < SL_TOKEN_LEN; at++)
            for (const char *c = alphabet; *c; c++) {
                if (*c == token [at])
                    continue;
                char copy [SL_TOKEN_SIZE];
                memcpy (copy, token, sizeof copy);
                copy [at] = *c;
                sl_token_keys_t back;
                char err [256] = "";
                if (sl_token_decode (copy, &back, err, sizeof err) == 0)
                    fail_msg ("%s (position %zu changed) decoded", copy, at);
            }
    }
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_token_round_trips),
        cmocka_unit_test (test_token_allows_blanks_around),
        cmocka_unit_test (test_token_rejects_wrong_prefix_or_empty),
        cmocka_unit_test (test_token_rejects_cut_or_long),
        cmocka_unit_test (test_token_rejects_bad_characters),
        cmocka_unit_test (test_token_detects_every_single_change),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
