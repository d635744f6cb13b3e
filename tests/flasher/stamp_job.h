/*
 * stamp_job.h: one device's stamping, for tests and the bench
 * (stamp_job.c says what it does).
 */
#ifndef TESTS_FLASHER_STAMP_JOB_H
#define TESTS_FLASHER_STAMP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "flasher/flasher.h"

#include <pthread.h>

/* Hardware ids stamped so far: the stand-in for the station's inventory
 * (audit), which refuses a hardware id it has seen before. */
#define STAMP_JOB_SEEN_MAX 64
struct stamp_job {
	EVP_PKEY *signer;  /* TEST-ONLY signer key */
	int lock;          /* lock after commit */
	pthread_mutex_t mutex;
	char seen[STAMP_JOB_SEEN_MAX][FLASHER_HWID_MAX + 1];
	char seen_path[STAMP_JOB_SEEN_MAX][FLASHER_PATH_MAX];
	size_t nseen;
};

/* stamp_job_check_csr(der, len, nonce, nonce_len, why, why_len): 0 if the
 * CSR verifies with its own key and carries exactly ${nonce}. */
int stamp_job_check_csr(const uint8_t *der, size_t len, const uint8_t *nonce,
    size_t nonce_len, char *why, size_t why_len);

/* stamp_job_build(...): a signed stamp for ${hwid} of ${generation} (header
 * ${flags}) into
 * ${out}; its INTEGRITY digest in ${digest}. */
int stamp_job_build(EVP_PKEY *signer, const uint8_t *hwid, size_t hwid_len,
    const uint8_t transport[65], uint32_t generation, uint32_t flags,
    uint8_t *out, size_t cap, size_t *len, uint8_t digest[32]);

/* A flasher_job_fn: the whole life of one device (arg: struct stamp_job). */
int stamp_job_run(void *arg, size_t index, struct flasher_session *s,
    char err[static FLASHER_ERR_MAX]);

#endif
