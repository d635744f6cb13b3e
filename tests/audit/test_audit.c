/*
 * test_audit.c: unit tests of audit/: the canonical encodings, the state
 * table, the inventory API and its refusals, append-only triggers, group
 * commits, checkpoints and verification, on real SQLite files in a
 * scratch folder, signed by a software key (tests/audit/softkey.c).
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
#include <sqlite3.h>

#include "audit/audit.h"
#include "tests/audit/softkey.h"

static char dir[256];
static struct softkey key;
static int dbn;

static void
fresh(char *path, size_t size)
{
	snprintf(path, size, "%s/t%d.db", dir, dbn++);
}

static struct audit *
open_signed(char *path, size_t size, unsigned every)
{
	char err[AUDIT_ERR_MAX];
	struct audit *a;

	fresh(path, size);
	a = audit_open(path, "ST-UNIT", err);
	assert_non_null(a);
	audit_set_checkpoint_every(a, every);
	assert_int_equal(audit_set_signer(a, softkey_sign, &key, key.pem,
	    "officer"), 0);
	return a;
}

static void
details_roundtrip(void **state)
{
	struct audit_field f[] = { { "zeta", "z", 1 }, { "alpha", "", 0 },
	    { "mid_1", "\x00\x01", 2 } };
	struct audit_detail d[4];
	char err[AUDIT_ERR_MAX];
	uint8_t *enc;
	size_t len, n;

	(void)state;
	assert_int_equal(audit_details_encode(f, 3, &enc, &len, err), 0);
	assert_int_equal(len, (1 + 5 + 4) + (1 + 5 + 4 + 2) + (1 + 4 + 4 + 1));
	assert_int_equal(audit_details_parse(enc, len, d, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(d[0].key, "alpha");
	assert_string_equal(d[1].key, "mid_1");
	assert_string_equal(d[2].key, "zeta");
	assert_memory_equal(d[1].value, "\x00\x01", 2);
	/* Trailing byte, truncation, too small a table: refused. */
	enc = realloc(enc, len + 1);
	enc[len] = 0;
	assert_int_equal(audit_details_parse(enc, len + 1, d, 4, &n), -1);
	assert_int_equal(audit_details_parse(enc, len - 1, d, 4, &n), -1);
	assert_int_equal(audit_details_parse(enc, len, d, 2, &n), -1);
	free(enc);
}

static void
details_refusals(void **state)
{
	struct audit_field dup[] = { { "a", "1", 1 }, { "a", "2", 1 } };
	struct audit_field bad[] = { { "Upper", "1", 1 } };
	/* "b" then "a": out of order, as an attacker might write it. */
	static const uint8_t unordered[] = { 1, 'b', 0, 0, 0, 0, 1, 'a', 0, 0, 0,
	    0 };
	struct audit_detail d[4];
	char err[AUDIT_ERR_MAX];
	uint8_t *enc;
	size_t len, n;

	(void)state;
	assert_int_equal(audit_details_encode(dup, 2, &enc, &len, err), -1);
	assert_string_equal(err, "detail 'a' given twice");
	assert_int_equal(audit_details_encode(bad, 1, &enc, &len, err), -1);
	assert_int_equal(audit_details_parse(unordered, sizeof(unordered), d, 4,
	    &n), -1);
}

static void
state_table(void **state)
{
	(void)state;
	assert_true(audit_transition_allowed(AUDIT_NONE, AUDIT_ALLOCATED));
	assert_true(audit_transition_allowed(AUDIT_ISSUED, AUDIT_REVOKED));
	assert_true(audit_transition_allowed(AUDIT_WRITTEN, AUDIT_UNCONFIRMED));
	assert_true(audit_transition_allowed(AUDIT_DONE, AUDIT_KEY_READY));
	assert_false(audit_transition_allowed(AUDIT_ALLOCATED, AUDIT_DONE));
	assert_false(audit_transition_allowed(AUDIT_REVOKED, AUDIT_DONE));
	assert_false(audit_transition_allowed(AUDIT_VOIDED, AUDIT_ALLOCATED));
	assert_false(audit_transition_allowed(AUDIT_FAILED, AUDIT_DONE));
	for (int s = 0; s < AUDIT_STATE_COUNT; s++)
		assert_false(audit_transition_allowed((enum audit_state)s,
		    AUDIT_NONE));
}

static void
lifecycle_and_refusals(void **state)
{
	char path[300];
	struct audit *a = open_signed(path, sizeof(path), 1000);
	struct audit_allocation al = { "SN-1", "CLM-1", "HW-1", NULL, "device" };
	struct audit_allocation al2 = { "SN-2", "CLM-1", "HW-2", NULL, "device" };
	uint8_t pub[65] = { 4 }, cert[600] = { 0x30 };
	struct audit_change key_ready = { .to = AUDIT_KEY_READY,
	    .public_key = pub, .public_key_len = sizeof(pub) };
	struct audit_change issued = { .to = AUDIT_ISSUED, .cert_der = cert,
	    .cert_der_len = sizeof(cert), .cert_serial = "01ab" };
	struct audit_change done = { .to = AUDIT_DONE };
	struct audit_change failed = { .to = AUDIT_FAILED, .reason = "keygen "
	    "timeout" };
	struct audit_device d;
	struct audit_verify_result r;

	(void)state;
	assert_int_equal(audit_device_allocate(a, &al, "op", NULL, 0, NULL), 0);
	/* allocated -> done skips steps: refused, and nothing recorded. */
	assert_int_equal(audit_device_transition(a, "SN-1", &done, "op", NULL, 0,
	    NULL), -1);
	assert_string_equal(audit_error(a), "device SN-1: allocated -> done is "
	    "not allowed");
	/* A claim id is never reused. */
	assert_int_equal(audit_device_allocate(a, &al2, "op", NULL, 0, NULL), -1);
	/* One live device per hardware id. */
	al2 = (struct audit_allocation){ "SN-2", "CLM-2", "HW-1", NULL, "device" };
	assert_int_equal(audit_device_allocate(a, &al2, "op", NULL, 0, NULL), -1);
	assert_string_equal(audit_error(a), "hardware id 'HW-1' already belongs "
	    "to device SN-1 (allocated)");
	assert_int_equal(audit_device_transition(a, "SN-1", &key_ready, "op",
	    NULL, 0, NULL), 0);
	assert_int_equal(audit_device_transition(a, "SN-1", &issued, "op", NULL,
	    0, NULL), 0);
	assert_int_equal(audit_device_transition(a, "SN-1", &failed, "op", NULL,
	    0, NULL), 0);
	/* Failed: the hardware may be stamped again, under a new identity,
	 * but the certificate serial can never be issued again. */
	assert_int_equal(audit_device_allocate(a, &al2, "op", NULL, 0, NULL), 0);
	assert_int_equal(audit_device_transition(a, "SN-2", &key_ready, "op",
	    NULL, 0, NULL), 0);
	assert_int_equal(audit_device_transition(a, "SN-2", &issued, "op", NULL,
	    0, NULL), -1);
	issued.cert_serial = "01ac";
	assert_int_equal(audit_device_transition(a, "SN-2", &issued, "op", NULL,
	    0, NULL), 0);
	/* A reason belongs to failed/voided/revoked/unconfirmed only. */
	done.reason = "why not";
	assert_int_equal(audit_device_transition(a, "SN-2", &done, "op", NULL, 0,
	    NULL), -1);
	assert_int_equal(audit_device_get(a, "SN-1", &d), 0);
	assert_int_equal(d.state, AUDIT_FAILED);
	/* The failed device's certificate can still be revoked although its
	 * hardware now belongs to SN-2. */
	failed.to = AUDIT_REVOKED;
	failed.reason = "failed after issue";
	assert_int_equal(audit_device_transition(a, "SN-1", &failed, "officer",
	    NULL, 0, NULL), 0);
	assert_int_equal(audit_device_get(a, "SN-1", &d), 0);
	assert_int_equal(d.state, AUDIT_REVOKED);
	assert_string_equal(d.reason, "failed after issue");
	assert_string_equal(d.cert_serial, "01ab");
	assert_int_equal(d.cert_der_len, sizeof(cert));
	assert_int_equal(audit_device_get(a, "SN-9", &d), 1);
	assert_int_equal(audit_device_by_hardware(a, "HW-1", &d), 0);
	assert_string_equal(d.serial, "SN-2");
	assert_int_equal(audit_checkpoint(a), 0);
	audit_close(a);
	assert_int_equal(audit_verify(path, key.pem, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_INTACT);
	assert_int_equal(r.devices, 2);
	assert_int_equal(r.unsealed, 0);
}

static void
append_only_and_station(void **state)
{
	char path[300], err[AUDIT_ERR_MAX];
	struct audit *a = open_signed(path, sizeof(path), 1000);
	sqlite3 *db;

	(void)state;
	assert_int_equal(audit_append(a, "op", "device.done", "x", NULL, 0, NULL),
	    -1);
	assert_string_equal(audit_error(a), "event kind 'device.done' is reserved");
	audit_close(a);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE events SET actor = 'x'",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_string_equal(sqlite3_errmsg(db), "audit events are append-only");
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM events", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(audit_open(path, "ST-OTHER", err));
	assert_non_null(strstr(err, "belongs to station 'ST-UNIT', not "
	    "'ST-OTHER'"));
	/* Someone else's database is left alone. */
	fresh(path, 300);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE mine (x)", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(audit_open(path, "ST-UNIT", err));
	assert_non_null(strstr(err, "not a station database (it holds other "
	    "tables)"));
}

static void
batches_and_checkpoints(void **state)
{
	char path[300];
	struct audit *a = open_signed(path, sizeof(path), 10);
	struct audit_verify_result r;
	struct audit_checkpoint cp;
	uint64_t head, sealed, seq;

	(void)state;
	assert_int_equal(audit_begin(a), 0);
	for (int i = 0; i < 25; i++)
		assert_int_equal(audit_append(a, "op", "bench.x", "s", NULL, 0,
		    &seq), 0);
	/* A failing call inside a batch leaves the batch as it was. */
	assert_int_equal(audit_append(a, "", "bench.x", "s", NULL, 0, NULL), -1);
	assert_int_equal(audit_commit(a), 0);
	assert_int_equal(audit_head(a, &head, NULL, &sealed), 0);
	assert_int_equal(head, seq);
	assert_int_equal(sealed, head);  /* due after the batch: sealed */
	assert_int_equal(audit_begin(a), 0);
	assert_int_equal(audit_append(a, "op", "bench.x", "s", NULL, 0, NULL), 0);
	assert_int_equal(audit_rollback(a), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(audit_append(a, "op", "bench.y", "s", NULL, 0,
		    NULL), 0);
	assert_int_equal(audit_checkpoint_latest(a, &cp), 0);
	audit_close(a);
	assert_int_equal(audit_verify(path, key.pem, &cp, &r), 0);
	assert_int_equal(r.verdict, AUDIT_INTACT);
	assert_int_equal(r.head_seq, head + 3);
	assert_int_equal(r.unsealed, 3);
	assert_true(r.anchor_checked);
}

static void
raw_signatures_and_wrong_keys(void **state)
{
	char path[300], err[AUDIT_ERR_MAX], text[4096];
	struct softkey other;
	struct audit *a;
	struct audit_verify_result r;
	struct audit_checkpoint cp, back;
	int n;

	(void)state;
	key.raw = 1;  /* PKCS#11 style r||s: stored as DER */
	a = open_signed(path, sizeof(path), 1000);
	key.raw = 0;
	assert_int_equal(audit_append(a, "op", "bench.x", "s", NULL, 0, NULL), 0);
	assert_int_equal(audit_checkpoint(a), 0);
	assert_int_equal(audit_checkpoint_latest(a, &cp), 0);
	assert_int_equal(cp.sig[0], 0x30);
	assert_int_equal(softkey_new(&other), 0);
	assert_int_equal(audit_set_signer(a, softkey_sign, &key, other.pem,
	    "officer"), -1);
	assert_int_equal(audit_checkpoint_check(&cp, key.pem, err), 0);
	assert_int_equal(audit_checkpoint_check(&cp, other.pem, err), -1);
	audit_close(a);
	assert_int_equal(audit_verify(path, other.pem, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_TAMPERED);
	assert_non_null(strstr(r.problem, "signed by a key other than the one "
	    "given"));
	assert_int_equal(audit_verify(path, NULL, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_INTACT);
	assert_true(r.key_from_db);
	/* Key rotation: checkpoints under two keys verify with both. */
	{
		char both[4096];
		struct audit *b;

		b = audit_open(path, "ST-UNIT", err);
		assert_non_null(b);
		assert_int_equal(audit_set_signer(b, softkey_sign, &other,
		    other.pem, "officer"), 0);
		assert_int_equal(audit_append(b, "op", "bench.x", "s", NULL, 0,
		    NULL), 0);
		assert_int_equal(audit_checkpoint(b), 0);
		audit_close(b);
		assert_int_equal(audit_verify(path, key.pem, NULL, &r), 0);
		assert_int_equal(r.verdict, AUDIT_TAMPERED);
		snprintf(both, sizeof(both), "%s%s", key.pem, other.pem);
		assert_int_equal(audit_verify(path, both, NULL, &r), 0);
		assert_int_equal(r.verdict, AUDIT_INTACT);
		assert_int_equal(r.checkpoints, 2);
	}
	/* Anchors: canonical text round trip; one changed byte refused. */
	n = audit_anchor_format(&cp, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(audit_anchor_parse(text, (size_t)n, &back, err), 0);
	assert_memory_equal(&back, &cp, sizeof(cp));
	text[n - 1] = ' ';
	assert_int_equal(audit_anchor_parse(text, (size_t)n, &back, err), -1);
	softkey_free(&other);
}

static void
orders_and_deny_list(void **state)
{
	char path[300];
	struct audit *a = open_signed(path, sizeof(path), 1000);
	struct audit_order o = { .quantity = 2, .serial_first = 10,
	    .serial_last = 11 }, got;
	struct audit_allocation al = { "SN-10", "CLM-10", NULL, "ORD-1", "token" };
	struct audit_deny e;
	struct audit_verify_result r;
	sqlite3 *db;

	(void)state;
	strcpy(o.order_id, "ORD-1");
	strcpy(o.product, "Sensor");
	assert_int_equal(audit_order_add(a, &o, (const uint8_t *)"signed", 6,
	    "officer"), 0);
	assert_int_equal(audit_order_add(a, &o, (const uint8_t *)"signed", 6,
	    "officer"), -1);
	o.quantity = 3;  /* does not fit its serial block */
	strcpy(o.order_id, "ORD-2");
	assert_int_equal(audit_order_add(a, &o, NULL, 0, "officer"), -1);
	al.order_id = "ORD-9";
	assert_int_equal(audit_device_allocate(a, &al, "op", NULL, 0, NULL), -1);
	al.order_id = "ORD-1";
	assert_int_equal(audit_device_allocate(a, &al, "op", NULL, 0, NULL), 0);
	assert_int_equal(audit_order_get(a, "ORD-1", &got), 0);
	assert_int_equal(got.allocated, 1);
	assert_int_equal(got.document_len, 6);
	assert_int_equal(audit_deny_add(a, "hardware_id", "HW-X", "stolen",
	    "officer"), 0);
	assert_int_equal(audit_deny_add(a, "hardware_id", "HW-X", "stolen",
	    "officer"), -1);
	assert_int_equal(audit_deny_add(a, "Bad Kind", "HW-Y", "x", "officer"),
	    -1);
	assert_int_equal(audit_deny_get(a, "hardware_id", "HW-X", &e), 0);
	assert_string_equal(e.reason, "stolen");
	assert_int_equal(audit_deny_add(a, "serial", "SN-10", "QA", "officer"), 0);
	assert_int_equal(audit_deny_remove(a, "serial", "SN-10", "error",
	    "officer"), 0);
	assert_int_equal(audit_deny_get(a, "serial", "SN-10", &e), 1);
	assert_int_equal(audit_deny_remove(a, "serial", "SN-10", "again",
	    "officer"), -1);
	assert_int_equal(audit_checkpoint(a), 0);
	audit_close(a);
	assert_int_equal(audit_verify(path, key.pem, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_INTACT);
	/* An entry lifted from the deny list behind the log's back. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM deny_list", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(audit_verify(path, key.pem, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_TAMPERED);
	assert_string_equal(r.problem, "deny-list entry HW-X: the table differs "
	    "from what the events say");
}

static int flaky_ok;  /* signatures the flaky signer still gives */

static int
flaky_sign(void *ctx, const uint8_t digest[static 32], uint8_t *sig,
    size_t *sig_len)
{
	if (flaky_ok == 0)
		return -1;
	flaky_ok--;
	return softkey_sign(ctx, digest, sig, sig_len);
}

static void
failed_checkpoint_keeps_events(void **state)
{
	char path[300], err[AUDIT_ERR_MAX];
	struct audit_verify_result r;
	struct audit *a;
	uint64_t seq;

	(void)state;
	fresh(path, sizeof(path));
	a = audit_open(path, "ST-UNIT", err);
	assert_non_null(a);
	audit_set_checkpoint_every(a, 2);
	flaky_ok = 1;  /* the test signature only */
	assert_int_equal(audit_set_signer(a, flaky_sign, &key, key.pem,
	    "officer"), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(audit_append(a, "op", "bench.x", "s", NULL, 0,
		    &seq), 0);
	assert_non_null(audit_checkpoint_error(a));
	assert_string_equal(audit_checkpoint_error(a), "the audit key did not "
	    "sign the checkpoint");
	assert_int_equal(audit_checkpoint(a), -1);
	flaky_ok = 10;  /* the HSM is back: the next commit seals */
	assert_int_equal(audit_append(a, "op", "bench.x", "s", NULL, 0, &seq), 0);
	assert_null(audit_checkpoint_error(a));
	audit_close(a);
	assert_int_equal(audit_verify(path, key.pem, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_INTACT);
	assert_int_equal(r.head_seq, seq);
	assert_int_equal(r.unsealed, 0);
}

static void
device_row_edit_caught(void **state)
{
	char path[300];
	struct audit *a = open_signed(path, sizeof(path), 1000);
	struct audit_allocation al = { "SN-1", "CLM-1", "HW-1", NULL, "device" };
	struct audit_verify_result r;
	sqlite3 *db;

	(void)state;
	assert_int_equal(audit_device_allocate(a, &al, "op", NULL, 0, NULL), 0);
	assert_int_equal(audit_checkpoint(a), 0);
	audit_close(a);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE devices SET hardware_id = "
	    "'HW-2'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(audit_verify(path, key.pem, NULL, &r), 0);
	assert_int_equal(r.verdict, AUDIT_TAMPERED);
	assert_string_equal(r.problem, "device SN-1: column hardware_id differs "
	    "from what its events say (last event 3)");
	assert_int_equal(r.bad_seq, 3);
	assert_int_equal(audit_verify("/nonexistent/x.db", key.pem, NULL, &r), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(details_roundtrip),
		cmocka_unit_test(details_refusals),
		cmocka_unit_test(state_table),
		cmocka_unit_test(lifecycle_and_refusals),
		cmocka_unit_test(append_only_and_station),
		cmocka_unit_test(batches_and_checkpoints),
		cmocka_unit_test(raw_signatures_and_wrong_keys),
		cmocka_unit_test(orders_and_deny_list),
		cmocka_unit_test(failed_checkpoint_keeps_events),
		cmocka_unit_test(device_row_edit_caught),
	};
	char cmd[300];
	int rc;

	snprintf(dir, sizeof(dir), "%s/audit-unit.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL || softkey_new(&key) != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	softkey_free(&key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
