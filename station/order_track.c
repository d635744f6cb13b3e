/*
 * order_track.c: importing orders and keeping count of what was made
 * under them, in the audit database and in the token (order.h).
 *
 * The database holds each order as received (audit_order_add) and counts
 * the devices allocated under it; the token holds one counter per order
 * (hsm_order_counter_*). The database is written first and the token
 * second, so after a crash the token is at most one behind, which is
 * repaired; the token ahead of the database means the database was copied
 * back to an older state (or replaced), and stamping under that order
 * stops. A re-import of an order the database forgot but the token
 * remembers is refused the same way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/order.h"

static void
fmt(char err[static ORDER_ERR_MAX], const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static void
fmt(char err[static ORDER_ERR_MAX], const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(err, ORDER_ERR_MAX, f, ap);
	va_end(ap);
}

struct overlap {
	const struct order *o;
	char with[AUDIT_TEXT_MAX + 1];
};

static int
find_overlap(void *ctx, const struct audit_order *e)
{
	struct overlap *ov = ctx;

	if (strcmp(e->product, ov->o->product) == 0 &&
	    e->serial_first <= ov->o->serial_last &&
	    ov->o->serial_first <= e->serial_last) {
		snprintf(ov->with, sizeof(ov->with), "%s", e->order_id);
		return 1;
	}
	return 0;
}

int
order_import(struct audit *a, struct hsm *h, const char *module,
    const char *station_id, X509 *trusted, const uint8_t *der, size_t len,
    time_t now, const char *actor, struct order *o,
    enum order_problem *problem, char err[static ORDER_ERR_MAX])
{
	struct audit_order rec, old;
	struct overlap ov = { o, "" };
	char herr[HSM_ERR_MAX], when[32];
	uint64_t count;
	int rc;

	if (order_verify(der, len, trusted, o, problem, err) != 0 ||
	    order_check_station(o, station_id, now, problem, err) != 0)
		return -1;
	*problem = ORDER_FAILED;
	if ((rc = audit_order_get(a, o->order_id, &old)) < 0) {
		fmt(err, "%s", audit_error(a));
		return -1;
	}
	if (rc == 0) {
		order_time_text(old.added_us / 1000000, when);
		*problem = ORDER_REPLAYED;
		fmt(err, "order %s was imported before (at %s); an order is "
		    "imported only once", o->order_id, when);
		return -1;
	}
	if (h != NULL) {
		rc = hsm_order_counter_get(h, module, o->order_id, &count, herr);
		if (rc < 0) {
			fmt(err, "%s", herr);
			return -1;
		}
		if (rc == 0) {
			*problem = ORDER_REPLAYED;
			fmt(err, "order %s was imported before: the token holds "
			    "its record (%llu allocated) but the database does "
			    "not; the database was rolled back or replaced, and "
			    "a security officer must resolve this", o->order_id,
			    (unsigned long long)count);
			return -1;
		}
	}
	if (audit_orders(a, find_overlap, &ov) < 0) {
		fmt(err, "%s", audit_error(a));
		return -1;
	}
	if (ov.with[0] != '\0') {
		*problem = ORDER_BLOCK_INVALID;
		fmt(err, "order %s: serial block %llu..%llu of %s overlaps order "
		    "%s", o->order_id, (unsigned long long)o->serial_first,
		    (unsigned long long)o->serial_last, o->product, ov.with);
		return -1;
	}
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.order_id, sizeof(rec.order_id), "%s", o->order_id);
	snprintf(rec.product, sizeof(rec.product), "%s", o->product);
	rec.quantity = o->quantity;
	rec.serial_first = o->serial_first;
	rec.serial_last = o->serial_last;
	if (audit_order_add(a, &rec, der, len, actor) != 0) {
		fmt(err, "%s", audit_error(a));
		return -1;
	}
	if (h != NULL && hsm_order_counter_create(h, module, o->order_id,
	    herr) != 0) {
		fmt(err, "order %s is recorded in the database but not on the "
		    "token: %s (it is recorded on the token at its first use)",
		    o->order_id, herr);
		return -1;
	}
	*problem = ORDER_OK;
	return 0;
}

int
order_load(struct audit *a, const char *order_id, struct order *o,
    char err[static ORDER_ERR_MAX])
{
	struct audit_order rec;
	uint8_t *doc = NULL, *text = NULL;
	size_t len, text_len;
	char detail[ORDER_ERR_MAX];
	int rc, ret = -1;

	if ((rc = audit_order_get(a, order_id, &rec)) != 0) {
		if (rc < 0)
			fmt(err, "%s", audit_error(a));
		else
			fmt(err, "no order '%s' was imported", order_id);
		return rc;
	}
	if (audit_order_document(a, order_id, &doc, &len) != 0) {
		fmt(err, "%s", audit_error(a));
		return -1;
	}
	if (order_content(doc, len, &text, &text_len, detail) != 0 ||
	    order_parse_text(text, text_len, o, detail) != 0) {
		fmt(err, "order %s: stored document unreadable: %s", order_id,
		    detail);
		goto cleanup;
	}
	if (strcmp(o->order_id, order_id) != 0 || o->quantity != rec.quantity ||
	    o->serial_first != rec.serial_first ||
	    o->serial_last != rec.serial_last) {
		fmt(err, "order %s: the stored document does not match the "
		    "database's row", order_id);
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(doc);
	free(text);
	return ret;
}

/* Reservations: the bench raises the token's count by a block ahead of
 * use (order_reserve), each time recording the new count in the log
 * first (event ORDER_RESERVED_KIND, subject the order id, detail upto). */
struct reserved {
	uint64_t upto;
};

static int
find_reserved(void *ctx, const struct audit_event *e)
{
	struct reserved *r = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	char text[24];
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].key, "upto") == 0 && d[i].len < sizeof(text)) {
			uint64_t v;

			memcpy(text, d[i].value, d[i].len);
			text[d[i].len] = '\0';
			v = strtoull(text, NULL, 10);
			if (v > r->upto)
				r->upto = v;
		}
	return 0;
}

int
order_reserve(struct audit *a, struct hsm *h, const char *module,
    const char *order_id, uint64_t upto, const char *actor,
    char err[static ORDER_ERR_MAX])
{
	struct audit_field f[1];
	char text[24], herr[HSM_ERR_MAX];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)upto);
	f[0] = (struct audit_field){ "upto", text, strlen(text) };
	if (audit_append(a, actor, ORDER_RESERVED_KIND, order_id, f, 1,
	    NULL) != 0) {
		fmt(err, "%s", audit_error(a));
		return -1;
	}
	if (hsm_order_counter_set(h, module, order_id, upto, herr) != 0) {
		fmt(err, "%s", herr);
		return -1;
	}
	return 0;
}

int
order_state_get(struct audit *a, struct hsm *h, const char *module,
    const char *order_id, time_t now, struct order_state *st,
    char err[static ORDER_ERR_MAX])
{
	struct audit_order rec;
	char herr[HSM_ERR_MAX];
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = order_load(a, order_id, &st->terms, err)) != 0)
		return rc;
	if (audit_order_get(a, order_id, &rec) != 0) {
		fmt(err, "%s", audit_error(a));
		return -1;
	}
	st->allocated = rec.allocated;
	{
		struct audit_filter f = { .kind = ORDER_RESERVED_KIND,
		    .subject = order_id };
		struct reserved r = { 0 };

		if (audit_events(a, &f, find_reserved, &r) < 0) {
			fmt(err, "%s", audit_error(a));
			return -1;
		}
		st->reserved = r.upto > rec.allocated ? r.upto : rec.allocated;
	}
	st->left = rec.allocated < rec.quantity ? rec.quantity - rec.allocated :
	    0;
	if (h != NULL) {
		rc = hsm_order_counter_get(h, module, order_id, &st->token_count,
		    herr);
		if (rc < 0) {
			fmt(err, "%s", herr);
			return -1;
		}
		st->token_known = rc == 0;
	}
	if (st->token_known && st->token_count > st->reserved)
		st->state = "rolled back";
	else if (st->left == 0)
		st->state = "used up";
	else if ((int64_t)now >= st->terms.expires)
		st->state = "expired";
	else
		st->state = "open";
	return 0;
}

int
order_allocate_check(struct audit *a, struct hsm *h, const char *module,
    const char *order_id, time_t now, struct order_state *st,
    uint64_t *serial, enum order_problem *problem,
    char err[static ORDER_ERR_MAX])
{
	char herr[HSM_ERR_MAX], when[32];
	int rc;

	*problem = ORDER_FAILED;
	if ((rc = order_state_get(a, h, module, order_id, now, st, err)) != 0)
		return -1;
	if (st->token_known && st->token_count > st->reserved) {
		*problem = ORDER_ROLLED_BACK;
		fmt(err, "order %s: the token counted %llu identities but the "
		    "database only %llu; the database was rolled back or "
		    "replaced, and stamping under this order stops until a "
		    "security officer resolves it", order_id,
		    (unsigned long long)st->token_count,
		    (unsigned long long)st->reserved);
		return -1;
	}
	if (h != NULL && (!st->token_known || st->token_count < st->reserved)) {
		/* The token is behind (a crash between the database and the
		 * token, or its record was never made): bring it up. */
		if ((!st->token_known && hsm_order_counter_create(h, module,
		    order_id, herr) != 0) || hsm_order_counter_set(h, module,
		    order_id, st->reserved, herr) != 0) {
			fmt(err, "%s", herr);
			return -1;
		}
		st->token_known = true;
		st->token_count = st->reserved;
	}
	if (st->left == 0) {
		*problem = ORDER_USED_UP;
		fmt(err, "order %s is used up: %llu of %llu allocated; ask the "
		    "brand owner for a new order", order_id,
		    (unsigned long long)st->allocated,
		    (unsigned long long)st->terms.quantity);
		return -1;
	}
	if ((int64_t)now >= st->terms.expires) {
		order_time_text(st->terms.expires, when);
		*problem = ORDER_EXPIRED;
		fmt(err, "order %s expired at %s; ask the brand owner for a new "
		    "order", order_id, when);
		return -1;
	}
	*serial = st->terms.serial_first + st->allocated;
	*problem = ORDER_OK;
	return 0;
}

int
order_allocated(struct hsm *h, const char *module, const char *order_id,
    uint64_t allocated, char err[static ORDER_ERR_MAX])
{
	char herr[HSM_ERR_MAX];
	uint64_t now;

	/* Already counted by a reservation (order_reserve): nothing to do. */
	if (hsm_order_counter_get(h, module, order_id, &now, herr) == 0 &&
	    now >= allocated)
		return 0;
	if (hsm_order_counter_set(h, module, order_id, allocated, herr) != 0) {
		fmt(err, "%s", herr);
		return -1;
	}
	return 0;
}
