/*
 * bench.h: the bench loop's work on one device (bench.c) and what the
 * devices worked on at the same time share (struct bench).
 *
 * One device, in the order of ARCHITECTURE.md "The life of one device":
 * info -> refusals that need no identity (a stamp already active, the
 * deny list, a hardware id that holds a live identity) -> allocate serial
 * and claim ID under the order -> the key by the order's key mode ->
 * certificate from the HSM sub-CA -> the stamp -> DFU stage (read back)
 * -> `written` -> commit -> label -> `done`. Every state change goes to
 * the audit log with its event in one transaction; a step that fails
 * leaves the device in a definite state with a reason the operator can
 * act on (bench_result.reason).
 *
 * Threads: one per device. The audit handle and the order's allocation
 * are used under b->db (one thread at a time); the token signs and
 * generates on several threads at once (hsm.h).
 */
#ifndef STATION_BENCH_H
#define STATION_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "flasher/flasher.h"
#include "hsm/hsm.h"
#include "station/attest.h"
#include "station/config.h"
#include "station/identity.h"
#include "station/order.h"

#define BENCH_REASON_MAX 512

/* What stops the run (set by a device that found it). */
enum bench_stop {
	BENCH_GO = 0,
	BENCH_ORDER_DONE,       /* used up, expired or rolled back */
	BENCH_STATION_FAULT,    /* database or token failing: nothing works */
};

/* Where one device's station-side time went, milliseconds. */
struct bench_times {
	double hsm, db, usb, device, build;
	double token;     /* the token's order count (part of db's lock) */
};

struct bench {
	const struct station_config *cfg;
	struct hsm *h;
	struct hsm_ca *ca;
	struct hsm_key *stamp_key;
	struct audit *a;
	const char *actor;            /* "operator:ID" or the officer */
	const struct attest_policy *attest; /* [attestation] (attest.h) */
	struct order terms;           /* the order stamped under */
	const uint8_t *chain;         /* sub-CA certificate DER */
	size_t chain_len;
	const uint8_t *app_key;       /* [stamp] app_public_key, SPKI DER */
	size_t app_key_len;
	bool confirm_label;           /* read a scanned claim ID per label */
	const char *batch_id;         /* --batch: identities of this imported
	                                 batch (bench_batch.c); NULL: the order */
	struct hsm_key *transport_key;/* --batch: [pki] transport_key */
	bool restamp;                 /* `station restamp`: the device's old
	                                 stamp is active (its identity was
	                                 revoked as superseded first) */
	const struct audit_device *keep; /* restamp, same identity: this
	                                 device's serial and claim ID, no
	                                 allocation */
	pthread_mutex_t db;           /* audit handle, allocation, stats */
	pthread_mutex_t confirm;      /* one label scan at a time */
	pthread_mutex_t usb;          /* listing vs opening and closing: libusb
	                                 may free a device that vanished while
	                                 another thread lists (seen as an abort
	                                 in usbi_mutex_destroy) */
	enum bench_stop stop;         /* under db */
	char stop_reason[BENCH_REASON_MAX];
	uint64_t allocated;           /* the order's count, under db */
	uint64_t token_upto;          /* the token's count as this run set
	                                 it (its reservation), under db */
	uint64_t cursor;              /* next position of the serial block */
	struct bench_times *times;    /* per passed device (bench_times.c) */
	size_t ntimes, captimes;
};


/* bench_times_add(b, r): keep ${r}'s times (main thread only);
 * bench_times_report(b, out): medians per device; bench_times_free(b). */
struct bench_result;
void bench_times_add(struct bench *b, const struct bench_result *r);
void bench_times_report(const struct bench *b, FILE *out);
void bench_times_free(struct bench *b);

/* One device's outcome. */
struct bench_result {
	char port[FLASHER_PATH_MAX];
	char hwid[FLASHER_HWID_MAX + 1];
	char serial[IDENTITY_SERIAL_MAX + 1];
	char claim[IDENTITY_CLAIM_BUF];
	bool pass;
	bool label_ok;                /* label printed (and confirmed) */
	bool lock_failed;             /* [stamp] lock: the device did not lock */
	char reason[BENCH_REASON_MAX];/* FAIL: what and what to do */
	struct bench_times t;
	double ms;                    /* wall time */
};

/* What a device is doing now, for the live screen. */
typedef void bench_step_fn(void *arg, const char *port, const char *step);

/*
 * bench_device(b, fl, dev, step, arg, r): the whole life of device ${dev}
 * on the bench, its outcome in ${r}; ${step}(${arg}, port, name) is told
 * each step as it starts. Never fails as a call: a FAIL is in ${r}.
 */
void bench_device(struct bench *b, struct flasher *fl,
    const struct flasher_device *dev, bench_step_fn *step, void *arg,
    struct bench_result *r);

/*
 * bench_fail(b, serial, from, why): leave device ${serial} (now in state
 * ${from}) failed with ${why}; a certificate already issued (states
 * issued and written) is revoked too, as its stamp never became active.
 * Under b->db. 0 or -1 (the database failed).
 */
int bench_fail(struct bench *b, const char *serial, enum audit_state from,
    const char *why);

#endif
