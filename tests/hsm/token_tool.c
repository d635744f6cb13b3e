/*
 * token_tool.c: hsm-tool commands (test-only) for the token key mode,
 * re-wrapping, sealed stamps and the host key mode, whose results the
 * tests check with the openssl CLI and the mbedTLS reference verifier:
 *
 *   station-seal STATION_CERT.pem DEVICE_KEY.pem OUT.bin
 *        a batch generator's side: the device key's PKCS#8 sealed to the
 *        station transport key in the certificate (OpenSSL, seal_value)
 *   rewrap IN.bin TRANSPORT.pub OUT.bin [CERT.pem]
 *        IN sealed to [pki] transport_key, re-sealed in the token to the
 *        device's transport key (hsm_rewrap_sealed), checked against the
 *        certificate's key if given
 *   stamp TRANSPORT.pub SERIAL HWID OUT.bin CERT.der
 *        a complete stamp: device key made in the token (token key mode),
 *        its certificate, a claim id, proof-of-possession secret and
 *        provisioning token sealed on the host, signed by the stamp key;
 *        prints "claim|pop|token HEX" of the secrets it sealed
 *   host-key TRANSPORT.pub OUT.bin
 *        the host key mode (seal_host_keygen with [station] mode); prints
 *        "fingerprint HEX"
 *   token-stress N THREADS
 *        N token-mode keys per thread, threads at once: each opened with
 *        stamp.c and the transport private key, its scalar checked against
 *        the public key hsm_keygen_sealed returned; then sealed to the
 *        station, re-wrapped in the token, opened again and compared
 *   keybench SECONDS THREADS
 *        per second: token key mode (keygen + wrap), bare
 *        C_GenerateKeyPair of session objects, re-wraps
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "station/seal.h"
#include "station/stamp_crypto.h"
#include "tests/hsm/token_tool.h"

static int
fail(const char *what)
{
	fprintf(stderr, "hsm-tool: %s\n", what);
	return 1;
}

static int
write_file(const char *file, const uint8_t *data, size_t len)
{
	FILE *f = fopen(file, "wb");
	int ok = f != NULL && fwrite(data, 1, len, f) == len;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int
read_file(const char *file, uint8_t *data, size_t cap, size_t *len)
{
	FILE *f = fopen(file, "rb");

	if (f == NULL)
		return -1;
	*len = fread(data, 1, cap, f);
	fclose(f);
	return *len > 0 && *len < cap ? 0 : -1;
}

/* point_of(file, point): the P-256 point of a PEM public key or cert. */
static int
point_of(const char *file, uint8_t point[65])
{
	char e[256];
	EVP_PKEY *k = stamp_ossl_load_public(file, e, sizeof(e));
	int ret = k != NULL ? stamp_ossl_point(k, point) : -1;

	EVP_PKEY_free(k);
	return ret;
}

static void
hexline(const char *name, const uint8_t *p, size_t n)
{
	printf("%s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int
station_seal(char **a)
{
	uint8_t station[65], sealed[HSM_SEALED_MAX];
	unsigned char *der = NULL;
	int der_len = 0, ret = 1;
	size_t len;
	char e[SEAL_ERR_MAX];
	EVP_PKEY *k = NULL;
	FILE *f;

	if (point_of(a[0], station) != 0)
		return fail("cannot read the station transport key");
	if ((f = fopen(a[1], "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	{
		PKCS8_PRIV_KEY_INFO *p8 = k ? EVP_PKEY2PKCS8(k) : NULL;

		der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : 0;
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	if (der_len <= 0) {
		fail("cannot read the device key");
		goto cleanup;
	}
	if (seal_value(station, STAMP_T_WRAPPED_DEVICE_KEY, der,
	    (size_t)der_len, sealed, sizeof(sealed), &len, e) != 0) {
		fail(e);
		goto cleanup;
	}
	if (write_file(a[2], sealed, len) != 0) {
		fail("cannot write the sealed key");
		goto cleanup;
	}
	ret = 0;
cleanup:
	OPENSSL_clear_free(der, der_len > 0 ? (size_t)der_len : 0);
	EVP_PKEY_free(k);
	return ret;
}

static int
rewrap(struct station_config *cfg, struct hsm *h, int argc, char **a)
{
	X509 *cert = NULL;
	int ret;
	uint8_t station[65], transport[65], in[HSM_SEALED_MAX + 1];
	uint8_t out[HSM_SEALED_MAX];
	size_t in_len, out_len;
	struct hsm_key *k;
	char err[HSM_ERR_MAX];

	if (read_file(a[0], in, sizeof(in), &in_len) != 0)
		return fail("cannot read the sealed key");
	if (point_of(a[1], transport) != 0)
		return fail("cannot read the transport key");
	if (hsm_key_find(h, cfg->pki_transport_key, &k, err) != 0)
		return fail(err);
	if (hsm_key_point(k, station) != 0)
		return fail(hsm_error(h));
	if (argc == 4) {
		FILE *f = fopen(a[3], "r");

		if (f != NULL) {
			cert = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		}
		if (cert == NULL)
			return fail("cannot read the certificate");
	}
	ret = hsm_rewrap_sealed(k, cert ? X509_get_X509_PUBKEY(cert) : NULL,
	    in, in_len, seal_context_key, station, transport, seal_context_key,
	    transport, out, sizeof(out), &out_len, err);
	X509_free(cert);
	if (ret != 0)
		return fail(err);
	if (write_file(a[2], out, out_len) != 0)
		return fail("cannot write the result");
	return 0;
}

static int
stamp(struct station_config *cfg, struct hsm *h, struct hsm_ca *ca, char **a)
{
	static uint8_t image[16384];
	uint8_t transport[65], sealed[HSM_SEALED_MAX], cert[HSM_CERT_MAX];
	uint8_t pop[32], token[48], claim[12], digest[32], key_id[32], rs[64];
	size_t sealed_len, cert_len, len;
	struct hsm_device d = { a[1], (const uint8_t *)a[2], strlen(a[2]) };
	struct stamp_builder b;
	struct stamp_ossl o;
	struct stamp_crypto c;
	struct hsm_key *sk;
	X509_PUBKEY *pub = NULL;
	char err[HSM_ERR_MAX], e[SEAL_ERR_MAX];
	int ret = 1;

	if (point_of(a[0], transport) != 0)
		return fail("cannot read the transport key");
	if (hsm_random(h, pop, sizeof(pop)) != 0 ||
	    hsm_random(h, token, sizeof(token)) != 0 ||
	    hsm_random(h, claim, sizeof(claim)) != 0)
		return fail(hsm_error(h));
	for (size_t i = 0; i < sizeof(claim); i++)
		claim[i] = (uint8_t)"0123456789ABCDEFGHJKMNPQRSTVWXYZ"[claim[i] % 32];
	if (hsm_keygen_sealed(h, HSM_KEY_P256, transport, seal_context_key,
	    transport, &pub, sealed, sizeof(sealed), &sealed_len, err) != 0 ||
	    hsm_issue_der(ca, pub, &d, cert, sizeof(cert), &cert_len, err) !=
	    0 || hsm_key_find(h, cfg->pki_stamp_key, &sk, err) != 0) {
		fail(err);
		goto cleanup;
	}
	stamp_ossl_init(&o, NULL, NULL, &c);
	if (stamp_build_begin(&b, image, sizeof(image), 1, 0, 16) != 0 ||
	    stamp_build_add(&b, STAMP_T_HARDWARE_ID, STAMP_RF_CRITICAL, d.hwid,
	    d.hwid_len) != 0 ||
	    stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, STAMP_RF_CRITICAL,
	    d.serial, strlen(d.serial)) != 0) {
		fail("cannot build the stamp");
		goto cleanup;
	}
	if (seal_add_secret(&b, STAMP_T_CLAIM_ID, claim, sizeof(claim),
	    transport, e) != 0 ||
	    stamp_build_add(&b, STAMP_T_DEVICE_CERT, 0, cert, cert_len) != 0 ||
	    seal_add_sealed(&b, STAMP_T_WRAPPED_DEVICE_KEY, sealed, sealed_len,
	    e) != 0 ||
	    seal_add_secret(&b, STAMP_T_POP_SECRET, pop, sizeof(pop), transport,
	    e) != 0 ||
	    seal_add_secret(&b, STAMP_T_PROVISIONING_TOKEN, token, sizeof(token),
	    transport, e) != 0) {
		fail(e);
		goto cleanup;
	}
	if (stamp_build_digest(&b, &c, digest) != 0 ||
	    hsm_sign_rs(sk, digest, rs) != 0 || hsm_key_id(sk, key_id) != 0) {
		fail(hsm_error(h));
		goto cleanup;
	}
	if (stamp_build_sign(&b, key_id, rs, &len) != 0) {
		fail("cannot sign the stamp");
		goto cleanup;
	}
	if (write_file(a[3], image, len) != 0 ||
	    write_file(a[4], cert, cert_len) != 0) {
		fail("cannot write the results");
		goto cleanup;
	}
	hexline("claim", claim, sizeof(claim));
	hexline("pop", pop, sizeof(pop));
	hexline("token", token, sizeof(token));
	ret = 0;
cleanup:
	OPENSSL_cleanse(pop, sizeof(pop));
	OPENSSL_cleanse(token, sizeof(token));
	X509_PUBKEY_free(pub);
	return ret;
}

static int
host_key(struct station_config *cfg, char **a)
{
	uint8_t transport[65], sealed[HSM_SEALED_MAX], fp[32];
	size_t len;
	X509_PUBKEY *pub = NULL;
	char e[SEAL_ERR_MAX];

	if (point_of(a[0], transport) != 0)
		return fail("cannot read the transport key");
	if (seal_host_keygen(cfg->mode, transport, &pub, sealed, sizeof(sealed),
	    &len, fp, e) != 0)
		return fail(e);
	X509_PUBKEY_free(pub);
	if (write_file(a[1], sealed, len) != 0)
		return fail("cannot write the sealed key");
	printf("%s\n", SEAL_HOST_MODE_NOTE);
	hexline("fingerprint", fp, sizeof(fp));
	return 0;
}

/* --- token-stress --------------------------------------------------------- */

struct stress {
	struct hsm *h;
	struct hsm_key *station_key;
	EVP_PKEY *t;                /* the device transport key pair */
	const uint8_t *tp, *sp;     /* its point, the station's point */
	long n, bad;
};

/* opens(st, sealed, len, p8, cap, p8_len): the device side (stamp.c). */
static int
opens(struct stress *st, const uint8_t *sealed, size_t len, uint8_t *p8,
    size_t cap, size_t *p8_len)
{
	struct stamp_ossl o;
	struct stamp_crypto c;
	struct stamp_record r = { STAMP_T_WRAPPED_DEVICE_KEY, STAMP_RF_SECRET |
	    STAMP_RF_CRITICAL, (uint32_t)len, sealed, 0 };
	struct stamp_error e;

	return stamp_ossl_init(&o, NULL, st->t, &c) == 0 &&
	    stamp_secret_open(&r, st->tp, &c, p8, cap, p8_len, &e) == 0 ? 0 : -1;
}

/* point_of_p8(p8, len, point): the public point of a PKCS#8 P-256 key,
 * computed from its scalar (SoftHSM's PKCS#8 carries no public key). */
static int
point_of_p8(const uint8_t *p8, size_t len, uint8_t point[65])
{
	const unsigned char *p = p8;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
	BIGNUM *priv = NULL;
	int ok = k != NULL && pt != NULL &&
	    EVP_PKEY_get_bn_param(k, "priv", &priv) == 1 &&
	    EC_POINT_mul(g, pt, priv, NULL, NULL, NULL) == 1 &&
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, point, 65,
	    NULL) == 65;

	BN_clear_free(priv);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static void *
stress_one(void *arg)
{
	struct stress *st = arg;
	char e[HSM_ERR_MAX], se[SEAL_ERR_MAX];

	for (long i = 0; i < st->n; i++) {
		uint8_t sealed[HSM_SEALED_MAX], again[HSM_SEALED_MAX];
		uint8_t p8[HSM_SEALED_MAX], p8b[HSM_SEALED_MAX], a[65], b[65];
		size_t len, len2, p8_len, p8b_len;
		int plen = 0;
		const unsigned char *spki;
		X509_PUBKEY *pub = NULL;
		int ok;

		ok = hsm_keygen_sealed(st->h, HSM_KEY_P256, st->tp,
		    seal_context_key, (void *)st->tp, &pub, sealed,
		    sizeof(sealed), &len, e) == 0 &&
		    X509_PUBKEY_get0_param(NULL, &spki, &plen, NULL,
		    pub) == 1 && plen == 65 &&
		    opens(st, sealed, len, p8, sizeof(p8), &p8_len) == 0 &&
		    point_of_p8(p8, p8_len, a) == 0 && memcmp(a, spki, 65) == 0;
		/* Round trip through the station key and a re-wrap. */
		ok = ok && seal_value(st->sp, STAMP_T_WRAPPED_DEVICE_KEY, p8,
		    p8_len, again, sizeof(again), &len2, se) == 0 &&
		    hsm_rewrap_sealed(st->station_key, pub, again, len2,
		    seal_context_key, (void *)st->sp, st->tp, seal_context_key,
		    (void *)st->tp, sealed, sizeof(sealed), &len, e) == 0 &&
		    opens(st, sealed, len, p8b, sizeof(p8b), &p8b_len) == 0 &&
		    point_of_p8(p8b, p8b_len, b) == 0 && memcmp(a, b, 65) == 0;
		if (!ok)
			st->bad++;
		OPENSSL_cleanse(p8, sizeof(p8));
		OPENSSL_cleanse(p8b, sizeof(p8b));
		X509_PUBKEY_free(pub);
	}
	return NULL;
}

static int
token_stress(struct station_config *cfg, struct hsm *h, long n, int threads)
{
	struct stress st[8];
	pthread_t t[8];
	uint8_t tp[65], sp[65];
	EVP_PKEY *tk = EVP_EC_gen("P-256");
	struct hsm_key *sk;
	char err[HSM_ERR_MAX];
	long bad = 0;

	if (threads < 1 || threads > 8 || n < 1 || tk == NULL ||
	    stamp_ossl_point(tk, tp) != 0)
		return fail("token-stress set-up");
	if (hsm_key_find(h, cfg->pki_transport_key, &sk, err) != 0)
		return fail(err);
	if (hsm_key_point(sk, sp) != 0)
		return fail(hsm_error(h));
	for (int i = 0; i < threads; i++) {
		st[i] = (struct stress){ h, sk, tk, tp, sp, n, 0 };
		pthread_create(&t[i], NULL, stress_one, &st[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		bad += st[i].bad;
	}
	printf("%ld token-mode keys and re-wraps, %ld failed\n", n * threads,
	    bad);
	EVP_PKEY_free(tk);
	return bad == 0 ? 0 : 1;
}

/* --- keybench ------------------------------------------------------------ */

struct kworker {
	int mode;                 /* 0 token key mode, 1 bare keygen, 2 rewrap */
	double seconds;
	long done;
	struct hsm *h;
	struct hsm_key *station_key;
	CK_FUNCTION_LIST *f;
	unsigned long slot;
	const uint8_t *transport, *station, *in;
	size_t in_len;
};

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *
kwork(void *arg)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	    0x03, 0x01, 0x07 };
	struct kworker *w = arg;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
	};
	CK_ATTRIBUTE qt[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_SESSION_HANDLE s = 0;
	char e[HSM_ERR_MAX];
	double end = now_s() + w->seconds;

	if (w->mode == 1 && w->f->C_OpenSession(w->slot, CKF_SERIAL_SESSION |
	    CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		return NULL;
	while (now_s() < end) {
		uint8_t out[HSM_SEALED_MAX];
		size_t len;

		if (w->mode == 0) {
			X509_PUBKEY *pub;

			if (hsm_keygen_sealed(w->h, HSM_KEY_P256, w->transport,
			    seal_context_key, (void *)w->transport, &pub, out,
			    sizeof(out), &len, e) != 0) {
				fprintf(stderr, "hsm-tool: %s\n", e);
				break;
			}
			X509_PUBKEY_free(pub);
		} else if (w->mode == 1) {
			CK_OBJECT_HANDLE pub, priv;

			if (w->f->C_GenerateKeyPair(s, &gen, pt, 2, qt, 4, &pub,
			    &priv) != CKR_OK)
				break;
			w->f->C_DestroyObject(s, priv);
			w->f->C_DestroyObject(s, pub);
		} else if (hsm_rewrap_sealed(w->station_key, NULL, w->in, w->in_len,
		    seal_context_key, (void *)w->station, w->transport,
		    seal_context_key, (void *)w->transport, out, sizeof(out), &len,
		    e) != 0) {
			fprintf(stderr, "hsm-tool: %s\n", e);
			break;
		}
		w->done++;
	}
	if (s != 0)
		w->f->C_CloseSession(s);
	return NULL;
}

/* keybench: prints "token-mode/s bare-keygen/s rewraps/s". The bare
 * keygen calls the module's own function list, as hsm/ does. */
static int
keybench(struct station_config *cfg, struct hsm *h, double seconds,
    int threads)
{
	struct kworker w[8];
	pthread_t t[8];
	uint8_t transport[65], station[65], in[HSM_SEALED_MAX];
	unsigned char *der = NULL;
	size_t tlen, in_len;
	int der_len;
	long total[3] = { 0, 0, 0 };
	int rounds = (int)(seconds / 0.6) + 1;
	EVP_PKEY *tk = EVP_EC_gen("P-256"), *dk = EVP_EC_gen("P-256");
	PKCS8_PRIV_KEY_INFO *p8 = dk ? EVP_PKEY2PKCS8(dk) : NULL;
	struct hsm_key *sk;
	char err[HSM_ERR_MAX], e[SEAL_ERR_MAX];
	CK_FUNCTION_LIST *f = NULL;
	CK_C_GetFunctionList get;
	CK_SLOT_ID slots[16];
	CK_ULONG nslots = 16;
	CK_TOKEN_INFO info;
	unsigned long slot = 0;
	void *dl;

	if (threads < 1 || threads > 8 || tk == NULL || p8 == NULL ||
	    EVP_PKEY_get_octet_string_param(tk, "pub", transport, 65, &tlen) !=
	    1 || (der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0)
		return fail("keybench set-up");
	if (hsm_key_find(h, cfg->pki_transport_key, &sk, err) != 0)
		return fail(err);
	if (hsm_key_point(sk, station) != 0 ||
	    seal_value(station, STAMP_T_WRAPPED_DEVICE_KEY, der,
	    (size_t)der_len, in, sizeof(in), &in_len, e) != 0)
		return fail("keybench: cannot seal to the station key");
	OPENSSL_clear_free(der, (size_t)der_len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(dk);
	EVP_PKEY_free(tk);
	if ((dl = dlopen(cfg->hsm_module, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return fail("keybench: cannot load the module");
	*(void **)(&get) = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK ||
	    f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
		return fail("keybench: no function list");
	for (CK_ULONG i = 0; i < nslots; i++)
		if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    strncmp((char *)info.label, hsm_token_label(h),
		    strlen(hsm_token_label(h))) == 0)
			slot = slots[i];
	for (int r = 0; r < rounds; r++) {
		for (int mode = 0; mode < 3; mode++) {
			for (int i = 0; i < threads; i++) {
				w[i] = (struct kworker){ mode, 0.2, 0, h, sk, f, slot,
				    transport, station, in, in_len };
				pthread_create(&t[i], NULL, kwork, &w[i]);
			}
			for (int i = 0; i < threads; i++) {
				pthread_join(t[i], NULL);
				total[mode] += w[i].done;
			}
		}
	}
	printf("%.0f %.0f %.0f\n", (double)total[0] / (rounds * 0.2),
	    (double)total[1] / (rounds * 0.2), (double)total[2] / (rounds * 0.2));
	dlclose(dl);
	return 0;
}

int
token_tool(int argc, char **argv, struct station_config *cfg, struct hsm *h,
    struct hsm_ca *ca)
{
	if (strcmp(argv[0], "station-seal") == 0 && argc == 4)
		return station_seal(argv + 1);
	if (strcmp(argv[0], "rewrap") == 0 && (argc == 4 || argc == 5))
		return rewrap(cfg, h, argc - 1, argv + 1);
	if (strcmp(argv[0], "stamp") == 0 && argc == 6)
		return stamp(cfg, h, ca, argv + 1);
	if (strcmp(argv[0], "host-key") == 0 && argc == 3)
		return host_key(cfg, argv + 1);
	if (strcmp(argv[0], "token-stress") == 0 && argc == 3)
		return token_stress(cfg, h, atol(argv[1]), atoi(argv[2]));
	if (strcmp(argv[0], "keybench") == 0 && argc == 3)
		return keybench(cfg, h, atof(argv[1]), atoi(argv[2]));
	return -1;
}
