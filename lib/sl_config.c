/*  sl_config - the configuration file turned into command-line options,
    see sl_config.h.

    The file is read whole (it is small: at most SL_CONFIG_MAX_BYTES),
    checked line by line for what zconfig gets wrong or explains badly
    (long lines, NUL bytes, tabs), parsed by zconfig, checked against the
    program's option table, and turned into --name[=value] arguments in one
    allocation that also holds the argument vector.
*/
#include "sl_config.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_util.h"

#define SL_CONFIG_MAX_BYTES (1024 * 1024) //  a larger file is not a config file
#define ZPL_LINE_MAX 1024                 //  zconfig cuts longer lines short (silently)

//  The sections a file may have: common, then one per program.
static const char *s_sections [] = {
    "common", "broker", "worker", "ventilator", "sink", "ctl", NULL
};

//  Options that make no sense in a file.
static const char *s_forbidden [] = { "config", "help", "version", NULL };

//  One option taken from the file.
typedef struct {
    const char *name;    //  long option name (borrowed from the zconfig tree)
    const char *value;   //  value for --name=value, NULL for --name
    bool on;             //  false: a flag set to false, left out
    const char *section; //  the section that set it
} s_entry_t;

static bool s_in (const char *const *list, const char *name)
{
    for (; *list; list++)
        if (streq (*list, name))
            return true;
    return false;
}

static const struct option *s_lookup (const struct option *options, const char *name)
{
    for (const struct option *option = options; option->name; option++)
        if (streq (option->name, name))
            return option;
    return NULL;
}

//  Finds --config in argv the way the program's getopt_long will (so an
//  abbreviation like --conf counts, and an option's argument or anything
//  after "--" does not), on a copy since getopt permutes what it scans.
//  Short options are those of the table whose code is a letter or digit.
//  *path gets the last --config value, or NULL.
static int s_scan_argv (const struct option *options, int argc, char **argv, const char **path,
                        char *err, size_t errlen)
{
    char shortopts [3 * 64 + 1];
    size_t n = 0;
    for (const struct option *option = options; option->name; option++) {
        if (option->flag || option->val <= 0 || option->val > 127 || !isalnum (option->val) ||
            n + 3 >= sizeof shortopts)
            continue;
        shortopts [n++] = (char) option->val;
        if (option->has_arg != no_argument)
            shortopts [n++] = ':';
        if (option->has_arg == optional_argument)
            shortopts [n++] = ':';
    }
    shortopts [n] = '\0';
    char **copy = malloc (((size_t) argc + 1) * sizeof *copy);
    if (!copy) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    memcpy (copy, argv, (size_t) argc * sizeof *copy);
    copy [argc] = NULL;
    *path = NULL;
    int saved_opterr = opterr;
    opterr = 0; //  the program's own parse reports bad options
    optind = 0; //  glibc: start afresh
    int opt;
    while ((opt = getopt_long (argc, copy, shortopts, options, NULL)) != -1)
        if (opt == SL_OPT_CONFIG)
            *path = optarg;
    opterr = saved_opterr;
    optind = 0;
    free (copy);
    return 0;
}

//  Decides which file to read: --config, else $SLUICE_CONFIG, else the
//  default file if it exists. *path gets NULL for none, *source what named it.
static int s_choose_file (const struct option *options, int argc, char **argv, const char **path,
                          const char **source, char *err, size_t errlen)
{
    if (s_scan_argv (options, argc, argv, path, err, errlen))
        return -1;
    *source = "--config";
    if (*path && !**path) {
        snprintf (err, errlen, "--config: no file name (--config /dev/null reads none)");
        return -1;
    }
    if (*path)
        return 0;
    *path = getenv (SL_CONFIG_ENV);
    *source = "$" SL_CONFIG_ENV;
    if (*path && **path)
        return 0;
    struct stat st;
    *source = "the default";
    *path = SL_CONFIG_DEFAULT;
    if (stat (SL_CONFIG_DEFAULT, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
        *path = NULL;
    return 0;
}

//  Checks what zconfig gets wrong without a word: a NUL byte (the rest of
//  the file ignored), a line cut at ZPL_LINE_MAX bytes; and tabs in an
//  indentation, which it calls "invalid syntax".
static int s_check_text (const char *path, const char *text, size_t size, char *err, size_t errlen)
{
    const char *end = text + size;
    size_t lineno = 0;
    const char *line = text;
    while (line < end) {
        lineno++;
        const char *eol = memchr (line, '\n', (size_t) (end - line));
        size_t len = (size_t) ((eol ? eol : end) - line);
        size_t indent = 0;
        while (indent < len && (line [indent] == ' ' || line [indent] == '\t'))
            indent++;
        const char *problem = NULL;
        if (memchr (line, '\0', len))
            problem = "a NUL byte: not a text file";
        else if (len > ZPL_LINE_MAX)
            problem = "line longer than 1024 bytes, the most zconfig reads";
        else if (memchr (line, '\t', indent))
            problem = "indent with spaces (4 a level), not tabs";
        if (problem) {
            snprintf (err, errlen, "%s:%zu: %s", path, lineno, problem);
            return -1;
        }
        line = eol ? eol + 1 : end;
    }
    return 0;
}

//  Reads the whole file into a NUL-terminated string. Caller frees it.
static char *s_read_file (const char *path, const char *source, char *err, size_t errlen)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, errlen, "cannot read config file %s (%s): %s", path, source,
                  strerror (errno));
        return NULL;
    }
    char *text = malloc (SL_CONFIG_MAX_BYTES + 1);
    size_t size = text ? fread (text, 1, SL_CONFIG_MAX_BYTES + 1, file) : 0;
    if (!text)
        snprintf (err, errlen, "out of memory");
    else if (ferror (file))
        snprintf (err, errlen, "cannot read config file %s (%s): %s", path, source,
                  strerror (errno));
    else if (size > SL_CONFIG_MAX_BYTES)
        snprintf (err, errlen, "%s: larger than %d bytes: not a config file", path,
                  SL_CONFIG_MAX_BYTES);
    else if (s_check_text (path, text, size, err, errlen) == 0) {
        text [size] = '\0';
        fclose (file);
        return text;
    }
    free (text);
    fclose (file);
    return NULL;
}

//  Parses ZPL text. czmq 4.2.1 reports a syntax error with zclock_log, on
//  standard output, where the sink writes results and the ventilator the
//  job id: the message is caught in a pipe instead and put in err (zconfig
//  stops at the first error: one line of about 1 KiB at most, far below a
//  pipe's capacity). Programs call this first thing, before any thread
//  exists, so borrowing file descriptor 1 meanwhile is safe.
static zconfig_t *s_parse (const char *path, const char *text, char *err, size_t errlen)
{
    int fds [2] = { -1, -1 };
    int saved = -1;
    fflush (stdout);
    if (fcntl (STDOUT_FILENO, F_GETFD) != -1 && pipe2 (fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        saved = dup (STDOUT_FILENO);
        if (saved >= 0 && dup2 (fds [1], STDOUT_FILENO) < 0) {
            close (saved);
            saved = -1;
        }
        close (fds [1]);
    }
    zconfig_t *root = zconfig_str_load (text);
    char said [ZPL_LINE_MAX + 128] = "";
    if (saved >= 0) {
        fflush (stdout);
        dup2 (saved, STDOUT_FILENO);
        close (saved);
        ssize_t n = read (fds [0], said, sizeof said - 1);
        said [n > 0 ? n : 0] = '\0';
    }
    if (fds [0] >= 0)
        close (fds [0]);
    if (root)
        return root;
    //  zconfig says "TIME E (zconfig): (LINE) problem".
    const char *what = strstr (said, "(zconfig): (");
    int lineno = 0, skip = 0;
    if (what && sscanf (what, "(zconfig): (%d) %n", &lineno, &skip) == 1 && skip > 0) {
        what += skip;
        size_t len = strcspn (what, "\n");
        snprintf (err, errlen, "cannot parse %s: line %d: %.*s", path, lineno, (int) len, what);
    } else
        snprintf (err, errlen,
                  "cannot parse %s (want sections of 'name = value' lines indented by 4 spaces)",
                  path);
    return NULL;
}

//  Checks the top level: only known sections, no option outside one.
static int s_check_sections (zconfig_t *root, const char *path, char *err, size_t errlen)
{
    for (zconfig_t *item = zconfig_child (root); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        const char *value = zconfig_value (item);
        if (!s_in (s_sections, name)) {
            if (value && *value)
                snprintf (err, errlen,
                          "%s: '%s' is outside any section (indent it by 4 spaces under "
                          "common, broker, worker, ventilator, sink or ctl)",
                          path, name);
            else
                snprintf (err, errlen,
                          "%s: unknown section '%s' (sections: common, broker, worker, "
                          "ventilator, sink, ctl)",
                          path, name);
            return -1;
        }
        if (value && *value) {
            snprintf (err, errlen,
                      "%s: '%s' is a section: its options go on the lines below it, indented "
                      "by 4 spaces",
                      path, name);
            return -1;
        }
    }
    return 0;
}

static bool s_is_true (const char *value)
{
    return !*value || streq (value, "1") || !strcasecmp (value, "true") ||
           !strcasecmp (value, "yes");
}

static bool s_is_false (const char *value)
{
    return streq (value, "0") || !strcasecmp (value, "false") || !strcasecmp (value, "no");
}

//  Turns one `name = value` of section into an entry. Returns 1 with
//  *entry set, 0 to skip it (common: an option this program lacks), -1
//  with err.
static int s_entry (zconfig_t *item, const char *path, const char *section,
                    const struct option *options, s_entry_t *entry, char *err, size_t errlen)
{
    const char *name = zconfig_name (item);
    const char *value = zconfig_value (item) ? zconfig_value (item) : "";
    if (zconfig_child (item)) {
        snprintf (err, errlen, "%s: [%s] '%s' has lines indented below it; options do not", path,
                  section, name);
        return -1;
    }
    if (s_in (s_forbidden, name)) {
        snprintf (err, errlen, "%s: [%s] --%s cannot be set in a config file", path, section, name);
        return -1;
    }
    const struct option *option = s_lookup (options, name);
    if (!option && streq (section, "common"))
        return 0;
    if (!option) {
        snprintf (err, errlen, "%s: [%s] no option '%s' (see sluice-%s --help)", path, section,
                  name, section);
        return -1;
    }
    *entry = (s_entry_t){ .name = option->name, .value = NULL, .on = true, .section = section };
    if (option->has_arg == required_argument) {
        if (!*value) {
            snprintf (err, errlen, "%s: [%s] '%s' needs a value", path, section, name);
            return -1;
        }
        entry->value = value;
    } else if (s_is_false (value))
        entry->on = false;
    else if (option->has_arg == optional_argument)
        entry->value = s_is_true (value) ? NULL : value;
    else if (!s_is_true (value)) {
        snprintf (err, errlen, "%s: [%s] '%s' is a flag: '%s' is not true or false (yes/no, 1/0)",
                  path, section, name, value);
        return -1;
    }
    return 1;
}

//  Adds the options of every block named section to entries (*count of
//  them so far): one of the same name from common is replaced, one given
//  twice in section is an error.
static int s_collect (zconfig_t *root, const char *path, const char *section,
                      const struct option *options, s_entry_t *entries, size_t *count, char *err,
                      size_t errlen)
{
    for (zconfig_t *block = zconfig_child (root); block; block = zconfig_next (block)) {
        if (!streq (zconfig_name (block), section))
            continue;
        for (zconfig_t *item = zconfig_child (block); item; item = zconfig_next (item)) {
            s_entry_t entry;
            int rc = s_entry (item, path, section, options, &entry, err, errlen);
            if (rc < 0)
                return -1;
            if (rc == 0)
                continue;
            size_t at = 0;
            while (at < *count && !streq (entries [at].name, entry.name))
                at++;
            if (at < *count && streq (entries [at].section, section)) {
                snprintf (err, errlen, "%s: [%s] '%s' is given twice", path, section, entry.name);
                return -1;
            }
            entries [at] = entry;
            if (at == *count)
                (*count)++;
        }
    }
    return 0;
}

//  Options in the file, an upper bound on the entries.
static size_t s_count_items (zconfig_t *root)
{
    size_t count = 0;
    for (zconfig_t *block = zconfig_child (root); block; block = zconfig_next (block))
        for (zconfig_t *item = zconfig_child (block); item; item = zconfig_next (item))
            count++;
    return count;
}

//  One allocation: the argument vector, then the strings of the entries.
static char **s_build (int argc, char **argv, const s_entry_t *entries, size_t count, int *argc_p)
{
    size_t nargs = (size_t) argc, bytes = 0;
    for (size_t i = 0; i < count; i++)
        if (entries [i].on) {
            nargs++;
            bytes += 2 + strlen (entries [i].name) + 1;
            if (entries [i].value)
                bytes += 1 + strlen (entries [i].value);
        }
    char **args = malloc ((nargs + 1) * sizeof *args + bytes);
    if (!args)
        return NULL;
    char *strings = (char *) (args + nargs + 1);
    size_t at = 0;
    args [at++] = argv [0];
    for (size_t i = 0; i < count; i++) {
        if (!entries [i].on)
            continue;
        args [at++] = strings;
        if (entries [i].value)
            strings += sprintf (strings, "--%s=%s", entries [i].name, entries [i].value) + 1;
        else
            strings += sprintf (strings, "--%s", entries [i].name) + 1;
    }
    for (int i = 1; i < argc; i++)
        args [at++] = argv [i];
    args [at] = NULL;
    *argc_p = (int) nargs;
    return args;
}

//  sl_config_args, also telling which file it read (NULL: none).
static int s_config_args (const char *section, const struct option *options, int argc, char **argv,
                          int *argc_p, char ***argv_p, const char **path_p, char *err,
                          size_t errlen)
{
    assert (section && s_in (s_sections + 1, section));
    assert (options && s_lookup (options, "config"));
    assert (argc >= 1 && argv && argc_p && argv_p);
    *argv_p = NULL;
    *argc_p = 0;
    const char *path, *source;
    if (s_choose_file (options, argc, argv, &path, &source, err, errlen))
        return -1;
    char *text = NULL;
    zconfig_t *root = NULL;
    s_entry_t *entries = NULL;
    size_t count = 0;
    int rc = -1;
    if (path) {
        if (!(text = s_read_file (path, source, err, errlen)) ||
            !(root = s_parse (path, text, err, errlen)) ||
            s_check_sections (root, path, err, errlen))
            goto done;
        entries = calloc (s_count_items (root) + 1, sizeof *entries);
        if (!entries) {
            snprintf (err, errlen, "out of memory");
            goto done;
        }
        if (s_collect (root, path, "common", options, entries, &count, err, errlen) ||
            s_collect (root, path, section, options, entries, &count, err, errlen))
            goto done;
    }
    *argv_p = s_build (argc, argv, entries, count, argc_p);
    if (*argv_p) {
        *path_p = path;
        rc = 0;
    } else
        snprintf (err, errlen, "out of memory");
done:
    free (entries);
    zconfig_destroy (&root);
    free (text);
    return rc;
}

int sl_config_args (const char *section, const struct option *options, int argc, char **argv,
                    int *argc_p, char ***argv_p, char *err, size_t errlen)
{
    const char *path;
    return s_config_args (section, options, argc, argv, argc_p, argv_p, &path, err, errlen);
}

void sl_config_args_free (char ***argv_p)
{
    assert (argv_p);
    free (*argv_p);
    *argv_p = NULL;
}

int sl_config_main (const char *prog, const char *section, const struct option *options, int argc,
                    char **argv, int (*run) (int argc, char **argv))
{
    char err [1024];
    int nargs;
    char **args;
    const char *path;
    if (s_config_args (section, options, argc, argv, &nargs, &args, &path, err, sizeof err)) {
        fprintf (stderr, "%s: %s\n", prog, err);
        return SL_EXIT_USAGE;
    }
    int rc = run (nargs, args);
    //  The complaint may be about an option from the file.
    if (rc == SL_EXIT_USAGE && nargs > argc)
        fprintf (stderr, "%s: (options were read from %s too)\n", prog, path);
    sl_config_args_free (&args);
    return rc;
}
