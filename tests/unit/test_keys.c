/*  Tests of sl_keys: the join keys file. Made 0600 and once; a file that
    others may read is refused with a message saying how to fix it;
    rotation replaces the client pair only, atomically; a malformed file
    is an error naming the file and line; the token made from the file
    carries the keys in it.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "sl_keys.h"

typedef struct {
    char dir [64];   //  a fresh temporary directory
    char path [128]; //  dir/sub/cluster.keys (sub made by sl_keys_open)
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/test_keys.XXXXXX");
    if (!f || !mkdtemp (f->dir))
        return -1;
    snprintf (f->path, sizeof f->path, "%s/sub/" SL_KEYS_FILE, f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    char cmd [128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system (cmd);
    free (f);
    return rc == 0 ? 0 : -1;
}

static void s_write (const char *path, const char *text, mode_t mode)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    chmod (path, mode);
}

static void test_keys_open_makes_a_private_file_once (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    sl_keys_t keys, again;
    bool created = false;
    char err [512] = "";
    assert_int_equal (sl_keys_open (f->path, &keys, &created, err, sizeof err), 0);
    assert_true (created);
    struct stat st;
    assert_int_equal (stat (f->path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    char sub [128];
    snprintf (sub, sizeof sub, "%s/sub", f->dir);
    assert_int_equal (stat (sub, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0700);
    //  The second time it is read, not made again.
    assert_int_equal (sl_keys_open (f->path, &again, &created, err, sizeof err), 0);
    assert_false (created);
    assert_memory_equal (&keys, &again, sizeof keys);
    //  The public halves belong to the secret ones.
    char derived [41];
    assert_int_equal (zmq_curve_public (derived, keys.broker_secret), 0);
    assert_string_equal (derived, keys.broker_public);
    assert_string_not_equal (keys.broker_public, keys.client_public);
}

static void test_keys_refuses_a_file_others_may_read (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    sl_keys_t keys;
    bool created;
    char err [512] = "";
    assert_int_equal (sl_keys_open (f->path, &keys, &created, err, sizeof err), 0);
    const mode_t modes [] = { 0644, 0640, 0604, 0660, 0602 };
    for (size_t i = 0; i < sizeof modes / sizeof modes [0]; i++) {
        chmod (f->path, modes [i]);
        err [0] = '\0';
        assert_int_equal (sl_keys_load (f->path, &keys, err, sizeof err), -1);
        assert_non_null (strstr (err, f->path));
        assert_non_null (strstr (err, "chmod 600"));
        assert_int_equal (sl_keys_open (f->path, &keys, &created, err, sizeof err), -1);
    }
    chmod (f->path, 0400);
    assert_int_equal (sl_keys_load (f->path, &keys, err, sizeof err), 0);
}

static void test_keys_rotate_replaces_the_client_pair_only (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    sl_keys_t before, after, read_back;
    bool created;
    char err [512] = "";
    assert_int_equal (sl_keys_open (f->path, &before, &created, err, sizeof err), 0);
    assert_int_equal (sl_keys_rotate (f->path, &after, err, sizeof err), 0);
    assert_string_equal (before.broker_public, after.broker_public);
    assert_string_equal (before.broker_secret, after.broker_secret);
    assert_string_not_equal (before.client_public, after.client_public);
    assert_int_equal (sl_keys_load (f->path, &read_back, err, sizeof err), 0);
    assert_memory_equal (&after, &read_back, sizeof after);
    struct stat st;
    assert_int_equal (stat (f->path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    //  A missing file is not made by a rotation.
    char other [160];
    snprintf (other, sizeof other, "%s/none", f->dir);
    assert_int_equal (sl_keys_rotate (other, &after, err, sizeof err), -1);
    assert_int_equal (access (other, F_OK), -1);
}

static void test_keys_token_carries_the_keys (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    sl_keys_t keys;
    bool created;
    char err [512] = "";
    assert_int_equal (sl_keys_open (f->path, &keys, &created, err, sizeof err), 0);
    char token [SL_TOKEN_SIZE];
    sl_keys_token (&keys, token);
    sl_token_keys_t raw;
    assert_int_equal (sl_token_decode (token, &raw, err, sizeof err), 0);
    char server [41], client_public [41], client_secret [41];
    sl_keys_from_token (&raw, server, client_public, client_secret);
    assert_string_equal (server, keys.broker_public);
    assert_string_equal (client_public, keys.client_public);
    assert_string_equal (client_secret, keys.client_secret);
}

//  Copies body into text with KEY replaced by key.
static void s_expand (char *text, size_t len, const char *body, const char *key)
{
    const char *at = strstr (body, "KEY");
    if (at)
        snprintf (text, len, "%.*s%s%s", (int) (at - body), body, key, at + 3);
    else
        snprintf (text, len, "%s", body);
}

static void test_keys_malformed_files_name_file_and_line (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    char path [160];
    snprintf (path, sizeof path, "%s/bad", f->dir);
    sl_keys_t good;
    bool created;
    char err [512] = "";
    assert_int_equal (sl_keys_open (f->path, &good, &created, err, sizeof err), 0);
    char text [512];
    struct {
        const char *body;
        const char *want;
    } cases [] = {
        { "", "no broker-secret line" },
        { "# only a comment\n", "no broker-secret line" },
        { "broker-secret = KEY\n", "no client-secret line" },
        { "broker-secret = KEY\nclient-secret = short\n",
          ":2: client-secret is not a CurveZMQ key" },
        { "broker-secret = KEY\nwhat = ever\n", ":2: unknown name 'what'" },
        //  (no key here: a Z85 key may itself hold '=')
        { "broker-secret\n", ":1: not a 'name = value' line" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_expand (text, sizeof text, cases [i].body, good.broker_secret);
        s_write (path, text, 0600);
        sl_keys_t keys;
        err [0] = '\0';
        assert_int_equal (sl_keys_load (path, &keys, err, sizeof err), -1);
        if (!strstr (err, cases [i].want) || !strstr (err, path))
            fail_msg ("case %zu: '%s' lacks '%s'", i, err, cases [i].want);
    }
    //  Comments, blank lines and spaces are fine.
    snprintf (text, sizeof text, "# keys\n\n  broker-secret=%s  \nclient-secret =   %s\n",
              good.broker_secret, good.client_secret);
    s_write (path, text, 0600);
    sl_keys_t keys;
    assert_int_equal (sl_keys_load (path, &keys, err, sizeof err), 0);
    assert_memory_equal (&keys, &good, sizeof keys);
    //  A missing file names itself.
    assert_int_equal (sl_keys_load ("/nonexistent/keys", &keys, err, sizeof err), -1);
    assert_non_null (strstr (err, "/nonexistent/keys"));
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_keys_open_makes_a_private_file_once, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_refuses_a_file_others_may_read, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_rotate_replaces_the_client_pair_only, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_token_carries_the_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_malformed_files_name_file_and_line, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
