/*
 * softkey.h: TEST ONLY. An ECDSA P-256 audit key generated in memory at run
 * time with OpenSSL, standing in for the HSM audit key so that tests can
 * produce real signed logs. Never used by the station itself.
 */
#ifndef TESTS_AUDIT_SOFTKEY_H
#define TESTS_AUDIT_SOFTKEY_H

#include <stddef.h>
#include <stdint.h>

struct softkey {
	void *pkey;     /* EVP_PKEY */
	char *pem;      /* public key, SPKI PEM */
	int raw;        /* 1: sign as raw r||s, like PKCS#11 CKM_ECDSA */
};

/* softkey_new(k): a fresh P-256 key; 0 or -1. */
int softkey_new(struct softkey *k);

/* softkey_load_or_new(k, path): the private key kept in ${path} (a test
 * fixture, mode 0600), created there first if missing; 0 or -1. */
int softkey_load_or_new(struct softkey *k, const char *path);

/* softkey_sign: an audit_sign_fn over ${ctx} = struct softkey *. */
int softkey_sign(void *ctx, const uint8_t digest[static 32], uint8_t *sig,
    size_t *sig_len);

/* softkey_write_pub(k, path): the public PEM into ${path}. */
int softkey_write_pub(const struct softkey *k, const char *path);

void softkey_free(struct softkey *k);

#endif
