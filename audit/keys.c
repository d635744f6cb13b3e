/*
 * keys.c: the audit public key: loading a PEM, its key id (SHA-256 of the
 * SubjectPublicKeyInfo DER, like a certificate's key pin), and checking a
 * checkpoint signature over a SHA-256 digest. Verification needs nothing
 * but libcrypto and the PEM, so an officer can run it on any laptop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/internal.h"

void *
audit_key_load(const char *pem, uint8_t key_id[static AUDIT_HASH_LEN],
    char err[static AUDIT_ERR_MAX])
{
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	uint8_t *der = NULL;
	int len, type;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		snprintf(err, AUDIT_ERR_MAX, "not a PEM public key (expected "
		    "'-----BEGIN PUBLIC KEY-----')");
		goto fail;
	}
	type = EVP_PKEY_get_base_id(key);
	if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA) {
		snprintf(err, AUDIT_ERR_MAX, "unsupported audit key type (use "
		    "ECDSA, e.g. P-256, or RSA)");
		goto fail;
	}
	if ((len = i2d_PUBKEY(key, &der)) <= 0) {
		snprintf(err, AUDIT_ERR_MAX, "cannot encode the public key");
		goto fail;
	}
	audit_sha256(der, (size_t)len, key_id);
	OPENSSL_free(der);
	BIO_free(bio);
	return key;
fail:
	EVP_PKEY_free(key);
	BIO_free(bio);
	return NULL;
}

int
audit_keys_load(const char *pem, void *keys[], uint8_t ids[][AUDIT_HASH_LEN],
    size_t max, size_t *n, char err[static AUDIT_ERR_MAX])
{
	const char *p = pem;
	char *one;

	*n = 0;
	while ((p = strstr(p, "-----BEGIN")) != NULL) {
		const char *end = strstr(p, "-----END");

		if (end == NULL || (end = strchr(end + 8, '\n')) == NULL)
			end = p + strlen(p);
		if (*n == max) {
			snprintf(err, AUDIT_ERR_MAX, "more than %zu keys", max);
			goto fail;
		}
		if ((one = strndup(p, (size_t)(end - p))) == NULL) {
			snprintf(err, AUDIT_ERR_MAX, "out of memory");
			goto fail;
		}
		keys[*n] = audit_key_load(one, ids[*n], err);
		free(one);
		if (keys[*n] == NULL)
			goto fail;
		(*n)++;
		p = end;
	}
	if (*n == 0) {
		snprintf(err, AUDIT_ERR_MAX, "not a PEM public key (expected "
		    "'-----BEGIN PUBLIC KEY-----')");
		return -1;
	}
	return 0;
fail:
	while (*n > 0)
		audit_key_free(keys[--(*n)]);
	return -1;
}

void
audit_key_free(void *key)
{
	EVP_PKEY_free(key);
}

int
audit_sig_check(void *key, const uint8_t digest[static AUDIT_HASH_LEN],
    const uint8_t *sig, size_t len)
{
	EVP_PKEY_CTX *ctx;
	int ok = 0;

	if (len == 0 || (ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL)
		return -1;
	if (EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)
		ok = EVP_PKEY_verify(ctx, sig, len, digest, AUDIT_HASH_LEN) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
audit_sig_to_der(void *key, uint8_t *sig, size_t *len, size_t size)
{
	const uint8_t *p = sig;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;
	size_t half;
	int bits, dl, ret = -1;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
		return 0;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)*len)) != NULL &&
	    p == sig + *len) {
		ECDSA_SIG_free(es);
		return 0;  /* DER already */
	}
	ECDSA_SIG_free(es);
	es = NULL;
	bits = EVP_PKEY_get_bits(key);
	half = ((size_t)bits + 7) / 8;
	if (*len != 2 * half)
		return -1;
	if ((r = BN_bin2bn(sig, (int)half, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + half, (int)half, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto cleanup;
	r = s = NULL;
	if ((dl = i2d_ECDSA_SIG(es, &der)) <= 0 || (size_t)dl > size)
		goto cleanup;
	memcpy(sig, der, (size_t)dl);
	*len = (size_t)dl;
	ret = 0;
cleanup:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ret;
}
