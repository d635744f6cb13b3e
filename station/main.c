/*
 * main.c: the station program's entry point and verb dispatch.
 *
 * `station VERB [options]`: every verb comes from one table, generated at
 * build time from the STATION_VERB lines of station/ sources (see station.h),
 * and parses its own options. `station --help` lists the verbs;
 * `station VERB --help` describes one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/station.h"

#ifndef STATION_VERSION
#define STATION_VERSION "0.1.0"
#endif

/* Declarations of every NAME_main. */
#undef STATION_VERB
#define STATION_VERB(name, summary) int name##_main(int argc, char *argv[]);
#include "verbs.inc"
#undef STATION_VERB

struct verb {
	const char *name;
	int (*main)(int argc, char *argv[]);
	const char *summary;
};

#define STATION_VERB(name, summary) { #name, name##_main, summary },
static const struct verb verbs[] = {
#include "verbs.inc"
};
#undef STATION_VERB

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station VERB [options]\n"
	    "       station VERB --help\n"
	    "\nAn offline device stamping station.\n\nVerbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\nEvery verb takes --home DIR (default $STATION_HOME), the "
	    "folder holding\nstation.conf, the database and the demo token store.\n"
	    "Exit codes: 0 success, 1 the operation failed or found a problem,\n"
	    "2 usage or configuration error.\n");
}

void
station_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("station: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

const char *
station_home(const char *option)
{
	const char *home = option;

	if (home == NULL)
		home = getenv("STATION_HOME");
	if (home == NULL || home[0] == '\0') {
		station_err("no station home: pass --home DIR or set STATION_HOME");
		return NULL;
	}
	return home;
}

int
station_path(const char *home, const char *name, char *out, size_t size)
{
	int n;

	if (name[0] == '/')
		n = snprintf(out, size, "%s", name);
	else
		n = snprintf(out, size, "%s/%s", home, name);
	if (n < 0 || (size_t)n >= size) {
		station_err("path too long: %s/%s", home, name);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("station %s\n", STATION_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].main(argc - 1, argv + 1);
	}
	station_err("unknown verb '%s'; see 'station --help'", argv[1]);
	return EXIT_USAGE;
}
