/*
 * stamp_build.c: the builder of stamp images and USB profile messages
 * (stamp-format/SPEC.md), writing into a caller buffer; no heap, no
 * dependencies. Firmware that only reads stamps does not need this file.
 *
 * The builder applies the encoding (header, 4-byte-aligned records, zero
 * padding, trailer, 0xFF padding to the write unit) but not the registry
 * rules, which the reader enforces, so test vectors with one deliberate
 * defect can be built with it. Errors stick: after the first, every call
 * fails, and b->err says what and at which offset. Sealing a secret
 * follows SPEC.md section 2 through the caller's crypto callbacks; the
 * shared secret and KEK are wiped on every path.
 */
#include <string.h>

#include "stamp.h"

static void
wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}

static void
put16(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
}

static void
put32(uint8_t *p, uint32_t x)
{
	put16(p, x);
	put16(p + 2, x >> 16);
}

static int
bfail(struct stamp_builder *b, enum stamp_err code)
{
	if (b->err.code == STAMP_OK) {
		b->err.code = code;
		b->err.offset = b->len;
	}
	return -1;
}

/* Room for a record of ${len} value bytes: its header written, or -1. */
static int
record_open(struct stamp_builder *b, uint16_t type, uint16_t flags, size_t len)
{
	size_t padded;

	if (b->err.code != STAMP_OK)
		return -1;
	if (b->buf == NULL || b->integrity_off != 0)
		return bfail(b, STAMP_E_ARGUMENT);
	if (len > b->cap || len > 0xffffffffu ||
	    (padded = (len + 3) & ~(size_t)3) + 8 > b->cap - b->len)
		return bfail(b, STAMP_E_SPACE);
	put16(b->buf + b->len, type);
	put16(b->buf + b->len + 2, flags);
	put32(b->buf + b->len + 4, (uint32_t)len);
	memset(b->buf + b->len + 8 + len, 0, padded - len);
	return 0;
}

static void
record_close(struct stamp_builder *b, size_t len)
{
	b->len += 8 + ((len + 3) & ~(size_t)3);
}

static int
begin(struct stamp_builder *b, uint8_t *buf, size_t cap, uint32_t magic,
    size_t hl)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	b->magic = magic;
	if (buf == NULL)
		return bfail(b, STAMP_E_ARGUMENT);
	if (cap < hl)
		return bfail(b, STAMP_E_SPACE);
	memset(buf, 0, hl);
	put32(buf, magic);
	buf[4] = STAMP_VERSION_MAJOR;
	buf[5] = STAMP_VERSION_MINOR;
	put16(buf + 6, (uint32_t)hl);
	b->len = hl;
	return 0;
}

int
stamp_build_begin(struct stamp_builder *b, uint8_t *buf, size_t cap,
    uint32_t generation, uint32_t flags, unsigned write_unit)
{
	if (begin(b, buf, cap, STAMP_MAGIC, STAMP_HEADER_LEN) != 0)
		return -1;
	if (write_unit != 16 && write_unit != 32)
		return bfail(b, STAMP_E_ARGUMENT);
	b->write_unit = (uint16_t)write_unit;
	put32(buf + 12, generation);
	put32(buf + 16, flags);
	put16(buf + 20, write_unit);
	return 0;
}

int
stamp_msg_begin(struct stamp_builder *b, uint8_t *buf, size_t cap,
    uint32_t magic)
{
	if (begin(b, buf, cap, magic, STAMP_MSG_HEADER_LEN) != 0)
		return -1;
	if (magic != STAMP_MAGIC_INFO && magic != STAMP_MAGIC_KEYGEN &&
	    magic != STAMP_MAGIC_COMMIT && magic != STAMP_MAGIC_ATTEST)
		return bfail(b, STAMP_E_ARGUMENT);
	return 0;
}

int
stamp_build_add(struct stamp_builder *b, uint16_t type, uint16_t flags,
    const void *value, size_t len)
{
	if (record_open(b, type, flags, len) != 0)
		return -1;
	if (len > 0)
		memcpy(b->buf + b->len + 8, value, len);
	record_close(b, len);
	return 0;
}

int
stamp_build_add_sealed(struct stamp_builder *b, uint16_t type, uint16_t flags,
    const uint8_t *plaintext, size_t len, const uint8_t transport_pub[65],
    const struct stamp_crypto *crypto)
{
	uint8_t z[32], kek[32], context[32], *value;
	size_t sealed, n;
	int ret = -1;

	if (b->err.code != STAMP_OK)
		return -1;
	if (len == 0 || len > 0xffffff)
		return bfail(b, STAMP_E_ARGUMENT);
	if (crypto == NULL || crypto->ecdh_ephemeral == NULL ||
	    crypto->aes256_ecb == NULL || crypto->kwp_wrap == NULL)
		return bfail(b, STAMP_E_CRYPTO);
	sealed = STAMP_POINT_LEN + ((len + 7) & ~(size_t)7) + 8;
	if (record_open(b, type, (uint16_t)(flags | STAMP_RF_SECRET), sealed))
		return -1;
	value = b->buf + b->len + 8;
	n = sealed - STAMP_POINT_LEN;
	if (crypto->ecdh_ephemeral(crypto->ctx, transport_pub, value, z) != 0 ||
	    stamp_secret_context(crypto, value, transport_pub, type, context) ||
	    crypto->aes256_ecb(crypto->ctx, z, context, kek) != 0 ||
	    crypto->kwp_wrap(crypto->ctx, kek, plaintext, len,
	    value + STAMP_POINT_LEN, &n) != 0 || n != sealed - STAMP_POINT_LEN) {
		bfail(b, STAMP_E_CRYPTO);
		goto cleanup;
	}
	record_close(b, sealed);
	ret = 0;
cleanup:
	wipe(z, sizeof(z));
	wipe(kek, sizeof(kek));
	return ret;
}

int
stamp_build_digest(struct stamp_builder *b, const struct stamp_crypto *crypto,
    uint8_t digest[32])
{
	size_t total, wu = b->write_unit;

	if (b->err.code != STAMP_OK)
		return -1;
	if (b->magic != STAMP_MAGIC || b->integrity_off != 0)
		return bfail(b, STAMP_E_ARGUMENT);
	if (crypto == NULL || crypto->sha256 == NULL)
		return bfail(b, STAMP_E_CRYPTO);
	total = (b->len + 8 + STAMP_DIGEST_LEN + 8 + STAMP_SIG_VALUE_LEN + wu - 1)
	    / wu * wu;
	if (total > b->cap || total > 0xffffffffu)
		return bfail(b, STAMP_E_SPACE);
	put32(b->buf + 8, (uint32_t)total);
	if (record_open(b, STAMP_T_INTEGRITY, STAMP_RF_CRITICAL,
	    STAMP_DIGEST_LEN) != 0)
		return -1;
	if (crypto->sha256(crypto->ctx, b->buf, b->len, digest) != 0)
		return bfail(b, STAMP_E_CRYPTO);
	memcpy(b->buf + b->len + 8, digest, STAMP_DIGEST_LEN);
	b->integrity_off = b->len;
	record_close(b, STAMP_DIGEST_LEN);
	return 0;
}

int
stamp_build_sign(struct stamp_builder *b, const uint8_t key_id[32],
    const uint8_t sig[64], size_t *out_len)
{
	uint8_t *p;
	size_t total;

	if (b->err.code != STAMP_OK)
		return -1;
	if (b->integrity_off == 0 || b->integrity_off + 40 != b->len)
		return bfail(b, STAMP_E_ARGUMENT);
	total = stamp_le32(b->buf + 8);
	p = b->buf + b->len;
	put16(p, STAMP_T_SIGNATURE);
	put16(p + 2, STAMP_RF_CRITICAL);
	put32(p + 4, STAMP_SIG_VALUE_LEN);
	p[8] = 1;
	p[9] = p[10] = p[11] = 0;
	memcpy(p + 12, key_id, STAMP_KEY_ID_LEN);
	memcpy(p + 12 + STAMP_KEY_ID_LEN, sig, STAMP_SIG_LEN);
	b->len += 8 + STAMP_SIG_VALUE_LEN;
	memset(b->buf + b->len, 0xff, total - b->len);
	b->len = total;
	*out_len = total;
	return 0;
}

int
stamp_msg_attest_digest(struct stamp_builder *b,
    const struct stamp_crypto *crypto, uint8_t digest[32])
{
	if (b->err.code != STAMP_OK)
		return -1;
	if (b->magic != STAMP_MAGIC_INFO)
		return bfail(b, STAMP_E_ARGUMENT);
	if (crypto == NULL || crypto->sha256 == NULL)
		return bfail(b, STAMP_E_CRYPTO);
	put32(b->buf + 8, (uint32_t)(b->len + 8 + STAMP_SIG_LEN));
	if (crypto->sha256(crypto->ctx, b->buf, b->len, digest) != 0)
		return bfail(b, STAMP_E_CRYPTO);
	return 0;
}

int
stamp_msg_finish(struct stamp_builder *b, size_t *out_len)
{
	if (b->err.code != STAMP_OK)
		return -1;
	if (b->magic == STAMP_MAGIC)
		return bfail(b, STAMP_E_ARGUMENT);
	put32(b->buf + 8, (uint32_t)b->len);
	*out_len = b->len;
	return 0;
}
