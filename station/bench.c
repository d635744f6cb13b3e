/*
 * bench.c: the life of one device on the bench (bench.h says the order).
 *
 * Why the steps are where they are:
 *   - Everything that can refuse a device without giving it an identity
 *     comes first (a stamp already active, the deny list, a hardware id
 *     that holds a live identity), so a refused device costs no serial.
 *   - Allocation is durable (identity_allocate commits) before the serial
 *     is used anywhere, and the token's count of the order follows it.
 *   - key_ready and issued are one transaction: the certificate is
 *     recorded before it leaves the station, and a crash between the two
 *     leaves nothing that recovery must tell apart.
 *   - `written` is durable before the commit request, so every active
 *     stamp has a record (a device that vanishes in between is
 *     `unconfirmed`, for the officer).
 * A certificate issued for a stamp that never became active is revoked
 * when the device fails: it must never be accepted anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "station/bench.h"
#include "station/bench_batch.h"
#include "station/bench_steps.h"
#include "station/deny.h"
#include "station/issue.h"
#include "station/label.h"
#include "station/seal.h"
#include "station/stamp_content.h"

double
bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
bench_say(struct bench_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* db_lock / db_unlock: the audit handle is one thread's at a time. The
 * time counted is the time holding it, not the wait for another
 * device's turn (that is in the wall time). */
void
bench_db_lock(struct bench *b, struct bench_result *r, double *t)
{
	pthread_mutex_lock(&b->db);
	*t = bench_now_ms();
	(void)r;
}

void
bench_db_unlock(struct bench *b, struct bench_result *r, double t)
{
	pthread_mutex_unlock(&b->db);
	r->t.db += bench_now_ms() - t;
}

/* batch_unused(b, serial, why): a batch identity whose stamp never became
 * active: its certificate is the issuing station's to revoke
 * (bench_batch.c), so it is reported for that station. 0 or -1. */
static int
batch_unused(struct bench *b, const char *serial, const char *why)
{
	struct audit_device *d = malloc(sizeof(*d));
	char id[BATCH_ID_MAX + 1];
	int ret = -1;

	if (d != NULL && audit_device_get(b->a, serial, d) == 0)
		ret = bench_batch_unused(b->a, b->actor, d, why, id);
	free(d);
	return ret;
}

int
bench_fail(struct bench *b, const char *serial, enum audit_state from,
    const char *why)
{
	struct audit_change c = { .to = AUDIT_FAILED };
	char reason[AUDIT_REASON_MAX + 1];

	snprintf(reason, sizeof(reason), "%s", why);
	c.reason = reason;
	if (audit_device_transition(b->a, serial, &c, b->actor, NULL, 0,
	    NULL) != 0)
		return -1;
	if (from != AUDIT_ISSUED && from != AUDIT_WRITTEN)
		return 0;
	if (b->batch_id != NULL)
		return batch_unused(b, serial, reason);
	c.reason = "cessationOfOperation: the stamp never became active on "
	    "the device";
	c.to = AUDIT_REVOKED;
	return audit_device_transition(b->a, serial, &c, b->actor, NULL, 0,
	    NULL);
}

/* fail(b, r, from, fmt, ...): the device failed: recorded, and the reason
 * for the operator in ${r}. */
static void
fail(struct bench *b, struct bench_result *r, enum audit_state from,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct bench *b, struct bench_result *r, enum audit_state from,
    const char *fmt, ...)
{
	va_list ap;
	double t;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	bench_db_lock(b, r, &t);
	if (bench_fail(b, r->serial, from, r->reason) != 0) {
		b->stop = BENCH_STATION_FAULT;
		snprintf(b->stop_reason, sizeof(b->stop_reason), "the audit "
		    "database failed: %s", audit_error(b->a));
	}
	bench_db_unlock(b, r, t);
}

void
bench_token_fault(struct bench *b, struct bench_result *r)
{
	if (strstr(r->reason, "token '") == NULL)
		return;
	pthread_mutex_lock(&b->db);
	if (b->stop == BENCH_GO) {
		b->stop = BENCH_STATION_FAULT;
		snprintf(b->stop_reason, sizeof(b->stop_reason), "the token "
		    "failed (device %s); the officer checks the token and starts "
		    "the run again", r->serial);
	}
	pthread_mutex_unlock(&b->db);
}

/* refuse(b, r, fmt, ...): a device refused before it had an identity:
 * event bench.refused (subject: its hardware id). Under b->db. */
static void
refuse(struct bench *b, struct bench_result *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct bench *b, struct bench_result *r, const char *fmt, ...)
{
	struct audit_field f[2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	f[0] = (struct audit_field){ "port", r->port, strlen(r->port) };
	f[1] = (struct audit_field){ "reason", r->reason, strlen(r->reason) };
	if (audit_append(b->a, b->actor, "bench.refused", r->hwid, f, 2,
	    NULL) != 0) {
		b->stop = BENCH_STATION_FAULT;
		snprintf(b->stop_reason, sizeof(b->stop_reason), "the audit "
		    "database failed: %s", audit_error(b->a));
	}
}

/* attest(b, s, info, r, point, res): the device's attestation (attest.h)
 * over USB, outside b->db, then recorded as device.attestation about its
 * hardware id (before allocation) or serial (${point}: the CSR's key).
 * Returns attest_device's 0 or 1; 1 also when it cannot be recorded. */
static int
attest(struct bench *b, struct flasher_session *s,
    const struct flasher_info *info, struct bench_result *r,
    const uint8_t *point, struct attest_result *res)
{
	double t = bench_now_ms();
	int rc = attest_device(b->attest, s, info, b->terms.product, point, res);

	r->t.usb += bench_now_ms() - t;
	bench_db_lock(b, r, &t);
	if (attest_record(b->a, b->actor, point ? r->serial : r->hwid,
	    b->terms.product, res) != 0) {
		b->stop = BENCH_STATION_FAULT;
		snprintf(b->stop_reason, sizeof(b->stop_reason), "the audit "
		    "database failed: %s", audit_error(b->a));
		snprintf(res->reason, sizeof(res->reason), "not recorded");
		rc = 1;
	}
	bench_db_unlock(b, r, t);
	return rc;
}

/* admit(b, s, info, r, res, k, cert, len, hex): the checks before an
 * identity (a stamp already active, the deny list, a hardware id in use,
 * the attestation into ${res}), then the allocation, or with --batch the
 * batch's next identity (key and certificate into ${k}, ${cert}, ${len},
 * ${hex}). 0: allocated; -1: refused (reason in ${r}). */
static int
admit(struct bench *b, struct flasher_session *s,
    const struct flasher_info *info, struct bench_result *r,
    struct attest_result *res, struct bench_key *k,
    uint8_t cert[static HSM_CERT_MAX], size_t *len,
    char hex[static ISSUE_CERT_SERIAL_MAX])
{
	struct audit_device *d = NULL;
	char msg[DENY_MSG_MAX];
	double t;
	int rc, ret = -1;

	memset(res, 0, sizeof(*res));
	bench_db_lock(b, r, &t);
	if (!b->restamp && flasher_info_stamped(info)) {
		refuse(b, r, "already stamped (stamp generation %u is active): "
		    "set it aside for the officer; the bench never stamps a "
		    "device twice", (unsigned)info->active_generation);
		goto out;
	}
	if ((rc = deny_check(b->a, r->hwid, NULL, NULL, msg)) != 0) {
		if (rc > 0)
			refuse(b, r, "denied: %s", msg);
		else
			bench_say(r, "not stamped: %s", msg);
		goto out;
	}
	if (b->keep != NULL) {
		/* same identity: the row is this device's own */
		snprintf(r->serial, sizeof(r->serial), "%s", b->keep->serial);
		snprintf(r->claim, sizeof(r->claim), "%s", b->keep->claim_id);
		ret = 0;
		goto out;
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		bench_say(r, "not stamped: out of memory");
		goto out;
	}
	if ((rc = audit_device_by_hardware(b->a, r->hwid, d)) == 0) {
		refuse(b, r, "hardware id already holds serial %s (state %s): "
		    "a cloned id or a device stamped before; set it aside for "
		    "the officer", d->serial, audit_state_name(d->state));
		goto out;
	}
	if (rc < 0) {
		bench_say(r, "not stamped: %s", audit_error(b->a));
		goto out;
	}
	if (attest_policy_enabled(b->attest)) {
		bench_db_unlock(b, r, t);
		rc = attest(b, s, info, r, NULL, res);
		bench_db_lock(b, r, &t);
		if (rc != 0) {
			refuse(b, r, "not genuine hardware: %s; set it aside for "
			    "the officer", res->reason);
			goto out;
		}
		/* another thread may have taken this hardware id meanwhile */
		if ((rc = audit_device_by_hardware(b->a, r->hwid, d)) == 0) {
			refuse(b, r, "hardware id already holds serial %s (state "
			    "%s): a cloned id; set it aside for the officer",
			    d->serial, audit_state_name(d->state));
			goto out;
		}
		if (rc < 0) {
			bench_say(r, "not stamped: %s", audit_error(b->a));
			goto out;
		}
	}
	if (b->stop != BENCH_GO) {
		bench_say(r, "not stamped: the run is stopping (%s)",
		    b->stop_reason);
		goto out;
	}
	ret = b->batch_id != NULL ? bench_batch_take(b, r, info, k, cert, len,
	    hex) : bench_allocate(b, r);
	if (ret == 0 && (rc = deny_check(b->a, NULL, r->serial, r->claim,
	    msg)) != 0) {
		struct audit_change c = { .to = AUDIT_VOIDED, .reason = msg };

		bench_say(r, "%s", rc > 0 ? msg : "deny list unreadable");
		if (audit_device_transition(b->a, r->serial, &c, b->actor, NULL,
		    0, NULL) != 0 || (b->batch_id != NULL &&
		    batch_unused(b, r->serial, msg) != 0))
			b->stop = BENCH_STATION_FAULT;
		ret = -1;
	}
out:
	free(d);
	bench_db_unlock(b, r, t);
	return ret;
}

/* record_issued(b, r, k, cert, len): key_ready and issued in one
 * transaction. 0 or -1 (reason in ${r}; the device failed). */
static int
record_issued(struct bench *b, struct bench_result *r,
    const struct bench_key *k, const uint8_t *cert, size_t len,
    const char *cert_serial)
{
	struct audit_change c = { .to = AUDIT_KEY_READY };
	double t;
	int ret = -1;

	c.public_key = k->spki;
	c.public_key_len = k->spki_len;
	bench_db_lock(b, r, &t);
	if (audit_begin(b->a) != 0)
		goto failed;
	if (audit_device_transition(b->a, r->serial, &c, b->actor, k->f,
	    k->nf, NULL) != 0)
		goto rollback;
	c = (struct audit_change){ .to = AUDIT_ISSUED, .cert_der = cert,
	    .cert_der_len = len, .cert_serial = cert_serial };
	if (audit_device_transition(b->a, r->serial, &c, b->actor, NULL, 0,
	    NULL) != 0 || audit_commit(b->a) != 0)
		goto rollback;
	ret = 0;
	goto out;
rollback:
	bench_say(r, "the certificate could not be recorded (%s); it never "
	    "left the station", audit_error(b->a));
	audit_rollback(b->a);
failed:
	if (r->reason[0] == '\0')
		bench_say(r, "audit database: %s", audit_error(b->a));
	if (bench_fail(b, r->serial, AUDIT_ALLOCATED, r->reason) != 0)
		b->stop = BENCH_STATION_FAULT;
out:
	bench_db_unlock(b, r, t);
	return ret;
}

/* issue(b, r, info, k, cert, len, hex): the certificate from the HSM. */
static int
issue(struct bench *b, struct bench_result *r, const struct flasher_info *info,
    const struct bench_key *k, uint8_t cert[static HSM_CERT_MAX],
    size_t *len, char hex[static ISSUE_CERT_SERIAL_MAX])
{
	struct hsm_device dev = { r->serial, info->hardware_id,
	    info->hardware_id_len };
	char herr[HSM_ERR_MAX];
	double t = bench_now_ms();
	int rc;

	*len = 0;
	rc = hsm_issue_der(b->ca, k->pub, &dev, cert, HSM_CERT_MAX, len, herr);
	if (rc == 0 && issue_cert_serial(cert, *len, hex) != 0) {
		snprintf(herr, sizeof(herr), "the new certificate does not "
		    "decode");
		rc = -1;
	}
	r->t.hsm += bench_now_ms() - t;
	if (rc != 0) {
		fail(b, r, AUDIT_ALLOCATED, "no certificate: %s", herr);
		bench_token_fault(b, r);
		return -1;
	}
	return record_issued(b, r, k, cert, *len, hex);
}

/* build(b, r, info, k, cert, len, image, ilen, digest, token): the
 * signed stamp. */
static int
build(struct bench *b, struct bench_result *r, const struct flasher_info *info,
    const struct bench_key *k, const uint8_t *cert, size_t len,
    struct bench_stamp *st)
{
	const struct station_config *cfg = b->cfg;
	struct label_device ld = { r->serial, r->claim, b->terms.product };
	struct stamp_content c = { 0 };
	char err[STAMP_CONTENT_ERR_MAX], lerr[LABEL_ERR_MAX];
	uint32_t gen = info->active_generation;
	double t = bench_now_ms();
	int rc;

	if (info->has_staged && info->staged_generation > gen)
		gen = info->staged_generation;
	st->generation = gen + 1;
	if (label_payload(cfg->label_qr_template, &ld, st->payload, lerr) != 0) {
		fail(b, r, AUDIT_ISSUED, "label payload: %s", lerr);
		return -1;
	}
	rc = hsm_random(b->h, st->token, sizeof(st->token));
	if (rc == 0 && cfg->stamp_pop_secret)
		rc = hsm_random(b->h, st->pop, sizeof(st->pop));
	r->t.hsm += bench_now_ms() - t;
	if (rc != 0) {
		fail(b, r, AUDIT_ISSUED, "provisioning token: %s",
		    hsm_error(b->h));
		bench_token_fault(b, r);
		return -1;
	}
	SHA256(st->token, sizeof(st->token), st->token_sha256);
	c.hardware_id = info->hardware_id;
	c.hardware_id_len = info->hardware_id_len;
	c.transport = info->transport_key;
	c.generation = st->generation;
	c.write_unit = info->write_unit == 32 ? 32 : cfg->stamp_write_unit;
	c.serial = r->serial;
	c.claim_id = r->claim;
	c.product = b->terms.product;
	c.manufacturer = cfg->device_organization;
	c.model = info->model;
	c.hw_revision = strcmp(cfg->stamp_hardware_revision, "none") == 0 ?
	    NULL : cfg->stamp_hardware_revision;
	c.time = (uint64_t)time(NULL);
	c.station_id = cfg->station_id;
	c.order_id = b->terms.order_id;
	c.barcode = st->payload;
	c.cert = cert;
	c.cert_len = len;
	c.chain = b->chain;
	c.chain_len = b->chain_len;
	c.key_reference = k->reference;
	c.wrapped_key = k->sealed_len ? k->sealed : NULL;
	c.wrapped_key_len = k->sealed_len;
	c.token = st->token;
	c.token_len = sizeof(st->token);
	c.pop = cfg->stamp_pop_secret ? st->pop : NULL;
	c.pop_len = sizeof(st->pop);
	c.app_key = b->app_key;
	c.app_key_len = b->app_key_len;
	c.claim_mode = strcmp(b->terms.claim_mode, "preclaimed") == 0 ?
	    STAMP_CLAIM_PRE : STAMP_CLAIM_USER;
	t = bench_now_ms();
	rc = stamp_content_build(&c, b->h, b->stamp_key, st->image,
	    sizeof(st->image), &st->len, st->digest, err);
	r->t.build += bench_now_ms() - t;
	if (rc != 0) {
		fail(b, r, AUDIT_ISSUED, "%s", err);
		bench_token_fault(b, r);
		return -1;
	}
	return 0;
}

/* write_stamp(b, s, r, info, st): stage, `written`, commit. 0: the
 * stamp is active; -1: failed (recorded). */
static int
write_stamp(struct bench *b, struct flasher_session *s,
    struct bench_result *r, const struct flasher_info *info,
    const struct bench_stamp *st, bench_step_fn *step, void *arg)
{
	char ferr[FLASHER_ERR_MAX];
	double t = bench_now_ms();
	int rc;

	step(arg, r->port, "writing stamp");
	rc = flasher_stage(s, info, st->image, st->len, ferr);
	r->t.usb += bench_now_ms() - t;
	if (rc != 0) {
		fail(b, r, AUDIT_ISSUED, "the stamp was not written (%s); the "
		    "identity is withdrawn: unplug the device and plug it in "
		    "again to retry", ferr);
		return -1;
	}
	if (bench_record_written(b, r, st) != 0)
		return -1;
	step(arg, r->port, "activating");
	t = bench_now_ms();
	rc = flasher_commit(s, info, st->digest, st->generation, ferr);
	r->t.usb += bench_now_ms() - t;
	if (rc == 0)
		return 0;
	return bench_commit_failed(b, s, r, st, ferr);
}

/* bind_key(b, s, info, r, k, first): device key mode, after the CSR: the
 * device attests its new key (when it attested before, or must), so the
 * identity key is the attested chip's. 0, or -1 (the device failed). */
static int
bind_key(struct bench *b, struct flasher_session *s,
    const struct flasher_info *info, struct bench_result *r,
    const struct bench_key *k, const struct attest_result *first)
{
	struct attest_result res;
	const unsigned char *point = NULL;
	int len = 0;

	if (!attest_policy_enabled(b->attest) ||
	    strcmp(b->terms.key_mode, "device") != 0 ||
	    (first->outcome != ATTEST_PASS && !first->required))
		return 0;
	if (X509_PUBKEY_get0_param(NULL, &point, &len, NULL, k->pub) != 1 ||
	    len != 65 || point[0] != 4) {
		fail(b, r, AUDIT_ALLOCATED, "the device's key is not a P-256 "
		    "point; it cannot be bound to its attestation");
		return -1;
	}
	if (attest(b, s, info, r, point, &res) != 0) {
		fail(b, r, AUDIT_ALLOCATED, "not genuine hardware: %s; set it "
		    "aside for the officer", res.reason);
		return -1;
	}
	return 0;
}

void
bench_device(struct bench *b, struct flasher *fl,
    const struct flasher_device *dev, bench_step_fn *step, void *arg,
    struct bench_result *r)
{
	struct flasher_session *s = NULL;
	struct flasher_info info;
	struct bench_key *k = NULL;
	struct bench_stamp *st = NULL;
	struct attest_result res;
	uint8_t cert[HSM_CERT_MAX];
	char ferr[FLASHER_ERR_MAX], hex[ISSUE_CERT_SERIAL_MAX];
	size_t cert_len;
	double start = bench_now_ms(), t;
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(r->port, sizeof(r->port), "%s", dev->path);
	snprintf(r->hwid, sizeof(r->hwid), "%s", dev->serial);
	step(arg, r->port, "reading");
	t = bench_now_ms();
	pthread_mutex_lock(&b->usb);
	rc = flasher_profile_check(dev, ferr) == 0 &&
	    flasher_session_open(fl, dev, &s, ferr) == 0;
	pthread_mutex_unlock(&b->usb);
	if (!rc || flasher_info(s, &info, ferr) != 0) {
		r->t.usb += bench_now_ms() - t;
		bench_say(r, "cannot read the device (%s): unplug it and plug "
		    "it in again", ferr);
		goto out;
	}
	r->t.usb += bench_now_ms() - t;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL) {
		bench_say(r, "not stamped: out of memory");
		goto out;
	}
	if (admit(b, s, &info, r, &res, k, cert, &cert_len, hex) != 0)
		goto out;
	if (b->batch_id == NULL) {
		step(arg, r->port, strcmp(b->terms.key_mode, "device") == 0 ?
		    "device keygen" : "token keygen");
		if (bench_key(b, s, r, &info, k) != 0 ||
		    bind_key(b, s, &info, r, k, &res) != 0)
			goto out;
		step(arg, r->port, "issuing");
		if (issue(b, r, &info, k, cert, &cert_len, hex) != 0)
			goto out;
	}
	if (build(b, r, &info, k, cert, cert_len, st) != 0 ||
	    write_stamp(b, s, r, &info, st, step, arg) != 0)
		goto out;
	if (b->cfg->stamp_lock) {
		step(arg, r->port, "locking");
		t = bench_now_ms();
		rc = flasher_lock(s, &info, ferr) == 0;
		r->t.usb += bench_now_ms() - t;
		if (!rc)
			bench_lock_failed(b, r, ferr);
	}
	step(arg, r->port, "label");
	bench_finish(b, r);
out:
	/* A device that vanished under its handle: libusb 1.0.26 aborts now
	 * and then in libusb_close of such a handle (usbi_mutex_destroy,
	 * seen with devices unplugged mid-transfer), so the handle is left
	 * open: a few hundred bytes per unplugged device, for the run. */
	if (strstr(r->reason, "disconnected") == NULL) {
		pthread_mutex_lock(&b->usb);
		flasher_session_close(s);
		pthread_mutex_unlock(&b->usb);
	}
	if (st != NULL)
		OPENSSL_clear_free(st, sizeof(*st));
	bench_key_free(k);
	r->ms = bench_now_ms() - start;
}
