/*  Tests of sl_config: where the file comes from (--config, $SLUICE_CONFIG),
    how its sections and values become options, that the command line
    overrides it once parsed by getopt_long the way the programs do, and
    the messages for bad files.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_config.h"

#define OPT_DISCOVER 2000

//  A worker-like option table: values, a flag, an optional value, short
//  options, and SL_CONFIG_OPTION.
static const struct option s_options [] = {
    { "broker", required_argument, NULL, 'b' },
    { "exec", required_argument, NULL, 'e' },
    { "jobs", required_argument, NULL, 'j' },
    { "in-memory", no_argument, NULL, 'M' },
    { "discover", optional_argument, NULL, OPT_DISCOVER },
    SL_CONFIG_OPTION,
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};
#define SHORTOPTS "b:e:j:vhV"

typedef struct {
    char dir [64];        //  temporary directory of the test
    char path [PATH_MAX]; //  its config file
    char err [1024];      //  error from sl_config_args
    int argc;             //  what sl_config_args made
    char **argv;
} fixture_t;

//  What a program's getopt loop ends up with: the last value of each.
typedef struct {
    const char *broker, *exec, *jobs, *config;
    const char *discover; //  "" for a bare --discover
    int in_memory, verbose;
    int positional; //  index of the first non-option, or 0
} parsed_t;

static int setup (void **state)
{
    fixture_t *self = calloc (1, sizeof *self);
    strcpy (self->dir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp (self->dir))
        return -1;
    snprintf (self->path, sizeof self->path, "%s/sluice.conf", self->dir);
    unsetenv (SL_CONFIG_ENV);
    *state = self;
    return 0;
}

static int teardown (void **state)
{
    fixture_t *self = *state;
    sl_config_args_free (&self->argv);
    unlink (self->path);
    rmdir (self->dir);
    unsetenv (SL_CONFIG_ENV);
    free (self);
    return 0;
}

static void s_write (fixture_t *self, const char *text)
{
    FILE *file = fopen (self->path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (text, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
}

//  sl_config_args for section `section` on the NULL-terminated arguments.
static int s_args (fixture_t *self, const char *section, char **argv)
{
    int argc = 0;
    while (argv [argc])
        argc++;
    sl_config_args_free (&self->argv);
    self->err [0] = '\0';
    return sl_config_args (section, s_options, argc, argv, &self->argc, &self->argv, self->err,
                           sizeof self->err);
}

//  Parses self->argv as a main does.
static parsed_t s_getopt (fixture_t *self)
{
    parsed_t parsed = { 0 };
    int opt;
    optind = 0;
    while ((opt = getopt_long (self->argc, self->argv, SHORTOPTS, s_options, NULL)) != -1) {
        switch (opt) {
            case 'b':
                parsed.broker = optarg;
                break;
            case 'e':
                parsed.exec = optarg;
                break;
            case 'j':
                parsed.jobs = optarg;
                break;
            case 'M':
                parsed.in_memory++;
                break;
            case 'v':
                parsed.verbose++;
                break;
            case OPT_DISCOVER:
                parsed.discover = optarg ? optarg : "";
                break;
            case SL_OPT_CONFIG:
                parsed.config = optarg;
                break;
            default:
                fail_msg ("unexpected option %d", opt);
        }
    }
    parsed.positional = optind < self->argc ? optind : 0;
    return parsed;
}

static void s_assert_args (fixture_t *self, const char *const *want)
{
    int n = 0;
    while (want [n])
        n++;
    assert_int_equal (self->argc, n);
    for (int i = 0; i < n; i++)
        assert_string_equal (self->argv [i], want [i]);
    assert_null (self->argv [n]);
}

static void test_config_no_file_changes_nothing (void **state)
{
    fixture_t *self = *state;
    if (access (SL_CONFIG_DEFAULT, F_OK) == 0)
        skip (); //  this machine has a default file
    char *argv [] = { "prog", "-j", "3", "tasks.txt", NULL };
    assert_int_equal (s_args (self, "worker", argv), 0);
    s_assert_args (self, (const char *[]){ "prog", "-j", "3", "tasks.txt", NULL });
    //  An empty $SLUICE_CONFIG is as good as none.
    setenv (SL_CONFIG_ENV, "", 1);
    assert_int_equal (s_args (self, "worker", argv), 0);
    assert_int_equal (self->argc, 4);
}

static void test_config_options_go_before_the_arguments (void **state)
{
    fixture_t *self = *state;
    s_write (self, "worker\n"
                   "    jobs = 4\n"
                   "    exec = \"gzip -c | wc -c # not a comment\"\n");
    char *argv [] = { "prog", "--config", self->path, "-v", NULL };
    assert_int_equal (s_args (self, "worker", argv), 0);
    s_assert_args (self,
                   (const char *[]){ "prog", "--jobs=4", "--exec=gzip -c | wc -c # not a comment",
                                     "--config", self->path, "-v", NULL });
    parsed_t parsed = s_getopt (self);
    assert_string_equal (parsed.jobs, "4");
    assert_string_equal (parsed.config, self->path);
    assert_int_equal (parsed.verbose, 1);
}

static void test_config_flags_override_the_file (void **state)
{
    fixture_t *self = *state;
    s_write (self, "worker\n"
                   "    jobs = 4\n"
                   "    broker = tcp://file:5560\n");
    char *argv [] = {
        "prog", "-j", "8", "--config", self->path, "tasks.txt", "--broker=tcp://flag:5560", NULL
    };
    assert_int_equal (s_args (self, "worker", argv), 0);
    parsed_t parsed = s_getopt (self);
    assert_string_equal (parsed.jobs, "8");
    assert_string_equal (parsed.broker, "tcp://flag:5560");
    assert_string_equal (self->argv [parsed.positional], "tasks.txt");
    //  What the command line does not give comes from the file.
    char *fewer [] = { "prog", "--config", self->path, "tasks.txt", NULL };
    assert_int_equal (s_args (self, "worker", fewer), 0);
    parsed = s_getopt (self);
    assert_string_equal (parsed.jobs, "4");
    assert_string_equal (parsed.broker, "tcp://file:5560");
    assert_string_equal (self->argv [parsed.positional], "tasks.txt");
}

static void test_config_program_section_beats_common (void **state)
{
    fixture_t *self = *state;
    s_write (self, "# every program\n"
                   "common\n"
                   "    broker = tcp://common:5560\n"
                   "    jobs = 2\n"
                   "    bind = tcp://*:5560   # the broker's, not ours: skipped\n"
                   "worker\n"
                   "    jobs = 16\n"
                   "sink\n"
                   "    broker = tcp://sink-only:5560\n");
    char *argv [] = { "prog", "--config", self->path, NULL };
    assert_int_equal (s_args (self, "worker", argv), 0);
    s_assert_args (self, (const char *[]){ "prog", "--broker=tcp://common:5560", "--jobs=16",
                                           "--config", self->path, NULL });
    parsed_t parsed = s_getopt (self);
    assert_string_equal (parsed.broker, "tcp://common:5560");
    assert_string_equal (parsed.jobs, "16");
    //  The sink's section is the sink's.
    assert_int_equal (s_args (self, "sink", argv), 0);
    assert_string_equal (s_getopt (self).broker, "tcp://sink-only:5560");
}

static void test_config_booleans (void **state)
{
    fixture_t *self = *state;
    const char *on [] = { "true", "TRUE", "yes", "Yes", "1", "" };
    const char *off [] = { "false", "no", "0", "False" };
    char text [256];
    char *argv [] = { "prog", NULL };
    setenv (SL_CONFIG_ENV, self->path, 1);
    for (size_t i = 0; i < sizeof on / sizeof on [0]; i++) {
        snprintf (text, sizeof text, "worker\n    in-memory = %s\n    verbose = %s\n", on [i],
                  on [i]);
        s_write (self, text);
        assert_int_equal (s_args (self, "worker", argv), 0);
        s_assert_args (self, (const char *[]){ "prog", "--in-memory", "--verbose", NULL });
    }
    for (size_t i = 0; i < sizeof off / sizeof off [0]; i++) {
        snprintf (text, sizeof text, "worker\n    in-memory = %s\n", off [i]);
        s_write (self, text);
        assert_int_equal (s_args (self, "worker", argv), 0);
        s_assert_args (self, (const char *[]){ "prog", NULL });
    }
    //  A flag's name alone sets it; false in the program's section
    //  cancels true in common.
    s_write (self, "common\n    verbose = yes\n    in-memory\nworker\n    verbose = no\n");
    assert_int_equal (s_args (self, "worker", argv), 0);
    s_assert_args (self, (const char *[]){ "prog", "--in-memory", NULL });
    s_write (self, "worker\n    in-memory = maybe\n");
    assert_int_equal (s_args (self, "worker", argv), -1);
    assert_null (self->argv);
    char want [PATH_MAX + 128];
    snprintf (want, sizeof want,
              "%s: [worker] 'in-memory' is a flag: 'maybe' is not true or false (yes/no, 1/0)",
              self->path);
    assert_string_equal (self->err, want);
}

static void test_config_optional_value (void **state)
{
    fixture_t *self = *state;
    char *argv [] = { "prog", NULL };
    setenv (SL_CONFIG_ENV, self->path, 1);
    s_write (self, "worker\n    discover = yes\n");
    assert_int_equal (s_args (self, "worker", argv), 0);
    s_assert_args (self, (const char *[]){ "prog", "--discover", NULL });
    assert_string_equal (s_getopt (self).discover, "");
    s_write (self, "worker\n    discover = 5999\n");
    assert_int_equal (s_args (self, "worker", argv), 0);
    assert_string_equal (s_getopt (self).discover, "5999");
    s_write (self, "common\n    discover = 5999\nworker\n    discover = no\n");
    assert_int_equal (s_args (self, "worker", argv), 0);
    s_assert_args (self, (const char *[]){ "prog", NULL });
}

static void test_config_unknown_option_names_file_and_section (void **state)
{
    fixture_t *self = *state;
    s_write (self, "worker\n    jobs = 2\n    jbos = 4\n");
    char *argv [] = { "prog", "--config", self->path, NULL };
    assert_int_equal (s_args (self, "worker", argv), -1);
    assert_null (self->argv);
    char want [PATH_MAX + 128];
    snprintf (want, sizeof want, "%s: [worker] no option 'jbos' (see sluice-worker --help)",
              self->path);
    assert_string_equal (self->err, want);
    //  Only exact names: getopt's abbreviations are for command lines.
    s_write (self, "worker\n    job = 2\n");
    assert_int_equal (s_args (self, "worker", argv), -1);
    assert_non_null (strstr (self->err, "[worker] no option 'job'"));
    //  The same name in common is another program's option: skipped.
    s_write (self, "common\n    jbos = 4\n");
    assert_int_equal (s_args (self, "worker", argv), 0);
    assert_int_equal (self->argc, 3);
}

static void test_config_rejects_bad_entries (void **state)
{
    fixture_t *self = *state;
    char *argv [] = { "prog", "--config", self->path, NULL };
    struct {
        const char *text;
        const char *message;
    } cases [] = {
        { "worker\n    jobs =\n", "[worker] 'jobs' needs a value" },
        { "worker\n    jobs = 1\n    jobs = 2\n", "[worker] 'jobs' is given twice" },
        { "worker\n    jobs = 1\nworker\n    jobs = 2\n", "[worker] 'jobs' is given twice" },
        { "common\n    help = true\n", "[common] --help cannot be set in a config file" },
        { "worker\n    config = /etc/other.conf\n", "--config cannot be set" },
        { "workers\n    jobs = 1\n", "unknown section 'workers' (sections: common, broker" },
        { "jobs = 1\n", "'jobs' is outside any section" },
        { "worker = 1\n", "'worker' is a section: its options go on the lines below it" },
        { "worker\n    jobs = 1\n        more = 2\n", "'jobs' has lines indented below it" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_write (self, cases [i].text);
        assert_int_equal (s_args (self, "worker", argv), -1);
        if (!strstr (self->err, cases [i].message) ||
            strncmp (self->err, self->path, strlen (self->path)))
            fail_msg ("case %zu: '%s' is not '%s: ...%s...'", i, self->err, self->path,
                      cases [i].message);
    }
}

static void test_config_missing_explicit_file (void **state)
{
    fixture_t *self = *state;
    char *argv [] = { "prog", "--config=/nonexistent/sluice.conf", NULL };
    assert_int_equal (s_args (self, "broker", argv), -1);
    assert_string_equal (self->err, "cannot read config file /nonexistent/sluice.conf "
                                    "(--config): No such file or directory");
    char *plain [] = { "prog", NULL };
    setenv (SL_CONFIG_ENV, "/nonexistent/env.conf", 1);
    assert_int_equal (s_args (self, "broker", plain), -1);
    assert_string_equal (self->err, "cannot read config file /nonexistent/env.conf "
                                    "($SLUICE_CONFIG): No such file or directory");
    char *empty [] = { "prog", "--config", "", NULL };
    assert_int_equal (s_args (self, "broker", empty), -1);
    assert_non_null (strstr (self->err, "--config: no file name"));
    //  /dev/null: no options at all, not even the default file's.
    char *none [] = { "prog", "--config", "/dev/null", NULL };
    assert_int_equal (s_args (self, "broker", none), 0);
    assert_int_equal (self->argc, 3);
}

static void test_config_malformed_file (void **state)
{
    fixture_t *self = *state;
    char *argv [] = { "prog", "--config", self->path, NULL };
    char want [PATH_MAX + 128];
    //  zconfig's own complaint, with its line number, and not on stdout
    //  (where a sink writes results).
    s_write (self, "worker\n    jobs = 1\n   exec = cat\n");
    char out [] = "/tmp/test_config.stdout.XXXXXX";
    int fd = mkstemp (out);
    assert_true (fd >= 0);
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    dup2 (fd, STDOUT_FILENO);
    int rc = s_args (self, "worker", argv);
    fflush (stdout);
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    struct stat st;
    assert_int_equal (fstat (fd, &st), 0);
    close (fd);
    unlink (out);
    assert_int_equal (rc, -1);
    assert_int_equal (st.st_size, 0);
    snprintf (want, sizeof want, "cannot parse %s: line 3: indent 4 spaces at once", self->path);
    assert_string_equal (self->err, want);
    s_write (self, "worker\n    exec = \"cat\n");
    assert_int_equal (s_args (self, "worker", argv), -1);
    snprintf (want, sizeof want, "cannot parse %s: line 2: missing \"", self->path);
    assert_string_equal (self->err, want);
    //  What zconfig would read wrong without a word, or call "invalid syntax".
    s_write (self, "worker\n\tjobs = 1\n");
    assert_int_equal (s_args (self, "worker", argv), -1);
    snprintf (want, sizeof want, "%s:2: indent with spaces (4 a level), not tabs", self->path);
    assert_string_equal (self->err, want);
    char text [2048] = "worker\n    exec = ";
    memset (text + strlen (text), 'x', 1100);
    strcat (text, "\n");
    s_write (self, text);
    assert_int_equal (s_args (self, "worker", argv), -1);
    assert_non_null (strstr (self->err, ":2: line longer than 1024 bytes"));
    FILE *file = fopen (self->path, "w");
    fwrite ("worker\n    jobs = 1\0\n", 1, 21, file);
    fclose (file);
    assert_int_equal (s_args (self, "worker", argv), -1);
    assert_non_null (strstr (self->err, ":2: a NUL byte"));
}

static void test_config_env_var (void **state)
{
    fixture_t *self = *state;
    s_write (self, "ventilator\n    retries = 3\n");
    setenv (SL_CONFIG_ENV, self->path, 1);
    static const struct option ventilator [] = {
        { "retries", required_argument, NULL, 'r' },
        SL_CONFIG_OPTION,
        { NULL, 0, NULL, 0 },
    };
    char *argv [] = { "prog", "tasks.txt", NULL };
    sl_config_args_free (&self->argv);
    assert_int_equal (sl_config_args ("ventilator", ventilator, 2, argv, &self->argc, &self->argv,
                                      self->err, sizeof self->err),
                      0);
    s_assert_args (self, (const char *[]){ "prog", "--retries=3", "tasks.txt", NULL });
    //  --config beats $SLUICE_CONFIG.
    char *other [] = { "prog", "--config", "/dev/null", "tasks.txt", NULL };
    sl_config_args_free (&self->argv);
    assert_int_equal (sl_config_args ("ventilator", ventilator, 4, other, &self->argc, &self->argv,
                                      self->err, sizeof self->err),
                      0);
    assert_int_equal (self->argc, 4);
}

static void test_config_finds_config_as_getopt_does (void **state)
{
    fixture_t *self = *state;
    s_write (self, "worker\n    jobs = 5\n");
    //  An abbreviation is --config to getopt, so it is to us.
    char abbreviated [PATH_MAX + 16];
    snprintf (abbreviated, sizeof abbreviated, "--conf=%s", self->path);
    char *argv1 [] = { "prog", abbreviated, NULL };
    assert_int_equal (s_args (self, "worker", argv1), 0);
    assert_string_equal (s_getopt (self).jobs, "5");
    //  The argument of another option, or anything after "--", is not.
    if (access (SL_CONFIG_DEFAULT, F_OK) == 0)
        skip (); //  this machine has a default file
    char *argv2 [] = { "prog", "-e", "--config", "--", "--config=/nonexistent", NULL };
    assert_int_equal (s_args (self, "worker", argv2), 0);
    s_assert_args (
        self, (const char *[]){ "prog", "-e", "--config", "--", "--config=/nonexistent", NULL });
    //  After a non-option argument (getopt permutes them) and in a
    //  cluster of short options.
    char *argv3 [] = { "prog", "tasks.txt", "-vb", "tcp://x:1", "--config", self->path, NULL };
    assert_int_equal (s_args (self, "worker", argv3), 0);
    parsed_t parsed = s_getopt (self);
    assert_string_equal (parsed.jobs, "5");
    assert_string_equal (parsed.broker, "tcp://x:1");
    assert_string_equal (self->argv [parsed.positional], "tasks.txt");
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_config_no_file_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_options_go_before_the_arguments, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_config_flags_override_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_program_section_beats_common, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_optional_value, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_unknown_option_names_file_and_section, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_config_rejects_bad_entries, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_missing_explicit_file, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_malformed_file, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_env_var, setup, teardown),
        cmocka_unit_test_setup_teardown (test_config_finds_config_as_getopt_does, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
