/*
 * deny.c: the deny-list check before allocation, and the names of the
 * kinds (deny.h).
 *
 * The check looks each known identifier up with audit_deny_get, the
 * database's primary key, so it costs three indexed lookups per device.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "station/deny.h"

const char *
deny_kind_parse(const char *name)
{
	static const struct {
		const char *name, *kind;
	} names[] = {
		{ "hardware-id", "hardware_id" },
		{ "hardware_id", "hardware_id" },
		{ "hwid", "hardware_id" },
		{ "serial", "serial" },
		{ "claim-id", "claim_id" },
		{ "claim_id", "claim_id" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].kind;
	return NULL;
}

int
deny_check(struct audit *a, const char *hardware_id, const char *serial,
    const char *claim_id, char msg[static DENY_MSG_MAX])
{
	const char *kinds[3] = { "hardware_id", "serial", "claim_id" };
	const char *values[3] = { hardware_id, serial, claim_id };
	struct audit_deny e;
	char when[32];
	time_t t;
	struct tm tm;
	int rc;

	msg[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		if (values[i] == NULL || values[i][0] == '\0')
			continue;
		if ((rc = audit_deny_get(a, kinds[i], values[i], &e)) < 0) {
			snprintf(msg, DENY_MSG_MAX, "deny list: %s",
			    audit_error(a));
			return -1;
		}
		if (rc == 1)
			continue;
		t = (time_t)(e.added_us / 1000000);
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof(when), "?");
		snprintf(msg, DENY_MSG_MAX, "%s %s is on the deny list since %s "
		    "(%s): refused; the officer lifts it with 'station deny "
		    "remove'", kinds[i], values[i], when, e.reason);
		return 1;
	}
	return 0;
}
