/*
 * clock_future.c: test-only: append one event dated in the future to an
 * audit database, as a station whose clock ran ahead (or was set back
 * since) would have left it. Usage: station-clock-future DB SECONDS.
 * For tests/station/clock.test.sh; never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include "audit/audit.h"

static int64_t
future(void *ctx)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec + *(long *)ctx) * 1000000;
}

int
main(int argc, char *argv[])
{
	char err[AUDIT_ERR_MAX];
	struct audit *a;
	long ahead;

	if (argc != 3 || (ahead = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: station-clock-future DB SECONDS\n");
		return 2;
	}
	if ((a = audit_open(argv[1], NULL, err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	audit_set_clock(a, future, &ahead);
	if (audit_append(a, "test", "test.future", "clock", NULL, 0, NULL) != 0) {
		fprintf(stderr, "%s\n", audit_error(a));
		audit_close(a);
		return 1;
	}
	audit_close(a);
	return 0;
}
