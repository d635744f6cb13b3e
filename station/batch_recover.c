/*
 * batch_recover.c: a `batch generate` that failed or was killed.
 *
 * Before its first identity, `batch generate` records the event
 * batch.started (subject batch:ID; the file's absolute path, the order,
 * the first serial number, the count); batch.generated follows once the
 * file is complete. Retiring a batch (batch_gen_retire): every identity
 * recorded for it (the device.allocated events after its start that carry
 * batch=ID) still issued is voided and its certificate revoked (this
 * sub-CA signed it: the generator's CRL lists it); FILE.partial and FILE
 * are removed (FILE exists when the run ended between the rename and the
 * event: complete, but never recorded as generated, so it must not ship);
 * an end event records what was done.
 *
 * A failed run retires its own batch (batch.failed). A killed one (or a
 * power cut) leaves a batch started and never ended; the next `batch
 * generate`, before it allocates anything, retires it (batch.interrupted,
 * batch_gen_recover). A run killed before it recorded any identity leaves
 * its batch id free: the next run has the same one, so a start is ended
 * only by an end event after it.
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

/* The serials recorded for one batch. */
struct serials {
	const struct batch_started *b;
	char **v;
	size_t n, cap;
	bool failed;    /* out of memory */
};

static int
on_allocated(void *ctx, const struct audit_event *e)
{
	struct serials *s = ctx;
	char id[BATCH_ID_MAX + 1];

	if (e->seq < s->b->seq || audit_event_text(e, "batch", id,
	    sizeof(id)) != 0 || strcmp(id, s->b->id) != 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		char **l = realloc(s->v, cap * sizeof(*l));

		if (l == NULL) {
			s->failed = true;
			return -1;
		}
		s->v = l;
		s->cap = cap;
	}
	if ((s->v[s->n] = strdup(e->subject)) == NULL) {
		s->failed = true;
		return -1;
	}
	s->n++;
	return 0;
}

/* retire_one(sa, serial, why): the identity ${serial}, if still issued:
 * voided (${why}) and revoked. 1 if so, 0 if not issued, -1. */
static int
retire_one(struct station_audit *sa, const char *serial, const char *why)
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
	station_err("batch generate: cannot remove %s, left by batch "
	    "generation: %s; remove it by hand (its identities are revoked)",
	    path, strerror(errno));
	return -1;
}

int
batch_gen_retire(struct station_audit *sa, const struct batch_started *b,
    const char *end, uint64_t *revoked)
{
	const char *why = strcmp(end, "batch.failed") == 0 ?
	    "batch generation failed before the batch file was written" :
	    "batch generation was interrupted before its file was complete";
	struct audit_filter f = { .kind = "device.allocated" };
	struct serials s = { .b = b };
	char subject[AUDIT_SUBJECT_MAX + 1], partial[PATH_MAX + 8],
	    count[24], gone[32] = "";
	int rc, ret = -1;

	*revoked = 0;
	if (audit_events(sa->a, &f, on_allocated, &s) < 0 || s.failed) {
		station_err("batch generate: cannot read the identities of batch "
		    "%s: %s", b->id, s.failed ? "out of memory" :
		    audit_error(sa->a));
		goto out;
	}
	if (audit_begin(sa->a) != 0)
		goto fail;
	for (size_t i = 0; i < s.n; i++) {
		if ((rc = retire_one(sa, s.v[i], why)) < 0) {
			audit_rollback(sa->a);
			goto fail;
		}
		*revoked += (uint64_t)rc;
	}
	if (audit_commit(sa->a) != 0)
		goto fail;
	snprintf(partial, sizeof(partial), "%s.partial", b->file);
	if (remove_left(partial, gone, sizeof(gone), "partial") != 0 ||
	    remove_left(b->file, gone, sizeof(gone), "file") != 0)
		goto out;
	{
		struct audit_field fl[] = {
			{ "file", b->file, strlen(b->file) },
			{ "removed", gone[0] ? gone : "none", 0 },
			{ "revoked", count, 0 },
		};

		fl[1].len = strlen(fl[1].value);
		fl[2].len = (size_t)snprintf(count, sizeof(count), "%" PRIu64,
		    *revoked);
		batch_subject(b->id, subject);
		if (audit_append(sa->a, sa->actor, end, subject, fl,
		    sizeof(fl) / sizeof(fl[0]), NULL) != 0)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	station_err("batch generate: cannot retire batch %s: %s", b->id,
	    audit_error(sa->a));
out:
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i]);
	free(s.v);
	return ret;
}

/* The batches started here, and whether each has ended. */
struct started {
	struct batch_started *v;
	size_t n, cap;
};

static int
on_started(void *ctx, const struct audit_event *e)
{
	struct started *s = ctx;
	struct batch_started *b;

	if (strncmp(e->subject, "batch:", 6) != 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct batch_started *l = realloc(s->v, cap * sizeof(*l));

		if (l == NULL)
			return -1;
		s->v = l;
		s->cap = cap;
	}
	b = &s->v[s->n];
	if (snprintf(b->id, sizeof(b->id), "%s", e->subject + 6) >=
	    (int)sizeof(b->id) || audit_event_text(e, "file", b->file,
	    sizeof(b->file)) != 0)
		return 0;    /* not one of ours: left alone */
	b->seq = e->seq;
	s->n++;
	return 0;
}

/* Whether the start ${b} has an end event after it. */
struct end_scan {
	const struct batch_started *b;
	bool ended;
};

static int
on_end(void *ctx, const struct audit_event *e)
{
	struct end_scan *s = ctx;

	if (e->seq > s->b->seq && (strcmp(e->kind, "batch.generated") == 0 ||
	    strcmp(e->kind, "batch.failed") == 0 ||
	    strcmp(e->kind, "batch.interrupted") == 0))
		s->ended = true;
	return 0;
}

int
batch_gen_recover(struct station_audit *sa)
{
	struct audit_filter f = { .kind = "batch.started" };
	struct started s = { 0 };
	int ret = 0;

	if (audit_events(sa->a, &f, on_started, &s) < 0) {
		station_err("batch generate: cannot read the batches started "
		    "here: %s", audit_error(sa->a));
		ret = -1;
	}
	for (size_t i = 0; ret == 0 && i < s.n; i++) {
		char subject[AUDIT_SUBJECT_MAX + 1];
		struct audit_filter e = { .kind = "batch.*", .subject = subject };
		struct end_scan es = { .b = &s.v[i] };
		uint64_t revoked;

		batch_subject(s.v[i].id, subject);
		if (audit_events(sa->a, &e, on_end, &es) < 0) {
			station_err("batch generate: %s", audit_error(sa->a));
			ret = -1;
		} else if (!es.ended) {
			if (batch_gen_retire(sa, &s.v[i], "batch.interrupted",
			    &revoked) != 0)
				ret = -1;
			else
				fprintf(stderr, "station: batch %s was interrupted "
				    "(a batch generate killed or cut off): %"
				    PRIu64 " identities recorded for it were "
				    "voided and their certificates revoked (the "
				    "next 'station crl' lists them); its files, "
				    "if any were left, are removed\n", s.v[i].id,
				    revoked);
		}
	}
	free(s.v);
	return ret;
}

int
batch_gen_started(struct station_audit *sa, const char *batch_id,
    const char *order_id, uint64_t first_n, uint64_t count, const char *file,
    struct batch_started *out)
{
	char subject[AUDIT_SUBJECT_MAX + 1], cwd[PATH_MAX], first[24], n[24];
	struct audit_field f[] = {
		{ "count", n, 0 }, { "file", out->file, 0 },
		{ "order_id", order_id, strlen(order_id) },
		{ "serial_first", first, 0 },
	};

	snprintf(out->id, sizeof(out->id), "%s", batch_id);
	if (file[0] == '/')
		snprintf(out->file, sizeof(out->file), "%s", file);
	else if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(out->file, sizeof(out->file), "%s/%s", cwd, file) >=
	    (int)sizeof(out->file)) {
		station_err("batch generate: %s: path too long", file);
		return -1;
	}
	f[0].len = (size_t)snprintf(n, sizeof(n), "%" PRIu64, count);
	f[1].len = strlen(out->file);
	f[3].len = (size_t)snprintf(first, sizeof(first), "%" PRIu64, first_n);
	batch_subject(batch_id, subject);
	if (audit_append(sa->a, sa->actor, "batch.started", subject, f,
	    sizeof(f) / sizeof(f[0]), &out->seq) != 0) {
		station_err("batch generate: %s", audit_error(sa->a));
		return -1;
	}
	return 0;
}
