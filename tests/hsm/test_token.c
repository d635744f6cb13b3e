/*
 * test_token.c: the hsm API in-process against a SoftHSM token made for
 * this run (so that it also runs under ASan+UBSan): issuance for each key
 * type checked with OpenSSL, two threads issuing at once, hsm_sign,
 * the token key mode unwrapped with OpenSSL, re-wrapping a key sealed to
 * a station transport key (opened again with stamp.c), and the refusals
 * with their messages (PIN, URI, key, CRL input, device input).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>

#include "hsm/hsm.h"
#include "station/seal.h"
#include "station/stamp_crypto.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define PIN "test-pin-1234"

static char dir[] = "/tmp/hsm-test.XXXXXX";
static char root_file[64], subca_file[64];
static struct hsm *h;
static struct hsm_ca *ca;
static char err[HSM_ERR_MAX];
static const struct hsm_profile profile = {
	.organization = "Test Devices",
	.not_before_skew = 60,
	.validity_days = 0,
	.key_types = HSM_KEY_P256 | HSM_KEY_P384 | HSM_KEY_ED25519,
	.hardware_module_name = true,
	.hardware_type = HSM_HWTYPE_OID_DEFAULT,
};

static int
write_pem(const char *file, X509 *x)
{
	FILE *f = fopen(file, "w");
	int ok = f != NULL && PEM_write_X509(f, x) == 1;

	if (f != NULL)
		fclose(f);
	return ok ? 0 : -1;
}

static int
setup(void **state)
{
	char conf[64], text[128];
	struct hsm_key *key;
	EVP_PKEY *root_key = NULL, *pub = NULL;
	X509 *root = NULL, *subca = NULL;
	FILE *f;
	int ret = -1;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(text, sizeof(text), "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", dir);
	snprintf(root_file, sizeof(root_file), "%s/root.pem", dir);
	snprintf(subca_file, sizeof(subca_file), "%s/subca.pem", dir);
	if ((f = fopen(conf, "w")) == NULL || fputs(text, f) < 0 ||
	    fclose(f) != 0 || setenv("SOFTHSM2_CONF", conf, 1) != 0)
		return -1;
	if (hsm_token_init(MODULE, "unit", "so-pin-5678", PIN, err) != 0 ||
	    hsm_open(&h, MODULE, "pkcs11:token=unit", PIN, err) != 0 ||
	    hsm_key_generate(h, "subca", HSM_KEY_P256, &key, err) != 0 ||
	    (pub = hsm_key_public(key)) == NULL ||
	    (root_key = EVP_EC_gen("P-256")) == NULL ||
	    hsm_cert_make(root_key, "Test", "Test Root", NULL, root_key, true, 30,
	    &root, err) != 0 ||
	    hsm_cert_make(pub, "Test", "Test Sub-CA", root, root_key, true, 30,
	    &subca, err) != 0 ||
	    write_pem(root_file, root) != 0 || write_pem(subca_file, subca) != 0 ||
	    hsm_ca_open(&ca, h, "pkcs11:object=subca", subca_file, root_file,
	    &profile, err) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		goto cleanup;
	}
	ret = 0;
cleanup:
	X509_free(root);
	X509_free(subca);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(root_key);
	return ret;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
teardown(void **state)
{
	(void)state;
	hsm_ca_free(ca);
	hsm_close(h);
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* issue(key, serial): a certificate for ${key}, checked against the
 * sub-CA's key by OpenSSL. */
static X509 *
issue(EVP_PKEY *key, const char *serial)
{
	X509_PUBKEY *spki = NULL;
	struct hsm_device d = { serial, (const uint8_t *)"hw-1", 4 };
	uint8_t der[HSM_CERT_MAX];
	const unsigned char *p = der;
	size_t len;
	X509 *x;

	assert_int_equal(X509_PUBKEY_set(&spki, key), 1);
	if (hsm_issue_der(ca, spki, &d, der, sizeof(der), &len, err) != 0)
		fail_msg("%s", err);
	X509_PUBKEY_free(spki);
	assert_non_null(x = d2i_X509(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(hsm_ca_cert(ca))), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
	return x;
}

static void
test_key_types(void **state)
{
	const char *algs[] = { "P-256", "P-384", NULL };

	(void)state;
	for (int i = 0; i < 3; i++) {
		EVP_PKEY *k = algs[i] ? EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    algs[i]) : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		X509 *x = issue(k, "SN-1");

		assert_int_equal(X509_check_ca(x), 0);
		assert_true((X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) != 0);
		assert_int_equal(!!(X509_get_key_usage(x) & KU_KEY_AGREEMENT),
		    algs[i] != NULL);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

#define PER_THREAD 100
static void *
issue_many(void *arg)
{
	BIGNUM **serials = arg;
	EVP_PKEY *k = EVP_EC_gen("P-256");

	for (int i = 0; i < PER_THREAD; i++) {
		X509 *x = issue(k, "SN-T");

		serials[i] = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		X509_free(x);
	}
	EVP_PKEY_free(k);
	return NULL;
}

static void
test_threads(void **state)
{
	BIGNUM *serials[2 * PER_THREAD];
	pthread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, issue_many,
		    serials + i * PER_THREAD), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2 * PER_THREAD; i++) {
		assert_false(BN_is_negative(serials[i]));
		assert_true(BN_num_bits(serials[i]) > 64);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(BN_cmp(serials[i], serials[j]), 0);
	}
	for (int i = 0; i < 2 * PER_THREAD; i++)
		BN_free(serials[i]);
}

static void
test_sign(void **state)
{
	struct hsm_key *k;
	uint8_t digest[32] = { 7 }, sig[HSM_SIG_MAX];
	size_t len = sizeof(sig);
	EVP_PKEY *pub;
	EVP_PKEY_CTX *v;

	(void)state;
	assert_int_equal(hsm_key_find(h, "pkcs11:object=subca", &k, err), 0);
	assert_int_equal(hsm_sign(k, digest, sig, &len), 0);
	assert_true(len <= 72);
	assert_non_null(pub = hsm_key_public(k));
	assert_non_null(v = EVP_PKEY_CTX_new(pub, NULL));
	assert_int_equal(EVP_PKEY_verify_init(v), 1);
	assert_int_equal(EVP_PKEY_verify(v, sig, len, digest, 32), 1);
	digest[0] ^= 1;
	assert_int_not_equal(EVP_PKEY_verify(v, sig, len, digest, 32), 1);
	EVP_PKEY_CTX_free(v);
	/* raw r || s and the key id, as the stamp's SIGNATURE record has them */
	{
		uint8_t rs[64], id[32], point[65], want[32];
		size_t plen;
		ECDSA_SIG *es = ECDSA_SIG_new();
		unsigned char *der = NULL;
		int dlen;

		digest[0] ^= 1;
		assert_int_equal(hsm_sign_rs(k, digest, rs), 0);
		ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL),
		    BN_bin2bn(rs + 32, 32, NULL));
		dlen = i2d_ECDSA_SIG(es, &der);
		assert_non_null(v = EVP_PKEY_CTX_new(pub, NULL));
		assert_int_equal(EVP_PKEY_verify_init(v), 1);
		assert_int_equal(EVP_PKEY_verify(v, der, (size_t)dlen, digest, 32),
		    1);
		EVP_PKEY_CTX_free(v);
		OPENSSL_free(der);
		ECDSA_SIG_free(es);
		assert_int_equal(hsm_key_id(k, id), 0);
		assert_int_equal(EVP_PKEY_get_octet_string_param(pub, "pub",
		    point, sizeof(point), &plen), 1);
		SHA256(point, plen, want);
		assert_memory_equal(id, want, 32);
	}
	EVP_PKEY_free(pub);
}

static int
fixed_context(void *arg, const uint8_t eph[65], uint8_t context[32])
{
	(void)arg;
	(void)eph;
	memset(context, 0x5a, 32);
	return 0;
}

static void
test_sealed(void **state)
{
	EVP_PKEY *t = EVP_EC_gen("P-256"), *e, *dev;
	EVP_PKEY_CTX *dc;
	EVP_CIPHER_CTX *c;
	X509_PUBKEY *pub;
	uint8_t transport[65], sealed[512], z[32], kek[32], ctx[32], p8[512];
	size_t len, tlen, zlen = sizeof(z);
	int n, n2;
	const unsigned char *p = p8;

	(void)state;
	assert_int_equal(EVP_PKEY_get_octet_string_param(t, "pub", transport,
	    sizeof(transport), &tlen), 1);
	if (hsm_keygen_sealed(h, HSM_KEY_P256, transport, fixed_context, NULL,
	    &pub, sealed, sizeof(sealed), &len, err) != 0)
		fail_msg("%s", err);
	assert_true(len > 65 + 16);
	/* The device side, with OpenSSL: Z, KEK = AES-ECB(Z, context), KWP. */
	assert_non_null(e = EVP_PKEY_new());
	{
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		OSSL_PARAM params[] = {
			OSSL_PARAM_utf8_string("group", "P-256", 0),
			OSSL_PARAM_octet_string("pub", sealed, 65),
			OSSL_PARAM_END,
		};

		EVP_PKEY_free(e);
		e = NULL;
		assert_int_equal(EVP_PKEY_fromdata_init(pc), 1);
		assert_int_equal(EVP_PKEY_fromdata(pc, &e, EVP_PKEY_PUBLIC_KEY,
		    params), 1);
		EVP_PKEY_CTX_free(pc);
	}
	assert_non_null(dc = EVP_PKEY_CTX_new(t, NULL));
	assert_int_equal(EVP_PKEY_derive_init(dc), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(dc, e), 1);
	assert_int_equal(EVP_PKEY_derive(dc, z, &zlen), 1);
	EVP_PKEY_CTX_free(dc);
	memset(ctx, 0x5a, sizeof(ctx));
	assert_non_null(c = EVP_CIPHER_CTX_new());
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, z, NULL),
	    1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_EncryptUpdate(c, kek, &n, ctx, 32), 1);
	assert_int_equal(n, 32);
	EVP_CIPHER_CTX_reset(c);
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek,
	    NULL), 1);
	assert_int_equal(EVP_DecryptUpdate(c, p8, &n, sealed + 65,
	    (int)(len - 65)), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, p8 + n, &n2), 1);
	EVP_CIPHER_CTX_free(c);
	assert_non_null(dev = d2i_AutoPrivateKey(NULL, &p, n + n2));
	{
		const unsigned char *spki_pt;
		uint8_t a[65], b[65];
		size_t la, lb;
		int ptlen;

		/* SoftHSM's PKCS#8 has no public key: compare via the scalar. */
		assert_int_equal(X509_PUBKEY_get0_param(NULL, &spki_pt, &ptlen,
		    NULL, pub), 1);
		assert_int_equal(ptlen, 65);
		memcpy(a, spki_pt, 65);
		la = 65;
		{
			BIGNUM *priv = NULL;
			EC_GROUP *g = EC_GROUP_new_by_curve_name(
			    NID_X9_62_prime256v1);
			EC_POINT *pt = EC_POINT_new(g);

			assert_int_equal(EVP_PKEY_get_bn_param(dev, "priv", &priv),
			    1);
			assert_int_equal(EC_POINT_mul(g, pt, priv, NULL, NULL, NULL),
			    1);
			lb = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED,
			    b, sizeof(b), NULL);
			assert_int_equal(la, lb);
			assert_memory_equal(a, b, la);
			BN_clear_free(priv);
			EC_POINT_free(pt);
			EC_GROUP_free(g);
		}
	}
	EVP_PKEY_free(dev);
	EVP_PKEY_free(e);
	EVP_PKEY_free(t);
	X509_PUBKEY_free(pub);
}

/* open_sealed(t, sealed, len, out, out_len): the device side of a sealed
 * WRAPPED_DEVICE_KEY value, through stamp.c and stamp_crypto.c. */
static int
open_sealed(EVP_PKEY *t, const uint8_t *sealed, size_t len, uint8_t *out,
    size_t cap, size_t *out_len)
{
	struct stamp_ossl o;
	struct stamp_crypto c;
	struct stamp_record r = { STAMP_T_WRAPPED_DEVICE_KEY, STAMP_RF_SECRET |
	    STAMP_RF_CRITICAL, (uint32_t)len, sealed, 0 };
	struct stamp_error e;
	uint8_t tp[65];

	if (stamp_ossl_init(&o, NULL, t, &c) != 0 || stamp_ossl_point(t, tp))
		return -1;
	return stamp_secret_open(&r, tp, &c, out, cap, out_len, &e);
}

static void
test_rewrap(void **state)
{
	struct hsm_key *station, *again;
	EVP_PKEY *dev = EVP_EC_gen("P-256"), *t = EVP_EC_gen("P-256"), *back;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(dev);
	unsigned char *der = NULL;
	const unsigned char *p;
	uint8_t sp[65], tp[65], in[HSM_SEALED_MAX], out[HSM_SEALED_MAX];
	uint8_t plain[HSM_SEALED_MAX], digest[32] = { 1 }, sig[HSM_SIG_MAX];
	size_t in_len, out_len, plain_len, sig_len = sizeof(sig);
	char e[SEAL_ERR_MAX];
	int der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	BIGNUM *a = NULL, *b = NULL;
	X509_PUBKEY *dev_spki = NULL, *other_spki = NULL;

	(void)state;
	if (hsm_key_generate_transport(h, "station-transport", &station, err))
		fail_msg("%s", err);
	assert_int_equal(hsm_key_point(station, sp), 0);
	assert_int_equal(stamp_ossl_point(t, tp), 0);
	/* The batch side: sealed to the station on the host. */
	assert_int_equal(seal_value(sp, STAMP_T_WRAPPED_DEVICE_KEY, der,
	    (size_t)der_len, in, sizeof(in), &in_len, e), 0);
	assert_int_equal(X509_PUBKEY_set(&dev_spki, dev), 1);
	assert_int_equal(X509_PUBKEY_set(&other_spki, t), 1);
	/* Checked against another key's certificate: refused. */
	assert_int_equal(hsm_rewrap_sealed(station, other_spki, in, in_len,
	    seal_context_key, sp, tp, seal_context_key, tp, out, sizeof(out),
	    &out_len, err), -1);
	assert_string_equal(err, "re-wrap: the sealed device key does not "
	    "belong to the public key of its certificate (a batch mix-up?); "
	    "nothing was written");
	assert_int_equal(out_len, 0);
	if (hsm_rewrap_sealed(station, dev_spki, in, in_len, seal_context_key,
	    sp, tp, seal_context_key, tp, out, sizeof(out), &out_len, err) != 0)
		fail_msg("%s", err);
	/* The device side: stamp.c opens it, the scalar is the batch's. */
	assert_int_equal(open_sealed(t, out, out_len, plain, sizeof(plain),
	    &plain_len), 0);
	p = plain;
	assert_non_null(back = d2i_AutoPrivateKey(NULL, &p, (long)plain_len));
	assert_int_equal(EVP_PKEY_get_bn_param(dev, "priv", &a), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(back, "priv", &b), 1);
	assert_int_equal(BN_cmp(a, b), 0);
	/* Sealed to the device, it does not open with the station again. */
	assert_int_equal(hsm_rewrap_sealed(station, NULL, out, out_len,
	    seal_context_key, sp, tp, seal_context_key, tp, in, sizeof(in),
	    &in_len, err), -1);
	assert_string_equal(err, "token 'unit': re-wrap: the sealed device key "
	    "does not open with this station's transport key "
	    "(CKR_GENERAL_ERROR): it was sealed to another key or is damaged; "
	    "nothing was written");
	assert_int_equal(in_len, 0);
	/* The transport key agrees keys; it does not sign. */
	assert_int_equal(hsm_sign(station, digest, sig, &sig_len), -1);
	assert_string_equal(hsm_error(h), "token 'unit': signing with key "
	    "'station-transport': the key may not be used for this "
	    "(CKR_KEY_FUNCTION_NOT_PERMITTED); nothing was written; check the "
	    "key's URI in station.conf");

	assert_int_equal(hsm_key_find(h, "pkcs11:object=station-transport",
	    &again, err), 0);
	assert_ptr_equal(again, station);
	BN_clear_free(a);
	BN_clear_free(b);
	X509_PUBKEY_free(dev_spki);
	X509_PUBKEY_free(other_spki);
	OPENSSL_clear_free(der, (size_t)der_len);
	OPENSSL_cleanse(plain, sizeof(plain));
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(back);
	EVP_PKEY_free(dev);
	EVP_PKEY_free(t);
}

/* A P-384 device key made in the token, sealed to a P-256 transport key,
 * opens with stamp.c to the key hsm_keygen_sealed certified. */
static void
test_sealed_p384(void **state)
{
	EVP_PKEY *t = EVP_EC_gen("P-256"), *dev;
	X509_PUBKEY *pub = NULL;
	uint8_t tp[65], sealed[HSM_SEALED_MAX], p8[HSM_SEALED_MAX], a[97];
	size_t len, p8_len, alen;
	const unsigned char *p = p8, *spki;
	int spki_len;

	(void)state;
	assert_int_equal(stamp_ossl_point(t, tp), 0);
	if (hsm_keygen_sealed(h, HSM_KEY_P384, tp, seal_context_key, tp, &pub,
	    sealed, sizeof(sealed), &len, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(open_sealed(t, sealed, len, p8, sizeof(p8), &p8_len),
	    0);
	assert_non_null(dev = d2i_AutoPrivateKey(NULL, &p, (long)p8_len));
	assert_int_equal(EVP_PKEY_get_bits(dev), 384);
	{
		BIGNUM *priv = NULL;
		EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
		EC_POINT *pt = EC_POINT_new(g);

		assert_int_equal(EVP_PKEY_get_bn_param(dev, "priv", &priv), 1);
		assert_int_equal(EC_POINT_mul(g, pt, priv, NULL, NULL, NULL), 1);
		alen = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, a,
		    sizeof(a), NULL);
		BN_clear_free(priv);
		EC_POINT_free(pt);
		EC_GROUP_free(g);
	}
	assert_int_equal(X509_PUBKEY_get0_param(NULL, &spki, &spki_len, NULL,
	    pub), 1);
	assert_int_equal((size_t)spki_len, alen);
	assert_memory_equal(spki, a, alen);
	OPENSSL_cleanse(p8, sizeof(p8));
	EVP_PKEY_free(dev);
	EVP_PKEY_free(t);
	X509_PUBKEY_free(pub);
}

static void
test_refusals(void **state)
{
	struct hsm *other;
	struct hsm_key *k;
	X509_CRL *crl;
	uint8_t s21[21] = { 1 }, der[HSM_CERT_MAX];
	struct hsm_revoked r = { s21, 21, 0, -1 };
	struct hsm_device dev = { "SN-1", (const uint8_t *)"", 0 };
	X509_PUBKEY *spki = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	size_t len;

	(void)state;
	/* A second open would finalise the module under the first. */
	assert_int_equal(hsm_open(&other, MODULE, "pkcs11:token=unit", PIN,
	    err), -1);
	assert_null(other);
	assert_string_equal(err, "a token is already open in this process");
	assert_int_equal(hsm_token_init(MODULE, "x", "so", "pin", err), -1);
	assert_string_equal(err, "a token is already open in this process");
	assert_int_equal(hsm_key_find(h, "pkcs11:object=%zz", &k, err), -1);
	assert_string_equal(err, "'pkcs11:object=%zz' is not a PKCS#11 URI: "
	    "URI encoding invalid or corrupted");
	assert_int_equal(hsm_key_find(h, "pkcs11:object=none", &k, err), -1);
	assert_string_equal(err, "token 'unit' has no private key matching "
	    "'pkcs11:object=none' (check the key's URI in station.conf)");
	assert_int_equal(hsm_key_generate(h, "subca", HSM_KEY_P256, &k, err), -1);
	assert_string_equal(err, "token 'unit' already has a key labelled "
	    "'subca'");
	assert_int_equal(hsm_crl(ca, &r, 1, 1, 100, 200, &crl, err), -1);
	assert_string_equal(err, "CRL: a serial number is 1 to 20 bytes, got 21");
	r.serial_len = 1;
	r.reason = 7;
	assert_int_equal(hsm_crl(ca, &r, 1, 1, 100, 200, &crl, err), -1);
	assert_string_equal(err, "CRL: reason code 7 is not one of RFC 5280");
	assert_int_equal(hsm_crl(ca, NULL, 0, 1, 200, 200, &crl, err), -1);
	assert_string_equal(err, "CRL: nextUpdate must come after thisUpdate");
	assert_int_equal(X509_PUBKEY_set(&spki, key), 1);
	assert_int_equal(hsm_issue_der(ca, spki, &dev, der, sizeof(der), &len,
	    err), -1);
	assert_string_equal(err, "device SN-1: hardware id must be 1 to 64 "
	    "bytes");
	dev.hwid_len = 4;
	dev.hwid = (const uint8_t *)"hw-1";
	assert_int_equal(hsm_issue_der(ca, spki, &dev, der, 100, &len, err), -1);
	assert_string_equal(err, "device SN-1: the certificate does not fit in "
	    "100 bytes");
	X509_PUBKEY_free(spki);
	EVP_PKEY_free(key);
	/* A transport key off the curve is refused before the token sees it. */
	{
		uint8_t bad[65], sealed[HSM_SEALED_MAX];
		X509_PUBKEY *pub = NULL;
		size_t n = 1;

		memset(bad, 0x01, sizeof(bad));
		bad[0] = 0x04;
		assert_int_equal(hsm_keygen_sealed(h, HSM_KEY_P256, bad,
		    fixed_context, NULL, &pub, sealed, sizeof(sealed), &n, err),
		    -1);
		assert_string_equal(err, "the transport key is not an "
		    "uncompressed point on P-256; nothing was sealed to it");
		assert_null(pub);
		assert_int_equal(n, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_sealed),
		cmocka_unit_test(test_sealed_p384),
		cmocka_unit_test(test_rewrap),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
