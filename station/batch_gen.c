/*
 * batch_gen.c: `station batch generate`: identities in bulk.
 *
 * Worker threads (--threads) each hold a sealer (hsm/sealer.c) and make
 * identity i: its serial from the order's block, a device key in the
 * token sealed to the receiving station's transport key, the device
 * certificate signed by the sub-CA in the token. The main thread takes
 * them in groups (at least BATCH_GROUP, more when the workers are ahead:
 * group commit), in order: claim IDs from the token's RNG (one call per 64
 * bytes' worth), the three device records of each identity (allocated,
 * key_ready, issued; key mode "batch") in one durable transaction, the
 * order's count on the token (every TOKEN_EVERY), and only then the
 * identities' lines into the envelope. Workers run at most RING
 * identities ahead, so memory does not grow with the count, and the
 * database work of one group overlaps the token work of the next.
 *
 * A failure stops the run: the identities already recorded are voided
 * and their certificates revoked (batch.failed), the partial file is
 * removed. A run killed outright is retired by the next one
 * (batch_recover.c): batch.started comes before the first identity.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "station/batch_int.h"
#include "station/airgap.h"
#include "station/order.h"
#include "station/pin.h"
#include "station/pki.h"
#include "station/seal.h"
#include "station/station.h"
#include "station/station_audit.h"

#define RING 1024            /* identities in flight */
#define TOKEN_EVERY 1024     /* the token's order count follows every ... */

struct slot {
	struct batch_item it;
	uint8_t spki[128];
	size_t spki_len;
	char cert_serial[AUDIT_TEXT_MAX + 1];
	bool done;
};

struct gen {
	const struct station_config *cfg;
	struct hsm *h;
	struct hsm_ca *ca;
	struct order_state st;
	uint64_t first_n, count;
	uint8_t recipient[65];
	char batch_id[BATCH_ID_MAX + 1];
	pthread_mutex_t lock;
	pthread_cond_t more, ready;
	uint64_t next, limit;
	bool failed;
	char err[HSM_ERR_MAX + 128];
	struct slot *ring;
	uint8_t claim_rnd[64 * IDENTITY_CLAIM_MAX];
	char pin[HSM_PIN_MAX + 1];    /* for the key helpers, wiped at the end */
	size_t claim_used;
};

static void
set_failed(struct gen *g, const char *msg)
{
	pthread_mutex_lock(&g->lock);
	if (!g->failed)
		snprintf(g->err, sizeof(g->err), "%s", msg);
	g->failed = true;
	pthread_cond_broadcast(&g->more);
	pthread_cond_broadcast(&g->ready);
	pthread_mutex_unlock(&g->lock);
}

/* make(g, z, i, s): identity ${i} into slot ${s}. 0 or -1 (${err}). */
static int
make(struct gen *g, struct batch_keys *z, uint64_t i, struct slot *s,
    char err[static BATCH_ERR_MAX])
{
	char ierr[IDENTITY_ERR_MAX];
	uint8_t point[65], *p, *copy;
	X509_PUBKEY *pub = NULL;
	struct hsm_device dev = { s->it.serial, NULL, 0 };
	int n, ret = -1;

	s->it.index = i;
	if (identity_serial(g->cfg->identity_serial_template,
	    g->st.terms.product, g->cfg->station_id, g->st.terms.order_id,
	    g->first_n + i, s->it.serial, ierr) != 0) {
		snprintf(err, HSM_ERR_MAX, "%s", ierr);
		return -1;
	}
	if (batch_keys_next(z, point, s->it.sealed, sizeof(s->it.sealed),
	    &s->it.sealed_len, err) != 0)
		return -1;
	/* The algorithm and the point, not decoded (see hsm_keygen_sealed). */
	if ((pub = X509_PUBKEY_new()) == NULL ||
	    (copy = OPENSSL_memdup(point, 65)) == NULL) {
		snprintf(err, HSM_ERR_MAX, "out of memory");
		goto cleanup;
	}
	if (X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
	    V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), copy, 65) != 1) {
		OPENSSL_free(copy);
		snprintf(err, HSM_ERR_MAX, "cannot encode a device public key");
		goto cleanup;
	}
	if (hsm_issue_der(g->ca, pub, &dev, s->it.cert, sizeof(s->it.cert),
	    &s->it.cert_len, err) != 0)
		goto cleanup;
	p = s->spki;
	if ((n = i2d_X509_PUBKEY(pub, NULL)) <= 0 || n > (int)sizeof(s->spki) ||
	    i2d_X509_PUBKEY(pub, &p) != n ||
	    batch_cert_serial(s->it.cert, s->it.cert_len, s->cert_serial) != 0) {
		snprintf(err, HSM_ERR_MAX, "cannot encode device %s",
		    s->it.serial);
		goto cleanup;
	}
	s->spki_len = (size_t)n;
	ret = 0;
cleanup:
	X509_PUBKEY_free(pub);
	ERR_clear_error();
	return ret;
}

static void *
worker(void *arg)
{
	struct gen *g = arg;
	struct batch_keys *z = NULL;
	char err[BATCH_ERR_MAX];

	if (batch_keys_open(g->cfg->home, g->pin, g->recipient, g->count,
	    &z) != 0) {
		batch_keys_free(z);
		set_failed(g, "out of memory");
		return NULL;
	}
	for (;;) {
		uint64_t i;
		struct slot *s;

		pthread_mutex_lock(&g->lock);
		while (!g->failed && g->next < g->count && g->next >= g->limit)
			pthread_cond_wait(&g->more, &g->lock);
		if (g->failed || g->next >= g->count) {
			pthread_mutex_unlock(&g->lock);
			break;
		}
		i = g->next++;
		pthread_mutex_unlock(&g->lock);
		s = &g->ring[i % RING];
		if (make(g, z, i, s, err) != 0) {
			set_failed(g, err);
			break;
		}
		pthread_mutex_lock(&g->lock);
		s->done = true;
		pthread_cond_signal(&g->ready);
		pthread_mutex_unlock(&g->lock);
	}
	batch_keys_free(z);
	return NULL;
}

/* claim_rng: identity_rng_fn over the group's bytes from the token. */
static int
claim_rng(void *ctx, uint8_t *buf, size_t len)
{
	struct gen *g = ctx;

	if (g->claim_used + len > sizeof(g->claim_rnd)) {
		if (hsm_random(g->h, g->claim_rnd, sizeof(g->claim_rnd)) != 0)
			return -1;
		g->claim_used = 0;
	}
	memcpy(buf, g->claim_rnd + g->claim_used, len);
	OPENSSL_cleanse(g->claim_rnd + g->claim_used, len);
	g->claim_used += len;
	return 0;
}

/* record(g, sa, s): the three device records of one identity. */
static int
record(struct gen *g, struct station_audit *sa, struct slot *s)
{
	struct audit_field extra = { "batch", g->batch_id, strlen(g->batch_id) };
	struct audit_allocation d = { s->it.serial, s->it.claim, NULL,
	    g->st.terms.order_id, BATCH_KEY_MODE };
	struct audit_change c = { .to = AUDIT_KEY_READY, .public_key = s->spki,
	    .public_key_len = s->spki_len };
	int tries = 0;

	/* A claim ID that collides with one recorded before is drawn again
	 * (the allocation is a savepoint: a failed one leaves nothing). */
	do {
		if (identity_claim_new(claim_rng, g, g->cfg->identity_claim_length,
		    g->cfg->identity_claim_check_symbol, s->it.claim) != 0) {
			snprintf(g->err, sizeof(g->err), "cannot draw a claim ID "
			    "from the token's RNG: %s", hsm_error(g->h));
			return -1;
		}
	} while (audit_device_allocate(sa->a, &d, sa->actor, &extra, 1,
	    NULL) != 0 && ++tries < 3);
	if (tries == 3 || audit_device_transition(sa->a, s->it.serial, &c,
	    sa->actor, NULL, 0, NULL) != 0)
		goto fail;
	c = (struct audit_change){ .to = AUDIT_ISSUED, .cert_der = s->it.cert,
	    .cert_der_len = s->it.cert_len, .cert_serial = s->cert_serial };
	if (audit_device_transition(sa->a, s->it.serial, &c, sa->actor, NULL,
	    0, NULL) != 0)
		goto fail;
	return 0;
fail:
	snprintf(g->err, sizeof(g->err), "cannot record device %s: %s",
	    s->it.serial, audit_error(sa->a));
	return -1;
}

/* group(g, sa, out, from, to): identities ${from}..${to} - 1 recorded in
 * one durable transaction, then written out. */
static int
group(struct gen *g, struct station_audit *sa, struct batch_out *out,
    uint64_t from, uint64_t to)
{
	char err[ORDER_ERR_MAX];

	if (audit_begin(sa->a) != 0) {
		snprintf(g->err, sizeof(g->err), "%s", audit_error(sa->a));
		return -1;
	}
	for (uint64_t i = from; i < to; i++) {
		if (record(g, sa, &g->ring[i % RING]) != 0) {
			audit_rollback(sa->a);
			return -1;
		}
	}
	if (audit_commit(sa->a) != 0) {
		snprintf(g->err, sizeof(g->err), "%s", audit_error(sa->a));
		return -1;
	}
	/* The token's count follows the database every TOKEN_EVERY
	 * identities and at the end (a token update costs SoftHSM ~30 ms);
	 * a crash leaves it behind, which the next allocation repairs. */
	if (to / TOKEN_EVERY != from / TOKEN_EVERY || to == g->count) {
		int rc;

		batch_keys_lock(true);
		rc = order_allocated(g->h, g->cfg->hsm_module,
		    g->st.terms.order_id, g->st.allocated + to, err);
		batch_keys_lock(false);
		if (rc != 0) {
			snprintf(g->err, sizeof(g->err), "%s", err);
			return -1;
		}
	}
	for (uint64_t i = from; i < to; i++)
		if (batch_out_item(out, &g->ring[i % RING].it) != 0) {
			snprintf(g->err, sizeof(g->err), "cannot write the batch");
			return -1;
		}
	return 0;
}

/*
 * run(g, sa, out, threads): the workers and the writer. The writer
 * commits what is ready, in order: at least BATCH_GROUP identities (or
 * what is left), and when the workers are ahead, everything they have
 * finished (up to RING / 2): group commit, so that the database keeps up
 * with any number of workers. How many identities were recorded goes to
 * ${*recorded}. 0 or -1 (g->err).
 */
static int
run(struct gen *g, struct station_audit *sa, struct batch_out *out,
    unsigned threads, uint64_t *recorded)
{
	pthread_t t[8];
	unsigned started = 0;
	uint64_t from = 0;
	int ret = 0;

	*recorded = 0;
	g->limit = g->count < RING ? g->count : RING;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, worker, g) != 0) {
			set_failed(g, "cannot start a worker thread");
			break;
		}
	while (from < g->count && ret == 0) {
		uint64_t want = from + BATCH_GROUP, to = from;

		if (want > g->count)
			want = g->count;
		pthread_mutex_lock(&g->lock);
		while (!g->failed && to < g->count && to < from + RING / 2 &&
		    (g->ring[to % RING].done || to < want)) {
			if (g->ring[to % RING].done)
				to++;
			else
				pthread_cond_wait(&g->ready, &g->lock);
		}
		ret = g->failed ? -1 : 0;
		pthread_mutex_unlock(&g->lock);
		if (ret == 0 && (ret = group(g, sa, out, from, to)) != 0)
			set_failed(g, g->err);
		if (ret == 0)
			*recorded = to;
		pthread_mutex_lock(&g->lock);
		for (uint64_t i = from; i < to; i++) {
			OPENSSL_cleanse(&g->ring[i % RING], sizeof(struct slot));
			g->ring[i % RING].done = false;
		}
		g->limit = to + RING < g->count ? to + RING : g->count;
		pthread_cond_broadcast(&g->more);
		pthread_mutex_unlock(&g->lock);
		from = to;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	return g->failed ? -1 : ret;
}

/* read_cert(file, what): a PEM certificate, reported if unreadable. */
static X509 *
read_cert(const char *file, const char *what)
{
	FILE *f = fopen(file, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (x == NULL)
		station_err("batch generate: cannot read %s %s", what, file);
	ERR_clear_error();
	return x;
}

/* open_token(cfg, pin_file, g): as pki_open, keeping the PIN for the key
 * helpers (batch_keys.c), which open the token in their own processes. */
static int
open_token(const struct station_config *cfg, const char *pin_file,
    struct gen *g)
{
	struct hsm_profile p;
	char err[HSM_ERR_MAX], network[AIRGAP_ERR_MAX];

	if (station_airgap_check(cfg, network) < 0) {
		station_err("%s", network);
		return -1;
	}
	if (cfg->hsm_softhsm_conf[0] != '\0')
		setenv("SOFTHSM2_CONF", cfg->hsm_softhsm_conf, 1);
	if (pin_read(cfg, pin_file, g->pin, err) != 0 ||
	    hsm_open(&g->h, cfg->hsm_module, cfg->hsm_token, g->pin, err) != 0) {
		station_err("%s", err);
		return -1;
	}
	pki_profile(cfg, &p);
	if (hsm_ca_open(&g->ca, g->h, cfg->pki_subca_key, cfg->pki_subca_cert,
	    cfg->pki_root_cert, &p, err) != 0) {
		station_err("sub-CA: %s", err);
		return -1;
	}
	return 0;
}

/* start(g, sa, r): the order's terms and room, the batch id. */
static int
start(struct gen *g, struct station_audit *sa, const struct batch_request *r)
{
	enum order_problem problem;
	char err[ORDER_ERR_MAX];

	if (order_allocate_check(sa->a, g->h, g->cfg->hsm_module, r->order_id,
	    time(NULL), &g->st, &g->first_n, &problem, err) != 0) {
		station_err("batch generate: %s", err);
		return -1;
	}
	if (strcmp(g->st.terms.key_mode, "token") != 0) {
		station_err("batch generate: order %s has key_mode %s; a batch "
		    "needs an order with key_mode token (its keys are made in "
		    "this token)", r->order_id, g->st.terms.key_mode);
		return -1;
	}
	if (g->st.left < r->count) {
		station_err("batch generate: order %s has %" PRIu64 " identities "
		    "left, %" PRIu64 " asked for", r->order_id, g->st.left,
		    r->count);
		return -1;
	}
	snprintf(g->batch_id, sizeof(g->batch_id), "%s.%" PRIu64,
	    r->order_id, g->first_n);
	return 0;
}

/* generated(g, sa, m, file): the event batch.generated. */
static int
generated(struct gen *g, struct station_audit *sa,
    const struct batch_manifest *m, const char *file)
{
	char subject[AUDIT_SUBJECT_MAX + 1], count[24], first[24], rk[65],
	    cs[65];
	struct audit_field f[] = {
		{ "content_sha256", cs, 64 }, { "count", count, 0 },
		{ "file", file, strlen(file) },
		{ "order_id", m->order_id, strlen(m->order_id) },
		{ "recipient_key", rk, 64 }, { "serial_first", first, 0 },
	};

	for (int i = 0; i < 32; i++) {
		snprintf(rk + 2 * i, 3, "%02x", m->recipient_key[i]);
		snprintf(cs + 2 * i, 3, "%02x", m->content_sha256[i]);
	}
	f[1].len = (size_t)snprintf(count, sizeof(count), "%" PRIu64, m->count);
	f[5].len = (size_t)snprintf(first, sizeof(first), "%" PRIu64,
	    m->serial_first);
	batch_subject(g->batch_id, subject);
	if (audit_append(sa->a, sa->actor, "batch.generated", subject, f,
	    sizeof(f) / sizeof(f[0]), NULL) != 0) {
		station_err("batch generate: %s", audit_error(sa->a));
		return -1;
	}
	return 0;
}

int
batch_generate(const struct station_config *cfg_in,
    const struct batch_request *r, struct batch_result *res)
{
	struct station_config *cfg = NULL;
	struct gen *g = NULL;
	struct station_audit *sa = NULL;
	struct batch_out *out = NULL;
	struct hsm_key *export_key;
	struct batch_manifest m = { 0 };
	X509 *for_cert = NULL, *signer = NULL;
	struct timespec t0, t1;
	uint64_t recorded = 0;
	struct batch_started started = { .seq = 0 };
	bool ok = false;
	int rc, ret = -1, lock = -1;

	memset(res, 0, sizeof(*res));
	if ((cfg = malloc(sizeof(*cfg))) == NULL ||
	    (g = calloc(1, sizeof(*g))) == NULL ||
	    (g->ring = calloc(RING, sizeof(*g->ring))) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	/* A batch identity's hardware id is not known yet: its certificate
	 * has no HardwareModuleName; the stamp binds the device. */
	*cfg = *cfg_in;
	cfg->device_hardware_module_name = false;
	g->cfg = cfg;
	g->count = r->count;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->more, NULL);
	pthread_cond_init(&g->ready, NULL);
	g->claim_used = sizeof(g->claim_rnd);
	if ((for_cert = batch_recipient_load(r->for_cert, g->recipient,
	    m.recipient_key)) == NULL) {
		ret = -2;
		goto cleanup;
	}
	if ((signer = read_cert(cfg->pki_export_cert, "the export "
	    "certificate")) == NULL)
		goto cleanup;
	if (open_token(cfg, r->pin_file, g) != 0 ||
	    pki_role_key(cfg, g->h, PKI_ROLE_EXPORT, &export_key) != 0)
		goto cleanup;
	if ((lock = station_lock(cfg, "batch generate")) < 0)
		goto cleanup;
	if ((rc = station_audit_open(cfg, g->h, "batch generate", false,
	    &sa)) != 0) {
		ret = rc == -2 ? -2 : -1;
		goto cleanup;
	}
	if (batch_gen_recover(sa) != 0 || start(g, sa, r) != 0 ||
	    batch_out_open(r->out, for_cert, &out) != 0)
		goto cleanup;
	if (batch_gen_started(sa, g->batch_id, g->st.terms.order_id,
	    g->first_n, r->count, r->out, &started) != 0)
		goto cleanup;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		char *ca_b64 = NULL;
		unsigned char *der = NULL;
		int n = i2d_X509(hsm_ca_cert(g->ca), &der);

		rc = n > 0 && (ca_b64 = batch_b64(der, (size_t)n)) != NULL &&
		    batch_out_text(out, "ca ", 3) == 0 &&
		    batch_out_text(out, ca_b64, strlen(ca_b64)) == 0 &&
		    batch_out_text(out, "\n", 1) == 0 ? 0 : -1;
		OPENSSL_free(der);
		free(ca_b64);
		if (rc != 0)
			goto cleanup;
	}
	if (run(g, sa, out, r->threads, &recorded) != 0) {
		station_err("batch generate: %s", g->err);
		goto cleanup;
	}
	snprintf(m.batch_id, sizeof(m.batch_id), "%s", g->batch_id);
	snprintf(m.order_id, sizeof(m.order_id), "%s", g->st.terms.order_id);
	snprintf(m.product, sizeof(m.product), "%s", g->st.terms.product);
	snprintf(m.generator, sizeof(m.generator), "%s", cfg->station_id);
	m.count = r->count;
	m.serial_first = g->first_n;
	m.created = (int64_t)time(NULL);
	rc = batch_out_finish(out, &m, signer, hsm_key_pkey(export_key));
	out = NULL;
	if (rc != 0 || generated(g, sa, &m, r->out) != 0)
		goto cleanup;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(res->batch_id, sizeof(res->batch_id), "%s", g->batch_id);
	res->count = r->count;
	res->serial_first = g->first_n;
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	{
		char ierr[IDENTITY_ERR_MAX];

		identity_serial(cfg->identity_serial_template,
		    g->st.terms.product, cfg->station_id, g->st.terms.order_id,
		    g->first_n, res->first, ierr);
		identity_serial(cfg->identity_serial_template,
		    g->st.terms.product, cfg->station_id, g->st.terms.order_id,
		    g->first_n + r->count - 1, res->last, ierr);
	}
	ok = true;
	ret = 0;
cleanup:
	batch_out_abort(out);
	if (!ok && started.seq != 0) {
		uint64_t revoked;

		if (batch_gen_retire(sa, &started, "batch.failed", &revoked) == 0 &&
		    recorded > 0)
			station_err("batch generate: the %" PRIu64 " identities "
			    "recorded before the failure were voided and their "
			    "certificates revoked; nothing was written to %s",
			    revoked, r->out);
	}
	if (lock >= 0)
		close(lock);
	if (station_audit_close(sa, ok) != 0 && ret == 0)
		ret = -1;
	if (g != NULL) {
		hsm_ca_free(g->ca);
		hsm_close(g->h);
		if (g->ring != NULL)
			OPENSSL_cleanse(g->ring, RING * sizeof(*g->ring));
		free(g->ring);
		pthread_mutex_destroy(&g->lock);
		pthread_cond_destroy(&g->more);
		pthread_cond_destroy(&g->ready);
		OPENSSL_cleanse(g, sizeof(*g));
	}
	free(g);
	free(cfg);
	X509_free(for_cert);
	X509_free(signer);
	return ret;
}
