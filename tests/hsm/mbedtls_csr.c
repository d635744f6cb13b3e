/*
 * mbedtls_csr.c: a device-side CSR made the way firmware on mbedTLS makes
 * it: a fresh P-256 key and a PKCS#10 request carrying the station's nonce
 * as an extension in extensionRequest (mbedTLS cannot write a
 * challengePassword). Proves the nonce form of docs/device-csr.md is
 * producible by a common device TLS stack. Test-only.
 *
 *   mbedtls-csr NONCEHEX OUT.der
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_csr.h>

/* HSM_NONCE_OID's body (after tag 06 and length 14). */
static const unsigned char oid[] = { 0x69, 0x83, 0xe2, 0xb2, 0x9d, 0x8f,
    0xf8, 0x9b, 0xea, 0xb6, 0x8d, 0x91, 0xc0, 0x98, 0xda, 0xb5, 0xb5, 0xe3,
    0x80, 0x45 };

int
main(int argc, char *argv[])
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context pk;
	mbedtls_x509write_csr req;
	unsigned char value[34], der[2048];
	int len, ret = 1;
	FILE *f;

	if (argc != 3 || strlen(argv[1]) != 64) {
		fprintf(stderr, "usage: mbedtls-csr NONCEHEX OUT.der\n");
		return 2;
	}
	value[0] = 0x04;   /* OCTET STRING, 32 bytes */
	value[1] = 0x20;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(argv[1] + 2 * i, "%2x", &v) != 1)
			return 2;
		value[2 + i] = (unsigned char)v;
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&pk);
	mbedtls_x509write_csr_init(&req);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL,
	    0) != 0 ||
	    mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) !=
	    0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
	    mbedtls_ctr_drbg_random, &drbg) != 0)
		goto cleanup;
	mbedtls_x509write_csr_set_md_alg(&req, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&req, &pk);
	if (mbedtls_x509write_csr_set_subject_name(&req, "CN=device") != 0 ||
	    mbedtls_x509write_csr_set_extension(&req, (const char *)oid,
	    sizeof(oid), value, sizeof(value)) != 0)
		goto cleanup;
	len = mbedtls_x509write_csr_der(&req, der, sizeof(der),
	    mbedtls_ctr_drbg_random, &drbg);
	if (len <= 0)
		goto cleanup;
	if ((f = fopen(argv[2], "wb")) == NULL)
		goto cleanup;
	if (fwrite(der + sizeof(der) - (size_t)len, 1, (size_t)len, f) ==
	    (size_t)len)
		ret = 0;
	fclose(f);
cleanup:
	if (ret != 0)
		fprintf(stderr, "mbedtls-csr: failed\n");
	mbedtls_x509write_csr_free(&req);
	mbedtls_pk_free(&pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret;
}
