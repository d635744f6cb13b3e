/*
 * test_batch.c: the batch text, manifest and record codecs
 * (station/batch_file.c): a good batch parses with every identity in
 * order; each kind of damage is refused with its exact message; strict
 * base64; the manifest round trip of every key; records read back
 * unchanged and refuse bad lengths; the certificate serial read from DER.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "station/batch.h"

static char err[BATCH_ERR_MAX];
static char text[8192];
static size_t items_seen;

/* A DER-looking certificate and a sealed value (65 + 80 bytes). */
static const char cert_b64[] = "MAMCAQE=";          /* 30 03 02 01 01 */
static char sealed_b64[256];

static void
make_sealed(void)
{
	uint8_t s[145];

	memset(s, 0xab, sizeof(s));
	s[0] = 4;
	EVP_EncodeBlock((unsigned char *)sealed_b64, s, sizeof(s));
}

static int
count_item(void *ctx, const struct batch_item *it)
{
	(void)ctx;
	assert_int_equal(it->index, items_seen);
	items_seen++;
	return 0;
}

/* batch(n, extra): a batch text of ${n} items, then ${extra}, then the
 * manifest line. */
static int
parse_batch(size_t n, const char *extra, struct batch_parsed *p)
{
	size_t at = (size_t)snprintf(text, sizeof(text),
	    "station-batch 1\nca %s\n", cert_b64);

	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at,
		    "item %zu SN-%zu 0123456789ABC %s %s\n", i, i, cert_b64,
		    sealed_b64);
	at += (size_t)snprintf(text + at, sizeof(text) - at, "%smanifest "
	    "AAAA\n", extra);
	items_seen = 0;
	return batch_parse((const uint8_t *)text, at, count_item, NULL, p, err);
}

static int
parse_text(const char *t)
{
	struct batch_parsed p;

	items_seen = 0;
	return batch_parse((const uint8_t *)t, strlen(t), count_item, NULL, &p,
	    err);
}

static void
test_good(void **state)
{
	struct batch_parsed p;

	(void)state;
	make_sealed();
	assert_int_equal(parse_batch(3, "", &p), 0);
	assert_int_equal(p.count, 3);
	assert_int_equal(items_seen, 3);
	assert_int_equal(p.manifest_b64_len, 4);
}

static void
test_refusals(void **state)
{
	char t[1024];

	(void)state;
	make_sealed();
	assert_int_equal(parse_text("station-batch 2\n"), -1);
	assert_string_equal(err, "not a batch (first line is not "
	    "'station-batch 1')");
	assert_int_equal(parse_text("station-batch 1\nca AAAA\n"), -1);
	assert_string_equal(err, "no manifest: the batch is cut short");
	assert_int_equal(parse_text("station-batch 1\nca AAAA"), -1);
	assert_string_equal(err, "the last line has no end");
	assert_int_equal(parse_text("station-batch 1\nca AAAA\nmanifest "
	    "AAAA\nx\n"), -1);
	assert_string_equal(err, "bytes after the manifest");
	assert_int_equal(parse_text("station-batch 1\nmanifest AAAA\n"), -1);
	assert_string_equal(err, "bad manifest line");
	assert_int_equal(parse_text("station-batch 1\nca AAAA\nca AAAA\n"), -1);
	assert_string_equal(err, "bad or repeated ca line");
	assert_int_equal(parse_text("station-batch 1\nwhat AAAA\n"), -1);
	assert_string_equal(err, "unknown line 'what'");
	snprintf(t, sizeof(t), "station-batch 1\nitem 0 S C %s %s\n", cert_b64,
	    sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "an item before the ca line");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 1 SN-1 "
	    "0123456789ABC %s %s\n", cert_b64, sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: bad or out-of-order index");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN_1 "
	    "0123456789ABC %s %s\n", cert_b64, sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: bad serial");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN-1 "
	    "0123456789ILO %s %s\n", cert_b64, sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: bad claim ID");
	/* base64: unpadded, non-zero trailing bits, a bad symbol */
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN-1 "
	    "0123456789ABC MAMCAQE %s\n", sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: bad certificate");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN-1 "
	    "0123456789ABC MAMCAQF= %s\n", sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: bad certificate");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN-1 "
	    "0123456789ABC %s AAAA\n", cert_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: bad sealed key");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN-1 "
	    "0123456789ABC %s %s x\n", cert_b64, sealed_b64);
	assert_int_equal(parse_text(t), -1);
	assert_string_equal(err, "item 0: extra fields");
	snprintf(t, sizeof(t), "station-batch 1\nca AAAA\nitem 0 SN-1 "
	    "0123456789ABC %s %s \n", cert_b64, sealed_b64);
	assert_int_equal(parse_text(t), -1);
}

#define MANIFEST "station-batch-manifest 1\nbatch = O-1.5\norder = O-1\n" \
	"product = P1\ngenerator = ST-1\nrecipient_key = " \
	"0000000000000000000000000000000000000000000000000000000000000001\n" \
	"count = 3\nserial_first = 5\ncreated = 2026-12-05T11:36:24Z\n" \
	"content_sha256 = " \
	"ff00000000000000000000000000000000000000000000000000000000000000\n"

static void
test_manifest(void **state)
{
	struct batch_manifest m;
	char t[1024];

	(void)state;
	assert_int_equal(batch_manifest_parse(MANIFEST, strlen(MANIFEST), &m,
	    err), 0);
	assert_string_equal(m.batch_id, "O-1.5");
	assert_string_equal(m.order_id, "O-1");
	assert_string_equal(m.product, "P1");
	assert_string_equal(m.generator, "ST-1");
	assert_int_equal(m.recipient_key[31], 1);
	assert_int_equal(m.count, 3);
	assert_int_equal(m.serial_first, 5);
	assert_int_equal(m.created, 1796470584);
	assert_int_equal(m.content_sha256[0], 0xff);
	snprintf(t, sizeof(t), "%sx\n", MANIFEST);
	assert_int_equal(batch_manifest_parse(t, strlen(t), &m, err), -1);
	assert_string_equal(err, "manifest: bytes after 'content_sha256'");
	snprintf(t, sizeof(t), "%s", MANIFEST);
	memcpy(strstr(t, "count = 3"), "count = 0", 9);
	assert_int_equal(batch_manifest_parse(t, strlen(t), &m, err), -1);
	assert_string_equal(err, "manifest: bad value of 'count'");
	snprintf(t, sizeof(t), "%s", MANIFEST);
	memcpy(strstr(t, "order ="), "ordre =", 7);
	assert_int_equal(batch_manifest_parse(t, strlen(t), &m, err), -1);
	assert_string_equal(err, "manifest: expected 'order = ' on line 3");
	snprintf(t, sizeof(t), "%s", MANIFEST);
	memcpy(strstr(t, "T11"), "X11", 3);
	assert_int_equal(batch_manifest_parse(t, strlen(t), &m, err), -1);
	assert_string_equal(err, "manifest: bad value of 'created'");
	assert_int_equal(batch_manifest_parse(MANIFEST, 30, &m, err), -1);
	assert_string_equal(err, "manifest: 'batch' missing");
}

static void
test_records(void **state)
{
	struct batch_item it = { .index = 7, .serial = "SN-7",
	    .claim = "0123456789ABC", .cert_len = 600, .sealed_len = 145 };
	static struct batch_item back;
	uint8_t rec[BATCH_RECORD];

	(void)state;
	memset(it.cert, 0x30, it.cert_len);
	memset(it.sealed, 4, it.sealed_len);
	assert_int_equal(batch_record_encode(&it, rec), 0);
	assert_int_equal(batch_record_decode(rec, &back), 0);
	assert_int_equal(back.index, 7);
	assert_string_equal(back.serial, "SN-7");
	assert_string_equal(back.claim, "0123456789ABC");
	assert_int_equal(back.cert_len, 600);
	assert_memory_equal(back.cert, it.cert, 600);
	assert_int_equal(back.sealed_len, 145);
	rec[8] = 0xff;           /* serial length beyond the record */
	assert_int_equal(batch_record_decode(rec, &back), -1);
	it.cert_len = HSM_CERT_MAX;
	it.sealed_len = HSM_SEALED_MAX;
	assert_int_equal(batch_record_encode(&it, rec), -1);
}

static void
test_cert_serial(void **state)
{
	/* SEQ { SEQ { [0] { INTEGER 2 }, INTEGER 00 80 01 } } */
	static const uint8_t der[] = { 0x30, 0x0c, 0x30, 0x0a, 0xa0, 0x03,
	    0x02, 0x01, 0x02, 0x02, 0x03, 0x00, 0x80, 0x01 };
	char hex[AUDIT_TEXT_MAX + 1];

	(void)state;
	assert_int_equal(batch_cert_serial(der, sizeof(der), hex), 0);
	assert_string_equal(hex, "8001");
	assert_int_equal(batch_cert_serial(der, sizeof(der) - 1, hex), -1);
	assert_true(batch_id_valid("DEMO-TOKEN-1.100001"));
	assert_false(batch_id_valid(".hidden"));
	assert_false(batch_id_valid("a/b"));
	assert_false(batch_id_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_cert_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
