/*
 * serve_sign.c: POST /sign, a device certificate for a device of the
 * LAN service, under the CSR intake rules of USB device mode
 * (docs/device-csr.md; the flow is described in serve_device.c).
 *
 * The CSR is judged before anything else (decode, nonce extension,
 * signature, key type), then its nonce is used up, then the device's
 * record decides: allocated -> key_ready (public key, nonce, CSR hash,
 * recorded) -> the sub-CA signs in the HSM, outside the database lock ->
 * issued (durable) -> the certificate and the sub-CA certificate go out.
 * A failure after key_ready leaves the device failed, with the reason,
 * as at the bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "station/deny.h"
#include "station/issue.h"
#include "station/serve.h"
#include "station/station.h"

/* One /sign request on its way. */
struct signing {
	const struct serve_sign_req *r;
	char who[AUDIT_ACTOR_MAX + 1];
	uint8_t nonce[HSM_NONCE_LEN];
	X509_PUBKEY *pub;
	uint8_t *spki;
	int spki_len;
	char serial[AUDIT_TEXT_MAX + 1];
	uint8_t cert[HSM_CERT_MAX];
	size_t cert_len;
	char cert_serial[ISSUE_CERT_SERIAL_MAX];
};

/* answer(s, g, rep): the certificate, then the sub-CA's, as PEM. */
static void
answer(struct serve *s, const struct signing *g, struct serve_reply *rep)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	if (b == NULL || PEM_write_bio(b, "CERTIFICATE", "", g->cert,
	    (long)g->cert_len) <= 0 ||
	    BIO_write(b, s->chain_pem, (int)s->chain_pem_len) <= 0 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0 ||
	    (rep->body = malloc((size_t)n)) == NULL) {
		serve_refuse(rep, 500, "internal", "cannot encode the "
		    "certificate of device %s as PEM; it is recorded "
		    "('station audit show --serial %s')", g->serial, g->serial);
		BIO_free(b);
		return;
	}
	memcpy(rep->body, data, (size_t)n);
	rep->body_len = (size_t)n;
	rep->status = 200;
	rep->content_type = "application/pem-certificate-chain";
	BIO_free(b);
}

/* fail(s, g, why): the device failed (under db_lock). */
static void
fail(struct serve *s, struct signing *g, const char *why)
{
	struct audit_change c = { .to = AUDIT_FAILED, .reason = why };

	if (audit_device_transition(s->sa->a, g->serial, &c, g->who, NULL, 0,
	    NULL) != 0)
		station_err("serve: device %s: cannot record it failed: %s",
		    g->serial, audit_error(s->sa->a));
}

/* key_ready(s, g, rep): under db_lock: the device's record decides. 0:
 * go on and issue; 1: ${rep} holds the answer (a refusal, or the
 * certificate recorded before for the same key). */
static int
key_ready(struct serve *s, struct signing *g, struct serve_reply *rep)
{
	struct audit *a = s->sa->a;
	struct audit_device *d = malloc(sizeof(*d));
	struct audit_change c = { .to = AUDIT_KEY_READY };
	struct audit_field kf[2];
	uint8_t csr_sha[32];
	char msg[DENY_MSG_MAX];
	int rc, ret = 1;

	if (d == NULL) {
		serve_refuse(rep, 500, "internal", "out of memory");
		return 1;
	}
	if ((rc = deny_check(a, g->r->hardware_id, NULL, NULL, msg)) != 0 ||
	    (rc = audit_device_by_hardware(a, g->r->hardware_id, d)) < 0 ||
	    (rc == 0 && (rc = deny_check(a, NULL, d->serial, d->claim_id,
	    msg)) != 0)) {
		if (rc > 0)
			serve_refuse(rep, 403, "denied", "%s", msg);
		else
			serve_refuse(rep, 500, "internal", "%s", msg[0] ? msg :
			    audit_error(a));
		goto cleanup;
	}
	if (rc == 1) {
		serve_refuse(rep, 409, "no_identity", "hardware id %s holds no "
		    "identity; POST /serialize first", g->r->hardware_id);
		goto cleanup;
	}
	snprintf(g->serial, sizeof(g->serial), "%s", d->serial);
	if (d->state != AUDIT_ALLOCATED) {
		if (d->cert_der_len > 0 && d->cert_der_len <= HSM_CERT_MAX &&
		    d->public_key_len == (size_t)g->spki_len &&
		    memcmp(d->public_key, g->spki, d->public_key_len) == 0) {
			memcpy(g->cert, d->cert_der, d->cert_der_len);
			g->cert_len = d->cert_der_len;
			answer(s, g, rep);
		} else
			serve_refuse(rep, 409, "already_issued", "device %s "
			    "(hardware id %s) is in state %s with another key; "
			    "a device gets one certificate", d->serial,
			    g->r->hardware_id, audit_state_name(d->state));
		goto cleanup;
	}
	if (EVP_Digest(g->r->csr, g->r->csr_len, csr_sha, NULL, EVP_sha256(),
	    NULL) != 1) {
		serve_refuse(rep, 500, "internal", "cannot hash the CSR");
		goto cleanup;
	}
	kf[0] = (struct audit_field){ "csr_nonce", g->nonce, HSM_NONCE_LEN };
	kf[1] = (struct audit_field){ "csr_sha256", csr_sha, sizeof(csr_sha) };
	c.public_key = g->spki;
	c.public_key_len = (size_t)g->spki_len;
	if (audit_device_transition(a, g->serial, &c, g->who, kf, 2, NULL) !=
	    0) {
		serve_refuse(rep, 500, "internal", "device %s: %s", g->serial,
		    audit_error(a));
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(d);
	return ret;
}

/* issue(s, g, rep): the HSM signs; then issued, under db_lock. */
static int
issue(struct serve *s, struct signing *g, struct serve_reply *rep)
{
	struct hsm_device dev = { g->serial, (const uint8_t *)g->r->hardware_id,
	    strlen(g->r->hardware_id) };
	struct audit_change c = { .to = AUDIT_ISSUED };
	char err[HSM_ERR_MAX], why[AUDIT_REASON_MAX + 1];
	int ret = -1;

	g->cert_len = 0;
	if (hsm_issue_der(s->ca, g->pub, &dev, g->cert, sizeof(g->cert),
	    &g->cert_len, err) != 0 || issue_cert_serial(g->cert, g->cert_len,
	    g->cert_serial) != 0) {
		snprintf(why, sizeof(why), "issue: %s", g->cert_len ? "the new "
		    "certificate does not decode" : err);
		pthread_mutex_lock(&s->db_lock);
		fail(s, g, why);
		pthread_mutex_unlock(&s->db_lock);
		serve_refuse(rep, 500, "internal", "device %s: %s", g->serial,
		    why);
		return -1;
	}
	c.cert_der = g->cert;
	c.cert_der_len = g->cert_len;
	c.cert_serial = g->cert_serial;
	pthread_mutex_lock(&s->db_lock);
	if (audit_device_transition(s->sa->a, g->serial, &c, g->who, NULL, 0,
	    NULL) != 0) {
		/* Not recorded: the certificate must not leave the station. */
		serve_refuse(rep, 500, "internal", "device %s: %s", g->serial,
		    audit_error(s->sa->a));
		fail(s, g, "the certificate could not be recorded; never "
		    "handed out");
	} else
		ret = 0;
	pthread_mutex_unlock(&s->db_lock);
	return ret;
}

void
serve_sign(struct serve *s, const char *client, const struct serve_sign_req *r,
    struct serve_reply *rep)
{
	struct signing *g = calloc(1, sizeof(*g));
	char msg[SERVE_MSG_MAX], err[HSM_ERR_MAX];
	int rc;

	if (g == NULL) {
		serve_refuse(rep, 500, "internal", "out of memory");
		return;
	}
	g->r = r;
	snprintf(g->who, sizeof(g->who), "lan:%s", client);
	if (serve_csr_nonce(r->csr, r->csr_len, g->nonce, msg) != 0) {
		serve_refuse(rep, 400, "bad_csr", "%s", msg);
		goto cleanup;
	}
	if (hsm_csr_check(r->csr, r->csr_len, g->nonce,
	    s->cfg->device_key_types, &g->pub, err) != 0) {
		serve_refuse(rep, 400, "bad_csr", "the CSR is refused: %s", err);
		goto cleanup;
	}
	if ((rc = serve_nonce_take(&s->nonces, g->nonce, serve_now_ms())) != 0) {
		if (rc > 0)
			serve_refuse(rep, 403, "nonce_expired", "the CSR's "
			    "nonce expired (a nonce is good for %u s); GET "
			    "/nonce and make a new CSR",
			    s->cfg->lan_nonce_lifetime);
		else
			serve_refuse(rep, 403, "bad_nonce", "the CSR's nonce "
			    "was not given out by this station or was used "
			    "already; GET /nonce and make a new CSR");
		goto cleanup;
	}
	if ((g->spki_len = i2d_X509_PUBKEY(g->pub, &g->spki)) <= 0) {
		serve_refuse(rep, 500, "internal", "cannot encode the CSR's key");
		goto cleanup;
	}
	pthread_mutex_lock(&s->db_lock);
	rc = key_ready(s, g, rep);
	pthread_mutex_unlock(&s->db_lock);
	if (rc != 0 || issue(s, g, rep) != 0)
		goto cleanup;
	atomic_fetch_add(&s->issued, 1);
	answer(s, g, rep);
cleanup:
	OPENSSL_free(g->spki);
	X509_PUBKEY_free(g->pub);
	OPENSSL_cleanse(g->nonce, sizeof(g->nonce));
	free(g);
}
