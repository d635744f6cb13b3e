/*
 * attest.h: chip-vendor device attestation (stamp-format/SPEC.md 5.5,
 * docs/ATTESTATION.md).
 *
 * A device whose info carries an attestation chain proves that it is the
 * genuine chip by signing a fresh nonce of the station's, with its hardware
 * id (and, in device key mode, the hash of its new identity key) under its
 * attestation key. The station checks the chain against the vendor roots
 * of [attestation] roots, the signature, the nonce and the key hash.
 *
 * Use (the bench, per device, after info and the deny check, before
 * anything is allocated):
 *   attest_policy_open()   once, from station.conf
 *   attest_device()        the exchange and the checks; 1 = refuse
 *   attest_record()        the result as the audit event device.attestation
 * and, in device key mode, attest_device() again after the CSR with its
 * public key, so that the identity key is bound to the attested chip.
 *
 * attest_parse() (attest_parse.c: no crypto, fuzzed) reads an answer;
 * attest_verify() checks one without USB (unit tests, `station inspect`).
 */
#ifndef STATION_ATTEST_H
#define STATION_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "flasher/flasher.h"
#include "station/config.h"

#define ATTEST_REASON_MAX 384
#define ATTEST_SUBJECT_MAX 256
#define ATTEST_NONCE_LEN 32
#define ATTEST_CHAIN_MAX 8      /* certificates in one answer */

enum attest_outcome {
	ATTEST_NONE,            /* the device offers no attestation */
	ATTEST_PASS,            /* chain, signature, nonce (and key) verified */
	ATTEST_FAIL,            /* offered, but refused: see reason */
};

struct attest_result {
	enum attest_outcome outcome;
	bool required;                    /* the policy requires it */
	bool key_bound;                   /* the CSR's key hash verified */
	char chain[ATTEST_SUBJECT_MAX];   /* the leaf's subject (RFC 2253), "" */
	char root[ATTEST_SUBJECT_MAX];    /* the vendor root it chains to, "" */
	char reason[ATTEST_REASON_MAX];   /* why not PASS, for the operator */
};

/* An attestation answer as read, every pointer into the caller's buffer. */
struct attest_evidence {
	const uint8_t *hardware_id;
	size_t hardware_id_len;
	const uint8_t *cert[ATTEST_CHAIN_MAX];  /* DER, leaf first */
	size_t cert_len[ATTEST_CHAIN_MAX], ncerts;
	const uint8_t *nonce;
	size_t nonce_len;
	const uint8_t *key_hash;                /* 32 bytes, or NULL */
	const uint8_t *sig;                     /* 64 bytes r||s */
	size_t signed_len;                      /* the signature covers [0, it) */
};

struct attest_policy;

/*
 * attest_parse(buf, len, ev, reason): read the info message ${buf} (exactly
 * ${len} bytes) that answers an attestation request into ${ev}: it must be
 * a valid info (SPEC.md 5.1) with a chain of at most ATTEST_CHAIN_MAX
 * certificates, a nonce and a signature. 0, or -1 with ${reason}.
 */
int attest_parse(const uint8_t *buf, size_t len, struct attest_evidence *ev,
    char reason[static ATTEST_REASON_MAX]);

/*
 * attest_policy_open(cfg, out, err): the [attestation] policy of ${cfg}:
 * the vendor roots (a PEM bundle), whether attestation is required for
 * every product or for those listed. Without roots the policy checks
 * nothing and requires nothing. Returns 0; -1 if the roots cannot be read
 * (${err}); -2 if the configuration contradicts itself (required without
 * roots).
 */
int attest_policy_open(const struct station_config *cfg,
    struct attest_policy **out, char err[static ATTEST_REASON_MAX]);
/*
 * attest_policy_roots(file, out, err): a policy of just the vendor roots in
 * ${file} (PEM bundle), requiring nothing: for checking answers away from
 * the bench (`station inspect --roots`). 0, or -1 with ${err}.
 */
int attest_policy_roots(const char *file, struct attest_policy **out,
    char err[static ATTEST_REASON_MAX]);
/* attest_policy_free(p): free ${p} (NULL: nothing). */
void attest_policy_free(struct attest_policy *p);

/* attest_policy_enabled(p): whether vendor roots are configured (the
 * station then asks every device that offers attestation for it). */
bool attest_policy_enabled(const struct attest_policy *p);

/* attest_required(p, product): whether a device of ${product} (NULL: not
 * known) without valid attestation must be refused. */
bool attest_required(const struct attest_policy *p, const char *product);

/*
 * attest_verify(p, reply, len, hardware_id, hwid_len, nonce, nonce_len,
 * key_point, res): check the answer ${reply} to the request that carried
 * ${nonce}, for the device ${hardware_id}; with ${key_point} (the 65-byte
 * P-256 point of the device's CSR) also that the answer attests that key.
 * ${hardware_id} or ${nonce} NULL: that check is left out (only for
 * looking at a saved answer: without the nonce nothing says it is fresh).
 * Fills ${res} (outcome PASS or FAIL, chain, root, reason; not required).
 * Returns 0 PASS, 1 FAIL.
 */
int attest_verify(const struct attest_policy *p, const uint8_t *reply,
    size_t len, const uint8_t *hardware_id, size_t hwid_len,
    const uint8_t *nonce, size_t nonce_len, const uint8_t *key_point,
    struct attest_result *res);

/*
 * attest_device(p, s, info, product, key_point, res): the attestation of
 * the device on session ${s} (its ${info} as read just before): a fresh
 * random nonce, flasher_attest() (binding the key of the last keygen when
 * ${key_point} is given), attest_verify(). A device without the ATTEST
 * capability is outcome NONE; a transfer that fails is FAIL with the
 * flasher's message. Returns 0 when the device may go on (PASS, or not
 * required for ${product}), 1 when it must be refused (required, and not
 * PASS: ${res}->reason says why); nothing is allocated either way. With
 * a policy that is not enabled, 0 and outcome NONE without asking.
 */
int attest_device(const struct attest_policy *p, struct flasher_session *s,
    const struct flasher_info *info, const char *product,
    const uint8_t *key_point, struct attest_result *res);

/*
 * attest_record(a, actor, hardware_id, product, res): append the audit
 * event device.attestation about ${hardware_id}: result pass/fail/none,
 * required, key_bound, the chain's and root's subjects, the reason and
 * ${product} (NULL: left out). 0, or -1 (audit_error(a)).
 */
int attest_record(struct audit *a, const char *actor, const char *hardware_id,
    const char *product, const struct attest_result *res);

/* attest_outcome_name(o): "pass", "fail" or "none". */
const char *attest_outcome_name(enum attest_outcome o);

#endif
