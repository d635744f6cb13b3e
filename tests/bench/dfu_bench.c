/*
 * dfu_bench.c: throughput figures of the DFU host, run under stampdev-emu
 * by tests/bench/dfu.bench.sh (not a test; built by `make bench`).
 *
 *   dfu_bench ROUNDS
 *
 * Each round measures, back to back on device 1-1 (first listed):
 *   rtt    500 bare DFU_GETSTATUS round trips on one open session: the
 *          emulator's own limit for a control transfer
 *   xfer   40 times: download 4 KiB to alt stamp, upload it back, compare,
 *          on one open session
 *   cycle  40 device cycles: open, the same download/upload, close
 * and prints the best rate of each over the rounds (the machine is
 * shared; interleaving keeps the baseline and the figure under the same
 * load): "RTT_PER_S XFER_PER_S TRANSFERS_PER_XFER CYCLE_PER_S".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flasher/flasher.h"

#define RTT_N   500
#define XFER_N  40

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
down_up(struct flasher_session *s, const uint8_t img[static 4096],
    char err[static FLASHER_ERR_MAX])
{
	uint8_t *back = NULL;
	size_t got = 0;
	int ret = -1;

	if (flasher_download(s, "stamp", img, 4096, NULL, NULL, err) != 0 ||
	    flasher_upload(s, "stamp", 1 << 20, &back, &got, NULL, NULL, err) != 0)
		goto out;
	if (got != 4096 || memcmp(back, img, got) != 0) {
		snprintf(err, FLASHER_ERR_MAX, "read back differs");
		goto out;
	}
	ret = 0;
out:
	free(back);
	return ret;
}

int
main(int argc, char *argv[])
{
	struct flasher *fl = NULL;
	struct flasher_device *devs = NULL;
	struct flasher_session *s = NULL;
	struct flasher_status st;
	char err[FLASHER_ERR_MAX] = "";
	uint8_t img[4096];
	double best_rtt = 0, best_xfer = 0, best_cycle = 0, t0, rate;
	unsigned long per = 0, before;
	size_t n = 0;
	long rounds;
	int ret = 1;

	if (argc != 2 || (rounds = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: dfu_bench ROUNDS\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7);
	if (flasher_open(&fl, err) != 0 ||
	    flasher_list(fl, NULL, 0, &devs, &n, err) != 0)
		goto out;
	if (n == 0) {
		snprintf(err, sizeof(err), "no device");
		goto out;
	}
	for (long r = 0; r < rounds; r++) {
		if (flasher_session_open(fl, &devs[0], &s, err) != 0)
			goto out;
		t0 = now_s();
		for (int i = 0; i < RTT_N; i++)
			if (flasher_getstatus(s, &st, err) != 0)
				goto out;
		if ((rate = RTT_N / (now_s() - t0)) > best_rtt)
			best_rtt = rate;
		before = flasher_session_transfers(s);
		t0 = now_s();
		for (int i = 0; i < XFER_N; i++)
			if (down_up(s, img, err) != 0)
				goto out;
		if ((rate = XFER_N / (now_s() - t0)) > best_xfer)
			best_xfer = rate;
		per = (flasher_session_transfers(s) - before) / XFER_N;
		flasher_session_close(s);
		s = NULL;
		t0 = now_s();
		for (int i = 0; i < XFER_N; i++) {
			if (flasher_session_open(fl, &devs[0], &s, err) != 0 ||
			    down_up(s, img, err) != 0)
				goto out;
			flasher_session_close(s);
			s = NULL;
		}
		if ((rate = XFER_N / (now_s() - t0)) > best_cycle)
			best_cycle = rate;
	}
	printf("%.0f %.0f %lu %.0f\n", best_rtt, best_xfer, per, best_cycle);
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "dfu_bench: %s\n", err);
	flasher_session_close(s);
	flasher_list_free(devs);
	flasher_close(fl);
	return ret;
}
