/*
 * run_screen.c: the bench screen (run_screen.h). Results are printed
 * whole lines at a time under one mutex, so lines of devices finishing
 * together never interleave. The status line on a terminal is erased
 * (CR, ESC[K) before each result line and drawn again after it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "station/run_screen.h"
#include "station/batch.h"

#define PORTS_MAX 64

struct run_screen {
	FILE *out;
	bool live;
	const char *what, *used;         /* "order", "allocated" or batch's */
	char order_id[ORDER_ID_MAX > BATCH_ID_MAX ? ORDER_ID_MAX + 1 :
	    BATCH_ID_MAX + 1];
	uint64_t quantity, allocated;
	unsigned pass, fail;
	double start;
	pthread_mutex_t mutex;
	struct { char port[FLASHER_PATH_MAX]; char step[32]; } ports[PORTS_MAX];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run_screen *
run_screen_new(FILE *out, bool live, const char *order_id, uint64_t quantity,
    uint64_t allocated)
{
	struct run_screen *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->out = out;
	s->live = live;
	s->what = "order";
	s->used = "allocated";
	snprintf(s->order_id, sizeof(s->order_id), "%s", order_id);
	s->quantity = quantity;
	s->allocated = allocated;
	s->start = now_s();
	pthread_mutex_init(&s->mutex, NULL);
	return s;
}

void
run_screen_batch(struct run_screen *s, const char *batch_id)
{
	s->what = "batch";
	s->used = "used";
	snprintf(s->order_id, sizeof(s->order_id), "%s", batch_id);
}

void
run_screen_free(struct run_screen *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mutex);
	free(s);
}

static double
rate(const struct run_screen *s)
{
	double el = now_s() - s->start;

	return el > 0 ? (double)s->pass * 60.0 / el : 0;
}

/* status(s): the status line, without newline; under the mutex. */
static void
status(struct run_screen *s)
{
	size_t shown = 0;

	if (!s->live)
		return;
	fprintf(s->out, "\r\033[K[%s %s %llu/%llu] PASS %u  FAIL %u  "
	    "%.1f/min", s->what, s->order_id, (unsigned long long)s->allocated,
	    (unsigned long long)s->quantity, s->pass, s->fail, rate(s));
	for (size_t i = 0; i < PORTS_MAX && shown < 6; i++)
		if (s->ports[i].port[0] != '\0') {
			fprintf(s->out, "%s%s %s", shown ? ", " : "  | ",
			    s->ports[i].port, s->ports[i].step);
			shown++;
		}
	fflush(s->out);
}

static void
erase(struct run_screen *s)
{
	if (s->live)
		fputs("\r\033[K", s->out);
}

void
run_screen_step(void *screen, const char *port, const char *step)
{
	struct run_screen *s = screen;
	size_t free_slot = PORTS_MAX;

	pthread_mutex_lock(&s->mutex);
	for (size_t i = 0; i < PORTS_MAX; i++) {
		if (strcmp(s->ports[i].port, port) == 0) {
			free_slot = i;
			break;
		}
		if (s->ports[i].port[0] == '\0' && free_slot == PORTS_MAX)
			free_slot = i;
	}
	if (free_slot < PORTS_MAX) {
		if (step == NULL) {
			s->ports[free_slot].port[0] = '\0';
		} else {
			snprintf(s->ports[free_slot].port, FLASHER_PATH_MAX, "%s",
			    port);
			snprintf(s->ports[free_slot].step, 32, "%s", step);
		}
	}
	status(s);
	pthread_mutex_unlock(&s->mutex);
}

void
run_screen_result(struct run_screen *s, const struct bench_result *r,
    uint64_t allocated)
{
	char claim[IDENTITY_DISPLAY_BUF] = "";

	run_screen_step(s, r->port, NULL);
	pthread_mutex_lock(&s->mutex);
	if (r->pass)
		s->pass++;
	else
		s->fail++;
	if (allocated > s->allocated)
		s->allocated = allocated;
	erase(s);
	if (r->pass) {
		identity_claim_display(r->claim, claim);
		fprintf(s->out, "%sPASS%s  port %-6s %s  claim %s  (%.1f s)%s%s",
		    s->live ? "\033[1;32m" : "", s->live ? "\033[0m" : "",
		    r->port, r->serial, claim, r->ms / 1000.0,
		    r->reason[0] ? "  NOTE: " : "", r->reason);
	} else {
		fprintf(s->out, "%sFAIL%s  port %-6s device %s%s%s: %s",
		    s->live ? "\033[1;31m" : "", s->live ? "\033[0m" : "",
		    r->port,
		    r->hwid[0] ? r->hwid : "?", r->serial[0] ? " serial " : "",
		    r->serial, r->reason);
	}
	if (!s->live)
		fprintf(s->out, "  [%s %s %llu/%llu, PASS %u FAIL %u]",
		    s->what, s->order_id, (unsigned long long)s->allocated,
		    (unsigned long long)s->quantity, s->pass, s->fail);
	fputc('\n', s->out);
	status(s);
	pthread_mutex_unlock(&s->mutex);
}

void
run_screen_note(struct run_screen *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->mutex);
	erase(s);
	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
	fputc('\n', s->out);
	status(s);
	pthread_mutex_unlock(&s->mutex);
}

void
run_screen_tick(struct run_screen *s)
{
	pthread_mutex_lock(&s->mutex);
	status(s);
	pthread_mutex_unlock(&s->mutex);
}

void
run_screen_counts(const struct run_screen *s, unsigned *pass, unsigned *fail)
{
	*pass = s->pass;
	*fail = s->fail;
}

void
run_screen_summary(struct run_screen *s)
{
	double el = now_s() - s->start;

	pthread_mutex_lock(&s->mutex);
	erase(s);
	fprintf(s->out, "run ended: PASS %u, FAIL %u in %.1f s (%.1f devices "
	    "per minute); %s %s: %llu of %llu %s\n", s->pass, s->fail,
	    el, rate(s), s->what, s->order_id, (unsigned long long)s->allocated,
	    (unsigned long long)s->quantity, s->used);
	fflush(s->out);
	pthread_mutex_unlock(&s->mutex);
}
