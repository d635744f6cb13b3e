/*
 * station.h: what the verbs of the station program share.
 *
 * Each verb lives in its own file (or one file per family of verbs) and is
 * `int NAME_main(int argc, char *argv[])`, returning one of the exit codes
 * below. A verb registers itself with one top-level line
 *
 *     STATION_VERB(name, "one-line summary")
 *
 * which declares NAME_main here and is collected by the build into the
 * dispatch table of main.c.
 */
#ifndef STATION_H
#define STATION_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes of every verb. */
enum {
	EXIT_OK = 0,      /* success */
	EXIT_FAILED = 1,  /* the operation failed or found a problem */
	EXIT_USAGE = 2,   /* usage or configuration error */
};

#define STATION_VERB(name, summary) int name##_main(int argc, char *argv[])

/*
 * station_err(fmt, ...): print "station: " and the message to stderr.
 * Errors are reported once, where they are found.
 */
void station_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * station_home(option): the station home folder: ${option} if not NULL
 * (from --home), else $STATION_HOME. Reports and returns NULL when neither
 * is set.
 */
const char *station_home(const char *option);

/*
 * station_path(home, name, out, size): ${name} resolved against ${home}
 * unless it is absolute, into ${out}. Returns 0, or -1 if it does not fit.
 */
int station_path(const char *home, const char *name, char *out, size_t size);

#endif
