/*
 * stamp_crypto.c: OpenSSL implementations of the stamp codec's crypto
 * callbacks (struct stamp_crypto): SHA-256, ECDSA P-256 verify against one
 * trusted signer key, ECDH P-256 (x-coordinate), two-block AES-256-ECB for
 * the secret KEK and RFC 5649 key wrap with padding. The scheme itself
 * (what is hashed, what the KEK is) lives in stamp.c; these are only the
 * primitives, the same ones the mbedTLS reference verifier provides.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "station/stamp_crypto.h"

static int
is_p256(EVP_PKEY *pkey)
{
	char group[32];
	size_t len = 0;

	return EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &len) == 1 && strcmp(group, "prime256v1") == 0;
}

int
stamp_ossl_point(EVP_PKEY *pkey, uint8_t out[65])
{
	size_t len = 0;

	if (!is_p256(pkey) || EVP_PKEY_get_octet_string_param(pkey,
	    OSSL_PKEY_PARAM_PUB_KEY, out, 65, &len) != 1 || len != 65 ||
	    out[0] != 4)
		return -1;
	return 0;
}

int
stamp_ossl_key_id(EVP_PKEY *pkey, uint8_t out[32])
{
	uint8_t point[65];

	if (stamp_ossl_point(pkey, point) != 0)
		return -1;
	SHA256(point, sizeof(point), out);
	return 0;
}

/* A public key from a 65-byte point, or NULL. */
static EVP_PKEY *
from_point(const uint8_t point[65])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		    (char *)"prime256v1", 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
		OSSL_PARAM_END,
	};
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;

	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static int
cb_sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
	(void)ctx;
	return SHA256(data, len, out) != NULL ? 0 : -1;
}

static int
cb_verify(void *ctx, const uint8_t key_id[32], const uint8_t digest[32],
    const uint8_t sig[64])
{
	struct stamp_ossl *o = ctx;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *der = NULL;
	int len, ret = -1;

	if (o->trust == NULL || CRYPTO_memcmp(key_id, o->trust_key_id, 32) != 0)
		return -1;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL)
		goto cleanup;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto cleanup;
	r = s = NULL;
	if ((len = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto cleanup;
	if ((pctx = EVP_PKEY_CTX_new(o->trust, NULL)) == NULL ||
	    EVP_PKEY_verify_init(pctx) != 1)
		goto cleanup;
	if (EVP_PKEY_verify(pctx, der, (size_t)len, digest, 32) == 1)
		ret = 0;
cleanup:
	EVP_PKEY_CTX_free(pctx);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ret;
}

/* x-coordinate of ${priv} * ${peer}. */
static int
derive(EVP_PKEY *priv, const uint8_t peer[65], uint8_t z[32])
{
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 32;
	int ret = -1;

	if ((pub = from_point(peer)) == NULL)
		return -1;
	if ((ctx = EVP_PKEY_CTX_new(priv, NULL)) != NULL &&
	    EVP_PKEY_derive_init(ctx) == 1 &&
	    EVP_PKEY_derive_set_peer(ctx, pub) == 1 &&
	    EVP_PKEY_derive(ctx, z, &len) == 1 && len == 32)
		ret = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pub);
	return ret;
}

static int
cb_ecdh(void *ctx, const uint8_t peer[65], uint8_t z[32])
{
	struct stamp_ossl *o = ctx;

	return o->device_key != NULL ? derive(o->device_key, peer, z) : -1;
}

static int
cb_ecdh_ephemeral(void *ctx, const uint8_t peer[65], uint8_t eph[65],
    uint8_t z[32])
{
	EVP_PKEY *key;
	int ret = -1;

	(void)ctx;
	if ((key = EVP_EC_gen("P-256")) == NULL)
		return -1;
	if (stamp_ossl_point(key, eph) == 0 && derive(key, peer, z) == 0)
		ret = 0;
	EVP_PKEY_free(key);
	return ret;
}

static int
cb_aes256_ecb(void *ctx, const uint8_t key[32], const uint8_t in[32],
    uint8_t out[32])
{
	EVP_CIPHER_CTX *c;
	int n = 0, ret = -1;

	(void)ctx;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_EncryptUpdate(c, out, &n, in, 32) == 1 && n == 32)
		ret = 0;
	EVP_CIPHER_CTX_free(c);
	return ret;
}

static int
kwp(int enc, const uint8_t kek[32], const uint8_t *in, size_t len,
    uint8_t *out, size_t *out_len)
{
	EVP_CIPHER_CTX *c;
	size_t need = enc ? (len + 7) / 8 * 8 + 8 : len;
	int n = 0, ret = -1;

	if (len > 0x7fffff00 || need > *out_len)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek, NULL, enc)
	    == 1 && EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 && n > 0) {
		*out_len = (size_t)n;
		ret = 0;
	}
	EVP_CIPHER_CTX_free(c);
	return ret;
}

static int
cb_kwp_wrap(void *ctx, const uint8_t kek[32], const uint8_t *in, size_t len,
    uint8_t *out, size_t *out_len)
{
	(void)ctx;
	return kwp(1, kek, in, len, out, out_len);
}

static int
cb_kwp_unwrap(void *ctx, const uint8_t kek[32], const uint8_t *in,
    size_t len, uint8_t *out, size_t *out_len)
{
	(void)ctx;
	return kwp(0, kek, in, len, out, out_len);
}

int
stamp_ossl_init(struct stamp_ossl *o, EVP_PKEY *trust, EVP_PKEY *device_key,
    struct stamp_crypto *crypto)
{
	memset(o, 0, sizeof(*o));
	memset(crypto, 0, sizeof(*crypto));
	if (trust != NULL && stamp_ossl_key_id(trust, o->trust_key_id) != 0)
		return -1;
	if (device_key != NULL && !is_p256(device_key))
		return -1;
	o->trust = trust;
	o->device_key = device_key;
	crypto->ctx = o;
	crypto->sha256 = cb_sha256;
	crypto->verify = trust != NULL ? cb_verify : NULL;
	crypto->ecdh = cb_ecdh;
	crypto->ecdh_ephemeral = cb_ecdh_ephemeral;
	crypto->aes256_ecb = cb_aes256_ecb;
	crypto->kwp_wrap = cb_kwp_wrap;
	crypto->kwp_unwrap = cb_kwp_unwrap;
	return 0;
}

int
stamp_ossl_sign(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[64])
{
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	uint8_t der[80];
	const uint8_t *p = der;
	size_t len = sizeof(der);
	int ret = -1;

	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, der, &len, digest, 32) != 1)
		goto cleanup;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		goto cleanup;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
		goto cleanup;
	ret = 0;
cleanup:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

EVP_PKEY *
stamp_ossl_load_public(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		pkey = X509_get_pubkey(cert);
		X509_free(cert);
	} else {
		rewind(f);
		pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (pkey == NULL) {
		snprintf(err, errlen, "%s: expected a PEM certificate or public "
		    "key", path);
		return NULL;
	}
	if (!is_p256(pkey)) {
		snprintf(err, errlen, "%s: expected a P-256 (prime256v1) key",
		    path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

EVP_PKEY *
stamp_ossl_load_private(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		snprintf(err, errlen, "%s: expected a PEM private key", path);
		return NULL;
	}
	if (!is_p256(pkey)) {
		snprintf(err, errlen, "%s: expected a P-256 (prime256v1) key",
		    path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}
