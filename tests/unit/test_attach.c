/*  test_attach - unit tests of the broker's attachment store
    (broker/attach.c): a file is held only once whole, checked and named;
    pieces out of order are dropped; a failed attempt leaves nothing behind
    and keeps its reason until a new attempt starts. Each test gets its own
    mkdtemp directory. (A full disk is tested with a real one in
    tests/integration/attach_disk_full.sh.)
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "sl_util.h"

#define SIZE 10000
#define PIECE 3000

typedef struct {
    char dir [64];           //  the store's directory
    sl_attach_store_t *store; //  the store under test
    uint8_t data [SIZE];     //  the file
    char hash [41];          //  its SHA-1
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf (fx->dir, sizeof fx->dir, "/tmp/test_attach.XXXXXX");
    if (!mkdtemp (fx->dir) || !(fx->store = sl_attach_store_new (fx->dir))) {
        free (fx);
        return -1;
    }
    for (size_t i = 0; i < SIZE; i++)
        fx->data [i] = (uint8_t) (i * 7 + i / 256);
    char path [128], err [256];
    uint64_t size;
    snprintf (path, sizeof path, "%s/source", fx->dir);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (fx->data, 1, SIZE, f) != SIZE || fclose (f) ||
        sl_file_sha1 (path, fx->hash, &size, err, sizeof err) || unlink (path))
        return -1;
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    sl_attach_store_destroy (&fx->store);
    DIR *dir = opendir (fx->dir);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        char path [400];
        snprintf (path, sizeof path, "%s/%s", fx->dir, entry->d_name);
        if (entry->d_name [0] != '.')
            unlink (path);
    }
    if (dir)
        closedir (dir);
    rmdir (fx->dir);
    free (fx);
    return 0;
}

//  Files in the store's directory.
static int s_files (fixture_t *fx)
{
    DIR *dir = opendir (fx->dir);
    int n = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir)))
        n += entry->d_name [0] != '.';
    if (dir)
        closedir (dir);
    return n;
}

//  Puts the file from `from` on, in PIECE-byte pieces.
static void s_put_from (fixture_t *fx, size_t from)
{
    for (size_t at = from; at < SIZE; at += PIECE) {
        size_t n = SIZE - at < PIECE ? SIZE - at : PIECE;
        assert_int_equal (sl_attach_put (fx->store, fx->hash, at, SIZE, fx->data + at, n), 0);
    }
}

static void test_attach_held_only_when_whole (void **state)
{
    fixture_t *fx = *state;
    assert_false (sl_attach_held (fx->store, fx->hash));
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), 0);
    assert_false (sl_attach_held (fx->store, fx->hash));
    assert_int_equal (sl_attach_partial (fx->store, fx->hash), PIECE);
    s_put_from (fx, PIECE);
    assert_true (sl_attach_held (fx->store, fx->hash));
    assert_int_equal (sl_attach_partial (fx->store, fx->hash), 0);
    assert_null (sl_attach_error (fx->store, fx->hash));
    assert_int_equal (s_files (fx), 1); //  no .part beside it
    char path [256];
    sl_attach_path (fx->store, fx->hash, path, sizeof path);
    zfile_t *file = zfile_new (NULL, path);
    assert_non_null (file);
    assert_int_equal (zfile_cursize (file), SIZE);
    zfile_destroy (&file);
    //  Pieces of a held file change nothing.
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), 0);
    assert_int_equal (s_files (fx), 1);
}

static void test_attach_piece_out_of_order_is_dropped (void **state)
{
    fixture_t *fx = *state;
    //  Without a first piece, a later one makes no file.
    assert_int_equal (sl_attach_put (fx->store, fx->hash, PIECE, SIZE, fx->data + PIECE, PIECE),
                      0);
    assert_int_equal (s_files (fx), 0);
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), 0);
    //  A gap, and a piece again: dropped, the .part unchanged.
    assert_int_equal (
        sl_attach_put (fx->store, fx->hash, 2 * PIECE, SIZE, fx->data + 2 * PIECE, PIECE), 0);
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), 0);
    assert_int_equal (sl_attach_partial (fx->store, fx->hash), PIECE);
    //  Sent again from the start: the pieces it has are dropped, the rest taken.
    s_put_from (fx, 0);
    assert_true (sl_attach_held (fx->store, fx->hash));
}

static void test_attach_wrong_content_leaves_nothing_and_says_why (void **state)
{
    fixture_t *fx = *state;
    fx->data [SIZE / 2] ^= 1;
    size_t last = (SIZE - 1) / PIECE * PIECE;
    for (size_t at = 0; at < last; at += PIECE)
        assert_int_equal (sl_attach_put (fx->store, fx->hash, at, SIZE, fx->data + at, PIECE), 0);
    assert_int_equal (
        sl_attach_put (fx->store, fx->hash, last, SIZE, fx->data + last, SIZE - last), -1);
    assert_false (sl_attach_held (fx->store, fx->hash));
    assert_int_equal (s_files (fx), 0);
    const char *why = sl_attach_error (fx->store, fx->hash);
    assert_non_null (why);
    assert_non_null (strstr (why, "is not the file announced"));
    //  A new attempt clears the reason; the right content is held.
    fx->data [SIZE / 2] ^= 1;
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), 0);
    assert_null (sl_attach_error (fx->store, fx->hash));
    s_put_from (fx, PIECE);
    assert_true (sl_attach_held (fx->store, fx->hash));
}

//  A broker that stopped after the last piece was written, before it could
//  check and name the file, left a whole .part: the next piece finishes it
//  (every piece would be dropped otherwise, for ever); a whole .part with
//  the wrong content is removed, and the attempt after takes the file.
static void test_attach_whole_part_left_by_a_crash_is_finished (void **state)
{
    fixture_t *fx = *state;
    char part [256];
    snprintf (part, sizeof part, "%s/%s.part", fx->dir, fx->hash);
    FILE *f = fopen (part, "wb");
    assert_non_null (f);
    assert_int_equal (fwrite (fx->data, 1, SIZE, f), SIZE);
    fclose (f);
    assert_int_equal (sl_attach_put (fx->store, fx->hash, PIECE, SIZE, fx->data + PIECE, PIECE),
                      0);
    assert_true (sl_attach_held (fx->store, fx->hash));
    assert_int_equal (s_files (fx), 1);
}

static void test_attach_whole_part_with_wrong_content_is_removed (void **state)
{
    fixture_t *fx = *state;
    char part [256];
    snprintf (part, sizeof part, "%s/%s.part", fx->dir, fx->hash);
    FILE *f = fopen (part, "wb");
    assert_non_null (f);
    fx->data [7] ^= 0x55;
    assert_int_equal (fwrite (fx->data, 1, SIZE, f), SIZE);
    fx->data [7] ^= 0x55;
    fclose (f);
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), -1);
    assert_int_equal (s_files (fx), 0);
    assert_non_null (sl_attach_error (fx->store, fx->hash));
    s_put_from (fx, 0);
    assert_true (sl_attach_held (fx->store, fx->hash));
}

static void test_attach_unwritable_part_is_an_error_naming_it (void **state)
{
    fixture_t *fx = *state;
    //  A directory where the .part would go: it cannot be opened to write.
    char part [256];
    snprintf (part, sizeof part, "%s/%s.part", fx->dir, fx->hash);
    assert_int_equal (mkdir (part, 0700), 0);
    assert_int_equal (sl_attach_put (fx->store, fx->hash, 0, SIZE, fx->data, PIECE), -1);
    const char *why = sl_attach_error (fx->store, fx->hash);
    assert_non_null (why);
    assert_non_null (strstr (why, part));
    assert_non_null (strstr (why, "Is a directory"));
    assert_false (sl_attach_held (fx->store, fx->hash));
    rmdir (part);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_attach_held_only_when_whole, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_attach_piece_out_of_order_is_dropped, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_attach_wrong_content_leaves_nothing_and_says_why,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_attach_unwritable_part_is_an_error_naming_it,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_attach_whole_part_left_by_a_crash_is_finished,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_attach_whole_part_with_wrong_content_is_removed,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
