/*
 * replay.c: rebuilding the inventory from the event log, and comparing.
 *
 * Each device, order and deny-list event is applied to TEMP tables shaped
 * like the real ones, under the same rules the writing side enforces
 * (audit_transition_allowed(), required details per state, serials, claim
 * ids and certificate serials never reused, one live device per hardware
 * id). Long values are kept as SHA-256, as the events carry them. The real
 * tables are then compared with the rebuilt ones in both directions with
 * EXCEPT, which treats a change of type as a difference too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/replay.h"

static const char temp_schema[] =
	"CREATE TEMP TABLE r_devices (serial TEXT PRIMARY KEY, claim_id TEXT "
	"NOT NULL UNIQUE, hardware_id TEXT, order_id TEXT, key_mode TEXT NOT "
	"NULL, state TEXT NOT NULL, public_key BLOB, cert_serial TEXT, cert_der "
	"BLOB, reason TEXT, created_us INTEGER, updated_us INTEGER, last_seq "
	"INTEGER);"
	"CREATE UNIQUE INDEX temp.r_devices_hw ON r_devices (hardware_id) WHERE "
	"hardware_id IS NOT NULL AND state NOT IN ('failed', 'voided', 'revoked');"
	"CREATE TEMP TABLE r_certs (cert_serial TEXT PRIMARY KEY, serial TEXT);"
	"CREATE TEMP TABLE r_orders (order_id TEXT PRIMARY KEY, product TEXT, "
	"quantity INTEGER, serial_first INTEGER, serial_last INTEGER, document "
	"BLOB, document_len INTEGER, added_us INTEGER);"
	"CREATE TEMP TABLE r_deny (kind TEXT, value TEXT, reason TEXT, added_us "
	"INTEGER, PRIMARY KEY (kind, value));";

/* audit_sha256(x): SQL function: SHA-256 of a BLOB, NULL for NULL, and a
 * marker for any other type so that a changed type never compares equal. */
static void
sql_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	uint8_t h[AUDIT_HASH_LEN];
	int type = sqlite3_value_type(argv[0]);

	(void)argc;
	if (type == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	if (type != SQLITE_BLOB) {
		sqlite3_result_text(ctx, "(not a blob)", -1, SQLITE_STATIC);
		return;
	}
	audit_sha256(sqlite3_value_bytes(argv[0]) ? sqlite3_value_blob(argv[0])
	    : "", (size_t)sqlite3_value_bytes(argv[0]), h);
	sqlite3_result_blob(ctx, h, AUDIT_HASH_LEN, SQLITE_TRANSIENT);
}

static int
fail(struct replay *rp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct replay *rp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->err, sizeof(rp->err), fmt, ap);
	va_end(ap);
	return -1;
}

int
audit_replay_init(struct replay *rp, sqlite3 *db)
{
	memset(rp, 0, sizeof(*rp));
	rp->db = db;
	if (sqlite3_create_function(db, "audit_sha256", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_sha256, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, temp_schema, NULL, NULL, NULL) != SQLITE_OK)
		return fail(rp, "cannot set up the replay: %s", sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "SELECT state, cert_serial FROM r_devices "
	    "WHERE serial = ?", -1, &rp->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO r_devices VALUES (?1, ?2, ?3, ?4, "
	    "?5, 'allocated', NULL, NULL, NULL, NULL, ?6, ?6, ?7)", -1, &rp->ins,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE r_devices SET state = ?2, public_key = "
	    "coalesce(?3, public_key), cert_serial = coalesce(?4, cert_serial), "
	    "cert_der = coalesce(?5, cert_der), reason = coalesce(?6, reason), "
	    "updated_us = ?7, last_seq = ?8 WHERE serial = ?1", -1, &rp->upd,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO r_certs VALUES (?, ?)", -1,
	    &rp->cert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM r_orders WHERE order_id = ?", -1,
	    &rp->order_get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO r_orders VALUES (?, ?, ?, ?, ?, ?, "
	    "?, ?)", -1, &rp->order_ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO r_deny VALUES (?, ?, ?, ?)", -1,
	    &rp->deny_ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM r_deny WHERE kind = ? AND value = "
	    "?", -1, &rp->deny_del, NULL) != SQLITE_OK)
		return fail(rp, "cannot set up the replay: %s", sqlite3_errmsg(db));
	return 0;
}

void
audit_replay_free(struct replay *rp)
{
	sqlite3_finalize(rp->get);
	sqlite3_finalize(rp->ins);
	sqlite3_finalize(rp->upd);
	sqlite3_finalize(rp->cert);
	sqlite3_finalize(rp->order_get);
	sqlite3_finalize(rp->order_ins);
	sqlite3_finalize(rp->deny_ins);
	sqlite3_finalize(rp->deny_del);
}

static const struct audit_detail *
find(const struct audit_detail *d, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].key, key) == 0)
			return &d[i];
	return NULL;
}

/* Text detail ${key}: required or optional; NULL when absent. */
static int
text_detail(struct replay *rp, const struct audit_detail *d, size_t n,
    const char *key, bool required, const struct audit_detail **out)
{
	*out = find(d, n, key);
	if (*out == NULL)
		return required ? fail(rp, "detail '%s' missing", key) : 0;
	if ((*out)->len == 0 || (*out)->len > AUDIT_REASON_MAX ||
	    !audit_text_ok((const char *)(*out)->value, (*out)->len))
		return fail(rp, "detail '%s' is not valid text", key);
	return 0;
}

static void
bind_detail(sqlite3_stmt *st, int i, const struct audit_detail *d, bool blob)
{
	if (d == NULL)
		sqlite3_bind_null(st, i);
	else if (blob)
		sqlite3_bind_blob(st, i, d->value, (int)d->len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_text(st, i, (const char *)d->value, (int)d->len,
		    SQLITE_TRANSIENT);
}

static int
run(struct replay *rp, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	return fail(rp, "%s", what);
}

/* Reserved device keys that this device event must not carry. */
static int
no_foreign_keys(struct replay *rp, const struct audit_detail *d, size_t n,
    const char *const *own)
{
	for (size_t i = 0; i < n; i++) {
		bool mine = false;

		if (!audit_device_key_reserved(d[i].key))
			continue;
		for (const char *const *o = own; *o; o++)
			mine |= strcmp(*o, d[i].key) == 0;
		if (!mine)
			return fail(rp, "detail '%s' does not belong to this "
			    "event", d[i].key);
	}
	return 0;
}

static int
device_allocated(struct replay *rp, const struct audit_event *e,
    const struct audit_detail *d, size_t n)
{
	static const char *const own[] = { "claim_id", "hardware_id", "key_mode",
	    "order_id", NULL };
	const struct audit_detail *claim, *hw, *mode, *order;
	int rc;

	if (no_foreign_keys(rp, d, n, own) ||
	    text_detail(rp, d, n, "claim_id", true, &claim) ||
	    text_detail(rp, d, n, "hardware_id", false, &hw) ||
	    text_detail(rp, d, n, "key_mode", true, &mode) ||
	    text_detail(rp, d, n, "order_id", false, &order))
		return -1;
	if (e->subject[0] == '\0')
		return fail(rp, "no serial");
	if (order != NULL) {
		bind_detail(rp->order_get, 1, order, false);
		rc = sqlite3_step(rp->order_get);
		sqlite3_reset(rp->order_get);
		if (rc != SQLITE_ROW)
			return fail(rp, "allocated under an order never loaded");
	}
	sqlite3_bind_text(rp->ins, 1, e->subject, -1, SQLITE_TRANSIENT);
	bind_detail(rp->ins, 2, claim, false);
	bind_detail(rp->ins, 3, hw, false);
	bind_detail(rp->ins, 4, order, false);
	bind_detail(rp->ins, 5, mode, false);
	sqlite3_bind_int64(rp->ins, 6, e->time_us);
	sqlite3_bind_int64(rp->ins, 7, (sqlite3_int64)e->seq);
	return run(rp, rp->ins, "serial or claim id reused, or the hardware id "
	    "belongs to a live device");
}

static int
device_change(struct replay *rp, const struct audit_event *e,
    enum audit_state to, const struct audit_detail *d, size_t n)
{
	static const char *const own_key[] = { "public_key_sha256", NULL };
	static const char *const own_cert[] = { "cert_serial", "cert_sha256",
	    NULL };
	static const char *const own_reason[] = { "reason", NULL };
	static const char *const own_none[] = { NULL };
	const struct audit_detail *key = NULL, *cs = NULL, *cert = NULL,
	    *reason = NULL;
	enum audit_state from;
	bool has_cert;
	int rc;

	sqlite3_bind_text(rp->get, 1, e->subject, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(rp->get);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(rp->get);
		return fail(rp, "no such device was allocated");
	}
	rc = audit_state_parse((const char *)sqlite3_column_text(rp->get, 0),
	    &from);
	has_cert = sqlite3_column_type(rp->get, 1) != SQLITE_NULL;
	sqlite3_reset(rp->get);
	if (rc != 0 || !audit_transition_allowed(from, to))
		return fail(rp, "%s -> %s is not an allowed transition",
		    audit_state_name(from), audit_state_name(to));
	if (to == AUDIT_KEY_READY) {
		if (no_foreign_keys(rp, d, n, own_key))
			return -1;
		key = find(d, n, "public_key_sha256");
		if (key == NULL || key->len != AUDIT_HASH_LEN)
			return fail(rp, "detail 'public_key_sha256' missing");
	} else if (to == AUDIT_ISSUED) {
		if (no_foreign_keys(rp, d, n, own_cert) ||
		    text_detail(rp, d, n, "cert_serial", true, &cs))
			return -1;
		cert = find(d, n, "cert_sha256");
		if (cert == NULL || cert->len != AUDIT_HASH_LEN)
			return fail(rp, "detail 'cert_sha256' missing");
		bind_detail(rp->cert, 1, cs, false);
		sqlite3_bind_text(rp->cert, 2, e->subject, -1, SQLITE_TRANSIENT);
		if (run(rp, rp->cert, "certificate serial reused") != 0)
			return -1;
	} else if (to == AUDIT_FAILED || to == AUDIT_VOIDED ||
	    to == AUDIT_REVOKED || to == AUDIT_UNCONFIRMED) {
		if (no_foreign_keys(rp, d, n, own_reason) ||
		    text_detail(rp, d, n, "reason", true, &reason))
			return -1;
		if (to == AUDIT_REVOKED && !has_cert)
			return fail(rp, "revoked without a certificate");
	} else if (no_foreign_keys(rp, d, n, own_none)) {
		return -1;
	}
	sqlite3_bind_text(rp->upd, 1, e->subject, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(rp->upd, 2, audit_state_name(to), -1, SQLITE_STATIC);
	bind_detail(rp->upd, 3, key, true);
	bind_detail(rp->upd, 4, cs, false);
	bind_detail(rp->upd, 5, cert, true);
	bind_detail(rp->upd, 6, reason, false);
	sqlite3_bind_int64(rp->upd, 7, e->time_us);
	sqlite3_bind_int64(rp->upd, 8, (sqlite3_int64)e->seq);
	return run(rp, rp->upd, "the hardware id belongs to a live device");
}

static int
number_detail(struct replay *rp, const struct audit_detail *d, size_t n,
    const char *key, uint64_t *v)
{
	const struct audit_detail *x = find(d, n, key);

	if (x == NULL || audit_u64_parse(x->value, x->len, v) != 0 ||
	    *v > INT64_MAX)
		return fail(rp, "detail '%s' missing or not a number", key);
	return 0;
}

static int
order_added(struct replay *rp, const struct audit_event *e,
    const struct audit_detail *d, size_t n)
{
	const struct audit_detail *product, *sha;
	uint64_t qty, first, last, dlen;

	if (text_detail(rp, d, n, "product", true, &product) ||
	    number_detail(rp, d, n, "quantity", &qty) ||
	    number_detail(rp, d, n, "serial_first", &first) ||
	    number_detail(rp, d, n, "serial_last", &last) ||
	    number_detail(rp, d, n, "document_len", &dlen))
		return -1;
	sha = find(d, n, "document_sha256");
	if (sha == NULL || sha->len != AUDIT_HASH_LEN)
		return fail(rp, "detail 'document_sha256' missing");
	sqlite3_bind_text(rp->order_ins, 1, e->subject, -1, SQLITE_TRANSIENT);
	bind_detail(rp->order_ins, 2, product, false);
	sqlite3_bind_int64(rp->order_ins, 3, (sqlite3_int64)qty);
	sqlite3_bind_int64(rp->order_ins, 4, (sqlite3_int64)first);
	sqlite3_bind_int64(rp->order_ins, 5, (sqlite3_int64)last);
	bind_detail(rp->order_ins, 6, sha, true);
	sqlite3_bind_int64(rp->order_ins, 7, (sqlite3_int64)dlen);
	sqlite3_bind_int64(rp->order_ins, 8, e->time_us);
	return run(rp, rp->order_ins, "order loaded twice");
}

static int
deny_event(struct replay *rp, const struct audit_event *e, bool add,
    const struct audit_detail *d, size_t n)
{
	const struct audit_detail *kind, *reason;

	if (text_detail(rp, d, n, "deny_kind", true, &kind) ||
	    text_detail(rp, d, n, "reason", true, &reason))
		return -1;
	if (add) {
		bind_detail(rp->deny_ins, 1, kind, false);
		sqlite3_bind_text(rp->deny_ins, 2, e->subject, -1,
		    SQLITE_TRANSIENT);
		bind_detail(rp->deny_ins, 3, reason, false);
		sqlite3_bind_int64(rp->deny_ins, 4, e->time_us);
		return run(rp, rp->deny_ins, "denied twice");
	}
	bind_detail(rp->deny_del, 1, kind, false);
	sqlite3_bind_text(rp->deny_del, 2, e->subject, -1, SQLITE_TRANSIENT);
	if (run(rp, rp->deny_del, "cannot replay") != 0)
		return -1;
	if (sqlite3_changes(rp->db) != 1)
		return fail(rp, "removed from the deny list but never on it");
	return 0;
}

int
audit_replay_event(struct replay *rp, const struct audit_event *e)
{
	static struct audit_detail d[AUDIT_FIELDS_MAX];
	enum audit_state to;
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d, AUDIT_FIELDS_MAX,
	    &n) != 0)
		return fail(rp, "details are not in canonical form");
	if (strncmp(e->kind, "device.", 7) == 0) {
		if (audit_device_is_note(e->kind))
			return 0;
		if (strcmp(e->kind + 7, "allocated") == 0)
			return device_allocated(rp, e, d, n);
		if (audit_state_parse(e->kind + 7, &to) != 0)
			return fail(rp, "unknown device event");
		return device_change(rp, e, to, d, n);
	}
	if (strcmp(e->kind, "order.added") == 0)
		return order_added(rp, e, d, n);
	if (strcmp(e->kind, "deny.added") == 0)
		return deny_event(rp, e, true, d, n);
	if (strcmp(e->kind, "deny.removed") == 0)
		return deny_event(rp, e, false, d, n);
	if (strncmp(e->kind, "order.", 6) == 0 || strncmp(e->kind, "deny.", 5) == 0)
		return fail(rp, "unknown event kind");
	return 0;
}

/* First key (column 0) of the rows of ${a} not in ${b}; NULL if none. */
static int
first_difference(struct replay *rp, const char *a, const char *b, char *key,
    size_t size)
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT * FROM (%s EXCEPT %s) LIMIT 1", a, b);
	if (sqlite3_prepare_v2(rp->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(rp, "cannot read the inventory: %s",
		    sqlite3_errmsg(rp->db));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(key, size, "%s", sqlite3_column_text(st, 0) ?
		    (const char *)sqlite3_column_text(st, 0) : "(null)");
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return fail(rp, "cannot read the inventory: %s",
		    sqlite3_errmsg(rp->db));
	return 0;
}

/* Describes how device ${serial} differs; sets rp->bad_seq. */
static void
explain_device(struct replay *rp, const char *serial, const char *table_sql)
{
	static const char *const cols[] = { "serial", "claim_id", "hardware_id",
	    "order_id", "key_mode", "state", "public_key", "cert_serial",
	    "cert_der", "reason", "created_us", "updated_us", "last_seq" };
	char sql[1024];
	sqlite3_stmt *t = NULL, *r = NULL;
	bool have_t, have_r;

	snprintf(sql, sizeof(sql), "SELECT * FROM (%s) WHERE serial = ?",
	    table_sql);
	sqlite3_prepare_v2(rp->db, sql, -1, &t, NULL);
	sqlite3_prepare_v2(rp->db, "SELECT * FROM r_devices WHERE serial = ?", -1,
	    &r, NULL);
	sqlite3_bind_text(t, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 1, serial, -1, SQLITE_STATIC);
	have_t = sqlite3_step(t) == SQLITE_ROW;
	have_r = sqlite3_step(r) == SQLITE_ROW;
	if (have_r)
		rp->bad_seq = (uint64_t)sqlite3_column_int64(r, 12);
	if (!have_r) {
		fail(rp, "device %.64s is in the devices table but no event "
		    "allocated it", serial);
	} else if (!have_t) {
		fail(rp, "device %.64s was allocated (its last event is %llu) but "
		    "its row is missing", serial, (unsigned long long)rp->bad_seq);
	} else {
		fail(rp, "device %.64s: its row differs from what its events say",
		    serial);
		for (int i = 0; i < 13; i++) {
			sqlite3_value *x = sqlite3_column_value(t, i);
			sqlite3_value *y = sqlite3_column_value(r, i);

			if (sqlite3_value_type(x) != sqlite3_value_type(y) ||
			    sqlite3_value_bytes(x) != sqlite3_value_bytes(y) ||
			    memcmp(sqlite3_value_blob(x) ? sqlite3_value_blob(x) :
			    (const void *)"", sqlite3_value_blob(y) ?
			    sqlite3_value_blob(y) : (const void *)"",
			    (size_t)sqlite3_value_bytes(x)) != 0) {
				fail(rp, "device %.64s: column %s differs from "
				    "what its events say (last event %llu)", serial,
				    cols[i], (unsigned long long)rp->bad_seq);
				break;
			}
		}
	}
	sqlite3_finalize(t);
	sqlite3_finalize(r);
}

int
audit_replay_compare(struct replay *rp, uint64_t *devices)
{
	static const char dev_sql[] = "SELECT serial, claim_id, hardware_id, "
	    "order_id, key_mode, state, audit_sha256(public_key), cert_serial, "
	    "audit_sha256(cert_der), reason, created_us, updated_us, last_seq "
	    "FROM main.devices";
	static const char *const pairs[][3] = {
		{ "SELECT cert_serial, serial FROM main.cert_serials",
		    "SELECT * FROM r_certs", "certificate serial" },
		{ "SELECT order_id, product, quantity, serial_first, serial_last, "
		    "audit_sha256(document), length(document), added_us FROM "
		    "main.orders", "SELECT * FROM r_orders", "order" },
		{ "SELECT value, kind, reason, added_us FROM main.deny_list",
		    "SELECT value, kind, reason, added_us FROM r_deny",
		    "deny-list entry" },
	};
	char key[AUDIT_TEXT_MAX * 2];
	sqlite3_stmt *st = NULL;
	int rc;

	*devices = 0;
	if ((rc = first_difference(rp, dev_sql, "SELECT * FROM r_devices", key,
	    sizeof(key))) == 0)
		rc = first_difference(rp, "SELECT * FROM r_devices", dev_sql, key,
		    sizeof(key));
	if (rc < 0)
		return -1;
	if (rc == 1) {
		explain_device(rp, key, dev_sql);
		return -1;
	}
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if ((rc = first_difference(rp, pairs[i][0], pairs[i][1], key,
		    sizeof(key))) == 0)
			rc = first_difference(rp, pairs[i][1], pairs[i][0], key,
			    sizeof(key));
		if (rc < 0)
			return -1;
		if (rc == 1)
			return fail(rp, "%s %.64s: the table differs from what the "
			    "events say", pairs[i][2], key);
	}
	if (sqlite3_prepare_v2(rp->db, "SELECT count(*) FROM main.devices", -1,
	    &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return fail(rp, "cannot count the devices");
	}
	*devices = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}
