/*
 * gen_vectors.c: rebuild the test vectors of stamp-format/vectors/ with the
 * builder and OpenSSL: `gen_vectors DIR` reads the TEST-ONLY keys in DIR
 * and writes every valid-*.bin and invalid-*.bin there, plus expected.txt
 * (file, reason, offset), which the tests check every implementation
 * against. Signatures and sealed secrets are randomised, so a rebuild
 * changes the bytes; the committed vectors are what the tests check.
 *
 * Each invalid vector carries one defect and is otherwise well formed
 * (digest and signature recomputed after the defect where they can be),
 * and the generator asserts that the reader reports the intended reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "stamp-format/stamp.h"
#include "station/stamp_crypto.h"

#define CAP 16384

static const char *dir;
static EVP_PKEY *signer, *transport, *other;
static uint8_t tpub[65];
static struct stamp_ossl ossl;
static struct stamp_crypto crypto;
static FILE *expected;

static void
put32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
	p[2] = (uint8_t)(x >> 16);
	p[3] = (uint8_t)(x >> 24);
}

static void
die(const char *what)
{
	fprintf(stderr, "gen_vectors: %s\n", what);
	exit(1);
}

static EVP_PKEY *
load(const char *name, int private)
{
	char path[4096], err[256];
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	k = private ? stamp_ossl_load_private(path, err, sizeof(err)) :
	    stamp_ossl_load_public(path, err, sizeof(err));
	if (k == NULL)
		die(err);
	return k;
}

/* Recompute digest and signature of an image whose integrity record is
 * at ${io}, after a deliberate change before it. */
static void
reseal(uint8_t *buf, size_t io, EVP_PKEY *key)
{
	uint8_t digest[32], key_id[32];

	crypto.sha256(NULL, buf, io, digest);
	memcpy(buf + io + 8, digest, 32);
	if (stamp_ossl_key_id(key, key_id) != 0 ||
	    stamp_ossl_sign(key, digest, buf + io + 40 + 12 + 32) != 0)
		die("sign");
	memcpy(buf + io + 40 + 12, key_id, 32);
}

static size_t
finish(struct stamp_builder *b, EVP_PKEY *key)
{
	uint8_t digest[32], key_id[32], sig[64];
	size_t len;

	if (stamp_build_digest(b, &crypto, digest) != 0 ||
	    stamp_ossl_key_id(key, key_id) != 0 ||
	    stamp_ossl_sign(key, digest, sig) != 0 ||
	    stamp_build_sign(b, key_id, sig, &len) != 0)
		die("finish");
	return len;
}

/* Write ${name}; check the reader says ${code}; note it in expected.txt. */
static void
emit(const char *name, const uint8_t *buf, size_t len, enum stamp_err code)
{
	struct stamp_expect exp = { NULL, 0, 1 };
	struct stamp_view v;
	struct stamp_error err;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		die(path);
	stamp_read(&v, buf, len, &crypto, &exp, &err);
	if (err.code != code) {
		fprintf(stderr, "gen_vectors: %s: reader says %s at %zu, "
		    "intended %s\n", name, stamp_strerror(err.code), err.offset,
		    stamp_strerror(code));
		exit(1);
	}
	fprintf(expected, "%s %d %zu %s\n", name, (int)code,
	    code == STAMP_OK ? (size_t)0 : err.offset, stamp_strerror(code));
}

static void
add_text(struct stamp_builder *b, uint16_t type, const char *text)
{
	stamp_build_add(b, type, STAMP_RF_CRITICAL, text, strlen(text));
}

static void
minimal(struct stamp_builder *b, uint8_t *buf, uint32_t flags)
{
	stamp_build_begin(b, buf, CAP, 1, flags, 16);
	add_text(b, STAMP_T_HARDWARE_ID, "HW-0001-TEST");
	add_text(b, STAMP_T_SERIAL_NUMBER, "SN-2026-000001");
}

/* DER of a certificate for ${key} signed by the signer key. */
static int
cert_der(EVP_PKEY *key, const char *cn, int ca, uint8_t **der)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	int len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 42);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_NAME_free(name);
	name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"TEST-ONLY stamp signer", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
	X509_set_pubkey(x, key);
	if (X509_sign(x, signer, EVP_sha256()) == 0)
		die("X509_sign");
	*der = NULL;
	len = i2d_X509(x, der);
	X509_free(x);
	if (len <= 0)
		die("i2d_X509");
	return len;
}

static void
seal(struct stamp_builder *b, uint16_t type, const void *p, size_t len)
{
	if (stamp_build_add_sealed(b, type, STAMP_RF_CRITICAL, p, len, tpub,
	    &crypto) != 0)
		die("seal");
}

static size_t
full(struct stamp_builder *b, uint8_t *buf)
{
	static const uint8_t pop[32] = "TEST-ONLY proof of possession!!";
	static const uint8_t vendor[6] = { 'A', 'C', 'M', 'E', 1, 2 };
	uint8_t time[8] = { 0x80, 0x4e, 0xfd, 0x6a, 0, 0, 0, 0 }, claim = 1;
	uint8_t *der = NULL, *p8 = NULL;
	EVP_PKEY *device = EVP_EC_gen("P-256");
	PKCS8_PRIV_KEY_INFO *pki;
	int n, p8len;

	stamp_build_begin(b, buf, CAP, 7, 0, 32);
	add_text(b, STAMP_T_HARDWARE_ID, "STM32-5A3F00112233");
	add_text(b, STAMP_T_SERIAL_NUMBER, "SN-2026-000042");
	seal(b, STAMP_T_CLAIM_ID, "CLM-7QK2-9XPA-44RM", 18);
	add_text(b, STAMP_T_PRODUCT_ID, "P-ACME-THERMO");
	add_text(b, STAMP_T_MANUFACTURER, "ACME Devices Ltd (TEST)");
	add_text(b, STAMP_T_MODEL, "Thermo 3");
	add_text(b, STAMP_T_HARDWARE_REVISION, "C");
	stamp_build_add(b, STAMP_T_MANUFACTURING_TIME, 0, time, 8);
	add_text(b, STAMP_T_STATION_ID, "ST-1");
	add_text(b, STAMP_T_ORDER_ID, "ORDER-2026-0007");
	n = cert_der(device, "SN-2026-000042", 0, &der);
	stamp_build_add(b, STAMP_T_DEVICE_CERT, 0, der, (size_t)n);
	OPENSSL_free(der);
	n = cert_der(signer, "TEST-ONLY stamp signer", 1, &der);
	stamp_build_add(b, STAMP_T_CA_CERT, 0, der, (size_t)n);
	OPENSSL_free(der);
	stamp_build_add(b, STAMP_T_KEY_REFERENCE, 0, "slot:1", 6);
	if ((pki = EVP_PKEY2PKCS8(device)) == NULL ||
	    (p8len = i2d_PKCS8_PRIV_KEY_INFO(pki, &p8)) <= 0)
		die("PKCS#8");
	PKCS8_PRIV_KEY_INFO_free(pki);
	seal(b, STAMP_T_WRAPPED_DEVICE_KEY, p8, (size_t)p8len);
	OPENSSL_clear_free(p8, (size_t)p8len);
	seal(b, STAMP_T_POP_SECRET, pop, sizeof(pop));
	der = NULL;
	n = i2d_PUBKEY(signer, &der);
	stamp_build_add(b, STAMP_T_APP_PUBLIC_KEY, 0, der, (size_t)n);
	OPENSSL_free(der);
	add_text(b, STAMP_T_BARCODE_PAYLOAD, "S:SN-2026-000042");
	seal(b, STAMP_T_PROVISIONING_TOKEN, "TEST-ONLY-provisioning-token", 28);
	stamp_build_add(b, STAMP_T_CLAIM_MODE, STAMP_RF_CRITICAL, &claim, 1);
	stamp_build_add(b, 0x8001, 0, vendor, sizeof(vendor));
	stamp_build_add(b, 0x0100, 0, "future", 6);
	EVP_PKEY_free(device);
	return finish(b, signer);
}

/* Write a message vector after checking it reads back. */
static void
emit_msg(const char *name, uint32_t magic, const uint8_t *buf, size_t len)
{
	struct stamp_error err;
	struct stamp_msg m;
	char path[4096];
	FILE *f;

	if (stamp_msg_read(&m, magic, buf, len, &err) != 0) {
		fprintf(stderr, "gen_vectors: %s: %s at %zu\n", name,
		    stamp_strerror(err.code), err.offset);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

/* The attestation exchange (SPEC.md 5.5): a request binding the keygen
 * key, and the info answering it (ATTEST capability, the chain, the nonce,
 * SHA-256 of the key's point: here the transport key's, standing in for
 * a keygen key; signed by the signer key as the attestation key). */
static void
attestation(uint8_t *buf, uint8_t cap[4], const uint8_t active[36],
    const uint8_t geometry[8])
{
	static const uint8_t nonce[32] = "TEST-ONLY attest nonce 01234567";
	uint8_t bind = STAMP_BIND_KEYGEN, hash[32], digest[32], sig[64];
	uint8_t *der = NULL;
	struct stamp_builder b;
	size_t len;
	int n;

	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_ATTEST);
	stamp_build_add(&b, STAMP_A_HARDWARE_ID, STAMP_RF_CRITICAL,
	    "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_A_NONCE, STAMP_RF_CRITICAL, nonce, 32);
	stamp_build_add(&b, STAMP_A_BIND_KEY, STAMP_RF_CRITICAL, &bind, 1);
	if (stamp_msg_finish(&b, &len) != 0)
		die("attest");
	emit_msg("msg-attest.bin", STAMP_MAGIC_ATTEST, buf, len);

	cap[0] |= STAMP_CAP_ATTEST;
	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_INFO);
	stamp_build_add(&b, STAMP_I_HARDWARE_ID, STAMP_RF_CRITICAL,
	    "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_I_MODEL, 0, "Thermo 3", 8);
	stamp_build_add(&b, STAMP_I_FIRMWARE_VERSION, 0, "1.4.2-test", 10);
	stamp_build_add(&b, STAMP_I_CAPABILITIES, STAMP_RF_CRITICAL, cap, 4);
	stamp_build_add(&b, STAMP_I_TRANSPORT_KEY, STAMP_RF_CRITICAL, tpub, 65);
	stamp_build_add(&b, STAMP_I_STAMP_ACTIVE, 0, active, 36);
	stamp_build_add(&b, STAMP_I_STAMP_GEOMETRY, 0, geometry, 8);
	n = cert_der(signer, "TEST-ONLY attestation", 1, &der);
	stamp_build_add(&b, STAMP_I_ATTESTATION_CERT, 0, der, (size_t)n);
	OPENSSL_free(der);
	stamp_build_add(&b, STAMP_I_ATTESTATION_NONCE, 0, nonce, 32);
	SHA256(tpub, 65, hash);
	stamp_build_add(&b, STAMP_I_ATTESTED_KEY, 0, hash, 32);
	if (stamp_msg_attest_digest(&b, &crypto, digest) != 0 ||
	    stamp_ossl_sign(signer, digest, sig) != 0)
		die("attest");
	stamp_build_add(&b, STAMP_I_ATTESTATION_SIG, 0, sig, 64);
	if (stamp_msg_finish(&b, &len) != 0)
		die("attested info");
	emit_msg("msg-info-attested.bin", STAMP_MAGIC_INFO, buf, len);
}

/* The USB profile messages of one device (SPEC.md, "USB profile"). */
static void
messages(uint8_t *buf)
{
	static const uint8_t nonce[32] = "TEST-ONLY keygen nonce 0123456";
	uint8_t cap[4] = { STAMP_CAP_KEYGEN | STAMP_CAP_SECRETS |
	    STAMP_CAP_LOCK | STAMP_CAP_AB_SLOTS, 0, 0, 0 };
	uint8_t active[36] = { 1, 0, 0, 0 }, geometry[8] = { 0, 0x20, 0, 0,
	    16, 0, 0, 0 }, lock = 0, type = STAMP_KEY_P256, digest[32],
	    sig[64], gen[4] = { 2, 0, 0, 0 }, *der = NULL;
	struct stamp_builder b;
	size_t len;
	int n;

	memset(active + 4, 0x11, 32);
	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_INFO);
	stamp_build_add(&b, STAMP_I_HARDWARE_ID, STAMP_RF_CRITICAL,
	    "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_I_MODEL, 0, "Thermo 3", 8);
	stamp_build_add(&b, STAMP_I_FIRMWARE_VERSION, 0, "1.4.2-test", 10);
	stamp_build_add(&b, STAMP_I_CAPABILITIES, STAMP_RF_CRITICAL, cap, 4);
	stamp_build_add(&b, STAMP_I_TRANSPORT_KEY, STAMP_RF_CRITICAL, tpub, 65);
	stamp_build_add(&b, STAMP_I_STAMP_ACTIVE, 0, active, 36);
	stamp_build_add(&b, STAMP_I_STAMP_GEOMETRY, 0, geometry, 8);
	stamp_build_add(&b, STAMP_I_LOCK_STATE, 0, &lock, 1);
	n = cert_der(signer, "TEST-ONLY attestation", 1, &der);
	stamp_build_add(&b, STAMP_I_ATTESTATION_CERT, 0, der, (size_t)n);
	OPENSSL_free(der);
	if (stamp_msg_attest_digest(&b, &crypto, digest) != 0 ||
	    stamp_ossl_sign(signer, digest, sig) != 0)
		die("attest");
	stamp_build_add(&b, STAMP_I_ATTESTATION_SIG, 0, sig, 64);
	if (stamp_msg_finish(&b, &len) != 0)
		die("info");
	emit_msg("msg-info.bin", STAMP_MAGIC_INFO, buf, len);

	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_KEYGEN);
	stamp_build_add(&b, STAMP_K_HARDWARE_ID, STAMP_RF_CRITICAL,
	    "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_K_NONCE, STAMP_RF_CRITICAL, nonce, 32);
	stamp_build_add(&b, STAMP_K_KEY_TYPE, STAMP_RF_CRITICAL, &type, 1);
	stamp_build_add(&b, STAMP_K_SUBJECT_CN, 0, "SN-2026-000001", 14);
	stamp_build_add(&b, STAMP_K_SUBJECT_ORG, 0, "ACME Devices Ltd", 16);
	if (stamp_msg_finish(&b, &len) != 0)
		die("keygen");
	emit_msg("msg-keygen.bin", STAMP_MAGIC_KEYGEN, buf, len);

	stamp_msg_begin(&b, buf, CAP, STAMP_MAGIC_COMMIT);
	stamp_build_add(&b, STAMP_C_HARDWARE_ID, STAMP_RF_CRITICAL,
	    "HW-0001-TEST", 12);
	stamp_build_add(&b, STAMP_C_DIGEST, STAMP_RF_CRITICAL, active + 4, 32);
	stamp_build_add(&b, STAMP_C_GENERATION, STAMP_RF_CRITICAL, gen, 4);
	if (stamp_msg_finish(&b, &len) != 0)
		die("commit");
	emit_msg("msg-commit.bin", STAMP_MAGIC_COMMIT, buf, len);
	attestation(buf, cap, active, geometry);
}

int
main(int argc, char *argv[])
{
	static uint8_t buf[CAP], cut[CAP];
	struct stamp_builder b;
	size_t len, io;
	char path[4096];

	if (argc != 2)
		die("usage: gen_vectors DIR");
	dir = argv[1];
	signer = load("signer-key.pem", 1);
	transport = load("device-transport-key.pem", 1);
	other = EVP_EC_gen("P-256");
	if (stamp_ossl_point(transport, tpub) != 0 ||
	    stamp_ossl_init(&ossl, signer, transport, &crypto) != 0)
		die("keys");
	snprintf(path, sizeof(path), "%s/expected.txt", dir);
	if ((expected = fopen(path, "w")) == NULL)
		die(path);
	fprintf(expected, "# file code offset reason (written by "
	    "tests/stamp-format/gen_vectors)\n");

	minimal(&b, buf, 0);
	len = finish(&b, signer);
	emit("valid-minimal.bin", buf, len, STAMP_OK);
	memset(buf + len, 0xff, 1024 - len);
	emit("valid-partition.bin", buf, 1024, STAMP_OK);

	len = full(&b, buf);
	emit("valid-full.bin", buf, len, STAMP_OK);
	memcpy(cut, buf, len);
	emit("invalid-truncated.bin", cut, len / 2, STAMP_E_TRUNCATED);
	cut[len] = 0x00;
	cut[len + 1] = 0x2a;
	emit("invalid-trailing.bin", cut, len + 2, STAMP_E_TRAILING);
	memcpy(cut, buf, len);
	cut[b.integrity_off + 40 + 8 + 4 + 32 + 63] ^= 0x01;
	emit("invalid-signature.bin", cut, len, STAMP_E_SIGNATURE);
	memcpy(cut, buf, len);
	reseal(cut, b.integrity_off, other);
	emit("invalid-wrong-signer.bin", cut, len, STAMP_E_SIGNATURE);
	memcpy(cut, buf, len);
	cut[24 + 8 + 18 + 2 + 8 + 3] ^= 0x01;  /* a serial number digit */
	emit("invalid-digest.bin", cut, len, STAMP_E_DIGEST);

	minimal(&b, buf, STAMP_HF_DEVELOPMENT);
	stamp_build_add(&b, STAMP_T_POP_SECRET, STAMP_RF_CRITICAL |
	    STAMP_RF_SECRET | STAMP_RF_PLAINTEXT, "TEST-ONLY-plaintext-pop", 23);
	len = finish(&b, signer);
	emit("valid-development.bin", buf, len, STAMP_OK);

	emit("invalid-empty.bin", buf, 0, STAMP_E_TRUNCATED);
	memset(cut, 0xff, 512);
	emit("invalid-erased.bin", cut, 512, STAMP_E_MAGIC);

	minimal(&b, buf, 0);
	len = finish(&b, signer);
	io = b.integrity_off;
	memcpy(cut, buf, len);
	cut[0] = 'X';
	emit("invalid-magic.bin", cut, len, STAMP_E_MAGIC);
	memcpy(cut, buf, len);
	cut[4] = 2;
	reseal(cut, io, signer);
	emit("invalid-version.bin", cut, len, STAMP_E_VERSION);
	memcpy(cut, buf, len);
	cut[6] = 26;
	reseal(cut, io, signer);
	emit("invalid-misaligned.bin", cut, len, STAMP_E_HEADER);
	memcpy(cut, buf, len);
	cut[20] = 24;
	reseal(cut, io, signer);
	emit("invalid-write-unit.bin", cut, len, STAMP_E_HEADER);
	memcpy(cut, buf, len);
	put32(cut + 8, (uint32_t)len + 4);
	reseal(cut, io, signer);
	emit("invalid-total-length.bin", cut, len + 4, STAMP_E_LENGTH);
	memcpy(cut, buf, len);
	cut[17] = 0x80;
	reseal(cut, io, signer);
	emit("invalid-header-flags.bin", cut, len, STAMP_E_FLAGS);
	memcpy(cut, buf, len);
	cut[24 + 4] = 0xf0; cut[24 + 5] = 0xff; cut[24 + 6] = 0xff;
	cut[24 + 7] = 0xff;
	reseal(cut, io, signer);
	emit("invalid-length-overflow.bin", cut, len, STAMP_E_BOUNDS);
	memcpy(cut, buf, len);
	cut[24 + 8 + 12 + 8 + 14] = 0x20;  /* padding after the serial */
	reseal(cut, io, signer);
	emit("invalid-padding.bin", cut, len, STAMP_E_PADDING);
	memcpy(cut, buf, len);
	cut[24 + 8 + 12 + 8 + 3] = 0x07;  /* a control character */
	reseal(cut, io, signer);
	emit("invalid-text.bin", cut, len, STAMP_E_VALUE);
	memcpy(cut, buf, len);
	memcpy(cut + len, buf + io + 40, 108);  /* a record after the signature */
	memset(cut + len + 108, 0xff, 12);
	put32(cut + 8, (uint32_t)len + 128);
	reseal(cut, io, signer);
	emit("invalid-after-signature.bin", cut, len + 128, STAMP_E_ORDER);

	/* Record past the end: the last record before the integrity record
	 * claims 200 bytes, running past the end of the image. */
	stamp_build_begin(&b, buf, CAP, 1, 0, 16);
	add_text(&b, STAMP_T_HARDWARE_ID, "HW-0001-TEST");
	add_text(&b, STAMP_T_SERIAL_NUMBER, "SN-2026-000001");
	stamp_build_add(&b, 0x0200, 0, "ABCD", 4);
	len = finish(&b, signer);
	buf[b.integrity_off - 12 + 4] = 200;
	reseal(buf, b.integrity_off, signer);
	emit("invalid-record-past-end.bin", buf, len, STAMP_E_BOUNDS);

	minimal(&b, buf, 0);
	stamp_build_add(&b, 0x0200, STAMP_RF_CRITICAL, "future", 6);
	emit("invalid-unknown-critical.bin", buf, finish(&b, signer),
	    STAMP_E_CRITICAL);
	minimal(&b, buf, 0);
	add_text(&b, STAMP_T_SERIAL_NUMBER, "SN-2026-000002");
	emit("invalid-duplicate.bin", buf, finish(&b, signer), STAMP_E_DUPLICATE);
	stamp_build_begin(&b, buf, CAP, 1, 0, 16);
	add_text(&b, STAMP_T_HARDWARE_ID, "HW-0001-TEST");
	emit("invalid-missing-serial.bin", buf, finish(&b, signer),
	    STAMP_E_MISSING);
	minimal(&b, buf, 0);
	stamp_build_add(&b, STAMP_T_POP_SECRET, STAMP_RF_CRITICAL,
	    "TEST-ONLY-unsealed-pop", 22);
	emit("invalid-unsealed-secret.bin", buf, finish(&b, signer),
	    STAMP_E_SECRET);
	minimal(&b, buf, 0);
	stamp_build_add(&b, STAMP_T_POP_SECRET, STAMP_RF_CRITICAL |
	    STAMP_RF_SECRET | STAMP_RF_PLAINTEXT, "TEST-ONLY-plaintext-pop", 23);
	emit("invalid-plaintext-secret.bin", buf, finish(&b, signer),
	    STAMP_E_SECRET);
	minimal(&b, buf, 0);
	memset(cut, 0, 84);
	cut[0] = 4;
	stamp_build_add(&b, STAMP_T_POP_SECRET, STAMP_RF_CRITICAL |
	    STAMP_RF_SECRET, cut, 84);
	emit("invalid-sealed-form.bin", buf, finish(&b, signer), STAMP_E_SECRET);
	minimal(&b, buf, 0);
	cut[0] = 3;
	stamp_build_add(&b, STAMP_T_CLAIM_MODE, STAMP_RF_CRITICAL, cut, 1);
	emit("invalid-claim-mode.bin", buf, finish(&b, signer), STAMP_E_VALUE);
	minimal(&b, buf, 0);
	len = finish(&b, signer);
	buf[b.integrity_off] = 0xff;  /* integrity record becomes a signature */
	emit("invalid-no-integrity.bin", buf, len, STAMP_E_ORDER);

	messages(buf);
	fclose(expected);
	EVP_PKEY_free(signer);
	EVP_PKEY_free(transport);
	EVP_PKEY_free(other);
	return 0;
}
