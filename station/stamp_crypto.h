/*
 * stamp_crypto.h: the stamp codec's crypto callbacks on OpenSSL, for the
 * station side (inspect, the vector generator, and later the bench loop).
 */
#ifndef STATION_STAMP_CRYPTO_H
#define STATION_STAMP_CRYPTO_H

#include <stdint.h>
#include <openssl/evp.h>

#include "stamp-format/stamp.h"

/* What the callbacks use; either key may be NULL. */
struct stamp_ossl {
	EVP_PKEY *trust;           /* signer public key: verify */
	uint8_t trust_key_id[32];  /* its key id, filled by stamp_ossl_init */
	EVP_PKEY *device_key;      /* transport private key: ecdh (open) */
};

/*
 * stamp_ossl_init(o, trust, device_key, crypto): fill ${crypto} with
 * callbacks over ${o}; verify is set only if ${trust} is given. Returns 0,
 * or -1 if a key is not a P-256 key.
 */
int stamp_ossl_init(struct stamp_ossl *o, EVP_PKEY *trust,
    EVP_PKEY *device_key, struct stamp_crypto *crypto);

/* stamp_ossl_point(pkey, out): the uncompressed P-256 point; 0 or -1. */
int stamp_ossl_point(EVP_PKEY *pkey, uint8_t out[65]);

/* stamp_ossl_key_id(pkey, out): SHA-256 of the point; 0 or -1. */
int stamp_ossl_key_id(EVP_PKEY *pkey, uint8_t out[32]);

/* stamp_ossl_sign(key, digest, sig): ECDSA P-256 r||s over ${digest}. */
int stamp_ossl_sign(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[64]);

/*
 * stamp_ossl_load_public(path, err, errlen): a P-256 public key from a PEM
 * certificate or public key file; NULL with a message in ${err}.
 */
EVP_PKEY *stamp_ossl_load_public(const char *path, char *err, size_t errlen);

/* stamp_ossl_load_private(path, err, errlen): a P-256 private key (PEM). */
EVP_PKEY *stamp_ossl_load_private(const char *path, char *err, size_t errlen);

#endif
