/*
 * bench_times.c: where the station's own time per device goes, for
 * `station run --times` and the bench figures: the HSM (token RNG,
 * keygen in token mode, CSR check, certificate signature, stamp
 * signature), the database (audit transactions while holding the handle,
 * not the wait for it; the token's order count inside it is also shown
 * apart), building the stamp (sealing,
 * encoding), and USB host transfers (info, stage with read-back, commit;
 * with the emulator this is mostly the emulator's own CPU time). The
 * device's own time (on-device keygen, dfuDNBUSY) is apart.
 */
#include <stdlib.h>

#include "station/bench.h"

void
bench_times_add(struct bench *b, const struct bench_result *r)
{
	if (!r->pass)
		return;
	if (b->ntimes == b->captimes) {
		size_t cap = b->captimes ? 2 * b->captimes : 64;
		void *g = realloc(b->times, cap * sizeof(*b->times));

		if (g == NULL)
			return;
		b->times = g;
		b->captimes = cap;
	}
	b->times[b->ntimes] = r->t;
	b->times[b->ntimes++].device = r->ms;   /* wall time, for the median */
}

static int
cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double
median(const struct bench *b, int which)
{
	double *v = malloc(b->ntimes * sizeof(*v)), m;

	if (v == NULL || b->ntimes == 0) {
		free(v);
		return 0;
	}
	for (size_t i = 0; i < b->ntimes; i++) {
		const struct bench_times *t = &b->times[i];

		v[i] = which == 0 ? t->hsm : which == 1 ? t->db : which == 2 ?
		    t->build : which == 3 ? t->usb : which == 4 ? t->hsm +
		    t->db + t->build : which == 5 ? t->device : t->token;
	}
	qsort(v, b->ntimes, sizeof(*v), cmp);
	m = v[b->ntimes / 2];
	free(v);
	return m;
}

void
bench_times_report(const struct bench *b, FILE *out)
{
	fprintf(out, "station time per device (median of %zu, ms): HSM %.2f, "
	    "database %.2f (of which the token's order count %.2f), stamp "
	    "building %.2f; station side %.2f; USB host transfers %.2f; wall "
	    "time %.1f\n", b->ntimes, median(b, 0), median(b, 1), median(b, 6),
	    median(b, 2), median(b, 4), median(b, 3), median(b, 5));
}

void
bench_times_free(struct bench *b)
{
	free(b->times);
	b->times = NULL;
	b->ntimes = b->captimes = 0;
}
