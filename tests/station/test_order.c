/*
 * test_order.c: the order text parser (every key, comments, CRLF, each
 * kind of malformed line with its exact message, the block check) and
 * the CMS container's shape checks on hand-made bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "station/order.h"

static char err[ORDER_ERR_MAX];
static struct order o;

#define GOOD "station-order 1\norder_id = A-1\nstation_id = ST_1\n" \
	"product = P.1\nquantity = 10\nserial_first = 0\nserial_last = 9\n" \
	"key_mode = token\nclaim_mode = preclaimed\n" \
	"expires = 2028-02-29T12:34:56Z\n"

static int
parse(const char *text)
{
	return order_parse_text((const uint8_t *)text, strlen(text), &o, err);
}

static void
test_good(void **state)
{
	(void)state;
	assert_int_equal(parse(GOOD), 0);
	assert_string_equal(o.order_id, "A-1");
	assert_string_equal(o.station_id, "ST_1");
	assert_string_equal(o.product, "P.1");
	assert_int_equal(o.quantity, 10);
	assert_int_equal(o.serial_first, 0);
	assert_int_equal(o.serial_last, 9);
	assert_string_equal(o.key_mode, "token");
	assert_string_equal(o.claim_mode, "preclaimed");
	assert_int_equal(o.expires, 1835440496);
	/* CRLF, comments, blank lines, blanks round '=', no final newline. */
	assert_int_equal(parse("station-order 1\r\n# c\r\n\r\n  order_id=A-1 \r\n"
	    "station_id =\tST_1\r\nproduct = P.1\r\nquantity = 10\r\n"
	    "serial_first = 0\r\nserial_last = 9\r\nkey_mode = host\r\n"
	    "claim_mode = user\r\nexpires = 2028-02-29T12:34:56Z"), 0);
	assert_string_equal(o.key_mode, "host");
}

static void
replace(char *out, const char *from, const char *to)
{
	const char *p = strstr(GOOD, from);

	assert_non_null(p);
	snprintf(out, 1024, "%.*s%s%s", (int)(p - GOOD), GOOD, to,
	    p + strlen(from));
}

static void
test_errors(void **state)
{
	static const struct { const char *from, *to, *msg; int rc; } cases[] = {
		{ "station-order 1", "station-order 2", "line 1: expected "
		    "'station-order 1'", -1 },
		{ "quantity = 10", "quantity = 0", "line 5: quantity: expected a "
		    "whole number from 1 to 1000000000000, got '0'", -1 },
		{ "quantity = 10", "quantity = 1000000000001", "line 5: quantity: "
		    "expected a whole number from 1 to 1000000000000, got "
		    "'1000000000001'", -1 },
		{ "quantity = 10", "quantity = -1", "line 5: quantity: expected a "
		    "whole number from 1 to 1000000000000, got '-1'", -1 },
		{ "serial_last = 9", "serial_last = 1000000000000000",
		    "line 7: serial_last: expected a whole number of at most 15 "
		    "digits, got '1000000000000000'", -1 },
		{ "product = P.1", "product = P_1", "line 4: product: expected 1 "
		    "to 32 of A-Z a-z 0-9 . -, got 'P_1'", -1 },
		{ "key_mode = token", "key_mode = tokens", "line 8: key_mode: "
		    "expected device, token or host, got 'tokens'", -1 },
		{ "claim_mode = preclaimed", "claim_mode = ", "line 9: claim_mode: "
		    "expected user or preclaimed, got ''", -1 },
		{ "2028-02-29T12:34:56Z", "2027-02-29T12:34:56Z", "line 10: "
		    "expires: expected a UTC time YYYY-MM-DDTHH:MM:SSZ, got "
		    "'2027-02-29T12:34:56Z'", -1 },
		{ "2028-02-29T12:34:56Z", "2028-02-29 12:34:56", "line 10: "
		    "expires: expected a UTC time YYYY-MM-DDTHH:MM:SSZ, got "
		    "'2028-02-29 12:34:56'", -1 },
		{ "order_id = A-1\n", "order_id = A-1\nnotes = x\n", "line 3: "
		    "unknown key 'notes'", -1 },
		{ "order_id = A-1\n", "order_id = A-1\norder_id = A-2\n", "line 3: "
		    "order_id given twice (first on line 2)", -1 },
		{ "order_id = A-1\n", "order_id A-1\n", "line 2: expected 'key = "
		    "value'", -1 },
		{ "order_id = A-1\n", "order_id = A-\x01\n", "line 2: a control or "
		    "non-ASCII character (byte 0x01)", -1 },
		{ "order_id = A-1\n", "order_id = \xc3\xa9\n", "line 2: a control or "
		    "non-ASCII character (byte 0xc3)", -1 },
		{ "order_id = A-1\n", "", "order_id missing", -1 },
		{ "quantity = 10", "quantity = 11", "order A-1: quantity 11 does "
		    "not fit the serial block 0..9", -2 },
		{ "serial_first = 0", "serial_first = 10", "order A-1: quantity 10 "
		    "does not fit the serial block 10..9", -2 },
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		replace(text, cases[i].from, cases[i].to);
		assert_int_equal(parse(text), cases[i].rc);
		assert_string_equal(err, cases[i].msg);
	}
	assert_int_equal(order_parse_text((const uint8_t *)"", 0, &o, err), -1);
	assert_string_equal(err, "the order text is empty or longer than 4096 "
	    "bytes");
	/* A NUL inside is a control character, not an end. */
	assert_int_equal(order_parse_text((const uint8_t *)GOOD "\0x",
	    sizeof(GOOD) + 1, &o, err), -1);
	assert_string_equal(err, "line 11: a control or non-ASCII character "
	    "(byte 0x00)");
}

static void
test_container(void **state)
{
	static const uint8_t not_der[] = { 'h', 'i' };
	/* ContentInfo { id-data, [0] OCTET STRING "x" }: CMS, not SignedData. */
	static const uint8_t data_ci[] = { 0x30, 0x12, 0x06, 0x09, 0x2a, 0x86,
	    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x05, 0x04, 0x03,
	    'x', 'y', 'z' };
	uint8_t *text;
	size_t len;

	(void)state;
	assert_int_equal(order_content(not_der, sizeof(not_der), &text, &len,
	    err), -1);
	assert_string_equal(err, "not a DER CMS document");
	assert_int_equal(order_content(data_ci, sizeof(data_ci), &text, &len,
	    err), -1);
	assert_string_equal(err, "not CMS SignedData");
	assert_int_equal(order_content(data_ci, 0, &text, &len, err), -1);
	assert_string_equal(err, "empty or larger than 65536 bytes");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_container),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
