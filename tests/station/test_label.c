/*
 * test_label.c: the QR payload template (fields, percent-encoding,
 * errors) and the ZPL II text, field by field, with values that would
 * inject ZPL commands if they were not escaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "station/label.h"

static char err[LABEL_ERR_MAX];

static void
test_payload(void **state)
{
	struct label_device d = { "SN-1", "0000000014U", "DW1" };
	char out[LABEL_PAYLOAD_MAX + 1], big[600];

	(void)state;
	assert_int_equal(label_payload("https://x.invalid/c?id={claim}&sn="
	    "{serial}&p={product}", &d, out, err), 0);
	assert_string_equal(out, "https://x.invalid/c?id=0000000014U&sn=SN-1"
	    "&p=DW1");
	d.claim_id = "00000000100*";
	d.product = "a b/c";
	assert_int_equal(label_payload("{claim}|{product}", &d, out, err), 0);
	assert_string_equal(out, "00000000100%2A|a%20b%2Fc");
	d.claim_id = "0000000012$";
	assert_int_equal(label_payload("{claim}", &d, out, err), 0);
	assert_string_equal(out, "0000000012%24");
	d.claim_id = "0000000011~";
	assert_int_equal(label_payload("{claim}", &d, out, err), 0);
	assert_string_equal(out, "0000000011~");
	assert_int_equal(label_payload("x{colour}", &d, out, err), -1);
	assert_string_equal(err, "[label] qr_template: unknown field at "
	    "'{colour}' (known: {claim} {serial} {product})");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(label_payload(big, &d, out, err), -1);
	assert_string_equal(err, "QR payload longer than 512 bytes");
	assert_int_equal(label_payload("tab\there", &d, out, err), -1);
	assert_string_equal(err, "[label] qr_template: only printable ASCII");
}

static void
test_zpl(void **state)
{
	struct label_device d = { "SN^XZ_1", "0000000011~", "P~JA" };
	char *zpl;
	size_t len;

	(void)state;
	assert_int_equal(label_zpl(&d, "https://x/?a=1^FS", &zpl, &len, err), 0);
	assert_string_equal(zpl, "^XA\n^CI28\n^PW406\n^LL254\n"
	    "^FO16,16^BQN,2,4^FH_^FDMA,https://x/?a=1_5EFS^FS\n"
	    "^FO200,40^A0N,24,24^FH_^FDSN_5EXZ_5F1^FS\n"
	    "^FO200,90^A0N,22,22^FH_^FD0000-0000-11_7E^FS\n"
	    "^FO200,140^A0N,20,20^FH_^FDP_7EJA^FS\n^XZ\n");
	assert_int_equal(len, strlen(zpl));
	free(zpl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_zpl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
