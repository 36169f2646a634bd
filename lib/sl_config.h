/*  sl_config - the configuration file: options for every program in one
    file, read before the command line.

    The file is /etc/sluice/sluice.conf, or the one named by $SLUICE_CONFIG,
    or by --config FILE (which beats both). A missing default file means no
    configuration; a file named by --config or $SLUICE_CONFIG must exist
    (--config /dev/null reads none). The format is ZPL, czmq's zconfig: a
    section per program (broker, worker, ventilator, sink, ctl) and one for all
    of them (common), each holding `name = value` lines indented by exactly
    4 spaces; `#` starts a comment; quote a value that holds a `#`:

        common
            broker = tcp://10.0.0.5:5560
            curve-server = /etc/sluice/broker
        broker
            data-dir = /srv/sluice
            curve-secret = /etc/sluice/broker_secret
        worker
            exec = "gzip -c | wc -c"
            jobs = 16
            verbose = yes

    An option is named by its long name, without the dashes, and becomes
    --name=value on the program's command line, ahead of the arguments it
    was given: common first, then the program's section, where an option
    replaces the one of the same name in common; options given on the
    command line come last and win, since every program keeps the last
    value an option is given.

    - A flag (--in-memory, --verbose) is `true`, `yes` or `1` (or its name
      alone on the line) to set it, `false`, `no` or `0` to leave it out,
      e.g. to cancel one set in common. A flag set in the file cannot be
      unset on the command line.
    - An option with an optional value (--discover[=PORT]) takes a flag's
      values, or a value.
    - Each option appears at most once per section: options that add up
      when repeated on a command line (-v -v) count once in the file.
    - In a program's section an unknown option is an error naming the file
      and section. common is shared by programs with different options
      (the broker has no --broker), so each program takes from common the
      options it has and ignores the others.
    - config, help and version cannot be set in the file.
*/
#ifndef SL_CONFIG_H_INCLUDED
#define SL_CONFIG_H_INCLUDED

#include <getopt.h>
#include <stddef.h>

#define SL_CONFIG_DEFAULT "/etc/sluice/sluice.conf"
#define SL_CONFIG_ENV "SLUICE_CONFIG"

//  getopt code, option and help text of --config, which every program
//  that reads the file accepts and otherwise ignores (sl_config_args has
//  already read it).
#define SL_OPT_CONFIG 1100
#define SL_CONFIG_OPTION                                                                           \
    {                                                                                              \
        "config", required_argument, NULL, SL_OPT_CONFIG                                           \
    }
#define SL_CONFIG_HELP                                                                             \
    "      --config FILE          read options from FILE (default $" SL_CONFIG_ENV ", else\n"      \
    "                             " SL_CONFIG_DEFAULT " if it exists); options on\n"               \
    "                             the command line override it\n"

//  Builds the program's arguments: argv[0], the options from the
//  configuration file (section common, then `section`), then argv[1..].
//  options is the program's getopt_long table: it must hold
//  SL_CONFIG_OPTION (to find --config in argv, as getopt would) and
//  every option the file may set. On success *argv_p is a NULL-terminated
//  copy with *argc_p entries that the caller frees with
//  sl_config_args_free; the strings of argv are shared, not copied.
//  Returns 0, or -1 with a message naming the file in err (and *argv_p NULL).
//  Resets getopt (optind = 0) for the caller's own parse.
int sl_config_args (const char *section, const struct option *options, int argc, char **argv,
                    int *argc_p, char ***argv_p, char *err, size_t errlen);

//  Frees what sl_config_args returned. NULL-safe, nulls *argv_p.
void sl_config_args_free (char ***argv_p);

//  The whole of a program's main: runs run() on the arguments built by
//  sl_config_args and frees them. On a configuration error prints
//  "PROG: error" on stderr and returns SL_EXIT_USAGE without running. When
//  run() returns SL_EXIT_USAGE with options from the file, says so (the
//  problem may be one of them: the program names the option, not the file).
int sl_config_main (const char *prog, const char *section, const struct option *options, int argc,
                    char **argv, int (*run) (int argc, char **argv));

#endif
