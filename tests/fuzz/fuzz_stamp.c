/*
 * fuzz_stamp.c: the stamp image reader. Any bytes: stamp_read() either
 * accepts them or names a reason and an offset inside the input, never a
 * crash, leak or undefined behaviour; an accepted image's records are all
 * inside it, and every SECRET record goes through stamp_secret_open().
 *
 * The crypto callbacks are stand-ins so the fuzzer can get past the
 * digest and signature: the "SHA-256" of anything is 32 zero bytes, a
 * signature verifies if its first byte is 0x5a, and the secret primitives
 * are copies. The real primitives are tested elsewhere. Accepted images
 * also go through the A/B commit marker functions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stamp-format/stamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
zero_hash(void *ctx, const uint8_t *d, size_t n, uint8_t out[32])
{
	(void)ctx;
	(void)d;
	(void)n;
	memset(out, 0, 32);
	return 0;
}

static int
verify(void *ctx, const uint8_t id[32], const uint8_t dg[32],
    const uint8_t sig[64])
{
	(void)ctx;
	(void)id;
	(void)dg;
	return sig[0] == 0x5a ? 0 : -1;
}

static int
ecdh(void *ctx, const uint8_t peer[65], uint8_t z[32])
{
	(void)ctx;
	memcpy(z, peer + 1, 32);
	return peer[64] & 1 ? -1 : 0;
}

static int
aes(void *ctx, const uint8_t key[32], const uint8_t in[32], uint8_t out[32])
{
	(void)ctx;
	for (int i = 0; i < 32; i++)
		out[i] = key[i] ^ in[i];
	return 0;
}

static int
unwrap(void *ctx, const uint8_t kek[32], const uint8_t *in, size_t len,
    uint8_t *out, size_t *out_len)
{
	(void)ctx;
	(void)kek;
	if (len < 16 || len - 8 > *out_len)
		return -1;
	memcpy(out, in + 8, len - 8);
	*out_len = len - 8 - (in[0] & 7);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t tpub[65] = { 4 };
	struct stamp_crypto crypto = { NULL, zero_hash, verify, ecdh, NULL, aes,
	    NULL, unwrap };
	struct stamp_expect expect = { (const uint8_t *)"HW-0001-TEST", 12, 1 };
	struct stamp_error err;
	struct stamp_view v;
	struct stamp_cursor c;
	struct stamp_record r;
	uint8_t plain[4096];
	size_t n;

	if (stamp_read(&v, data, size, &crypto, size & 1 ? &expect : NULL,
	    &err) != 0) {
		if (err.code == STAMP_OK || err.offset > size)
			abort();
		return 0;
	}
	if (v.total_len > size || v.end_off > v.total_len ||
	    v.integrity_off >= v.end_off || v.hardware_id == NULL)
		abort();
	/* The commit marker of an accepted image matches it; the last write
	 * unit of the input is a candidate marker too. */
	stamp_marker(&v, plain);
	memset(plain + STAMP_MARKER_LEN, 0xff, 32 - STAMP_MARKER_LEN);
	if (stamp_marker_matches(&v, plain, v.write_unit) != 1)
		abort();
	if (size >= v.write_unit)
		(void)stamp_marker_matches(&v, data + size - v.write_unit,
		    v.write_unit);
	stamp_records(&v, &c);
	while (stamp_next(&c, &r)) {
		if (r.value < data || r.value + r.length > data + v.end_off)
			abort();
		if ((r.flags & STAMP_RF_SECRET) &&
		    stamp_secret_open(&r, tpub, &crypto, plain, sizeof(plain), &n,
		    &err) == 0 && n > sizeof(plain))
			abort();
	}
	return 0;
}
