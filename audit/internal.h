/*
 * internal.h: what the files of audit/ share; not part of the module's
 * interface (that is audit.h only). Names start with audit_ because they
 * have external linkage, but nothing outside audit/ includes this.
 */
#ifndef AUDIT_INTERNAL_H
#define AUDIT_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include "audit/audit.h"

#define AUDIT_SCHEMA_VERSION 1

struct audit {
	sqlite3 *db;
	bool readonly;
	char err[AUDIT_ERR_MAX];
	char station_id[AUDIT_STATION_ID_MAX + 1];
	unsigned checkpoint_every;
	int64_t (*now)(void *ctx);
	void *now_ctx;

	audit_sign_fn *sign;
	void *sign_ctx;
	char *sign_pem;
	uint8_t sign_key_id[AUDIT_HASH_LEN];

	bool batch;                 /* inside audit_begin() .. audit_commit() */
	bool in_tx;                 /* a write transaction is open */
	uint64_t head_seq;          /* valid while in_tx */
	uint8_t head_hash[AUDIT_HASH_LEN];
	int64_t last_time;          /* time of the event appended last */
	uint64_t sp_seq;            /* the head at the batch's savepoint */
	uint8_t sp_hash[AUDIT_HASH_LEN];

	sqlite3_stmt *ins_event;    /* cached: appending is the hot path */
	sqlite3_stmt *sp_open, *sp_release, *sp_undo;
	/* cached by device.c: the statements of bulk issuance (batches) */
	sqlite3_stmt *dev_get, *dev_ins, *dev_upd, *cert_ins;

	bool cp_failed;
	char cp_err[AUDIT_ERR_MAX];
};

/* audit_fail(a, fmt, ...): set a->err; returns -1. */
int audit_fail(struct audit *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* audit_sqlfail(a, what): "WHAT: <sqlite message>"; returns -1. */
int audit_sqlfail(struct audit *a, const char *what);

/* audit_now(a): the event clock. */
int64_t audit_now(struct audit *a);

/*
 * audit_tx_begin(a) / audit_tx_end(a, ok): a write transaction around one
 * API call; nested inside a batch it does nothing. audit_tx_begin() loads
 * the chain head. audit_tx_end(a, 0) commits (and seals when due),
 * audit_tx_end(a, -1) rolls back; returns 0 or -1.
 */
int audit_tx_begin(struct audit *a);
int audit_tx_end(struct audit *a, int rc);

/* audit_tx_open(a): BEGIN IMMEDIATE and load the chain head. */
int audit_tx_open(struct audit *a);

/* audit_seal_due(a): inside the committing transaction, sign and store a
 * checkpoint if one is due; a failure is kept for audit_checkpoint_error()
 * and never fails the commit (seal.c). */
void audit_seal_due(struct audit *a);

/* audit_append_locked(a, actor, kind, subject, details, len, seq): append
 * inside an open transaction; advances the cached head. */
int audit_append_locked(struct audit *a, const char *actor, const char *kind,
    const char *subject, const uint8_t *details, size_t len, uint64_t *seq);

/* audit_device_is_note(kind): whether ${kind} is a device event that changes
 * no inventory row (AUDIT_DEVICE_NOTES). */
bool audit_device_is_note(const char *kind);

/* audit_append_fields(a, actor, kind, subject, f, n, seq): encode ${f} and
 * audit_append_locked(). */
int audit_append_fields(struct audit *a, const char *actor, const char *kind,
    const char *subject, const struct audit_field *f, size_t n,
    uint64_t *seq);

/* audit_check_text(a, what, s, max, required): ${s} is printable UTF-8
 * text of at most ${max} bytes (not empty if ${required}). */
int audit_check_text(struct audit *a, const char *what, const char *s,
    size_t max, bool required);

/* audit_text_ok(s, len): no control characters, valid UTF-8. */
bool audit_text_ok(const char *s, size_t len);

/* audit_sha256(d, len, out). */
void audit_sha256(const void *d, size_t len, uint8_t out[static AUDIT_HASH_LEN]);

/* audit_hex(d, len, out): lower-case hex, NUL-terminated (2*len+1 bytes). */
void audit_hex(const uint8_t *d, size_t len, char *out);

/* audit_unhex(s, n, out): parse exactly 2*${n} hex digits; 0 or -1. */
int audit_unhex(const char *s, size_t n, uint8_t *out);

/* audit_key_load(pem, key_id, err): parse a public key PEM (EC or RSA) and
 * compute its key id; returns an EVP_PKEY * (as void *) or NULL. */
void *audit_key_load(const char *pem, uint8_t key_id[static AUDIT_HASH_LEN],
    char err[static AUDIT_ERR_MAX]);
void audit_key_free(void *key);

/* audit_keys_load(pem, keys, ids, max, n, err): every public key of a
 * file of concatenated PEM blocks (keys before and after a rotation). */
int audit_keys_load(const char *pem, void *keys[],
    uint8_t ids[][AUDIT_HASH_LEN], size_t max, size_t *n,
    char err[static AUDIT_ERR_MAX]);

/* audit_sig_check(key, digest, sig, len): 0 if valid. */
int audit_sig_check(void *key, const uint8_t digest[static AUDIT_HASH_LEN],
    const uint8_t *sig, size_t len);

/* audit_sig_to_der(key, sig, len, size): a raw r||s ECDSA signature
 * becomes DER in place; DER or RSA signatures are left alone. */
int audit_sig_to_der(void *key, uint8_t *sig, size_t *len, size_t size);

/* The schema's append-only triggers, for creation and for verification. */
extern const char *const audit_triggers[];
extern const size_t audit_ntriggers;

/* audit_u64_text(v, buf): decimal text; audit_u64_parse: strict, 0/-1. */
void audit_u64_text(uint64_t v, char buf[static 21]);
int audit_u64_parse(const uint8_t *s, size_t len, uint64_t *v);

/* audit_migrate(a, created): schema to the current version (schema.c). */
int audit_migrate(struct audit *a, bool *created);

/* Reserved detail keys of device events. */
bool audit_device_key_reserved(const char *key);

#endif
