/*
 * test_dfu_parse.c: the parsers of flasher/dfu_parse.c on good and
 * malformed device input, with the exact messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flasher/flasher.h"

static char err[FLASHER_ERR_MAX];
static struct flasher_dfu_if dfu;

#define FUNC 9, 0x21, 0x07, 0xe8, 0x03, 0x00, 0x08, 0x10, 0x01
#define INTF(num, alt, str) 9, 0x04, num, alt, 0, 0xfe, 0x01, 0x02, str
#define CONFIG(total) 9, 0x02, (total) & 0xff, (total) >> 8, 1, 1, 0, 0x80, 50

static void
test_stamp_config(void **state)
{
	const uint8_t c[] = { CONFIG(54), INTF(0, 0, 4), INTF(0, 1, 5),
		INTF(0, 2, 6), INTF(0, 3, 7), FUNC };
	(void)state;
	assert_int_equal(flasher_parse_config(c, sizeof(c), &dfu, err), 0);
	assert_int_equal(dfu.nalts, 4);
	assert_int_equal(dfu.interface, 0);
	assert_int_equal(dfu.protocol, 2);
	assert_int_equal(dfu.alts[2].setting, 2);
	assert_int_equal(dfu.alts[2].string_index, 6);
	assert_int_equal(dfu.func.transfer_size, 2048);
	assert_int_equal(dfu.func.detach_timeout_ms, 1000);
	assert_int_equal(dfu.func.dfu_version, 0x0110);
	assert_int_equal(dfu.func.attributes, FLASHER_CAN_DNLOAD |
	    FLASHER_CAN_UPLOAD | FLASHER_MANIFEST_TOLERANT);
}

static void
test_runtime_interface_after_others(void **state)
{
	/* HID interface with an endpoint, then a run-time DFU interface 1
	 * with a DFU 1.0 (7-byte) functional descriptor. */
	const uint8_t c[] = { CONFIG(41), 9, 4, 0, 0, 1, 3, 0, 0, 0,
		7, 5, 0x81, 3, 8, 0, 10, 9, 4, 1, 0, 0, 0xfe, 1, 1, 0,
		7, 0x21, 0x0b, 0xff, 0, 0, 4 };
	(void)state;
	assert_int_equal(flasher_parse_config(c, sizeof(c), &dfu, err), 0);
	assert_int_equal(dfu.interface, 1);
	assert_int_equal(dfu.protocol, 1);
	assert_int_equal(dfu.nalts, 1);
	assert_int_equal(dfu.func.transfer_size, 1024);
	assert_int_equal(dfu.func.dfu_version, 0x0100);
}

static void
test_no_dfu_interface(void **state)
{
	const uint8_t c[] = { CONFIG(18), 9, 4, 0, 0, 0, 8, 6, 0x50, 0 };
	(void)state;
	assert_int_equal(flasher_parse_config(c, sizeof(c), &dfu, err), 1);
}

static void
check_bad(const uint8_t *c, size_t len, const char *want)
{
	memset(err, 0, sizeof(err));
	assert_int_equal(flasher_parse_config(c, len, &dfu, err), -1);
	assert_string_equal(err, want);
}

static void
test_malformed_configs(void **state)
{
	const uint8_t total_short[] = { CONFIG(27), INTF(0, 0, 4), FUNC };
	const uint8_t runs_past[] = { CONFIG(27), INTF(0, 0, 4), 12, 0x21, 7,
		0, 0, 0, 8, 0x10, 1 };
	const uint8_t zero_len[] = { CONFIG(20), INTF(0, 0, 4), 0, 0x21 };
	const uint8_t no_func[] = { CONFIG(18), INTF(0, 0, 4) };
	const uint8_t bad_func[] = { CONFIG(27), INTF(0, 0, 4), 9, 0x21, 7, 0,
		0, 0, 0, 0x10, 1 };
	const uint8_t twice[] = { CONFIG(36), INTF(0, 1, 4), INTF(0, 1, 5), FUNC };
	const uint8_t short_intf[] = { CONFIG(16), 7, 4, 0, 0, 0, 0xfe, 1 };
	const uint8_t not_config[] = { 9, 0x01, 9, 0, 1, 1, 0, 0x80, 50 };
	(void)state;
	check_bad(total_short, sizeof(total_short) - 1,
	    "configuration descriptor: wTotalLength 27 but 26 bytes received");
	check_bad(runs_past, sizeof(runs_past),
	    "configuration descriptor: descriptor at byte 18 runs past the end");
	check_bad(zero_len, sizeof(zero_len),
	    "configuration descriptor: descriptor at byte 18 runs past the end");
	check_bad(no_func, sizeof(no_func),
	    "configuration descriptor: DFU interface 0 has no DFU functional descriptor");
	check_bad(bad_func, sizeof(bad_func),
	    "configuration descriptor: malformed DFU functional descriptor at byte 18");
	check_bad(twice, sizeof(twice),
	    "configuration descriptor: alt setting 1 twice");
	check_bad(short_intf, sizeof(short_intf),
	    "configuration descriptor: interface descriptor at byte 9 too short");
	check_bad(not_config, sizeof(not_config),
	    "configuration descriptor: bad header");
}

static void
test_func_and_status(void **state)
{
	const uint8_t f[] = { FUNC }, st_busy[] = { 0, 0x10, 0x27, 0x01, 4, 0 };
	struct flasher_func func;
	struct flasher_status st;
	(void)state;
	assert_int_equal(flasher_parse_func(f, sizeof(f), &func), 0);
	assert_int_equal(flasher_parse_func(f, 8, &func), -1);
	assert_int_equal(flasher_parse_status(st_busy, 6, &st), 0);
	assert_int_equal(st.poll_timeout_ms, 0x012710);
	assert_int_equal(st.state, FLASHER_DNBUSY);
	assert_int_equal(flasher_parse_status(st_busy, 5, &st), -1);
	assert_int_equal(flasher_parse_status(st_busy, 7, &st), -1);
	assert_string_equal(flasher_state_name(FLASHER_DNBUSY), "dfuDNBUSY");
	assert_string_equal(flasher_state_name(200), "an unknown state");
	assert_string_equal(flasher_status_name(3),
	    "errWRITE (device is unable to write memory)");
	assert_string_equal(flasher_status_name(99), "an unknown status code");
}

static void
test_select(void **state)
{
	struct flasher_device devs[3];
	size_t i = 99;
	(void)state;
	memset(devs, 0, sizeof(devs));
	strcpy(devs[0].path, "1-1"); strcpy(devs[0].serial, "A");
	strcpy(devs[1].path, "1-2"); strcpy(devs[1].serial, "B");
	strcpy(devs[2].path, "1-3"); strcpy(devs[2].serial, "B");
	assert_int_equal(flasher_select(devs, 3, NULL, NULL, &i, err), -2);
	assert_string_equal(err, "3 DFU devices are attached");
	assert_int_equal(flasher_select(devs, 3, "B", NULL, &i, err), -2);
	assert_string_equal(err, "2 DFU devices match");
	assert_int_equal(flasher_select(devs, 3, "B", "1-3", &i, err), 0);
	assert_int_equal(i, 2);
	assert_int_equal(flasher_select(devs, 3, "A", NULL, &i, err), 0);
	assert_int_equal(i, 0);
	assert_int_equal(flasher_select(devs, 3, NULL, "1-9", &i, err), -1);
	assert_string_equal(err, "no DFU device at port 1-9");
	assert_int_equal(flasher_select(devs, 0, NULL, NULL, &i, err), -1);
	assert_string_equal(err, "no DFU device attached");
	assert_int_equal(flasher_select(devs, 1, NULL, NULL, &i, err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_config),
		cmocka_unit_test(test_runtime_interface_after_others),
		cmocka_unit_test(test_no_dfu_interface),
		cmocka_unit_test(test_malformed_configs),
		cmocka_unit_test(test_func_and_status),
		cmocka_unit_test(test_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
