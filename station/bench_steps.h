/*
 * bench_steps.h: the steps of bench.c that live in bench_steps.c (the
 * allocation, the key by key mode, `written`, a failed commit, the
 * label and `done`). Private to bench*.c.
 */
#ifndef STATION_BENCH_STEPS_H
#define STATION_BENCH_STEPS_H

#include <stdarg.h>

#include "station/bench.h"
#include "station/label.h"

#define BENCH_IMAGE_MAX 16384
#define BENCH_RESERVE 32          /* the token's count, a block ahead */

/* The device's key as the key mode made it. */
struct bench_key {
	X509_PUBKEY *pub;
	uint8_t *spki;                    /* OPENSSL_malloc'ed */
	size_t spki_len;
	uint8_t sealed[HSM_SEALED_MAX];   /* token and host modes */
	size_t sealed_len;
	const char *reference;            /* device mode: KEY_REFERENCE */
	struct audit_field f[4];          /* details of key_ready */
	size_t nf;
	uint8_t csr_sha256[32], fingerprint[32];
	char nonce_hex[2 * HSM_NONCE_LEN + 1];
};

/* The stamp made for the device. */
struct bench_stamp {
	uint8_t image[BENCH_IMAGE_MAX];
	size_t len;
	uint8_t digest[32];
	uint32_t generation;
	uint8_t token[32], token_sha256[32], pop[32];
	char payload[LABEL_PAYLOAD_MAX + 1];
};

double bench_now_ms(void);
void bench_say(struct bench_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bench_db_lock(struct bench *b, struct bench_result *r, double *t);
void bench_db_unlock(struct bench *b, struct bench_result *r, double t);

/* bench_token_fault(b, r): a device failed on the token (its reason
 * names it): stop the run rather than burn identities on a failing
 * token. */
void bench_token_fault(struct bench *b, struct bench_result *r);

/*
 * bench_reserve(b, st, r, err): under b->db, a new block of the serial
 * block for this run (bench_reserve.c): b->cursor and b->token_upto. 0;
 * 1 if the serial block is used up; -1 (database or token). ${err} says
 * why. bench_release(b): at a clean end, give back what the run did not
 * use (event BENCH_RELEASED_KIND). 0 or -1.
 */
#define BENCH_RELEASED_KIND "bench.released"
int bench_reserve(struct bench *b, const struct order_state *st,
    struct bench_result *r, char err[static ORDER_ERR_MAX]);
int bench_release(struct bench *b);

/* bench_allocate(b, r): under b->db: the order's check, the serial, a
 * claim ID, the token's count. 0, or -1 (reason in ${r}; an order that
 * cannot go on stops the run). */
int bench_allocate(struct bench *b, struct bench_result *r);

/* bench_key(b, s, r, info, k): the key pair by the order's key mode,
 * checked; on failure the device is failed. 0 or -1. */
int bench_key(struct bench *b, struct flasher_session *s,
    struct bench_result *r, const struct flasher_info *info,
    struct bench_key *k);
void bench_key_free(struct bench_key *k);

/* bench_record_written(b, r, st): `written`, durable. 0 or -1. */
int bench_record_written(struct bench *b, struct bench_result *r,
    const struct bench_stamp *st);

/* bench_commit_failed(b, s, r, st, why): the commit did not confirm:
 * done if the device shows the stamp active after all, unconfirmed if it
 * cannot be read, else failed (and revoked). 0 if active, else -1. */
int bench_commit_failed(struct bench *b, struct flasher_session *s,
    struct bench_result *r, const struct bench_stamp *st, const char *why);

/* bench_lock_failed(b, r, why): the stamp is active but the device did not
 * lock ([stamp] lock): event bench.lock_failed; the device is finished
 * (done, labelled) but reported as FAIL, for the officer. */
void bench_lock_failed(struct bench *b, struct bench_result *r,
    const char *why);

/* bench_finish(b, r, st): label, `done`, and with --confirm-label the
 * scan. Sets r->pass. */
void bench_finish(struct bench *b, struct bench_result *r);

#endif
