/*
 * clock.c: refuse to write the audit log while the clock is behind it
 * (clock.h).
 *
 * The newest time is the largest event time at or after now (events are
 * appended in sequence, not necessarily in time order, if the clock was
 * ever set back) and the latest checkpoint's time. Any event stamped later
 * than now means the clock went back.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "station/clock.h"

struct newest {
	int64_t time_us;
	uint64_t seq;
};

static int
later(void *ctx, const struct audit_event *e)
{
	struct newest *n = ctx;

	if (e->time_us > n->time_us) {
		n->time_us = e->time_us;
		n->seq = e->seq;
	}
	return 0;
}

/* iso(us, buf): ${us} as an ISO 8601 UTC time. */
static void
iso(int64_t us, char buf[static 32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "?");
}

int
station_clock_check(struct audit *a, char err[static CLOCK_ERR_MAX])
{
	struct audit_filter f = { 0 };
	struct audit_checkpoint c;
	struct newest n = { 0, 0 };
	struct timeval tv;
	char now_text[32], newest_text[32], what[48];
	int64_t now;
	int rc;

	err[0] = '\0';
	if (gettimeofday(&tv, NULL) != 0) {
		snprintf(err, CLOCK_ERR_MAX, "clock: cannot read the clock");
		return -1;
	}
	now = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	f.since_us = now + 1;
	if (audit_events(a, &f, later, &n) != 0) {
		snprintf(err, CLOCK_ERR_MAX, "clock: %s", audit_error(a));
		return -1;
	}
	if (n.time_us > 0)
		snprintf(what, sizeof(what), "event %llu",
		    (unsigned long long)n.seq);
	if ((rc = audit_checkpoint_latest(a, &c)) < 0) {
		snprintf(err, CLOCK_ERR_MAX, "clock: %s", audit_error(a));
		return -1;
	}
	if (rc == 0 && c.time_us > now && c.time_us > n.time_us) {
		n.time_us = c.time_us;
		snprintf(what, sizeof(what), "checkpoint at event %llu",
		    (unsigned long long)c.head_seq);
	}
	if (n.time_us <= now)
		return 0;
	iso(now, now_text);
	iso(n.time_us, newest_text);
	snprintf(err, CLOCK_ERR_MAX, "clock: the station's clock reads %s, "
	    "earlier than the audit log's newest time %s (%s): the clock was "
	    "set back or has drifted; the security officer sets it right "
	    "against a trusted time source before anything is stamped or "
	    "issued", now_text, newest_text, what);
	return -1;
}
