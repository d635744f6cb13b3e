/*
 * test_config.c: station.conf parsing, defaults, and every kind of error
 * with its exact message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "station/config.h"

static struct station_config cfg;
static char err[CONFIG_ERR_MAX];

static int
parse(const char *text)
{
	return config_parse(&cfg, "/h/station.conf", text, "/h", err);
}

static void
test_minimal_gets_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("[station]\nid = ST-01\n[hsm]\n"
	    "token = pkcs11:token=demo\n"), 0);
	assert_string_equal(cfg.station_id, "ST-01");
	assert_int_equal(cfg.mode, STATION_MODE_PRODUCTION);
	assert_string_equal(cfg.hsm_token, "pkcs11:token=demo");
	assert_string_equal(cfg.hsm_module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(cfg.audit_database, "/h/station.db");
	assert_int_equal(cfg.audit_checkpoint_every, 100);
	assert_int_equal(cfg.stamp_write_unit, 16);
	assert_int_equal(cfg.stamp_partition_size, 8192);
	assert_false(cfg.hsm_allow_pin_file);
	assert_string_equal(cfg.hsm_pin_file, "");
}

static void
test_full(void **state)
{
	(void)state;
	assert_int_equal(parse("; comment\n[station]\nid = a.b_c-9\n"
	    "mode = development\n[hsm]\ntoken = pkcs11:token=t;object=k\n"
	    "pin_file = pin\nallow_pin_file = yes\n[audit]\n"
	    "database = /var/db/s.db\ncheckpoint_every = 5\n[stamp]\n"
	    "write_unit = 32\npartition_size = 4096\n"), 0);
	assert_int_equal(cfg.mode, STATION_MODE_DEVELOPMENT);
	assert_string_equal(cfg.hsm_token, "pkcs11:token=t;object=k");
	assert_string_equal(cfg.hsm_pin_file, "/h/pin");
	assert_true(cfg.hsm_allow_pin_file);
	assert_string_equal(cfg.audit_database, "/var/db/s.db");
	assert_int_equal(cfg.audit_checkpoint_every, 5);
	assert_int_equal(cfg.stamp_write_unit, 32);
}

struct bad_case {
	const char *text;
	const char *message;
};

static const struct bad_case bad[] = {
	{ "[station]\nid = x\nmodul = y\n",
	  "/h/station.conf:3: [station] unknown key 'modul'" },
	{ "[stations]\nid = x\n",
	  "/h/station.conf:2: unknown section [stations]" },
	{ "[station]\nid = x\n[hsm]\ntoken = pkcs11:a\n[audit]\n"
	  "checkpoint_every = ten\n",
	  "/h/station.conf:6: [audit] checkpoint_every: expected an integer "
	  "from 1 to 1000000, got 'ten'" },
	{ "[station]\nid = x\n[hsm]\ntoken = pkcs11:a\n[audit]\n"
	  "checkpoint_every = 0\n",
	  "/h/station.conf:6: [audit] checkpoint_every: expected an integer "
	  "from 1 to 1000000, got '0'" },
	{ "[station]\nid = x\n[hsm]\ntoken = pkcs11:a\n[stamp]\nwrite_unit = 24\n",
	  "/h/station.conf:6: [stamp] write_unit: expected 16 or 32, got '24'" },
	{ "[station]\nid = has space\n",
	  "/h/station.conf:2: [station] id: expected 1 to 32 of A-Z a-z 0-9 . _ -, "
	  "got 'has space'" },
	{ "[station]\nid = x\nmode = prod\n",
	  "/h/station.conf:3: [station] mode: expected development or production, "
	  "got 'prod'" },
	{ "[station]\nid = x\n[hsm]\ntoken = /dev/token\n",
	  "/h/station.conf:4: [hsm] token: expected a PKCS#11 URI starting with "
	  "'pkcs11:', got '/dev/token'" },
	{ "[station]\nid = x\n[hsm]\ntoken = pkcs11:a\nallow_pin_file = maybe\n",
	  "/h/station.conf:5: [hsm] allow_pin_file: expected yes or no, got 'maybe'" },
	{ "[station]\nid = x\nid = y\n",
	  "/h/station.conf:3: [station] id: set twice (first on line 2)" },
	{ "[station]\nthis line has no equals sign\n",
	  "/h/station.conf:2: syntax error: expected '[section]' or 'key = value'" },
	{ "[hsm]\ntoken = pkcs11:a\n",
	  "/h/station.conf: [station] id is required" },
	{ "[station]\nid = x\n",
	  "/h/station.conf: [hsm] token is required" },
	{ "[station]\nid = x\n[hsm]\ntoken = pkcs11:a\npin_file = p\n",
	  "/h/station.conf: [hsm] pin_file: refused in production mode; the "
	  "officer types the PIN, or set allow_pin_file = yes" },
	{ "[station]\nid = x\n[hsm]\ntoken = pkcs11:a\n[stamp]\n"
	  "partition_size = 1000\n",
	  "/h/station.conf: [stamp] partition_size: expected a multiple of "
	  "write_unit (16), got 1000" },
};

static void
test_bad_input_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].text), -1);
		assert_string_equal(err, bad[i].message);
	}
}

static void
test_long_line_refused(void **state)
{
	char text[400];

	(void)state;
	memset(text, 'a', sizeof(text));
	memcpy(text, "[station]\nid = ", 15);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(parse(text), -1);
	assert_string_equal(err,
	    "/h/station.conf:2: line too long (at most 198 characters)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_gets_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bad_input_messages),
		cmocka_unit_test(test_long_line_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
