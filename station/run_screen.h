/*
 * run_screen.h: what the operator sees during `station run`
 * (run_screen.c). One line per device worked on, PASS or FAIL in capitals
 * with its hub port, serial and claim ID or the reason; on a terminal a
 * status line kept at the bottom (order progress, counts, rate, what each
 * port is doing), redrawn in place; otherwise plain lines only, with the
 * counts on each.
 */
#ifndef STATION_RUN_SCREEN_H
#define STATION_RUN_SCREEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "station/bench.h"

struct run_screen;

/* run_screen_new(out, live, order_id, quantity, allocated): a screen on
 * ${out}; ${live}: a terminal (status line). NULL if out of memory. */
struct run_screen *run_screen_new(FILE *out, bool live, const char *order_id,
    uint64_t quantity, uint64_t allocated);
/* run_screen_batch(s, batch_id): a run on a batch: its lines name the
 * batch and count identities used, not an order's allocations. */
void run_screen_batch(struct run_screen *s, const char *batch_id);
void run_screen_free(struct run_screen *s);

/* run_screen_step(screen, port, step): a bench_step_fn; NULL step: the
 * port is idle again. */
void run_screen_step(void *screen, const char *port, const char *step);

/* run_screen_result(s, r, allocated): one device's outcome; the order's
 * count now. */
void run_screen_result(struct run_screen *s, const struct bench_result *r,
    uint64_t allocated);

/* run_screen_note(s, fmt, ...): a line of its own (recovery, stops). */
void run_screen_note(struct run_screen *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* run_screen_tick(s): redraw the status line (terminal only). */
void run_screen_tick(struct run_screen *s);

/* run_screen_counts(s, pass, fail): the counts so far. */
void run_screen_counts(const struct run_screen *s, unsigned *pass,
    unsigned *fail);

/* run_screen_summary(s): the closing lines: counts, rate, order. */
void run_screen_summary(struct run_screen *s);

#endif
