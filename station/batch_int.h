/*
 * batch_int.h: what the batch_*.c files share (batch.h is the interface).
 */
#ifndef STATION_BATCH_INT_H
#define STATION_BATCH_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "station/batch.h"

/* The batch file being written: a CMS EnvelopedData, streamed. */
struct batch_out;

/*
 * batch_out_open(path, recipient, out): create ${path}.partial (O_EXCL,
 * 0600) and start the EnvelopedData to ${recipient} (ECDH, X9.63 KDF with
 * SHA-256, AES-256 wrap, AES-256-CBC content); nothing is kept in memory
 * but one buffer. 0 or -1 (reported).
 */
int batch_out_open(const char *path, X509 *recipient, struct batch_out **out);

/* batch_out_text(o, text, len): content bytes (hashed for the manifest).
 * batch_out_item(o, it): one "item" line. 0 or -1 (reported). */
int batch_out_text(struct batch_out *o, const void *text, size_t len);
int batch_out_item(struct batch_out *o, const struct batch_item *it);

/*
 * batch_out_finish(o, m, signer, key): the manifest ${m} (its
 * content_sha256 set here), signed (CMS SignedData, content attached) by
 * ${key} with certificate ${signer}, as the last line; the envelope
 * closed, the file synced and renamed to its name. Frees ${o}. 0 or -1.
 * batch_out_abort(o): remove the partial file and free. NULL: no-op.
 */
int batch_out_finish(struct batch_out *o, struct batch_manifest *m,
    X509 *signer, EVP_PKEY *key);
void batch_out_abort(struct batch_out *o);

/* batch_manifest_text(m, buf, size): the manifest's text; its length or
 * -1. */
int batch_manifest_text(const struct batch_manifest *m, char *buf,
    size_t size);

/* batch_b64(der, len): one-line base64, malloc'ed. */
char *batch_b64(const uint8_t *der, size_t len);

/* batch_point_sha256(cert, digest): SHA-256 of the 65-byte P-256 point
 * of ${cert}'s key. 0, or -1 if it is not a P-256 key. */
int batch_point_sha256(X509 *cert, uint8_t point[static 65],
    uint8_t digest[static 32]);

/* batch_subject(kind, id, out): the audit subject "batch:ID". */
void batch_subject(const char *id, char out[static AUDIT_SUBJECT_MAX + 1]);

#endif
