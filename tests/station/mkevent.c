/*
 * mkevent.c: test-only: append one event to an audit database, as
 * another part of the station would have: dated SECONDS ahead (a clock
 * that ran ahead, or was set back since: clock.test.sh), about SUBJECT,
 * with KEY=VALUE details (what the bench loop records, e.g. a device's
 * provisioning_token_sha256: export.test.sh). Never installed.
 * Usage: station-test-event DB SECONDS SUBJECT [KEY=VALUE ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "audit/audit.h"

static int64_t
ahead(void *ctx)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec + *(long *)ctx) * 1000000 + tv.tv_usec;
}

int
main(int argc, char *argv[])
{
	struct audit_field f[AUDIT_FIELDS_MAX];
	char err[AUDIT_ERR_MAX];
	struct audit *a;
	long seconds;
	size_t n = 0;
	int ret = 1;

	if (argc < 4 || argc - 4 > AUDIT_FIELDS_MAX ||
	    (seconds = strtol(argv[2], NULL, 10)) < 0) {
		fprintf(stderr, "usage: station-test-event DB SECONDS SUBJECT "
		    "[KEY=VALUE ...]\n");
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL) {
			fprintf(stderr, "expected KEY=VALUE: %s\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		f[n++] = (struct audit_field){ argv[i], eq + 1, strlen(eq + 1) };
	}
	if ((a = audit_open(argv[1], NULL, err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	audit_set_clock(a, ahead, &seconds);
	if (audit_append(a, "test", "test.event", argv[3], f, n, NULL) != 0)
		fprintf(stderr, "%s\n", audit_error(a));
	else
		ret = 0;
	audit_close(a);
	return ret;
}
