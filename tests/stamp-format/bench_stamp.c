/*
 * bench_stamp.c: `bench_stamp`: how much the stamp reader costs on top of
 * the SHA-256 it must do anyway. Builds a 4 KiB stamp (write unit 16) and
 * measures, alternating in the same run (best of 40 short runs each, so
 * that other load on the machine hurts both alike), stamp_read() with the digest
 * check (no signature callback) and bare SHA-256 (OpenSSL) over exactly
 * the bytes the digest covers; and the reader with a no-op hash, which
 * isolates the parsing cost. Prints BENCH lines (tests/bench/run) for
 * tests/bench/stamp.bench.sh.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "stamp-format/stamp.h"

#define IMAGE 4096

static int
sha(void *ctx, const uint8_t *d, size_t n, uint8_t out[32])
{
	(void)ctx;
	SHA256(d, n, out);
	return 0;
}

static int
no_hash(void *ctx, const uint8_t *d, size_t n, uint8_t out[32])
{
	(void)ctx;
	(void)n;
	memcpy(out, d + n + 8, 32);  /* the stored digest: always "matches" */
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(void)
{
	static uint8_t img[IMAGE], filler[200];
	struct stamp_crypto crypto = { NULL, sha, NULL, NULL, NULL, NULL, NULL,
	    NULL };
	uint8_t digest[32], sig[64] = { 0 }, id[32] = { 0 };
	struct stamp_builder b;
	struct stamp_view v;
	struct stamp_error err;
	struct stamp_crypto parse_only = { NULL, no_hash, NULL, NULL, NULL,
	    NULL, NULL, NULL };
	double best_read = 0, best_sha = 0, best_parse = 0;
	size_t len = 0, covered;
	unsigned vendor = 0x8000;

	memset(filler, 'x', sizeof(filler));
	stamp_build_begin(&b, img, IMAGE, 1, 0, 16);
	stamp_build_add(&b, STAMP_T_HARDWARE_ID, 1, "HW-BENCH", 8);
	stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, 1, "SN-BENCH", 8);
	/* Fill with 100-byte vendor records, then one to land on 4096. */
	while (b.len + 108 + 148 + 8 <= IMAGE)
		stamp_build_add(&b, (uint16_t)vendor++, 0, filler, 100);
	stamp_build_add(&b, (uint16_t)vendor, 0, filler, IMAGE - 148 - b.len - 8);
	if (stamp_build_digest(&b, &crypto, digest) != 0 ||
	    stamp_build_sign(&b, id, sig, &len) != 0 || len != IMAGE ||
	    stamp_read(&v, img, len, &crypto, NULL, &err) != 0) {
		fprintf(stderr, "bench_stamp: cannot build a 4 KiB stamp\n");
		return 1;
	}
	covered = v.integrity_off;
	for (int round = 0; round < 40; round++) {
		double t0, t, rate;
		long n;

		t0 = now();
		for (n = 0; (t = now()) - t0 < 0.025; n++)
			for (int i = 0; i < 64; i++)
				if (stamp_read(&v, img, len, &crypto, NULL, &err))
					return 1;
		rate = (double)n * 64 / (t - t0);
		if (rate > best_read)
			best_read = rate;
		t0 = now();
		for (n = 0; (t = now()) - t0 < 0.025; n++)
			for (int i = 0; i < 64; i++)
				SHA256(img, covered, digest);
		rate = (double)n * 64 / (t - t0);
		if (rate > best_sha)
			best_sha = rate;
		t0 = now();
		for (n = 0; (t = now()) - t0 < 0.025; n++)
			for (int i = 0; i < 64; i++)
				if (stamp_read(&v, img, len, &parse_only, NULL, &err))
					return 1;
		rate = (double)n * 64 / (t - t0);
		if (rate > best_parse)
			best_parse = rate;
	}
	printf("BENCH stamp.read %.0f /s stamp.sha256 stamp reader: parse + "
	    "digest check of a %d-byte stamp (best of 40 alternating 25 ms "
	    "runs)\n", best_read, IMAGE);
	printf("BENCH stamp.sha256 %.0f /s - bare SHA-256 of the %zu bytes the "
	    "digest covers\n", best_sha, covered);
	printf("NOTE stamp.read the reader adds %.1f%% (target <= 10%%)\n",
	    (best_sha / best_read - 1) * 100);
	printf("BENCH stamp.parse %.0f /s stamp.sha256 stamp reader alone "
	    "(every check but the hash), same stamp\n", best_parse);
	printf("NOTE stamp.parse parsing costs %.1f%% of the SHA-256 time "
	    "(target <= 10%%)\n", best_sha / best_parse * 100);
	return 0;
}
