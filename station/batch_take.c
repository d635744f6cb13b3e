/*
 * batch_take.c: an imported batch at the factory station: its state, the
 * next unused identity for a device, voiding what is left, and at the
 * issuing station revoking what a factory voided.
 *
 * The state of a batch is its events, subject "batch:ID": batch.imported
 * (count), one batch.taken per identity handed out or used up (index,
 * serial, outcome taken or failed), batch.voided at the end. The next
 * identity is the number of batch.taken events, read inside the same
 * BEGIN IMMEDIATE transaction that appends the next one, so two processes
 * cannot take the same index; and its device rows (serial and claim ID
 * unique forever) are written in that transaction too, so even a lost
 * event could not hand an identity out twice. Nothing leaves
 * batch_take_next before the transaction is durable; a process killed
 * before that leaves the identity unused, after it, used (issued, never
 * stamped: the bench loop's recovery voids it).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "station/batch_int.h"
#include "station/seal.h"

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

struct scan {
	struct audit *a;
	struct batch_status *st;
	bool found, count_failed;
};

static int
scan_event(void *ctx, const struct audit_event *e)
{
	struct scan *s = ctx;
	char v[AUDIT_TEXT_MAX + 1];

	if (strcmp(e->kind, "batch.imported") == 0) {
		s->found = true;
		if (audit_event_text(e, "count", v, sizeof(v)) == 0)
			s->st->count = strtoull(v, NULL, 10);
		audit_event_text(e, "order_id", s->st->order_id,
		    sizeof(s->st->order_id));
		audit_event_text(e, "generator", s->st->generator,
		    sizeof(s->st->generator));
	} else if (strcmp(e->kind, "batch.taken") == 0) {
		s->st->used++;
		if (audit_event_text(e, "outcome", v, sizeof(v)) == 0 &&
		    strcmp(v, "failed") == 0)
			s->st->failed++;
		else if (s->count_failed && audit_event_text(e, "serial", v,
		    sizeof(v)) == 0) {
			struct audit_device d;

			if (audit_device_get(s->a, v, &d) == 0 &&
			    d.state == AUDIT_FAILED)
				s->st->failed++;
		}
	} else if (strcmp(e->kind, "batch.voided") == 0) {
		s->st->is_voided = true;
		if (audit_event_text(e, "count", v, sizeof(v)) == 0)
			s->st->voided = strtoull(v, NULL, 10);
	}
	return 0;
}

/* status(a, id, st, count_failed): as batch_status_get; the device
 * lookups of failed stamps only with ${count_failed}. */
static int
status(struct audit *a, const char *id, struct batch_status *st,
    bool count_failed, char err[static BATCH_ERR_MAX])
{
	char subject[AUDIT_SUBJECT_MAX + 1];
	struct audit_filter f = { .kind = "batch.*", .subject = subject };
	struct scan s = { a, st, false, count_failed };

	memset(st, 0, sizeof(*st));
	snprintf(st->batch_id, sizeof(st->batch_id), "%s", id);
	batch_subject(id, subject);
	if (audit_events(a, &f, scan_event, &s) < 0)
		return fail(err, "%s", audit_error(a));
	if (!s.found)
		return 1;
	st->left = st->is_voided || st->used >= st->count ? 0 :
	    st->count - st->used;
	return 0;
}

int
batch_status_get(struct audit *a, const char *batch_id,
    struct batch_status *st, char err[static BATCH_ERR_MAX])
{
	return status(a, batch_id, st, true, err);
}

struct each {
	struct audit *a;
	int (*cb)(void *ctx, const struct batch_status *st);
	void *ctx;
	char *err;
	int rc;
};

static int
each_imported(void *ctx, const struct audit_event *e)
{
	struct each *x = ctx;
	struct batch_status st;

	if (strncmp(e->subject, "batch:", 6) != 0)
		return 0;
	if (status(x->a, e->subject + 6, &st, true, x->err) < 0) {
		x->rc = -1;
		return 1;
	}
	return (x->rc = x->cb(x->ctx, &st)) != 0;
}

int
batch_status_all(struct audit *a,
    int (*cb)(void *ctx, const struct batch_status *st), void *ctx,
    char err[static BATCH_ERR_MAX])
{
	struct audit_filter f = { .kind = "batch.imported" };
	struct each x = { a, cb, ctx, err, 0 };

	if (audit_events(a, &f, each_imported, &x) < 0 && x.rc == 0)
		return fail(err, "%s", audit_error(a));
	return x.rc;
}

/* read_record(home, id, index, it): identity ${index} of the stored
 * batch. 0 or -1. */
static int
read_record(const char *home, const char *id, uint64_t index,
    struct batch_item *it, char err[static BATCH_ERR_MAX])
{
	uint8_t rec[BATCH_RECORD];
	char path[4096];
	int fd, ret = -1;
	ssize_t n;

	if (batch_items_path(home, id, path, sizeof(path)) != 0)
		return fail(err, "batch %s: path too long", id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(err, "batch %s: cannot open %s: %s", id, path,
		    strerror(errno));
	n = pread(fd, rec, sizeof(rec), (off_t)(index * BATCH_RECORD));
	close(fd);
	if (n != (ssize_t)sizeof(rec))
		fail(err, "batch %s: identity %" PRIu64 " is missing from %s", id,
		    index, path);
	else if (batch_record_decode(rec, it) != 0 || it->index != index)
		fail(err, "batch %s: identity %" PRIu64 " in %s is damaged", id,
		    index, path);
	else
		ret = 0;
	OPENSSL_cleanse(rec, sizeof(rec));
	return ret;
}

/* taken_event(a, id, it, outcome, reason, actor): batch.taken. */
static int
taken_event(struct audit *a, const char *id, const struct batch_item *it,
    const char *outcome, const char *reason, const char *actor)
{
	char subject[AUDIT_SUBJECT_MAX + 1], index[24];
	struct audit_field f[] = {
		{ "index", index, (size_t)snprintf(index, sizeof(index),
		    "%" PRIu64, it->index) },
		{ "outcome", outcome, strlen(outcome) },
		{ "serial", it->serial, strlen(it->serial) },
		{ "why", reason, reason != NULL ? strlen(reason) : 0 },
	};

	batch_subject(id, subject);
	return audit_append(a, actor, "batch.taken", subject, f,
	    reason != NULL ? 4 : 3, NULL);
}

/* record_device(a, id, it, hwid, cert_serial, actor, final, reason):
 * the identity as a device of this station: allocated, key_ready,
 * issued, and ${final} (voided) if not AUDIT_NONE. */
static int
record_device(struct audit *a, const char *id, const struct batch_item *it,
    const char *hwid, const char *cert_serial, const char *actor,
    enum audit_state final, const char *reason, char err[static BATCH_ERR_MAX])
{
	struct audit_field extra = { "batch", id, strlen(id) };
	struct audit_allocation d = { it->serial, it->claim, hwid, NULL,
	    BATCH_KEY_MODE };
	const unsigned char *p = it->cert;
	X509 *x = d2i_X509(NULL, &p, (long)it->cert_len);
	unsigned char *spki = NULL;
	int n = x != NULL ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki) : -1;
	struct audit_change c = { .to = AUDIT_KEY_READY, .public_key = spki,
	    .public_key_len = n > 0 ? (size_t)n : 0 };
	int ret = -1;

	if (n <= 0) {
		fail(err, "identity %s: its certificate does not decode",
		    it->serial);
		goto cleanup;
	}
	if (audit_device_allocate(a, &d, actor, &extra, 1, NULL) != 0 ||
	    audit_device_transition(a, it->serial, &c, actor, NULL, 0, NULL))
		goto audit_failed;
	c = (struct audit_change){ .to = AUDIT_ISSUED, .cert_der = it->cert,
	    .cert_der_len = it->cert_len, .cert_serial = cert_serial };
	if (audit_device_transition(a, it->serial, &c, actor, NULL, 0, NULL))
		goto audit_failed;
	c = (struct audit_change){ .to = final, .reason = reason };
	if (final != AUDIT_NONE && audit_device_transition(a, it->serial, &c,
	    actor, NULL, 0, NULL) != 0)
		goto audit_failed;
	ret = 0;
	goto cleanup;
audit_failed:
	fail(err, "identity %s: %s", it->serial, audit_error(a));
cleanup:
	ERR_clear_error();
	OPENSSL_free(spki);
	X509_free(x);
	return ret;
}

/* rewrap(station_key, it, transport, out, err): the identity's key,
 * sealed to this station, re-wrapped in the token to ${transport}, checked
 * against its certificate's key. */
static int
rewrap(struct hsm_key *station_key, const struct batch_item *it,
    const uint8_t transport[static 65], struct batch_taken *out,
    char err[static BATCH_ERR_MAX])
{
	const unsigned char *p = it->cert;
	X509 *x = d2i_X509(NULL, &p, (long)it->cert_len);
	uint8_t station_point[65];
	char herr[HSM_ERR_MAX];
	int ret = -1;

	if (x == NULL || p != it->cert + it->cert_len) {
		fail(err, "identity %s: its certificate does not decode",
		    it->serial);
		goto cleanup;
	}
	if (hsm_key_point(station_key, station_point) != 0) {
		fail(err, "cannot read the public point of the station's "
		    "transport key '%s'", hsm_key_label(station_key));
		goto cleanup;
	}
	if (hsm_rewrap_sealed(station_key, X509_get_X509_PUBKEY(x), it->sealed,
	    it->sealed_len, seal_context_key, station_point, transport,
	    seal_context_key, (void *)transport, out->sealed,
	    sizeof(out->sealed), &out->sealed_len, herr) != 0) {
		fail(err, "identity %s: %s", it->serial, herr);
		goto cleanup;
	}
	ret = 0;
cleanup:
	ERR_clear_error();
	X509_free(x);
	return ret;
}

int
batch_take_next(struct audit *a, const char *home,
    struct hsm_key *station_key, const char *batch_id,
    const char *hardware_id, const uint8_t transport[static 65],
    const char *actor, struct batch_taken *out, char err[static BATCH_ERR_MAX])
{
	struct batch_status st;
	struct batch_item *it = calloc(1, sizeof(*it));
	char why[BATCH_ERR_MAX];
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	if (it == NULL)
		return fail(err, "out of memory");
	if (audit_begin(a) != 0) {
		fail(err, "%s", audit_error(a));
		free(it);
		return -1;
	}
	if ((rc = status(a, batch_id, &st, false, err)) != 0) {
		if (rc > 0)
			fail(err, "batch %s was not imported here", batch_id);
		goto rollback;
	}
	if (st.left == 0) {
		fail(err, "batch %s has no identities left (%" PRIu64 " used%s)",
		    batch_id, st.used, st.is_voided ? ", the rest voided" : "");
		ret = 1;
		goto rollback;
	}
	if (read_record(home, batch_id, st.used, it, err) != 0)
		goto rollback;
	if (batch_cert_serial(it->cert, it->cert_len, out->cert_serial) != 0) {
		fail(err, "identity %s: its certificate does not decode",
		    it->serial);
		goto rollback;
	}
	if (rewrap(station_key, it, transport, out, why) != 0) {
		/* Used up, never handed out: recorded, then reported. */
		if (taken_event(a, batch_id, it, "failed", why, actor) != 0 ||
		    audit_commit(a) != 0) {
			fail(err, "%s (and cannot record it: %s)", why,
			    audit_error(a));
			audit_rollback(a);
		} else
			fail(err, "%s", why);
		goto cleanup;
	}
	if (record_device(a, batch_id, it, hardware_id, out->cert_serial, actor,
	    AUDIT_NONE, NULL, err) != 0)
		goto rollback;
	if (taken_event(a, batch_id, it, "taken", NULL, actor) != 0 ||
	    audit_commit(a) != 0) {
		fail(err, "%s", audit_error(a));
		audit_rollback(a);
		goto cleanup;
	}
	out->index = it->index;
	memcpy(out->serial, it->serial, sizeof(out->serial));
	memcpy(out->claim, it->claim, sizeof(out->claim));
	memcpy(out->cert, it->cert, it->cert_len);
	out->cert_len = it->cert_len;
	ret = 0;
	goto cleanup;
rollback:
	audit_rollback(a);
cleanup:
	if (ret != 0) {
		OPENSSL_cleanse(out->sealed, sizeof(out->sealed));
		out->sealed_len = 0;
	}
	OPENSSL_cleanse(it, sizeof(*it));
	free(it);
	return ret;
}

/* voided_event(a, id, n, reason, actor): batch.voided. */
static int
voided_event(struct audit *a, const char *id, uint64_t n, const char *reason,
    const char *actor)
{
	char subject[AUDIT_SUBJECT_MAX + 1], count[24];
	struct audit_field f[] = {
		{ "count", count, (size_t)snprintf(count, sizeof(count),
		    "%" PRIu64, n) },
		{ "why", reason, strlen(reason) },
	};

	batch_subject(id, subject);
	return audit_append(a, actor, "batch.voided", subject, f, 2, NULL);
}

int
batch_void(struct audit *a, const char *home, const char *batch_id,
    const char *reason, const char *actor, FILE *list, uint64_t *voided,
    char err[static BATCH_ERR_MAX])
{
	struct batch_status st;
	struct batch_item *it = calloc(1, sizeof(*it));
	char cert_serial[AUDIT_TEXT_MAX + 1];
	int rc, ret = -1;

	*voided = 0;
	if (it == NULL)
		return fail(err, "out of memory");
	if ((rc = status(a, batch_id, &st, false, err)) != 0) {
		if (rc > 0)
			fail(err, "batch %s was not imported here", batch_id);
		ret = rc;
		goto cleanup;
	}
	if (st.is_voided) {
		fail(err, "batch %s was voided before", batch_id);
		goto cleanup;
	}
	if (list != NULL)
		fprintf(list, "station-batch-void 1 %s\n", batch_id);
	for (uint64_t k = st.used; k < st.count;) {
		if (audit_begin(a) != 0) {
			fail(err, "%s", audit_error(a));
			goto cleanup;
		}
		for (uint64_t end = k + BATCH_GROUP; k < st.count && k < end; k++) {
			struct audit_device d;

			if (read_record(home, batch_id, k, it, err) != 0 ||
			    batch_cert_serial(it->cert, it->cert_len,
			    cert_serial) != 0)
				goto rollback;
			/* Voided before a crash, or taken since: not again. */
			if ((rc = audit_device_get(a, it->serial, &d)) == 0)
				continue;
			if (rc < 0 || record_device(a, batch_id, it, NULL,
			    cert_serial, actor, AUDIT_VOIDED, reason, err) != 0)
				goto rollback;
			if (list != NULL)
				fprintf(list, "%s %s\n", it->serial, cert_serial);
			(*voided)++;
		}
		if (audit_commit(a) != 0) {
			fail(err, "%s", audit_error(a));
			goto cleanup;
		}
	}
	if (voided_event(a, batch_id, st.count - st.used, reason, actor) != 0) {
		fail(err, "%s", audit_error(a));
		goto cleanup;
	}
	ret = 0;
	goto cleanup;
rollback:
	audit_rollback(a);
cleanup:
	OPENSSL_cleanse(it, sizeof(*it));
	free(it);
	return ret;
}
