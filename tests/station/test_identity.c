/*
 * test_identity.c: serial templates, Crockford base32 claim IDs with the
 * mod-37 check symbol, the normaliser for typed claim IDs, uniqueness and
 * symbol balance of 100,000 claim IDs, and the retry of a claim ID that
 * collides in a real audit database.
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
#include <openssl/rand.h>

#include "station/identity.h"

static char err[IDENTITY_ERR_MAX];

static int
ossl_rng(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
test_serial_template(void **state)
{
	char out[IDENTITY_SERIAL_MAX + 1];

	(void)state;
	assert_int_equal(identity_serial("{product}-{station}-{n:08}", "DW1",
	    "DEMO-01", "O-1", 42, out, err), 0);
	assert_string_equal(out, "DW1-DEMO-01-00000042");
	assert_int_equal(identity_serial("SN{n}", "p", "s", "o", 7, out, err), 0);
	assert_string_equal(out, "SN7");
	assert_int_equal(identity_serial("{order}.{n:012}", "p", "s", "O-9",
	    123456789, out, err), 0);
	assert_string_equal(out, "O-9.000123456789");
	/* A number wider than its width is written in full. */
	assert_int_equal(identity_serial("{n:02}", "p", "s", "o", 12345, out,
	    err), 0);
	assert_string_equal(out, "12345");
}

static void
test_serial_template_errors(void **state)
{
	char out[IDENTITY_SERIAL_MAX + 1];

	(void)state;
	assert_int_equal(identity_template_check("{product}-{n:08}", err), 0);
	assert_int_equal(identity_template_check("{product}", err), -1);
	assert_string_equal(err, "serial template: {n} must appear exactly once");
	assert_int_equal(identity_template_check("{n}{n}", err), -1);
	assert_string_equal(err, "serial template: {n} must appear exactly once");
	assert_int_equal(identity_template_check("{colour}{n}", err), -1);
	assert_string_equal(err, "serial template: unknown field '{colour}' "
	    "(known: {product} {station} {order} {n} {n:0W})");
	assert_int_equal(identity_template_check("{n:8}", err), -1);
	assert_int_equal(identity_template_check("{n:00}", err), -1);
	assert_int_equal(identity_template_check("{n:021}", err), -1);
	assert_int_equal(identity_template_check("{n:020}", err), 0);
	assert_int_equal(identity_template_check("A_{n}", err), -1);
	assert_string_equal(err, "serial template: '_' is not allowed (use A-Z "
	    "a-z 0-9 . - and {fields})");
	assert_int_equal(identity_template_check("{n", err), -1);
	assert_string_equal(err, "serial template: '{' without '}'");
	assert_int_equal(identity_serial("{station}-{n}", "p", "ST_1", "o", 1,
	    out, err), -1);
	assert_string_equal(err, "serial: the value 'ST_1' has characters a "
	    "serial cannot hold (A-Z a-z 0-9 . -)");
	assert_int_equal(identity_serial("{product}{product}{product}{n:020}",
	    "ABCDEFGHIJKLMNOPQRST", "s", "o", 1, out, err), -1);
	assert_string_equal(err, "serial: longer than 64 characters");
}

static void
test_check_symbol(void **state)
{
	(void)state;
	/* Values computed independently: value of the base-32 number mod 37. */
	assert_int_equal(identity_check_symbol("0000000000", 10), '0');
	assert_int_equal(identity_check_symbol("0000000001", 10), '1');
	assert_int_equal(identity_check_symbol("000000000Z", 10), 'Z');
	assert_int_equal(identity_check_symbol("0000000010", 10), '*');
	assert_int_equal(identity_check_symbol("0000000011", 10), '~');
	assert_int_equal(identity_check_symbol("0000000012", 10), '$');
	assert_int_equal(identity_check_symbol("0000000013", 10), '=');
	assert_int_equal(identity_check_symbol("0000000014", 10), 'U');
	assert_int_equal(identity_check_symbol("0000000015", 10), '0');
	assert_int_equal(identity_check_symbol("ABCDEFGHJK", 10), 'Q');
	assert_int_equal(identity_check_symbol("ZZZZZZZZZZZZ", 12), '9');
	assert_int_equal(identity_check_symbol("7ZZZZZZZZZZZ", 12), 'M');
	assert_int_equal(identity_check_symbol("1234567890AB", 12), 'Q');
}

static void
test_normaliser(void **state)
{
	char out[IDENTITY_CLAIM_BUF];

	(void)state;
	assert_int_equal(identity_claim_normalise("1234-5678-90ab-q", 12, true,
	    out, err), 0);
	assert_string_equal(out, "1234567890ABQ");
	assert_int_equal(identity_claim_normalise(" i234 5678 9oab q\r\n", 12,
	    true, out, err), 0);
	assert_string_equal(out, "1234567890ABQ");
	assert_int_equal(identity_claim_normalise("l234567890ABQ", 12, true, out,
	    err), 0);
	assert_string_equal(out, "1234567890ABQ");
	assert_int_equal(identity_claim_normalise("1234567890ABR", 12, true, out,
	    err), -1);
	assert_string_equal(err, "the check symbol does not match: a symbol was "
	    "mistyped");
	assert_int_equal(identity_claim_normalise("1234567890A", 12, false, out,
	    err), -1);
	assert_string_equal(err, "a claim ID has 12 symbols, this one 11");
	assert_int_equal(identity_claim_normalise("1234567890ABQQ", 12, true,
	    out, err), -1);
	assert_string_equal(err, "too many symbols for a claim ID (expected 13)");
	assert_int_equal(identity_claim_normalise("1234U67890ABQ", 12, true, out,
	    err), -1);
	assert_string_equal(err, "'U' is not a claim ID character");
	assert_int_equal(identity_claim_normalise("1234567890A*Q", 12, true, out,
	    err), -1);
	assert_string_equal(err, "'*' is not a claim ID character");
	assert_int_equal(identity_claim_normalise("1234567890AB\x01", 12, true,
	    out, err), -1);
	assert_string_equal(err, "byte 0x01 is not a claim ID character");
	assert_int_equal(identity_claim_normalise("0000000010*", 10, true, out,
	    err), 0);
	assert_string_equal(out, "0000000010*");
	assert_int_equal(identity_claim_normalise("0000000014u", 10, true, out,
	    err), 0);
	assert_string_equal(out, "0000000014U");
	assert_int_equal(identity_claim_normalise("1234567890AB", 9, false, out,
	    err), -1);
}

/* mangle(in, out, seed): how a person might type it. */
static void
mangle(const char *in, char *out, unsigned seed)
{
	size_t n = 0;

	for (size_t i = 0; in[i] != '\0'; i++) {
		char c = in[i];

		if (i > 0 && i % 4 == 0 && (seed & 1))
			out[n++] = (seed & 2) ? '-' : ' ';
		if (c == '1' && (seed & 4))
			c = (seed & 8) ? 'l' : 'I';
		else if (c == '0' && (seed & 16))
			c = 'o';
		else if (c >= 'A' && c <= 'Z' && (seed & 32))
			c = (char)(c - 'A' + 'a');
		out[n++] = c;
		seed = seed * 1103515245u + 12345u;
	}
	out[n] = '\0';
}

static int
cmp(const void *a, const void *b)
{
	return memcmp(a, b, IDENTITY_CLAIM_BUF);
}

static void
test_claims_unique_and_round_trip(void **state)
{
	enum { N = 100000 };
	char (*c)[IDENTITY_CLAIM_BUF] = calloc(N, IDENTITY_CLAIM_BUF);
	char typed[64], back[IDENTITY_CLAIM_BUF];
	unsigned long counts[32] = { 0 };
	const char *alpha = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

	(void)state;
	assert_non_null(c);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(identity_claim_new(ossl_rng, NULL, 12, true, c[i]),
		    0);
		assert_int_equal(strlen(c[i]), 13);
		for (int k = 0; k < 12; k++)
			counts[strchr(alpha, c[i][k]) - alpha]++;
		mangle(c[i], typed, i);
		assert_int_equal(identity_claim_normalise(typed, 12, true, back,
		    err), 0);
		assert_string_equal(back, c[i]);
	}
	/* 1.2 million symbols: 37,500 expected each, sd ~190. */
	for (int k = 0; k < 32; k++) {
		assert_true(counts[k] > 36000);
		assert_true(counts[k] < 39000);
	}
	qsort(c, N, IDENTITY_CLAIM_BUF, cmp);
	for (unsigned i = 1; i < N; i++)
		assert_true(strcmp(c[i - 1], c[i]) != 0);
	free(c);
}

static void
test_claim_lengths(void **state)
{
	char out[IDENTITY_CLAIM_BUF], back[IDENTITY_CLAIM_BUF];

	(void)state;
	assert_int_equal(identity_claim_new(ossl_rng, NULL, 9, true, out), -1);
	assert_int_equal(identity_claim_new(ossl_rng, NULL, 27, true, out), -1);
	for (unsigned s = IDENTITY_CLAIM_MIN; s <= IDENTITY_CLAIM_MAX; s++) {
		assert_int_equal(identity_claim_new(ossl_rng, NULL, s, false, out),
		    0);
		assert_int_equal(strlen(out), s);
		assert_int_equal(identity_claim_normalise(out, s, false, back,
		    err), 0);
		assert_string_equal(out, back);
	}
	{
		char d[IDENTITY_DISPLAY_BUF];

		identity_claim_display("1234567890ABQ", d);
		assert_string_equal(d, "1234-5678-90AB-Q");
	}
}

/* A scripted RNG: the first draw repeats a claim already used. */
struct script {
	int calls;
};

static int
script_rng(void *ctx, uint8_t *buf, size_t len)
{
	struct script *s = ctx;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(s->calls == 0 ? 1 : 2);
	s->calls++;
	return 0;
}

static void
test_collision_retried(void **state)
{
	char dir[] = "/tmp/test-identity.XXXXXX", path[64], claim[IDENTITY_CLAIM_BUF];
	char first[IDENTITY_CLAIM_BUF];
	struct audit_allocation d = { 0 };
	struct audit_device dev;
	struct script s = { 0 };
	struct audit *a;
	char aerr[AUDIT_ERR_MAX];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	assert_non_null(a = audit_open(path, "ST-1", aerr));
	/* The claim the first draw gives is taken already. */
	assert_int_equal(identity_claim_new(script_rng, &s, 12, true, first), 0);
	d.serial = "S-1";
	d.claim_id = first;
	d.key_mode = "device";
	assert_int_equal(audit_device_allocate(a, &d, "test", NULL, 0, NULL), 0);
	s.calls = 0;
	d.serial = "S-2";
	assert_int_equal(identity_allocate(a, &d, script_rng, &s, 12, true,
	    "test", claim, NULL, err), 0);
	assert_int_equal(s.calls, 2);
	assert_string_not_equal(claim, first);
	assert_int_equal(audit_device_get(a, "S-2", &dev), 0);
	assert_string_equal(dev.claim_id, claim);
	/* A taken serial is not retried: it is an error at once. */
	s.calls = 0;
	assert_int_equal(identity_allocate(a, &d, script_rng, &s, 12, true,
	    "test", claim, NULL, err), -1);
	assert_int_equal(s.calls, 1);
	audit_close(a);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_template),
		cmocka_unit_test(test_serial_template_errors),
		cmocka_unit_test(test_check_symbol),
		cmocka_unit_test(test_normaliser),
		cmocka_unit_test(test_claims_unique_and_round_trip),
		cmocka_unit_test(test_claim_lengths),
		cmocka_unit_test(test_collision_retried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
