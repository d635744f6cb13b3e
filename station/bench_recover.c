/*
 * bench_recover.c: what a bench run does first, for devices that an
 * earlier run left in flight (ARCHITECTURE.md "The life of one device"):
 *   allocated, key_ready  -> voided: no certificate was made
 *   issued                -> voided, then revoked: the certificate exists
 *                            but its stamp was never staged
 *   written, unconfirmed  -> done if the device is attached and shows the
 *                            recorded stamp active (or staged: then it is
 *                            committed now); otherwise unconfirmed, for
 *                            the officer
 * Nothing is ever reused: a voided serial stays used.
 *
 * Rows of key mode "batch" (docs/BATCHES.md) come in two kinds:
 *   - with an order id: identities this station generated for a batch
 *     (`batch generate`). They stay `issued` here by design (shipped,
 *     stamped elsewhere): recovery leaves them alone entirely, in any
 *     state, or it would revoke every identity already shipped.
 *   - without an order id: identities taken here from an imported batch
 *     (batch_take_next: allocated, key_ready and issued in one
 *     transaction, so only `issued` is ever left). An `issued` one is
 *     voided but NOT revoked: its certificate is the generator's sub-CA's,
 *     which this station's CRL cannot list; it is reported (screen and
 *     event batch.unused, bench_batch.c) for the issuing station's
 *     officer to revoke there. `written` and `unconfirmed` ones are
 *     recovered like any other device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/bench_batch.h"
#include "station/bench_recover.h"
#include "station/bench_steps.h"

struct pending {
	struct audit_device *v;
	size_t n, cap;
};

static int
collect(void *ctx, const struct audit_device *d)
{
	struct pending *p = ctx;

	if (d->state != AUDIT_ALLOCATED && d->state != AUDIT_KEY_READY &&
	    d->state != AUDIT_ISSUED && d->state != AUDIT_WRITTEN &&
	    d->state != AUDIT_UNCONFIRMED)
		return 0;
	if (bench_batch_row(d) == 2)   /* generated here for a batch */
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		void *g = realloc(p->v, cap * sizeof(*p->v));

		if (g == NULL)
			return -1;
		p->v = g;
		p->cap = cap;
	}
	p->v[p->n++] = *d;
	return 0;
}

/* The stamp recorded with `written`: digest and generation. */
struct written {
	uint8_t digest[32];
	uint32_t generation;
	int found;
};

static int
find_written(void *ctx, const struct audit_event *e)
{
	struct written *w = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	char gen[16];
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, "stamp_sha256") == 0 && d[i].len == 32) {
			memcpy(w->digest, d[i].value, 32);
			w->found |= 1;
		}
		if (strcmp(d[i].key, "stamp_generation") == 0 &&
		    d[i].len < sizeof(gen)) {
			memcpy(gen, d[i].value, d[i].len);
			gen[d[i].len] = '\0';
			w->generation = (uint32_t)strtoul(gen, NULL, 10);
			w->found |= 2;
		}
	}
	return 0;
}

/* attached(fl, devs, n, d, w, why): 1 if the device of ${d} is attached
 * and its recorded stamp is active (committed now if it was staged). */
static int
attached(struct flasher *fl, const struct flasher_device *devs, size_t n,
    const struct audit_device *d, const struct written *w,
    char why[static FLASHER_ERR_MAX])
{
	struct flasher_session *s = NULL;
	struct flasher_info info;
	int ret = 0;

	snprintf(why, FLASHER_ERR_MAX, "the device is not attached");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(devs[i].serial, d->hardware_id) != 0)
			continue;
		if (flasher_session_open(fl, &devs[i], &s, why) != 0 ||
		    flasher_info(s, &info, why) != 0)
			break;
		if (info.active_generation == w->generation &&
		    memcmp(info.active_digest, w->digest, 32) == 0)
			ret = 1;
		else if (info.has_staged && info.staged_generation ==
		    w->generation && memcmp(info.staged_digest, w->digest,
		    32) == 0)
			ret = flasher_commit(s, &info, w->digest, w->generation,
			    why) == 0;
		else
			snprintf(why, FLASHER_ERR_MAX, "the attached device does "
			    "not hold the recorded stamp");
		break;
	}
	flasher_session_close(s);
	return ret;
}

static int
move(struct bench *b, const char *serial, enum audit_state to,
    const char *reason)
{
	struct audit_change c = { .to = to, .reason = reason };

	if (to == AUDIT_DONE)
		c.reason = NULL;
	return audit_device_transition(b->a, serial, &c, b->actor, NULL, 0,
	    NULL);
}

/* batch_issued(b, d, screen): an identity taken from an imported batch,
 * never staged: voided, not revoked, and reported for its issuer. */
static int
batch_issued(struct bench *b, const struct audit_device *d,
    struct run_screen *screen)
{
	static const char why[] = "recovery: taken from the batch but the "
	    "stamp was never written";
	char id[BATCH_ID_MAX + 1];

	if (audit_begin(b->a) != 0)
		return -1;
	if (move(b, d->serial, AUDIT_VOIDED, why) != 0 ||
	    bench_batch_unused(b->a, b->actor, d, why, id) != 0 ||
	    audit_commit(b->a) != 0) {
		audit_rollback(b->a);
		return -1;
	}
	run_screen_note(screen, "recovered %s: batch %s identity taken but "
	    "never stamped, now voided; its certificate %s was issued by the "
	    "batch's station: report it there for revocation ('station batch "
	    "revoke')", d->serial, id, d->cert_serial);
	return 0;
}

/* one(b, fl, devs, n, d, screen): recover one device. 0 or -1. */
static int
one(struct bench *b, struct flasher *fl, const struct flasher_device *devs,
    size_t n, const struct audit_device *d, struct run_screen *screen)
{
	struct audit_filter f = { .kind = "device.written",
	    .subject = d->serial };
	struct written w = { .found = 0 };
	char why[FLASHER_ERR_MAX], reason[AUDIT_REASON_MAX + 1];
	int rc = 0;

	switch (d->state) {
	case AUDIT_ALLOCATED:
	case AUDIT_KEY_READY:
		rc = move(b, d->serial, AUDIT_VOIDED, "recovery: the run was "
		    "interrupted before a certificate was issued");
		run_screen_note(screen, "recovered %s: was %s, now voided (no "
		    "certificate was issued)", d->serial,
		    audit_state_name(d->state));
		break;
	case AUDIT_ISSUED:
		if (bench_batch_row(d) == 1)
			return batch_issued(b, d, screen);
		rc = move(b, d->serial, AUDIT_VOIDED, "recovery: the certificate "
		    "was issued but the stamp was never written");
		if (rc == 0)
			rc = move(b, d->serial, AUDIT_REVOKED, "cessationOfOperation"
			    ": recovery: the stamp was never written");
		run_screen_note(screen, "recovered %s: was issued, now voided and "
		    "its certificate %s revoked", d->serial, d->cert_serial);
		break;
	default:
		if (audit_events(b->a, &f, find_written, &w) < 0)
			return -1;
		if (w.found == 3 && attached(fl, devs, n, d, &w, why)) {
			rc = move(b, d->serial, AUDIT_DONE, NULL);
			run_screen_note(screen, "recovered %s: was %s, the device "
			    "is attached with its stamp active: done", d->serial,
			    audit_state_name(d->state));
			break;
		}
		if (w.found != 3)
			snprintf(why, sizeof(why), "no stamp recorded");
		if (d->state == AUDIT_UNCONFIRMED) {
			run_screen_note(screen, "still unconfirmed %s (hardware id "
			    "%s): %s; the officer resolves it", d->serial,
			    d->hardware_id, why);
			break;
		}
		snprintf(reason, sizeof(reason), "recovery: %s", why);
		rc = move(b, d->serial, AUDIT_UNCONFIRMED, reason);
		run_screen_note(screen, "recovered %s: was written, now "
		    "unconfirmed (%s); the officer resolves it", d->serial, why);
		break;
	}
	return rc;
}

int
bench_recover(struct bench *b, struct flasher *fl, struct run_screen *screen,
    unsigned *count)
{
	struct pending p = { NULL, 0, 0 };
	struct flasher_device *devs = NULL;
	char ferr[FLASHER_ERR_MAX];
	size_t n = 0;
	int ret = -1;

	*count = 0;
	static const enum audit_state states[] = { AUDIT_ALLOCATED,
	    AUDIT_KEY_READY, AUDIT_ISSUED, AUDIT_WRITTEN, AUDIT_UNCONFIRMED };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (audit_devices(b->a, states[i], collect, &p) != 0) {
			run_screen_note(screen, "recovery: %s", audit_error(b->a));
			goto out;
		}
	if (p.n > 0 && flasher_list(fl, NULL, 0, &devs, &n, ferr) != 0) {
		run_screen_note(screen, "recovery: %s", ferr);
		goto out;
	}
	for (size_t i = 0; i < p.n; i++) {
		if (one(b, fl, devs, n, &p.v[i], screen) != 0) {
			run_screen_note(screen, "recovery of %s: %s", p.v[i].serial,
			    audit_error(b->a));
			goto out;
		}
		(*count)++;
	}
	ret = 0;
out:
	flasher_list_free(devs);
	free(p.v);
	return ret;
}
