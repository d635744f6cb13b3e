/*
 * dfu_bench.c: throughput figures of the DFU host, run under stampdev-emu
 * by tests/bench/dfu.bench.sh (not a test; built by `make bench`).
 *
 *   dfu_bench rtt N      N bare DFU_GETSTATUS round trips on one open
 *                        session: the emulator's own limit
 *   dfu_bench xfer N     N times: download 4 KiB to alt stamp, upload
 *                        it back, compare, on one open session
 *   dfu_bench cycle N    N device cycles: open, download 4 KiB to alt
 *                        stamp, upload it back, compare, close
 *
 * Prints "RATE_PER_SECOND TRANSFERS_PER_OP".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flasher/flasher.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	struct flasher *fl = NULL;
	struct flasher_device *devs = NULL;
	struct flasher_session *s = NULL;
	struct flasher_status st;
	char err[FLASHER_ERR_MAX];
	uint8_t img[4096], *back = NULL;
	size_t n = 0, got;
	unsigned long transfers = 0;
	long count;
	double t0;
	int ret = 1;

	if (argc != 3 || (count = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: dfu_bench rtt|xfer|cycle N\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7);
	if (flasher_open(&fl, err) != 0 || flasher_list(fl, NULL, 0, &devs, &n, err) != 0)
		goto out;
	if (n == 0) {
		snprintf(err, sizeof(err), "no device");
		goto out;
	}
	t0 = now_s();
	if (strcmp(argv[1], "rtt") == 0) {
		if (flasher_session_open(fl, &devs[0], &s, err) != 0)
			goto out;
		t0 = now_s();
		for (long i = 0; i < count; i++)
			if (flasher_getstatus(s, &st, err) != 0)
				goto out;
		transfers = flasher_session_transfers(s) / (unsigned long)count;
	} else {
		int once = strcmp(argv[1], "xfer") == 0;
		for (long i = 0; i < count; i++) {
			if ((s == NULL &&
			    flasher_session_open(fl, &devs[0], &s, err) != 0) ||
			    flasher_download(s, "stamp", img, sizeof(img), NULL, NULL,
			    err) != 0 ||
			    flasher_upload(s, "stamp", 1 << 20, &back, &got, NULL, NULL,
			    err) != 0)
				goto out;
			if (got != sizeof(img) || memcmp(back, img, got) != 0) {
				snprintf(err, sizeof(err), "read back differs");
				goto out;
			}
			free(back);
			back = NULL;
			transfers = flasher_session_transfers(s) /
			    (once ? (unsigned long)i + 1 : 1);
			if (!once) {
				flasher_session_close(s);
				s = NULL;
			}
		}
	}
	printf("%.0f %lu\n", (double)count / (now_s() - t0), transfers);
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "dfu_bench: %s\n", err);
	free(back);
	flasher_session_close(s);
	flasher_list_free(devs);
	flasher_close(fl);
	return ret;
}
