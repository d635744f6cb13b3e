/*
 * bench_batch.c: the bench loop on identities of an imported batch
 * (`station run --batch ID`, docs/BATCHES.md).
 *
 * Instead of allocating a serial under an order and making a key and a
 * certificate, a device gets the next unused identity of the batch from
 * batch_take_next: in one durable transaction the identity is recorded as
 * a device of this station (allocated with the hardware id, key_ready,
 * issued; key mode "batch", no order of this station) and batch.taken is
 * appended, the key re-wrapped inside the token from this station's
 * transport key to the device's. The rest of the device's life (stamp
 * with the hardware id, signed here by the stamp key, with the batch's
 * issuing sub-CA as chain; DFU stage, `written`, commit, label, `done`)
 * is the one of token key mode.
 *
 * Such an identity's certificate was issued by the generator's sub-CA,
 * so this station can never revoke it (its CRL cannot list it and
 * `station export verify` checks that every revoked device is on it). An
 * identity whose stamp never became active is therefore failed or voided
 * here, never revoked, and reported with the event batch.unused (subject
 * "batch:ID": serial, cert_serial, why) for the officer to carry to the
 * issuing station (`station batch revoke` there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "station/batch_int.h"
#include "station/bench_batch.h"
#include "station/station.h"

/* product(ctx, e): the product named by batch.imported. */
static int
product(void *ctx, const struct audit_event *e)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	struct order *t = ctx;
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].key, "product") == 0 &&
		    d[i].len < sizeof(t->product)) {
			memcpy(t->product, d[i].value, d[i].len);
			t->product[d[i].len] = '\0';
		}
	return 0;
}

int
bench_batch_terms(struct audit *a, const char *batch_id, struct order *terms,
    char err[static BATCH_ERR_MAX])
{
	char subject[AUDIT_SUBJECT_MAX + 1];
	struct audit_filter f = { .kind = "batch.imported", .subject = subject };
	struct batch_status st;
	int rc;

	memset(terms, 0, sizeof(*terms));
	if ((rc = batch_status_get(a, batch_id, &st, err)) != 0) {
		if (rc > 0)
			snprintf(err, BATCH_ERR_MAX, "batch %s was not imported "
			    "here ('station batch status' lists the imported "
			    "batches)", batch_id);
		return rc;
	}
	if (st.left == 0) {
		snprintf(err, BATCH_ERR_MAX, "batch %s has no identities left "
		    "(%llu of %llu used%s)", batch_id,
		    (unsigned long long)st.used, (unsigned long long)st.count,
		    st.is_voided ? ", the rest voided" : "");
		return 1;
	}
	batch_subject(batch_id, subject);
	if (audit_events(a, &f, product, terms) < 0) {
		snprintf(err, BATCH_ERR_MAX, "%s", audit_error(a));
		return -1;
	}
	snprintf(terms->order_id, sizeof(terms->order_id), "%s", st.order_id);
	snprintf(terms->key_mode, sizeof(terms->key_mode), "%s",
	    BATCH_KEY_MODE);
	snprintf(terms->claim_mode, sizeof(terms->claim_mode), "user");
	terms->quantity = st.count;
	terms->expires = INT64_MAX;
	return 0;
}

int
bench_batch_chain(const char *home, const char *batch_id, uint8_t **der,
    size_t *len)
{
	char path[PATH_MAX];
	FILE *f;
	X509 *x = NULL;
	int n = -1;

	*der = NULL;
	snprintf(path, sizeof(path), "%s/batches/%s.ca.pem", home, batch_id);
	if ((f = fopen(path, "r")) == NULL) {
		station_err("run: batch %s: cannot open %s (kept by 'station "
		    "batch import'): %s", batch_id, path, strerror(errno));
		return -1;
	}
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		n = i2d_X509(x, der);
	fclose(f);
	X509_free(x);
	if (n <= 0) {
		station_err("run: batch %s: %s is not a PEM certificate",
		    batch_id, path);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int
bench_batch_take(struct bench *b, struct bench_result *r,
    const struct flasher_info *info, struct bench_key *k,
    uint8_t cert[static HSM_CERT_MAX], size_t *len,
    char hex[static ISSUE_CERT_SERIAL_MAX])
{
	struct batch_taken *out = calloc(1, sizeof(*out));
	char err[BATCH_ERR_MAX];
	int rc, ret = -1;

	if (out == NULL) {
		bench_say(r, "not stamped: out of memory");
		return -1;
	}
	rc = batch_take_next(b->a, b->cfg->home, b->transport_key, b->batch_id,
	    r->hwid, info->transport_key, b->actor, out, err);
	if (rc > 0) {
		b->stop = BENCH_ORDER_DONE;
		snprintf(b->stop_reason, sizeof(b->stop_reason), "%s", err);
	}
	if (rc != 0) {
		bench_say(r, "not stamped: %s", err);
		goto out;
	}
	snprintf(r->serial, sizeof(r->serial), "%s", out->serial);
	snprintf(r->claim, sizeof(r->claim), "%s", out->claim);
	b->allocated++;
	memcpy(cert, out->cert, out->cert_len);
	*len = out->cert_len;
	snprintf(hex, ISSUE_CERT_SERIAL_MAX, "%s", out->cert_serial);
	memcpy(k->sealed, out->sealed, out->sealed_len);
	k->sealed_len = out->sealed_len;
	ret = 0;
out:
	OPENSSL_clear_free(out, sizeof(*out));
	return ret;
}

/* batch_of(ctx, e): the "batch" detail of device.allocated. */
static int
batch_of(void *ctx, const struct audit_event *e)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	char *id = ctx;
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].key, "batch") == 0 && d[i].len <= BATCH_ID_MAX) {
			memcpy(id, d[i].value, d[i].len);
			id[d[i].len] = '\0';
		}
	return 0;
}

int
bench_batch_unused(struct audit *a, const char *actor,
    const struct audit_device *d, const char *why,
    char batch_id[static BATCH_ID_MAX + 1])
{
	struct audit_filter f = { .kind = "device.allocated",
	    .subject = d->serial };
	char subject[AUDIT_SUBJECT_MAX + 1];
	struct audit_field fl[3];

	batch_id[0] = '\0';
	if (audit_events(a, &f, batch_of, batch_id) < 0)
		return -1;
	if (batch_id[0] == '\0')
		snprintf(batch_id, BATCH_ID_MAX + 1, "unknown");
	fl[0] = (struct audit_field){ "cert_serial", d->cert_serial,
	    strlen(d->cert_serial) };
	fl[1] = (struct audit_field){ "serial", d->serial, strlen(d->serial) };
	fl[2] = (struct audit_field){ "why", why, strlen(why) };
	batch_subject(batch_id, subject);
	return audit_append(a, actor, "batch.unused", subject, fl, 3, NULL);
}

int
bench_batch_row(const struct audit_device *d)
{
	if (strcmp(d->key_mode, BATCH_KEY_MODE) != 0)
		return 0;
	return d->order_id[0] == '\0' ? 1 : 2;
}
