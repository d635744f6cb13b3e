/*
 * order.h: production orders, the brand owner's limit on what one station
 * may make (docs/ORDERS.md).
 *
 * An order is a small text document (one `key = value` per line) inside a
 * CMS SignedData (RFC 5652) with the content attached, signed by the
 * brand owner's order key, whose certificate the station trusts through
 * [pki] order_cert. It names one station, a product, a quantity, a serial
 * block, the key mode and claim mode, and an expiry. The openssl CLI makes
 * one: `openssl cms -sign -binary -nodetach -outform DER`.
 *
 * Import checks the signature and the signer's chain to the trusted
 * certificate, the station, the expiry and that the order id is new (to
 * the database and to the token), then records it in the audit database
 * as received and creates the token's counter `order:<id>`. Allocation
 * (order_allocate_check) refuses an order that is used up or expired and
 * detects a rolled-back database by comparing the database's count with
 * the token's.
 *
 * Functions return 0 or -1 with the reason in ${err} (ORDER_ERR_MAX), and
 * where a caller must tell refusals apart, the kind in ${problem}.
 */
#ifndef STATION_ORDER_H
#define STATION_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "audit/audit.h"
#include "hsm/hsm.h"

#define ORDER_ERR_MAX 512
#define ORDER_ID_MAX 64          /* [A-Za-z0-9._-] */
#define ORDER_STATION_MAX 32     /* [A-Za-z0-9._-], as [station] id */
#define ORDER_PRODUCT_MAX 32     /* [A-Za-z0-9.-]: it may go into serials */
#define ORDER_TEXT_MAX 4096      /* bytes of the signed text */
#define ORDER_DOC_MAX 65536      /* bytes of the CMS document */
#define ORDER_QUANTITY_MAX 1000000000000ULL     /* 10^12 */
#define ORDER_SERIAL_MAX 999999999999999ULL     /* 15 digits */

/* Why an order was refused; the exit code of import is 1 for each. */
enum order_problem {
	ORDER_OK = 0,
	ORDER_MALFORMED,        /* not a CMS SignedData order document */
	ORDER_BAD_SIGNATURE,    /* signature or content digest does not verify */
	ORDER_UNTRUSTED,        /* signer does not chain to [pki] order_cert */
	ORDER_OTHER_STATION,    /* for another station id */
	ORDER_EXPIRED,          /* expiry in the past */
	ORDER_REPLAYED,         /* this order id was imported before */
	ORDER_BLOCK_INVALID,    /* quantity / serial block do not fit */
	ORDER_USED_UP,          /* allocation: quantity reached */
	ORDER_ROLLED_BACK,      /* token count ahead of the database */
	ORDER_FAILED,           /* anything else (I/O, token, database) */
};

/* One order, as its signed text says. */
struct order {
	char order_id[ORDER_ID_MAX + 1];
	char station_id[ORDER_STATION_MAX + 1];
	char product[ORDER_PRODUCT_MAX + 1];
	uint64_t quantity;
	uint64_t serial_first, serial_last;
	char key_mode[8];        /* "device", "token", "host" */
	char claim_mode[12];     /* "user", "preclaimed" */
	int64_t expires;         /* seconds since 1970 UTC */
};

/*
 * order_parse_text(text, len, o, err): parse the signed text (the format of
 * docs/ORDERS.md: first line "station-order 1", then every key exactly
 * once). Checks every value's syntax and the quantity against the block
 * (ORDER_BLOCK_INVALID as -2), nothing about the station or time. 0, -1
 * (malformed) or -2 (block invalid), with ${err}.
 */
int order_parse_text(const uint8_t *text, size_t len, struct order *o,
    char err[static ORDER_ERR_MAX]);

/*
 * order_content(der, len, text, text_len, err): the signed text of the CMS
 * document ${der} (exactly ${len} bytes, no trailing bytes), without
 * checking the signature: for documents already verified and stored. The
 * text is malloc'ed into ${text}. 0 or -1 (malformed).
 */
int order_content(const uint8_t *der, size_t len, uint8_t **text,
    size_t *text_len, char err[static ORDER_ERR_MAX]);

/*
 * order_verify(der, len, trusted, o, problem, err): verify the CMS document
 * ${der}: one signer, the signature over the attached content, the
 * signer's certificate (in the document, or ${trusted} itself) chaining to
 * ${trusted} and valid now; then parse the text into ${o}. 0, or -1 with
 * ${problem} and ${err}.
 */
int order_verify(const uint8_t *der, size_t len, X509 *trusted,
    struct order *o, enum order_problem *problem,
    char err[static ORDER_ERR_MAX]);

/*
 * order_check_station(o, station_id, now, problem, err): the order is for
 * ${station_id} and not expired at ${now}. 0 or -1.
 */
int order_check_station(const struct order *o, const char *station_id,
    time_t now, enum order_problem *problem, char err[static ORDER_ERR_MAX]);

/*
 * order_import(a, h, module, cfg_station, trusted, der, len, now, actor, o,
 * problem, err): the whole import: verify, station, expiry, serial block
 * overlap with orders of the same product, not in the database, not on the
 * token (a token record without a database row means the database was
 * rolled back), then audit_order_add (the document as received, event
 * order.added; the key mode, claim mode and expiry stay readable in the
 * stored document) and the token's counter order:<id> = 0. ${h} NULL
 * skips the token (tests without a token; the CLI always passes it).
 */
int order_import(struct audit *a, struct hsm *h, const char *module,
    const char *station_id, X509 *trusted, const uint8_t *der, size_t len,
    time_t now, const char *actor, struct order *o,
    enum order_problem *problem, char err[static ORDER_ERR_MAX]);

/* order_load(a, order_id, o, err): an imported order's terms, from the
 * stored document (not verified again). 0, 1 if unknown, -1. */
int order_load(struct audit *a, const char *order_id, struct order *o,
    char err[static ORDER_ERR_MAX]);

/* The state of an order now, for status and the bench loop. */
struct order_state {
	struct order terms;
	uint64_t allocated;         /* devices allocated (database) */
	uint64_t reserved;          /* the token's count as the database
	                               recorded it: allocated, or a
	                               reservation ahead of it */
	uint64_t left;              /* quantity - allocated, 0 if none */
	bool token_known;           /* token consulted and record found */
	uint64_t token_count;       /* the token's count, if known */
	const char *state;          /* "open", "used up", "expired", "rolled back" */
};

/*
 * order_state_get(a, h, module, order_id, now, st, err): the order's
 * state; the token's record too if ${h} is not NULL. 0, 1 unknown, -1.
 */
int order_state_get(struct audit *a, struct hsm *h, const char *module,
    const char *order_id, time_t now, struct order_state *st,
    char err[static ORDER_ERR_MAX]);

/*
 * order_allocate_check(a, h, module, order_id, now, st, serial, problem,
 * err): "may I allocate one more identity under ${order_id} now?": the
 * order is known, not expired, not used up, and the token's count is not
 * ahead of the database's (ORDER_ROLLED_BACK). 0 and the next serial
 * number of the block in ${serial} (serial_first + allocated), or -1.
 */
int order_allocate_check(struct audit *a, struct hsm *h, const char *module,
    const char *order_id, time_t now, struct order_state *st,
    uint64_t *serial, enum order_problem *problem,
    char err[static ORDER_ERR_MAX]);

/*
 * order_allocated(h, module, order_id, allocated, err): after a device
 * was allocated under ${order_id} in the database (durably), raise the
 * token's count to ${allocated} (the database's new count), unless a
 * reservation covers it already. Database
 * first, token second: a crash in between leaves the token one behind,
 * which order_allocate_check repairs; never ahead, which it reports.
 */
int order_allocated(struct hsm *h, const char *module, const char *order_id,
    uint64_t allocated, char err[static ORDER_ERR_MAX]);

/*
 * order_reserve(a, h, module, order_id, upto, actor, err): raise the
 * token's count of ${order_id} to ${upto} ahead of allocations (the bench
 * does it a block at a time: one token write per block instead of one per
 * device), the new count recorded in the log first (event
 * ORDER_RESERVED_KIND, detail upto), so that a token ahead of the
 * database's count by a recorded reservation is not a rollback, while a
 * token ahead of every record still is. Serials still follow the
 * database's count, so a crash skips nothing and reuses nothing. The
 * price: a database copied back to a state after the last reservation
 * (at most one block of devices behind) is not caught by the token
 * alone; the audit anchor catches it. 0 or -1.
 */
#define ORDER_RESERVED_KIND "bench.reserved"
int order_reserve(struct audit *a, struct hsm *h, const char *module,
    const char *order_id, uint64_t upto, const char *actor,
    char err[static ORDER_ERR_MAX]);

/*
 * order_demo_write(dir, key_file, cert_file, station_id, now, err): the
 * demo orders, one per key mode (DEMO-DEVICE-1, DEMO-TOKEN-1,
 * DEMO-HOST-1; product DW1; disjoint serial blocks; a year to run),
 * signed with the demo order key ${key_file} and its certificate, as
 * ${dir}/demo-<mode>.order (new files; ${dir} is created if missing).
 * Also their text as demo-<mode>.txt, to read. 0 or -1.
 */
int order_demo_write(const char *dir, const char *key_file,
    const char *cert_file, const char *station_id, time_t now,
    char err[static ORDER_ERR_MAX]);

/* order_problem_name(p): "bad signature", "expired", ... */
const char *order_problem_name(enum order_problem p);

/* order_time_text(t, buf): "YYYY-MM-DDTHH:MM:SSZ". */
void order_time_text(int64_t t, char buf[static 32]);

#endif
