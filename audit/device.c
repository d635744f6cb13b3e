/*
 * device.c: the device inventory and its state machine.
 *
 * The table of allowed transitions is here and only here (the replay in
 * verify.c asks audit_transition_allowed() too). Every change to a device
 * row is made together with the event that explains it, in one transaction;
 * the event carries every value the row takes (long values as SHA-256), so
 * replaying the log rebuilds the table exactly.
 *
 *   allocated   -> key_ready | failed | voided
 *   key_ready   -> issued | failed | voided
 *   issued      -> written | failed | voided | revoked   (recovery: never
 *                                                        staged -> revoked)
 *   written     -> done | unconfirmed | failed | revoked
 *   unconfirmed -> done | failed | revoked               (officer resolves)
 *   done        -> revoked | key_ready | issued          (re-stamp)
 *   failed      -> revoked                               (had a certificate)
 *   voided      -> revoked                               (had a certificate)
 *   revoked     -> (final)
 *
 * "revoked" needs a certificate. A hardware id belongs to at most one live
 * device (not failed, voided or revoked). Serials, claim ids and
 * certificate serials are never reused: rows are never deleted (trigger),
 * identity columns never change (trigger), and every certificate serial
 * ever issued stays in cert_serials.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"

static const char *const state_names[AUDIT_STATE_COUNT] = {
	"none", "allocated", "key_ready", "issued", "written", "done", "failed",
	"voided", "revoked", "unconfirmed",
};

#define B(s) (1u << (s))
static const unsigned allowed[AUDIT_STATE_COUNT] = {
	[AUDIT_NONE] = B(AUDIT_ALLOCATED),
	[AUDIT_ALLOCATED] = B(AUDIT_KEY_READY) | B(AUDIT_FAILED) | B(AUDIT_VOIDED),
	[AUDIT_KEY_READY] = B(AUDIT_ISSUED) | B(AUDIT_FAILED) | B(AUDIT_VOIDED),
	[AUDIT_ISSUED] = B(AUDIT_WRITTEN) | B(AUDIT_FAILED) | B(AUDIT_VOIDED) |
	    B(AUDIT_REVOKED),
	[AUDIT_WRITTEN] = B(AUDIT_DONE) | B(AUDIT_UNCONFIRMED) | B(AUDIT_FAILED) |
	    B(AUDIT_REVOKED),
	[AUDIT_UNCONFIRMED] = B(AUDIT_DONE) | B(AUDIT_FAILED) | B(AUDIT_REVOKED),
	[AUDIT_DONE] = B(AUDIT_REVOKED) | B(AUDIT_KEY_READY) | B(AUDIT_ISSUED),
	[AUDIT_FAILED] = B(AUDIT_REVOKED),
	[AUDIT_VOIDED] = B(AUDIT_REVOKED),
	[AUDIT_REVOKED] = 0,
};

const char *
audit_state_name(enum audit_state s)
{
	return (unsigned)s < AUDIT_STATE_COUNT ? state_names[s] : "?";
}

int
audit_state_parse(const char *name, enum audit_state *s)
{
	for (unsigned i = 1; i < AUDIT_STATE_COUNT; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*s = (enum audit_state)i;
			return 0;
		}
	}
	return -1;
}

bool
audit_transition_allowed(enum audit_state from, enum audit_state to)
{
	if ((unsigned)from >= AUDIT_STATE_COUNT || (unsigned)to >= AUDIT_STATE_COUNT)
		return false;
	return (allowed[from] & B(to)) != 0;
}

bool
audit_device_key_reserved(const char *key)
{
	static const char *const reserved[] = { "claim_id", "hardware_id",
	    "key_mode", "order_id", "public_key_sha256", "cert_serial",
	    "cert_sha256", "reason" };

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(key, reserved[i]) == 0)
			return true;
	return false;
}

/* Appends a device event with ${own} fields and the caller's ${extra}. */
static int
device_event(struct audit *a, const char *actor, const char *kind,
    const char *serial, const struct audit_field *own, size_t n_own,
    const struct audit_field *extra, size_t n_extra, uint64_t *seq)
{
	struct audit_field f[AUDIT_FIELDS_MAX];

	if (n_extra > AUDIT_FIELDS_MAX - n_own)
		return audit_fail(a, "too many details");
	for (size_t i = 0; i < n_extra; i++) {
		if (extra[i].key != NULL && audit_device_key_reserved(extra[i].key))
			return audit_fail(a, "detail '%s' is reserved for the "
			    "device record", extra[i].key);
	}
	memcpy(f, own, n_own * sizeof(*f));
	if (n_extra)
		memcpy(f + n_own, extra, n_extra * sizeof(*f));
	return audit_append_fields(a, actor, kind, serial, f, n_own + n_extra,
	    seq);
}

/* cached(a, slot, sql): a statement prepared once per handle (the
 * device calls are the hot path of bulk issuance); hand it back with
 * release(). NULL if it does not prepare. */
static sqlite3_stmt *
cached(struct audit *a, sqlite3_stmt **slot, const char *sql)
{
	if (*slot == NULL && sqlite3_prepare_v3(a->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
		sqlite3_finalize(*slot);
		*slot = NULL;
	}
	return *slot;
}

static void
release(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static int
step_done(struct audit *a, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return audit_fail(a, "%s: %s", what, sqlite3_errmsg(a->db));
	return audit_sqlfail(a, what);
}

int
audit_device_allocate(struct audit *a, const struct audit_allocation *d,
    const char *actor, const struct audit_field *extra, size_t n_extra,
    uint64_t *seq)
{
	struct audit_field own[4];
	struct audit_device other;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	uint64_t s;
	int rc = -1, found;

	if (audit_check_text(a, "serial", d->serial, AUDIT_TEXT_MAX, true) ||
	    audit_check_text(a, "claim id", d->claim_id, AUDIT_TEXT_MAX, true) ||
	    audit_check_text(a, "hardware id", d->hardware_id, AUDIT_TEXT_MAX,
	    false) || audit_check_text(a, "order id", d->order_id,
	    AUDIT_TEXT_MAX, false) || audit_check_text(a, "key mode",
	    d->key_mode, AUDIT_TEXT_MAX, true))
		return -1;
	if (d->hardware_id != NULL && d->hardware_id[0] == '\0')
		return audit_fail(a, "hardware id is empty (pass NULL if unknown)");
	if (d->order_id != NULL && d->order_id[0] == '\0')
		return audit_fail(a, "order id is empty (pass NULL if none)");
	own[n++] = (struct audit_field){ "claim_id", d->claim_id,
	    strlen(d->claim_id) };
	if (d->hardware_id)
		own[n++] = (struct audit_field){ "hardware_id", d->hardware_id,
		    strlen(d->hardware_id) };
	own[n++] = (struct audit_field){ "key_mode", d->key_mode,
	    strlen(d->key_mode) };
	if (d->order_id)
		own[n++] = (struct audit_field){ "order_id", d->order_id,
		    strlen(d->order_id) };
	if (audit_tx_begin(a) != 0)
		return -1;
	if (d->hardware_id != NULL) {
		if ((found = audit_device_by_hardware(a, d->hardware_id, &other)) < 0)
			goto cleanup;
		if (found == 0) {
			audit_fail(a, "hardware id '%s' already belongs to device "
			    "%s (%s)", d->hardware_id, other.serial,
			    audit_state_name(other.state));
			goto cleanup;
		}
	}
	if (device_event(a, actor, "device.allocated", d->serial, own, n, extra,
	    n_extra, &s) != 0)
		goto cleanup;
	if ((st = cached(a, &a->dev_ins, "INSERT INTO devices (serial, claim_id, "
	    "hardware_id, order_id, key_mode, state, created_us, updated_us, "
	    "last_seq) VALUES (?, ?, ?, ?, ?, 'allocated', ?, ?, ?)")) == NULL) {
		audit_sqlfail(a, "cannot record the device");
		goto cleanup;
	}
	sqlite3_bind_text(st, 1, d->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->claim_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->hardware_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->order_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->key_mode, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, a->last_time);
	sqlite3_bind_int64(st, 7, a->last_time);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)s);
	if (step_done(a, st, "cannot allocate the device (serial or claim id "
	    "used before, or unknown order?)") != 0)
		goto cleanup;
	if (seq)
		*seq = s;
	rc = 0;
cleanup:
	release(st);
	return audit_tx_end(a, rc);
}

/* Checks that ${c} carries exactly what c->to needs. */
static int
check_change(struct audit *a, const struct audit_change *c)
{
	bool wants_key = c->to == AUDIT_KEY_READY;
	bool wants_cert = c->to == AUDIT_ISSUED;
	bool wants_reason = c->to == AUDIT_FAILED || c->to == AUDIT_VOIDED ||
	    c->to == AUDIT_REVOKED || c->to == AUDIT_UNCONFIRMED;

	if (c->to <= AUDIT_ALLOCATED || (unsigned)c->to >= AUDIT_STATE_COUNT)
		return audit_fail(a, "bad target state");
	if (wants_key != (c->public_key != NULL && c->public_key_len > 0))
		return audit_fail(a, wants_key ? "key_ready needs the public key" :
		    "a public key is only given with key_ready");
	if (c->public_key_len > AUDIT_PUBKEY_MAX)
		return audit_fail(a, "public key too long");
	if (wants_cert != (c->cert_der != NULL && c->cert_der_len > 0) ||
	    wants_cert != (c->cert_serial != NULL))
		return audit_fail(a, wants_cert ? "issued needs the certificate "
		    "and its serial" : "a certificate is only given with issued");
	if (c->cert_der_len > AUDIT_CERT_MAX)
		return audit_fail(a, "certificate too long");
	if (audit_check_text(a, "certificate serial", c->cert_serial,
	    AUDIT_TEXT_MAX, wants_cert) != 0)
		return -1;
	if (wants_reason != (c->reason != NULL))
		return audit_fail(a, wants_reason ? "%s needs a reason" :
		    "a reason is not given with %s", audit_state_name(c->to));
	return audit_check_text(a, "reason", c->reason, AUDIT_REASON_MAX,
	    wants_reason);
}

bool
audit_device_is_note(const char *kind)
{
	static const char *const notes[] = { AUDIT_DEVICE_NOTES };

	for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
		if (strcmp(kind, notes[i]) == 0)
			return true;
	return false;
}

int
audit_device_note(struct audit *a, const char *actor, const char *kind,
    const char *subject, const struct audit_field *f, size_t n)
{
	int rc;

	if (kind == NULL || !audit_device_is_note(kind))
		return audit_fail(a, "'%s' is not a device note event",
		    kind ? kind : "(null)");
	if (audit_tx_begin(a) != 0)
		return -1;
	rc = audit_append_fields(a, actor, kind, subject, f, n, NULL);
	return audit_tx_end(a, rc);
}

int
audit_device_transition(struct audit *a, const char *serial,
    const struct audit_change *c, const char *actor,
    const struct audit_field *extra, size_t n_extra, uint64_t *seq)
{
	static struct audit_device cur;  /* large; calls are not reentrant */
	uint8_t key_sha[AUDIT_HASH_LEN], cert_sha[AUDIT_HASH_LEN];
	struct audit_field own[2];
	char kind[AUDIT_KIND_MAX + 1];
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	uint64_t s;
	int rc = -1, found;

	if (audit_check_text(a, "serial", serial, AUDIT_TEXT_MAX, true) != 0 ||
	    check_change(a, c) != 0)
		return -1;
	if (c->public_key) {
		audit_sha256(c->public_key, c->public_key_len, key_sha);
		own[n++] = (struct audit_field){ "public_key_sha256", key_sha,
		    AUDIT_HASH_LEN };
	}
	if (c->cert_der) {
		audit_sha256(c->cert_der, c->cert_der_len, cert_sha);
		own[n++] = (struct audit_field){ "cert_serial", c->cert_serial,
		    strlen(c->cert_serial) };
		own[n++] = (struct audit_field){ "cert_sha256", cert_sha,
		    AUDIT_HASH_LEN };
	}
	if (c->reason)
		own[n++] = (struct audit_field){ "reason", c->reason,
		    strlen(c->reason) };
	snprintf(kind, sizeof(kind), "device.%s", audit_state_name(c->to));
	if (audit_tx_begin(a) != 0)
		return -1;
	if ((found = audit_device_get(a, serial, &cur)) != 0) {
		if (found == 1)
			audit_fail(a, "no device with serial '%s'", serial);
		goto cleanup;
	}
	if (!audit_transition_allowed(cur.state, c->to)) {
		audit_fail(a, "device %s: %s -> %s is not allowed", serial,
		    audit_state_name(cur.state), audit_state_name(c->to));
		goto cleanup;
	}
	if (c->to == AUDIT_REVOKED && cur.cert_serial[0] == '\0') {
		audit_fail(a, "device %s has no certificate to revoke", serial);
		goto cleanup;
	}
	if (device_event(a, actor, kind, serial, own, n, extra, n_extra, &s))
		goto cleanup;
	if ((st = cached(a, &a->dev_upd, "UPDATE devices SET state = ?, "
	    "public_key = coalesce(?, public_key), cert_serial = coalesce(?, "
	    "cert_serial), cert_der = coalesce(?, cert_der), reason = "
	    "coalesce(?, reason), updated_us = ?, last_seq = ? WHERE serial = "
	    "?")) == NULL) {
		audit_sqlfail(a, "cannot update the device");
		goto cleanup;
	}
	sqlite3_bind_text(st, 1, audit_state_name(c->to), -1, SQLITE_STATIC);
	if (c->public_key)
		sqlite3_bind_blob(st, 2, c->public_key, (int)c->public_key_len,
		    SQLITE_STATIC);
	if (c->cert_der) {
		sqlite3_bind_text(st, 3, c->cert_serial, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, c->cert_der, (int)c->cert_der_len,
		    SQLITE_STATIC);
	}
	sqlite3_bind_text(st, 5, c->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, a->last_time);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)s);
	sqlite3_bind_text(st, 8, serial, -1, SQLITE_STATIC);
	if (step_done(a, st, "cannot update the device"))
		goto cleanup;
	if (c->cert_der) {
		release(st);
		if ((st = cached(a, &a->cert_ins, "INSERT INTO cert_serials "
		    "(cert_serial, serial) VALUES (?, ?)")) == NULL) {
			audit_sqlfail(a, "cannot record the certificate serial");
			goto cleanup;
		}
		sqlite3_bind_text(st, 1, c->cert_serial, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
		if (step_done(a, st, "certificate serial used before") != 0)
			goto cleanup;
	}
	if (seq)
		*seq = s;
	rc = 0;
cleanup:
	release(st);
	return audit_tx_end(a, rc);
}

static void
copy_text(char *dst, size_t size, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void
copy_blob(uint8_t *dst, size_t size, size_t *len, sqlite3_stmt *st, int i)
{
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	*len = n > size ? size : n;
	if (*len)
		memcpy(dst, sqlite3_column_blob(st, i), *len);
}

#define DEVICE_COLUMNS "serial, claim_id, hardware_id, order_id, key_mode, " \
	"state, public_key, cert_serial, cert_der, reason, created_us, " \
	"updated_us, last_seq"

static int
device_row(struct audit *a, sqlite3_stmt *st, struct audit_device *d)
{
	copy_text(d->serial, sizeof(d->serial), st, 0);
	copy_text(d->claim_id, sizeof(d->claim_id), st, 1);
	copy_text(d->hardware_id, sizeof(d->hardware_id), st, 2);
	copy_text(d->order_id, sizeof(d->order_id), st, 3);
	copy_text(d->key_mode, sizeof(d->key_mode), st, 4);
	if (audit_state_parse((const char *)sqlite3_column_text(st, 5) ?
	    (const char *)sqlite3_column_text(st, 5) : "", &d->state) != 0)
		return audit_fail(a, "device %s has an unknown state; run "
		    "'station audit verify'", d->serial);
	copy_blob(d->public_key, sizeof(d->public_key), &d->public_key_len, st, 6);
	copy_text(d->cert_serial, sizeof(d->cert_serial), st, 7);
	copy_blob(d->cert_der, sizeof(d->cert_der), &d->cert_der_len, st, 8);
	copy_text(d->reason, sizeof(d->reason), st, 9);
	d->created_us = sqlite3_column_int64(st, 10);
	d->updated_us = sqlite3_column_int64(st, 11);
	d->last_seq = (uint64_t)sqlite3_column_int64(st, 12);
	return 0;
}

/* Runs ${sql} with one text parameter; the first row into ${d}. With
 * ${slot}, the statement is cached there. */
static int
device_one(struct audit *a, sqlite3_stmt **slot, const char *sql,
    const char *param, struct audit_device *d)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (slot != NULL ? (st = cached(a, slot, sql)) == NULL :
	    sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the devices");
	sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = device_row(a, st, d);
	else if (rc == SQLITE_DONE)
		ret = 1;
	else
		audit_sqlfail(a, "cannot read the devices");
	if (slot != NULL)
		release(st);
	else
		sqlite3_finalize(st);
	return ret;
}

int
audit_device_get(struct audit *a, const char *serial, struct audit_device *d)
{
	return device_one(a, &a->dev_get, "SELECT " DEVICE_COLUMNS " FROM "
	    "devices WHERE serial = ?", serial, d);
}

int
audit_device_by_hardware(struct audit *a, const char *hardware_id,
    struct audit_device *d)
{
	return device_one(a, NULL, "SELECT " DEVICE_COLUMNS " FROM devices "
	    "WHERE hardware_id = ? AND state NOT IN ('failed', 'voided', 'revoked')",
	    hardware_id, d);
}

int
audit_devices(struct audit *a, enum audit_state state,
    int (*cb)(void *ctx, const struct audit_device *d), void *ctx)
{
	static struct audit_device d;
	sqlite3_stmt *st = NULL;
	int rc, r, ret = -1;

	if (sqlite3_prepare_v2(a->db, "SELECT " DEVICE_COLUMNS " FROM devices "
	    "WHERE ?1 IS NULL OR state = ?1 ORDER BY serial", -1, &st, NULL) !=
	    SQLITE_OK)
		return audit_sqlfail(a, "cannot read the devices");
	if (state != AUDIT_NONE)
		sqlite3_bind_text(st, 1, audit_state_name(state), -1,
		    SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (device_row(a, st, &d) != 0)
			goto cleanup;
		if ((r = cb(ctx, &d)) != 0) {
			ret = r;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE) {
		audit_sqlfail(a, "cannot read the devices");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}
