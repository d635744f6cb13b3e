/*
 * batch_out.c: writing a batch file: the CMS EnvelopedData streamed to
 * disk as the identities come (indefinite-length BER: OpenSSL's streaming
 * BIO), so that memory stays flat whatever the count, and the signed
 * manifest as the last line of its content.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "station/batch_int.h"
#include "station/order.h"
#include "station/station.h"

struct batch_out {
	char path[PATH_MAX], partial[PATH_MAX];
	int fd;
	BIO *file, *cms_bio;
	CMS_ContentInfo *cms;
	EVP_MD_CTX *sha;
};

char *
batch_b64(const uint8_t *der, size_t len)
{
	char *s = malloc(4 * ((len + 2) / 3) + 1);

	if (s != NULL)
		EVP_EncodeBlock((unsigned char *)s, der, (int)len);
	return s;
}

void
batch_subject(const char *id, char out[static AUDIT_SUBJECT_MAX + 1])
{
	snprintf(out, AUDIT_SUBJECT_MAX + 1, "batch:%s", id);
}

int
batch_point_sha256(X509 *cert, uint8_t point[static 65],
    uint8_t digest[static 32])
{
	EVP_PKEY *k = X509_get0_pubkey(cert);
	char group[32];
	size_t len = 0;

	if (k == NULL || EVP_PKEY_get_group_name(k, group, sizeof(group),
	    NULL) != 1 || strcmp(group, "prime256v1") != 0 ||
	    EVP_PKEY_get_octet_string_param(k, "pub", point, 65, &len) != 1 ||
	    len != 65) {
		ERR_clear_error();
		return -1;
	}
	SHA256(point, 65, digest);
	return 0;
}

int
batch_out_open(const char *path, X509 *recipient, struct batch_out **out)
{
	struct batch_out *o;
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	BIO *buf = NULL;

	*out = NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		station_err("out of memory");
		return -1;
	}
	o->fd = -1;
	if (snprintf(o->path, sizeof(o->path), "%s", path) >=
	    (int)sizeof(o->path) || snprintf(o->partial, sizeof(o->partial),
	    "%s.partial", path) >= (int)sizeof(o->partial)) {
		station_err("batch generate: %s: path too long", path);
		free(o);
		return -1;
	}
	if (access(path, F_OK) == 0) {
		station_err("batch generate: %s exists already: each batch goes "
		    "into a new file", path);
		free(o);
		return -1;
	}
	if ((o->fd = open(o->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		station_err("batch generate: cannot create %s: %s", o->partial,
		    strerror(errno));
		free(o);
		return -1;
	}
	if ((o->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(o->sha, EVP_sha256(), NULL) != 1 ||
	    (o->file = BIO_new_fd(o->fd, BIO_NOCLOSE)) == NULL ||
	    (o->cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), CMS_BINARY |
	    CMS_STREAM | CMS_PARTIAL)) == NULL ||
	    (ri = CMS_add1_recipient_cert(o->cms, recipient,
	    CMS_KEY_PARAM)) == NULL ||
	    (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL ||
	    EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0 ||
	    (o->cms_bio = BIO_new_CMS(o->file, o->cms)) == NULL ||
	    (buf = BIO_new(BIO_f_buffer())) == NULL ||
	    BIO_set_write_buffer_size(buf, 64 * 1024) != 1) {
		unsigned long e = ERR_get_error();

		station_err("batch generate: cannot start the envelope to the "
		    "station's transport certificate: %s", e ?
		    ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		BIO_free(buf);
		batch_out_abort(o);
		return -1;
	}
	/* Writes gathered into 64 KiB: the stream has one OCTET STRING
	 * chunk per write, else one per identity. */
	o->cms_bio = BIO_push(buf, o->cms_bio);
	*out = o;
	return batch_out_text(o, "station-batch 1\n", 16);
}

int
batch_out_text(struct batch_out *o, const void *text, size_t len)
{
	if (EVP_DigestUpdate(o->sha, text, len) != 1 ||
	    BIO_write(o->cms_bio, text, (int)len) != (int)len) {
		station_err("batch generate: cannot write %s: %s", o->partial,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
batch_out_item(struct batch_out *o, const struct batch_item *it)
{
	char *cert = batch_b64(it->cert, it->cert_len);
	char *sealed = batch_b64(it->sealed, it->sealed_len);
	char line[4 * HSM_CERT_MAX + 4 * HSM_SEALED_MAX / 3 + 256];
	int n = -1, ret = -1;

	if (cert != NULL && sealed != NULL)
		n = snprintf(line, sizeof(line), "item %llu %s %s %s %s\n",
		    (unsigned long long)it->index, it->serial, it->claim, cert,
		    sealed);
	if (n < 0 || (size_t)n >= sizeof(line))
		station_err("batch generate: cannot encode item %llu",
		    (unsigned long long)it->index);
	else
		ret = batch_out_text(o, line, (size_t)n);
	OPENSSL_cleanse(line, sizeof(line));
	free(cert);
	free(sealed);
	return ret;
}

int
batch_manifest_text(const struct batch_manifest *m, char *buf, size_t size)
{
	char created[32], rk[65], cs[65];
	int n;

	order_time_text(m->created, created);
	for (int i = 0; i < 32; i++) {
		snprintf(rk + 2 * i, 3, "%02x", m->recipient_key[i]);
		snprintf(cs + 2 * i, 3, "%02x", m->content_sha256[i]);
	}
	n = snprintf(buf, size, "station-batch-manifest 1\nbatch = %s\n"
	    "order = %s\nproduct = %s\ngenerator = %s\nrecipient_key = %s\n"
	    "count = %llu\nserial_first = %llu\ncreated = %s\n"
	    "content_sha256 = %s\n", m->batch_id, m->order_id, m->product,
	    m->generator, rk, (unsigned long long)m->count,
	    (unsigned long long)m->serial_first, created, cs);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* sign(text, len, signer, key, der): CMS SignedData with the text
 * attached. Its DER length, or -1. */
static int
sign(const char *text, int len, X509 *signer, EVP_PKEY *key, uint8_t **der)
{
	BIO *in = BIO_new_mem_buf(text, len);
	CMS_ContentInfo *cms = NULL;
	int n = -1;

	*der = NULL;
	if (in != NULL && (cms = CMS_sign(signer, key, NULL, in,
	    CMS_BINARY)) != NULL)
		n = i2d_CMS_ContentInfo(cms, der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return n;
}

int
batch_out_finish(struct batch_out *o, struct batch_manifest *m,
    X509 *signer, EVP_PKEY *key)
{
	char text[1024], *b64 = NULL;
	uint8_t *der = NULL;
	unsigned dlen;
	int n, ret = -1;

	if (EVP_DigestFinal_ex(o->sha, m->content_sha256, &dlen) != 1 ||
	    (n = batch_manifest_text(m, text, sizeof(text))) < 0) {
		station_err("batch generate: cannot make the manifest");
		goto cleanup;
	}
	if ((n = sign(text, n, signer, key, &der)) <= 0 ||
	    (b64 = batch_b64(der, (size_t)n)) == NULL) {
		station_err("batch generate: the token could not sign the "
		    "manifest with the export key");
		goto cleanup;
	}
	/* The manifest line is content but not hashed: it is the hash's
	 * signature. */
	if (BIO_write(o->cms_bio, "manifest ", 9) != 9 ||
	    BIO_write(o->cms_bio, b64, (int)strlen(b64)) != (int)strlen(b64) ||
	    BIO_write(o->cms_bio, "\n", 1) != 1 || BIO_flush(o->cms_bio) != 1) {
		station_err("batch generate: cannot finish the envelope in %s",
		    o->partial);
		goto cleanup;
	}
	if (fsync(o->fd) != 0 || rename(o->partial, o->path) != 0) {
		station_err("batch generate: cannot write %s: %s", o->path,
		    strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	ERR_clear_error();
	OPENSSL_free(der);
	free(b64);
	if (ret == 0) {
		o->partial[0] = '\0';    /* nothing left to remove */
	}
	batch_out_abort(o);
	return ret;
}

void
batch_out_abort(struct batch_out *o)
{
	if (o == NULL)
		return;
	/* The streaming chain ends in the file BIO: free down to it. */
	for (BIO *b = o->cms_bio; b != NULL && b != o->file;) {
		BIO *next = BIO_pop(b);

		BIO_free(b);
		b = next;
	}
	BIO_free(o->file);
	CMS_ContentInfo_free(o->cms);
	EVP_MD_CTX_free(o->sha);
	if (o->fd >= 0)
		close(o->fd);
	if (o->partial[0] != '\0')
		unlink(o->partial);
	free(o);
}

/* recipient_ok(x, point, digest): the receiving station's transport
 * certificate: a P-256 key for key agreement only, valid now. */
static int
recipient_ok(X509 *x, const char *file, uint8_t point[static 65],
    uint8_t digest[static 32])
{
	uint32_t ku = X509_get_key_usage(x);

	if (batch_point_sha256(x, point, digest) != 0) {
		station_err("batch generate: --for %s: not a P-256 key; give the "
		    "receiving station's transport certificate ([pki] "
		    "transport_cert there)", file);
		return -1;
	}
	if (ku == UINT32_MAX || (ku & KU_KEY_AGREEMENT) == 0 ||
	    (ku & KU_DIGITAL_SIGNATURE) != 0) {
		station_err("batch generate: --for %s: not a transport "
		    "certificate (keyUsage must be keyAgreement only)", file);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		station_err("batch generate: --for %s: the certificate is not "
		    "valid now", file);
		return -1;
	}
	return 0;
}

X509 *
batch_recipient_load(const char *file, uint8_t point[static 65],
    uint8_t digest[static 32])
{
	FILE *f = fopen(file, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	ERR_clear_error();
	if (x == NULL) {
		station_err("batch generate: cannot read the transport "
		    "certificate %s", file);
		return NULL;
	}
	if (recipient_ok(x, file, point, digest) != 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}
