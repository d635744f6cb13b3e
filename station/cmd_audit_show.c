/*
 * cmd_audit_show.c: `station audit show`, the events of the log, filtered,
 * one per line as text, or as JSON lines (--json) for other tools.
 *
 * Text: SEQ TIME ACTOR KIND SUBJECT key=value ...; values that are text
 * are printed as such (quoted when they hold spaces, quotes or '='), other
 * values as hex:... . JSON: {"seq":N,"time":"...","time_us":N,"actor":...,
 * "kind":...,"subject":...,"details":{"key":"text" or {"hex":"..."}},
 * "hash":"..."}. Everything read from the database is escaped: the log may
 * have been written by an attacker.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "station/audit_cmd.h"
#include "station/station.h"

void
audit_cmd_time(int64_t us, char buf[static 32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (us < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "@%lld", (long long)us);
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) into microseconds. */
static int
parse_time(const char *s, int64_t *us)
{
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != NULL && *end == 'T')
		end = strptime(end, "T%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*us = (int64_t)t * 1000000;
	return 0;
}

static bool
is_text(const uint8_t *v, size_t len)
{
	return audit_text_valid((const char *)v, len);
}

/* Digests are bytes even when they happen to look like text. */
static bool
binary_key(const char *key)
{
	size_t len = strlen(key);

	return (len > 7 && strcmp(key + len - 7, "_sha256") == 0) ||
	    strcmp(key, "key_id") == 0;
}

static void
hex(FILE *out, const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", v[i]);
}

static void
json_string(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void
text_value(FILE *out, const char *s, size_t len)
{
	if (len > 0 && strcspn(s, " \"=\\") >= len) {
		fwrite(s, 1, len, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fputc('\\', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

/* Subject, actor and kind as text, with anything odd escaped. */
static void
text_field(FILE *out, const char *s)
{
	size_t len = strlen(s);

	if (is_text((const uint8_t *)s, len))
		text_value(out, s, len);
	else
		json_string(out, s, len);
}

struct show {
	bool json;
	uint64_t count;
};

static int
show_event(void *ctx, const struct audit_event *e)
{
	struct show *sh = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	char when[32];
	size_t n = 0;
	int parsed;

	sh->count++;
	audit_cmd_time(e->time_us, when);
	parsed = audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n);
	if (sh->json) {
		printf("{\"seq\":%llu,\"time\":\"%s\",\"time_us\":%lld,\"actor\":",
		    (unsigned long long)e->seq, when, (long long)e->time_us);
		json_string(stdout, e->actor, strlen(e->actor));
		printf(",\"kind\":");
		json_string(stdout, e->kind, strlen(e->kind));
		printf(",\"subject\":");
		json_string(stdout, e->subject, strlen(e->subject));
		printf(",\"details\":");
		if (parsed != 0) {
			printf("{\"malformed\":{\"hex\":\"");
			hex(stdout, e->details, e->details_len);
			printf("\"}}");
		} else {
			printf("{");
			for (size_t i = 0; i < n; i++) {
				printf("%s\"%s\":", i ? "," : "", d[i].key);
				if (!binary_key(d[i].key) &&
				    is_text(d[i].value, d[i].len)) {
					json_string(stdout, (const char *)d[i].value,
					    d[i].len);
				} else {
					printf("{\"hex\":\"");
					hex(stdout, d[i].value, d[i].len);
					printf("\"}");
				}
			}
			printf("}");
		}
		printf(",\"hash\":\"");
		hex(stdout, e->hash, AUDIT_HASH_LEN);
		printf("\"}\n");
		return 0;
	}
	printf("%llu %s ", (unsigned long long)e->seq, when);
	text_field(stdout, e->actor);
	putchar(' ');
	text_field(stdout, e->kind);
	putchar(' ');
	text_field(stdout, e->subject[0] ? e->subject : "-");
	if (parsed != 0) {
		printf(" malformed=hex:");
		hex(stdout, e->details, e->details_len);
	}
	for (size_t i = 0; parsed == 0 && i < n; i++) {
		printf(" %s=", d[i].key);
		if (!binary_key(d[i].key) && is_text(d[i].value, d[i].len)) {
			text_value(stdout, (const char *)d[i].value, d[i].len);
		} else {
			printf("hex:");
			hex(stdout, d[i].value, d[i].len);
		}
	}
	putchar('\n');
	return 0;
}

int
audit_cmd_show(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "kind", required_argument, NULL, 'k' },
		{ "serial", required_argument, NULL, 'S' },
		{ "actor", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_filter f = { 0 };
	struct show sh = { 0 };
	struct audit *a;
	const char *home = NULL, *dbo = NULL;
	char db[PATH_MAX], err[AUDIT_ERR_MAX];
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home = optarg; break;
		case 'd': dbo = optarg; break;
		case 's':
		case 'u':
			if (parse_time(optarg, c == 's' ? &f.since_us :
			    &f.until_us) != 0) {
				station_err("audit show: --%s: expected YYYY-MM-DD "
				    "or YYYY-MM-DDTHH:MM:SSZ, got '%s'", c == 's' ?
				    "since" : "until", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k': f.kind = optarg; break;
		case 'S': f.subject = optarg; break;
		case 'a': f.actor = optarg; break;
		case 'j': sh.json = true; break;
		case 'h':
			printf("Usage: station audit show [--home DIR | --db FILE] "
			    "[--since TIME] [--until TIME]\n    [--kind KIND] "
			    "[--serial SERIAL] [--actor ACTOR] [--json]\n"
			    "TIME: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); "
			    "--since is inclusive, --until exclusive.\nKIND: exact, "
			    "or a prefix ending in '*' (e.g. 'device.*').\n");
			return EXIT_OK;
		default:
			station_err("audit show: see 'station audit --help'");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("audit show: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (audit_cmd_db_path(home, dbo, db, sizeof(db)) != 0)
		return EXIT_USAGE;
	if ((a = audit_open_readonly(db, err)) == NULL) {
		station_err("%s", err);
		return EXIT_FAILED;
	}
	rc = audit_events(a, &f, show_event, &sh);
	if (rc != 0)
		station_err("%s", audit_error(a));
	audit_close(a);
	if (fflush(stdout) != 0)
		return EXIT_FAILED;
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}
