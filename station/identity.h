/*
 * identity.h: a device's identity: its serial number, made from the
 * order's serial block through a template, and its claim ID, a random
 * code in Crockford base32 that the buyer types (docs/IDENTITIES.md).
 *
 * Serial template: literal characters A-Z a-z 0-9 . - and the fields
 *   {product}  the order's product     {station}  the station id
 *   {order}    the order id            {n}        the number from the block
 *   {n:0W}     the number, zero-padded to W digits (1..20)
 * {n} must appear exactly once (a serial block maps one-to-one to serials).
 * The result must be 1..IDENTITY_SERIAL_MAX of A-Z a-z 0-9 . - (it is the
 * certificate subject's serialNumber, a PrintableString).
 *
 * Claim ID: ${symbols} (IDENTITY_CLAIM_MIN..IDENTITY_CLAIM_MAX) symbols of
 * 0123456789ABCDEFGHJKMNPQRSTVWXYZ, 5 random bits each, from the token's
 * RNG (each byte's low 5 bits: unbiased, as 32 divides 256), then
 * optionally Crockford's mod-37 check symbol (0-9 A-Z without I L O U for
 * 0..31, then * ~ $ = U). The canonical form, as stored and exported, has
 * no separators; labels group it by four with hyphens.
 */
#ifndef STATION_IDENTITY_H
#define STATION_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

#define IDENTITY_ERR_MAX 256
#define IDENTITY_SERIAL_MAX 64
#define IDENTITY_CLAIM_MIN 10     /* 50 bits */
#define IDENTITY_CLAIM_MAX 26     /* 130 bits */
#define IDENTITY_CLAIM_BUF (IDENTITY_CLAIM_MAX + 2)    /* + check + NUL */
#define IDENTITY_DISPLAY_BUF (IDENTITY_CLAIM_BUF + IDENTITY_CLAIM_BUF / 4 + 1)
#define IDENTITY_TYPED_MAX 128    /* what a person may type, separators too */

/* identity_template_check(tmpl, err): 0 if ${tmpl} is a valid template. */
int identity_template_check(const char *tmpl, char err[static IDENTITY_ERR_MAX]);

/*
 * identity_serial(tmpl, product, station, order, n, out, err): the serial
 * of number ${n} of the block. 0, or -1 (bad template, or a result that is
 * not a valid serial).
 */
int identity_serial(const char *tmpl, const char *product,
    const char *station, const char *order, uint64_t n,
    char out[static IDENTITY_SERIAL_MAX + 1], char err[static IDENTITY_ERR_MAX]);

/* identity_check_symbol(symbols, len): the mod-37 check symbol of the
 * ${len} canonical symbols (their value as one base-32 number mod 37). */
char identity_check_symbol(const char *symbols, size_t len);

/* A source of random bytes: 0 or -1. hsm_random fits through
 * identity_hsm_rng (ctx: the struct hsm *). */
typedef int identity_rng_fn(void *ctx, uint8_t *buf, size_t len);
int identity_hsm_rng(void *hsm, uint8_t *buf, size_t len);

/*
 * identity_claim_new(rng, ctx, symbols, check, out): a fresh claim ID of
 * ${symbols} symbols (+ the check symbol if ${check}). 0 or -1 (bad
 * length, RNG failure). The random bytes are wiped.
 */
int identity_claim_new(identity_rng_fn *rng, void *ctx, unsigned symbols,
    bool check, char out[static IDENTITY_CLAIM_BUF]);

/*
 * identity_claim_normalise(typed, symbols, check, out, err): a claim ID as
 * a person typed or a scanner sent it, in canonical form: case folded,
 * I and L read as 1, O as 0, hyphens, spaces and a trailing CR/LF dropped;
 * then exactly ${symbols} symbols (+ a check symbol that must match, if
 * ${check}). 0, or -1 and why.
 */
int identity_claim_normalise(const char *typed, unsigned symbols, bool check,
    char out[static IDENTITY_CLAIM_BUF], char err[static IDENTITY_ERR_MAX]);

/* identity_claim_display(claim, out): groups of four joined by '-'. */
void identity_claim_display(const char *claim,
    char out[static IDENTITY_DISPLAY_BUF]);

/*
 * identity_allocate(a, d, rng, ctx, symbols, check, actor, claim, seq,
 * err): allocate device ${d} (d->claim_id is ignored) with a new claim ID,
 * drawn again when it collides with one in the database (at most 8
 * draws), into ${claim}. Not inside audit_begin()/audit_commit(): a
 * collision is detected by the insert failing. 0 or -1.
 */
int identity_allocate(struct audit *a, const struct audit_allocation *d,
    identity_rng_fn *rng, void *ctx, unsigned symbols, bool check,
    const char *actor, char claim[static IDENTITY_CLAIM_BUF], uint64_t *seq,
    char err[static IDENTITY_ERR_MAX]);

#endif
