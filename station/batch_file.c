/*
 * batch_file.c: the text inside a batch file, its manifest, and the
 * fixed-size records an imported batch is kept in (docs/BATCHES.md).
 *
 * The text (what the CMS EnvelopedData carries) is lines ending in "\n":
 *
 *   station-batch 1
 *   ca BASE64                         the issuing sub-CA certificate (DER)
 *   item INDEX SERIAL CLAIM BASE64 BASE64    certificate, sealed key
 *   ...                               INDEX = 0, 1, ... in order
 *   manifest BASE64                   CMS SignedData of the manifest text
 *
 * The manifest's content_sha256 covers every byte before "manifest ". The
 * parser here checks the syntax of every byte, each length against what
 * remains, and that nothing follows the manifest line; signatures are
 * checked by the importer (batch_import.c). It has a fuzz harness
 * (tests/fuzz/fuzz_batch.c).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "station/batch.h"
#include "station/order.h"

static int
fail(char err[static BATCH_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(char err[static BATCH_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, BATCH_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

bool
batch_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > BATCH_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-", id[i]) == NULL || id[i] == '\0')
			return false;
	return id[0] != '.';
}

int
batch_items_path(const char *home, const char *batch_id, char *out,
    size_t size)
{
	int n = snprintf(out, size, "%s/batches/%s.items", home, batch_id);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* b64val(c): the value of a base64 symbol, or -1. */
static int
b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* b64_decode(in, len, out, cap, out_len): strict base64 (padded, no
 * whitespace, zero trailing bits). 0 or -1. */
static int
b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
    size_t *out_len)
{
	size_t n = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[j] = b64val(in[i + j])) < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if ((pad == 1 && (w & 0xff) != 0) ||
		    (pad == 2 && (w & 0xffff) != 0) || n + 3 - pad > cap)
			return -1;
		out[n++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[n++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[n++] = (uint8_t)w;
	}
	*out_len = n;
	return 0;
}

/* A cursor over one line's space-separated fields. */
struct fields {
	const uint8_t *p, *end;
};

/* next_field(f, out, len): the next field (non-empty, no spaces). */
static int
next_field(struct fields *f, const uint8_t **out, size_t *len)
{
	const uint8_t *s = f->p;

	while (f->p < f->end && *f->p != ' ')
		f->p++;
	if (f->p == s)
		return -1;
	*out = s;
	*len = (size_t)(f->p - s);
	if (f->p < f->end)
		f->p++;         /* the one space; a trailing one is refused */
	return f->p == f->end && f->p[-1] == ' ' ? -1 : 0;
}

static int
field_text(struct fields *f, const char *allowed, char *out, size_t max)
{
	const uint8_t *s;
	size_t n;

	if (next_field(f, &s, &n) != 0 || n > max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] == 0 || strchr(allowed, s[i]) == NULL)
			return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
field_u64(struct fields *f, uint64_t *v)
{
	char buf[21];

	if (field_text(f, "0123456789", buf, 20) != 0 ||
	    (buf[0] == '0' && buf[1] != '\0'))
		return -1;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

#define SERIAL_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789.-"
#define CLAIM_CHARS "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U"

/* item_line(f, index, it): "INDEX SERIAL CLAIM CERT SEALED" after "item ". */
static int
item_line(struct fields *f, uint64_t index, struct batch_item *it,
    char err[static BATCH_ERR_MAX])
{
	const uint8_t *s;
	size_t n;

	if (field_u64(f, &it->index) != 0 || it->index != index)
		return fail(err, "item %" PRIu64 ": bad or out-of-order index",
		    index);
	if (field_text(f, SERIAL_CHARS, it->serial, IDENTITY_SERIAL_MAX) != 0)
		return fail(err, "item %" PRIu64 ": bad serial", index);
	if (field_text(f, CLAIM_CHARS, it->claim, IDENTITY_CLAIM_BUF - 1) !=
	    0 || strlen(it->claim) < IDENTITY_CLAIM_MIN)
		return fail(err, "item %" PRIu64 ": bad claim ID", index);
	if (next_field(f, &s, &n) != 0 || b64_decode(s, n, it->cert,
	    sizeof(it->cert), &it->cert_len) != 0 || it->cert_len < 2 ||
	    it->cert[0] != 0x30)
		return fail(err, "item %" PRIu64 ": bad certificate", index);
	if (next_field(f, &s, &n) != 0 || b64_decode(s, n, it->sealed,
	    sizeof(it->sealed), &it->sealed_len) != 0 || it->sealed_len <
	    65 + 16 || (it->sealed_len - 65) % 8 != 0 || it->sealed[0] != 4)
		return fail(err, "item %" PRIu64 ": bad sealed key", index);
	if (f->p != f->end)
		return fail(err, "item %" PRIu64 ": extra fields", index);
	return 0;
}

int
batch_parse(const uint8_t *buf, size_t len, batch_item_fn *fn, void *ctx,
    struct batch_parsed *out, char err[static BATCH_ERR_MAX])
{
	static const char head[] = "station-batch 1\n";
	const uint8_t *p = buf, *end = buf + len;
	struct batch_item *it;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if ((it = malloc(sizeof(*it))) == NULL)
		return fail(err, "out of memory");
	if (len < sizeof(head) - 1 || memcmp(buf, head, sizeof(head) - 1)) {
		fail(err, "not a batch (first line is not 'station-batch 1')");
		goto cleanup;
	}
	for (p += sizeof(head) - 1; p < end;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		struct fields f;
		const uint8_t *word;
		size_t n;

		if (nl == NULL) {
			fail(err, "the last line has no end");
			goto cleanup;
		}
		f = (struct fields){ p, nl };
		if (next_field(&f, &word, &n) != 0) {
			fail(err, "an empty or malformed line");
			goto cleanup;
		}
		if (n == 8 && memcmp(word, "manifest", 8) == 0) {
			SHA256(buf, (size_t)(p - buf), out->content_sha256);
			if (out->ca_b64 == NULL || next_field(&f, &word, &n) ||
			    f.p != f.end) {
				fail(err, "bad manifest line");
				goto cleanup;
			}
			if (nl + 1 != end) {
				fail(err, "bytes after the manifest");
				goto cleanup;
			}
			out->manifest_b64 = word;
			out->manifest_b64_len = n;
			ret = 0;
			goto cleanup;
		} else if (n == 2 && memcmp(word, "ca", 2) == 0) {
			if (out->ca_b64 != NULL || out->count > 0 ||
			    next_field(&f, &word, &n) != 0 || f.p != f.end) {
				fail(err, "bad or repeated ca line");
				goto cleanup;
			}
			out->ca_b64 = word;
			out->ca_b64_len = n;
		} else if (n == 4 && memcmp(word, "item", 4) == 0) {
			if (out->ca_b64 == NULL) {
				fail(err, "an item before the ca line");
				goto cleanup;
			}
			if (out->count >= BATCH_COUNT_MAX ||
			    item_line(&f, out->count, it, err) != 0)
				goto cleanup;
			if (fn != NULL && fn(ctx, it) != 0) {
				fail(err, "item %" PRIu64 " refused", out->count);
				goto cleanup;
			}
			out->count++;
		} else {
			fail(err, "unknown line '%.*s'", (int)(n > 16 ? 16 : n),
			    (const char *)word);
			goto cleanup;
		}
		p = nl + 1;
	}
	fail(err, "no manifest: the batch is cut short");
cleanup:
	OPENSSL_cleanse(it, sizeof(*it));
	free(it);
	return ret;
}

/* The manifest's keys, in their order. */
static const char *const manifest_keys[] = { "batch", "order", "product",
    "generator", "recipient_key", "count", "serial_first", "created",
    "content_sha256" };

static int
hex32(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (strchr("0123456789abcdef", s[2 * i]) == NULL ||
		    strchr("0123456789abcdef", s[2 * i + 1]) == NULL ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* manifest_value(m, i, v): key ${i} of the manifest set from ${v}. */
static int
manifest_value(struct batch_manifest *m, size_t i, const char *v)
{
	uint64_t u = 0;
	char *end;
	struct tm tm = { 0 };

	if (i == 5 || i == 6) {
		if (v[0] < '0' || v[0] > '9' || (v[0] == '0' && v[1] != 0) ||
		    strlen(v) > 19)
			return -1;
		u = strtoull(v, &end, 10);
		if (*end != '\0')
			return -1;
	}
	switch (i) {
	case 0:
		if (!batch_id_valid(v))
			return -1;
		snprintf(m->batch_id, sizeof(m->batch_id), "%s", v);
		return 0;
	case 1:
		if (!batch_id_valid(v) || strlen(v) > ORDER_ID_MAX)
			return -1;
		snprintf(m->order_id, sizeof(m->order_id), "%s", v);
		return 0;
	case 2:
		if (!batch_id_valid(v) || strlen(v) > ORDER_PRODUCT_MAX)
			return -1;
		snprintf(m->product, sizeof(m->product), "%s", v);
		return 0;
	case 3:
		if (!batch_id_valid(v) || strlen(v) > AUDIT_STATION_ID_MAX)
			return -1;
		snprintf(m->generator, sizeof(m->generator), "%s", v);
		return 0;
	case 4:
		return hex32(v, m->recipient_key);
	case 5:
		m->count = u;
		return u >= 1 && u <= BATCH_COUNT_MAX ? 0 : -1;
	case 6:
		m->serial_first = u;
		return 0;
	case 7:
		end = strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (end == NULL || *end != '\0' || strlen(v) != 20)
			return -1;
		m->created = (int64_t)timegm(&tm);
		return 0;
	default:
		return hex32(v, m->content_sha256);
	}
}

int
batch_manifest_parse(const char *text, size_t len, struct batch_manifest *m,
    char err[static BATCH_ERR_MAX])
{
	static const char head[] = "station-batch-manifest 1\n";
	const char *p = text, *end = text + len;
	size_t nkeys = sizeof(manifest_keys) / sizeof(manifest_keys[0]);

	memset(m, 0, sizeof(*m));
	if (len < sizeof(head) - 1 || memcmp(text, head, sizeof(head) - 1) != 0)
		return fail(err, "manifest: first line is not "
		    "'station-batch-manifest 1'");
	p += sizeof(head) - 1;
	for (size_t i = 0; i < nkeys; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t klen = strlen(manifest_keys[i]);
		char value[160];
		size_t vlen;

		if (nl == NULL)
			return fail(err, "manifest: '%s' missing",
			    manifest_keys[i]);
		if ((size_t)(nl - p) < klen + 3 || memcmp(p, manifest_keys[i],
		    klen) != 0 || memcmp(p + klen, " = ", 3) != 0)
			return fail(err, "manifest: expected '%s = ' on line %zu",
			    manifest_keys[i], i + 2);
		vlen = (size_t)(nl - p) - klen - 3;
		if (vlen == 0 || vlen >= sizeof(value) ||
		    memchr(p + klen + 3, '\0', vlen) != NULL)
			return fail(err, "manifest: bad value of '%s'",
			    manifest_keys[i]);
		memcpy(value, p + klen + 3, vlen);
		value[vlen] = '\0';
		if (manifest_value(m, i, value) != 0)
			return fail(err, "manifest: bad value of '%s'",
			    manifest_keys[i]);
		p = nl + 1;
	}
	if (p != end)
		return fail(err, "manifest: bytes after 'content_sha256'");
	return 0;
}

/* put / get: a field of a record, after its 2-byte big-endian length. */
static void
put(uint8_t *rec, size_t *at, const void *v, size_t n)
{
	rec[(*at)++] = (uint8_t)(n >> 8);
	rec[(*at)++] = (uint8_t)n;
	memcpy(rec + *at, v, n);
	*at += n;
}

int
batch_record_encode(const struct batch_item *it,
    uint8_t rec[static BATCH_RECORD])
{
	size_t at = 8, need = 8 + 8 + strlen(it->serial) + strlen(it->claim) +
	    it->cert_len + it->sealed_len;

	if (need > BATCH_RECORD)
		return -1;
	memset(rec, 0, BATCH_RECORD);
	for (int i = 0; i < 8; i++)
		rec[i] = (uint8_t)(it->index >> (56 - 8 * i));
	put(rec, &at, it->serial, strlen(it->serial));
	put(rec, &at, it->claim, strlen(it->claim));
	put(rec, &at, it->cert, it->cert_len);
	put(rec, &at, it->sealed, it->sealed_len);
	return 0;
}

static int
get(const uint8_t *rec, size_t *at, void *v, size_t cap, size_t *n)
{
	if (*at + 2 > BATCH_RECORD)
		return -1;
	*n = (size_t)rec[*at] << 8 | rec[*at + 1];
	*at += 2;
	if (*n > cap || *at + *n > BATCH_RECORD)
		return -1;
	memcpy(v, rec + *at, *n);
	*at += *n;
	return 0;
}

int
batch_record_decode(const uint8_t rec[static BATCH_RECORD],
    struct batch_item *it)
{
	size_t at = 8, n;

	it->index = 0;
	for (int i = 0; i < 8; i++)
		it->index = it->index << 8 | rec[i];
	if (get(rec, &at, it->serial, IDENTITY_SERIAL_MAX, &n) != 0 || n == 0)
		return -1;
	it->serial[n] = '\0';
	if (get(rec, &at, it->claim, IDENTITY_CLAIM_BUF - 1, &n) != 0 || n == 0)
		return -1;
	it->claim[n] = '\0';
	if (get(rec, &at, it->cert, sizeof(it->cert), &it->cert_len) != 0 ||
	    get(rec, &at, it->sealed, sizeof(it->sealed), &it->sealed_len) != 0)
		return -1;
	return it->cert_len > 0 && it->sealed_len > 65 ? 0 : -1;
}

/* der_len(p, end, len): a DER length at ${*p}; advances. */
static int
der_len(const uint8_t **p, const uint8_t *end, size_t *len)
{
	size_t n;

	if (*p >= end)
		return -1;
	n = *(*p)++;
	if (n & 0x80) {
		size_t k = n & 0x7f;

		if (k == 0 || k > 3 || (size_t)(end - *p) < k)
			return -1;
		for (n = 0; k > 0; k--)
			n = n << 8 | *(*p)++;
	}
	if (n > (size_t)(end - *p))
		return -1;
	*len = n;
	return 0;
}

int
batch_cert_serial(const uint8_t *der, size_t len,
    char hex[static AUDIT_TEXT_MAX + 1])
{
	const uint8_t *p = der, *end = der + len;
	size_t n;

	/* Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version, INTEGER ... */
	if (p >= end || *p++ != 0x30 || der_len(&p, end, &n) != 0 ||
	    p >= end || *p++ != 0x30 || der_len(&p, end, &n) != 0)
		return -1;
	if (p < end && *p == 0xa0) {
		p++;
		if (der_len(&p, end, &n) != 0)
			return -1;
		p += n;
	}
	if (p >= end || *p++ != 0x02 || der_len(&p, end, &n) != 0 || n == 0 ||
	    n > 21)
		return -1;
	if (n > 1 && p[0] == 0) {    /* the sign byte is not printed */
		p++;
		n--;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02X", p[i]);
	return 0;
}
