/*
 * batch.h: pre-generated batches of identities (docs/BATCHES.md).
 *
 * A station in a secure room (the generator) makes identities in bulk
 * under a production order: serial and claim ID, a device key made in its
 * token and sealed there to the receiving station's transport key
 * (stamp-format/SPEC.md section 2, WRAPPED_DEVICE_KEY), and the device
 * certificate from its sub-CA. Every identity is recorded (allocated,
 * key_ready, issued; key mode "batch") in groups of BATCH_GROUP per
 * durable transaction before it is written out. The file is a CMS
 * EnvelopedData (RFC 5652; ECDH key agreement, RFC 5753, to the receiving
 * station's transport certificate; AES-256-CBC) around the text of
 * docs/BATCHES.md: a header line, the sub-CA certificate, one line per
 * identity, and last the manifest, a CMS SignedData by the generator's
 * export key over the counts and the SHA-256 of everything before it.
 *
 * The factory station imports it (batch_import: addressed to its
 * transport key, the signature chains to [pki] batch_cert, not imported
 * before), keeps the identities in fixed-size records in
 * HOME/batches/ID.items, and hands them out one at a time
 * (batch_take_next): the identity's device rows and a batch.taken event
 * are one durable transaction, so an identity is handed out at most once,
 * also across crashes; its key is re-wrapped inside the token to the
 * device's transport key (hsm_rewrap_sealed).
 *
 * Functions return 0 or -1 with the reason in ${err} (BATCH_ERR_MAX).
 */
#ifndef STATION_BATCH_H
#define STATION_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "hsm/hsm.h"
#include "station/config.h"
#include "station/identity.h"

#define BATCH_ERR_MAX 512
#define BATCH_ID_MAX 96            /* [A-Za-z0-9._-] */
#define BATCH_GROUP 64             /* identities per durable transaction */
#define BATCH_COUNT_MAX 10000000   /* identities per batch */
#define BATCH_RECORD 2048          /* bytes of one stored identity */
#define BATCH_KEY_MODE "batch"     /* the key mode of batch devices */

/* One identity as the file carries it. */
struct batch_item {
	uint64_t index;                          /* 0, 1, ... in order */
	char serial[IDENTITY_SERIAL_MAX + 1];
	char claim[IDENTITY_CLAIM_BUF];
	uint8_t cert[HSM_CERT_MAX];              /* DER */
	size_t cert_len;
	uint8_t sealed[HSM_SEALED_MAX];          /* E || C, to the station */
	size_t sealed_len;
};

/* The signed manifest (its text: docs/BATCHES.md). */
struct batch_manifest {
	char batch_id[BATCH_ID_MAX + 1];
	char order_id[AUDIT_TEXT_MAX + 1];
	char product[AUDIT_TEXT_MAX + 1];
	char generator[AUDIT_STATION_ID_MAX + 1];
	uint8_t recipient_key[32];    /* SHA-256 of the 65-byte point */
	uint64_t count;
	uint64_t serial_first;        /* the order's number of item 0 */
	int64_t created;
	uint8_t content_sha256[32];   /* of every byte before "manifest " */
};

/*
 * batch_manifest_parse(text, len, m, err): the manifest text, strictly:
 * the first line "station-batch-manifest 1", then each key of
 * docs/BATCHES.md exactly once, in that order. 0 or -1.
 */
int batch_manifest_parse(const char *text, size_t len,
    struct batch_manifest *m, char err[static BATCH_ERR_MAX]);

/* What batch_parse found besides the items. */
struct batch_parsed {
	const uint8_t *ca_b64;        /* the sub-CA line's base64, in ${buf} */
	size_t ca_b64_len;
	const uint8_t *manifest_b64;  /* the manifest line's base64 */
	size_t manifest_b64_len;
	uint8_t content_sha256[32];   /* of every byte before "manifest " */
	uint64_t count;
};

typedef int batch_item_fn(void *ctx, const struct batch_item *it);

/*
 * batch_parse(buf, len, fn, ctx, out, err): the decrypted text of a batch
 * file: every line checked (lengths against what remains, base64, serial
 * and claim syntax, indexes 0, 1, ... in order), ${fn} called for each
 * identity (a non-zero return stops), nothing after the manifest line.
 * Signatures are not checked here (batch_import does). 0 or -1.
 */
int batch_parse(const uint8_t *buf, size_t len, batch_item_fn *fn, void *ctx,
    struct batch_parsed *out, char err[static BATCH_ERR_MAX]);

/* What `station batch generate` was asked for. */
struct batch_request {
	const char *order_id;
	uint64_t count;
	unsigned threads;             /* 1..8 */
	const char *for_cert;         /* the receiving station's transport cert */
	const char *out;              /* the batch file, created new */
	const char *pin_file;         /* NULL: [hsm] pin_file or the TTY */
};

/* What came out. */
struct batch_result {
	char batch_id[BATCH_ID_MAX + 1];
	uint64_t count;
	uint64_t serial_first;
	char first[IDENTITY_SERIAL_MAX + 1], last[IDENTITY_SERIAL_MAX + 1];
	double seconds;
};

/*
 * batch_generate(cfg, r, res): the whole of `station batch generate`:
 * PIN, token, sub-CA, export key, audit session; the order must be open,
 * have key_mode token and room for r->count more. Errors are reported
 * (station_err). 0, -1 (failed) or -2 (usage or configuration).
 */
int batch_generate(const struct station_config *cfg,
    const struct batch_request *r, struct batch_result *res);

/* What an import found. */
struct batch_import_result {
	struct batch_manifest m;
};

/*
 * batch_import(cfg, file, pin_file, res): `station batch import FILE`.
 * Reported refusals (exit 1): not addressed to this station, damaged or
 * tampered, bad signature or untrusted signer, imported before. 0, -1, or
 * -2 (configuration).
 */
int batch_import(const struct station_config *cfg, const char *file,
    const char *pin_file, struct batch_import_result *res);

/* A batch's state at the factory station. */
struct batch_status {
	char batch_id[BATCH_ID_MAX + 1];
	char order_id[AUDIT_TEXT_MAX + 1];
	char generator[AUDIT_STATION_ID_MAX + 1];
	uint64_t count, used, failed, voided, left;
	bool is_voided;
};

/*
 * batch_status_get(a, batch_id, st, err): the imported batch's counts,
 * from the audit events. 0, 1 if no such batch was imported, -1.
 * batch_status_all(a, cb, ctx, err): each imported batch.
 */
int batch_status_get(struct audit *a, const char *batch_id,
    struct batch_status *st, char err[static BATCH_ERR_MAX]);
int batch_status_all(struct audit *a,
    int (*cb)(void *ctx, const struct batch_status *st), void *ctx,
    char err[static BATCH_ERR_MAX]);

/* An identity handed out for one device. */
struct batch_taken {
	uint64_t index;
	char serial[IDENTITY_SERIAL_MAX + 1];
	char claim[IDENTITY_CLAIM_BUF];
	uint8_t cert[HSM_CERT_MAX];              /* DER */
	size_t cert_len;
	char cert_serial[AUDIT_TEXT_MAX + 1];    /* upper-case hex */
	uint8_t sealed[HSM_SEALED_MAX];          /* E || C, to the device */
	size_t sealed_len;
};

/*
 * batch_take_next(a, home, station_key, batch_id, hardware_id, transport,
 * actor, out, err): the next unused identity of batch ${batch_id} for the
 * device ${hardware_id} (may be NULL) whose transport key is ${transport}
 * (65-byte point). Inside one audit transaction: the next index (from the
 * batch.taken events), its stored record, the key re-wrapped in the token
 * from ${station_key} (this station's transport key, [pki] transport_key)
 * to ${transport} with the certificate's key checked, then the device
 * recorded (allocated, key_ready, issued; key mode "batch") with the
 * event batch.taken, committed. Only then is ${out} filled. An identity
 * whose re-wrap fails is used up too (batch.taken with outcome failed):
 * it is never handed out. 0, 1 if the batch has none left (or was
 * voided), -1.
 */
int batch_take_next(struct audit *a, const char *home,
    struct hsm_key *station_key, const char *batch_id,
    const char *hardware_id, const uint8_t transport[static 65],
    const char *actor, struct batch_taken *out, char err[static BATCH_ERR_MAX]);

/*
 * batch_void(a, home, batch_id, reason, actor, list, voided, err):
 * withdraw every identity of the batch not handed out: each is recorded
 * as a device of this station (allocated, key_ready, issued, voided with
 * ${reason}; BATCH_GROUP per transaction), so that exports carry it, and
 * the event batch.voided closes the batch; the voided certificates'
 * serials go to ${list} (may be NULL), one per line, for the issuing
 * station's officer (batch_revoke_list there). 0 and the number in
 * ${voided}, 1 if no such batch, -1.
 */
int batch_void(struct audit *a, const char *home, const char *batch_id,
    const char *reason, const char *actor, FILE *list, uint64_t *voided,
    char err[static BATCH_ERR_MAX]);

/* batch_id_valid(id): 1..BATCH_ID_MAX of A-Z a-z 0-9 . _ - */
bool batch_id_valid(const char *id);

/* batch_items_path(home, batch_id, out, size): HOME/batches/ID.items. */
int batch_items_path(const char *home, const char *batch_id, char *out,
    size_t size);

/* batch_cert_serial(der, len, hex): the certificate's serial number as
 * upper-case hex, read from the DER without decoding the certificate. */
int batch_cert_serial(const uint8_t *der, size_t len,
    char hex[static AUDIT_TEXT_MAX + 1]);

/* batch_record_encode / batch_record_decode: one identity as a stored
 * record of BATCH_RECORD bytes (docs/BATCHES.md). 0 or -1. */
int batch_record_encode(const struct batch_item *it,
    uint8_t rec[static BATCH_RECORD]);
int batch_record_decode(const uint8_t rec[static BATCH_RECORD],
    struct batch_item *it);

#endif
