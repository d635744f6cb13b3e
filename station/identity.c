/*
 * identity.c: serial numbers from a template and claim IDs in Crockford
 * base32 with the mod-37 check symbol (identity.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsm/hsm.h"
#include "station/identity.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

#define SERIALCHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789.-"

static void
fmt(char err[static IDENTITY_ERR_MAX], const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static void
fmt(char err[static IDENTITY_ERR_MAX], const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(err, IDENTITY_ERR_MAX, f, ap);
	va_end(ap);
}

/* width(p, len): the ${len} digits at ${p} as a width 1..20, else 0. */
static int
width(const char *p, size_t len)
{
	int w = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		w = w * 10 + (p[i] - '0');
	}
	return w >= 1 && w <= 20 ? w : 0;
}

/*
 * render(tmpl, product, station, order, n, out, size, err): the one walk
 * over a template; ${out} NULL checks only. Writes at most size - 1
 * characters and says so when the result does not fit.
 */
static int
render(const char *tmpl, const char *product, const char *station,
    const char *order, uint64_t n, char *out, size_t size,
    char err[static IDENTITY_ERR_MAX])
{
	size_t len = 0;
	int numbers = 0;
	char piece[32];

	for (const char *t = tmpl; *t != '\0';) {
		const char *val;
		size_t vl;

		if (*t != '{') {
			if (strchr(SERIALCHARS, *t) == NULL) {
				fmt(err, "serial template: '%c' is not allowed (use A-Z "
				    "a-z 0-9 . - and {fields})", *t);
				return -1;
			}
			val = t++;
			vl = 1;
		} else {
			const char *end = strchr(t, '}');
			size_t fl;

			if (end == NULL) {
				fmt(err, "serial template: '{' without '}'");
				return -1;
			}
			fl = (size_t)(end - t) + 1;
			if (fl == 9 && !memcmp(t, "{product}", 9)) {
				val = product;
			} else if (fl == 9 && !memcmp(t, "{station}", 9)) {
				val = station;
			} else if (fl == 7 && !memcmp(t, "{order}", 7)) {
				val = order;
			} else if (fl == 3 && !memcmp(t, "{n}", 3)) {
				snprintf(piece, sizeof(piece), "%llu",
				    (unsigned long long)n);
				val = piece;
				numbers++;
			} else if (fl >= 6 && fl <= 7 && !memcmp(t, "{n:0", 4) &&
			    width(t + 4, fl - 5) > 0) {
				snprintf(piece, sizeof(piece), "%0*llu",
				    width(t + 4, fl - 5), (unsigned long long)n);
				val = piece;
				numbers++;
			} else {
				fmt(err, "serial template: unknown field '%.*s' (known: "
				    "{product} {station} {order} {n} {n:0W})",
				    (int)(fl > 24 ? 24 : fl), t);
				return -1;
			}
			t = end + 1;
			vl = strlen(val);
			if (out != NULL && strspn(val, SERIALCHARS) != vl) {
				fmt(err, "serial: the value '%s' has characters a serial "
				    "cannot hold (A-Z a-z 0-9 . -)", val);
				return -1;
			}
		}
		if (out != NULL) {
			if (len + vl >= size) {
				fmt(err, "serial: longer than %zu characters", size - 1);
				return -1;
			}
			memcpy(out + len, val, vl);
		}
		len += vl;
	}
	if (numbers != 1) {
		fmt(err, "serial template: {n} must appear exactly once");
		return -1;
	}
	if (out != NULL)
		out[len] = '\0';
	return 0;
}

int
identity_template_check(const char *tmpl, char err[static IDENTITY_ERR_MAX])
{
	return render(tmpl, "", "", "", 0, NULL, 0, err);
}

int
identity_serial(const char *tmpl, const char *product, const char *station,
    const char *order, uint64_t n, char out[static IDENTITY_SERIAL_MAX + 1],
    char err[static IDENTITY_ERR_MAX])
{
	return render(tmpl, product, station, order, n, out,
	    IDENTITY_SERIAL_MAX + 1, err);
}

static int
symbol_value(char c)
{
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p == NULL ? -1 : (int)(p - alphabet);
}

char
identity_check_symbol(const char *symbols, size_t len)
{
	unsigned r = 0;

	for (size_t i = 0; i < len; i++) {
		int v = symbol_value(symbols[i]);

		r = (r * 32 + (unsigned)(v < 0 || v > 31 ? 0 : v)) % 37;
	}
	return alphabet[r];
}

int
identity_hsm_rng(void *hsm, uint8_t *buf, size_t len)
{
	return hsm_random(hsm, buf, len);
}

int
identity_claim_new(identity_rng_fn *rng, void *ctx, unsigned symbols,
    bool check, char out[static IDENTITY_CLAIM_BUF])
{
	uint8_t r[IDENTITY_CLAIM_MAX];

	if (symbols < IDENTITY_CLAIM_MIN || symbols > IDENTITY_CLAIM_MAX ||
	    rng(ctx, r, symbols) != 0) {
		OPENSSL_cleanse(r, sizeof(r));
		return -1;
	}
	for (unsigned i = 0; i < symbols; i++)
		out[i] = alphabet[r[i] & 31];
	OPENSSL_cleanse(r, sizeof(r));
	if (check) {
		out[symbols] = identity_check_symbol(out, symbols);
		symbols++;
	}
	out[symbols] = '\0';
	return 0;
}

int
identity_claim_normalise(const char *typed, unsigned symbols, bool check,
    char out[static IDENTITY_CLAIM_BUF], char err[static IDENTITY_ERR_MAX])
{
	size_t n = 0, want = symbols + (check ? 1 : 0);
	size_t tl = strlen(typed);

	if (symbols < IDENTITY_CLAIM_MIN || symbols > IDENTITY_CLAIM_MAX) {
		fmt(err, "claim ID length %u is not supported", symbols);
		return -1;
	}
	if (tl > IDENTITY_TYPED_MAX) {
		fmt(err, "too long for a claim ID");
		return -1;
	}
	while (tl > 0 && (typed[tl - 1] == '\n' || typed[tl - 1] == '\r'))
		tl--;
	for (size_t i = 0; i < tl; i++) {
		char c = typed[i];

		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == 'I' || c == 'L')
			c = '1';
		else if (c == 'O')
			c = '0';
		if (symbol_value(c) < 0 || (symbol_value(c) > 31 &&
		    (!check || n != want - 1 || i + 1 != tl))) {
			if ((unsigned char)c >= 0x21 && (unsigned char)c <= 0x7e)
				fmt(err, "'%c' is not a claim ID character", c);
			else
				fmt(err, "byte 0x%02x is not a claim ID character",
				    (unsigned char)c);
			return -1;
		}
		if (n == want) {
			fmt(err, "too many symbols for a claim ID (expected %zu)",
			    want);
			return -1;
		}
		out[n++] = c;
	}
	if (n != want) {
		fmt(err, "a claim ID has %zu symbols, this one %zu", want, n);
		return -1;
	}
	out[n] = '\0';
	if (check && identity_check_symbol(out, symbols) != out[symbols]) {
		fmt(err, "the check symbol does not match: a symbol was mistyped");
		return -1;
	}
	return 0;
}

void
identity_claim_display(const char *claim, char out[static IDENTITY_DISPLAY_BUF])
{
	size_t n = 0, len = strlen(claim);

	if (len > IDENTITY_CLAIM_BUF - 1)
		len = IDENTITY_CLAIM_BUF - 1;
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && i % 4 == 0)
			out[n++] = '-';
		out[n++] = claim[i];
	}
	out[n] = '\0';
}

int
identity_allocate(struct audit *a, const struct audit_allocation *d,
    identity_rng_fn *rng, void *ctx, unsigned symbols, bool check,
    const char *actor, char claim[static IDENTITY_CLAIM_BUF], uint64_t *seq,
    char err[static IDENTITY_ERR_MAX])
{
	struct audit_allocation mine = *d;
	struct audit_device dev;

	for (int attempt = 0; attempt < 8; attempt++) {
		if (identity_claim_new(rng, ctx, symbols, check, claim) != 0) {
			fmt(err, "cannot draw a claim ID from the token's RNG");
			return -1;
		}
		mine.claim_id = claim;
		if (audit_device_allocate(a, &mine, actor, NULL, 0, seq) == 0)
			return 0;
		fmt(err, "%s", audit_error(a));
		/* Only a claim ID collision is worth a second draw: the
		 * serial and the hardware id must be free. */
		if (audit_device_get(a, d->serial, &dev) != 1 ||
		    (d->hardware_id != NULL && audit_device_by_hardware(a,
		    d->hardware_id, &dev) != 1))
			return -1;
	}
	fmt(err, "8 claim IDs in a row collided with the database: the token's "
	    "RNG is broken");
	return -1;
}
