/*
 * attest.c: the [attestation] policy and the check of one device's
 * attestation (attest.h; the protocol is stamp-format/SPEC.md 5.5, what
 * it proves docs/ATTESTATION.md).
 *
 * The check, in the order SPEC.md gives: the answer reads (attest_parse);
 * it names this device's hardware id; the chain verifies with OpenSSL's
 * X.509 path validation to one of the vendor roots, at the current time;
 * the leaf may sign (key usage, when present, has digitalSignature) and
 * its key is P-256 and the signature over the signed bytes verifies
 * with it; the nonce is the one this station just sent; in device key
 * mode the attested key hash is SHA-256 of the CSR's point. Each failure
 * has its own sentence, naming the certificate where one is at fault, so
 * the operator's screen and the audit log say what was wrong.
 *
 * The nonce is 32 bytes from OpenSSL's CSPRNG, fresh per exchange: it is
 * not a secret, only unpredictable, so an answer cannot be prepared or
 * replayed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "stamp-format/stamp.h"
#include "station/attest.h"

struct attest_policy {
	X509_STORE *roots;          /* NULL: attestation not configured */
	bool required;
	char products[CONFIG_LIST_MAX + 1];  /* "none" or a comma list */
};

const char *
attest_outcome_name(enum attest_outcome o)
{
	return o == ATTEST_PASS ? "pass" : o == ATTEST_FAIL ? "fail" : "none";
}

/* The roots in ${file}; ${what} names where it was given, for messages. */
static int
load_roots(struct attest_policy *p, const char *what, const char *file,
    char err[static ATTEST_REASON_MAX])
{
	FILE *f = fopen(file, "r");
	X509 *x;
	int n = 0;

	if (f == NULL) {
		snprintf(err, ATTEST_REASON_MAX, "%s %s: cannot read it (a PEM "
		    "bundle of the chip vendors' root certificates)", what, file);
		return -1;
	}
	if ((p->roots = X509_STORE_new()) == NULL) {
		fclose(f);
		snprintf(err, ATTEST_REASON_MAX, "out of memory");
		return -1;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(p->roots, x) == 1)
			n++;
		X509_free(x);
	}
	fclose(f);
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, ATTEST_REASON_MAX, "%s %s holds no PEM certificate",
		    what, file);
		return -1;
	}
	return 0;
}

int
attest_policy_open(const struct station_config *cfg,
    struct attest_policy **out, char err[static ATTEST_REASON_MAX])
{
	struct attest_policy *p = calloc(1, sizeof(*p));
	bool listed = strcmp(cfg->attestation_required_products, "none") != 0;

	*out = NULL;
	if (p == NULL) {
		snprintf(err, ATTEST_REASON_MAX, "out of memory");
		return -1;
	}
	p->required = cfg->attestation_required;
	snprintf(p->products, sizeof(p->products), "%s",
	    cfg->attestation_required_products);
	if (cfg->attestation_roots[0] == '\0') {
		if (p->required || listed) {
			snprintf(err, ATTEST_REASON_MAX, "%s: [attestation] %s needs "
			    "[attestation] roots (the vendor root certificates "
			    "to check devices against)", cfg->file, p->required ?
			    "required = yes" : "required_products");
			free(p);
			return -2;
		}
		*out = p;
		return 0;
	}
	if (load_roots(p, "[attestation] roots", cfg->attestation_roots,
	    err) != 0) {
		attest_policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int
attest_policy_roots(const char *file, struct attest_policy **out,
    char err[static ATTEST_REASON_MAX])
{
	struct attest_policy *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL) {
		snprintf(err, ATTEST_REASON_MAX, "out of memory");
		return -1;
	}
	snprintf(p->products, sizeof(p->products), "none");
	if (load_roots(p, "--roots", file, err) != 0) {
		attest_policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void
attest_policy_free(struct attest_policy *p)
{
	if (p == NULL)
		return;
	X509_STORE_free(p->roots);
	free(p);
}

bool
attest_policy_enabled(const struct attest_policy *p)
{
	return p != NULL && p->roots != NULL;
}

bool
attest_required(const struct attest_policy *p, const char *product)
{
	const char *at;
	size_t n;

	if (p == NULL)
		return false;
	if (p->required)
		return true;
	if (product == NULL || *product == '\0' || strcmp(p->products, "none") == 0)
		return false;
	for (at = p->products; *at != '\0'; at += n + (at[n] == ',')) {
		while (*at == ' ')
			at++;
		n = strcspn(at, ",");
		size_t m = n;
		while (m > 0 && at[m - 1] == ' ')
			m--;
		if (m == strlen(product) && memcmp(at, product, m) == 0)
			return true;
	}
	return false;
}

static void
name_of(const X509_NAME *name, char out[static ATTEST_SUBJECT_MAX])
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)
	    >= 0 && (n = BIO_get_mem_data(b, &data)) > 0)
		snprintf(out, ATTEST_SUBJECT_MAX, "%.*s", (int)n, data);
	BIO_free(b);
}

static void
time_of(const ASN1_TIME *t, char out[32])
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, 32, "(unreadable)");
}

static int
fail(struct attest_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct attest_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	res->outcome = ATTEST_FAIL;
	return 1;
}

/* Why path validation failed, in the operator's words. */
static int
chain_failed(X509_STORE_CTX *ctx, struct attest_result *res)
{
	int e = X509_STORE_CTX_get_error(ctx);
	X509 *at = X509_STORE_CTX_get_current_cert(ctx);
	char who[ATTEST_SUBJECT_MAX] = "", issuer[ATTEST_SUBJECT_MAX] = "";
	char when[32];

	if (at != NULL) {
		name_of(X509_get_subject_name(at), who);
		name_of(X509_get_issuer_name(at), issuer);
	}
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		time_of(X509_get0_notAfter(at), when);
		return fail(res, "attestation certificate '%s' has expired "
		    "(notAfter %s)", who, when);
	case X509_V_ERR_CERT_NOT_YET_VALID:
		time_of(X509_get0_notBefore(at), when);
		return fail(res, "attestation certificate '%s' is not valid "
		    "before %s (check the station's clock)", who, when);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return fail(res, "attestation chain of '%s' does not lead to a "
		    "configured vendor root ([attestation] roots): issuer '%s' "
		    "unknown", res->chain, issuer);
	default:
		return fail(res, "attestation chain of '%s' is not valid: %s "
		    "(certificate %d)", res->chain,
		    X509_verify_cert_error_string(e),
		    X509_STORE_CTX_get_error_depth(ctx) + 1);
	}
}

/* The chain of ${ev} against the roots; the leaf's key into *${key}. */
static int
check_chain(const struct attest_policy *p, const struct attest_evidence *ev,
    EVP_PKEY **key, struct attest_result *res)
{
	STACK_OF(X509) *more = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *certs[ATTEST_CHAIN_MAX] = { NULL };
	STACK_OF(X509) *chain;
	int ret = 1;

	if (more == NULL || ctx == NULL) {
		fail(res, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ev->ncerts; i++) {
		const uint8_t *q = ev->cert[i];
		certs[i] = d2i_X509(NULL, &q, (long)ev->cert_len[i]);
		if (certs[i] == NULL || q != ev->cert[i] + ev->cert_len[i]) {
			fail(res, "attestation certificate %zu of %zu is not one "
			    "DER X.509 certificate", i + 1, ev->ncerts);
			goto out;
		}
		if (i > 0 && !sk_X509_push(more, certs[i])) {
			fail(res, "out of memory");
			goto out;
		}
	}
	name_of(X509_get_subject_name(certs[0]), res->chain);
	if (X509_STORE_CTX_init(ctx, p->roots, certs[0], more) != 1) {
		fail(res, "out of memory");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		chain_failed(ctx, res);
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	name_of(X509_get_subject_name(sk_X509_value(chain,
	    sk_X509_num(chain) - 1)), res->root);
	if (!(X509_get_key_usage(certs[0]) & KU_DIGITAL_SIGNATURE)) {
		fail(res, "attestation certificate '%s' may not sign (its key "
		    "usage lacks digitalSignature)", res->chain);
		goto out;
	}
	if ((*key = X509_get_pubkey(certs[0])) == NULL ||
	    !EVP_PKEY_is_a(*key, "EC") || EVP_PKEY_get_bits(*key) != 256) {
		fail(res, "attestation key of '%s' is not an ECDSA P-256 key",
		    res->chain);
		goto out;
	}
	ret = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(more);
	for (size_t i = 0; i < ATTEST_CHAIN_MAX; i++)
		X509_free(certs[i]);
	ERR_clear_error();
	return ret;
}

/* ECDSA P-256 r||s over SHA-256(${msg}) by ${key}: 0 verified, -1 not. */
static int
verify_sig(EVP_PKEY *key, const uint8_t *msg, size_t len,
    const uint8_t sig[64])
{
	uint8_t digest[32], *der = NULL;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	EVP_PKEY_CTX *ctx = NULL;
	int n, ret = -1;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, &der)) <= 0 || SHA256(msg, len, digest) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) != NULL &&
	    EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_verify(ctx, der, (size_t)n, digest, 32) == 1)
		ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	ERR_clear_error();
	return ret;
}

int
attest_verify(const struct attest_policy *p, const uint8_t *reply,
    size_t len, const uint8_t *hardware_id, size_t hwid_len,
    const uint8_t *nonce, size_t nonce_len, const uint8_t *key_point,
    struct attest_result *res)
{
	struct attest_evidence ev;
	uint8_t hash[32];
	EVP_PKEY *key = NULL;
	int ret = 1;

	memset(res, 0, sizeof(*res));
	res->outcome = ATTEST_FAIL;
	if (!attest_policy_enabled(p))
		return fail(res, "no vendor roots configured ([attestation] "
		    "roots)");
	if (attest_parse(reply, len, &ev, res->reason) != 0)
		return 1;
	if (hardware_id != NULL && (ev.hardware_id_len != hwid_len ||
	    memcmp(ev.hardware_id, hardware_id, hwid_len) != 0))
		return fail(res, "attestation answer names another hardware id "
		    "than the device's");
	if (check_chain(p, &ev, &key, res) != 0)
		goto out;
	if (verify_sig(key, reply, ev.signed_len, ev.sig) != 0) {
		fail(res, "attestation signature does not verify with the key "
		    "of '%s' (a forged or corrupted answer)", res->chain);
		goto out;
	}
	if (nonce != NULL && (ev.nonce_len != nonce_len ||
	    CRYPTO_memcmp(ev.nonce, nonce, nonce_len) != 0)) {
		fail(res, "attestation is signed over another nonce than the "
		    "one this station sent (a replayed answer)");
		goto out;
	}
	if (key_point != NULL) {
		if (ev.key_hash == NULL) {
			fail(res, "attestation does not cover the device's new "
			    "key (no ATTESTED_KEY)");
			goto out;
		}
		SHA256(key_point, 65, hash);
		if (CRYPTO_memcmp(hash, ev.key_hash, 32) != 0) {
			fail(res, "attestation covers another key than the one in "
			    "the device's CSR");
			goto out;
		}
		res->key_bound = true;
	}
	res->outcome = ATTEST_PASS;
	ret = 0;
out:
	EVP_PKEY_free(key);
	return ret;
}

int
attest_device(const struct attest_policy *p, struct flasher_session *s,
    const struct flasher_info *info, const char *product,
    const uint8_t *key_point, struct attest_result *res)
{
	uint8_t nonce[ATTEST_NONCE_LEN], *reply = NULL;
	size_t len = 0;
	bool required = attest_required(p, product);
	char err[FLASHER_ERR_MAX];

	memset(res, 0, sizeof(*res));
	res->outcome = ATTEST_NONE;
	res->required = required;
	if (!attest_policy_enabled(p))
		return 0;
	if (!(info->capabilities & STAMP_CAP_ATTEST) ||
	    info->attestation_certs == 0) {
		snprintf(res->reason, sizeof(res->reason), "device offers no "
		    "attestation");
		return required ? 1 : 0;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		fail(res, "no random nonce (OpenSSL RNG failed)");
	} else if (flasher_attest(s, info, nonce, sizeof(nonce),
	    key_point != NULL, &reply, &len, err) != 0) {
		fail(res, "attestation exchange failed: %s", err);
	} else {
		attest_verify(p, reply, len, info->hardware_id,
		    info->hardware_id_len, nonce, sizeof(nonce), key_point, res);
		res->required = required;
	}
	free(reply);
	return required && res->outcome != ATTEST_PASS ? 1 : 0;
}

int
attest_record(struct audit *a, const char *actor, const char *hardware_id,
    const char *product, const struct attest_result *res)
{
	struct audit_field f[7];
	const char *result = attest_outcome_name(res->outcome);
	const char *req = res->required ? "yes" : "no";
	const char *bound = res->key_bound ? "yes" : "no";
	size_t n = 0;

	f[n++] = (struct audit_field){ "result", result, strlen(result) };
	f[n++] = (struct audit_field){ "required", req, strlen(req) };
	f[n++] = (struct audit_field){ "key_bound", bound, strlen(bound) };
	if (res->chain[0])
		f[n++] = (struct audit_field){ "chain", res->chain,
		    strlen(res->chain) };
	if (res->root[0])
		f[n++] = (struct audit_field){ "root", res->root,
		    strlen(res->root) };
	if (res->reason[0])
		f[n++] = (struct audit_field){ "reason", res->reason,
		    strlen(res->reason) };
	if (product != NULL && product[0])
		f[n++] = (struct audit_field){ "product", product,
		    strlen(product) };
	return audit_device_note(a, actor, "device.attestation", hardware_id,
	    f, n);
}
