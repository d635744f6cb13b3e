/*
 * test_attest.c: unit tests of station/attest.c and attest_parse.c without
 * USB: the [attestation] policy (refusals, required products), answers
 * built here with the stamp-format builder and chains made here with
 * OpenSSL (a vendor root, a look-alike root, an expired leaf), each check
 * of attest_verify with its exact reason, the parser's refusals, and the
 * audit event device.attestation, which audit_verify replays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "stamp-format/stamp.h"
#include "station/attest.h"

#define DAY 86400L
#define HWID "HW-ATTEST-1"

static EVP_PKEY *root_key, *leaf_key, *rogue_key, *old_key;
static X509 *root, *leaf, *rogue_leaf, *old_leaf;
static struct attest_policy *policy;
static char dir[] = "/tmp/test_attest.XXXXXX";
static const uint8_t nonce[32] = { 0x5a, 1, 2, 3 };

static const char *leaf_usage = NULL;  /* keyUsage of the next leaf */

static X509 *
cert(EVP_PKEY *key, const char *cn, EVP_PKEY *ca_key, X509 *ca, long from,
    long to)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
	    ca ? "critical,CA:FALSE" : "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ca && leaf_usage) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, leaf_usage);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, ca_key ? ca_key : key, EVP_sha256());
	return x;
}

static int
setup(void **state)
{
	char path[64], text[256], err[ATTEST_REASON_MAX], cerr[512];
	struct station_config cfg;
	EVP_PKEY *rogue_root_key;
	X509 *rogue_root;
	FILE *f;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	root_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	rogue_root_key = EVP_EC_gen("P-256");
	rogue_key = EVP_EC_gen("P-256");
	old_key = EVP_EC_gen("P-256");
	root = cert(root_key, "Vendor root", NULL, NULL, -DAY, 365 * DAY);
	leaf = cert(leaf_key, "Chip 1", root_key, root, -DAY, 365 * DAY);
	rogue_root = cert(rogue_root_key, "Vendor root", NULL, NULL, -DAY, DAY);
	rogue_leaf = cert(rogue_key, "Chip 2", rogue_root_key, rogue_root, -DAY,
	    DAY);
	old_leaf = cert(old_key, "Chip 3", root_key, root, -3 * DAY, -2 * DAY);
	X509_free(rogue_root);
	EVP_PKEY_free(rogue_root_key);
	snprintf(path, sizeof(path), "%s/roots.pem", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	PEM_write_X509(f, root);
	fclose(f);
	snprintf(text, sizeof(text), "[station]\nid = t\n[hsm]\ntoken = pkcs11:"
	    "a\n[attestation]\nroots = roots.pem\nrequired_products = P1, P2\n");
	if (config_parse(&cfg, "/h/station.conf", text, dir, cerr) != 0 ||
	    attest_policy_open(&cfg, &policy, err) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[96];

	(void)state;
	attest_policy_free(policy);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(rogue_key);
	EVP_PKEY_free(old_key);
	X509_free(root);
	X509_free(leaf);
	X509_free(rogue_leaf);
	X509_free(old_leaf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
cb_sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
	(void)ctx;
	SHA256(data, len, out);
	return 0;
}

static void
sign(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[64])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	uint8_t der[80];
	const uint8_t *p = der;
	size_t len = sizeof(der);
	ECDSA_SIG *es;

	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, der, &len, digest, 32), 1);
	es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
}

/* An answer by ${key} with certificate ${x}, nonce ${n} (NULL: none),
 * key hash of ${point} (NULL: none); ${flip} flips a signature bit. */
static size_t
answer(uint8_t *buf, size_t cap, EVP_PKEY *key, X509 *x, const uint8_t *n,
    const uint8_t *point, int flip)
{
	struct stamp_crypto crypto = { .sha256 = cb_sha256 };
	struct stamp_builder b;
	uint8_t *der = NULL, digest[32], sig[64], hash[32];
	uint8_t caps[4] = { STAMP_CAP_ATTEST, 0, 0, 0 }, tpub[65] = { 4 };
	uint8_t active[36] = { 0 }, geo[8] = { 0, 0x20, 0, 0, 16, 0, 0, 0 };
	int len = i2d_X509(x, &der);
	size_t out;

	stamp_msg_begin(&b, buf, cap, STAMP_MAGIC_INFO);
	stamp_build_add(&b, STAMP_I_HARDWARE_ID, 1, HWID, strlen(HWID));
	stamp_build_add(&b, STAMP_I_MODEL, 0, "m", 1);
	stamp_build_add(&b, STAMP_I_FIRMWARE_VERSION, 0, "1", 1);
	stamp_build_add(&b, STAMP_I_CAPABILITIES, 1, caps, 4);
	stamp_build_add(&b, STAMP_I_TRANSPORT_KEY, 1, tpub, 65);
	stamp_build_add(&b, STAMP_I_STAMP_ACTIVE, 0, active, 36);
	stamp_build_add(&b, STAMP_I_STAMP_GEOMETRY, 0, geo, 8);
	stamp_build_add(&b, STAMP_I_ATTESTATION_CERT, 0, der, (size_t)len);
	OPENSSL_free(der);
	if (n)
		stamp_build_add(&b, STAMP_I_ATTESTATION_NONCE, 0, n, 32);
	if (point) {
		SHA256(point, 65, hash);
		stamp_build_add(&b, STAMP_I_ATTESTED_KEY, 0, hash, 32);
	}
	assert_int_equal(stamp_msg_attest_digest(&b, &crypto, digest), 0);
	sign(key, digest, sig);
	sig[33] ^= (uint8_t)flip;
	stamp_build_add(&b, STAMP_I_ATTESTATION_SIG, 0, sig, 64);
	assert_int_equal(stamp_msg_finish(&b, &out), 0);
	return out;
}

static int
check(const uint8_t *buf, size_t len, const uint8_t *point,
    struct attest_result *r)
{
	return attest_verify(policy, buf, len, (const uint8_t *)HWID,
	    strlen(HWID), nonce, sizeof(nonce), point, r);
}

static void
policy_rules(void **state)
{
	struct station_config cfg;
	struct attest_policy *p = NULL;
	char err[ATTEST_REASON_MAX], cerr[512];

	(void)state;
	assert_true(attest_policy_enabled(policy));
	assert_true(attest_required(policy, "P1"));
	assert_true(attest_required(policy, "P2"));
	assert_false(attest_required(policy, "P3"));
	assert_false(attest_required(policy, "P"));
	assert_false(attest_required(policy, NULL));
	assert_int_equal(config_parse(&cfg, "/h/station.conf", "[station]\nid = "
	    "t\n[hsm]\ntoken = pkcs11:a\n[attestation]\nrequired = yes\n", "/h",
	    cerr), 0);
	assert_int_equal(attest_policy_open(&cfg, &p, err), -2);
	assert_null(p);
	assert_string_equal(err, "/h/station.conf: [attestation] required = yes "
	    "needs [attestation] roots (the vendor root certificates to check "
	    "devices against)");
	cfg.attestation_required = false;
	assert_int_equal(attest_policy_open(&cfg, &p, err), 0);
	assert_false(attest_policy_enabled(p));
	assert_false(attest_required(p, "P1"));
	attest_policy_free(p);
	attest_policy_free(NULL);
}

static void
genuine(void **state)
{
	static uint8_t buf[8192];
	struct attest_result r;
	uint8_t point[65];
	size_t len, n = 0;

	(void)state;
	assert_int_equal(EVP_PKEY_get_octet_string_param(old_key,
	    OSSL_PKEY_PARAM_PUB_KEY, point, 65, &n), 1);
	len = answer(buf, sizeof(buf), leaf_key, leaf, nonce, NULL, 0);
	assert_int_equal(check(buf, len, NULL, &r), 0);
	assert_int_equal(r.outcome, ATTEST_PASS);
	assert_string_equal(r.chain, "CN=Chip 1");
	assert_string_equal(r.root, "CN=Vendor root");
	assert_string_equal(r.reason, "");
	assert_false(r.key_bound);
	/* device key mode: the CSR's key bound, missing, another */
	len = answer(buf, sizeof(buf), leaf_key, leaf, nonce, point, 0);
	assert_int_equal(check(buf, len, point, &r), 0);
	assert_true(r.key_bound);
	point[10] ^= 1;
	assert_int_equal(check(buf, len, point, &r), 1);
	assert_string_equal(r.reason, "attestation covers another key than the "
	    "one in the device's CSR");
	len = answer(buf, sizeof(buf), leaf_key, leaf, nonce, NULL, 0);
	assert_int_equal(check(buf, len, point, &r), 1);
	assert_string_equal(r.reason, "attestation does not cover the device's "
	    "new key (no ATTESTED_KEY)");
}

static void
refusals(void **state)
{
	static uint8_t buf[8192];
	struct attest_result r;
	uint8_t other[32] = { 0 };
	size_t len;

	(void)state;
	len = answer(buf, sizeof(buf), leaf_key, leaf, nonce, NULL, 1);
	assert_int_equal(check(buf, len, NULL, &r), 1);
	assert_int_equal(r.outcome, ATTEST_FAIL);
	assert_string_equal(r.reason, "attestation signature does not verify "
	    "with the key of 'CN=Chip 1' (a forged or corrupted answer)");
	len = answer(buf, sizeof(buf), leaf_key, leaf, other, NULL, 0);
	assert_int_equal(check(buf, len, NULL, &r), 1);
	assert_string_equal(r.reason, "attestation is signed over another nonce "
	    "than the one this station sent (a replayed answer)");
	len = answer(buf, sizeof(buf), rogue_key, rogue_leaf, nonce, NULL, 0);
	assert_int_equal(check(buf, len, NULL, &r), 1);
	assert_string_equal(r.reason, "attestation chain of 'CN=Chip 2' does "
	    "not lead to a configured vendor root ([attestation] roots): issuer "
	    "'CN=Vendor root' unknown");
	assert_string_equal(r.root, "");
	len = answer(buf, sizeof(buf), old_key, old_leaf, nonce, NULL, 0);
	assert_int_equal(check(buf, len, NULL, &r), 1);
	assert_non_null(strstr(r.reason, "attestation certificate 'CN=Chip 3' "
	    "has expired (notAfter "));
	/* signed by another key than the certificate's */
	len = answer(buf, sizeof(buf), rogue_key, leaf, nonce, NULL, 0);
	assert_int_equal(check(buf, len, NULL, &r), 1);
	assert_non_null(strstr(r.reason, "signature does not verify"));
	/* a leaf whose key usage does not allow signing */
	leaf_usage = "critical,keyAgreement";
	{
		X509 *ka = cert(leaf_key, "Chip 4", root_key, root, -DAY, DAY);

		len = answer(buf, sizeof(buf), leaf_key, ka, nonce, NULL, 0);
		assert_int_equal(check(buf, len, NULL, &r), 1);
		assert_string_equal(r.reason, "attestation certificate 'CN=Chip 4' "
		    "may not sign (its key usage lacks digitalSignature)");
		X509_free(ka);
	}
	leaf_usage = "critical,digitalSignature";
	{
		X509 *ds = cert(leaf_key, "Chip 5", root_key, root, -DAY, DAY);

		len = answer(buf, sizeof(buf), leaf_key, ds, nonce, NULL, 0);
		assert_int_equal(check(buf, len, NULL, &r), 0);
		X509_free(ds);
	}
	leaf_usage = NULL;
	/* another device's answer */
	len = answer(buf, sizeof(buf), leaf_key, leaf, nonce, NULL, 0);
	assert_int_equal(attest_verify(policy, buf, len, (const uint8_t *)"HW-2",
	    4, nonce, sizeof(nonce), NULL, &r), 1);
	assert_string_equal(r.reason, "attestation answer names another "
	    "hardware id than the device's");
}

static void
parser(void **state)
{
	static uint8_t buf[8192];
	struct attest_evidence ev;
	struct attest_result r;
	char reason[ATTEST_REASON_MAX], want[ATTEST_REASON_MAX];
	size_t len;

	(void)state;
	len = answer(buf, sizeof(buf), leaf_key, leaf, NULL, NULL, 0);
	assert_int_equal(attest_parse(buf, len, &ev, reason), -1);
	assert_string_equal(reason, "attestation answer carries no nonce: it "
	    "does not answer this station's request");
	len = answer(buf, sizeof(buf), leaf_key, leaf, nonce, NULL, 0);
	assert_int_equal(attest_parse(buf, len, &ev, reason), 0);
	assert_int_equal(ev.ncerts, 1);
	assert_int_equal(ev.nonce_len, 32);
	assert_int_equal(ev.signed_len, len - 72);
	assert_int_equal(attest_parse(buf, len - 1, &ev, reason), -1);
	snprintf(want, sizeof(want), "attestation answer (%zu bytes) is "
	    "malformed: truncated at offset %zu", len - 1, len - 1);
	assert_string_equal(reason, want);
	buf[8] ^= 1;  /* total_len no longer the length */
	assert_int_equal(check(buf, len, NULL, &r), 1);
	assert_non_null(strstr(r.reason, "is malformed: "));
}

static void
audit_event(void **state)
{
	char path[64], err[AUDIT_ERR_MAX];
	struct attest_result r = { .outcome = ATTEST_FAIL, .required = true };
	struct audit_verify_result v;
	struct audit_field f = { "result", "pass", 4 };
	struct audit *a;

	(void)state;
	snprintf(r.chain, sizeof(r.chain), "CN=Chip 1");
	snprintf(r.reason, sizeof(r.reason), "device offers no attestation");
	snprintf(path, sizeof(path), "%s/a.db", dir);
	assert_non_null(a = audit_open(path, "t", err));
	assert_int_equal(attest_record(a, "bench", HWID, "P1", &r), 0);
	assert_int_equal(audit_append(a, "bench", "device.attestation", HWID, &f,
	    1, NULL), -1);
	assert_int_equal(audit_device_note(a, "bench", "device.done", HWID, &f,
	    1), -1);
	audit_close(a);
	assert_int_equal(audit_verify(path, NULL, NULL, &v), 0);
	assert_int_equal(v.verdict, AUDIT_INTACT);
	assert_int_equal(v.events, 2);
	assert_string_equal(attest_outcome_name(ATTEST_NONE), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_rules),
		cmocka_unit_test(genuine),
		cmocka_unit_test(refusals),
		cmocka_unit_test(parser),
		cmocka_unit_test(audit_event),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
