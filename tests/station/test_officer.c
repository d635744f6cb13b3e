/*
 * test_officer.c: the officer's building blocks that need no token:
 * deny_check against a real audit database (each kind, the message, not
 * denied after removal) and the export manifest reader (round trip
 * through the writer; every refusal with its exact message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "station/deny.h"
#include "station/export.h"

/* ---- deny_check ------------------------------------------------------ */

static void
test_deny_check(void **state)
{
	char dir[] = "/tmp/test-officer.XXXXXX", path[64], msg[DENY_MSG_MAX];
	char err[AUDIT_ERR_MAX];
	struct audit *a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_non_null(a = audit_open(path, "ST-1", err));

	assert_int_equal(deny_check(a, "HW-1", "SN-1", "CL-1", msg), 0);
	assert_string_equal(msg, "");
	assert_int_equal(audit_deny_add(a, "hardware_id", "HW-1", "stolen",
	    "officer:t"), 0);
	assert_int_equal(audit_deny_add(a, "claim_id", "CL-9", "leaked",
	    "officer:t"), 0);
	assert_int_equal(deny_check(a, "HW-1", NULL, NULL, msg), 1);
	assert_non_null(strstr(msg, "hardware_id HW-1 is on the deny list "
	    "since "));
	assert_non_null(strstr(msg, " (stolen): refused; the officer lifts it "
	    "with 'station deny remove'"));
	assert_int_equal(deny_check(a, "HW-2", "SN-1", "CL-9", msg), 1);
	assert_non_null(strstr(msg, "claim_id CL-9 "));
	assert_int_equal(deny_check(a, "", "", "", msg), 0);
	assert_int_equal(audit_deny_remove(a, "hardware_id", "HW-1", "found",
	    "officer:t"), 0);
	assert_int_equal(deny_check(a, "HW-1", "SN-1", NULL, msg), 0);

	assert_string_equal(deny_kind_parse("hardware-id"), "hardware_id");
	assert_string_equal(deny_kind_parse("hwid"), "hardware_id");
	assert_string_equal(deny_kind_parse("claim-id"), "claim_id");
	assert_string_equal(deny_kind_parse("serial"), "serial");
	assert_null(deny_kind_parse("mac"));
	audit_close(a);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* ---- the manifest ------------------------------------------------------- */

static struct export_manifest m, back;
static char err[EXPORT_ERR_MAX];

static void
sample(struct export_manifest *x)
{
	memset(x, 0, sizeof(*x));
	strcpy(x->schema, EXPORT_SCHEMA);
	strcpy(x->station_id, "ST-1");
	strcpy(x->format, "aws");
	strcpy(x->order, "PO \"7\"\\x");
	strcpy(x->created, "2026-11-22T07:00:00Z");
	x->after = 10;
	x->through = 42;
	x->devices = 3;
	x->counts[AUDIT_DONE] = 2;
	x->counts[AUDIT_REVOKED] = 1;
	x->crl_number = 5;
	x->n_files = 2;
	strcpy(x->files[0].name, "devices.jsonl");
	x->files[0].bytes = 99;
	x->files[0].lines = 3;
	memset(x->files[0].sha256, 0xab, 32);
	strcpy(x->files[1].name, "crl.pem");
	strcpy(x->anchor, "station-audit-anchor 1\nstation ST-1\n");
}

static void
test_manifest_round_trip(void **state)
{
	char *text;
	size_t len;

	(void)state;
	sample(&m);
	assert_int_equal(export_manifest_format(&m, &text, &len), 0);
	assert_int_equal(export_manifest_parse(text, len, &back, err), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	free(text);
}

/* refused(text, want): the reader refuses ${text} with ${want}. */
static void
refused(const char *text, const char *want)
{
	assert_int_equal(export_manifest_parse(text, strlen(text), &back, err),
	    -1);
	assert_string_equal(err, want);
}

static void
test_manifest_refusals(void **state)
{
	char *text, *bad, want[EXPORT_ERR_MAX];
	size_t len;

	(void)state;
	sample(&m);
	assert_int_equal(export_manifest_format(&m, &text, &len), 0);
	assert_non_null(bad = malloc(len + 64));

	snprintf(bad, len + 64, "%s x", text);
	snprintf(want, sizeof(want), "manifest.json, byte %zu: trailing bytes "
	    "after the manifest", len + 1);
	refused(bad, want);
	refused("", "manifest.json, byte 0: expected '{'");
	refused("{\"schema\": \"station-export/1\", \"schema\": \"x\"}",
	    "manifest.json, byte 40: key \"schema\" repeated");
	refused("{\"color\": 1}", "manifest.json, byte 9: unknown key "
	    "\"color\"");
	refused("{\"after\": 01}", "manifest.json, byte 12: leading zero");
	refused("{\"after\": 1.5}", "manifest.json, byte 11: expected an "
	    "integer");
	refused("{\"after\": 18446744073709551616}", "manifest.json, byte 29: "
	    "number too large");
	refused("{\"format\": \"\\u0000\"}", "manifest.json, byte 18: \\u "
	    "escape out of range (1 to 7f)");
	refused("{\"format\": \"a\nb\"}", "manifest.json, byte 14: control "
	    "character in a string");
	refused("{\"after\": 1}", "manifest.json, byte 12: manifest: key "
	    "\"schema\" missing");

	/* A wrong schema, after beyond through, a path as a file name. */
	memcpy(strstr(text, "export/1"), "export/9", 8);
	snprintf(want, sizeof(want), "manifest.json, byte %zu: schema "
	    "\"station-export/9\": this station reads \"station-export/1\"",
	    len);
	refused(text, want);
	free(text);
	m.after = 50;
	assert_int_equal(export_manifest_format(&m, &text, &len), 0);
	snprintf(want, sizeof(want), "manifest.json, byte %zu: after (50) is "
	    "beyond through (42)", len);
	refused(text, want);
	free(text);
	m.after = 10;
	strcpy(m.files[1].name, "../x");
	assert_int_equal(export_manifest_format(&m, &text, &len), 0);
	assert_int_equal(export_manifest_parse(text, len, &back, err), -1);
	assert_non_null(strstr(err, "file name \"../x\" is not a plain name"));
	free(text);
	free(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deny_check),
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_manifest_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
