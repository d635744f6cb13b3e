/*
 * emu_crypto.c: the emulated device's own crypto, on OpenSSL: the
 * stamp_crypto callbacks its firmware check of a stamp uses (SHA-256,
 * ECDSA P-256 verify by the signer it trusts, ECDH with its transport key,
 * AES-256 and RFC 5649 unwrap to open secrets), and on-device keygen: a
 * fresh P-256 key pair and a PKCS#10 request that carries the station's
 * nonce exactly as docs/device-csr.md says (an extension in the
 * extensionRequest attribute, OID 2.25.320604743258182176926776022287882174533,
 * extnValue = DER OCTET STRING of the nonce).
 *
 * The key pair is kept in DIR/dev-K/device.key (0600, written to a
 * temporary file and renamed), as a device keeps the key its certificate
 * will name. Faults make the CSR wrong on purpose: signed by another key,
 * without the nonce, or with a different nonce.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "flasher/emu/emu.h"
#include "stamp-format/stamp.h"

#define NONCE_OID "2.25.320604743258182176926776022287882174533"

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
	struct emu_device *d = ctx;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *der = NULL;
	int len, ret = -1;

	if (d->trust == NULL || CRYPTO_memcmp(key_id, d->trust_key_id, 32) != 0)
		return -1;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((len = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	if ((pctx = EVP_PKEY_CTX_new(d->trust, NULL)) != NULL &&
	    EVP_PKEY_verify_init(pctx) == 1 &&
	    EVP_PKEY_verify(pctx, der, (size_t)len, digest, 32) == 1)
		ret = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ret;
}

static int
cb_ecdh(void *ctx, const uint8_t peer[65], uint8_t z[32])
{
	struct emu_device *d = ctx;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		    (char *)"prime256v1", 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)peer, 65),
		OSSL_PARAM_END,
	};
	EVP_PKEY_CTX *pctx = NULL, *dctx = NULL;
	EVP_PKEY *pub = NULL;
	size_t len = 32;
	int ret = -1;

	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	if ((dctx = EVP_PKEY_CTX_new(d->transport, NULL)) != NULL &&
	    EVP_PKEY_derive_init(dctx) == 1 &&
	    EVP_PKEY_derive_set_peer(dctx, pub) == 1 &&
	    EVP_PKEY_derive(dctx, z, &len) == 1 && len == 32)
		ret = 0;
out:
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pub);
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
cb_kwp_unwrap(void *ctx, const uint8_t kek[32], const uint8_t *in, size_t len,
    uint8_t *out, size_t *out_len)
{
	EVP_CIPHER_CTX *c;
	int n = 0, ret = -1;

	(void)ctx;
	if (len > 0x7fffff00 || len > *out_len)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek, NULL, 0) == 1 &&
	    EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 && n > 0) {
		*out_len = (size_t)n;
		ret = 0;
	}
	EVP_CIPHER_CTX_free(c);
	return ret;
}

void
emu_crypto_init(struct emu_device *d, struct stamp_crypto *crypto)
{
	memset(crypto, 0, sizeof(*crypto));
	crypto->ctx = d;
	crypto->sha256 = cb_sha256;
	crypto->verify = cb_verify;
	crypto->ecdh = cb_ecdh;
	crypto->aes256_ecb = cb_aes256_ecb;
	crypto->kwp_unwrap = cb_kwp_unwrap;
}

/* The nonce extension: extnValue = 04 len nonce. */
static int
add_nonce(X509_REQ *req, const uint8_t *nonce, size_t len)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	ASN1_OCTET_STRING *value = NULL;
	ASN1_OBJECT *oid = NULL;
	uint8_t der[2 + 64];
	int ret = -1;

	if (len > 64)
		return -1;
	der[0] = 0x04;
	der[1] = (uint8_t)len;
	memcpy(der + 2, nonce, len);
	if ((oid = OBJ_txt2obj(NONCE_OID, 1)) == NULL ||
	    (value = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(value, der, (int)(2 + len)) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value)) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto out;
	ext = NULL;
	if (X509_REQ_add_extensions(req, exts))
		ret = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(value);
	ASN1_OBJECT_free(oid);
	return ret;
}

/* Keep ${key} as DIR/dev-K/device.key: temporary file, then rename. */
static int
save_key(struct emu_device *d, EVP_PKEY *key)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
	FILE *f;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/device.key", d->dir);
	snprintf(tmp, sizeof(tmp), "%s/device.key.new", d->dir);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
emu_keygen(struct emu_device *d, const uint8_t *nonce, size_t nonce_len,
    const char *cn, const char *org, const char *serial)
{
	EVP_PKEY *key = NULL, *signer = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name;
	uint8_t wrong[64], *der = NULL;
	int len, st = DFU_ERR_UNKNOWN;

	if ((key = EVP_EC_gen("P-256")) == NULL || (req = X509_REQ_new()) == NULL)
		goto out;
	name = X509_REQ_get_subject_name(req);
	if (!X509_REQ_set_version(req, 0) ||
	    (cn && !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0)) ||
	    (org && !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)org, -1, -1, 0)) ||
	    (serial && !X509_NAME_add_entry_by_txt(name, "serialNumber",
	    MBSTRING_ASC, (const unsigned char *)serial, -1, -1, 0)) ||
	    !X509_REQ_set_pubkey(req, key))
		goto out;
	if (d->csr_fault == EMU_CSR_WRONG_NONCE) {
		memcpy(wrong, nonce, nonce_len);
		wrong[0] ^= 0x01;
		nonce = wrong;
	}
	if (d->csr_fault != EMU_CSR_NO_NONCE &&
	    add_nonce(req, nonce, nonce_len) != 0)
		goto out;
	signer = key;
	if (d->csr_fault == EMU_CSR_OTHER_KEY &&
	    (signer = EVP_EC_gen("P-256")) == NULL)
		goto out;
	if (X509_REQ_sign(req, signer, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	if (save_key(d, key) != 0) {
		snprintf(d->status_text, sizeof(d->status_text), "cannot keep the "
		    "new key: %s", strerror(errno));
		st = DFU_ERR_WRITE;
		goto out;
	}
	free(d->csr);
	if ((d->csr = malloc((size_t)len)) == NULL) {
		d->csr_len = 0;
		goto out;
	}
	memcpy(d->csr, der, (size_t)len);
	d->csr_len = (size_t)len;
	{
		size_t n = 0;
		d->has_device_key = EVP_PKEY_get_octet_string_param(key,
		    OSSL_PKEY_PARAM_PUB_KEY, d->device_pub, 65, &n) == 1 &&
		    n == 65;
	}
	st = DFU_OK;
out:
	if (signer != key)
		EVP_PKEY_free(signer);
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return st;
}
