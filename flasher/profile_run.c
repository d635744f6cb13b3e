/*
 * profile_run.c: work on several devices at once (a bench with a hub).
 *
 * One thread per device, all on the one libusb context of struct flasher
 * (libusb is thread-safe; each thread has its own session and its own
 * handle). A device that is slow (a keygen keeps it in dfuDNBUSY), stalls
 * or vanishes only holds up its own thread: each thread waits out its own
 * device's bwPollTimeout. Every result carries the device's port path and
 * serial, and a device is never reported as done unless its job said so.
 *
 * Before anything starts, devices that report the same serial (hardware
 * id) are refused, all of them: one of them is a clone or misprogrammed,
 * and the host cannot tell which.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flasher/flasher.h"

struct worker {
	struct flasher *fl;
	const struct flasher_device *dev;
	size_t index;
	flasher_job_fn *job;
	void *arg;
	struct flasher_result *result;
	pthread_t thread;
	int started;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
work(void *p)
{
	struct worker *w = p;
	struct flasher_session *s = NULL;
	long long start = now_ms();

	if (flasher_session_open(w->fl, w->dev, &s, w->result->err) == 0) {
		w->result->err[0] = '\0';
		if (w->job(w->arg, w->index, s, w->result->err) == 0)
			w->result->ok = 1;
		else if (w->result->err[0] == '\0')
			snprintf(w->result->err, FLASHER_ERR_MAX, "%s: failed (no "
			    "reason given)", flasher_session_name(s));
		flasher_session_close(s);
	}
	w->result->ms = now_ms() - start;
	return NULL;
}

size_t
flasher_run(struct flasher *fl, const struct flasher_device *devs, size_t n,
    flasher_job_fn *job, void *arg, struct flasher_result *results)
{
	struct worker workers[256];
	size_t failed = 0;

	for (size_t i = 0; i < n; i++) {
		struct flasher_result *r = &results[i];
		memset(r, 0, sizeof(*r));
		snprintf(r->path, sizeof(r->path), "%s", devs[i].path);
		snprintf(r->serial, sizeof(r->serial), "%s", devs[i].serial);
		for (size_t j = 0; j < n && devs[i].serial[0]; j++)
			if (j != i && strcmp(devs[i].serial, devs[j].serial) == 0) {
				snprintf(r->err, sizeof(r->err), "device %s (serial %s): "
				    "the same hardware id is reported by device %s: a "
				    "cloned or misprogrammed serial; set both aside",
				    devs[i].path, devs[i].serial, devs[j].path);
				break;
			}
		if (i >= sizeof(workers) / sizeof(workers[0]) && !r->err[0])
			snprintf(r->err, sizeof(r->err), "device %s (serial %s): more "
			    "than %zu devices at once; run it in the next round",
			    devs[i].path, devs[i].serial,
			    sizeof(workers) / sizeof(workers[0]));
	}
	for (size_t i = 0; i < n && i < sizeof(workers) / sizeof(workers[0]); i++) {
		struct worker *w = &workers[i];
		*w = (struct worker){ fl, &devs[i], i, job, arg, &results[i], 0, 0 };
		if (results[i].err[0])
			continue;
		if (pthread_create(&w->thread, NULL, work, w) != 0)
			snprintf(results[i].err, sizeof(results[i].err), "device %s "
			    "(serial %s): cannot start a thread for it", devs[i].path,
			    devs[i].serial);
		else
			w->started = 1;
	}
	for (size_t i = 0; i < n && i < sizeof(workers) / sizeof(workers[0]); i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
	for (size_t i = 0; i < n; i++)
		failed += !results[i].ok;
	return failed;
}
