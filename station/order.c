/*
 * order.c: the production order document: its signed text and its CMS
 * container (docs/ORDERS.md has the byte-level format and the openssl
 * commands that make one).
 *
 * The text is ASCII, one "key = value" per line (LF or CRLF), the first
 * line exactly "station-order 1"; '#' lines and blank lines are comments;
 * every key of the table below exactly once; no NUL, no other control
 * characters, at most ORDER_TEXT_MAX bytes. Values are checked strictly:
 * an order that a person could read two ways is refused.
 *
 * The container is a DER CMS ContentInfo of type SignedData with the text
 * attached as id-data and exactly one SignerInfo; nothing may follow it.
 * Verification is in two steps so that the message can say which failed:
 * the signature over the content (with the signer's certificate from the
 * document or the trusted certificate itself), then the signer's chain to
 * [pki] order_cert (partial chains allowed: the trusted certificate need
 * not be self-signed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "station/order.h"

#define IDCHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789._-"
#define PRODUCTCHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789.-"

enum field {
	F_ORDER_ID, F_STATION_ID, F_PRODUCT, F_QUANTITY, F_SERIAL_FIRST,
	F_SERIAL_LAST, F_KEY_MODE, F_CLAIM_MODE, F_EXPIRES, F_COUNT
};
static const char *const field_names[F_COUNT] = {
	"order_id", "station_id", "product", "quantity", "serial_first",
	"serial_last", "key_mode", "claim_mode", "expires",
};

static void
fmt(char err[static ORDER_ERR_MAX], const char *f, ...)
	__attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void
fmt(char err[static ORDER_ERR_MAX], const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(err, ORDER_ERR_MAX, f, ap);
	va_end(ap);
}

/* decimal(v, len, max, out): digits only, no leading zero, <= max. */
static int
decimal(const char *v, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0 || len > 15 || (len > 1 && v[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > max)
		return -1;
	*out = n;
	return 0;
}

static int
two(const char *p, int *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

/* utc_time(v, len, out): YYYY-MM-DDTHH:MM:SSZ, a real date, 2000..2099. */
static int
utc_time(const char *v, size_t len, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int cc, yy, mo, d, hh, mi, ss, y;
	struct tm tm;

	if (len != 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' ||
	    v[13] != ':' || v[16] != ':' || v[19] != 'Z' || two(v, &cc) ||
	    two(v + 2, &yy) || two(v + 5, &mo) || two(v + 8, &d) ||
	    two(v + 11, &hh) || two(v + 14, &mi) || two(v + 17, &ss))
		return -1;
	y = cc * 100 + yy;
	if (y < 2000 || y > 2099 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] || (mo == 2 && d == 29 && y % 4 != 0) ||
	    hh > 23 || mi > 59 || ss > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mi;
	tm.tm_sec = ss;
	*out = (int64_t)timegm(&tm);
	return 0;
}

void
order_time_text(int64_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "@%lld", (long long)t);
}

static int
set_word(char *dst, size_t size, const char *v, size_t len, const char *chars)
{
	if (len == 0 || len >= size)
		return -1;
	for (size_t i = 0; i < len; i++)   /* ${v} is not NUL-terminated */
		if (v[i] == '\0' || strchr(chars, v[i]) == NULL)
			return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

static int
set_field(struct order *o, enum field f, const char *v, size_t len)
{
	switch (f) {
	case F_ORDER_ID:
		return set_word(o->order_id, sizeof(o->order_id), v, len, IDCHARS);
	case F_STATION_ID:
		return set_word(o->station_id, sizeof(o->station_id), v, len,
		    IDCHARS);
	case F_PRODUCT:
		return set_word(o->product, sizeof(o->product), v, len,
		    PRODUCTCHARS);
	case F_QUANTITY:
		return decimal(v, len, ORDER_QUANTITY_MAX, &o->quantity) != 0 ||
		    o->quantity == 0 ? -1 : 0;
	case F_SERIAL_FIRST:
		return decimal(v, len, ORDER_SERIAL_MAX, &o->serial_first);
	case F_SERIAL_LAST:
		return decimal(v, len, ORDER_SERIAL_MAX, &o->serial_last);
	case F_KEY_MODE:
		if ((len == 6 && !memcmp(v, "device", 6)) || (len == 5 &&
		    !memcmp(v, "token", 5)) || (len == 4 && !memcmp(v, "host", 4)))
			return set_word(o->key_mode, sizeof(o->key_mode), v, len,
			    IDCHARS);
		return -1;
	case F_CLAIM_MODE:
		if ((len == 4 && !memcmp(v, "user", 4)) || (len == 10 &&
		    !memcmp(v, "preclaimed", 10)))
			return set_word(o->claim_mode, sizeof(o->claim_mode), v,
			    len, IDCHARS);
		return -1;
	case F_EXPIRES:
		return utc_time(v, len, &o->expires);
	case F_COUNT:
		break;
	}
	return -1;
}

static const char *
field_expects(enum field f)
{
	switch (f) {
	case F_ORDER_ID: return "1 to 64 of A-Z a-z 0-9 . _ -";
	case F_STATION_ID: return "1 to 32 of A-Z a-z 0-9 . _ -";
	case F_PRODUCT: return "1 to 32 of A-Z a-z 0-9 . -";
	case F_QUANTITY: return "a whole number from 1 to 1000000000000";
	case F_SERIAL_FIRST:
	case F_SERIAL_LAST: return "a whole number of at most 15 digits";
	case F_KEY_MODE: return "device, token or host";
	case F_CLAIM_MODE: return "user or preclaimed";
	case F_EXPIRES: return "a UTC time YYYY-MM-DDTHH:MM:SSZ";
	case F_COUNT: break;
	}
	return "?";
}

/* strip(p, len): trim blanks at both ends. */
static void
strip(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

int
order_parse_text(const uint8_t *text, size_t len, struct order *o,
    char err[static ORDER_ERR_MAX])
{
	const char *t = (const char *)text;
	int seen[F_COUNT] = { 0 };
	size_t pos = 0;
	int line = 0;

	memset(o, 0, sizeof(*o));
	if (len == 0 || len > ORDER_TEXT_MAX) {
		fmt(err, "the order text is empty or longer than %d bytes",
		    ORDER_TEXT_MAX);
		return -1;
	}
	while (pos < len) {
		const char *l = t + pos, *eq, *k, *v;
		size_t n = 0, kl, vl;
		enum field f;

		while (pos + n < len && t[pos + n] != '\n')
			n++;
		pos += n + (pos + n < len);
		line++;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)l[i];

			if ((c < 0x20 && c != '\t') || c > 0x7e) {
				fmt(err, "line %d: a control or non-ASCII character "
				    "(byte 0x%02x)", line, c);
				return -1;
			}
		}
		if (line == 1) {
			if (n != 15 || memcmp(l, "station-order 1", 15) != 0) {
				fmt(err, "line 1: expected 'station-order 1'");
				return -1;
			}
			continue;
		}
		k = l;
		kl = n;
		strip(&k, &kl);
		if (kl == 0 || k[0] == '#')
			continue;
		if ((eq = memchr(l, '=', n)) == NULL) {
			fmt(err, "line %d: expected 'key = value'", line);
			return -1;
		}
		kl = (size_t)(eq - k);
		v = eq + 1;
		vl = n - (size_t)(v - l);
		strip(&k, &kl);
		strip(&v, &vl);
		for (f = 0; f < F_COUNT; f++)
			if (strlen(field_names[f]) == kl &&
			    memcmp(field_names[f], k, kl) == 0)
				break;
		if (f == F_COUNT) {
			fmt(err, "line %d: unknown key '%.*s'", line,
			    (int)(kl > 40 ? 40 : kl), k);
			return -1;
		}
		if (seen[f]) {
			fmt(err, "line %d: %s given twice (first on line %d)", line,
			    field_names[f], seen[f]);
			return -1;
		}
		seen[f] = line;
		if (set_field(o, f, v, vl) != 0) {
			fmt(err, "line %d: %s: expected %s, got '%.*s'", line,
			    field_names[f], field_expects(f),
			    (int)(vl > 40 ? 40 : vl), v);
			return -1;
		}
	}
	if (line == 0) {
		fmt(err, "line 1: expected 'station-order 1'");
		return -1;
	}
	for (int f = 0; f < F_COUNT; f++) {
		if (!seen[f]) {
			fmt(err, "%s missing", field_names[f]);
			return -1;
		}
	}
	if (o->serial_last < o->serial_first ||
	    o->serial_last - o->serial_first + 1 < o->quantity) {
		fmt(err, "order %s: quantity %llu does not fit the serial block "
		    "%llu..%llu", o->order_id, (unsigned long long)o->quantity,
		    (unsigned long long)o->serial_first,
		    (unsigned long long)o->serial_last);
		return -2;
	}
	return 0;
}

/* parse_cms(der, len, err): the ContentInfo, checked for shape. */
static CMS_ContentInfo *
parse_cms(const uint8_t *der, size_t len, char err[static ORDER_ERR_MAX])
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	ASN1_OCTET_STRING **content;

	if (len == 0 || len > ORDER_DOC_MAX) {
		fmt(err, "empty or larger than %d bytes", ORDER_DOC_MAX);
		return NULL;
	}
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		fmt(err, "not a DER CMS document");
		return NULL;
	}
	if ((size_t)(p - der) != len) {
		fmt(err, "%zu bytes after the CMS document",
		    len - (size_t)(p - der));
		goto fail;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		fmt(err, "not CMS SignedData");
		goto fail;
	}
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		fmt(err, "the signed content is not id-data");
		goto fail;
	}
	if ((content = CMS_get0_content(cms)) == NULL || *content == NULL) {
		fmt(err, "the order text is not attached (sign with -nodetach)");
		goto fail;
	}
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		fmt(err, "expected exactly one signer, found %d",
		    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)));
		goto fail;
	}
	return cms;
fail:
	CMS_ContentInfo_free(cms);
	return NULL;
}

int
order_content(const uint8_t *der, size_t len, uint8_t **text,
    size_t *text_len, char err[static ORDER_ERR_MAX])
{
	CMS_ContentInfo *cms;
	ASN1_OCTET_STRING *c;
	int n;

	*text = NULL;
	*text_len = 0;
	if ((cms = parse_cms(der, len, err)) == NULL)
		return -1;
	c = *CMS_get0_content(cms);
	n = ASN1_STRING_length(c);
	if (n <= 0 || n > ORDER_TEXT_MAX) {
		fmt(err, "the order text is empty or longer than %d bytes",
		    ORDER_TEXT_MAX);
		CMS_ContentInfo_free(cms);
		return -1;
	}
	if ((*text = malloc((size_t)n)) == NULL) {
		fmt(err, "out of memory");
		CMS_ContentInfo_free(cms);
		return -1;
	}
	memcpy(*text, ASN1_STRING_get0_data(c), (size_t)n);
	*text_len = (size_t)n;
	CMS_ContentInfo_free(cms);
	return 0;
}

static void
cert_name(X509 *x, char out[static 128])
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *s;

	out[0] = '\0';
	if (i >= 0 && (s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name,
	    i))) != NULL)
		snprintf(out, 128, "%.*s", ASN1_STRING_length(s),
		    (const char *)ASN1_STRING_get0_data(s));
	if (out[0] == '\0')
		snprintf(out, 128, "(no common name)");
}

/* chain_ok(cms, signer, trusted): the signer chains to ${trusted}. */
static int
chain_ok(CMS_ContentInfo *cms, X509 *signer, X509 *trusted, char *why,
    size_t size)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	int ok = 0;

	if (store == NULL || ctx == NULL || X509_STORE_add_cert(store,
	    trusted) != 1 || X509_STORE_CTX_init(ctx, store, signer, certs) != 1)
		goto cleanup;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		snprintf(why, size, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
cleanup:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return ok;
}

int
order_verify(const uint8_t *der, size_t len, X509 *trusted, struct order *o,
    enum order_problem *problem, char err[static ORDER_ERR_MAX])
{
	CMS_ContentInfo *cms;
	STACK_OF(X509) *extra = NULL, *signers = NULL;
	BIO *out = NULL;
	char detail[ORDER_ERR_MAX], name[128], why[160] = "";
	char *text;
	long n;
	int rc, ret = -1;

	*problem = ORDER_MALFORMED;
	if ((cms = parse_cms(der, len, detail)) == NULL) {
		fmt(err, "malformed order document: %s", detail);
		return -1;
	}
	if ((extra = sk_X509_new_null()) == NULL ||
	    sk_X509_push(extra, trusted) <= 0 ||
	    (out = BIO_new(BIO_s_mem())) == NULL) {
		*problem = ORDER_FAILED;
		fmt(err, "out of memory");
		goto cleanup;
	}
	if (CMS_verify(cms, extra, NULL, NULL, out, CMS_NO_SIGNER_CERT_VERIFY |
	    CMS_BINARY) != 1) {
		unsigned long e = ERR_peek_last_error();

		ERR_clear_error();
		if (ERR_GET_LIB(e) == ERR_LIB_CMS && ERR_GET_REASON(e) ==
		    CMS_R_SIGNER_CERTIFICATE_NOT_FOUND) {
			*problem = ORDER_UNTRUSTED;
			fmt(err, "untrusted signer: the signer's certificate is "
			    "neither in the document nor [pki] order_cert");
		} else {
			*problem = ORDER_BAD_SIGNATURE;
			fmt(err, "bad signature: the order was changed after it "
			    "was signed, or the signature is not the signer's; "
			    "ask the brand owner for the original file");
		}
		goto cleanup;
	}
	signers = CMS_get0_signers(cms);
	if (signers == NULL || sk_X509_num(signers) != 1) {
		*problem = ORDER_UNTRUSTED;
		fmt(err, "untrusted signer: no signer certificate");
		goto cleanup;
	}
	if (!chain_ok(cms, sk_X509_value(signers, 0), trusted, why,
	    sizeof(why))) {
		cert_name(sk_X509_value(signers, 0), name);
		*problem = ORDER_UNTRUSTED;
		fmt(err, "untrusted signer: '%s' does not chain to the order "
		    "certificate of [pki] order_cert (%s)", name, why);
		goto cleanup;
	}
	n = BIO_get_mem_data(out, &text);
	if (n <= 0) {
		*problem = ORDER_MALFORMED;
		fmt(err, "malformed order document: the order text is empty");
		goto cleanup;
	}
	rc = order_parse_text((const uint8_t *)text, (size_t)n, o, detail);
	if (rc != 0) {
		*problem = rc == -2 ? ORDER_BLOCK_INVALID : ORDER_MALFORMED;
		if (rc == -2)
			fmt(err, "%s", detail);
		else
			fmt(err, "malformed order document: %s", detail);
		goto cleanup;
	}
	*problem = ORDER_OK;
	ret = 0;
cleanup:
	sk_X509_free(signers);
	sk_X509_free(extra);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return ret;
}

int
order_check_station(const struct order *o, const char *station_id, time_t now,
    enum order_problem *problem, char err[static ORDER_ERR_MAX])
{
	char when[32];

	if (strcmp(o->station_id, station_id) != 0) {
		*problem = ORDER_OTHER_STATION;
		fmt(err, "order %s is for station %s, not this station (%s)",
		    o->order_id, o->station_id, station_id);
		return -1;
	}
	if ((int64_t)now >= o->expires) {
		order_time_text(o->expires, when);
		*problem = ORDER_EXPIRED;
		fmt(err, "order %s expired at %s; ask the brand owner for a new "
		    "order", o->order_id, when);
		return -1;
	}
	*problem = ORDER_OK;
	return 0;
}

const char *
order_problem_name(enum order_problem p)
{
	static const char *const names[] = {
		"ok", "malformed", "bad signature", "untrusted signer",
		"other station", "expired", "replayed", "serial block invalid",
		"used up", "rolled back", "failed",
	};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}
