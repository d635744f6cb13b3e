/*
 * bench_steps.c: steps of one device's life on the bench (bench.h): the
 * allocation under the order, the key pair by the order's key mode, the
 * `written` record, what a commit that did not confirm means, and the
 * label with `done`.
 *
 * Key modes:
 *   device  the device makes the key (alt csr) over a fresh 32-byte nonce
 *           from the token's RNG; the CSR's signature (proof of
 *           possession), key type and nonce are checked (hsm_csr_check);
 *           the stamp names the key with KEY_REFERENCE.
 *   token   the token makes the key and seals it to the device's
 *           transport key (hsm_keygen_sealed); the host never holds it.
 *   host    development only: OpenSSL makes it in this process
 *           (seal_host_keygen refuses a production station); recorded as
 *           such with the key's fingerprint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "station/bench_steps.h"
#include "station/seal.h"

/* quick_check(b, st, err): quantity and expiry from the run's own count
 * (the messages are order_allocate_check's). */
static int
quick_check(struct bench *b, struct order_state *st,
    char err[static ORDER_ERR_MAX])
{
	char when[32];

	memset(st, 0, sizeof(*st));
	st->terms = b->terms;
	st->allocated = b->allocated;
	if (b->allocated >= b->terms.quantity) {
		snprintf(err, ORDER_ERR_MAX, "order %s is used up: %llu of %llu "
		    "allocated; ask the brand owner for a new order",
		    b->terms.order_id, (unsigned long long)b->allocated,
		    (unsigned long long)b->terms.quantity);
		return -1;
	}
	if ((int64_t)time(NULL) >= b->terms.expires) {
		order_time_text(b->terms.expires, when);
		snprintf(err, ORDER_ERR_MAX, "order %s expired at %s; ask the "
		    "brand owner for a new order", b->terms.order_id, when);
		return -1;
	}
	return 0;
}

int
bench_allocate(struct bench *b, struct bench_result *r)
{
	const struct station_config *cfg = b->cfg;
	struct audit_allocation d = { 0 };
	struct order_state st;
	enum order_problem problem;
	char err[ORDER_ERR_MAX], ierr[IDENTITY_ERR_MAX];
	uint64_t n;
	int rc;

	/* The whole check (stored order, database, token) at the run's
	 * first allocation; then this run is the only writer of the order's
	 * count (one run per station, the lock file) and checks quantity and
	 * expiry from what it knows. */
	if (b->token_upto == 0) {
		if (order_allocate_check(b->a, b->h, cfg->hsm_module,
		    b->terms.order_id, time(NULL), &st, &n, &problem, err) != 0) {
			b->stop = problem == ORDER_FAILED ? BENCH_STATION_FAULT :
			    BENCH_ORDER_DONE;
			goto stop;
		}
	} else if (quick_check(b, &st, err) != 0) {
		b->stop = BENCH_ORDER_DONE;
		goto stop;
	}
	if (b->token_upto == 0 || b->cursor >= b->token_upto) {
		if ((rc = bench_reserve(b, &st, r, err)) != 0) {
			b->stop = rc > 0 ? BENCH_ORDER_DONE : BENCH_STATION_FAULT;
			goto stop;
		}
	}
	n = st.terms.serial_first + b->cursor++;
	if (identity_serial(cfg->identity_serial_template, st.terms.product,
	    cfg->station_id, st.terms.order_id, n, r->serial, ierr) != 0) {
		b->stop = BENCH_STATION_FAULT;
		snprintf(err, sizeof(err), "[identity] serial_template: %s", ierr);
		r->serial[0] = '\0';
		goto stop;
	}
	d.serial = r->serial;
	d.hardware_id = r->hwid;
	d.order_id = st.terms.order_id;
	d.key_mode = st.terms.key_mode;
	if (identity_allocate(b->a, &d, identity_hsm_rng, b->h,
	    cfg->identity_claim_length, cfg->identity_claim_check_symbol,
	    b->actor, r->claim, NULL, ierr) != 0) {
		b->stop = BENCH_STATION_FAULT;
		snprintf(err, sizeof(err), "%s", ierr);
		r->serial[0] = '\0';
		goto stop;
	}
	b->allocated = st.allocated + 1;
	return 0;
stop:
	snprintf(b->stop_reason, sizeof(b->stop_reason), "%s", err);
	bench_say(r, "not stamped: %s", err);
	return -1;
}

static void
hex(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* device_key: keygen request with a fresh nonce, the CSR checked. */
static int
device_key(struct bench *b, struct flasher_session *s, struct bench_result *r,
    const struct flasher_info *info, struct bench_key *k, char *why,
    size_t why_len)
{
	struct flasher_subject subj = { NULL, b->cfg->device_organization,
	    r->serial };
	uint8_t nonce[HSM_NONCE_LEN], *csr = NULL;
	char ferr[FLASHER_ERR_MAX], herr[HSM_ERR_MAX];
	size_t csr_len = 0;
	double t = bench_now_ms();
	int rc, ret = -1;

	rc = hsm_random(b->h, nonce, sizeof(nonce));
	r->t.hsm += bench_now_ms() - t;
	if (rc != 0) {
		snprintf(why, why_len, "no nonce: %s", hsm_error(b->h));
		return -1;
	}
	t = bench_now_ms();
	rc = flasher_csr(s, info, nonce, sizeof(nonce), &subj, &csr, &csr_len,
	    ferr);
	r->t.device += bench_now_ms() - t;
	if (rc != 0) {
		snprintf(why, why_len, "the device made no key (%s)", ferr);
		return -1;
	}
	t = bench_now_ms();
	rc = hsm_csr_check(csr, csr_len, nonce, b->cfg->device_key_types,
	    &k->pub, herr);
	r->t.hsm += bench_now_ms() - t;
	if (rc != 0) {
		snprintf(why, why_len, "the device's key request was refused "
		    "(%s): set the device aside (faulty or forged firmware)",
		    herr);
		goto out;
	}
	EVP_Digest(csr, csr_len, k->csr_sha256, NULL, EVP_sha256(), NULL);
	hex(nonce, sizeof(nonce), k->nonce_hex);
	k->reference = "device-keygen";
	k->f[0] = (struct audit_field){ "csr_nonce", k->nonce_hex,
	    strlen(k->nonce_hex) };
	k->f[1] = (struct audit_field){ "csr_sha256", k->csr_sha256, 32 };
	k->nf = 2;
	ret = 0;
out:
	free(csr);
	return ret;
}

int
bench_key(struct bench *b, struct flasher_session *s, struct bench_result *r,
    const struct flasher_info *info, struct bench_key *k)
{
	char why[BENCH_REASON_MAX], herr[HSM_ERR_MAX], serr[SEAL_ERR_MAX];
	const char *mode = b->terms.key_mode;
	uint8_t transport[65];
	double t;
	int len, rc;

	why[0] = '\0';
	memcpy(transport, info->transport_key, sizeof(transport));
	if (strcmp(mode, "device") == 0) {
		rc = device_key(b, s, r, info, k, why, sizeof(why));
	} else if (strcmp(mode, "token") == 0) {
		t = bench_now_ms();
		rc = hsm_keygen_sealed(b->h, HSM_KEY_P256, transport,
		    seal_context_key, transport, &k->pub, k->sealed,
		    sizeof(k->sealed), &k->sealed_len, herr);
		r->t.hsm += bench_now_ms() - t;
		if (rc != 0)
			snprintf(why, sizeof(why), "no key from the token: %s",
			    herr);
		k->f[0] = (struct audit_field){ "key_origin", "token", 5 };
		k->nf = 1;
	} else {
		t = bench_now_ms();
		rc = seal_host_keygen(b->cfg->mode, transport, &k->pub,
		    k->sealed, sizeof(k->sealed), &k->sealed_len,
		    k->fingerprint, serr);
		r->t.build += bench_now_ms() - t;
		if (rc != 0)
			snprintf(why, sizeof(why), "%s", serr);
		k->f[0] = (struct audit_field){ "key_fingerprint",
		    k->fingerprint, 32 };
		k->f[1] = (struct audit_field){ "key_origin",
		    SEAL_HOST_MODE_NOTE, strlen(SEAL_HOST_MODE_NOTE) };
		k->nf = 2;
	}
	if (rc == 0 && (len = i2d_X509_PUBKEY(k->pub, &k->spki)) > 0) {
		k->spki_len = (size_t)len;
		return 0;
	}
	if (rc == 0)
		snprintf(why, sizeof(why), "cannot encode the device's public "
		    "key");
	bench_say(r, "%s", why);
	t = bench_now_ms();
	pthread_mutex_lock(&b->db);
	if (bench_fail(b, r->serial, AUDIT_ALLOCATED, why) != 0)
		b->stop = BENCH_STATION_FAULT;
	pthread_mutex_unlock(&b->db);
	r->t.db += bench_now_ms() - t;
	if (strcmp(mode, "device") != 0 || strstr(why, "no nonce") != NULL)
		bench_token_fault(b, r);
	return -1;
}

void
bench_key_free(struct bench_key *k)
{
	if (k == NULL)
		return;
	X509_PUBKEY_free(k->pub);
	OPENSSL_free(k->spki);
	OPENSSL_clear_free(k, sizeof(*k));
}

int
bench_record_written(struct bench *b, struct bench_result *r,
    const struct bench_stamp *st)
{
	struct audit_change c = { .to = AUDIT_WRITTEN };
	struct audit_field f[5];
	char gen[16];
	const char *mode = b->terms.claim_mode;
	double t;
	int ret = 0;

	snprintf(gen, sizeof(gen), "%u", (unsigned)st->generation);
	f[0] = (struct audit_field){ "claim_mode", mode, strlen(mode) };
	f[1] = (struct audit_field){ "port", r->port, strlen(r->port) };
	f[2] = (struct audit_field){ "provisioning_token_sha256",
	    st->token_sha256, 32 };
	f[3] = (struct audit_field){ "stamp_generation", gen, strlen(gen) };
	f[4] = (struct audit_field){ "stamp_sha256", st->digest, 32 };
	bench_db_lock(b, r, &t);
	if (audit_device_transition(b->a, r->serial, &c, b->actor, f, 5,
	    NULL) != 0) {
		/* Not recorded: the stamp must not become active. */
		bench_say(r, "the stamp is written but could not be recorded "
		    "(%s); it was not activated", audit_error(b->a));
		if (bench_fail(b, r->serial, AUDIT_ISSUED, r->reason) != 0)
			b->stop = BENCH_STATION_FAULT;
		ret = -1;
	}
	bench_db_unlock(b, r, t);
	return ret;
}

int
bench_commit_failed(struct bench *b, struct flasher_session *s,
    struct bench_result *r, const struct bench_stamp *st, const char *why)
{
	struct audit_change c = { .to = AUDIT_UNCONFIRMED };
	struct flasher_info now;
	char ferr[FLASHER_ERR_MAX], reason[AUDIT_REASON_MAX + 1];
	double t = bench_now_ms();
	int rc;

	/* A device that went away answers nothing more; asking its dead
	 * handle again upsets libusb (an abort in libusb_close, seen). */
	rc = strstr(why, "disconnected") != NULL ? -1 :
	    flasher_info(s, &now, ferr);
	r->t.usb += bench_now_ms() - t;
	if (rc == 0 && now.active_generation == st->generation &&
	    memcmp(now.active_digest, st->digest, 32) == 0)
		return 0;       /* active after all: only the reply was lost */
	bench_db_lock(b, r, &t);
	if (rc != 0) {
		bench_say(r, "the device was lost while activating its stamp "
		    "(%s): set it aside for the officer (state unconfirmed)",
		    why);
		snprintf(reason, sizeof(reason), "device lost during commit: %s",
		    why);
		c.reason = reason;
		if (audit_device_transition(b->a, r->serial, &c, b->actor, NULL,
		    0, NULL) != 0)
			b->stop = BENCH_STATION_FAULT;
	} else {
		bench_say(r, "the device refused its stamp (%s): set it aside; "
		    "the certificate is %s", why, b->batch_id == NULL ?
		    "revoked" : "reported to the batch's station (batch.unused)");
		if (bench_fail(b, r->serial, AUDIT_WRITTEN, r->reason) != 0)
			b->stop = BENCH_STATION_FAULT;
	}
	bench_db_unlock(b, r, t);
	return -1;
}

void
bench_lock_failed(struct bench *b, struct bench_result *r, const char *why)
{
	struct audit_field f[2];
	double t;

	r->lock_failed = true;
	bench_say(r, "stamped, but the device did not lock (%s): set it aside "
	    "for the officer", why);
	f[0] = (struct audit_field){ "port", r->port, strlen(r->port) };
	f[1] = (struct audit_field){ "reason", why, strlen(why) };
	bench_db_lock(b, r, &t);
	if (audit_append(b->a, b->actor, "bench.lock_failed", r->serial, f, 2,
	    NULL) != 0)
		b->stop = BENCH_STATION_FAULT;
	bench_db_unlock(b, r, t);
}

/* confirm(b, r): read the scanned claim ID and compare. */
static void
confirm(struct bench *b, struct bench_result *r)
{
	char line[IDENTITY_TYPED_MAX + 2], got[IDENTITY_CLAIM_BUF];
	char ierr[IDENTITY_ERR_MAX];
	const char *kind = "label.confirmed";
	struct audit_field f[1];
	double t;

	pthread_mutex_lock(&b->confirm);
	fprintf(stderr, "scan the label of %s (port %s) and press Enter: ",
	    r->serial, r->port);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		line[0] = '\0';
	pthread_mutex_unlock(&b->confirm);
	if (identity_claim_normalise(line, b->cfg->identity_claim_length,
	    b->cfg->identity_claim_check_symbol, got, ierr) != 0) {
		bench_say(r, "the scanned label is not a claim ID (%s): check the "
		    "label; reprint with 'station label %s'", ierr, r->serial);
		kind = "label.mismatch";
	} else if (strcmp(got, r->claim) != 0) {
		bench_say(r, "the scanned label belongs to another device: stick "
		    "the label of %s on it (reprint with 'station label %s')",
		    r->serial, r->serial);
		kind = "label.mismatch";
	}
	f[0] = (struct audit_field){ "port", r->port, strlen(r->port) };
	bench_db_lock(b, r, &t);
	if (audit_append(b->a, b->actor, kind, r->serial, f, 1, NULL) != 0)
		b->stop = BENCH_STATION_FAULT;
	bench_db_unlock(b, r, t);
	r->label_ok = strcmp(kind, "label.confirmed") == 0;
}

void
bench_finish(struct bench *b, struct bench_result *r)
{
	struct label_device ld = { r->serial, r->claim, b->terms.product };
	struct label_files *files = calloc(1, sizeof(*files));
	struct audit_change c = { .to = AUDIT_DONE };
	struct audit_field f[1];
	char lerr[LABEL_ERR_MAX];
	double t;
	size_t nf = 0;

	r->label_ok = files != NULL && label_write(b->cfg, &ld, files, lerr) == 0;
	if (r->label_ok)
		f[nf++] = (struct audit_field){ "label", files->png,
		    strlen(files->png) };
	bench_db_lock(b, r, &t);
	if (audit_device_transition(b->a, r->serial, &c, b->actor, f, nf,
	    NULL) != 0) {
		/* The stamp is active and `written` is recorded: recovery
		 * finishes it when the device is seen again. */
		bench_say(r, "stamped, but 'done' could not be recorded (%s)",
		    audit_error(b->a));
		b->stop = BENCH_STATION_FAULT;
		bench_db_unlock(b, r, t);
		free(files);
		return;
	}
	bench_db_unlock(b, r, t);
	r->pass = !r->lock_failed;
	if (r->lock_failed)
		;       /* the reason says so; the label is printed */
	else if (!r->label_ok)
		bench_say(r, "stamped, but the label was not printed (%s): "
		    "reprint with 'station label %s'", files ? lerr :
		    "out of memory", r->serial);
	else if (b->confirm_label)
		confirm(b, r);
	free(files);
}
