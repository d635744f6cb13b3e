/*
 * keymode.c: the public entries of the token key mode and of re-wrapping
 * (stamp-format/SPEC.md section 2): the device key pair made and wrapped
 * inside the token by p11fn.c, its public point handed back as an
 * X509_PUBKEY for issuance; a device key sealed to the station's transport
 * key opened and sealed again to a device, inside the token.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "hsm/internal.h"

/*
 * hsm_point_ok(point): a P-256 point, on the curve. Checked on the host before
 * the token uses it in ECDH: a token need not check, and a point off the
 * curve or of small order would let its sender guess Z, the KEK, and so
 * the wrapped key.
 */
int
hsm_point_ok(const uint8_t point[static 65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
	int ok = p != NULL && point[0] == 0x04 &&
	    EC_POINT_oct2point(g, p, point, 65, NULL) == 1 &&
	    EC_POINT_is_on_curve(g, p, NULL) == 1 &&
	    EC_POINT_is_at_infinity(g, p) == 0;

	EC_POINT_free(p);
	EC_GROUP_free(g);
	ERR_clear_error();
	return ok;
}

int
hsm_keygen_sealed(struct hsm *h, enum hsm_key_type type,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, X509_PUBKEY **device_pub, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX])
{
	uint8_t point[97];
	size_t point_len = type == HSM_KEY_P384 ? 97 : 65;
	unsigned char *copy;
	X509_PUBKEY *pub;
	int curve = type == HSM_KEY_P384 ? NID_secp384r1 : NID_X9_62_prime256v1;

	*device_pub = NULL;
	*sealed_len = 0;
	if (type != HSM_KEY_P256 && type != HSM_KEY_P384) {
		hsm_fmt(err, "token key mode makes P-256 or P-384 device keys");
		return -1;
	}
	if (!hsm_point_ok(transport)) {
		hsm_fmt(err, "the transport key is not an uncompressed point on "
		    "P-256; nothing was sealed to it");
		return -1;
	}
	if (hsm_p11fn_keygen_sealed(h, type, transport, context_fn, arg, point,
	    point_len, sealed, cap, sealed_len, err) != 0)
		return -1;
	/* The algorithm and the point, not decoded into an EVP_PKEY: OpenSSL
	 * 3's decoder would cost more than the token's key generation. */
	if ((pub = X509_PUBKEY_new()) == NULL ||
	    (copy = OPENSSL_memdup(point, point_len)) == NULL) {
		hsm_fmt(err, "out of memory");
		goto fail;
	}
	if (X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
	    V_ASN1_OBJECT, OBJ_nid2obj(curve), copy, (int)point_len) != 1) {
		OPENSSL_free(copy);
		hsm_ossl(err, "cannot encode the device public key");
		goto fail;
	}
	*device_pub = pub;
	return 0;
fail:
	/* No partial output: the sealed key goes with the public key. */
	X509_PUBKEY_free(pub);
	OPENSSL_cleanse(sealed, cap);
	*sealed_len = 0;
	return -1;
}

/* pkey_of(spki): an EVP_PKEY for an EC X509_PUBKEY, also for one that
 * was never decoded (hsm_keygen_sealed's): from its curve and point. */
static EVP_PKEY *
pkey_of(const X509_PUBKEY *spki)
{
	EVP_PKEY *pkey = X509_PUBKEY_get0(spki), *out = NULL;
	EVP_PKEY_CTX *ctx;
	const unsigned char *point;
	const void *param;
	X509_ALGOR *alg;
	int point_len, ptype, nid;

	ERR_clear_error();
	if (pkey != NULL)
		return EVP_PKEY_up_ref(pkey) == 1 ? pkey : NULL;
	if (X509_PUBKEY_get0_param(NULL, &point, &point_len, &alg, spki) != 1)
		return NULL;
	X509_ALGOR_get0(NULL, &ptype, &param, alg);
	if (ptype != V_ASN1_OBJECT)
		return NULL;
	nid = OBJ_obj2nid(param);
	{
		OSSL_PARAM params[] = {
			OSSL_PARAM_utf8_string("group", (char *)(nid ==
			    NID_secp384r1 ? "P-384" : "P-256"), 0),
			OSSL_PARAM_octet_string("pub", (void *)point,
			    (size_t)point_len),
			OSSL_PARAM_END,
		};

		if (nid != NID_secp384r1 && nid != NID_X9_62_prime256v1)
			return NULL;
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
			return NULL;
		if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &out,
		    EVP_PKEY_PUBLIC_KEY, params) != 1)
			out = NULL;
		EVP_PKEY_CTX_free(ctx);
	}
	return out;
}

/* proof_ok(expect, proof): the raw ECDSA signature of the challenge
 * verifies with the public key ${expect}. */
static int
proof_ok(const X509_PUBKEY *expect, const struct hsm_proof *proof)
{
	EVP_PKEY *pub = pkey_of(expect);
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	size_t half = proof->sig_len / 2;
	int der_len = 0, ok = 0;

	if (pub == NULL || sig == NULL || half == 0 || proof->sig_len % 2 != 0)
		goto cleanup;
	r = BN_bin2bn(proof->sig, (int)half, NULL);
	s = BN_bin2bn(proof->sig + half, (int)half, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto cleanup;
	r = s = NULL;
	if ((der_len = i2d_ECDSA_SIG(sig, &der)) <= 0)
		goto cleanup;
	ok = (ctx = EVP_PKEY_CTX_new(pub, NULL)) != NULL &&
	    EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_verify(ctx, der, (size_t)der_len, proof->challenge,
	    sizeof(proof->challenge)) == 1;
cleanup:
	BN_free(r);
	BN_free(s);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pub);
	ERR_clear_error();
	return ok;
}

int
hsm_rewrap_sealed(struct hsm_key *station_key, const X509_PUBKEY *expect,
    const uint8_t *in,
    size_t in_len, hsm_seal_context_fn in_context_fn, void *in_arg,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static HSM_ERR_MAX])
{
	struct hsm_proof proof;
	const uint8_t *id;
	size_t id_len;

	*sealed_len = 0;
	/* E || C: a point, then an RFC 5649 wrap of at least two blocks. */
	if (in_len < 65 + 16 || in_len > HSM_SEALED_MAX || in[0] != 0x04 ||
	    (in_len - 65) % 8 != 0) {
		hsm_fmt(err, "re-wrap: the sealed device key is not a sealed "
		    "value (65-byte point, then 8k bytes, k >= 2; %zu bytes)",
		    in_len);
		return -1;
	}
	if (!hsm_point_ok(transport)) {
		hsm_fmt(err, "the transport key is not an uncompressed point on "
		    "P-256; nothing was sealed to it");
		return -1;
	}
	if (!hsm_point_ok(in)) {
		hsm_fmt(err, "re-wrap: the sealed device key's ephemeral point is "
		    "not on P-256");
		return -1;
	}
	id = hsm_key_ckid(station_key, &id_len);
	if (id_len == 0) {
		hsm_fmt(err, "re-wrap: station key '%s' has no CKA_ID",
		    hsm_key_label(station_key));
		return -1;
	}
	if (expect != NULL && hsm_key_type_of_spki(expect) != HSM_KEY_P256 &&
	    hsm_key_type_of_spki(expect) != HSM_KEY_P384) {
		hsm_fmt(err, "re-wrap: the certificate's key is not a P-256 or "
		    "P-384 key");
		return -1;
	}
	if (expect != NULL && RAND_bytes(proof.challenge,
	    sizeof(proof.challenge)) != 1) {
		hsm_ossl(err, "re-wrap: no random challenge");
		return -1;
	}
	if (hsm_p11fn_rewrap(hsm_key_hsm(station_key), id, id_len,
	    hsm_key_handle(station_key), expect != NULL ? &proof : NULL, in, in_len, in_context_fn, in_arg,
	    transport, context_fn, arg, sealed, cap, sealed_len, err) != 0)
		return -1;
	if (expect != NULL && !proof_ok(expect, &proof)) {
		OPENSSL_cleanse(sealed, cap);
		*sealed_len = 0;
		hsm_fmt(err, "re-wrap: the sealed device key does not belong to "
		    "the public key of its certificate (a batch mix-up?); nothing "
		    "was written");
		return -1;
	}
	return 0;
}
