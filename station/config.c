/*
 * config.c: station.conf parsing and validation.
 *
 * inih does the INI syntax; everything else is here. Each key is declared
 * once in `config_keys[]` (config_keys.c) with its type, where it goes in struct station_config,
 * its default (NULL: required) and its limits. The parser reads the text
 * through a line reader of its own so that every message can name the
 * line: "FILE:LINE: [section] key: expected ..., got '...'". The first
 * error wins; unknown sections and keys are errors, and so is a key given
 * twice.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm.h"
#include "station/config.h"
#include "station/config_keys.h"

#define CONFIG_TEXT_MAX (64 * 1024)


struct parser {
	struct station_config *cfg;
	const char *file;
	const char *cursor;    /* the line reader's position in the text */
	int line;              /* the line the reader handed out last */
	int seen[CONFIG_KEYS_MAX];       /* the line each key was set on, 0: not set */
	int err_line;          /* 0: no error yet */
	char *err;
};

static void
fail(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fail(p, line, fmt, ...): record the first error only, prefixed FILE:LINE. */
static void
fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err_line != 0)
		return;
	p->err_line = line > 0 ? line : -1;
	if (line > 0)
		n = snprintf(p->err, CONFIG_ERR_MAX, "%s:%d: ", p->file, line);
	else
		n = snprintf(p->err, CONFIG_ERR_MAX, "%s: ", p->file);
	if (n < 0 || n >= CONFIG_ERR_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, CONFIG_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
}

/* An fgets for inih over the text, counting lines and refusing long ones. */
static char *
read_line(char *out, int size, void *stream)
{
	struct parser *p = stream;
	const char *end;
	size_t len;

	if (*p->cursor == '\0' || p->err_line != 0)
		return NULL;
	end = strchr(p->cursor, '\n');
	len = end ? (size_t)(end - p->cursor) + 1 : strlen(p->cursor);
	p->line++;
	if (len + 1 > (size_t)size) {
		fail(p, p->line, "line too long (at most %d characters)", size - 2);
		return NULL;
	}
	memcpy(out, p->cursor, len);
	out[len] = '\0';
	p->cursor += len;
	return out;
}

static const char *
type_expects(const struct key *k, char *buf, size_t size)
{
	switch (k->type) {
	case KEY_ID:
		snprintf(buf, size, "1 to %d of A-Z a-z 0-9 . _ -", CONFIG_ID_MAX);
		break;
	case KEY_PATH:
		snprintf(buf, size, "a file path");
		break;
	case KEY_URI:
		snprintf(buf, size, "a PKCS#11 URI starting with 'pkcs11:'");
		break;
	case KEY_BOOL:
		snprintf(buf, size, "yes or no");
		break;
	case KEY_UINT:
		if (k->min == 16 && k->max == 32)
			snprintf(buf, size, "16 or 32");
		else
			snprintf(buf, size, "an integer from %u to %u", k->min,
			    k->max);
		break;
	case KEY_MODE:
		snprintf(buf, size, "development or production");
		break;
	case KEY_TEXT:
		snprintf(buf, size, "1 to %zu printable characters", k->size - 1);
		break;
	case KEY_OID:
		snprintf(buf, size, "a dotted OID such as 1.3.6.1.4.1.99999.1");
		break;
	case KEY_KEYTYPES:
		snprintf(buf, size, "a comma list of p256, p384, ed25519");
		break;
	}
	return buf;
}

static int
parse_uint(const char *value, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (*value == '\0' || strlen(value) > 9)
		return -1;
	for (const char *c = value; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return -1;
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* parse_oid(value): 0 if ${value} is arc.arc[.arc...], arcs decimal. */
static int
parse_oid(const char *value)
{
	size_t len = strlen(value), arcs = 1;

	if (len == 0 || strspn(value, "0123456789.") != len ||
	    value[0] == '.' || value[len - 1] == '.' ||
	    strstr(value, "..") != NULL || (value[0] != '0' && value[0] != '1' &&
	    value[0] != '2') || value[1] != '.')
		return -1;
	for (const char *c = value; *c != '\0'; c++)
		arcs += *c == '.';
	return arcs >= 2 ? 0 : -1;
}

/* parse_keytypes(value, out): "p256, p384, ed25519" into HSM_KEY_* bits. */
static int
parse_keytypes(const char *value, unsigned *out)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "p256", HSM_KEY_P256 },
		{ "p384", HSM_KEY_P384 },
		{ "ed25519", HSM_KEY_ED25519 },
	};
	unsigned bits = 0;
	const char *c = value;

	while (*c != '\0') {
		size_t n, i;

		c += strspn(c, " ");
		n = strcspn(c, ", ");
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n &&
			    strncmp(c, names[i].name, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]) || (bits &
		    names[i].bit) != 0)
			return -1;
		bits |= names[i].bit;
		c += n;
		c += strspn(c, " ");
		if (*c == ',') {
			c++;
			if (*(c + strspn(c, " ")) == '\0')
				return -1;
		} else if (*c != '\0') {
			return -1;
		}
	}
	if (bits == 0)
		return -1;
	*out = bits;
	return 0;
}

/* set_value(k, cfg, value): 0, or -1 if ${value} is not of the key's type. */
static int
set_value(const struct key *k, struct station_config *cfg, const char *value)
{
	char *field = (char *)cfg + k->offset;
	size_t len = strlen(value);

	switch (k->type) {
	case KEY_ID:
		if (len < 1 || len > CONFIG_ID_MAX ||
		    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
		    "uvwxyz0123456789._-") != len)
			return -1;
		break;
	case KEY_PATH:
		if (strchr(value, '\n') != NULL)
			return -1;
		break;
	case KEY_URI:
		if (strncmp(value, "pkcs11:", 7) != 0 ||
		    strpbrk(value, " \t\n") != NULL)
			return -1;
		break;
	case KEY_BOOL: {
		bool *b = (bool *)(void *)field;

		if (!strcmp(value, "yes") || !strcmp(value, "true") ||
		    !strcmp(value, "on") || !strcmp(value, "1"))
			*b = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") ||
		    !strcmp(value, "off") || !strcmp(value, "0"))
			*b = false;
		else
			return -1;
		return 0;
	}
	case KEY_UINT: {
		unsigned v;

		if (parse_uint(value, k->min, k->max, &v) != 0)
			return -1;
		if (k->min == 16 && k->max == 32 && v != 16 && v != 32)
			return -1;
		*(unsigned *)(void *)field = v;
		return 0;
	}
	case KEY_TEXT:
		for (const char *c = value; *c != '\0'; c++)
			if (*c < 0x20 || *c > 0x7e)
				return -1;
		if (len == 0)
			return -1;
		break;
	case KEY_OID:
		if (parse_oid(value) != 0)
			return -1;
		break;
	case KEY_KEYTYPES:
		return parse_keytypes(value, (unsigned *)(void *)field);
	case KEY_MODE: {
		enum station_mode *m = (enum station_mode *)(void *)field;

		if (!strcmp(value, "development"))
			*m = STATION_MODE_DEVELOPMENT;
		else if (!strcmp(value, "production"))
			*m = STATION_MODE_PRODUCTION;
		else
			return -1;
		return 0;
	}
	}
	/* Text kinds. */
	if (len >= k->size)
		return -1;
	memcpy(field, value, len + 1);
	return 0;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	char expects[96];
	bool section_known = false;

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct key *k = &config_keys[i];

		if (strcmp(k->section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(k->name, name) != 0)
			continue;
		if (p->seen[i] != 0) {
			fail(p, p->line, "[%s] %s: set twice (first on line %d)",
			    section, name, p->seen[i]);
			return 0;
		}
		p->seen[i] = p->line;
		if (set_value(k, p->cfg, value) != 0) {
			fail(p, p->line, "[%s] %s: expected %s, got '%s'", section,
			    name, type_expects(k, expects, sizeof(expects)), value);
			return 0;
		}
		return 1;
	}
	if (!section_known)
		fail(p, p->line, "unknown section [%s]", section);
	else
		fail(p, p->line, "[%s] unknown key '%s'", section, name);
	return 0;
}

/* Relative paths are taken from the home folder. */
static int
resolve_paths(struct parser *p, const char *home)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct key *k = &config_keys[i];
		char *field = (char *)p->cfg + k->offset;
		char joined[PATH_MAX];
		int n;

		if (k->type != KEY_PATH || field[0] == '\0' || field[0] == '/')
			continue;
		n = snprintf(joined, sizeof(joined), "%s/%s", home, field);
		if (n < 0 || (size_t)n >= k->size) {
			fail(p, p->seen[i], "[%s] %s: path too long", k->section,
			    k->name);
			return -1;
		}
		memcpy(field, joined, (size_t)n + 1);
	}
	return 0;
}

static int
check_whole(struct parser *p)
{
	struct station_config *cfg = p->cfg;

	if (cfg->stamp_partition_size % cfg->stamp_write_unit != 0) {
		fail(p, 0, "[stamp] partition_size: expected a multiple of "
		    "write_unit (%u), got %u", cfg->stamp_write_unit,
		    cfg->stamp_partition_size);
		return -1;
	}
	if (cfg->mode == STATION_MODE_PRODUCTION && cfg->hsm_pin_file[0] != '\0'
	    && !cfg->hsm_allow_pin_file) {
		fail(p, 0, "[hsm] pin_file: refused in production mode; the "
		    "officer types the PIN, or set allow_pin_file = yes");
		return -1;
	}
	return 0;
}

int
config_parse(struct station_config *cfg, const char *file, const char *text,
    const char *home, char err[static CONFIG_ERR_MAX])
{
	struct parser p = { .cfg = cfg, .file = file, .cursor = text, .err = err };
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	if (strlen(home) >= sizeof(cfg->home) || strlen(file) >= sizeof(cfg->file)) {
		snprintf(err, CONFIG_ERR_MAX, "%s: path of the home too long", file);
		return -1;
	}
	strcpy(cfg->home, home);
	strcpy(cfg->file, file);

	rc = ini_parse_stream(read_line, &p, on_key, &p);
	if (rc > 0 && p.err_line == 0)
		fail(&p, rc, "syntax error: expected '[section]' or 'key = value'");
	if (rc < 0)
		fail(&p, 0, "out of memory while parsing");
	if (p.err_line != 0)
		return -1;

	for (size_t i = 0; i < config_nkeys; i++) {
		if (p.seen[i] != 0)
			continue;
		if (config_keys[i].fallback == NULL) {
			fail(&p, 0, "[%s] %s is required", config_keys[i].section,
			    config_keys[i].name);
			return -1;
		}
		if (set_value(&config_keys[i], cfg, config_keys[i].fallback) != 0)
			abort();  /* a default that fails its own type: a bug */
	}
	if (resolve_paths(&p, home) != 0 || check_whole(&p) != 0)
		return -1;
	return 0;
}

int
config_load(struct station_config *cfg, const char *home,
    char err[static CONFIG_ERR_MAX])
{
	char file[PATH_MAX];
	char *text = NULL;
	size_t len;
	FILE *f = NULL;
	int n, ret = -1;

	n = snprintf(file, sizeof(file), "%s/%s", home, CONFIG_FILE);
	if (n < 0 || (size_t)n >= sizeof(file)) {
		snprintf(err, CONFIG_ERR_MAX, "station home path too long");
		return -1;
	}
	if ((f = fopen(file, "r")) == NULL) {
		snprintf(err, CONFIG_ERR_MAX, "cannot read %s: %s (create a demo "
		    "home with 'station pki demo --home DIR', or check --home)",
		    file, strerror(errno));
		goto cleanup;
	}
	if ((text = malloc(CONFIG_TEXT_MAX + 1)) == NULL) {
		snprintf(err, CONFIG_ERR_MAX, "%s: out of memory", file);
		goto cleanup;
	}
	len = fread(text, 1, CONFIG_TEXT_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, CONFIG_ERR_MAX, "cannot read %s: %s", file,
		    strerror(errno));
		goto cleanup;
	}
	if (len > CONFIG_TEXT_MAX) {
		snprintf(err, CONFIG_ERR_MAX, "%s: larger than %d bytes", file,
		    CONFIG_TEXT_MAX);
		goto cleanup;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, CONFIG_ERR_MAX, "%s: contains a NUL byte; expected "
		    "a text file", file);
		goto cleanup;
	}
	text[len] = '\0';
	ret = config_parse(cfg, file, text, home, err);
cleanup:
	free(text);
	if (f != NULL)
		fclose(f);
	return ret;
}

void
config_print(const struct station_config *cfg, FILE *out)
{
	const char *section = "";

	fprintf(out, "; %s\n", cfg->file);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct key *k = &config_keys[i];
		const char *field = (const char *)cfg + k->offset;

		if (strcmp(section, k->section) != 0) {
			fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		fprintf(out, "%s = ", k->name);
		switch (k->type) {
		case KEY_BOOL:
			fprintf(out, "%s\n", *(const bool *)(const void *)field ?
			    "yes" : "no");
			break;
		case KEY_UINT:
			fprintf(out, "%u\n", *(const unsigned *)(const void *)field);
			break;
		case KEY_MODE:
			fprintf(out, "%s\n", *(const enum station_mode *)(const void *)
			    field == STATION_MODE_PRODUCTION ? "production" :
			    "development");
			break;
		case KEY_KEYTYPES: {
			unsigned bits = *(const unsigned *)(const void *)field;
			const char *sep = "";

			if (bits & HSM_KEY_P256) {
				fprintf(out, "p256");
				sep = ", ";
			}
			if (bits & HSM_KEY_P384) {
				fprintf(out, "%sp384", sep);
				sep = ", ";
			}
			if (bits & HSM_KEY_ED25519)
				fprintf(out, "%sed25519", sep);
			fputc('\n', out);
			break;
		}
		default:
			fprintf(out, "%s\n", field);
			break;
		}
	}
}
