/*
 * test_csr.c: CSR intake (hsm_csr_check) on requests made here with
 * OpenSSL: the good case per key type, and every rejection with its
 * message: forged signature, missing/stale/short/duplicated nonce,
 * unsupported curve, key type not configured, oversized, trailing bytes,
 * garbage, version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/hsm.h"

static const uint8_t nonce[HSM_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
#define ALL (HSM_KEY_P256 | HSM_KEY_P384 | HSM_KEY_ED25519)

/* make_csr(key, nonce, nonce_len, copies): DER CSR; caller frees. */
static size_t
make_csr(EVP_PKEY *key, const uint8_t *n, size_t nlen, int copies,
    uint8_t **der)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	ASN1_OBJECT *oid = OBJ_txt2obj(HSM_NONCE_OID, 1);
	int len;

	assert_non_null(req);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"CLAIM-SECRET-IGNORED", -1, -1, 0);
	X509_REQ_set_subject_name(req, name);
	X509_REQ_set_pubkey(req, key);
	for (int i = 0; i < copies; i++) {
		ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
		unsigned char *enc = NULL;
		int enc_len;

		ASN1_OCTET_STRING_set(inner, n, (int)nlen);
		enc_len = i2d_ASN1_OCTET_STRING(inner, &enc);
		ASN1_OCTET_STRING_set(value, enc, enc_len);
		sk_X509_EXTENSION_push(exts, X509_EXTENSION_create_by_OBJ(NULL,
		    oid, 0, value));
		OPENSSL_free(enc);
		ASN1_OCTET_STRING_free(inner);
		ASN1_OCTET_STRING_free(value);
	}
	if (copies > 0)
		X509_REQ_add_extensions(req, exts);
	assert_true(X509_REQ_sign(req, key, EVP_PKEY_is_a(key, "ED25519") ?
	    NULL : EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509_REQ(req, der);
	assert_true(len > 0);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OBJECT_free(oid);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return (size_t)len;
}

/* check(der, len, types, want): hsm_csr_check's result and message. */
static void
check(const uint8_t *der, size_t len, unsigned types, const char *want)
{
	char err[HSM_ERR_MAX] = "";
	X509_PUBKEY *pub = NULL;
	int rc = hsm_csr_check(der, len, nonce, types, &pub, err);

	if (want == NULL) {
		if (rc != 0)
			fail_msg("refused: %s", err);
		assert_non_null(pub);
	} else {
		assert_int_equal(rc, -1);
		assert_null(pub);
		assert_string_equal(err, want);
	}
	X509_PUBKEY_free(pub);
}

static void
good(const char *alg, const char *curve)
{
	EVP_PKEY *k = curve ? EVP_PKEY_Q_keygen(NULL, NULL, alg, curve) :
	    EVP_PKEY_Q_keygen(NULL, NULL, alg);
	uint8_t *der;
	size_t len = make_csr(k, nonce, sizeof(nonce), 1, &der);

	check(der, len, ALL, NULL);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

static void test_p256(void **s) { (void)s; good("EC", "P-256"); }

/* A P-256 point whose last byte is 0x00 (1 key in 256): the public key
 * handed back encodes exactly as in the CSR, and its certificate would
 * carry the whole point (OpenSSL 3.0's X509_PUBKEY_dup dropped it). */
static void
test_point_ending_in_zero(void **state)
{
	uint8_t point[65], *der = NULL, *want = NULL, *got = NULL;
	char err[HSM_ERR_MAX] = "";
	X509_PUBKEY *pub = NULL;
	X509_REQ *req;
	const uint8_t *p;
	EVP_PKEY *k = NULL;
	size_t plen = 0, len;
	int wlen, glen;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		EVP_PKEY_free(k);
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		assert_non_null(k);
		assert_int_equal(EVP_PKEY_get_octet_string_param(k, "pub", point,
		    sizeof(point), &plen), 1);
		if (point[64] == 0)
			break;
	}
	assert_int_equal(point[64], 0);
	len = make_csr(k, nonce, sizeof(nonce), 1, &der);
	assert_int_equal(hsm_csr_check(der, len, nonce, ALL, &pub, err), 0);
	p = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, (long)len));
	wlen = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &want);
	glen = i2d_X509_PUBKEY(pub, &got);
	assert_int_equal(wlen, 91);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, (size_t)wlen);
	OPENSSL_free(want);
	OPENSSL_free(got);
	X509_REQ_free(req);
	X509_PUBKEY_free(pub);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}
static void test_p384(void **s) { (void)s; good("EC", "P-384"); }
static void test_ed25519(void **s) { (void)s; good("ED25519", NULL); }

static void
test_refusals(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	uint8_t *der, other[HSM_NONCE_LEN] = { 9 };
	uint8_t big[HSM_CSR_MAX + 1] = { 0 }, junk[8] = { 0x30, 0x03, 1, 2, 3 };
	size_t len;

	(void)state;
	len = make_csr(k, nonce, sizeof(nonce), 0, &der);
	check(der, len, ALL, "CSR refused: no station nonce (extension "
	    HSM_NONCE_OID " in extensionRequest)");
	{
		/* NULL nonce (engineering issue from a file): accepted */
		char e[HSM_ERR_MAX];
		X509_PUBKEY *pub = NULL;

		assert_int_equal(hsm_csr_check(der, len, NULL, ALL, &pub, e), 0);
		assert_non_null(pub);
		X509_PUBKEY_free(pub);
	}
	OPENSSL_free(der);

	len = make_csr(k, other, sizeof(other), 1, &der);
	check(der, len, ALL, "CSR refused: its nonce is not the one this "
	    "station just sent (stale or replayed CSR)");
	OPENSSL_free(der);

	len = make_csr(k, nonce, 16, 1, &der);
	check(der, len, ALL, "CSR refused: the nonce is 16 bytes, expected 32");
	OPENSSL_free(der);

	len = make_csr(k, nonce, sizeof(nonce), 2, &der);
	check(der, len, ALL, "CSR refused: more than one nonce extension");
	OPENSSL_free(der);

	/* Forged: flip a bit of the signature (the last byte). */
	len = make_csr(k, nonce, sizeof(nonce), 1, &der);
	der[len - 1] ^= 1;
	check(der, len, ALL, "CSR refused: its signature does not verify (no "
	    "proof of possession of the key)");
	der[len - 1] ^= 1;
	/* Forged: change the nonce after signing. */
	{
		uint8_t *p = memmem(der, len, nonce, 9);

		assert_non_null(p);
		p[0] ^= 0xff;
		check(der, len, ALL, "CSR refused: its signature does not verify "
		    "(no proof of possession of the key)");
		p[0] ^= 0xff;
	}
	check(der, len, HSM_KEY_P384, "CSR refused: P-256 keys are not "
	    "accepted (accepted: P-384)");
	{
		uint8_t *longer = malloc(len + 1);

		memcpy(longer, der, len);
		longer[len] = 0;
		check(longer, len + 1, ALL, "CSR refused: 1 trailing bytes after "
		    "the request");
		free(longer);
	}
	OPENSSL_free(der);

	len = make_csr(k521, nonce, sizeof(nonce), 1, &der);
	check(der, len, ALL, "CSR refused: the key's algorithm or curve is not "
	    "supported (accepted: P-256, P-384, Ed25519)");
	OPENSSL_free(der);

	len = make_csr(rsa, nonce, sizeof(nonce), 1, &der);
	check(der, len, ALL, "CSR refused: the key's algorithm or curve is not "
	    "supported (accepted: P-256, P-384, Ed25519)");
	OPENSSL_free(der);

	check(big, sizeof(big), ALL, "CSR refused: 4097 bytes, more than the "
	    "4096 accepted");
	check(junk, sizeof(junk), ALL, "CSR refused: not a DER PKCS#10 request");
	check(junk, 0, ALL, "CSR refused: not a DER PKCS#10 request");
	EVP_PKEY_free(k);
	EVP_PKEY_free(k521);
	EVP_PKEY_free(rsa);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p256),
		cmocka_unit_test(test_point_ending_in_zero),
		cmocka_unit_test(test_p384),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
