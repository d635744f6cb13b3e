/*
 * run.h: `station run` (cmd_run.c: options and signals; run.c: the
 * session: order, token, audit log, recovery and the bench loop).
 */
#ifndef STATION_RUN_H
#define STATION_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "station/config.h"

struct run_opts {
	const char *home, *pin_file, *order, *operator;
	const char *batch;       /* --batch ID: an imported batch's identities */
	uint64_t count;          /* 0: no limit */
	unsigned parallel;       /* devices at once */
	unsigned idle_exit;      /* seconds; 0: never */
	bool confirm;            /* --confirm-label */
	bool times;              /* --times: station-side time per device */
};

/*
 * run_session(cfg, o, interrupted): the whole run; ends early once
 * *${interrupted} is set (finishing devices in flight). Returns the exit
 * code.
 */
int run_session(const struct station_config *cfg, const struct run_opts *o,
    volatile sig_atomic_t *interrupted);

#endif
