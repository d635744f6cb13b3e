/*
 * scenario.c: TEST ONLY realistic station history (see scenario.h).
 */
#include <stdio.h>
#include <string.h>

#include "tests/audit/scenario.h"

uint64_t
scenario_rand(struct scenario *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ULL;
}

int64_t
scenario_clock(void *ctx)
{
	struct scenario *s = ctx;

	if (s->clock_us == 0)
		s->clock_us = s->start_us ? s->start_us : 1795680000000000LL;
	s->clock_us += 2000000 + (int64_t)(scenario_rand(s) % 40000000);
	return s->clock_us;
}

int
scenario_setup(struct audit *a, struct scenario *s)
{
	static const uint8_t doc_a[] = "order ORD-A signed by brand owner (test)";
	static const uint8_t doc_b[] = "order ORD-B signed by brand owner (test)";
	struct audit_order o = { .quantity = 100000, .serial_first = 1,
	    .serial_last = 100000 };

	(void)s;
	strcpy(o.order_id, "ORD-A");
	strcpy(o.product, "Sensor S1");
	if (audit_order_add(a, &o, doc_a, sizeof(doc_a) - 1, "officer") != 0)
		return -1;
	strcpy(o.order_id, "ORD-B");
	strcpy(o.product, "Gateway G2");
	o.serial_first = 100001;
	o.serial_last = 900000;
	if (audit_order_add(a, &o, doc_b, sizeof(doc_b) - 1, "officer") != 0)
		return -1;
	return audit_deny_add(a, "hardware_id", "HW-STOLEN-1", "reported stolen",
	    "officer");
}

static void
random_bytes(struct scenario *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)scenario_rand(s);
}

static int
change(struct audit *a, const char *serial, enum audit_state to,
    const char *reason, const char *op)
{
	struct audit_change c = { .to = to, .reason = reason };

	return audit_device_transition(a, serial, &c, op, NULL, 0, NULL);
}

/* One device through the bench; its fate drawn at random. */
static int
one_device(struct audit *a, struct scenario *s, unsigned i)
{
	static const char *const ops[] = { "op-anna", "op-ben", "op-chen" };
	const char *op = ops[(i / 7) % 3];
	char serial[32], claim[40], hw[32], cserial[40];
	uint8_t pub[91], cert[600], stamp[32], raw[16];
	struct audit_allocation al;
	struct audit_change c;
	struct audit_field f = { "stamp_sha256", stamp, sizeof(stamp) };
	unsigned fate = (unsigned)(scenario_rand(s) % 100);

	snprintf(serial, sizeof(serial), "SN-%08u", s->first_device + i);
	snprintf(hw, sizeof(hw), "HW-%06u", s->first_device + i);
	random_bytes(s, raw, sizeof(raw));
	snprintf(claim, sizeof(claim), "CLM-%u-%08x%08x", s->first_device + i,
	    (unsigned)raw[0] << 24 |
	    (unsigned)raw[1] << 16 | (unsigned)raw[2] << 8 | raw[3],
	    (unsigned)raw[4] << 24 | (unsigned)raw[5] << 16 |
	    (unsigned)raw[6] << 8 | raw[7]);
	al = (struct audit_allocation){ serial, claim, hw,
	    (i % 5 == 4) ? "ORD-B" : "ORD-A", (i % 2) ? "token" : "device" };
	if (audit_device_allocate(a, &al, op, NULL, 0, NULL) != 0)
		return -1;
	if (fate < 2)
		return change(a, serial, AUDIT_VOIDED, "device unplugged before "
		    "keygen", op);
	random_bytes(s, pub, sizeof(pub));
	c = (struct audit_change){ .to = AUDIT_KEY_READY, .public_key = pub,
	    .public_key_len = sizeof(pub) };
	if (audit_device_transition(a, serial, &c, op, NULL, 0, NULL) != 0)
		return -1;
	if (fate < 7)
		return change(a, serial, AUDIT_FAILED, "CSR signature invalid", op);
	random_bytes(s, cert, sizeof(cert));
	random_bytes(s, raw, sizeof(raw));
	for (int k = 0; k < 16; k++)
		snprintf(cserial + 2 * k, 3, "%02x", raw[k]);
	c = (struct audit_change){ .to = AUDIT_ISSUED, .cert_der = cert,
	    .cert_der_len = sizeof(cert), .cert_serial = cserial };
	if (audit_device_transition(a, serial, &c, op, NULL, 0, NULL) != 0)
		return -1;
	if (fate < 10) {
		if (change(a, serial, AUDIT_FAILED, "stamp read-back mismatch",
		    op) != 0)
			return -1;
		return change(a, serial, AUDIT_REVOKED, "failed after issue", op);
	}
	random_bytes(s, stamp, sizeof(stamp));
	c = (struct audit_change){ .to = AUDIT_WRITTEN };
	if (audit_device_transition(a, serial, &c, op, &f, 1, NULL) != 0)
		return -1;
	if (fate < 12)
		return change(a, serial, AUDIT_UNCONFIRMED, "device gone before "
		    "activation", "recovery");
	if (change(a, serial, AUDIT_DONE, NULL, op) != 0)
		return -1;
	if (fate < 13)
		return change(a, serial, AUDIT_REVOKED, "QA reject", "officer");
	return 0;
}

int
scenario_run(struct audit *a, struct scenario *s)
{
	struct audit_field f = { "operator_count", "3", 1 };

	if (s->rng == 0)
		s->rng = (s->seed ? s->seed : 88172645463325252ULL) ^
		    ((uint64_t)s->first_device * 0x9e3779b97f4a7c15ULL);
	if (audit_append(a, "station", "bench.session_started",
	    audit_station_id(a), &f, 1, NULL) != 0)
		return -1;
	for (unsigned i = 0; i < s->devices; i++) {
		if (s->group && i % s->group == 0 && audit_begin(a) != 0)
			return -1;
		if (one_device(a, s, i) != 0) {
			if (s->group)
				audit_rollback(a);
			return -1;
		}
		if (s->group && (i % s->group == s->group - 1 ||
		    i == s->devices - 1) && audit_commit(a) != 0)
			return -1;
	}
	return audit_append(a, "station", "bench.session_ended",
	    audit_station_id(a), NULL, 0, NULL);
}
