/*
 * stamp.c: the reader of the stamp image and the USB profile messages,
 * and the opening of sealed secrets; with stamp_build.c (the builder) the
 * reference implementation of stamp-format/SPEC.md.
 *
 * How the reader works: one walker goes over the 4-byte-aligned TLV
 * records of an image or message, in order, checking each record header
 * against what remains before the end, the zero padding, the flags, and
 * the registry rule of its type (a small table per kind: length limits,
 * text, required, may repeat, must be secret). A bit per table row tracks
 * which types were seen, so duplicates and missing records are found
 * without any heap. The stamp reader stops the walk at the integrity
 * record, checks that the signature record follows it and that only
 * erased bytes (0xFF) follow that, then hashes and verifies through the
 * caller's callbacks. Multi-byte fields are assembled byte by byte, so no
 * load is ever unaligned, and nothing in the image is written.
 *
 * The first problem found wins; its reason code and byte offset go to
 * struct stamp_error. Keys derived for sealed secrets live on the stack
 * and are wiped on every path.
 */
#include <string.h>

#include "stamp.h"

/* Registry rule flags and value kinds. */
enum { R_REQ = 1, R_MULTI = 2, R_SECRET = 4, R_LAST = 8 };
enum { K_BYTES, K_TEXT, K_U8, K_POINT };

/* One registry row. For K_U8 ${min}..${max} bound the value, not the
 * length (which is 1); otherwise they bound the length. */
struct rule {
	uint16_t type;
	uint8_t flags, kind;
	uint16_t min, max;
};

static const struct rule stamp_rules[] = {
	{ STAMP_T_HARDWARE_ID, R_REQ, K_BYTES, 1, 64 },
	{ STAMP_T_SERIAL_NUMBER, R_REQ, K_TEXT, 1, 64 },
	{ STAMP_T_CLAIM_ID, R_SECRET, K_TEXT, 1, 64 },
	{ STAMP_T_PRODUCT_ID, 0, K_TEXT, 1, 64 },
	{ STAMP_T_MANUFACTURER, 0, K_TEXT, 1, 128 },
	{ STAMP_T_MODEL, 0, K_TEXT, 1, 64 },
	{ STAMP_T_HARDWARE_REVISION, 0, K_TEXT, 1, 32 },
	{ STAMP_T_MANUFACTURING_TIME, 0, K_BYTES, 8, 8 },
	{ STAMP_T_STATION_ID, 0, K_TEXT, 1, 32 },
	{ STAMP_T_ORDER_ID, 0, K_TEXT, 1, 64 },
	{ STAMP_T_DEVICE_CERT, 0, K_BYTES, 1, 4096 },
	{ STAMP_T_CA_CERT, R_MULTI, K_BYTES, 1, 4096 },
	{ STAMP_T_KEY_REFERENCE, 0, K_BYTES, 1, 64 },
	{ STAMP_T_WRAPPED_DEVICE_KEY, R_SECRET, K_BYTES, 1, 1024 },
	{ STAMP_T_POP_SECRET, R_SECRET, K_BYTES, 16, 64 },
	{ STAMP_T_APP_PUBLIC_KEY, R_MULTI, K_BYTES, 1, 1024 },
	{ STAMP_T_BARCODE_PAYLOAD, 0, K_TEXT, 1, 256 },
	{ STAMP_T_PROVISIONING_TOKEN, R_SECRET, K_BYTES, 1, 1024 },
	{ STAMP_T_CLAIM_MODE, 0, K_U8, STAMP_CLAIM_USER, STAMP_CLAIM_PRE },
};

static const struct rule info_rules[] = {
	{ STAMP_I_HARDWARE_ID, R_REQ, K_BYTES, 1, 64 },
	{ STAMP_I_MODEL, R_REQ, K_TEXT, 1, 64 },
	{ STAMP_I_FIRMWARE_VERSION, R_REQ, K_TEXT, 1, 64 },
	{ STAMP_I_CAPABILITIES, R_REQ, K_BYTES, 4, 4 },
	{ STAMP_I_TRANSPORT_KEY, R_REQ, K_POINT, 65, 65 },
	{ STAMP_I_STAMP_ACTIVE, R_REQ, K_BYTES, 36, 36 },
	{ STAMP_I_STAMP_STAGED, 0, K_BYTES, 36, 36 },
	{ STAMP_I_STAMP_GEOMETRY, R_REQ, K_BYTES, 8, 8 },
	{ STAMP_I_LOCK_STATE, 0, K_U8, 0, 1 },
	{ STAMP_I_ATTESTATION_CERT, R_MULTI, K_BYTES, 1, 4096 },
	{ STAMP_I_ATTESTATION_SIG, R_LAST, K_BYTES, 64, 64 },
	{ STAMP_I_ATTESTATION_NONCE, 0, K_BYTES, 16, 64 },
	{ STAMP_I_ATTESTED_KEY, 0, K_BYTES, 32, 32 },
};

static const struct rule keygen_rules[] = {
	{ STAMP_K_HARDWARE_ID, R_REQ, K_BYTES, 1, 64 },
	{ STAMP_K_NONCE, R_REQ, K_BYTES, 16, 64 },
	{ STAMP_K_KEY_TYPE, R_REQ, K_U8, STAMP_KEY_P256, STAMP_KEY_P256 },
	{ STAMP_K_SUBJECT_CN, 0, K_TEXT, 1, 64 },
	{ STAMP_K_SUBJECT_ORG, 0, K_TEXT, 1, 64 },
	{ STAMP_K_SUBJECT_SERIAL, 0, K_TEXT, 1, 64 },
};

static const struct rule attest_rules[] = {
	{ STAMP_A_HARDWARE_ID, R_REQ, K_BYTES, 1, 64 },
	{ STAMP_A_NONCE, R_REQ, K_BYTES, 16, 64 },
	{ STAMP_A_BIND_KEY, 0, K_U8, STAMP_BIND_KEYGEN, STAMP_BIND_KEYGEN },
};

static const struct rule commit_rules[] = {
	{ STAMP_C_HARDWARE_ID, R_REQ, K_BYTES, 1, 64 },
	{ STAMP_C_DIGEST, R_REQ, K_BYTES, 32, 32 },
	{ STAMP_C_GENERATION, R_REQ, K_BYTES, 4, 4 },
};

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))
#define SEEN(type) (1u << ((type) - 1))  /* struct walk's bit of a type */

/* One walk over records [.., end). */
struct walk {
	const uint8_t *buf;
	size_t end;
	const struct rule *rules;
	size_t nrules;
	uint32_t seen;      /* bit i: rules[i] seen */
	uint16_t stop;      /* stop at this type (stamp: integrity); 0: none */
	uint8_t plaintext;  /* PLAINTEXT secrets allowed (development image) */
};

static int
fail(struct stamp_error *err, enum stamp_err code, size_t offset)
{
	err->code = code;
	err->offset = offset;
	return -1;
}

static void
wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}

/* is_text(p, n): 0 if ${p} is printable ASCII, else 1 + the index of the
 * first other byte. */
static size_t
is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return i + 1;
	return 0;
}

/* Parse the record header at ${off} into ${r}; bounds only. Returns the
 * offset of the next record, or 0 with ${err} set (a record always takes
 * at least 8 bytes, so 0 is never a next offset; fail() returns -1, and
 * (size_t)-1 + 1 is that 0). */
static size_t
record_at(const uint8_t *buf, size_t off, size_t end, struct stamp_record *r,
    struct stamp_error *err)
{
	const uint8_t *p = buf + off;
	size_t room, padded, pad;

	if (off > end || end - off < STAMP_RECORD_HEADER_LEN)
		return (size_t)fail(err, STAMP_E_BOUNDS, off) + 1;
	room = end - off - STAMP_RECORD_HEADER_LEN;
	r->type = stamp_le16(p);
	r->flags = stamp_le16(p + 2);
	r->length = stamp_le32(p + 4);
	r->value = p + STAMP_RECORD_HEADER_LEN;
	r->offset = off;
	pad = (0u - r->length) & 3u;  /* no overflow, even for a u32 length */
	if (r->length > room || pad > room - r->length)
		return (size_t)fail(err, STAMP_E_BOUNDS, off + 4) + 1;
	padded = (size_t)r->length + pad;
	for (size_t i = r->length; i < padded; i++)
		if (r->value[i] != 0)
			return (size_t)fail(err, STAMP_E_PADDING,
			    off + STAMP_RECORD_HEADER_LEN + i) + 1;
	return off + STAMP_RECORD_HEADER_LEN + padded;
}

/* Check one record against its rule. Returns 0 or -1. */
static int
check_value(struct walk *w, const struct stamp_record *r, size_t next,
    struct stamp_error *err)
{
	const struct rule *ru = NULL;
	size_t i, voff = r->offset + STAMP_RECORD_HEADER_LEN;
	uint16_t secret = r->flags & STAMP_RF_SECRET;

	if ((r->flags & ~(STAMP_RF_CRITICAL | STAMP_RF_SECRET |
	    STAMP_RF_PLAINTEXT)) != 0 ||
	    (r->flags & (STAMP_RF_SECRET | STAMP_RF_PLAINTEXT)) ==
	    STAMP_RF_PLAINTEXT)
		return fail(err, STAMP_E_FLAGS, r->offset + 2);
	/* Every table is sorted and dense from type 1: row i is type i + 1. */
	i = (size_t)r->type - 1;
	if (i < w->nrules && w->rules[i].type == r->type)
		ru = &w->rules[i];
	if (ru == NULL) {
		if (r->flags & STAMP_RF_CRITICAL)
			return fail(err, STAMP_E_CRITICAL, r->offset);
		return 0;
	}
	if ((w->seen & (1u << i)) && !(ru->flags & R_MULTI))
		return fail(err, STAMP_E_DUPLICATE, r->offset);
	w->seen |= 1u << i;
	if (!(ru->flags & R_SECRET) != !secret)
		return fail(err, STAMP_E_SECRET, r->offset + 2);
	if ((ru->flags & R_LAST) && next != w->end)
		return fail(err, STAMP_E_ORDER, next);
	if (secret && !(r->flags & STAMP_RF_PLAINTEXT)) {
		if (r->length < STAMP_SEALED_MIN ||
		    (r->length - STAMP_POINT_LEN) % 8 != 0 || r->value[0] != 4)
			return fail(err, STAMP_E_SECRET, voff);
		return 0;
	}
	if (secret && !w->plaintext)
		return fail(err, STAMP_E_SECRET, r->offset + 2);
	if (ru->kind == K_U8) {
		if (r->length != 1 || r->value[0] < ru->min ||
		    r->value[0] > ru->max)
			return fail(err, STAMP_E_VALUE, voff);
		return 0;
	}
	if (r->length < ru->min || r->length > ru->max)
		return fail(err, STAMP_E_VALUE, r->offset + 4);
	if (ru->kind == K_POINT && r->value[0] != 4)
		return fail(err, STAMP_E_VALUE, voff);
	if (ru->kind == K_TEXT && (i = is_text(r->value, r->length)) != 0)
		return fail(err, STAMP_E_VALUE, voff + i - 1);
	return 0;
}

/* Walk from ${off}; *${stop} gets the offset of the stop record, or the
 * end. Then every required record must have been seen. */
static int
walk(struct walk *w, size_t off, size_t *stop, struct stamp_error *err)
{
	struct stamp_record r;
	size_t next;

	while (off < w->end) {
		if ((next = record_at(w->buf, off, w->end, &r, err)) == 0)
			return -1;
		if (w->stop != 0 && r.type == w->stop)
			break;
		if (w->stop != 0 && r.type == STAMP_T_SIGNATURE)
			return fail(err, STAMP_E_ORDER, off);
		if (check_value(w, &r, next, err) != 0)
			return -1;
		off = next;
	}
	*stop = off;
	for (size_t i = 0; i < w->nrules; i++)
		if ((w->rules[i].flags & R_REQ) && !(w->seen & (1u << i)))
			return fail(err, STAMP_E_MISSING, off);
	return 0;
}

/* A trailer record (integrity, signature) at ${off}: exact type, flags
 * CRITICAL only, exact length. Returns the next offset or 0. */
static size_t
trailer_at(const uint8_t *buf, size_t off, size_t end, uint16_t type,
    uint32_t length, struct stamp_error *err)
{
	struct stamp_record r;
	size_t next;

	if ((next = record_at(buf, off, end, &r, err)) == 0)
		return 0;
	if (r.type != type)
		return (size_t)fail(err, STAMP_E_ORDER, off) + 1;
	if (r.flags != STAMP_RF_CRITICAL)
		return (size_t)fail(err, STAMP_E_FLAGS, off + 2) + 1;
	if (r.length != length)
		return (size_t)fail(err, STAMP_E_VALUE, off + 4) + 1;
	return next;
}

int
stamp_read(struct stamp_view *v, const uint8_t *buf, size_t len,
    const struct stamp_crypto *crypto, const struct stamp_expect *expect,
    struct stamp_error *err)
{
	struct walk w = { buf, 0, stamp_rules, NROWS(stamp_rules), 0,
	    STAMP_T_INTEGRITY, 0 };
	struct stamp_cursor c;
	struct stamp_record r;
	uint8_t digest[STAMP_DIGEST_LEN];
	size_t hl, total, i;

	memset(v, 0, sizeof(*v));
	err->code = STAMP_OK;
	err->offset = 0;
	if (len < STAMP_HEADER_LEN)
		return fail(err, STAMP_E_TRUNCATED, len);
	if (stamp_le32(buf) != STAMP_MAGIC)
		return fail(err, STAMP_E_MAGIC, 0);
	if (buf[4] != STAMP_VERSION_MAJOR)
		return fail(err, STAMP_E_VERSION, 4);
	hl = stamp_le16(buf + 6);
	total = stamp_le32(buf + 8);
	v->write_unit = stamp_le16(buf + 20);
	v->flags = stamp_le32(buf + 16);
	if (hl < STAMP_HEADER_LEN || (hl & 3) != 0)
		return fail(err, STAMP_E_HEADER, 6);
	if (v->write_unit != 16 && v->write_unit != 32)
		return fail(err, STAMP_E_HEADER, 20);
	if (stamp_le16(buf + 22) != 0)
		return fail(err, STAMP_E_HEADER, 22);
	if ((v->flags & 0xffffu & ~(uint32_t)STAMP_HF_DEVELOPMENT) != 0)
		return fail(err, STAMP_E_FLAGS, 16);
	if (total % v->write_unit != 0)
		return fail(err, STAMP_E_LENGTH, 8);
	if (total > len)
		return fail(err, STAMP_E_TRUNCATED, len);
	if (hl > total)
		return fail(err, STAMP_E_HEADER, 6);
	for (i = total; i < len; i++)
		if (buf[i] != 0xff)
			return fail(err, STAMP_E_TRAILING, i);

	w.end = total;
	w.plaintext = (v->flags & STAMP_HF_DEVELOPMENT) != 0;
	if (walk(&w, hl, &v->integrity_off, err) != 0)
		return -1;
	if (v->integrity_off == total)
		return fail(err, STAMP_E_MISSING, total);
	if ((v->signature_off = trailer_at(buf, v->integrity_off, total,
	    STAMP_T_INTEGRITY, STAMP_DIGEST_LEN, err)) == 0)
		return -1;
	if ((v->end_off = trailer_at(buf, v->signature_off, total,
	    STAMP_T_SIGNATURE, STAMP_SIG_VALUE_LEN, err)) == 0)
		return -1;
	for (i = v->end_off; i < total; i++)
		if (buf[i] != 0xff)
			return fail(err, STAMP_E_ORDER, v->end_off);
	if (total - v->end_off >= v->write_unit)
		return fail(err, STAMP_E_LENGTH, 8);
	i = v->signature_off + STAMP_RECORD_HEADER_LEN;
	if (buf[i] != 1 || buf[i + 1] != 0 || buf[i + 2] != 0 || buf[i + 3] != 0)
		return fail(err, STAMP_E_VALUE, i);

	v->image = buf;
	v->total_len = total;
	v->records_off = hl;
	v->generation = stamp_le32(buf + 12);
	v->version_major = buf[4];
	v->version_minor = buf[5];
	v->digest = buf + v->integrity_off + STAMP_RECORD_HEADER_LEN;
	v->key_id = buf + i + 4;
	v->signature = buf + i + 4 + STAMP_KEY_ID_LEN;
	stamp_records(v, &c);
	if (stamp_find(&c, STAMP_T_HARDWARE_ID, &r)) {
		v->hardware_id = r.value;
		v->hardware_id_len = r.length;
	}

	if (crypto == NULL || crypto->sha256 == NULL)
		return fail(err, STAMP_E_CRYPTO, v->integrity_off);
	if (crypto->sha256(crypto->ctx, buf, v->integrity_off, digest) != 0)
		return fail(err, STAMP_E_CRYPTO, v->integrity_off);
	if (memcmp(digest, v->digest, STAMP_DIGEST_LEN) != 0)
		return fail(err, STAMP_E_DIGEST, v->integrity_off + 8);
	if (crypto->verify != NULL) {
		if (crypto->verify(crypto->ctx, v->key_id, v->digest,
		    v->signature) != 0)
			return fail(err, STAMP_E_SIGNATURE, i + 4);
		v->signature_checked = 1;
	}
	if (expect != NULL && expect->hardware_id != NULL &&
	    (expect->hardware_id_len != v->hardware_id_len ||
	    memcmp(expect->hardware_id, v->hardware_id, v->hardware_id_len)))
		return fail(err, STAMP_E_BINDING, r.offset + 8);
	if ((v->flags & STAMP_HF_DEVELOPMENT) &&
	    (expect == NULL || !expect->allow_development))
		return fail(err, STAMP_E_DEVELOPMENT, 16);
	return 0;
}

int
stamp_msg_read(struct stamp_msg *m, uint32_t magic, const uint8_t *buf,
    size_t len, struct stamp_error *err)
{
	struct walk w = { buf, len, commit_rules, NROWS(commit_rules), 0, 0, 0 };
	size_t hl, total, stop;

	memset(m, 0, sizeof(*m));
	err->code = STAMP_OK;
	err->offset = 0;
	if (magic == STAMP_MAGIC_INFO) {
		w.rules = info_rules;
		w.nrules = NROWS(info_rules);
	} else if (magic == STAMP_MAGIC_KEYGEN) {
		w.rules = keygen_rules;
		w.nrules = NROWS(keygen_rules);
	} else if (magic == STAMP_MAGIC_ATTEST) {
		w.rules = attest_rules;
		w.nrules = NROWS(attest_rules);
	} else if (magic != STAMP_MAGIC_COMMIT) {
		return fail(err, STAMP_E_ARGUMENT, 0);
	}
	if (len < STAMP_MSG_HEADER_LEN)
		return fail(err, STAMP_E_TRUNCATED, len);
	if (stamp_le32(buf) != magic)
		return fail(err, STAMP_E_MAGIC, 0);
	if (buf[4] != STAMP_VERSION_MAJOR)
		return fail(err, STAMP_E_VERSION, 4);
	hl = stamp_le16(buf + 6);
	total = stamp_le32(buf + 8);
	if (hl < STAMP_MSG_HEADER_LEN || (hl & 3) != 0)
		return fail(err, STAMP_E_HEADER, 6);
	if (total > len)
		return fail(err, STAMP_E_TRUNCATED, len);
	if (total < len)
		return fail(err, STAMP_E_TRAILING, total);
	if (hl > total)
		return fail(err, STAMP_E_HEADER, 6);
	if (walk(&w, hl, &stop, err) != 0)
		return -1;
	m->buf = buf;
	m->len = len;
	m->magic = magic;
	m->records_off = hl;
	if (magic != STAMP_MAGIC_INFO)
		return 0;
	/* The attestation signature needs the certificate whose key made it;
	 * a nonce or key hash means something only when signed (row i of
	 * info_rules is type i + 1). */
	if ((w.seen & SEEN(STAMP_I_ATTESTATION_SIG)) &&
	    !(w.seen & SEEN(STAMP_I_ATTESTATION_CERT)))
		return fail(err, STAMP_E_MISSING, len);
	if ((w.seen & (SEEN(STAMP_I_ATTESTATION_NONCE) |
	    SEEN(STAMP_I_ATTESTED_KEY))) &&
	    !(w.seen & SEEN(STAMP_I_ATTESTATION_SIG)))
		return fail(err, STAMP_E_MISSING, len);
	if (w.seen & SEEN(STAMP_I_ATTESTATION_SIG))
		m->signed_len = len - STAMP_RECORD_HEADER_LEN - STAMP_SIG_LEN;
	return 0;
}

void
stamp_records(const struct stamp_view *v, struct stamp_cursor *c)
{
	c->buf = v->image;
	c->offset = v->records_off;
	c->end = v->end_off;
}

void
stamp_msg_records(const struct stamp_msg *m, struct stamp_cursor *c)
{
	c->buf = m->buf;
	c->offset = m->records_off;
	c->end = m->len;
}

int
stamp_next(struct stamp_cursor *c, struct stamp_record *rec)
{
	struct stamp_error err;
	size_t next;

	if (c->buf == NULL || c->offset >= c->end)
		return 0;
	if ((next = record_at(c->buf, c->offset, c->end, rec, &err)) == 0)
		return 0;
	c->offset = next;
	return 1;
}

int
stamp_find(struct stamp_cursor *c, uint16_t type, struct stamp_record *rec)
{
	while (stamp_next(c, rec))
		if (rec->type == type)
			return 1;
	return 0;
}

void
stamp_marker(const struct stamp_view *v, uint8_t out[STAMP_MARKER_LEN])
{
	uint32_t words[2] = { STAMP_MAGIC_MARKER, v->generation };

	for (size_t i = 0; i < 8; i++)
		out[i] = (uint8_t)(words[i / 4] >> (8 * (i % 4)));
	memcpy(out + 8, v->digest, 8);
}

int
stamp_marker_matches(const struct stamp_view *v, const uint8_t *unit,
    size_t unit_len)
{
	uint8_t want[STAMP_MARKER_LEN];

	if (v->digest == NULL || unit_len != v->write_unit)
		return 0;
	stamp_marker(v, want);
	if (memcmp(unit, want, sizeof(want)) != 0)
		return 0;
	for (size_t i = sizeof(want); i < unit_len; i++)
		if (unit[i] != 0xff)
			return 0;
	return 1;
}

int
stamp_secret_context(const struct stamp_crypto *crypto, const uint8_t eph[65],
    const uint8_t transport_pub[65], uint16_t type, uint8_t out[32])
{
	static const char label[16] = "STAMP-SECRET-KEK";
	uint8_t in[2 * STAMP_POINT_LEN + 2], hash[32];

	if (crypto == NULL || crypto->sha256 == NULL)
		return -1;
	memcpy(in, eph, STAMP_POINT_LEN);
	memcpy(in + STAMP_POINT_LEN, transport_pub, STAMP_POINT_LEN);
	in[2 * STAMP_POINT_LEN] = (uint8_t)type;
	in[2 * STAMP_POINT_LEN + 1] = (uint8_t)(type >> 8);
	if (crypto->sha256(crypto->ctx, in, sizeof(in), hash) != 0)
		return -1;
	memcpy(out, label, 16);
	memcpy(out + 16, hash, 16);
	return 0;
}

int
stamp_secret_open(const struct stamp_record *rec,
    const uint8_t transport_pub[65], const struct stamp_crypto *crypto,
    uint8_t *out, size_t cap, size_t *out_len, struct stamp_error *err)
{
	const struct rule *ru;
	uint8_t z[32], kek[32], context[32];
	size_t n = cap, voff = rec->offset + STAMP_RECORD_HEADER_LEN;
	int ret = -1;

	if (!(rec->flags & STAMP_RF_SECRET))
		return fail(err, STAMP_E_ARGUMENT, rec->offset + 2);
	if (rec->flags & STAMP_RF_PLAINTEXT) {
		if (rec->length > cap)
			return fail(err, STAMP_E_SPACE, voff);
		memcpy(out, rec->value, rec->length);
		*out_len = rec->length;
		return 0;
	}
	if (rec->length < STAMP_SEALED_MIN ||
	    (rec->length - STAMP_POINT_LEN) % 8 != 0 || rec->value[0] != 4)
		return fail(err, STAMP_E_SECRET, voff);
	if (cap < rec->length - STAMP_POINT_LEN - 8)
		return fail(err, STAMP_E_SPACE, voff);
	if (crypto == NULL || crypto->ecdh == NULL || crypto->aes256_ecb == NULL ||
	    crypto->kwp_unwrap == NULL)
		return fail(err, STAMP_E_CRYPTO, voff);
	if (crypto->ecdh(crypto->ctx, rec->value, z) != 0) {
		fail(err, STAMP_E_DECRYPT, voff);
		goto cleanup;
	}
	if (stamp_secret_context(crypto, rec->value, transport_pub, rec->type,
	    context) != 0 || crypto->aes256_ecb(crypto->ctx, z, context, kek)) {
		fail(err, STAMP_E_CRYPTO, voff);
		goto cleanup;
	}
	if (crypto->kwp_unwrap(crypto->ctx, kek, rec->value + STAMP_POINT_LEN,
	    rec->length - STAMP_POINT_LEN, out, &n) != 0 || n > cap) {
		fail(err, STAMP_E_DECRYPT, voff + STAMP_POINT_LEN);
		goto cleanup;
	}
	/* The registry limits apply to the plaintext. */
	ru = (size_t)rec->type - 1 < NROWS(stamp_rules) ?
	    &stamp_rules[rec->type - 1] : NULL;
	if (ru != NULL && ru->type == rec->type && (n < ru->min ||
	    n > ru->max || (ru->kind == K_TEXT && is_text(out, n) != 0))) {
		wipe(out, n);
		fail(err, STAMP_E_VALUE, voff);
		goto cleanup;
	}
	*out_len = n;
	ret = 0;
cleanup:
	wipe(z, sizeof(z));
	wipe(kek, sizeof(kek));
	return ret;
}
