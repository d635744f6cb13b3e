/*
 * encode.c: the canonical byte encodings of the audit log (docs/AUDIT.md is
 * the contract; this is its reference implementation).
 *
 * Everything hashed or signed is built from fixed-width big-endian integers
 * and length-prefixed byte strings, never from text that could be read two
 * ways:
 *
 *   details = *( u8 keylen | key | u32 vlen | value )   keys [a-z0-9_]{1,32},
 *             strictly ascending (bytewise), so one list has one encoding
 *   event   = "SAEVENT1" | prev_hash[32] | u64 seq | i64 time_us
 *             | lp(actor) | lp(kind) | lp(subject) | lp(details)
 *             where lp(x) = u32 len | x;  hash = SHA-256(event)
 *   checkpoint = "SACHKPT1" | lp(station_id) | u64 head_seq | u64 count
 *             | head_hash[32] | i64 time_us | key_id[32]
 *             signed as ECDSA/RSA with SHA-256 over these bytes
 *
 * Parsers check every length against what remains and reject trailing
 * bytes; audit_details_parse() and audit_anchor_parse() have fuzz harnesses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "audit/internal.h"

#define EVENT_MAGIC "SAEVENT1"
#define CHECKPOINT_MAGIC "SACHKPT1"
#define ANCHOR_FIRST "station-audit-anchor 1\n"

void
audit_sha256(const void *d, size_t len, uint8_t out[static AUDIT_HASH_LEN])
{
	SHA256(d, len, out);
}

void
audit_hex(const uint8_t *d, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;  /* lower case only: one text, one value */
}

int
audit_unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo;

		if (hi < 0 || (lo = hexval(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
audit_u64_text(uint64_t v, char buf[static 21])
{
	snprintf(buf, 21, "%llu", (unsigned long long)v);
}

int
audit_u64_parse(const uint8_t *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

bool
audit_text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t extra;
		unsigned min;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			extra = 1; min = 0x80; c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2; min = 0x800; c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3; min = 0x10000; c &= 0x07;
		} else {
			return false;
		}
		if (len - i <= extra)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

bool
audit_text_valid(const char *s, size_t len)
{
	return audit_text_ok(s, len);
}

static bool
key_ok(const char *k, size_t len)
{
	if (len < 1 || len > AUDIT_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int
field_cmp(const void *x, const void *y)
{
	const struct audit_field *a = x, *b = y;

	return strcmp(a->key, b->key);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
audit_details_encode(const struct audit_field *f, size_t n, uint8_t **out,
    size_t *len, char err[static AUDIT_ERR_MAX])
{
	struct audit_field *sorted = NULL;
	uint8_t *buf = NULL, *p;
	size_t total = 0;
	int ret = -1;

	*out = NULL;
	*len = 0;
	if (n > AUDIT_FIELDS_MAX) {
		snprintf(err, AUDIT_ERR_MAX, "too many details (%zu, at most %d)",
		    n, AUDIT_FIELDS_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (f[i].key == NULL || !key_ok(f[i].key, strlen(f[i].key))) {
			snprintf(err, AUDIT_ERR_MAX, "detail key '%s': expected 1 "
			    "to %d of a-z 0-9 _", f[i].key ? f[i].key : "(null)",
			    AUDIT_KEY_MAX);
			return -1;
		}
		if (f[i].len > AUDIT_DETAILS_MAX || (f[i].len > 0 &&
		    f[i].value == NULL)) {
			snprintf(err, AUDIT_ERR_MAX, "detail '%s': bad value",
			    f[i].key);
			return -1;
		}
		total += 1 + strlen(f[i].key) + 4 + f[i].len;
	}
	if (total > AUDIT_DETAILS_MAX) {
		snprintf(err, AUDIT_ERR_MAX, "details too large (%zu bytes, at "
		    "most %d)", total, AUDIT_DETAILS_MAX);
		return -1;
	}
	if ((sorted = malloc((n ? n : 1) * sizeof(*sorted))) == NULL ||
	    (buf = malloc(total ? total : 1)) == NULL) {
		snprintf(err, AUDIT_ERR_MAX, "out of memory");
		goto cleanup;
	}
	if (n)
		memcpy(sorted, f, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), field_cmp);
	p = buf;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(sorted[i].key);

		if (i > 0 && strcmp(sorted[i - 1].key, sorted[i].key) == 0) {
			snprintf(err, AUDIT_ERR_MAX, "detail '%s' given twice",
			    sorted[i].key);
			goto cleanup;
		}
		*p++ = (uint8_t)kl;
		memcpy(p, sorted[i].key, kl);
		p += kl;
		put_u32(p, (uint32_t)sorted[i].len);
		p += 4;
		if (sorted[i].len)
			memcpy(p, sorted[i].value, sorted[i].len);
		p += sorted[i].len;
	}
	*out = buf;
	*len = total;
	buf = NULL;
	ret = 0;
cleanup:
	free(buf);
	free(sorted);
	return ret;
}

int
audit_details_parse(const uint8_t *d, size_t len, struct audit_detail *out,
    size_t max, size_t *n)
{
	size_t pos = 0, count = 0;
	const uint8_t *prev_key = NULL;
	size_t prev_len = 0;

	*n = 0;
	if (len > AUDIT_DETAILS_MAX)
		return -1;
	while (pos < len) {
		size_t kl, vl;
		const uint8_t *key;
		int c;

		kl = d[pos++];
		if (kl < 1 || kl > AUDIT_KEY_MAX || len - pos < kl)
			return -1;
		key = d + pos;
		if (!key_ok((const char *)key, kl))
			return -1;
		pos += kl;
		if (len - pos < 4)
			return -1;
		vl = get_u32(d + pos);
		pos += 4;
		if (len - pos < vl)
			return -1;
		if (prev_key != NULL) {
			c = memcmp(prev_key, key, prev_len < kl ? prev_len : kl);
			if (c > 0 || (c == 0 && prev_len >= kl))
				return -1;  /* out of order, or repeated */
		}
		if (count == max)
			return -1;
		memcpy(out[count].key, key, kl);
		out[count].key[kl] = '\0';
		out[count].value = d + pos;
		out[count].len = vl;
		count++;
		prev_key = key;
		prev_len = kl;
		pos += vl;
	}
	*n = count;
	return 0;
}

/* Feeds lp(x) = u32 len | x into a digest. */
static void
digest_lp(EVP_MD_CTX *md, const void *x, size_t len)
{
	uint8_t l[4];

	put_u32(l, (uint32_t)len);
	EVP_DigestUpdate(md, l, 4);
	if (len)
		EVP_DigestUpdate(md, x, len);
}

int
audit_event_hash(const uint8_t prev[static AUDIT_HASH_LEN],
    const struct audit_event *e, uint8_t out[static AUDIT_HASH_LEN])
{
	/* Reused, and SHA-256 fetched once: hashing is the verifier's hot
	 * path, and an implicit fetch per event would cost more than the hash. */
	static EVP_MD_CTX *md;
	static EVP_MD *sha256;
	uint8_t fixed[8 + AUDIT_HASH_LEN + 16];
	size_t la = strlen(e->actor), lk = strlen(e->kind),
	    ls = strlen(e->subject);
	unsigned int outlen = 0;

	if (la > UINT32_MAX || lk > UINT32_MAX || ls > UINT32_MAX ||
	    e->details_len > UINT32_MAX)
		return -1;
	if (md == NULL && (md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) ==
	    NULL)
		return -1;
	memcpy(fixed, EVENT_MAGIC, 8);
	memcpy(fixed + 8, prev, AUDIT_HASH_LEN);
	put_u64(fixed + 8 + AUDIT_HASH_LEN, e->seq);
	put_u64(fixed + 16 + AUDIT_HASH_LEN, (uint64_t)e->time_us);
	if (EVP_DigestInit_ex(md, sha256, NULL) != 1)
		return -1;
	EVP_DigestUpdate(md, fixed, sizeof(fixed));
	digest_lp(md, e->actor, la);
	digest_lp(md, e->kind, lk);
	digest_lp(md, e->subject, ls);
	digest_lp(md, e->details, e->details_len);
	if (EVP_DigestFinal_ex(md, out, &outlen) != 1 || outlen != AUDIT_HASH_LEN)
		return -1;
	return 0;
}

int
audit_checkpoint_message(const struct audit_checkpoint *c, uint8_t **msg,
    size_t *len)
{
	size_t sl = strnlen(c->station_id, sizeof(c->station_id));
	size_t total = 8 + 4 + sl + 8 + 8 + AUDIT_HASH_LEN + 8 + AUDIT_HASH_LEN;
	uint8_t *p, *buf;

	if (sl > AUDIT_STATION_ID_MAX || (buf = malloc(total)) == NULL)
		return -1;
	p = buf;
	memcpy(p, CHECKPOINT_MAGIC, 8); p += 8;
	put_u32(p, (uint32_t)sl); p += 4;
	memcpy(p, c->station_id, sl); p += sl;
	put_u64(p, c->head_seq); p += 8;
	put_u64(p, c->event_count); p += 8;
	memcpy(p, c->head_hash, AUDIT_HASH_LEN); p += AUDIT_HASH_LEN;
	put_u64(p, (uint64_t)c->time_us); p += 8;
	memcpy(p, c->key_id, AUDIT_HASH_LEN);
	*msg = buf;
	*len = total;
	return 0;
}

int
audit_checkpoint_check(const struct audit_checkpoint *c, const char *pubkey_pem,
    char err[static AUDIT_ERR_MAX])
{
	uint8_t key_id[AUDIT_HASH_LEN], digest[AUDIT_HASH_LEN];
	uint8_t *msg = NULL;
	size_t len;
	void *key;
	int ret = -1;

	if ((key = audit_key_load(pubkey_pem, key_id, err)) == NULL)
		return -1;
	if (memcmp(key_id, c->key_id, AUDIT_HASH_LEN) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "signed by another key than the "
		    "one given");
		goto cleanup;
	}
	if (audit_checkpoint_message(c, &msg, &len) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "malformed checkpoint");
		goto cleanup;
	}
	audit_sha256(msg, len, digest);
	if (audit_sig_check(key, digest, c->sig, c->sig_len) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "bad signature");
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(msg);
	audit_key_free(key);
	return ret;
}

int
audit_anchor_format(const struct audit_checkpoint *c, char *buf, size_t size)
{
	char head[2 * AUDIT_HASH_LEN + 1], key[2 * AUDIT_HASH_LEN + 1];
	char sig[2 * AUDIT_SIG_MAX + 1];
	int n;

	if (c->sig_len > AUDIT_SIG_MAX)
		return -1;
	audit_hex(c->head_hash, AUDIT_HASH_LEN, head);
	audit_hex(c->key_id, AUDIT_HASH_LEN, key);
	audit_hex(c->sig, c->sig_len, sig);
	n = snprintf(buf, size, ANCHOR_FIRST "station %s\nhead-seq %llu\n"
	    "event-count %llu\nhead-hash %s\ntime-us %lld\nkey-id %s\n"
	    "signature %s\n", c->station_id, (unsigned long long)c->head_seq,
	    (unsigned long long)c->event_count, head, (long long)c->time_us,
	    key, sig);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* Takes the line "NAME VALUE\n" at *pos; VALUE into ${v} (NUL-terminated). */
static int
anchor_line(const char *t, size_t len, size_t *pos, const char *name,
    char *v, size_t vsize, char err[static AUDIT_ERR_MAX])
{
	size_t nl = strlen(name), start, end;

	if (len - *pos < nl + 1 || memcmp(t + *pos, name, nl) != 0 ||
	    t[*pos + nl] != ' ') {
		snprintf(err, AUDIT_ERR_MAX, "expected a line '%s ...'", name);
		return -1;
	}
	start = *pos + nl + 1;
	for (end = start; end < len && t[end] != '\n'; end++)
		;
	if (end == len) {
		snprintf(err, AUDIT_ERR_MAX, "'%s': line does not end", name);
		return -1;
	}
	if (end - start >= vsize || end == start) {
		snprintf(err, AUDIT_ERR_MAX, "'%s': bad length", name);
		return -1;
	}
	memcpy(v, t + start, end - start);
	v[end - start] = '\0';
	*pos = end + 1;
	return 0;
}

int
audit_anchor_parse(const char *t, size_t len, struct audit_checkpoint *c,
    char err[static AUDIT_ERR_MAX])
{
	char v[2 * AUDIT_SIG_MAX + 2], again[4096];
	size_t pos = strlen(ANCHOR_FIRST), vl;
	uint64_t u;
	int n;

	memset(c, 0, sizeof(*c));
	if (len < pos || memcmp(t, ANCHOR_FIRST, pos) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "not an audit anchor (expected "
		    "first line 'station-audit-anchor 1')");
		return -1;
	}
	if (anchor_line(t, len, &pos, "station", v, sizeof(v), err) != 0)
		return -1;
	vl = strlen(v);
	if (vl > AUDIT_STATION_ID_MAX || !audit_text_ok(v, vl)) {
		snprintf(err, AUDIT_ERR_MAX, "'station': bad station id");
		return -1;
	}
	memcpy(c->station_id, v, vl + 1);
	if (anchor_line(t, len, &pos, "head-seq", v, sizeof(v), err) != 0)
		return -1;
	if (audit_u64_parse((const uint8_t *)v, strlen(v), &c->head_seq) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "'head-seq': expected a number");
		return -1;
	}
	if (anchor_line(t, len, &pos, "event-count", v, sizeof(v), err) != 0)
		return -1;
	if (audit_u64_parse((const uint8_t *)v, strlen(v), &c->event_count)) {
		snprintf(err, AUDIT_ERR_MAX, "'event-count': expected a number");
		return -1;
	}
	if (anchor_line(t, len, &pos, "head-hash", v, sizeof(v), err) != 0)
		return -1;
	if (strlen(v) != 2 * AUDIT_HASH_LEN ||
	    audit_unhex(v, AUDIT_HASH_LEN, c->head_hash) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "'head-hash': expected 64 hex digits");
		return -1;
	}
	if (anchor_line(t, len, &pos, "time-us", v, sizeof(v), err) != 0)
		return -1;
	if (audit_u64_parse((const uint8_t *)v, strlen(v), &u) != 0 ||
	    u > INT64_MAX) {
		snprintf(err, AUDIT_ERR_MAX, "'time-us': expected a number");
		return -1;
	}
	c->time_us = (int64_t)u;
	if (anchor_line(t, len, &pos, "key-id", v, sizeof(v), err) != 0)
		return -1;
	if (strlen(v) != 2 * AUDIT_HASH_LEN ||
	    audit_unhex(v, AUDIT_HASH_LEN, c->key_id) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "'key-id': expected 64 hex digits");
		return -1;
	}
	if (anchor_line(t, len, &pos, "signature", v, sizeof(v), err) != 0)
		return -1;
	vl = strlen(v);
	if (vl % 2 != 0 || vl / 2 > AUDIT_SIG_MAX ||
	    audit_unhex(v, vl / 2, c->sig) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "'signature': expected hex digits");
		return -1;
	}
	c->sig_len = vl / 2;
	if (pos != len) {
		snprintf(err, AUDIT_ERR_MAX, "trailing bytes after 'signature'");
		return -1;
	}
	/* One anchor, one text: what we would write must be what we read. */
	n = audit_anchor_format(c, again, sizeof(again));
	if (n < 0 || (size_t)n != len || memcmp(again, t, len) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "not in canonical form");
		return -1;
	}
	return 0;
}

int
audit_event_text(const struct audit_event *e, const char *key, char *out,
    size_t size)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d, AUDIT_FIELDS_MAX,
	    &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].key, key) == 0 && d[i].len < size) {
			memcpy(out, d[i].value, d[i].len);
			out[d[i].len] = '\0';
			return 0;
		}
	return -1;
}
