/*
 * cmd_audit_report.c: `station audit report --html FILE`, one
 * self-contained HTML page for a security officer (no scripts, no external
 * assets): the verification result first, then totals, devices finished
 * per hour as an inline SVG bar chart, failures by reason, activity per
 * operator, progress per order, and the checkpoints.
 *
 * Every string from the database is HTML-escaped: the page must stay
 * harmless to open even when the log was written by an attacker.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "station/audit_cmd.h"
#include "station/station.h"

#define TALLY_MAX 256      /* distinct reasons / operators / orders shown */
#define BARS_MAX 168       /* hours in the chart; wider spans are bucketed */
#define CHECKPOINTS_SHOWN 50

struct tally {
	char name[AUDIT_TEXT_MAX + 1];
	uint64_t n[4];
};

struct tallies {
	struct tally t[TALLY_MAX];
	size_t count;
	uint64_t other[4];     /* beyond TALLY_MAX names */
};

struct report {
	FILE *out;
	uint64_t events;
	int64_t first_us, last_us;
	int64_t *done_us;      /* times of device.done events */
	size_t ndone, capdone;
	struct tallies reasons, actors, orders;
	uint64_t states[AUDIT_STATE_COUNT];
	uint64_t ncheckpoints;
	const char *key_pem;
};

static struct tally *
tally(struct tallies *ts, const char *name, size_t len)
{
	if (len > AUDIT_TEXT_MAX)
		len = AUDIT_TEXT_MAX;
	for (size_t i = 0; i < ts->count; i++)
		if (strlen(ts->t[i].name) == len &&
		    memcmp(ts->t[i].name, name, len) == 0)
			return &ts->t[i];
	if (ts->count == TALLY_MAX)
		return NULL;
	memcpy(ts->t[ts->count].name, name, len);
	ts->t[ts->count].name[len] = '\0';
	return &ts->t[ts->count++];
}

static void
count(struct tallies *ts, const char *name, size_t len, int col)
{
	struct tally *t = tally(ts, name, len);

	if (t)
		t->n[col]++;
	else
		ts->other[col]++;
}

static void
esc(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out); break;
		}
	}
}

static int
on_event(void *ctx, const struct audit_event *e)
{
	struct report *r = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	size_t n = 0;

	if (r->events++ == 0)
		r->first_us = e->time_us;
	r->last_us = e->time_us;
	if (strncmp(e->kind, "device.", 7) == 0) {
		count(&r->actors, e->actor, strlen(e->actor), 0);
		if (strcmp(e->kind, "device.done") == 0) {
			count(&r->actors, e->actor, strlen(e->actor), 1);
			if (r->ndone == r->capdone) {
				size_t cap = r->capdone ? 2 * r->capdone : 1024;
				int64_t *p = realloc(r->done_us, cap * sizeof(*p));

				if (p == NULL)
					return -1;
				r->done_us = p;
				r->capdone = cap;
			}
			r->done_us[r->ndone++] = e->time_us;
		}
		if (strcmp(e->kind, "device.failed") == 0) {
			count(&r->actors, e->actor, strlen(e->actor), 2);
			if (audit_details_parse(e->details, e->details_len, d,
			    AUDIT_FIELDS_MAX, &n) == 0) {
				for (size_t i = 0; i < n; i++)
					if (strcmp(d[i].key, "reason") == 0)
						count(&r->reasons, (const char *)
						    d[i].value, d[i].len, 0);
			}
		}
	} else {
		count(&r->actors, e->actor, strlen(e->actor), 3);
	}
	return 0;
}

static int
on_device(void *ctx, const struct audit_device *d)
{
	struct report *r = ctx;
	const char *o = d->order_id[0] ? d->order_id : "(none)";

	r->states[d->state]++;
	count(&r->orders, o, strlen(o), 0);
	if (d->state == AUDIT_DONE)
		count(&r->orders, o, strlen(o), 1);
	if (d->state == AUDIT_FAILED)
		count(&r->orders, o, strlen(o), 2);
	if (d->state == AUDIT_VOIDED || d->state == AUDIT_REVOKED)
		count(&r->orders, o, strlen(o), 3);
	return 0;
}

static void
chart(struct report *r)
{
	FILE *out = r->out;
	uint64_t bars[BARS_MAX] = { 0 }, max = 1;
	int64_t hour = 3600LL * 1000000, start, span, bucket;
	size_t nbars;
	char when[32];

	if (r->ndone == 0) {
		fputs("<p>No device finished yet.</p>\n", out);
		return;
	}
	start = r->done_us[0] / hour * hour;
	span = (r->done_us[r->ndone - 1] - start) / hour + 1;
	bucket = (span + BARS_MAX - 1) / BARS_MAX;
	nbars = (size_t)((span + bucket - 1) / bucket);
	for (size_t i = 0; i < r->ndone; i++) {
		size_t b = (size_t)((r->done_us[i] - start) / hour / bucket);

		if (b < nbars && ++bars[b] > max)
			max = bars[b];
	}
	audit_cmd_time(start, when);
	fprintf(out, "<p>Devices reaching <b>done</b> per %lld hour%s, from %s "
	    "(UTC); highest bar: %llu.</p>\n", (long long)bucket, bucket > 1 ?
	    "s" : "", when, (unsigned long long)max);
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%zu\" "
	    "height=\"140\" role=\"img\" aria-label=\"devices per hour\">\n",
	    nbars * 12 + 40);
	fprintf(out, "<line x1=\"30\" y1=\"120\" x2=\"%zu\" y2=\"120\" "
	    "stroke=\"#444\"/>\n<text x=\"0\" y=\"20\" font-size=\"10\">%llu"
	    "</text>\n<text x=\"0\" y=\"120\" font-size=\"10\">0</text>\n",
	    nbars * 12 + 34, (unsigned long long)max);
	for (size_t b = 0; b < nbars; b++) {
		unsigned h = (unsigned)(bars[b] * 100 / max);

		fprintf(out, "<rect x=\"%zu\" y=\"%u\" width=\"10\" height=\"%u\" "
		    "fill=\"#2b6cb0\"><title>%llu</title></rect>\n", 32 + b * 12,
		    120 - h, h, (unsigned long long)bars[b]);
	}
	fputs("</svg>\n", out);
}

static void
tally_row(FILE *out, const char *name, const uint64_t n[4], int cols)
{
	fputs("<tr><td>", out);
	esc(out, name);
	fputs("</td>", out);
	for (int c = 0; c < cols; c++)
		fprintf(out, "<td>%llu</td>", (unsigned long long)n[c]);
	fputs("</tr>\n", out);
}

/* A table of ${ts}: a name and the first ${cols} counts per row. */
static void
tally_table(FILE *out, const struct tallies *ts, const char *head, int cols)
{
	fprintf(out, "<table><tr>%s</tr>\n", head);
	for (size_t i = 0; i < ts->count; i++)
		tally_row(out, ts->t[i].name, ts->t[i].n, cols);
	if (ts->other[0] || ts->other[1] || ts->other[2] || ts->other[3])
		tally_row(out, "(others)", ts->other, cols);
	fputs("</table>\n", out);
}

static int
order_row(void *ctx, const struct audit_order *o)
{
	struct report *r = ctx;

	fputs("<tr><td>", r->out);
	esc(r->out, o->order_id);
	fputs("</td><td>", r->out);
	esc(r->out, o->product);
	fprintf(r->out, "</td><td>%llu</td><td>%llu..%llu</td><td>%llu</td>"
	    "<td>%lld</td></tr>\n", (unsigned long long)o->quantity,
	    (unsigned long long)o->serial_first,
	    (unsigned long long)o->serial_last,
	    (unsigned long long)o->allocated,
	    (long long)o->quantity - (long long)o->allocated);
	return 0;
}

static int
count_checkpoint(void *ctx, const struct audit_checkpoint *c)
{
	(void)c;
	((struct report *)ctx)->ncheckpoints++;
	return 0;
}

static int
on_checkpoint(void *ctx, const struct audit_checkpoint *c)
{
	struct report *r = ctx;
	char when[32], key[2 * AUDIT_HASH_LEN + 1], err[AUDIT_ERR_MAX];
	const char *sig = "not checked (no --key)";

	if (r->ncheckpoints-- > CHECKPOINTS_SHOWN)
		return 0;
	audit_cmd_time(c->time_us, when);
	for (size_t i = 0; i < AUDIT_HASH_LEN; i++)
		snprintf(key + 2 * i, 3, "%02x", c->key_id[i]);
	if (r->key_pem)
		sig = audit_checkpoint_check(c, r->key_pem, err) == 0 ? "valid" :
		    "INVALID";
	fprintf(r->out, "<tr><td>%llu</td><td>%s</td><td><code>%.16s</code>"
	    "</td><td>%s</td></tr>\n", (unsigned long long)c->head_seq, when, key,
	    sig);
	return 0;
}

static void
verification(FILE *out, const char *db, const struct audit_verify_result *v)
{
	bool ok = v->verdict == AUDIT_INTACT;

	fprintf(out, "<div class=\"%s\"><h2>Verification: %s</h2>\n",
	    ok ? "ok" : "bad", ok ? "INTACT" : "TAMPERED");
	if (!ok) {
		fputs("<p><b>", out);
		esc(out, v->problem);
		fprintf(out, "</b></p>\n<p>First bad event: %llu</p>\n",
		    (unsigned long long)v->bad_seq);
	}
	fputs("<ul><li>Database: <code>", out);
	esc(out, db);
	fprintf(out, "</code></li><li>%llu events; %llu checkpoints verified; "
	    "sealed through event %llu</li>\n", (unsigned long long)v->events,
	    (unsigned long long)v->checkpoints, (unsigned long long)v->sealed_seq);
	fprintf(out, "<li>Unsealed: %llu events after the last checkpoint%s</li>"
	    "\n", (unsigned long long)v->unsealed, v->unsealed ? " (not yet "
	    "protected by a signature)" : "");
	if (ok)
		fprintf(out, "<li>Inventory: %llu devices match their events</li>\n",
		    (unsigned long long)v->devices);
	fprintf(out, "<li>Anchor: %s</li>\n", v->anchor_checked ? "checked; the "
	    "log still holds its head" : "none given: truncation and rollback "
	    "are not excluded");
	fprintf(out, "<li>Key: %s</li></ul></div>\n", v->key_from_db ? "none "
	    "given; checked against the keys the log names itself, which proves "
	    "nothing against someone able to rewrite it" : "the audit public key "
	    "given");
}

static int
write_report(struct report *r, struct audit *a, const char *db,
    const struct audit_verify_result *v)
{
	FILE *out = r->out;
	char now[32];

	audit_cmd_time((int64_t)time(NULL) * 1000000, now);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>Audit report</title>\n<style>body{font-family:sans-serif;"
	    "margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}"
	    "td,th{border:1px solid #bbb;padding:.2em .6em;text-align:right}"
	    "td:first-child,th:first-child{text-align:left}.ok{background:#e6ffed;"
	    "border:2px solid #2f855a;padding:.5em 1em}.bad{background:#fff5f5;"
	    "border:2px solid #c53030;padding:.5em 1em}</style></head><body>\n",
	    out);
	fputs("<h1>Audit report: station ", out);
	esc(out, audit_station_id(a));
	fprintf(out, "</h1>\n<p>Generated %s.</p>\n", now);
	verification(out, db, v);
	if (audit_events(a, NULL, on_event, r) != 0 ||
	    audit_devices(a, AUDIT_NONE, on_device, r) != 0)
		return -1;
	fprintf(out, "<h2>Totals</h2>\n<table><tr><th>state</th><th>devices"
	    "</th></tr>\n");
	for (int s = 1; s < AUDIT_STATE_COUNT; s++)
		fprintf(out, "<tr><td>%s</td><td>%llu</td></tr>\n",
		    audit_state_name((enum audit_state)s),
		    (unsigned long long)r->states[s]);
	fprintf(out, "</table>\n<p>%llu events", (unsigned long long)r->events);
	if (r->events) {
		char a1[32], a2[32];

		audit_cmd_time(r->first_us, a1);
		audit_cmd_time(r->last_us, a2);
		fprintf(out, " from %s to %s", a1, a2);
	}
	fputs(".</p>\n<h2>Devices per hour</h2>\n", out);
	chart(r);
	fputs("<h2>Failures by reason</h2>\n", out);
	tally_table(out, &r->reasons, "<th>reason</th><th>failures</th>", 1);
	fputs("<h2>Per operator</h2>\n", out);
	tally_table(out, &r->actors, "<th>actor</th><th>device events</th>"
	    "<th>done</th><th>failed</th><th>other events</th>", 4);
	fputs("<h2>Orders</h2>\n<table><tr><th>order</th><th>product</th>"
	    "<th>quantity</th><th>serial block</th><th>allocated</th>"
	    "<th>left</th></tr>\n", out);
	if (audit_orders(a, order_row, r) != 0)
		return -1;
	fputs("</table>\n<h2>Per order</h2>\n", out);
	tally_table(out, &r->orders, "<th>order</th><th>devices</th><th>done</th>"
	    "<th>failed</th><th>voided or revoked</th>", 4);
	if (audit_checkpoints(a, count_checkpoint, r) != 0)
		return -1;
	fprintf(out, "<h2>Checkpoints</h2>\n<p>%llu checkpoints; the latest %d "
	    "are listed.</p>\n<table><tr><th>sealed through event</th><th>time"
	    "</th><th>key id</th><th>signature</th></tr>\n",
	    (unsigned long long)r->ncheckpoints, CHECKPOINTS_SHOWN);
	if (audit_checkpoints(a, on_checkpoint, r) != 0)
		return -1;
	fputs("</table>\n</body></html>\n", out);
	return 0;
}

int
audit_cmd_report(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "db", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "html", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct report r;
	struct audit_verify_result v;
	struct audit *a = NULL;
	const char *home = NULL, *dbo = NULL, *key = NULL, *anchor = NULL;
	const char *html = NULL;
	char db[PATH_MAX], err[AUDIT_ERR_MAX], tmp[PATH_MAX + 8];
	char cert[PATH_MAX];
	char *pem = NULL;
	int c, ret = EXIT_FAILED;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home = optarg; break;
		case 'd': dbo = optarg; break;
		case 'k': key = optarg; break;
		case 'a': anchor = optarg; break;
		case 'o': html = optarg; break;
		case 'h':
			printf("Usage: station audit report [--home DIR | --db FILE] "
			    "[--key PEM] [--anchor FILE] --html FILE\n");
			return EXIT_OK;
		default:
			station_err("audit report: see 'station audit --help'");
			return EXIT_USAGE;
		}
	}
	if (optind != argc || html == NULL) {
		station_err("audit report: %s", html ? "unexpected argument" :
		    "--html FILE is required");
		return EXIT_USAGE;
	}
	if (audit_cmd_db_path(home, dbo, db, sizeof(db)) != 0)
		return EXIT_USAGE;
	if (key == NULL && audit_cmd_default_key(home, dbo, cert,
	    sizeof(cert)) == 0)
		key = cert;    /* [pki] audit_cert */
	if (audit_cmd_verify(db, key, anchor, &v) != 0)
		return EXIT_USAGE;
	if (key && (pem = audit_cmd_read_key(key)) == NULL)
		return EXIT_USAGE;
	if ((a = audit_open_readonly(db, err)) == NULL) {
		station_err("%s", err);
		goto cleanup;
	}
	memset(&r, 0, sizeof(r));
	r.key_pem = pem;
	snprintf(tmp, sizeof(tmp), "%s.tmp", html);
	if ((r.out = fopen(tmp, "w")) == NULL) {
		station_err("cannot write %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (write_report(&r, a, db, &v) != 0) {
		station_err("audit report: %s", audit_error(a));
		fclose(r.out);
		unlink(tmp);
		goto cleanup;
	}
	if (fflush(r.out) != 0 || fsync(fileno(r.out)) != 0 ||
	    fclose(r.out) != 0 || rename(tmp, html) != 0) {
		station_err("cannot write %s: %s", html, strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	printf("report: %s (verification: %s)\n", html, v.verdict ==
	    AUDIT_INTACT ? "INTACT" : "TAMPERED");
	ret = v.verdict == AUDIT_INTACT ? EXIT_OK : EXIT_FAILED;
cleanup:
	free(r.done_us);
	free(pem);
	audit_close(a);
	return ret;
}
