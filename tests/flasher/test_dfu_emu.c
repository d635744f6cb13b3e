/*
 * test_dfu_emu.c: the DFU host against stampdev-emu, in one process.
 *
 * Run without UMOCKDEV_DIR it re-executes itself under
 * $BUILD/stampdev-emu with four devices: 1-1 plain, 1-2 slow (dfuDNBUSY,
 * bwPollTimeout 20 ms), 1-3 vanishing at byte 4096, 1-4 not manifestation
 * tolerant (waits for a USB reset after manifestation). It checks the host
 * API (listing, round trips, transfer counts, recovery, a vanished
 * device, two sessions at once on two threads) and, with raw libusb
 * requests, that the emulator stalls a host that breaks the DFU 1.1
 * state table.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libusb.h>

#include "flasher/flasher.h"

static struct flasher *fl;
static struct flasher_device *devs;
static size_t ndevs;
static char err[FLASHER_ERR_MAX];

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + seed);
}

static int
setup(void **state)
{
	(void)state;
	if (flasher_open(&fl, err) != 0 || flasher_list(fl, NULL, 0, &devs, &ndevs, err) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	flasher_list_free(devs);
	flasher_close(fl);
	return 0;
}

static void
test_list(void **state)
{
	(void)state;
	assert_int_equal(ndevs, 4);
	assert_string_equal(devs[0].path, "1-1");
	assert_string_equal(devs[2].path, "1-3");
	assert_int_equal(devs[1].vid, 0x1209);
	assert_int_equal(strlen(devs[1].serial), 14);
	assert_int_equal(devs[0].dfu.nalts, 5);
	assert_string_equal(devs[0].alt_names[2], "stamp");
	assert_int_equal(flasher_alt_index(&devs[0], "lock"), 4);
	assert_int_equal(devs[0].dfu.func.transfer_size, 2048);
}

/* Download and upload ${len} bytes to alt stamp of ${dev}. */
static int
round_trip(const struct flasher_device *dev, size_t len, unsigned seed,
    char e[static FLASHER_ERR_MAX], unsigned long *transfers)
{
	struct flasher_session *s = NULL;
	uint8_t *img = malloc(len), *back = NULL;
	size_t got = 0;
	int ret = -1;

	fill(img, len, seed);
	if (flasher_session_open(fl, dev, &s, e) != 0 ||
	    flasher_download(s, "stamp", img, len, NULL, NULL, e) != 0)
		goto out;
	if (transfers)
		*transfers = flasher_session_transfers(s);
	if (flasher_upload(s, "stamp", 1 << 20, &back, &got, NULL, NULL, e) != 0)
		goto out;
	if (got != len || memcmp(img, back, len) != 0) {
		snprintf(e, FLASHER_ERR_MAX, "read back differs");
		goto out;
	}
	ret = 0;
out:
	flasher_session_close(s);
	free(img);
	free(back);
	return ret;
}

static void
test_round_trip(void **state)
{
	unsigned long transfers = 0;
	(void)state;
	assert_int_equal(round_trip(&devs[0], 5000, 1, err, &transfers), 0);
	/* GETSTATUS, 3 x (DNLOAD + GETSTATUS), zero-length DNLOAD + GETSTATUS */
	assert_int_equal(transfers, 9);
	assert_int_equal(round_trip(&devs[0], 4096, 2, err, NULL), 0);
	assert_int_equal(round_trip(&devs[0], 1, 3, err, NULL), 0);
}

static int
raw(libusb_device_handle *h, int in, uint8_t req, uint16_t value, uint8_t *data,
    uint16_t len)
{
	return libusb_control_transfer(h, (uint8_t)((in ? 0x80 : 0) | 0x21), req,
	    value, 0, data, len, 2000);
}

static libusb_device_handle *
raw_open(libusb_context *ctx, const struct flasher_device *dev)
{
	libusb_device_handle *h = NULL;
	libusb_device **list;
	ssize_t n = libusb_get_device_list(ctx, &list);

	for (ssize_t i = 0; i < n; i++)
		if (libusb_get_device_address(list[i]) == dev->address &&
		    libusb_open(list[i], &h) == 0)
			break;
	libusb_free_device_list(list, 1);
	assert_non_null(h);
	assert_int_equal(libusb_claim_interface(h, 0), 0);
	assert_int_equal(libusb_set_interface_alt_setting(h, 0, 2), 0);
	return h;
}

static void
expect_state(libusb_device_handle *h, uint8_t state, uint8_t status)
{
	uint8_t st[6];
	assert_int_equal(raw(h, 1, 3, 0, st, 6), 6);
	assert_int_equal(st[4], state);
	assert_int_equal(st[0], status);
}

static void
test_state_table_enforced(void **state)
{
	libusb_context *ctx;
	libusb_device_handle *h;
	uint8_t buf[4096] = { 0 };
	(void)state;
	assert_int_equal(libusb_init(&ctx), 0);
	h = raw_open(ctx, &devs[0]);
	/* zero-length DNLOAD in dfuIDLE */
	assert_int_equal(raw(h, 0, 1, 0, NULL, 0), LIBUSB_ERROR_PIPE);
	expect_state(h, FLASHER_DFU_ERROR, 15);
	assert_int_equal(raw(h, 0, 4, 0, NULL, 0), 0);
	expect_state(h, FLASHER_DFU_IDLE, 0);
	/* CLRSTATUS outside dfuERROR */
	assert_int_equal(raw(h, 0, 4, 0, NULL, 0), LIBUSB_ERROR_PIPE);
	assert_int_equal(raw(h, 0, 4, 0, NULL, 0), 0);
	/* DNLOAD longer than wTransferSize */
	assert_int_equal(raw(h, 0, 1, 0, buf, 4096), LIBUSB_ERROR_PIPE);
	assert_int_equal(raw(h, 0, 4, 0, NULL, 0), 0);
	/* block numbers out of sequence */
	assert_int_equal(raw(h, 0, 1, 0, buf, 100), 100);
	expect_state(h, FLASHER_DNLOAD_IDLE, 0);
	assert_int_equal(raw(h, 0, 1, 5, buf, 100), LIBUSB_ERROR_PIPE);
	assert_int_equal(raw(h, 0, 4, 0, NULL, 0), 0);
	/* UPLOAD in the middle of a download */
	assert_int_equal(raw(h, 0, 1, 0, buf, 100), 100);
	expect_state(h, FLASHER_DNLOAD_IDLE, 0);
	assert_int_equal(raw(h, 1, 2, 0, buf, 2048), LIBUSB_ERROR_PIPE);
	expect_state(h, FLASHER_DFU_ERROR, 15);
	/* leave it in dfuERROR: the host must clear it by itself */
	libusb_close(h);
	libusb_exit(ctx);
	assert_int_equal(round_trip(&devs[0], 3000, 4, err, NULL), 0);
}

static void
test_abandoned_download_is_aborted(void **state)
{
	libusb_context *ctx;
	libusb_device_handle *h;
	uint8_t buf[2048] = { 0 };
	(void)state;
	assert_int_equal(libusb_init(&ctx), 0);
	h = raw_open(ctx, &devs[0]);
	assert_int_equal(raw(h, 0, 1, 0, buf, 2048), 2048);
	expect_state(h, FLASHER_DNLOAD_IDLE, 0);
	libusb_close(h);  /* a host that went away mid-download */
	libusb_exit(ctx);
	assert_int_equal(round_trip(&devs[0], 3000, 9, err, NULL), 0);
}

static void
test_manifest_wait_reset(void **state)
{
	libusb_context *ctx;
	libusb_device_handle *h;
	uint8_t buf[100] = { 0 }, st[6];
	(void)state;
	assert_false(devs[3].dfu.func.attributes & FLASHER_MANIFEST_TOLERANT);
	assert_int_equal(round_trip(&devs[3], 5000, 11, err, NULL), 0);
	/* a host that leaves the device waiting for its reset */
	assert_int_equal(libusb_init(&ctx), 0);
	h = raw_open(ctx, &devs[3]);
	assert_int_equal(raw(h, 0, 1, 0, buf, 100), 100);
	expect_state(h, FLASHER_DNLOAD_IDLE, 0);
	assert_int_equal(raw(h, 0, 1, 1, NULL, 0), 0);
	assert_int_equal(raw(h, 1, 3, 0, st, 6), 6);
	assert_int_equal(st[4], FLASHER_MANIFEST);
	usleep(10000);
	expect_state(h, FLASHER_MANIFEST_WAIT_RESET, 0);
	assert_int_equal(raw(h, 0, 6, 0, NULL, 0), LIBUSB_ERROR_PIPE);
	expect_state(h, FLASHER_MANIFEST_WAIT_RESET, 0);
	libusb_close(h);
	libusb_exit(ctx);
	assert_int_equal(round_trip(&devs[3], 3000, 12, err, NULL), 0);
}

static void
test_poll_before_bwpolltimeout_stalls(void **state)
{
	libusb_context *ctx;
	libusb_device_handle *h;
	uint8_t buf[100] = { 0 }, st[6];
	(void)state;
	assert_int_equal(libusb_init(&ctx), 0);
	h = raw_open(ctx, &devs[1]);
	assert_int_equal(raw(h, 0, 1, 0, buf, 100), 100);
	assert_int_equal(raw(h, 1, 3, 0, st, 6), 6);
	assert_int_equal(st[4], FLASHER_DNBUSY);
	assert_int_equal(st[1] | st[2] << 8 | st[3] << 16, 20);
	assert_int_equal(raw(h, 1, 3, 0, st, 6), LIBUSB_ERROR_PIPE);
	libusb_close(h);
	libusb_exit(ctx);
}

static void
test_slow_device_waits(void **state)
{
	long long t0 = now_ms();
	(void)state;
	/* 3 blocks and the manifestation, each busy for 20 ms */
	assert_int_equal(round_trip(&devs[1], 5000, 5, err, NULL), 0);
	assert_true(now_ms() - t0 >= 80);
}

struct job {
	const struct flasher_device *dev;
	unsigned seed;
	int rc;
	char err[FLASHER_ERR_MAX];
};

static void *
job_run(void *arg)
{
	struct job *j = arg;

	for (int i = 0; i < 5 && j->rc == 0; i++)
		j->rc = round_trip(j->dev, 6000, j->seed + (unsigned)i, j->err, NULL);
	return NULL;
}

static void
test_two_sessions_at_once(void **state)
{
	struct job a = { &devs[0], 10, 0, "" }, b = { &devs[1], 20, 0, "" };
	pthread_t ta, tb;
	(void)state;
	assert_int_equal(pthread_create(&ta, NULL, job_run, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, job_run, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
}

static void
test_vanish_mid_download(void **state)
{
	struct flasher_session *s = NULL;
	struct flasher_device *now = NULL;
	char want[FLASHER_ERR_MAX];
	uint8_t img[8192];
	size_t n = 4;
	(void)state;
	fill(img, sizeof(img), 7);
	assert_int_equal(flasher_session_open(fl, &devs[2], &s, err), 0);
	assert_int_equal(flasher_download(s, "stamp", img, sizeof(img), NULL,
	    NULL, err), -1);
	flasher_session_close(s);
	snprintf(want, sizeof(want), "device 1-3 (serial %s): disconnected "
	    "during download of alt 'stamp' at byte 4096 of 8192; the download "
	    "did not complete: reconnect the device and run again", devs[2].serial);
	assert_string_equal(err, want);
	for (int i = 0; i < 100 && n == 4; i++) {
		flasher_list_free(now);
		assert_int_equal(flasher_list(fl, devs, ndevs, &now, &n, err), 0);
		usleep(20000);
	}
	assert_int_equal(n, 3);
	assert_string_equal(now[1].path, "1-2");
	assert_string_equal(now[2].path, "1-4");
	flasher_list_free(now);
	assert_int_equal(flasher_session_open(fl, &devs[2], &s, err), -1);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_state_table_enforced),
		cmocka_unit_test(test_abandoned_download_is_aborted),
		cmocka_unit_test(test_manifest_wait_reset),
		cmocka_unit_test(test_poll_before_bwpolltimeout_stalls),
		cmocka_unit_test(test_slow_device_waits),
		cmocka_unit_test(test_two_sessions_at_once),
		cmocka_unit_test(test_vanish_mid_download),
	};
	(void)argc;
	if (getenv("UMOCKDEV_DIR") == NULL) {
		char emu[4096], self[4096];
		const char *build = getenv("BUILD");
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n < 0)
			return 1;
		self[n] = '\0';
		snprintf(emu, sizeof(emu), "%s/stampdev-emu", build ? build : "build");
#ifdef __SANITIZE_ADDRESS__
		/* Under the emulator the umockdev preload comes before the ASan
		 * runtime; ASan works regardless but checks the order. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
#endif
		execl(emu, emu, "--raw", "--devices", "4", "--fault", "2:slow@20",
		    "--fault", "3:vanish@4096", "--fault", "4:wait-reset@5", "--",
		    self, (char *)NULL);
		fprintf(stderr, "%s: cannot run %s (build it with make): %m\n",
		    argv[0], emu);
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
