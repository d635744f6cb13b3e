/*
 * bench_recover.h: recovery of devices left in flight (bench_recover.c).
 */
#ifndef STATION_BENCH_RECOVER_H
#define STATION_BENCH_RECOVER_H

#include "station/bench.h"
#include "station/run_screen.h"

/*
 * bench_recover(b, fl, screen, count): move every device an earlier run
 * left in allocated, key_ready, issued, written (or unconfirmed) to where
 * ARCHITECTURE.md says, each reported on ${screen} and recorded; how many
 * in ${count}. Before any device is stamped. 0, or -1 (database).
 */
int bench_recover(struct bench *b, struct flasher *fl,
    struct run_screen *screen, unsigned *count);

#endif
