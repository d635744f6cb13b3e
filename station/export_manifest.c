/*
 * export_manifest.c: manifest.json of an export, written and read back
 * (export.h, docs/EXPORT.md).
 *
 * The writer emits one fixed layout. The reader is a strict JSON reader
 * for exactly this document, since it runs on the cloud side on files
 * that crossed an untrusted path (the signature is checked first, but the
 * reader must be safe on any bytes: tests/fuzz/fuzz_manifest.c): one
 * object; strings with the JSON escapes (\u only below 0x80, no NUL);
 * non-negative integers without sign, fraction or leading zeros, below
 * 2^64; each key once, none unknown, none missing; every string checked
 * against its field's size; nothing but whitespace after the object. It
 * depends on no other module, so that the fuzzer links it alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/export.h"

/* The state names, indexed by enum audit_state (audit_state_name). */
static const char *const states[AUDIT_STATE_COUNT] = {
	"none", "allocated", "key_ready", "issued", "written", "done",
	"failed", "voided", "revoked", "unconfirmed",
};
_Static_assert(AUDIT_STATE_COUNT == 10, "export: the state names changed");

/* ---- writing ----------------------------------------------------------- */

const char *
export_state_name(size_t i)
{
	return i < AUDIT_STATE_COUNT ? states[i] : "?";
}

void
export_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int
export_manifest_format(const struct export_manifest *m, char **out,
    size_t *len)
{
	FILE *f;
	char hex[65];

	*out = NULL;
	if ((f = open_memstream(out, len)) == NULL)
		return -1;
	fputs("{\n  \"schema\": ", f);
	export_json_string(f, m->schema);
	fputs(",\n  \"station_id\": ", f);
	export_json_string(f, m->station_id);
	fputs(",\n  \"format\": ", f);
	export_json_string(f, m->format);
	fputs(",\n  \"order\": ", f);
	if (m->order[0] == '\0')
		fputs("null", f);
	else
		export_json_string(f, m->order);
	fputs(",\n  \"created\": ", f);
	export_json_string(f, m->created);
	fprintf(f, ",\n  \"after\": %llu,\n  \"through\": %llu,\n  \"devices\": "
	    "%llu,\n  \"counts\": {", (unsigned long long)m->after,
	    (unsigned long long)m->through, (unsigned long long)m->devices);
	for (size_t i = 1; i < AUDIT_STATE_COUNT; i++)
		fprintf(f, "%s\"%s\": %llu", i > 1 ? ", " : "", states[i],
		    (unsigned long long)m->counts[i]);
	fprintf(f, "},\n  \"crl_number\": %llu,\n  \"files\": [",
	    (unsigned long long)m->crl_number);
	for (size_t i = 0; i < m->n_files; i++) {
		for (size_t j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", m->files[i].sha256[j]);
		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		export_json_string(f, m->files[i].name);
		fprintf(f, ", \"bytes\": %llu, \"lines\": %llu, \"sha256\": "
		    "\"%s\"}", (unsigned long long)m->files[i].bytes,
		    (unsigned long long)m->files[i].lines, hex);
	}
	fputs("\n  ],\n  \"anchor\": ", f);
	export_json_string(f, m->anchor);
	fputs("\n}\n", f);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* ---- reading ----------------------------------------------------------- */

struct reader {
	const char *s;
	size_t len, pos;
	char *err;
	int failed;
};

static int
fail(struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->failed)
		return -1;
	r->failed = 1;
	n = snprintf(r->err, EXPORT_ERR_MAX, "manifest.json, byte %zu: ", r->pos);
	va_start(ap, fmt);
	vsnprintf(r->err + n, EXPORT_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void
ws(struct reader *r)
{
	while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\n' ||
	    r->s[r->pos] == '\r' || r->s[r->pos] == '\t'))
		r->pos++;
}

/* expect(r, c): whitespace, then the character ${c}. */
static int
expect(struct reader *r, char c)
{
	ws(r);
	if (r->pos >= r->len || r->s[r->pos] != c)
		return fail(r, "expected '%c'", c);
	r->pos++;
	return 0;
}

/* peek(r, c): whitespace; whether the next character is ${c} (taken). */
static int
peek(struct reader *r, char c)
{
	ws(r);
	if (r->pos < r->len && r->s[r->pos] == c) {
		r->pos++;
		return 1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* string(r, out, size): a JSON string into ${out} (at most size - 1). */
static int
string(struct reader *r, char *out, size_t size)
{
	size_t n = 0;

	if (expect(r, '"') != 0)
		return -1;
	for (;;) {
		unsigned char c;

		if (r->pos >= r->len)
			return fail(r, "unterminated string");
		c = (unsigned char)r->s[r->pos++];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(r, "control character in a string");
		if (c == '\\') {
			if (r->pos >= r->len)
				return fail(r, "unterminated string");
			switch (r->s[r->pos++]) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int v = 0;

				if (r->len - r->pos < 4)
					return fail(r, "short \\u escape");
				for (int i = 0; i < 4; i++) {
					int h = hexval(r->s[r->pos++]);

					if (h < 0)
						return fail(r, "bad \\u escape");
					v = v * 16 + h;
				}
				if (v == 0 || v >= 0x80)
					return fail(r, "\\u escape out of range "
					    "(1 to 7f)");
				c = (unsigned char)v;
				break;
			}
			default:
				return fail(r, "unknown escape");
			}
		}
		if (n + 1 >= size)
			return fail(r, "string longer than %zu bytes", size - 1);
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

static int
number(struct reader *r, uint64_t *v)
{
	size_t start;

	ws(r);
	start = r->pos;
	*v = 0;
	while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') {
		unsigned d = (unsigned)(r->s[r->pos] - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return fail(r, "number too large");
		*v = *v * 10 + d;
		r->pos++;
	}
	if (r->pos == start)
		return fail(r, "expected a non-negative integer");
	if (r->s[start] == '0' && r->pos - start > 1)
		return fail(r, "leading zero");
	if (r->pos < r->len && (r->s[r->pos] == '.' || r->s[r->pos] == 'e' ||
	    r->s[r->pos] == 'E'))
		return fail(r, "expected an integer");
	return 0;
}

/* keyed(r, seen, names, n, idx): the next key of an object, one of the
 * ${n} ${names}, not seen before; its index in ${idx}. */
static int
keyed(struct reader *r, unsigned *seen, const char *const *names, size_t n,
    size_t *idx)
{
	char key[EXPORT_NAME_MAX + 1];

	if (string(r, key, sizeof(key)) != 0 || expect(r, ':') != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, names[i]) != 0)
			continue;
		if (seen[i])
			return fail(r, "key \"%s\" repeated", key);
		seen[i] = 1;
		*idx = i;
		return 0;
	}
	return fail(r, "unknown key \"%s\"", key);
}

static int
all_seen(struct reader *r, const unsigned *seen, const char *const *names,
    size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			return fail(r, "%s: key \"%s\" missing", what, names[i]);
	return 0;
}

static int
counts(struct reader *r, struct export_manifest *m)
{
	unsigned seen[AUDIT_STATE_COUNT - 1] = { 0 };
	size_t i;

	if (expect(r, '{') != 0)
		return -1;
	do {
		if (keyed(r, seen, states + 1, AUDIT_STATE_COUNT - 1, &i) != 0 ||
		    number(r, &m->counts[i + 1]) != 0)
			return -1;
	} while (peek(r, ','));
	if (expect(r, '}') != 0)
		return -1;
	return all_seen(r, seen, states + 1, AUDIT_STATE_COUNT - 1, "counts");
}

static int
sha256_hex(struct reader *r, uint8_t out[32])
{
	char hex[65];

	if (string(r, hex, sizeof(hex)) != 0)
		return -1;
	if (strlen(hex) != 64)
		return fail(r, "sha256: expected 64 hex digits");
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hex[2 * i] >= 'A' && hex[2 * i] <= 'F') ||
		    (hex[2 * i + 1] >= 'A' && hex[2 * i + 1] <= 'F'))
			return fail(r, "sha256: expected lower-case hex");
		out[i] = (uint8_t)(hi * 16 + lo);
	}
	return 0;
}

static int
file_entry(struct reader *r, struct export_file *f)
{
	static const char *const names[] = { "name", "bytes", "lines",
	    "sha256" };
	unsigned seen[4] = { 0 };
	size_t i;
	int rc;

	if (expect(r, '{') != 0)
		return -1;
	do {
		if (keyed(r, seen, names, 4, &i) != 0)
			return -1;
		rc = i == 0 ? string(r, f->name, sizeof(f->name)) :
		    i == 1 ? number(r, &f->bytes) :
		    i == 2 ? number(r, &f->lines) : sha256_hex(r, f->sha256);
		if (rc != 0)
			return -1;
	} while (peek(r, ','));
	if (expect(r, '}') != 0 || all_seen(r, seen, names, 4, "files") != 0)
		return -1;
	/* A plain file name in the export folder, nothing else. */
	if (f->name[0] == '\0' || f->name[0] == '.' ||
	    strspn(f->name, "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(f->name))
		return fail(r, "file name \"%s\" is not a plain name", f->name);
	return 0;
}

static int
files(struct reader *r, struct export_manifest *m)
{
	if (expect(r, '[') != 0)
		return -1;
	if (peek(r, ']'))
		return 0;
	do {
		if (m->n_files == EXPORT_FILES_MAX)
			return fail(r, "more than %d files", EXPORT_FILES_MAX);
		if (file_entry(r, &m->files[m->n_files]) != 0)
			return -1;
		for (size_t i = 0; i < m->n_files; i++)
			if (strcmp(m->files[i].name,
			    m->files[m->n_files].name) == 0)
				return fail(r, "file \"%s\" listed twice",
				    m->files[i].name);
		m->n_files++;
	} while (peek(r, ','));
	return expect(r, ']');
}

int
export_manifest_parse(const char *text, size_t len, struct export_manifest *m,
    char err[static EXPORT_ERR_MAX])
{
	static const char *const names[] = { "schema", "station_id", "format",
	    "order", "created", "after", "through", "devices", "counts",
	    "crl_number", "files", "anchor" };
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct reader r = { text, len, 0, err, 0 };
	unsigned seen[N] = { 0 };
	size_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	if (expect(&r, '{') != 0)
		return -1;
	do {
		if (keyed(&r, seen, names, N, &i) != 0)
			return -1;
		switch (i) {
		case 0: rc = string(&r, m->schema, sizeof(m->schema)); break;
		case 1: rc = string(&r, m->station_id, sizeof(m->station_id));
			break;
		case 2: rc = string(&r, m->format, sizeof(m->format)); break;
		case 3:
			ws(&r);
			if (r.len - r.pos >= 4 && memcmp(r.s + r.pos, "null",
			    4) == 0) {
				r.pos += 4;
				rc = 0;
			} else {
				rc = string(&r, m->order, sizeof(m->order));
				if (rc == 0 && m->order[0] == '\0')
					rc = fail(&r, "order: empty (null "
					    "means every order)");
			}
			break;
		case 4: rc = string(&r, m->created, sizeof(m->created)); break;
		case 5: rc = number(&r, &m->after); break;
		case 6: rc = number(&r, &m->through); break;
		case 7: rc = number(&r, &m->devices); break;
		case 8: rc = counts(&r, m); break;
		case 9: rc = number(&r, &m->crl_number); break;
		case 10: rc = files(&r, m); break;
		default: rc = string(&r, m->anchor, sizeof(m->anchor)); break;
		}
		if (rc != 0)
			return -1;
	} while (peek(&r, ','));
	if (expect(&r, '}') != 0 || all_seen(&r, seen, names, N,
	    "manifest") != 0)
		return -1;
	ws(&r);
	if (r.pos != r.len)
		return fail(&r, "trailing bytes after the manifest");
	if (strcmp(m->schema, EXPORT_SCHEMA) != 0)
		return fail(&r, "schema \"%s\": this station reads \"%s\"",
		    m->schema, EXPORT_SCHEMA);
	if (m->after > m->through)
		return fail(&r, "after (%llu) is beyond through (%llu)",
		    (unsigned long long)m->after,
		    (unsigned long long)m->through);
	return 0;
}
