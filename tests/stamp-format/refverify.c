/*
 * refverify.c: the reference verifier, a stamp check the way device
 * firmware does it: stamp.c for the format and mbedTLS (libmbedcrypto, a
 * second crypto implementation, no OpenSSL) for SHA-256, ECDSA P-256,
 * ECDH and AES; RFC 5649 key unwrap is written here on mbedTLS AES.
 *
 *   stamp-refverify --trust SIGNER.pem [--device-key KEY.pem]
 *                   [--hardware-id ID] [--allow-development] FILE
 *
 * SIGNER.pem is the signer's public key (PEM SubjectPublicKeyInfo); KEY.pem
 * the device's transport private key. Prints one line
 *   valid GENERATION DIGEST        or    invalid CODE OFFSET REASON
 * and, when valid with --device-key, one line per SECRET record:
 *   secret OFFSET TYPE PLAINTEXT-HEX
 * Exit 0 valid, 1 invalid, 2 usage or a key that does not load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "stamp-format/stamp.h"

#define IMAGE_MAX (1024 * 1024)

struct keys {
	mbedtls_ecp_keypair *trust;   /* signer public key */
	uint8_t trust_id[32];
	mbedtls_ecp_keypair *device;  /* transport private key, or NULL */
	mbedtls_ctr_drbg_context drbg;
};

static int
cb_sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
	(void)ctx;
	return mbedtls_sha256_ret(data, len, out, 0) == 0 ? 0 : -1;
}

static int
cb_verify(void *ctx, const uint8_t key_id[32], const uint8_t digest[32],
    const uint8_t sig[64])
{
	struct keys *k = ctx;
	mbedtls_mpi r, s;
	int ret = -1;

	if (memcmp(key_id, k->trust_id, 32) != 0)
		return -1;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_mpi_read_binary(&r, sig, 32) == 0 &&
	    mbedtls_mpi_read_binary(&s, sig + 32, 32) == 0 &&
	    mbedtls_ecdsa_verify(&k->trust->grp, digest, 32, &k->trust->Q, &r,
	    &s) == 0)
		ret = 0;
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return ret;
}

static int
cb_ecdh(void *ctx, const uint8_t peer[65], uint8_t z[32])
{
	struct keys *k = ctx;
	mbedtls_ecp_point p;
	mbedtls_mpi zm;
	int ret = -1;

	if (k->device == NULL)
		return -1;
	mbedtls_ecp_point_init(&p);
	mbedtls_mpi_init(&zm);
	if (mbedtls_ecp_point_read_binary(&k->device->grp, &p, peer, 65) == 0 &&
	    mbedtls_ecp_check_pubkey(&k->device->grp, &p) == 0 &&
	    mbedtls_ecdh_compute_shared(&k->device->grp, &zm, &p,
	    &k->device->d, mbedtls_ctr_drbg_random, &k->drbg) == 0 &&
	    mbedtls_mpi_write_binary(&zm, z, 32) == 0)
		ret = 0;
	mbedtls_ecp_point_free(&p);
	mbedtls_mpi_free(&zm);
	return ret;
}

static int
cb_aes256_ecb(void *ctx, const uint8_t key[32], const uint8_t in[32],
    uint8_t out[32])
{
	mbedtls_aes_context aes;
	int ret = -1;

	(void)ctx;
	mbedtls_aes_init(&aes);
	if (mbedtls_aes_setkey_enc(&aes, key, 256) == 0 &&
	    mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, in, out) == 0 &&
	    mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, in + 16,
	    out + 16) == 0)
		ret = 0;
	mbedtls_aes_free(&aes);
	return ret;
}

/*
 * RFC 5649 unwrap (AES key wrap with padding) on mbedTLS AES. Debian's
 * libmbedcrypto 2.28 is built without MBEDTLS_NIST_KW_C, so this follows
 * RFC 5649 section 4.2 directly: the RFC 3394 unwrap W^-1 (or one block
 * decryption for a 16-byte input), then the alternative initial value
 * A65959A6 || MLI, the length range and zero padding are checked.
 */
static int
cb_kwp_unwrap(void *ctx, const uint8_t kek[32], const uint8_t *in,
    size_t len, uint8_t *out, size_t *out_len)
{
	mbedtls_aes_context aes;
	uint8_t a[8], b[16], *r = out;
	size_t n = len / 8 - 1, mli;
	uint8_t bad = 0;
	int ret = -1;

	(void)ctx;
	if (len < 16 || len % 8 != 0 || *out_len < len - 8)
		return -1;
	mbedtls_aes_init(&aes);
	if (mbedtls_aes_setkey_dec(&aes, kek, 256) != 0)
		goto cleanup;
	if (n == 1) {
		if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_DECRYPT, in, b) != 0)
			goto cleanup;
		memcpy(a, b, 8);
		memcpy(r, b + 8, 8);
	} else {
		memcpy(a, in, 8);
		memcpy(r, in + 8, len - 8);
		for (int j = 5; j >= 0; j--) {
			for (size_t i = n; i >= 1; i--) {
				uint64_t t = (uint64_t)n * (uint64_t)j + i;

				memcpy(b, a, 8);
				for (int x = 7; x >= 0; x--, t >>= 8)
					b[x] ^= (uint8_t)t;
				memcpy(b + 8, r + 8 * (i - 1), 8);
				if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_DECRYPT, b,
				    b) != 0)
					goto cleanup;
				memcpy(a, b, 8);
				memcpy(r + 8 * (i - 1), b + 8, 8);
			}
		}
	}
	mli = (size_t)a[4] << 24 | (size_t)a[5] << 16 | (size_t)a[6] << 8 | a[7];
	bad |= (uint8_t)(a[0] ^ 0xa6) | (uint8_t)(a[1] ^ 0x59) |
	    (uint8_t)(a[2] ^ 0x59) | (uint8_t)(a[3] ^ 0xa6);
	if (bad != 0 || mli <= 8 * (n - 1) || mli > 8 * n)
		goto cleanup;
	for (size_t i = mli; i < 8 * n; i++)
		bad |= r[i];
	if (bad != 0)
		goto cleanup;
	*out_len = mli;
	ret = 0;
cleanup:
	if (ret != 0)
		mbedtls_platform_zeroize(out, len - 8);
	mbedtls_platform_zeroize(b, sizeof(b));
	mbedtls_aes_free(&aes);
	return ret;
}

static mbedtls_ecp_keypair *
p256(mbedtls_pk_context *pk, const char *path)
{
	mbedtls_ecp_keypair *ec;

	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY ||
	    (ec = mbedtls_pk_ec(*pk))->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		fprintf(stderr, "refverify: %s: expected a P-256 key\n", path);
		return NULL;
	}
	return ec;
}

int
main(int argc, char *argv[])
{
	static uint8_t image[IMAGE_MAX + 1], plain[IMAGE_MAX];
	const char *trust = NULL, *device = NULL, *hwid = NULL, *file = NULL;
	struct stamp_crypto crypto = { 0 };
	struct stamp_expect expect = { NULL, 0, 0 };
	mbedtls_pk_context tpk, dpk;
	mbedtls_entropy_context entropy;
	struct stamp_error err;
	struct stamp_view v;
	struct stamp_cursor c;
	struct stamp_record r;
	struct keys k = { 0 };
	uint8_t point[65], tpub[65];
	size_t len, n;
	FILE *f;
	int ret = 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--trust") && i + 1 < argc)
			trust = argv[++i];
		else if (!strcmp(argv[i], "--device-key") && i + 1 < argc)
			device = argv[++i];
		else if (!strcmp(argv[i], "--hardware-id") && i + 1 < argc)
			hwid = argv[++i];
		else if (!strcmp(argv[i], "--allow-development"))
			expect.allow_development = 1;
		else if (argv[i][0] != '-' && file == NULL)
			file = argv[i];
		else
			file = NULL, i = argc;
	}
	if (trust == NULL || file == NULL) {
		fprintf(stderr, "usage: stamp-refverify --trust SIGNER.pem "
		    "[--device-key KEY.pem] [--hardware-id ID] "
		    "[--allow-development] FILE\n");
		return 2;
	}
	mbedtls_pk_init(&tpk);
	mbedtls_pk_init(&dpk);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&k.drbg);
	if (mbedtls_ctr_drbg_seed(&k.drbg, mbedtls_entropy_func, &entropy,
	    (const unsigned char *)"refverify", 9) != 0)
		goto cleanup;
	if (mbedtls_pk_parse_public_keyfile(&tpk, trust) != 0) {
		fprintf(stderr, "refverify: %s: not a PEM public key\n", trust);
		goto cleanup;
	}
	if ((k.trust = p256(&tpk, trust)) == NULL ||
	    mbedtls_ecp_point_write_binary(&k.trust->grp, &k.trust->Q,
	    MBEDTLS_ECP_PF_UNCOMPRESSED, &n, point, sizeof(point)) != 0 ||
	    mbedtls_sha256_ret(point, sizeof(point), k.trust_id, 0) != 0)
		goto cleanup;
	if (device != NULL) {
		if (mbedtls_pk_parse_keyfile(&dpk, device, NULL) != 0) {
			fprintf(stderr, "refverify: %s: not a PEM private key\n",
			    device);
			goto cleanup;
		}
		if ((k.device = p256(&dpk, device)) == NULL ||
		    mbedtls_ecp_point_write_binary(&k.device->grp, &k.device->Q,
		    MBEDTLS_ECP_PF_UNCOMPRESSED, &n, tpub, sizeof(tpub)) != 0)
			goto cleanup;
	}
	if (hwid != NULL) {
		expect.hardware_id = (const uint8_t *)hwid;
		expect.hardware_id_len = strlen(hwid);
	}
	if ((f = fopen(file, "rb")) == NULL) {
		perror(file);
		goto cleanup;
	}
	len = fread(image, 1, sizeof(image), f);
	fclose(f);
	if (len > IMAGE_MAX) {
		fprintf(stderr, "refverify: %s: too large\n", file);
		goto cleanup;
	}
	crypto.ctx = &k;
	crypto.sha256 = cb_sha256;
	crypto.verify = cb_verify;
	crypto.ecdh = cb_ecdh;
	crypto.aes256_ecb = cb_aes256_ecb;
	crypto.kwp_unwrap = cb_kwp_unwrap;
	ret = 1;
	if (stamp_read(&v, image, len, &crypto, &expect, &err) != 0)
		goto invalid;
	/* Firmware opens its secrets before it accepts the stamp. */
	stamp_records(&v, &c);
	while (device != NULL && stamp_next(&c, &r))
		if ((r.flags & STAMP_RF_SECRET) && stamp_secret_open(&r, tpub,
		    &crypto, plain, sizeof(plain), &n, &err) != 0)
			goto invalid;
	printf("valid %u ", v.generation);
	for (size_t i = 0; i < 32; i++)
		printf("%02x", v.digest[i]);
	printf("\n");
	stamp_records(&v, &c);
	while (device != NULL && stamp_next(&c, &r)) {
		if (!(r.flags & STAMP_RF_SECRET))
			continue;
		stamp_secret_open(&r, tpub, &crypto, plain, sizeof(plain), &n,
		    &err);
		printf("secret %zu %u ", r.offset, r.type);
		for (size_t i = 0; i < n; i++)
			printf("%02x", plain[i]);
		printf("\n");
		mbedtls_platform_zeroize(plain, n);
	}
	ret = 0;
	goto cleanup;
invalid:
	printf("invalid %d %zu %s\n", (int)err.code, err.offset,
	    stamp_strerror(err.code));
cleanup:
	mbedtls_pk_free(&tpk);
	mbedtls_pk_free(&dpk);
	mbedtls_ctr_drbg_free(&k.drbg);
	mbedtls_entropy_free(&entropy);
	return ret;
}
