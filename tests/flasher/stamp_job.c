/*
 * stamp_job.c: the life of one device as the tests and the bench drive it
 * through the flasher's profile API, with OpenSSL as the station's side:
 * info -> csr over a fresh nonce -> verify the CSR (its signature, and the
 * nonce extension of docs/device-csr.md) -> build a stamp bound to the
 * hardware id, with a claim id sealed to the transport key, signed with
 * the TEST-ONLY signer key of stamp-format/vectors -> stage (read back,
 * compared) -> commit -> confirm with info -> optionally lock. A
 * hardware id already stamped (in this job's list, the stand-in for the
 * station's inventory) is refused before anything is written: a clone.
 *
 * A test helper, not the station: the station's own loop (issue 9) does
 * the same with hsm and audit in between.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "flasher/flasher.h"
#include "station/stamp_crypto.h"
#include "tests/flasher/stamp_job.h"

#define NONCE_OID "2.25.320604743258182176926776022287882174533"

int
stamp_job_check_csr(const uint8_t *der, size_t len, const uint8_t *nonce,
    size_t nonce_len, char *why, size_t why_len)
{
	const uint8_t *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_OBJECT *oid = OBJ_txt2obj(NONCE_OID, 1);
	EVP_PKEY *key;
	int ret = -1, found = 0;

	if (req == NULL || p != der + len) {
		snprintf(why, why_len, "CSR does not parse");
		goto out;
	}
	if ((key = X509_REQ_get0_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, key) != 1) {
		snprintf(why, why_len, "CSR signature does not verify with its "
		    "own key");
		goto out;
	}
	exts = X509_REQ_get_extensions(req);
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		if (OBJ_cmp(X509_EXTENSION_get_object(e), oid) != 0)
			continue;
		found = 1;
		if (v->length != (int)nonce_len + 2 || v->data[0] != 0x04 ||
		    v->data[1] != nonce_len ||
		    memcmp(v->data + 2, nonce, nonce_len) != 0) {
			snprintf(why, why_len, "CSR carries another nonce");
			goto out;
		}
	}
	if (!found) {
		snprintf(why, why_len, "CSR carries no nonce");
		goto out;
	}
	ret = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OBJECT_free(oid);
	X509_REQ_free(req);
	return ret;
}

int
stamp_job_build(EVP_PKEY *signer, const uint8_t *hwid, size_t hwid_len,
    const uint8_t transport[65], uint32_t generation, uint32_t flags,
    uint8_t *out, size_t cap, size_t *len, uint8_t digest[32])
{
	static const char claim[] = "CLAIM-0123456789abcdef";
	struct stamp_builder b;
	struct stamp_crypto crypto;
	struct stamp_ossl ossl;
	uint8_t key_id[32], sig[64];

	if (stamp_ossl_init(&ossl, NULL, NULL, &crypto) != 0 ||
	    stamp_ossl_key_id(signer, key_id) != 0)
		return -1;
	stamp_build_begin(&b, out, cap, generation, flags, 16);
	stamp_build_add(&b, STAMP_T_HARDWARE_ID, STAMP_RF_CRITICAL, hwid, hwid_len);
	stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, STAMP_RF_CRITICAL, "SN-0001", 7);
	stamp_build_add_sealed(&b, STAMP_T_CLAIM_ID, STAMP_RF_CRITICAL,
	    (const uint8_t *)claim, sizeof(claim) - 1, transport, &crypto);
	stamp_build_add(&b, STAMP_T_MODEL, 0, "stampdev-emu", 12);
	if (stamp_build_digest(&b, &crypto, digest) != 0 ||
	    stamp_ossl_sign(signer, digest, sig) != 0 ||
	    stamp_build_sign(&b, key_id, sig, len) != 0)
		return -1;
	return 0;
}

/* Record ${info}'s hardware id as stamped; -1 if it already was. */
static int
claim_hwid(struct stamp_job *job, const struct flasher_info *info,
    const char *path, char err[static FLASHER_ERR_MAX], const char *who)
{
	char id[FLASHER_HWID_MAX + 1];
	int ret = 0;

	memcpy(id, info->hardware_id, info->hardware_id_len);
	id[info->hardware_id_len] = '\0';
	pthread_mutex_lock(&job->mutex);
	for (size_t i = 0; i < job->nseen; i++)
		if (strcmp(job->seen[i], id) == 0) {
			snprintf(err, FLASHER_ERR_MAX, "%s: hardware id %s was already "
			    "stamped (device at %s): a cloned serial; set it aside",
			    who, id, job->seen_path[i]);
			ret = -1;
		}
	if (ret == 0 && job->nseen < STAMP_JOB_SEEN_MAX) {
		snprintf(job->seen[job->nseen], sizeof(job->seen[0]), "%s", id);
		snprintf(job->seen_path[job->nseen++], FLASHER_PATH_MAX, "%s", path);
	}
	pthread_mutex_unlock(&job->mutex);
	return ret;
}

int
stamp_job_run(void *arg, size_t index, struct flasher_session *s,
    char err[static FLASHER_ERR_MAX])
{
	struct stamp_job *job = arg;
	struct flasher_info info;
	uint8_t nonce[32], image[8192], digest[32], *csr = NULL;
	size_t csr_len = 0, len = 0;
	char why[128];
	int ret = -1;

	(void)index;
	if (flasher_info(s, &info, err) != 0)
		return -1;
	if (claim_hwid(job, &info, flasher_session_device(s)->path, err,
	    flasher_session_name(s)) != 0)
		return -1;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -1;
	if (flasher_csr(s, &info, nonce, sizeof(nonce), NULL, &csr, &csr_len,
	    err) != 0)
		return -1;
	if (stamp_job_check_csr(csr, csr_len, nonce, sizeof(nonce), why,
	    sizeof(why)) != 0) {
		snprintf(err, FLASHER_ERR_MAX, "%s: %s", flasher_session_name(s), why);
		goto out;
	}
	if (stamp_job_build(job->signer, info.hardware_id, info.hardware_id_len,
	    info.transport_key, info.active_generation + 1, 0, image, sizeof(image),
	    &len, digest) != 0) {
		snprintf(err, FLASHER_ERR_MAX, "%s: cannot build the stamp",
		    flasher_session_name(s));
		goto out;
	}
	if (flasher_stage(s, &info, image, len, err) != 0 ||
	    flasher_commit(s, &info, digest, info.active_generation + 1, err) != 0)
		goto out;
	if (job->lock && flasher_lock(s, &info, err) != 0)
		goto out;
	ret = 0;
out:
	free(csr);
	return ret;
}
