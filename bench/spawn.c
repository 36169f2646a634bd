/*  spawn - the exec-mode ceiling: N commands, P at a time, nothing else.

    Each task is fork() + execv("/bin/sh", "-c", "echo I") with standard
    output to /dev/null, which is what a sluice worker started with
    --exec 'echo {}' runs per task (/bin/sh -c "echo 'PAYLOAD'"), minus
    everything around it (the broker, the result, the sink). A new child
    starts as soon as one ends (waitpid). The clock runs from the first
    fork to the last child's exit.

    Prints one line in the format of ../shared/bench/README.md:
      peer=c_fork_exec workload=exec_sh_echo tasks=N workers=P seconds=S tasks_per_s=R

    usage: spawn [--tasks N] [--jobs P]
    Build: cc -O2 -o spawn spawn.c   (bench/build.sh)
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main (int argc, char *argv [])
{
    long tasks = 3000;
    int jobs = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp (argv [i], "--tasks"))
            tasks = atol (argv [i + 1]);
        else if (!strcmp (argv [i], "--jobs"))
            jobs = atoi (argv [i + 1]);
        else {
            fprintf (stderr, "usage: spawn [--tasks N] [--jobs P]\n");
            return 2;
        }
    }
    int devnull = open ("/dev/null", O_WRONLY);
    long started = 0, finished = 0, failed = 0;
    int running = 0;
    double start = s_now ();
    while (finished < tasks) {
        while (running < jobs && started < tasks) {
            char arg [32];
            snprintf (arg, sizeof arg, "echo %ld", started);
            pid_t pid = fork ();
            if (pid == 0) {
                dup2 (devnull, 1);
                execl ("/bin/sh", "sh", "-c", arg, (char *) NULL);
                _exit (127);
            }
            if (pid < 0) {
                perror ("fork");
                return 1;
            }
            started++;
            running++;
        }
        int status;
        if (waitpid (-1, &status, 0) < 0) {
            if (errno == EINTR)
                continue;
            perror ("waitpid");
            return 1;
        }
        if (!WIFEXITED (status) || WEXITSTATUS (status))
            failed++;
        running--;
        finished++;
    }
    double seconds = s_now () - start;
    printf ("peer=c_fork_exec workload=exec_sh_echo tasks=%ld workers=%d seconds=%.3f "
            "tasks_per_s=%.0f%s\n",
            tasks, jobs, seconds, (double) tasks / seconds, failed ? " status=failed" : "");
    return failed ? 1 : 0;
}
