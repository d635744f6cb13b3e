/*
 * softkey.c: TEST ONLY software audit signer (see softkey.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tests/audit/softkey.h"

static int
finish(struct softkey *k)
{
	BIO *bio = NULL;
	char *p;
	long n;

	if (k->pkey == NULL ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PUBKEY(bio, k->pkey) != 1 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0 ||
	    (k->pem = strndup(p, (size_t)n)) == NULL) {
		BIO_free(bio);
		softkey_free(k);
		return -1;
	}
	BIO_free(bio);
	return 0;
}

int
softkey_new(struct softkey *k)
{
	memset(k, 0, sizeof(*k));
	k->pkey = EVP_EC_gen("P-256");
	return finish(k);
}

int
softkey_load_or_new(struct softkey *k, const char *path)
{
	FILE *f;
	int fd;

	memset(k, 0, sizeof(*k));
	if ((f = fopen(path, "r")) != NULL) {
		k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		return finish(k);
	}
	if (softkey_new(k) != 0)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		softkey_free(k);
		return -1;
	}
	if (PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		fclose(f);
		softkey_free(k);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

int
softkey_sign(void *ctx, const uint8_t digest[static 32], uint8_t *sig,
    size_t *sig_len)
{
	struct softkey *k = ctx;
	EVP_PKEY_CTX *pc;
	int ok;

	if ((pc = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_sign_init(pc) == 1 &&
	    EVP_PKEY_sign(pc, sig, sig_len, digest, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	if (ok && k->raw) {
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)*sig_len);
		const BIGNUM *r, *s;

		if (es == NULL)
			return -1;
		ECDSA_SIG_get0(es, &r, &s);
		ok = BN_bn2binpad(r, sig, 32) == 32 &&
		    BN_bn2binpad(s, sig + 32, 32) == 32;
		*sig_len = 64;
		ECDSA_SIG_free(es);
	}
	return ok ? 0 : -1;
}

int
softkey_write_pub(const struct softkey *k, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(k->pem, f);
	return fclose(f) == 0 ? 0 : -1;
}

void
softkey_free(struct softkey *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->pem);
	k->pkey = NULL;
	k->pem = NULL;
}
