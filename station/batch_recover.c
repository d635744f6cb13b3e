/*
 * batch_recover.c: what a killed `batch generate` left behind.
 *
 * Before its first identity, `batch generate` records the event
 * batch.started (subject batch:ID; the file's absolute path, the order,
 * the first serial number, the count); batch.generated follows once the
 * file is complete. A batch started and neither generated nor
 * interrupted was killed (or lost power): identities of it may be
 * recorded (issued, their certificates signed by the sub-CA) and its
 * file may be left as FILE.partial, or complete as FILE (killed between
 * the rename and the event). A run killed before it recorded any
 * identity leaves its batch id free: the next run has the same one, so a
 * start is ended only by an end event after it.
 *
 * The next `batch generate`, before it allocates anything, retires such
 * a batch: every identity recorded for it (the device.allocated events
 * that carry batch=ID) still issued is voided and its certificate
 * revoked (the generator's CRL lists it: the partial file held it);
 * FILE.partial and FILE are removed; the event batch.interrupted records
 * what was done. A failed (not killed) run retires its identities the
 * same way (batch_gen_retire) and removes its own partial file.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "station/batch_int.h"
#include "station/station.h"
#include "station/station_audit.h"

/* A started batch not ended, and the serials recorded for it. */
struct started {
	char id[BATCH_ID_MAX + 1];
	char file[PATH_MAX];
	uint64_t seq;
	int64_t time_us;
	char **serials;
	size_t n, cap;
	bool ended;
	bool failed;    /* out of memory while collecting */
};

struct scan {
	struct started *list;
	size_t n, cap;
};

/* detail(e, key, out, size): the text value of ${key} in ${e}'s details;
 * 0, or -1 if absent or too long. */
static int
detail(const struct audit_event *e, const char *key, char *out, size_t size)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].key, key) == 0 && d[i].len < size) {
			memcpy(out, d[i].value, d[i].len);
			out[d[i].len] = '\0';
			return 0;
		}
	return -1;
}

static int
on_started(void *ctx, const struct audit_event *e)
{
	struct scan *s = ctx;
	struct started *b;

	if (strncmp(e->subject, "batch:", 6) != 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct started *l = realloc(s->list, cap * sizeof(*l));

		if (l == NULL)
			return -1;
		s->list = l;
		s->cap = cap;
	}
	b = &s->list[s->n];
	memset(b, 0, sizeof(*b));
	if (snprintf(b->id, sizeof(b->id), "%s", e->subject + 6) >=
	    (int)sizeof(b->id) || detail(e, "file", b->file,
	    sizeof(b->file)) != 0)
		return 0;    /* not one of ours: left alone */
	b->seq = e->seq;
	b->time_us = e->time_us;
	s->n++;
	return 0;
}

static int
on_end(void *ctx, const struct audit_event *e)
{
	struct started *b = ctx;

	/* After this start: a batch id comes again when a run was killed
	 * before it recorded any identity (the next one starts at the same
	 * serial), and one generate runs at a time, so every start is ended
	 * before the next begins. */
	if (e->seq > b->seq && (strcmp(e->kind, "batch.generated") == 0 ||
	    strcmp(e->kind, "batch.failed") == 0 ||
	    strcmp(e->kind, "batch.interrupted") == 0))
		b->ended = true;
	return 0;
}

static int
on_allocated(void *ctx, const struct audit_event *e)
{
	struct started *b = ctx;
	char id[BATCH_ID_MAX + 1];

	if (detail(e, "batch", id, sizeof(id)) != 0 || strcmp(id, b->id) != 0)
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		char **l = realloc(b->serials, cap * sizeof(*l));

		if (l == NULL) {
			b->failed = true;
			return -1;
		}
		b->serials = l;
		b->cap = cap;
	}
	if ((b->serials[b->n] = strdup(e->subject)) == NULL) {
		b->failed = true;
		return -1;
	}
	b->n++;
	return 0;
}

int
batch_gen_retire(struct station_audit *sa, const char *serial,
    const char *why)
{
	struct audit_device d;
	char reason[256];
	struct audit_change c = { .to = AUDIT_VOIDED, .reason = why };
	int rc = audit_device_get(sa->a, serial, &d);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (d.state != AUDIT_ISSUED)
		return 0;
	snprintf(reason, sizeof(reason), "cessationOfOperation: %s", why);
	if (audit_device_transition(sa->a, serial, &c, sa->actor, NULL, 0,
	    NULL) != 0)
		return -1;
	c = (struct audit_change){ .to = AUDIT_REVOKED, .reason = reason };
	if (audit_device_transition(sa->a, serial, &c, sa->actor, NULL, 0,
	    NULL) != 0)
		return -1;
	return 1;
}

/* remove_left(path, list, size, what): unlink ${path} if it is there, and
 * add ${what} to ${list}. 0, or -1 if it is there and cannot go. */
static int
remove_left(const char *path, char *list, size_t size, const char *what)
{
	if (unlink(path) == 0) {
		size_t len = strlen(list);

		snprintf(list + len, size - len, "%s%s", len ? "," : "", what);
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	station_err("batch generate: cannot remove %s, left by the interrupted "
	    "batch: %s; remove it by hand (its identities are revoked)", path,
	    strerror(errno));
	return -1;
}

/* retire(sa, b): one interrupted batch. 0 or -1 (reported). */
static int
retire(struct station_audit *sa, struct started *b)
{
	static const char why[] = "batch generation was interrupted before "
	    "its file was complete";
	struct audit_filter f = { .kind = "device.allocated",
	    .since_us = b->time_us };
	char subject[AUDIT_SUBJECT_MAX + 1], partial[PATH_MAX + 8],
	    count[24], gone[32] = "";
	uint64_t revoked = 0;
	int rc;

	if (audit_events(sa->a, &f, on_allocated, b) < 0 || b->failed) {
		station_err("batch generate: cannot read the identities of the "
		    "interrupted batch %s: %s", b->id, b->failed ?
		    "out of memory" : audit_error(sa->a));
		return -1;
	}
	if (audit_begin(sa->a) != 0)
		goto fail;
	for (size_t i = 0; i < b->n; i++) {
		if ((rc = batch_gen_retire(sa, b->serials[i], why)) < 0) {
			audit_rollback(sa->a);
			goto fail;
		}
		revoked += (uint64_t)rc;
	}
	if (audit_commit(sa->a) != 0)
		goto fail;
	snprintf(partial, sizeof(partial), "%s.partial", b->file);
	if (remove_left(partial, gone, sizeof(gone), "partial") != 0 ||
	    remove_left(b->file, gone, sizeof(gone), "file") != 0)
		return -1;
	{
		struct audit_field fl[] = {
			{ "file", b->file, strlen(b->file) },
			{ "removed", gone[0] ? gone : "none", 0 },
			{ "revoked", count, 0 },
		};

		fl[1].len = strlen(fl[1].value);
		fl[2].len = (size_t)snprintf(count, sizeof(count), "%" PRIu64,
		    revoked);
		batch_subject(b->id, subject);
		if (audit_append(sa->a, sa->actor, "batch.interrupted", subject,
		    fl, sizeof(fl) / sizeof(fl[0]), NULL) != 0)
			goto fail;
	}
	fprintf(stderr, "station: batch %s was interrupted (a batch generate "
	    "killed or cut off): %" PRIu64 " identities recorded for it were "
	    "voided and their certificates revoked (the next 'station crl' "
	    "lists them)%s%s\n", b->id, revoked, gone[0] ? "; removed its " : "",
	    strcmp(gone, "partial") == 0 ? "partial file" : gone[0] ?
	    "file and partial file" : "");
	return 0;
fail:
	station_err("batch generate: cannot retire the interrupted batch %s: "
	    "%s", b->id, audit_error(sa->a));
	return -1;
}

int
batch_gen_recover(struct station_audit *sa)
{
	struct audit_filter f = { .kind = "batch.started" };
	struct scan s = { 0 };
	int ret = 0;

	if (audit_events(sa->a, &f, on_started, &s) < 0) {
		station_err("batch generate: cannot read the batches started "
		    "here: %s", audit_error(sa->a));
		ret = -1;
	}
	for (size_t i = 0; ret == 0 && i < s.n; i++) {
		char subject[AUDIT_SUBJECT_MAX + 1];
		struct audit_filter e = { .kind = "batch.*", .subject = subject };

		batch_subject(s.list[i].id, subject);
		if (audit_events(sa->a, &e, on_end, &s.list[i]) < 0) {
			station_err("batch generate: %s", audit_error(sa->a));
			ret = -1;
		} else if (!s.list[i].ended && retire(sa, &s.list[i]) != 0) {
			ret = -1;
		}
	}
	for (size_t i = 0; i < s.n; i++) {
		for (size_t j = 0; j < s.list[i].n; j++)
			free(s.list[i].serials[j]);
		free(s.list[i].serials);
	}
	free(s.list);
	return ret;
}

int
batch_gen_started(struct station_audit *sa, const char *batch_id,
    const char *order_id, uint64_t first_n, uint64_t count, const char *file)
{
	char subject[AUDIT_SUBJECT_MAX + 1], path[PATH_MAX], cwd[PATH_MAX],
	    first[24], n[24];
	struct audit_field f[] = {
		{ "count", n, 0 }, { "file", path, 0 },
		{ "order_id", order_id, strlen(order_id) },
		{ "serial_first", first, 0 },
	};

	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(path, sizeof(path), "%s/%s", cwd, file) >=
	    (int)sizeof(path)) {
		station_err("batch generate: %s: path too long", file);
		return -1;
	}
	f[0].len = (size_t)snprintf(n, sizeof(n), "%" PRIu64, count);
	f[1].len = strlen(path);
	f[3].len = (size_t)snprintf(first, sizeof(first), "%" PRIu64, first_n);
	batch_subject(batch_id, subject);
	if (audit_append(sa->a, sa->actor, "batch.started", subject, f,
	    sizeof(f) / sizeof(f[0]), NULL) != 0) {
		station_err("batch generate: %s", audit_error(sa->a));
		return -1;
	}
	return 0;
}
