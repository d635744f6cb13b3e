/*
 * test_stamp.c: unit tests of the stamp codec (stamp-format/stamp.c) with
 * the OpenSSL callbacks: build/read round trips, every committed vector
 * against vectors/expected.txt, every prefix and every byte flip of valid
 * images rejected, binding and development policy, sealed secrets, the
 * builder's errors, the USB messages, and reads from an odd address.
 * Runs from the repository root (tests/run does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/sha.h>

#include "stamp-format/stamp.h"
#include "station/stamp_crypto.h"

#define VEC "stamp-format/vectors/"
#define CAP 16384

static EVP_PKEY *signer, *transport;
static uint8_t tpub[65], key_id[32];
static struct stamp_ossl ossl;
static struct stamp_crypto crypto;

static int
setup(void **state)
{
	char err[256];

	(void)state;
	signer = stamp_ossl_load_private(VEC "signer-key.pem", err, sizeof(err));
	transport = stamp_ossl_load_private(VEC "device-transport-key.pem", err,
	    sizeof(err));
	if (signer == NULL || transport == NULL ||
	    stamp_ossl_point(transport, tpub) != 0 ||
	    stamp_ossl_key_id(signer, key_id) != 0 ||
	    stamp_ossl_init(&ossl, signer, transport, &crypto) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(signer);
	EVP_PKEY_free(transport);
	return 0;
}

static size_t
load(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), VEC "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static size_t
sign(struct stamp_builder *b)
{
	uint8_t digest[32], sig[64];
	size_t len = 0;

	assert_int_equal(stamp_build_digest(b, &crypto, digest), 0);
	assert_int_equal(stamp_ossl_sign(signer, digest, sig), 0);
	assert_int_equal(stamp_build_sign(b, key_id, sig, &len), 0);
	return len;
}

static size_t
minimal(uint8_t *buf, uint32_t flags, unsigned wu)
{
	struct stamp_builder b;

	assert_int_equal(stamp_build_begin(&b, buf, CAP, 5, flags, wu), 0);
	stamp_build_add(&b, STAMP_T_HARDWARE_ID, STAMP_RF_CRITICAL, "HW-1", 4);
	stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, STAMP_RF_CRITICAL, "SN-1", 4);
	return sign(&b);
}

static enum stamp_err
check(const uint8_t *buf, size_t len, const struct stamp_expect *exp)
{
	struct stamp_view v;
	struct stamp_error err;

	stamp_read(&v, buf, len, &crypto, exp, &err);
	return err.code;
}

static void
round_trip(void **state)
{
	static uint8_t buf[CAP];
	struct stamp_view v;
	struct stamp_error err;
	struct stamp_cursor c;
	struct stamp_record r;
	size_t len;

	(void)state;
	for (unsigned wu = 16; wu <= 32; wu += 16) {
		len = minimal(buf, 0, wu);
		assert_int_equal(len % wu, 0);
		assert_int_equal(stamp_read(&v, buf, len, &crypto, NULL, &err), 0);
		assert_int_equal(v.generation, 5);
		assert_int_equal(v.write_unit, wu);
		assert_int_equal(v.signature_checked, 1);
		assert_memory_equal(v.hardware_id, "HW-1", 4);
		stamp_records(&v, &c);
		assert_int_equal(stamp_find(&c, STAMP_T_SERIAL_NUMBER, &r), 1);
		assert_memory_equal(r.value, "SN-1", 4);
		assert_int_equal(stamp_find(&c, STAMP_T_SIGNATURE, &r), 1);
		assert_int_equal(stamp_next(&c, &r), 0);
	}
}

/* Every committed vector gives the reason and offset of expected.txt. */
static void
vectors_as_expected(void **state)
{
	static uint8_t buf[CAP];
	struct stamp_expect exp = { NULL, 0, 1 };
	struct stamp_view v;
	struct stamp_error err;
	char line[256], name[128];
	int code, n = 0;
	size_t off, len;
	FILE *f;

	(void)state;
	f = fopen(VEC "expected.txt", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%127s %d %zu", name, &code, &off), 3);
		len = load(name, buf, sizeof(buf));
		stamp_read(&v, buf, len, &crypto, &exp, &err);
		if ((int)err.code != code || (code != 0 && err.offset != off))
			fail_msg("%s: got %s at %zu, expected %d at %zu", name,
			    stamp_strerror(err.code), err.offset, code, off);
		n++;
	}
	fclose(f);
	assert_true(n >= 28);
}

/* Every proper prefix of every valid image is rejected. */
static void
prefixes_rejected(void **state)
{
	static const char *names[] = { "valid-minimal.bin", "valid-full.bin",
	    "valid-development.bin" };
	static uint8_t buf[CAP];
	struct stamp_expect exp = { NULL, 0, 1 };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		size_t len = load(names[i], buf, sizeof(buf));

		assert_int_equal(check(buf, len, &exp), STAMP_OK);
		for (size_t n = 0; n < len; n++)
			if (check(buf, n, &exp) == STAMP_OK)
				fail_msg("%s: prefix of %zu bytes accepted", names[i], n);
	}
}

/* Changing any one byte of an image is caught. */
static void
byte_flips_rejected(void **state)
{
	static uint8_t buf[CAP];
	size_t len;

	(void)state;
	len = minimal(buf, 0, 16);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x40;
		if (check(buf, len, NULL) == STAMP_OK)
			fail_msg("flip at %zu accepted", i);
		buf[i] ^= 0x40;
	}
	assert_int_equal(check(buf, len, NULL), STAMP_OK);
}

static void
binding_and_development(void **state)
{
	static uint8_t buf[CAP];
	struct stamp_expect exp = { (const uint8_t *)"HW-1", 4, 0 };
	struct stamp_expect other = { (const uint8_t *)"HW-2", 4, 1 };
	struct stamp_expect longer = { (const uint8_t *)"HW-10", 5, 1 };
	size_t len;

	(void)state;
	len = minimal(buf, 0, 16);
	assert_int_equal(check(buf, len, &exp), STAMP_OK);
	assert_int_equal(check(buf, len, &other), STAMP_E_BINDING);
	assert_int_equal(check(buf, len, &longer), STAMP_E_BINDING);
	len = minimal(buf, STAMP_HF_DEVELOPMENT, 16);
	assert_int_equal(check(buf, len, &exp), STAMP_E_DEVELOPMENT);
	assert_int_equal(check(buf, len, NULL), STAMP_E_DEVELOPMENT);
	exp.allow_development = 1;
	assert_int_equal(check(buf, len, &exp), STAMP_OK);
}

static void
no_verify_callback(void **state)
{
	static uint8_t buf[CAP];
	struct stamp_crypto hash_only = { NULL, crypto.sha256, NULL, NULL, NULL,
	    NULL, NULL, NULL };
	struct stamp_view v;
	struct stamp_error err;
	size_t len;

	(void)state;
	len = minimal(buf, 0, 16);
	assert_int_equal(stamp_read(&v, buf, len, &hash_only, NULL, &err), 0);
	assert_int_equal(v.signature_checked, 0);
	assert_int_equal(stamp_read(&v, buf, len, NULL, NULL, &err), -1);
	assert_int_equal(err.code, STAMP_E_CRYPTO);
}

/* Seal 1..70 bytes, open them; a wrong key or short buffer fails. */
static void
secrets(void **state)
{
	static uint8_t buf[CAP];
	uint8_t plain[80], out[80], wrong_pub[65];
	struct stamp_builder b;
	struct stamp_view v;
	struct stamp_error err;
	struct stamp_cursor c;
	struct stamp_record r;
	struct stamp_ossl wrong_ossl;
	struct stamp_crypto wrong;
	EVP_PKEY *wrong_key = EVP_EC_gen("P-256");
	size_t len, n;

	(void)state;
	assert_int_equal(stamp_ossl_point(wrong_key, wrong_pub), 0);
	assert_int_equal(stamp_ossl_init(&wrong_ossl, NULL, wrong_key, &wrong), 0);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 + 1);
	for (size_t pl = 1; pl <= 70; pl += 3) {
		stamp_build_begin(&b, buf, CAP, 1, 0, 16);
		stamp_build_add(&b, STAMP_T_HARDWARE_ID, 1, "HW-1", 4);
		stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, 1, "SN-1", 4);
		assert_int_equal(stamp_build_add_sealed(&b, STAMP_T_PROVISIONING_TOKEN,
		    STAMP_RF_CRITICAL, plain, pl, tpub, &crypto), 0);
		len = sign(&b);
		assert_int_equal(stamp_read(&v, buf, len, &crypto, NULL, &err), 0);
		stamp_records(&v, &c);
		assert_int_equal(stamp_find(&c, STAMP_T_PROVISIONING_TOKEN, &r), 1);
		assert_int_equal(r.length, 65 + (pl + 7) / 8 * 8 + 8);
		assert_int_equal(stamp_secret_open(&r, tpub, &crypto, out,
		    sizeof(out), &n, &err), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(out, plain, pl);
		assert_int_equal(stamp_secret_open(&r, wrong_pub, &wrong, out,
		    sizeof(out), &n, &err), -1);
		assert_int_equal(err.code, STAMP_E_DECRYPT);
		/* The type is bound: the same value read as another type fails. */
		r.type = STAMP_T_POP_SECRET;
		assert_int_equal(stamp_secret_open(&r, tpub, &crypto, out,
		    sizeof(out), &n, &err), -1);
		assert_int_equal(err.code, STAMP_E_DECRYPT);
		r.type = STAMP_T_PROVISIONING_TOKEN;
		if (pl > 8) {
			assert_int_equal(stamp_secret_open(&r, tpub, &crypto, out,
			    pl - 8, &n, &err), -1);
			assert_int_equal(err.code, STAMP_E_SPACE);
		}
	}
	EVP_PKEY_free(wrong_key);

	/* Registry limits apply to the plaintext: a 15-byte proof of
	 * possession (16..64) and a claim id with a control character. */
	stamp_build_begin(&b, buf, CAP, 1, 0, 16);
	stamp_build_add(&b, STAMP_T_HARDWARE_ID, 1, "HW-1", 4);
	stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, 1, "SN-1", 4);
	stamp_build_add_sealed(&b, STAMP_T_CLAIM_ID, 1, (const uint8_t *)"C\n1",
	    3, tpub, &crypto);
	stamp_build_add_sealed(&b, STAMP_T_POP_SECRET, 1, plain, 15, tpub,
	    &crypto);
	len = sign(&b);
	assert_int_equal(stamp_read(&v, buf, len, &crypto, NULL, &err), 0);
	stamp_records(&v, &c);
	while (stamp_next(&c, &r)) {
		if (!(r.flags & STAMP_RF_SECRET))
			continue;
		assert_int_equal(stamp_secret_open(&r, tpub, &crypto, out,
		    sizeof(out), &n, &err), -1);
		assert_int_equal(err.code, STAMP_E_VALUE);
		assert_int_equal(err.offset, r.offset + 8);
	}
}

/* The KEK context, computed by hand. */
static void
secret_context_known(void **state)
{
	uint8_t eph[65], in[132], hash[32], out[32];

	(void)state;
	memset(eph, 0x33, sizeof(eph));
	eph[0] = 4;
	memcpy(in, eph, 65);
	memcpy(in + 65, tpub, 65);
	in[130] = 0x0e;
	in[131] = 0x00;
	SHA256(in, sizeof(in), hash);
	assert_int_equal(stamp_secret_context(&crypto, eph, tpub, 0x000e, out), 0);
	assert_memory_equal(out, "STAMP-SECRET-KEK", 16);
	assert_memory_equal(out + 16, hash, 16);
}

static void
builder_errors(void **state)
{
	static uint8_t buf[CAP];
	struct stamp_builder b;
	uint8_t digest[32], sig[64] = { 0 };
	size_t len;

	(void)state;
	assert_int_equal(stamp_build_begin(&b, buf, CAP, 1, 0, 24), -1);
	assert_int_equal(b.err.code, STAMP_E_ARGUMENT);
	assert_int_equal(stamp_build_begin(&b, buf, 10, 1, 0, 16), -1);
	assert_int_equal(b.err.code, STAMP_E_SPACE);
	assert_int_equal(stamp_build_begin(&b, buf, 64, 1, 0, 16), 0);
	assert_int_equal(stamp_build_add(&b, 1, 0, buf, 40), -1);
	assert_int_equal(b.err.code, STAMP_E_SPACE);
	assert_int_equal(b.err.offset, 24);
	/* Errors stick. */
	assert_int_equal(stamp_build_add(&b, 1, 0, "x", 1), -1);
	assert_int_equal(stamp_build_begin(&b, buf, 150, 1, 0, 16), 0);
	stamp_build_add(&b, 1, 0, "x", 1);
	assert_int_equal(stamp_build_digest(&b, &crypto, digest), -1);
	assert_int_equal(b.err.code, STAMP_E_SPACE);
	assert_int_equal(stamp_build_begin(&b, buf, CAP, 1, 0, 16), 0);
	assert_int_equal(stamp_build_sign(&b, key_id, sig, &len), -1);
	assert_int_equal(b.err.code, STAMP_E_ARGUMENT);
	assert_int_equal(stamp_build_begin(&b, buf, CAP, 1, 0, 16), 0);
	assert_int_equal(stamp_build_digest(&b, &crypto, digest), 0);
	assert_int_equal(stamp_build_add(&b, 2, 0, "x", 1), -1);
	assert_int_equal(b.err.code, STAMP_E_ARGUMENT);
	assert_int_equal(stamp_build_begin(&b, buf, CAP, 1, 0, 16), 0);
	assert_int_equal(stamp_build_add_sealed(&b, 3, 0, buf, 0, tpub, &crypto),
	    -1);
	assert_int_equal(b.err.code, STAMP_E_ARGUMENT);
	assert_int_equal(stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC), -1);
	assert_int_equal(stamp_build_begin(&b, buf, CAP, 1, 0, 16), 0);
	assert_int_equal(stamp_msg_finish(&b, &len), -1);
}

/* A copy at an odd address reads the same (UBSan checks alignment). */
static void
odd_address(void **state)
{
	static uint8_t buf[CAP], odd[CAP + 1];
	struct stamp_view v;
	struct stamp_error err;
	size_t len;

	(void)state;
	len = load("valid-full.bin", buf, sizeof(buf));
	memcpy(odd + 1, buf, len);
	assert_int_equal(stamp_read(&v, odd + 1, len, &crypto, NULL, &err), 0);
	assert_int_equal(v.generation, 7);
}

static void
messages(void **state)
{
	static uint8_t buf[CAP], copy[CAP];
	struct stamp_builder b;
	struct stamp_error err;
	struct stamp_msg m;
	struct stamp_cursor c;
	struct stamp_record r, cert;
	uint8_t digest[32];
	size_t len, n;

	(void)state;
	len = load("msg-info.bin", buf, sizeof(buf));
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, len, &err), 0);
	assert_int_equal(m.signed_len, len - 72);
	stamp_msg_records(&m, &c);
	assert_int_equal(stamp_find(&c, STAMP_I_ATTESTATION_SIG, &r), 1);
	stamp_msg_records(&m, &c);
	assert_int_equal(stamp_find(&c, STAMP_I_ATTESTATION_CERT, &cert), 1);
	SHA256(buf, m.signed_len, digest);
	{
		struct stamp_ossl o;
		struct stamp_crypto cv;

		assert_int_equal(stamp_ossl_init(&o, signer, NULL, &cv), 0);
		assert_int_equal(cv.verify(cv.ctx, o.trust_key_id, digest,
		    r.value), 0);
	}
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_KEYGEN, buf, len, &err),
	    -1);
	assert_int_equal(err.code, STAMP_E_MAGIC);
	memcpy(copy, buf, len);
	copy[len] = 0;
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, copy, len + 1,
	    &err), -1);
	assert_int_equal(err.code, STAMP_E_TRAILING);
	assert_int_equal(err.offset, len);
	for (n = 0; n < len; n++)
		assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, n, &err),
		    -1);

	len = load("msg-keygen.bin", buf, sizeof(buf));
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_KEYGEN, buf, len, &err), 0);
	len = load("msg-commit.bin", buf, sizeof(buf));
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_COMMIT, buf, len, &err), 0);

	/* Missing a required record, a SECRET flag, a record after the
	 * attestation signature. */
	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_COMMIT);
	stamp_build_add(&b, STAMP_C_HARDWARE_ID, 1, "HW-1", 4);
	stamp_build_add(&b, STAMP_C_DIGEST, 1, digest, 32);
	assert_int_equal(stamp_msg_finish(&b, &len), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_COMMIT, buf, len, &err),
	    -1);
	assert_int_equal(err.code, STAMP_E_MISSING);
	stamp_build_add(&b, STAMP_C_GENERATION, STAMP_RF_SECRET, "\1\0\0\0", 4);
	assert_int_equal(stamp_msg_finish(&b, &len), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_COMMIT, buf, len, &err),
	    -1);
	assert_int_equal(err.code, STAMP_E_SECRET);
	len = load("msg-info.bin", buf, sizeof(buf));
	stamp_msg_begin(&b, copy, CAP, STAMP_MAGIC_INFO);
	stamp_msg_records(&m, &c);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, len, &err), 0);
	stamp_msg_records(&m, &c);
	while (stamp_next(&c, &r))
		stamp_build_add(&b, r.type, r.flags, r.value, r.length);
	stamp_build_add(&b, STAMP_I_LOCK_STATE + 0x40, 0, "x", 1);
	assert_int_equal(stamp_msg_finish(&b, &n), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, copy, n, &err), -1);
	assert_int_equal(err.code, STAMP_E_ORDER);
}

/* The attestation request (SATQ) and an info answering it: nonce and key
 * hash inside the signed bytes, refused unsigned or after the signature. */
static void
attestation_messages(void **state)
{
	static uint8_t info[CAP], buf[CAP];
	static const uint8_t nonce[32] = { 1, 2, 3 }, bind = STAMP_BIND_KEYGEN;
	struct stamp_builder b;
	struct stamp_error err;
	struct stamp_msg m;
	struct stamp_cursor c;
	struct stamp_record r;
	uint8_t digest[32], sig[64], keyhash[32] = { 9 };
	size_t len, n;

	(void)state;
	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_ATTEST);
	stamp_build_add(&b, STAMP_A_HARDWARE_ID, 1, "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_A_NONCE, 1, nonce, sizeof(nonce));
	stamp_build_add(&b, STAMP_A_BIND_KEY, 1, &bind, 1);
	assert_int_equal(stamp_msg_finish(&b, &len), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_ATTEST, buf, len, &err), 0);
	assert_string_equal(stamp_type_name(STAMP_MAGIC_ATTEST, 3), "bind_key");
	buf[len - 4] = 2;  /* BIND_KEY 2: not defined */
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_ATTEST, buf, len, &err),
	    -1);
	assert_int_equal(err.code, STAMP_E_VALUE);
	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_ATTEST);
	stamp_build_add(&b, STAMP_A_HARDWARE_ID, 1, "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_A_NONCE, 1, nonce, 15);
	assert_int_equal(stamp_msg_finish(&b, &len), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_ATTEST, buf, len, &err),
	    -1);
	assert_int_equal(err.code, STAMP_E_VALUE);

	/* The records of msg-info.bin up to its signature, then nonce, key
	 * hash, signature. */
	len = load("msg-info.bin", info, sizeof(info));
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, info, len, &err), 0);
	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_INFO);
	stamp_msg_records(&m, &c);
	while (stamp_next(&c, &r))
		if (r.type != STAMP_I_ATTESTATION_SIG)
			stamp_build_add(&b, r.type, r.flags, r.value, r.length);
	stamp_build_add(&b, STAMP_I_ATTESTATION_NONCE, 0, nonce, sizeof(nonce));
	stamp_build_add(&b, STAMP_I_ATTESTED_KEY, 0, keyhash, 32);
	assert_int_equal(stamp_msg_finish(&b, &n), 0);
	/* unsigned: refused */
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, n, &err), -1);
	assert_int_equal(err.code, STAMP_E_MISSING);
	assert_int_equal(err.offset, n);
	assert_int_equal(stamp_msg_attest_digest(&b, &crypto, digest), 0);
	assert_int_equal(stamp_ossl_sign(signer, digest, sig), 0);
	stamp_build_add(&b, STAMP_I_ATTESTATION_SIG, 0, sig, 64);
	assert_int_equal(stamp_msg_finish(&b, &n), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, n, &err), 0);
	assert_int_equal(m.signed_len, n - 72);
	SHA256(buf, m.signed_len, keyhash);
	assert_memory_equal(keyhash, digest, 32);
	stamp_msg_records(&m, &c);
	assert_int_equal(stamp_find(&c, STAMP_I_ATTESTATION_NONCE, &r), 1);
	assert_memory_equal(r.value, nonce, sizeof(nonce));
	assert_true(r.offset < m.signed_len);
	assert_string_equal(stamp_type_name(STAMP_MAGIC_INFO, r.type),
	    "attestation_nonce");
	/* a nonce after the signature: ORDER at the nonce */
	stamp_build_add(&b, STAMP_I_ATTESTATION_NONCE, 0, nonce, sizeof(nonce));
	assert_int_equal(stamp_msg_finish(&b, &len), 0);
	assert_int_equal(stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, len, &err), -1);
	assert_int_equal(err.code, STAMP_E_ORDER);
	assert_int_equal(err.offset, n);
}

/* The A/B commit marker: matches its image only, and no torn write of it
 * (a prefix programmed, the rest still erased) matches. */
static void
commit_marker(void **state)
{
	static uint8_t buf[CAP];
	uint8_t unit[32], marker[STAMP_MARKER_LEN];
	struct stamp_view v, w;
	struct stamp_error err;
	size_t len;

	(void)state;
	len = minimal(buf, 0, 32);
	assert_int_equal(stamp_read(&v, buf, len, &crypto, NULL, &err), 0);
	stamp_marker(&v, marker);
	assert_memory_equal(marker, "SCOM\5\0\0\0", 8);
	assert_memory_equal(marker + 8, v.digest, 8);
	memset(unit, 0xff, sizeof(unit));
	assert_int_equal(stamp_marker_matches(&v, unit, 32), 0);
	for (size_t n = 0; n < STAMP_MARKER_LEN; n++) {
		memcpy(unit, marker, n);
		assert_int_equal(stamp_marker_matches(&v, unit, 32), 0);
	}
	memcpy(unit, marker, STAMP_MARKER_LEN);
	assert_int_equal(stamp_marker_matches(&v, unit, 32), 1);
	assert_int_equal(stamp_marker_matches(&v, unit, 16), 0);
	unit[31] = 0;
	assert_int_equal(stamp_marker_matches(&v, unit, 32), 0);
	unit[31] = 0xff;
	/* The next generation's image does not match this marker. */
	{
		struct stamp_builder b;

		stamp_build_begin(&b, buf, CAP, 6, 0, 32);
		stamp_build_add(&b, STAMP_T_HARDWARE_ID, 1, "HW-1", 4);
		stamp_build_add(&b, STAMP_T_SERIAL_NUMBER, 1, "SN-1", 4);
		len = sign(&b);
	}
	assert_int_equal(stamp_read(&w, buf, len, &crypto, NULL, &err), 0);
	assert_int_equal(stamp_marker_matches(&w, unit, 32), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(vectors_as_expected),
		cmocka_unit_test(prefixes_rejected),
		cmocka_unit_test(byte_flips_rejected),
		cmocka_unit_test(binding_and_development),
		cmocka_unit_test(no_verify_callback),
		cmocka_unit_test(secrets),
		cmocka_unit_test(secret_context_known),
		cmocka_unit_test(builder_errors),
		cmocka_unit_test(odd_address),
		cmocka_unit_test(messages),
		cmocka_unit_test(attestation_messages),
		cmocka_unit_test(commit_marker),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
