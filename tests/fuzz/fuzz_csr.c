/*
 * fuzz_csr.c: CSR intake (hsm_csr_check). Any bytes: either a public key
 * (only for a CSR that verifies and carries the nonce) or an error message
 * saying why, never a crash, leak or undefined behaviour. The nonce is
 * fixed (bytes 00..1f), as in the seed corpus, so that mutations of the
 * seeds reach the nonce and key checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t nonce[HSM_NONCE_LEN];
	char err[HSM_ERR_MAX];
	X509_PUBKEY *pub = NULL;
	int rc;

	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)i;
	err[0] = '\0';
	rc = hsm_csr_check(data, size, nonce, HSM_KEY_P256 | HSM_KEY_P384 |
	    HSM_KEY_ED25519, &pub, err);
	if ((rc == 0) != (pub != NULL) || (rc != 0 && err[0] == '\0'))
		abort();  /* a key only on success; every failure says why */
	X509_PUBKEY_free(pub);
	return 0;
}
