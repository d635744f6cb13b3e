/*
 * sign.c: signatures over digests with the role keys (stamp signing,
 * audit checkpoints, export signing), made by the token.
 *
 * hsm_sign has the shape of the audit module's signing callback and gives
 * DER (X9.62 ECDSA-Sig-Value); the stamp's SIGNATURE record wants raw
 * r || s and a key id (SHA-256 of the signer's 65-byte public point),
 * which hsm_sign_rs and hsm_key_id give.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <p11-kit/pkcs11.h>

#include "hsm/internal.h"

int
hsm_sign_der(struct hsm_key *k, const char *what, const uint8_t *digest,
    size_t digest_len, uint8_t *sig, size_t *sig_len,
    char err[static HSM_ERR_MAX])
{
	EVP_PKEY_CTX *pctx = NULL;
	size_t cap = *sig_len;
	unsigned long rv = 0, first = 0;
	char op[128], reason[256] = "no detail";

	/* A lost session is tried once more: a signature is stateless. */
	for (int attempt = 0; attempt < 2; attempt++) {
		*sig_len = cap;
		if ((pctx = EVP_PKEY_CTX_new(hsm_key_pkey(k), NULL)) != NULL &&
		    EVP_PKEY_sign_init(pctx) > 0 &&
		    EVP_PKEY_sign(pctx, sig, sig_len, digest, digest_len) > 0) {
			EVP_PKEY_CTX_free(pctx);
			return 0;
		}
		EVP_PKEY_CTX_free(pctx);
		rv = hsm_ossl_take(&first);
		if (rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED)
			break;
	}
	OPENSSL_cleanse(sig, cap);
	*sig_len = 0;
	snprintf(op, sizeof(op), "%s with key '%s'", what, hsm_key_label(k));
	if (rv != 0) {
		hsm_p11_fail(err, hsm_key_hsm(k), op, rv);
	} else {
		if (first != 0)
			ERR_error_string_n(first, reason, sizeof(reason));
		hsm_fmt(err, "token '%s': %s failed (%s)",
		    hsm_token_label(hsm_key_hsm(k)), op, reason);
	}
	return -1;
}

int
hsm_sign(void *key, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	struct hsm_key *k = key;

	return hsm_sign_der(k, "signing", digest, 32, sig, sig_len,
	    hsm_err_buf(hsm_key_hsm(k)));
}

int
hsm_sign_rs(struct hsm_key *key, const uint8_t digest[32],
    uint8_t rs[static 64])
{
	uint8_t der[HSM_SIG_MAX];
	size_t len = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int ret = -1;

	if (hsm_sign(key, digest, der, &len) != 0)
		return -1;
	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL) {
		hsm_ossl(hsm_err_buf(hsm_key_hsm(key)), "the token's signature is "
		    "not an ECDSA signature");
		return -1;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) !=
	    32) {
		hsm_set_error(hsm_key_hsm(key), "raw r || s needs a P-256 key");
		goto cleanup;
	}
	ret = 0;
cleanup:
	ECDSA_SIG_free(sig);
	return ret;
}

int
hsm_key_id(struct hsm_key *key, uint8_t id[static 32])
{
	uint8_t point[65];

	if (hsm_key_point(key, point) != 0)
		return -1;
	SHA256(point, sizeof(point), id);
	return 0;
}

int
hsm_key_point(struct hsm_key *key, uint8_t point[static 65])
{
	size_t len = 0;
	EVP_PKEY *pub = hsm_key_public(key);
	int ok;

	/* From the software copy: the token-backed EVP_PKEY is a legacy key
	 * that does not answer provider parameter queries. */
	ok = pub != NULL && EVP_PKEY_get_octet_string_param(pub,
	    OSSL_PKEY_PARAM_PUB_KEY, point, 65, &len) == 1 && len == 65;
	EVP_PKEY_free(pub);
	if (!ok) {
		ERR_clear_error();
		hsm_set_error(hsm_key_hsm(key), "key '%s': a key id needs a P-256 "
		    "public point", hsm_key_label(key));
		return -1;
	}
	return 0;
}
