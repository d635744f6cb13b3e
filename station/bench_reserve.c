/*
 * bench_reserve.c: where the bench takes serial numbers from, and the
 * token's count of the order kept a block ahead (one token write per
 * BENCH_RESERVE devices instead of one per device).
 *
 * The token's count of an order (hsm/orders.c) is "positions of the
 * serial block handed out". The bench raises it a block at a time
 * (order_reserve: the log records the new count first, event
 * bench.reserved with from and upto), and takes serials from a cursor
 * inside that block: serial_first + cursor. Positions of a block that a
 * run did not use are given back only by a clean end (event
 * bench.released, resume = the cursor); the next run resumes there, and
 * still raises the token first, so that a database copied back to any
 * earlier state finds the token ahead of every count it recorded (a
 * rollback, order.h). After a crash the next run starts at the token's
 * count: serials in between are skipped, never reused. The quantity
 * still counts devices (the database's allocated); the serial block must
 * also have room, so crashes can make an order end before its quantity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/bench_steps.h"

/* What the log says about the order's reservations. */
struct ledger {
	uint64_t reserved;        /* highest upto recorded */
	bool released;            /* the last record is a clean end */
	uint64_t resume, upto;    /* of that clean end */
};

static uint64_t
detail_u64(const struct audit_detail *d)
{
	char text[24];

	if (d->len == 0 || d->len >= sizeof(text))
		return 0;
	memcpy(text, d->value, d->len);
	text[d->len] = '\0';
	return strtoull(text, NULL, 10);
}

static int
scan(void *ctx, const struct audit_event *e)
{
	struct ledger *l = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	bool rel = strcmp(e->kind, BENCH_RELEASED_KIND) == 0;
	uint64_t upto = 0, resume = 0;
	size_t n;

	if ((!rel && strcmp(e->kind, ORDER_RESERVED_KIND) != 0) ||
	    audit_details_parse(e->details, e->details_len, d,
	    AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, "upto") == 0)
			upto = detail_u64(&d[i]);
		else if (strcmp(d[i].key, "resume") == 0)
			resume = detail_u64(&d[i]);
	}
	if (upto > l->reserved)
		l->reserved = upto;
	l->released = rel;
	l->resume = resume;
	l->upto = upto;
	return 0;
}

int
bench_reserve(struct bench *b, const struct order_state *st,
    struct bench_result *r, char err[static ORDER_ERR_MAX])
{
	struct audit_filter f = { .subject = b->terms.order_id };
	struct ledger l = { 0 };
	uint64_t block = st->terms.serial_last - st->terms.serial_first + 1;
	uint64_t from, upto, token = st->token_count;
	double t = bench_now_ms();
	int rc;

	if (b->token_upto == 0) {       /* the run's first reservation */
		if (audit_events(b->a, &f, scan, &l) < 0) {
			snprintf(err, ORDER_ERR_MAX, "%s", audit_error(b->a));
			return -1;
		}
		from = l.released && l.upto == token && l.resume < token ?
		    l.resume : token;
	} else {
		from = b->token_upto;
		if (token < from)
			token = from;
	}
	if (from >= block) {
		snprintf(err, ORDER_ERR_MAX, "order %s: its serial block is used "
		    "up (%llu positions; %llu devices allocated, the rest lost "
		    "to interrupted runs); ask the brand owner for a new order",
		    b->terms.order_id, (unsigned long long)block,
		    (unsigned long long)st->allocated);
		return 1;
	}
	upto = from + BENCH_RESERVE > token + 1 ? from + BENCH_RESERVE :
	    token + 1;
	if (upto > block)
		upto = block;
	rc = upto > token ? order_reserve(b->a, b->h, b->cfg->hsm_module,
	    b->terms.order_id, upto, b->actor, err) : 0;
	r->t.token += bench_now_ms() - t;
	if (rc != 0)
		return -1;
	b->cursor = from;
	b->token_upto = upto > token ? upto : token;
	return 0;
}

int
bench_release(struct bench *b)
{
	struct audit_field f[2];
	char resume[24], upto[24];

	if (b->token_upto == 0 || b->cursor >= b->token_upto)
		return 0;
	snprintf(resume, sizeof(resume), "%llu", (unsigned long long)b->cursor);
	snprintf(upto, sizeof(upto), "%llu", (unsigned long long)b->token_upto);
	f[0] = (struct audit_field){ "resume", resume, strlen(resume) };
	f[1] = (struct audit_field){ "upto", upto, strlen(upto) };
	return audit_append(b->a, b->actor, BENCH_RELEASED_KIND,
	    b->terms.order_id, f, 2, NULL);
}
