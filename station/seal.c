/*
 * seal.c: sealing on the host with OpenSSL (stamp-format/SPEC.md section
 * 2): secrets the station knows anyway (provisioning token,
 * proof-of-possession secret, claim id) sealed to a device, device keys
 * sealed to a station's transport key (batches, tests), and the
 * development-only host key mode. The scheme's KEK context comes from
 * stamp.c (stamp_secret_context), the primitives from stamp_crypto.c, so
 * that what is sealed here is exactly what firmware opens. See seal.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "station/seal.h"
#include "station/stamp_crypto.h"

static void
say(char err[static SEAL_ERR_MAX], const char *what)
{
	snprintf(err, SEAL_ERR_MAX, "%s", what);
}

int
seal_context_key(void *arg, const uint8_t eph[65], uint8_t context[32])
{
	struct stamp_ossl o;
	struct stamp_crypto c;

	if (stamp_ossl_init(&o, NULL, NULL, &c) != 0)
		return -1;
	return stamp_secret_context(&c, eph, arg, STAMP_T_WRAPPED_DEVICE_KEY,
	    context);
}

int
seal_value(const uint8_t recipient[static 65], uint16_t type,
    const uint8_t *plaintext, size_t len, uint8_t *out, size_t cap,
    size_t *out_len, char err[static SEAL_ERR_MAX])
{
	struct stamp_ossl o;
	struct stamp_crypto c;
	uint8_t z[32], kek[32], context[32];
	size_t need = 65 + (len + 7) / 8 * 8 + 8, n;
	int ret = -1;

	*out_len = 0;
	if (len == 0 || len > 0xffffff) {
		say(err, "seal: a secret is 1 byte or more");
		return -1;
	}
	if (need > cap) {
		snprintf(err, SEAL_ERR_MAX, "seal: %zu bytes sealed do not fit in "
		    "%zu", need, cap);
		return -1;
	}
	if (recipient[0] != 0x04 || stamp_ossl_init(&o, NULL, NULL, &c) != 0) {
		say(err, "seal: the recipient is not an uncompressed P-256 point");
		return -1;
	}
	n = need - 65;
	if (c.ecdh_ephemeral(c.ctx, recipient, out, z) != 0) {
		say(err, "seal: the recipient key is not a valid P-256 point");
		goto cleanup;
	}
	if (stamp_secret_context(&c, out, recipient, type, context) != 0 ||
	    c.aes256_ecb(c.ctx, z, context, kek) != 0 ||
	    c.kwp_wrap(c.ctx, kek, plaintext, len, out + 65, &n) != 0 ||
	    n != need - 65) {
		say(err, "seal: OpenSSL failed to wrap the secret");
		goto cleanup;
	}
	*out_len = need;
	ret = 0;
cleanup:
	if (ret != 0)
		OPENSSL_cleanse(out, cap);
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(kek, sizeof(kek));
	return ret;
}

int
seal_add_secret(struct stamp_builder *b, uint16_t type,
    const uint8_t *plaintext, size_t len, const uint8_t transport[static 65],
    char err[static SEAL_ERR_MAX])
{
	struct stamp_ossl o;
	struct stamp_crypto c;

	if (stamp_ossl_init(&o, NULL, NULL, &c) != 0 ||
	    stamp_build_add_sealed(b, type, STAMP_RF_CRITICAL, plaintext, len,
	    transport, &c) != 0) {
		snprintf(err, SEAL_ERR_MAX, "cannot seal record 0x%04x to the "
		    "device's transport key (%s)", type,
		    stamp_strerror(b->err.code));
		return -1;
	}
	return 0;
}

int
seal_add_sealed(struct stamp_builder *b, uint16_t type,
    const uint8_t *sealed, size_t len, char err[static SEAL_ERR_MAX])
{
	if (stamp_build_add(b, type, STAMP_RF_CRITICAL | STAMP_RF_SECRET, sealed,
	    len) != 0) {
		snprintf(err, SEAL_ERR_MAX, "cannot add sealed record 0x%04x (%s)",
		    type, stamp_strerror(b->err.code));
		return -1;
	}
	return 0;
}

int
seal_host_keygen(enum station_mode mode, const uint8_t transport[static 65],
    X509_PUBKEY **pub, uint8_t *sealed, size_t cap, size_t *sealed_len,
    uint8_t fingerprint[static 32], char err[static SEAL_ERR_MAX])
{
	EVP_PKEY *key = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL, *spki = NULL;
	int der_len = 0, spki_len, ret = -1;

	*pub = NULL;
	*sealed_len = 0;
	if (mode != STATION_MODE_DEVELOPMENT) {
		say(err, "host key mode is for development stations only "
		    "([station] mode = development); use the token or device key "
		    "mode");
		return -1;
	}
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 ||
	    X509_PUBKEY_set(pub, key) != 1 ||
	    (spki_len = i2d_X509_PUBKEY(*pub, &spki)) <= 0) {
		say(err, "host key mode: OpenSSL cannot make the device key");
		goto cleanup;
	}
	SHA256(spki, (size_t)spki_len, fingerprint);
	if (seal_value(transport, STAMP_T_WRAPPED_DEVICE_KEY, der,
	    (size_t)der_len, sealed, cap, sealed_len, err) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)der_len);
	OPENSSL_free(spki);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(key);
	if (ret != 0) {
		X509_PUBKEY_free(*pub);
		*pub = NULL;
	}
	return ret;
}
