/*
 * orders.c: production orders and the deny list, each change with its
 * event in one transaction (order.added, deny.added, deny.removed), so the
 * verifier can rebuild both tables from the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"

static int
step_done(struct audit *a, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return audit_fail(a, "%s", what);
	return audit_sqlfail(a, what);
}

int
audit_order_add(struct audit *a, const struct audit_order *o,
    const uint8_t *document, size_t len, const char *actor)
{
	char qty[21], first[21], last[21], dlen[21];
	uint8_t sha[AUDIT_HASH_LEN];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (audit_check_text(a, "order id", o->order_id, AUDIT_TEXT_MAX, true) ||
	    audit_check_text(a, "product", o->product, AUDIT_TEXT_MAX, true))
		return -1;
	if (o->quantity == 0 || o->serial_last < o->serial_first ||
	    o->serial_last - o->serial_first + 1 < o->quantity ||
	    o->serial_last > INT64_MAX || o->quantity > INT64_MAX)
		return audit_fail(a, "order %s: the serial block %llu..%llu does "
		    "not hold %llu devices", o->order_id,
		    (unsigned long long)o->serial_first,
		    (unsigned long long)o->serial_last,
		    (unsigned long long)o->quantity);
	if (len > AUDIT_DETAILS_MAX || (len > 0 && document == NULL))
		return audit_fail(a, "order document missing or too large");
	audit_sha256(document ? (const void *)document : "", len, sha);
	audit_u64_text(o->quantity, qty);
	audit_u64_text(o->serial_first, first);
	audit_u64_text(o->serial_last, last);
	audit_u64_text(len, dlen);
	{
		struct audit_field f[] = {
			{ "document_len", dlen, strlen(dlen) },
			{ "document_sha256", sha, AUDIT_HASH_LEN },
			{ "product", o->product, strlen(o->product) },
			{ "quantity", qty, strlen(qty) },
			{ "serial_first", first, strlen(first) },
			{ "serial_last", last, strlen(last) },
		};

		if (audit_tx_begin(a) != 0)
			return -1;
		if (audit_append_fields(a, actor, "order.added", o->order_id, f,
		    sizeof(f) / sizeof(f[0]), NULL) != 0)
			goto cleanup;
	}
	if (sqlite3_prepare_v2(a->db, "INSERT INTO orders (order_id, product, "
	    "quantity, serial_first, serial_last, document, added_us) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot record the order");
		goto cleanup;
	}
	sqlite3_bind_text(st, 1, o->order_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->product, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)o->quantity);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)o->serial_first);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)o->serial_last);
	sqlite3_bind_blob(st, 6, document ? (const void *)document : "",
	    (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, a->last_time);
	if (step_done(a, st, "an order with this id was loaded before") != 0)
		goto cleanup;
	rc = 0;
cleanup:
	sqlite3_finalize(st);
	return audit_tx_end(a, rc);
}

#define ORDER_SQL "SELECT o.order_id, o.product, o.quantity, o.serial_first, " \
	"o.serial_last, o.document, o.added_us, (SELECT count(*) FROM devices " \
	"d WHERE d.order_id = o.order_id) FROM orders o "

static void
order_row(sqlite3_stmt *st, struct audit_order *o)
{
	const unsigned char *t;

	memset(o, 0, sizeof(*o));
	t = sqlite3_column_text(st, 0);
	snprintf(o->order_id, sizeof(o->order_id), "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(st, 1);
	snprintf(o->product, sizeof(o->product), "%s", t ? (const char *)t : "");
	o->quantity = (uint64_t)sqlite3_column_int64(st, 2);
	o->serial_first = (uint64_t)sqlite3_column_int64(st, 3);
	o->serial_last = (uint64_t)sqlite3_column_int64(st, 4);
	o->document_len = (size_t)sqlite3_column_bytes(st, 5);
	audit_sha256(o->document_len ? sqlite3_column_blob(st, 5) : "",
	    o->document_len, o->document_sha256);
	o->added_us = sqlite3_column_int64(st, 6);
	o->allocated = (uint64_t)sqlite3_column_int64(st, 7);
}

int
audit_order_get(struct audit *a, const char *order_id, struct audit_order *o)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(a->db, ORDER_SQL "WHERE o.order_id = ?", -1, &st,
	    NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the orders");
	sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		order_row(st, o);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = 1;
	} else {
		audit_sqlfail(a, "cannot read the orders");
	}
	sqlite3_finalize(st);
	return ret;
}

int
audit_order_document(struct audit *a, const char *order_id, uint8_t **doc,
    size_t *len)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;

	*doc = NULL;
	*len = 0;
	if (sqlite3_prepare_v2(a->db, "SELECT document FROM orders WHERE "
	    "order_id = ?", -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the orders");
	sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		audit_fail(a, "no order '%s'", order_id);
		goto cleanup;
	}
	*len = (size_t)sqlite3_column_bytes(st, 0);
	if ((*doc = malloc(*len ? *len : 1)) == NULL) {
		audit_fail(a, "out of memory");
		goto cleanup;
	}
	if (*len)
		memcpy(*doc, sqlite3_column_blob(st, 0), *len);
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

int
audit_orders(struct audit *a, int (*cb)(void *ctx, const struct audit_order *o),
    void *ctx)
{
	struct audit_order o;
	sqlite3_stmt *st = NULL;
	int rc, r, ret = -1;

	if (sqlite3_prepare_v2(a->db, ORDER_SQL "ORDER BY o.order_id", -1, &st,
	    NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the orders");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		order_row(st, &o);
		if ((r = cb(ctx, &o)) != 0) {
			ret = r;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE) {
		audit_sqlfail(a, "cannot read the orders");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

static int
deny_check(struct audit *a, const char *kind, const char *value,
    const char *reason)
{
	struct audit_field f = { kind, "", 0 };
	uint8_t *d = NULL;
	size_t len;

	/* A deny kind has the shape of a detail key. */
	if (kind == NULL || audit_details_encode(&f, 1, &d, &len, a->err) != 0)
		return kind ? -1 : audit_fail(a, "deny kind is required");
	free(d);
	return audit_check_text(a, "deny value", value, AUDIT_TEXT_MAX, true) ||
	    audit_check_text(a, "reason", reason, AUDIT_REASON_MAX, true) ? -1 : 0;
}

static int
deny_change(struct audit *a, const char *kind, const char *value,
    const char *reason, const char *actor, bool add)
{
	struct audit_field f[] = {
		{ "deny_kind", kind, strlen(kind) },
		{ "reason", reason, strlen(reason) },
	};
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (audit_tx_begin(a) != 0)
		return -1;
	if (audit_append_fields(a, actor, add ? "deny.added" : "deny.removed",
	    value, f, 2, NULL) != 0)
		goto cleanup;
	if (sqlite3_prepare_v2(a->db, add ? "INSERT INTO deny_list (kind, value, "
	    "reason, added_us) VALUES (?, ?, ?, ?)" : "DELETE FROM deny_list "
	    "WHERE kind = ? AND value = ?", -1, &st, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot change the deny list");
		goto cleanup;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (add) {
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, a->last_time);
	}
	if (step_done(a, st, "already on the deny list") != 0)
		goto cleanup;
	if (!add && sqlite3_changes(a->db) != 1) {
		audit_fail(a, "%s '%s' is not on the deny list", kind, value);
		goto cleanup;
	}
	rc = 0;
cleanup:
	sqlite3_finalize(st);
	return audit_tx_end(a, rc);
}

int
audit_deny_add(struct audit *a, const char *kind, const char *value,
    const char *reason, const char *actor)
{
	if (deny_check(a, kind, value, reason) != 0)
		return -1;
	return deny_change(a, kind, value, reason, actor, true);
}

int
audit_deny_remove(struct audit *a, const char *kind, const char *value,
    const char *reason, const char *actor)
{
	if (deny_check(a, kind, value, reason) != 0)
		return -1;
	return deny_change(a, kind, value, reason, actor, false);
}

static void
deny_row(sqlite3_stmt *st, struct audit_deny *e)
{
	const unsigned char *t;

	memset(e, 0, sizeof(*e));
	t = sqlite3_column_text(st, 0);
	snprintf(e->kind, sizeof(e->kind), "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(st, 1);
	snprintf(e->value, sizeof(e->value), "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(st, 2);
	snprintf(e->reason, sizeof(e->reason), "%s", t ? (const char *)t : "");
	e->added_us = sqlite3_column_int64(st, 3);
}

int
audit_deny_get(struct audit *a, const char *kind, const char *value,
    struct audit_deny *e)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(a->db, "SELECT kind, value, reason, added_us FROM "
	    "deny_list WHERE kind = ? AND value = ?", -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the deny list");
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		deny_row(st, e);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = 1;
	} else {
		audit_sqlfail(a, "cannot read the deny list");
	}
	sqlite3_finalize(st);
	return ret;
}

int
audit_denies(struct audit *a, int (*cb)(void *ctx, const struct audit_deny *e),
    void *ctx)
{
	struct audit_deny e;
	sqlite3_stmt *st = NULL;
	int rc, r, ret = -1;

	if (sqlite3_prepare_v2(a->db, "SELECT kind, value, reason, added_us FROM "
	    "deny_list ORDER BY kind, value", -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the deny list");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		deny_row(st, &e);
		if ((r = cb(ctx, &e)) != 0) {
			ret = r;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE) {
		audit_sqlfail(a, "cannot read the deny list");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}
