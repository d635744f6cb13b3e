/*
 * serve_device.c: what the LAN service's requests do (docs/LAN.md).
 *
 * POST /serialize {product, hardware_id}: a device's identity. In order:
 * the hardware id is checked against the deny list; a device already
 * holding a live identity (not failed, voided or revoked) for that
 * product gets the same answer again; otherwise the first of this
 * station's device-mode orders for the product that may allocate
 * (order_allocate_check: known, not expired, not used up, the token's
 * count not ahead) gives the next serial of its block, which the deny
 * list is asked about too, and the device is allocated with a claim ID
 * from the token's RNG (identity_allocate), then the token's count is
 * raised (order_allocated), exactly as at the USB bench. Every refusal
 * comes before the allocation, so a refused request leaves nothing.
 *
 * GET /nonce: 32 bytes from the token's RNG, remembered for [lan]
 * nonce_lifetime seconds, single use (serve_limits.c).
 *
 * POST /sign {hardware_id, csr}: the CSR intake of USB device mode: the
 * CSR is checked (hsm_csr_check: DER, size, signature, key type, the
 * nonce extension), then its nonce is used up (unknown, used or expired
 * ones are refused); the device must hold an identity from /serialize
 * in state allocated; key_ready is recorded (public key, nonce, CSR
 * hash), the sub-CA issues the certificate in the HSM (outside the
 * database lock: signatures run in parallel), issued is recorded, and
 * only then does the certificate go out, with the sub-CA certificate
 * after it (application/pem-certificate-chain). A device that asks again
 * with the same key (its answer was lost) gets the recorded certificate;
 * with another key it is refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "station/deny.h"
#include "station/identity.h"
#include "station/issue.h"
#include "station/serve.h"
#include "station/station.h"

#define CANDIDATES 16   /* orders of one product looked at */

void
serve_refuse(struct serve_reply *rep, unsigned status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	rep->status = status;
	rep->code = code;
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

int
serve_init(struct serve *s, const struct station_config *cfg, struct hsm *h,
    struct hsm_ca *ca, struct station_audit *sa)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	s->cfg = cfg;
	s->h = h;
	s->ca = ca;
	s->sa = sa;
	s->chain_pem = NULL;
	if (b == NULL || PEM_write_bio_X509(b, hsm_ca_cert(ca)) != 1 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0 ||
	    (s->chain_pem = malloc((size_t)n)) == NULL) {
		station_err("serve: cannot encode the sub-CA certificate");
		BIO_free(b);
		return -1;
	}
	memcpy(s->chain_pem, data, (size_t)n);
	s->chain_pem_len = (size_t)n;
	BIO_free(b);
	pthread_mutex_init(&s->db_lock, NULL);
	serve_nonces_init(&s->nonces, cfg->lan_nonce_lifetime);
	serve_limiter_init(&s->limiter, cfg->lan_client_rate,
	    cfg->lan_client_burst);
	atomic_init(&s->allocated, 0);
	atomic_init(&s->issued, 0);
	atomic_init(&s->nonces_given, 0);
	atomic_init(&s->refused, 0);
	return 0;
}

void
serve_fini(struct serve *s)
{
	serve_limiter_destroy(&s->limiter);
	serve_nonces_destroy(&s->nonces);
	pthread_mutex_destroy(&s->db_lock);
	free(s->chain_pem);
	s->chain_pem = NULL;
}

void
serve_reply_json(struct serve_reply *rep, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&rep->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		rep->body = NULL;
		serve_refuse(rep, 500, "internal", "out of memory");
		return;
	}
	rep->status = 200;
	rep->body_len = (size_t)n;
	rep->content_type = "application/json";
}

/* existing(s, r, d, rep): the device already holding the hardware id:
 * the same answer again if it is for the same product. */
static void
existing(struct serve *s, const struct serve_serialize_req *r,
    const struct audit_device *d, struct serve_reply *rep)
{
	struct order o;
	char err[ORDER_ERR_MAX], msg[DENY_MSG_MAX];
	int rc;

	if ((rc = deny_check(s->sa->a, NULL, d->serial, d->claim_id, msg)) != 0) {
		serve_refuse(rep, rc > 0 ? 403 : 500, rc > 0 ? "denied" :
		    "internal", "%s", msg);
		return;
	}
	if (d->order_id[0] == '\0' || (rc = order_load(s->sa->a, d->order_id,
	    &o, err)) != 0) {
		if (rc < 0)
			serve_refuse(rep, 500, "internal", "%s", err);
		else
			serve_refuse(rep, 409, "hardware_id_taken", "hardware "
			    "id %s is held by device %s, made outside an "
			    "order", r->hardware_id, d->serial);
		return;
	}
	if (strcmp(o.product, r->product) != 0) {
		serve_refuse(rep, 409, "hardware_id_taken", "hardware id %s is "
		    "held by device %s of product %s, not %s", r->hardware_id,
		    d->serial, o.product, r->product);
		return;
	}
	serve_reply_json(rep, "{\"id\": \"%s\", \"serial\": \"%s\"}\n", d->claim_id,
	    d->serial);
}

struct candidates {
	const char *product;
	size_t n;
	char id[CANDIDATES][AUDIT_TEXT_MAX + 1];
};

static int
collect(void *ctx, const struct audit_order *o)
{
	struct candidates *c = ctx;

	if (strcmp(o->product, c->product) == 0 && c->n < CANDIDATES)
		snprintf(c->id[c->n++], sizeof(c->id[0]), "%s", o->order_id);
	return 0;
}

/* pick(s, product, st, n, rep): the order to allocate from and the next
 * number of its block; -1 with the refusal in ${rep}. */
static int
pick(struct serve *s, const char *product, struct order_state *st,
    uint64_t *n, struct serve_reply *rep)
{
	struct candidates c = { .product = product, .n = 0 };
	enum order_problem problem = ORDER_OK, last = ORDER_OK;
	char err[ORDER_ERR_MAX] = "", why[ORDER_ERR_MAX] = "";

	if (audit_orders(s->sa->a, collect, &c) != 0) {
		serve_refuse(rep, 500, "internal", "%s", audit_error(s->sa->a));
		return -1;
	}
	for (size_t i = 0; i < c.n; i++) {
		if (order_allocate_check(s->sa->a, s->h, s->cfg->hsm_module,
		    c.id[i], time(NULL), st, n, &problem, err) != 0) {
			last = problem;
			snprintf(why, sizeof(why), "%s", err);
			continue;
		}
		if (strcmp(st->terms.key_mode, "device") == 0)
			return 0;
		last = ORDER_FAILED;
		snprintf(why, sizeof(why), "order %s for product %s is for key "
		    "mode %s; the LAN service serves device-mode orders only",
		    c.id[i], product, st->terms.key_mode);
	}
	if (c.n == 0)
		serve_refuse(rep, 404, "unknown_product", "station %s has no "
		    "order for product %s", s->cfg->station_id, product);
	else if (last == ORDER_USED_UP)
		serve_refuse(rep, 409, "order_used_up", "%s", why);
	else if (last == ORDER_EXPIRED)
		serve_refuse(rep, 409, "order_expired", "%s", why);
	else if (last == ORDER_FAILED && strstr(why, "key mode") != NULL)
		serve_refuse(rep, 409, "no_device_order", "%s", why);
	else
		serve_refuse(rep, 503, "order_unavailable", "%s: %s",
		    order_problem_name(last), why);
	return -1;
}

/* allocate(s, client, r, rep): under db_lock. */
static void
allocate(struct serve *s, const char *client,
    const struct serve_serialize_req *r, struct serve_reply *rep)
{
	struct audit *a = s->sa->a;
	struct audit_device *d = NULL;
	struct audit_allocation al = { 0 };
	struct order_state st;
	char msg[DENY_MSG_MAX], ierr[IDENTITY_ERR_MAX], oerr[ORDER_ERR_MAX];
	char serial[IDENTITY_SERIAL_MAX + 1], claim[IDENTITY_CLAIM_BUF];
	char who[AUDIT_ACTOR_MAX + 1];
	uint64_t n;
	int rc;

	if ((rc = deny_check(a, r->hardware_id, NULL, NULL, msg)) != 0) {
		serve_refuse(rep, rc > 0 ? 403 : 500, rc > 0 ? "denied" :
		    "internal", "%s", msg);
		return;
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		serve_refuse(rep, 500, "internal", "out of memory");
		return;
	}
	if ((rc = audit_device_by_hardware(a, r->hardware_id, d)) <= 0) {
		if (rc == 0)
			existing(s, r, d, rep);
		else
			serve_refuse(rep, 500, "internal", "%s", audit_error(a));
		goto cleanup;
	}
	if (pick(s, r->product, &st, &n, rep) != 0)
		goto cleanup;
	if (identity_serial(s->cfg->identity_serial_template, st.terms.product,
	    s->cfg->station_id, st.terms.order_id, n, serial, ierr) != 0) {
		serve_refuse(rep, 500, "internal", "[identity] %s", ierr);
		goto cleanup;
	}
	if ((rc = deny_check(a, NULL, serial, NULL, msg)) != 0) {
		serve_refuse(rep, rc > 0 ? 403 : 500, rc > 0 ? "denied" :
		    "internal", "%s", msg);
		goto cleanup;
	}
	al.serial = serial;
	al.hardware_id = r->hardware_id;
	al.order_id = st.terms.order_id;
	al.key_mode = st.terms.key_mode;
	snprintf(who, sizeof(who), "lan:%s", client);
	if (identity_allocate(a, &al, identity_hsm_rng, s->h,
	    s->cfg->identity_claim_length, s->cfg->identity_claim_check_symbol,
	    who, claim, NULL, ierr) != 0) {
		serve_refuse(rep, 500, "internal", "%s", ierr);
		goto cleanup;
	}
	atomic_fetch_add(&s->allocated, 1);
	/* The database holds the device now: the answer is the identity even
	 * if the token's count lags (order_allocate_check repairs that). */
	if (order_allocated(s->h, s->cfg->hsm_module, st.terms.order_id,
	    st.allocated + 1, oerr) != 0)
		station_err("serve: %s", oerr);
	serve_reply_json(rep, "{\"id\": \"%s\", \"serial\": \"%s\"}\n", claim, serial);
cleanup:
	free(d);
}

void
serve_serialize(struct serve *s, const char *client,
    const struct serve_serialize_req *r, struct serve_reply *rep)
{
	pthread_mutex_lock(&s->db_lock);
	allocate(s, client, r, rep);
	pthread_mutex_unlock(&s->db_lock);
}

void
serve_nonce(struct serve *s, struct serve_reply *rep)
{
	uint8_t nonce[HSM_NONCE_LEN];
	char hex[2 * HSM_NONCE_LEN + 1];

	if (hsm_random(s->h, nonce, sizeof(nonce)) != 0) {
		serve_refuse(rep, 500, "internal", "nonce: %s", hsm_error(s->h));
		return;
	}
	if (serve_nonce_put(&s->nonces, nonce, serve_now_ms()) != 0) {
		OPENSSL_cleanse(nonce, sizeof(nonce));
		serve_refuse(rep, 503, "busy", "%d nonces are outstanding; "
		    "retry in a few seconds", SERVE_NONCE_SLOTS);
		rep->retry_after = 5;
		return;
	}
	for (size_t i = 0; i < sizeof(nonce); i++)
		snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
	OPENSSL_cleanse(nonce, sizeof(nonce));
	atomic_fetch_add(&s->nonces_given, 1);
	serve_reply_json(rep, "{\"nonce\": \"%s\", \"expires_in\": %u}\n", hex,
	    s->cfg->lan_nonce_lifetime);
}
