/*
 * audit.h: the station's SQLite inventory and its tamper-evident event log.
 *
 * One SQLite file per station (WAL, synchronous=FULL, foreign keys,
 * migrations by user_version). Every change is an event appended to a log
 * that triggers keep append-only; each event is hash-chained to the one
 * before it over a canonical byte encoding (docs/AUDIT.md), and every
 * `checkpoint_every` events and at session end a checkpoint (station id,
 * head sequence, head hash, event count, time, key id) is signed through a
 * callback the caller supplies (the HSM audit key; audit never links hsm).
 * The devices, orders and deny-list tables are what replaying the events
 * gives; audit_verify() recomputes the chain, checks every checkpoint
 * signature, replays the inventory and compares, so an edit anywhere is
 * caught, and an anchor (the latest checkpoint, kept off the box) catches
 * truncation and rollback.
 *
 * Conventions: functions return 0 on success and -1 on error, with the
 * message in audit_error(a) (or in ${err} where there is no handle yet);
 * lookups return 1 for "not found". A handle is for one thread at a time.
 * Text arguments are NUL-terminated
 * UTF-8; NULL means "none" where documented. Every mutating call is its own
 * durable transaction unless made between audit_begin() and audit_commit().
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_ERR_MAX 512
#define AUDIT_HASH_LEN 32          /* SHA-256 */
#define AUDIT_SIG_MAX 520          /* DER ECDSA / RSA-4096 signatures */
#define AUDIT_STATION_ID_MAX 32
#define AUDIT_ACTOR_MAX 64
#define AUDIT_KIND_MAX 64
#define AUDIT_SUBJECT_MAX 128
#define AUDIT_KEY_MAX 32           /* a detail key: [a-z0-9_], 1..32 */
#define AUDIT_DETAILS_MAX (1024 * 1024)
#define AUDIT_FIELDS_MAX 64        /* details per event */
#define AUDIT_TEXT_MAX 128         /* serial, claim id, hardware id, ... */
#define AUDIT_REASON_MAX 256
#define AUDIT_CERT_MAX 4096
#define AUDIT_PUBKEY_MAX 1024

struct audit;

/* ---- Device states and the one table of allowed transitions ---------- */

enum audit_state {
	AUDIT_NONE = 0,         /* "no device yet": only -> allocated */
	AUDIT_ALLOCATED,        /* serial + claim id reserved, durable */
	AUDIT_KEY_READY,        /* public key known */
	AUDIT_ISSUED,           /* certificate issued, not yet on the device */
	AUDIT_WRITTEN,          /* stamp staged and read back; may activate */
	AUDIT_DONE,             /* stamp active; label printed */
	AUDIT_FAILED,           /* gave up, with a reason */
	AUDIT_VOIDED,           /* identity withdrawn before use */
	AUDIT_REVOKED,          /* certificate revoked; final */
	AUDIT_UNCONFIRMED,      /* written, device gone before done: officer */
};
#define AUDIT_STATE_COUNT 10

/* audit_state_name(s): "allocated", "key_ready", ...; "?" if out of range. */
const char *audit_state_name(enum audit_state s);

/* audit_state_parse(name, s): 0 and the state named ${name}, or -1. */
int audit_state_parse(const char *name, enum audit_state *s);

/*
 * audit_transition_allowed(from, to): whether a device in state ${from}
 * may move to ${to}. The table (docs/AUDIT.md) is enforced here only, by
 * audit_device_*() and by the replay in audit_verify().
 */
bool audit_transition_allowed(enum audit_state from, enum audit_state to);

/* ---- Event details: canonical key/value lists ------------------------- */

/* One detail: ${key} is [a-z0-9_]{1,32}; ${value} is ${len} bytes. */
struct audit_field {
	const char *key;
	const void *value;
	size_t len;
};

/* A parsed detail: ${value} points into the encoded buffer. */
struct audit_detail {
	char key[AUDIT_KEY_MAX + 1];
	const uint8_t *value;
	size_t len;
};

/*
 * audit_details_encode(f, n, out, len, err): the canonical encoding of the
 * ${n} fields (sorted by key; duplicate or malformed keys refused) into a
 * malloc'ed ${out} of ${len} bytes. n == 0 gives an empty encoding.
 */
int audit_details_encode(const struct audit_field *f, size_t n, uint8_t **out,
    size_t *len, char err[static AUDIT_ERR_MAX]);

/*
 * audit_details_parse(d, len, out, max, n): parse ${len} bytes at ${d} into
 * at most ${max} details; 0 and their number in ${n}, or -1 if the bytes are
 * not canonical (bad lengths, keys out of order or repeated, trailing bytes).
 */
int audit_details_parse(const uint8_t *d, size_t len, struct audit_detail *out,
    size_t max, size_t *n);

/* audit_text_valid(s, len): whether ${len} bytes at ${s} are text as the
 * log accepts it: UTF-8 without control characters. */
bool audit_text_valid(const char *s, size_t len);

/* ---- Opening, identity, signing -------------------------------------- */

/*
 * audit_open(path, station_id, err): open the database at ${path}, creating
 * it (and its first event, audit.created) when it does not exist and
 * ${station_id} is not NULL; migrate it to the current schema. An existing
 * database must belong to ${station_id} (when not NULL).
 */
struct audit *audit_open(const char *path, const char *station_id,
    char err[static AUDIT_ERR_MAX]);

/* audit_open_readonly(path, err): open an existing database, never writing. */
struct audit *audit_open_readonly(const char *path,
    char err[static AUDIT_ERR_MAX]);

/* audit_close(a): close; no checkpoint (call audit_checkpoint first). NULL ok. */
void audit_close(struct audit *a);

/* audit_error(a): the message of the last failed call on ${a}. */
const char *audit_error(const struct audit *a);

/* audit_station_id(a): the station id recorded in the database. */
const char *audit_station_id(const struct audit *a);

/* audit_set_checkpoint_every(a, n): seal every ${n} (>= 1) events. */
void audit_set_checkpoint_every(struct audit *a, unsigned n);

/* audit_set_clock(a, now, ctx): event times from ${now}(ctx), microseconds
 * since 1970 UTC (tests, replays); NULL restores the real clock. */
void audit_set_clock(struct audit *a, int64_t (*now)(void *ctx), void *ctx);

/*
 * audit_sign_fn(ctx, digest, sig, sig_len): sign the SHA-256 ${digest} of a
 * checkpoint (ECDSA: over the digest as given, no second hash; RSA: PKCS#1
 * v1.5 with SHA-256). On entry *sig_len is the room at ${sig}
 * (AUDIT_SIG_MAX); on success set it to the signature's length. ECDSA
 * signatures may be DER or raw r||s (PKCS#11); they are stored as DER.
 * Returns 0, or -1.
 */
typedef int audit_sign_fn(void *ctx, const uint8_t digest[static 32],
    uint8_t *sig, size_t *sig_len);

/*
 * audit_set_signer(a, sign, ctx, pubkey_pem, actor): checkpoints are signed
 * by ${sign}(${ctx}, ...) whose public key is ${pubkey_pem} (SPKI PEM; EC or
 * RSA). A test signature is checked against the key first. A key not seen
 * before is recorded (event audit.key, table audit_keys).
 */
int audit_set_signer(struct audit *a, audit_sign_fn *sign, void *ctx,
    const char *pubkey_pem, const char *actor);

/* ---- Transactions, events, checkpoints -------------------------------- */

/*
 * audit_begin(a) / audit_commit(a) / audit_rollback(a): group what is in
 * between into one durable transaction (bulk work). audit_commit() then
 * seals when a checkpoint is due. Without them every call commits alone.
 */
int audit_begin(struct audit *a);
int audit_commit(struct audit *a);
int audit_rollback(struct audit *a);

/*
 * audit_append(a, actor, kind, subject, f, n, seq): append one event; its
 * sequence number in ${seq} (may be NULL). Kinds beginning "audit.",
 * "device.", "order." or "deny." are reserved for the calls below.
 */
int audit_append(struct audit *a, const char *actor, const char *kind,
    const char *subject, const struct audit_field *f, size_t n, uint64_t *seq);

/*
 * audit_checkpoint(a): sign a checkpoint over the current head now (session
 * end); nothing to do if the head is sealed already. Needs a signer.
 */
int audit_checkpoint(struct audit *a);

/* audit_checkpoint_error(a): why the last automatic checkpoint failed (the
 * events themselves are committed; it is retried at the next commit), or
 * NULL. */
const char *audit_checkpoint_error(const struct audit *a);

/* audit_head(a, seq, hash, sealed): the last event's sequence and hash, and
 * the head of the latest checkpoint (0: none). Any pointer may be NULL. */
int audit_head(struct audit *a, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN],
    uint64_t *sealed);

/* One event as read back; pointers valid during the callback only. */
struct audit_event {
	uint64_t seq;
	int64_t time_us;
	const char *actor, *kind, *subject;
	const uint8_t *details;
	size_t details_len;
	const uint8_t *hash;           /* AUDIT_HASH_LEN bytes */
};

/* Filters for audit_events(); zero / NULL fields do not filter. */
struct audit_filter {
	int64_t since_us, until_us;    /* since <= time < until */
	const char *kind;              /* exact, or a prefix ending in '*' */
	const char *subject;           /* e.g. a serial */
	const char *actor;
};

/* audit_events(a, f, cb, ctx): call ${cb} for each event matching ${f}, in
 * sequence order; a non-zero return of ${cb} stops and is returned. */
int audit_events(struct audit *a, const struct audit_filter *f,
    int (*cb)(void *ctx, const struct audit_event *e), void *ctx);

/* audit_event_text(e, key, out, size): the detail ${key} of ${e} as text in
 * ${out} (NUL-terminated); 0, or -1 if absent, not canonical or longer than
 * ${size} - 1 bytes. */
int audit_event_text(const struct audit_event *e, const char *key, char *out,
    size_t size);

/* A checkpoint, as stored and as written to an anchor file. */
struct audit_checkpoint {
	char station_id[AUDIT_STATION_ID_MAX + 1];
	uint64_t head_seq;
	uint64_t event_count;
	uint8_t head_hash[AUDIT_HASH_LEN];
	int64_t time_us;
	uint8_t key_id[AUDIT_HASH_LEN];  /* SHA-256 of the key's SPKI DER */
	uint8_t sig[AUDIT_SIG_MAX];      /* DER */
	size_t sig_len;
};

/* audit_checkpoints(a, cb, ctx): each checkpoint, oldest first. */
int audit_checkpoints(struct audit *a,
    int (*cb)(void *ctx, const struct audit_checkpoint *c), void *ctx);

/* audit_checkpoint_latest(a, c): 0 and the latest checkpoint, 1 if none. */
int audit_checkpoint_latest(struct audit *a, struct audit_checkpoint *c);

/* ---- The canonical encodings, for auditors and tests ------------------ */

/*
 * audit_event_hash(prev, e, out): the chain hash of event ${e} after
 * ${prev} (32 zero bytes before the first event), as docs/AUDIT.md defines.
 * e->hash is not read.
 */
int audit_event_hash(const uint8_t prev[static AUDIT_HASH_LEN],
    const struct audit_event *e, uint8_t out[static AUDIT_HASH_LEN]);

/* audit_checkpoint_message(c, msg, len): the bytes a checkpoint signature
 * covers (malloc'ed); its SHA-256 is what audit_sign_fn signs. */
int audit_checkpoint_message(const struct audit_checkpoint *c, uint8_t **msg,
    size_t *len);

/*
 * audit_checkpoint_check(c, pubkey_pem, err): 0 if ${c}'s signature is valid
 * under ${pubkey_pem} and ${c}'s key id names that key, else -1 and why.
 */
int audit_checkpoint_check(const struct audit_checkpoint *c,
    const char *pubkey_pem, char err[static AUDIT_ERR_MAX]);

/*
 * audit_anchor_format(c, buf, size): ${c} as the text of an anchor file
 * (docs/AUDIT.md); its length, or -1 if ${size} is too small.
 * audit_anchor_parse(text, len, c, err): the reverse; the text must be
 * exactly canonical (what audit_anchor_format writes), else -1 and why.
 */
int audit_anchor_format(const struct audit_checkpoint *c, char *buf,
    size_t size);
int audit_anchor_parse(const char *text, size_t len, struct audit_checkpoint *c,
    char err[static AUDIT_ERR_MAX]);

/* ---- Devices ---------------------------------------------------------- */

struct audit_allocation {
	const char *serial;        /* unique forever */
	const char *claim_id;      /* unique forever */
	const char *hardware_id;   /* NULL: not known; else unique among the
	                              live devices (not failed, voided or
	                              revoked) */
	const char *order_id;      /* NULL, or an order added before */
	const char *key_mode;      /* "device", "token", "host", ... */
};

/*
 * A state change. Required per target state: key_ready: public_key;
 * issued: cert_der and cert_serial (unique forever); failed, voided,
 * revoked, unconfirmed: reason. Anything not required must be unset.
 */
struct audit_change {
	enum audit_state to;
	const uint8_t *public_key;   /* SPKI DER */
	size_t public_key_len;
	const uint8_t *cert_der;
	size_t cert_der_len;
	const char *cert_serial;     /* hex */
	const char *reason;
};

/* A device row. */
struct audit_device {
	char serial[AUDIT_TEXT_MAX + 1];
	char claim_id[AUDIT_TEXT_MAX + 1];
	char hardware_id[AUDIT_TEXT_MAX + 1];   /* "" if none */
	char order_id[AUDIT_TEXT_MAX + 1];      /* "" if none */
	char key_mode[AUDIT_TEXT_MAX + 1];
	char cert_serial[AUDIT_TEXT_MAX + 1];   /* "" if none */
	char reason[AUDIT_REASON_MAX + 1];      /* "" if none */
	enum audit_state state;
	uint8_t public_key[AUDIT_PUBKEY_MAX];
	size_t public_key_len;
	uint8_t cert_der[AUDIT_CERT_MAX];
	size_t cert_der_len;
	int64_t created_us, updated_us;
	uint64_t last_seq;                      /* its latest event */
};

/*
 * audit_device_allocate(a, d, actor, extra, n_extra, seq): record a new
 * device in state allocated with its event device.allocated; ${extra} are
 * further details for the event (keys must not clash).
 */
int audit_device_allocate(struct audit *a, const struct audit_allocation *d,
    const char *actor, const struct audit_field *extra, size_t n_extra,
    uint64_t *seq);

/*
 * audit_device_note(a, actor, kind, subject, f, n): append an event about
 * a device that changes no inventory row (the replay passes over it):
 * ${kind} is one of AUDIT_DEVICE_NOTES, ${subject} the serial or, before
 * allocation, the hardware id. 0 or -1.
 */
#define AUDIT_DEVICE_NOTES "device.attestation"
int audit_device_note(struct audit *a, const char *actor, const char *kind,
    const char *subject, const struct audit_field *f, size_t n);

/*
 * audit_device_transition(a, serial, c, actor, extra, n_extra, seq): move
 * device ${serial} to c->to if the table allows it, updating its row and
 * appending device.<state> in one transaction.
 */
int audit_device_transition(struct audit *a, const char *serial,
    const struct audit_change *c, const char *actor,
    const struct audit_field *extra, size_t n_extra, uint64_t *seq);

/* audit_device_get(a, serial, d): 0, 1 if there is no such device, -1. */
int audit_device_get(struct audit *a, const char *serial,
    struct audit_device *d);

/* audit_device_by_hardware(a, hardware_id, d): the device holding
 * ${hardware_id} (not failed, voided or revoked): 0, 1 if none, -1. */
int audit_device_by_hardware(struct audit *a, const char *hardware_id,
    struct audit_device *d);

/* audit_devices(a, state, cb, ctx): each device in ${state} (AUDIT_NONE:
 * all), by serial; a non-zero return of ${cb} stops and is returned.
 * ${cb} must not change the database (recovery: collect the serials, then
 * make the transitions). */
int audit_devices(struct audit *a, enum audit_state state,
    int (*cb)(void *ctx, const struct audit_device *d), void *ctx);

/* ---- Orders and the deny list ----------------------------------------- */

struct audit_order {
	char order_id[AUDIT_TEXT_MAX + 1];
	char product[AUDIT_TEXT_MAX + 1];
	uint64_t quantity;
	uint64_t serial_first, serial_last;     /* the serial block */
	uint8_t document_sha256[AUDIT_HASH_LEN];
	size_t document_len;
	int64_t added_us;
	uint64_t allocated;                     /* devices allocated under it */
};

/* audit_order_add(a, o, document, len, actor): record order ${o} (its
 * order_id, product, quantity, serial block) and its signed ${document}
 * as received; event order.added. Order ids are unique. */
int audit_order_add(struct audit *a, const struct audit_order *o,
    const uint8_t *document, size_t len, const char *actor);

/* audit_order_get(a, order_id, o): 0, 1 if unknown, -1. */
int audit_order_get(struct audit *a, const char *order_id,
    struct audit_order *o);

/* audit_order_document(a, order_id, doc, len): the stored document,
 * malloc'ed into ${doc}. */
int audit_order_document(struct audit *a, const char *order_id, uint8_t **doc,
    size_t *len);

/* audit_orders(a, cb, ctx): each order, by order id. */
int audit_orders(struct audit *a,
    int (*cb)(void *ctx, const struct audit_order *o), void *ctx);

struct audit_deny {
	char kind[AUDIT_KEY_MAX + 1];           /* hardware_id, serial, ... */
	char value[AUDIT_TEXT_MAX + 1];
	char reason[AUDIT_REASON_MAX + 1];
	int64_t added_us;
};

/* audit_deny_add(a, kind, value, reason, actor): deny ${kind} ${value}
 * (kind: [a-z0-9_]{1,32}); event deny.added. Already denied: -1. */
int audit_deny_add(struct audit *a, const char *kind, const char *value,
    const char *reason, const char *actor);

/* audit_deny_remove(a, kind, value, reason, actor): lift it; deny.removed. */
int audit_deny_remove(struct audit *a, const char *kind, const char *value,
    const char *reason, const char *actor);

/* audit_deny_get(a, kind, value, e): 0 and the entry if denied, 1 if not. */
int audit_deny_get(struct audit *a, const char *kind, const char *value,
    struct audit_deny *e);

/* audit_denies(a, cb, ctx): each entry, by kind and value. */
int audit_denies(struct audit *a,
    int (*cb)(void *ctx, const struct audit_deny *e), void *ctx);

/* ---- Verification (needs the database and a public key only) --------- */

enum audit_verdict {
	AUDIT_INTACT = 0,      /* everything checked out */
	AUDIT_TAMPERED = 1,    /* a problem: see problem / bad_seq */
};

struct audit_verify_result {
	enum audit_verdict verdict;
	char problem[AUDIT_ERR_MAX];   /* the first problem found, "" if none */
	uint64_t bad_seq;              /* the first bad event, 0 if none */
	uint64_t events;               /* events read */
	uint64_t head_seq;
	uint64_t checkpoints;          /* checkpoints whose signature held */
	uint64_t sealed_seq;           /* head of the latest valid checkpoint */
	uint64_t unsealed;             /* events after it */
	uint64_t devices;              /* device rows matched by the replay */
	bool key_from_db;              /* no key given: the database's own */
	bool anchor_checked;
	uint64_t anchor_seq;
	double chain_seconds, signature_seconds, replay_seconds;
};

/*
 * audit_verify(path, pubkey_pem, anchor, r): verify the database at ${path}
 * without changing it: the hash chain, every checkpoint's signature under
 * ${pubkey_pem} (one or more concatenated PEM public keys, e.g. before and
 * after a key rotation; NULL: the keys recorded in the database, which proves
 * nothing against someone who could rewrite it; r->key_from_db says so),
 * the inventory replay, and, if ${anchor} is not NULL, that the log still
 * holds the anchor's head. Returns 0 when it could run (verdict in ${r}), -1
 * when it could not (${path} missing, bad key), with r->problem saying why.
 */
int audit_verify(const char *path, const char *pubkey_pem,
    const struct audit_checkpoint *anchor, struct audit_verify_result *r);

#endif
