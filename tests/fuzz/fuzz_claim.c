/*
 * fuzz_claim.c: what people type: the claim ID normaliser (any bytes, any
 * length setting, with and without the check symbol) and the serial
 * template renderer. An accepted claim ID must be canonical: normalising
 * it again gives itself, and its check symbol holds.
 *
 * identity.c also holds identity_allocate (audit) and identity_hsm_rng
 * (hsm), which this harness never calls; the stubs below only satisfy the
 * linker and abort if reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm.h"
#include "station/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int hsm_random(struct hsm *h, uint8_t *buf, size_t len) { (void)h; (void)buf; (void)len; abort(); }
int audit_device_allocate(struct audit *a, const struct audit_allocation *d,
    const char *actor, const struct audit_field *extra, size_t n_extra,
    uint64_t *seq) { (void)a; (void)d; (void)actor; (void)extra; (void)n_extra; (void)seq; abort(); }
const char *audit_error(const struct audit *a) { (void)a; abort(); }
int audit_device_get(struct audit *a, const char *serial,
    struct audit_device *d) { (void)a; (void)serial; (void)d; abort(); }
int audit_device_by_hardware(struct audit *a, const char *hardware_id,
    struct audit_device *d) { (void)a; (void)hardware_id; (void)d; abort(); }

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, out[IDENTITY_CLAIM_BUF], again[IDENTITY_CLAIM_BUF];
	char serial[IDENTITY_SERIAL_MAX + 1], err[IDENTITY_ERR_MAX];
	unsigned symbols;
	bool check;

	if (size < 1)
		return 0;
	symbols = IDENTITY_CLAIM_MIN + data[0] % (IDENTITY_CLAIM_MAX -
	    IDENTITY_CLAIM_MIN + 2);   /* one beyond the maximum, too */
	check = data[0] & 0x80;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	err[0] = '\0';
	if (identity_claim_normalise(s, symbols, check, out, err) == 0) {
		if (strlen(out) != symbols + (check ? 1u : 0u))
			abort();
		if (identity_claim_normalise(out, symbols, check, again, err) != 0 ||
		    strcmp(out, again) != 0)
			abort();
		if (check && identity_check_symbol(out, symbols) != out[symbols])
			abort();
	} else if (err[0] == '\0') {
		abort();
	}
	err[0] = '\0';
	if (identity_serial(s, "DW1", "DEMO-01", "O-1", 12345, serial, err) == 0) {
		if (strlen(serial) == 0 || strlen(serial) > IDENTITY_SERIAL_MAX)
			abort();
	} else if (err[0] == '\0') {
		abort();
	}
	free(s);
	return 0;
}
