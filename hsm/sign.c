/*
 * sign.c: signatures over digests with the role keys (stamp signing,
 * audit checkpoints, export signing), made by the token.
 *
 * hsm_sign has the shape of the audit module's signing callback and gives
 * DER (X9.62 ECDSA-Sig-Value); the stamp's SIGNATURE record wants raw
 * r || s and a key id (SHA-256 of the signer's 65-byte public point),
 * which hsm_sign_rs and hsm_key_id give.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "hsm/internal.h"

int
hsm_sign(void *key, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	struct hsm_key *k = key;
	EVP_PKEY_CTX *pctx;
	int ret = -1;

	if ((pctx = EVP_PKEY_CTX_new(hsm_key_pkey(k), NULL)) == NULL ||
	    EVP_PKEY_sign_init(pctx) <= 0 ||
	    EVP_PKEY_sign(pctx, sig, sig_len, digest, 32) <= 0) {
		hsm_ossl(hsm_err_buf(hsm_key_hsm(k)), "signing in the token failed");
		goto cleanup;
	}
	ret = 0;
cleanup:
	EVP_PKEY_CTX_free(pctx);
	return ret;
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
	size_t len = 0;
	EVP_PKEY *pub = hsm_key_public(key);
	int ok;

	/* From the software copy: the token-backed EVP_PKEY is a legacy key
	 * that does not answer provider parameter queries. */
	ok = pub != NULL && EVP_PKEY_get_octet_string_param(pub,
	    OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len) == 1 &&
	    len == sizeof(point);
	EVP_PKEY_free(pub);
	if (!ok) {
		ERR_clear_error();
		hsm_set_error(hsm_key_hsm(key), "key '%s': a key id needs a P-256 "
		    "public point", hsm_key_label(key));
		return -1;
	}
	SHA256(point, sizeof(point), id);
	return 0;
}
