/*
 * scenario.h: TEST ONLY. Writes a realistic station history through the
 * real audit API: orders, a deny list, devices through every state (most
 * done; some failed, voided, revoked, unconfirmed), several operators,
 * bench sessions, checkpoints signed by a software key. Deterministic for
 * a seed, with a simulated clock spread over hours.
 */
#ifndef TESTS_AUDIT_SCENARIO_H
#define TESTS_AUDIT_SCENARIO_H

#include <stdint.h>

#include "audit/audit.h"

struct scenario {
	unsigned devices;       /* devices to stamp */
	unsigned group;         /* devices per group commit; 0: one commit each */
	uint64_t seed;
	int64_t start_us;       /* simulated clock start; 0: a fixed date */
	unsigned first_device;  /* number the serials from here */
	/* filled in */
	int64_t clock_us;
	uint64_t rng;
};

/* scenario_rand(s): the next pseudo-random number. */
uint64_t scenario_rand(struct scenario *s);

/* scenario_clock: an audit clock over ${ctx} = struct scenario *. */
int64_t scenario_clock(void *ctx);

/* scenario_setup(a, s): orders and deny list (once per database). */
int scenario_setup(struct audit *a, struct scenario *s);

/* scenario_run(a, s): stamp s->devices devices; 0 or -1 (audit_error). */
int scenario_run(struct audit *a, struct scenario *s);

#endif
