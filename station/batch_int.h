/*
 * batch_int.h: what the batch_*.c files share (batch.h is the interface).
 */
#ifndef STATION_BATCH_INT_H
#define STATION_BATCH_INT_H

#include <limits.h>

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

/* batch_recipient_load(file, point, digest): the receiving station's
 * transport certificate from ${file}, checked (P-256, keyAgreement only,
 * valid now), its point and the point's SHA-256. NULL if refused
 * (reported). */
X509 *batch_recipient_load(const char *file, uint8_t point[static 65],
    uint8_t digest[static 32]);

/* batch_subject(id, out): the audit subject "batch:ID". */
void batch_subject(const char *id, char out[static AUDIT_SUBJECT_MAX + 1]);

/*
 * Failed and killed batches (batch_recover.c).
 * batch_gen_started(sa, id, order_id, first_n, count, file, out): the event
 * batch.started, before the first identity; ${out} the batch as retiring
 * needs it. batch_gen_retire(sa, b, end, revoked): the batch ${b} ended
 * unfinished: its recorded identities still issued voided and their
 * certificates revoked (how many in ${revoked}), FILE.partial and FILE
 * removed, the event ${end} (batch.failed or batch.interrupted).
 * batch_gen_recover(sa): every batch started here and never ended
 * (generated, failed or interrupted) retired as interrupted, and said so.
 * 0 or -1 (reported).
 */
struct station_audit;
struct batch_started {
	char id[BATCH_ID_MAX + 1];
	char file[PATH_MAX];           /* absolute */
	uint64_t seq;                  /* of its batch.started */
};
int batch_gen_started(struct station_audit *sa, const char *batch_id,
    const char *order_id, uint64_t first_n, uint64_t count, const char *file,
    struct batch_started *out);
int batch_gen_retire(struct station_audit *sa, const struct batch_started *b,
    const char *end, uint64_t *revoked);
int batch_gen_recover(struct station_audit *sa);

/*
 * Sealed device keys from helper processes (batch_keys.c): each helper is
 * `station batch keys`, opens the token with the PIN handed over a pipe,
 * makes up to BATCH_KEYS_PER_PROCESS keys and exits (SoftHSM 2.6 frees
 * session objects only at C_Finalize). One struct batch_keys per thread.
 * batch_keys_open(home, pin, recipient, count, out): nothing started yet;
 * ${pin} must outlive it. 0 or -1.
 * batch_keys_next(k, point, sealed, cap, len, err): the next key. 0 or -1.
 * batch_keys_free(k): stop the helper. NULL: no-op.
 * batch_keys_helper(cfg): the helper's side (stdin, stdout); exit code.
 */
#define BATCH_KEYS_PER_PROCESS 8192
struct batch_keys;
int batch_keys_open(const char *home, const char *pin,
    const uint8_t recipient[static 65], uint64_t count,
    struct batch_keys **out);
int batch_keys_next(struct batch_keys *k, uint8_t point[static 65],
    uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static BATCH_ERR_MAX]);
void batch_keys_free(struct batch_keys *k);
int batch_keys_helper(const struct station_config *cfg);
/* batch_keys_lock(lock): take (true) or give back the lock that keeps
 * helpers' logins apart, around a write to the token's file store. */
void batch_keys_lock(bool lock);

#endif
