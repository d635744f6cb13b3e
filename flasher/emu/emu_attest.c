/*
 * emu_attest.c: chip-vendor attestation of an emulated device
 * (stamp-format/SPEC.md 5.5), TEST-ONLY keys throughout.
 *
 * A real chip leaves its factory with an attestation key pair that never
 * leaves it and a certificate from the chip vendor. The emulator plays
 * both the vendor and the chip:
 *
 *   --attest-ca DIR   DIR/vendor-ca.pem and DIR/vendor-ca.key (P-256, made
 *                     once with O_EXCL, mode 0600) are the vendor's root;
 *                     at each run every device gets a fresh attestation
 *                     key (in memory only) and a certificate from that
 *                     root, written to attest.pem in the device's state
 *                     folder (STATE/dev-K/) for tests to look at.
 *   --attest-chain PEM --attest-key PEM
 *                     a given chain (leaf first) and leaf key, the same
 *                     for every device.
 *
 * With an attestation key the device sets capability ATTEST and carries
 * its chain (ATTESTATION_CERT) in every info. A DNLOAD of an attestation
 * request to alt `info` makes the next UPLOAD of `info` answer it: the
 * nonce, with BIND_KEY the SHA-256 of the last keygen's public point, and
 * the signature by the attestation key over all of it.
 *
 * Faults (--fault [K:]attest-KIND@1): bad-sig (a flipped signature bit),
 * wrong-nonce (a valid signature over another nonce: a replay),
 * unknown-root (the certificate comes from a look-alike root of the same
 * name), expired (the certificate's notAfter is yesterday), none (no
 * attestation at all), other-key (the key hash of another key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "flasher/emu/emu.h"
#include "stamp-format/stamp.h"

#define VENDOR_O "stampdev-emu TEST-ONLY chip vendor"
#define DAY 86400L

bool
emu_attest_capable(const struct emu_device *d)
{
	return d->attest_key != NULL && d->attest_fault != EMU_ATTEST_NONE;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A certificate for ${key} named ${cn}, signed by ${ca_key} as ${ca}
 * (NULL: self-signed root), valid from ${from} to ${to} seconds from now. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, EVP_PKEY *ca_key, X509 *ca,
    long from, long to)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t rnd[8];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (x == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)VENDOR_O, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), from) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), to) ||
	    !X509_set_pubkey(x, key))
		goto out;
	if (add_ext(x, ca ? ca : x, NID_basic_constraints, ca ?
	    "critical,CA:FALSE" : "critical,CA:TRUE") != 0 ||
	    add_ext(x, ca ? ca : x, NID_key_usage, ca ?
	    "critical,digitalSignature" : "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(x, ca ? ca : x, NID_subject_key_identifier, "hash") != 0)
		goto out;
	if (ca && add_ext(x, ca, NID_authority_key_identifier, "keyid") != 0)
		goto out;
	ok = X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;
	int ok;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, cert);
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* The vendor root in ${dir}: loaded, or made once. */
static int
vendor_root(const char *dir, EVP_PKEY **key, X509 **cert)
{
	char kp[PATH_MAX], cp[PATH_MAX];
	FILE *f;

	snprintf(kp, sizeof(kp), "%s/vendor-ca.key", dir);
	snprintf(cp, sizeof(cp), "%s/vendor-ca.pem", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	if (access(kp, F_OK) != 0) {
		if ((*key = EVP_EC_gen("P-256")) == NULL ||
		    (*cert = make_cert(*key, "TEST-ONLY attestation root",
		    NULL, NULL, -DAY, 30 * 365 * DAY)) == NULL ||
		    write_pem(kp, *key, NULL) != 0 || write_pem(cp, NULL, *cert))
			return -1;
		return 0;
	}
	if ((f = fopen(kp, "r")) == NULL)
		return -1;
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(cp, "r")) == NULL)
		return -1;
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return *key && *cert ? 0 : -1;
}

static int
add_cert(struct emu_device *d, X509 *x)
{
	uint8_t *der = NULL;
	int len;

	if (d->attest_ncerts == EMU_ATTEST_CHAIN_MAX ||
	    (len = i2d_X509(x, &der)) <= 0)
		return -1;
	d->attest_cert[d->attest_ncerts] = der;
	d->attest_cert_len[d->attest_ncerts++] = (size_t)len;
	return 0;
}

/* A fresh attestation key and certificate for ${d} from ${ca} (or from a
 * look-alike root, or expired, as its fault says). */
static int
device_from_root(struct emu_device *d, EVP_PKEY *ca_key, X509 *ca)
{
	EVP_PKEY *key = NULL, *rogue_key = NULL;
	X509 *cert = NULL, *rogue = NULL;
	char cn[EMU_SERIAL_MAX + 32], path[PATH_MAX + 16];
	int ret = -1;

	if (d->attest_fault == EMU_ATTEST_UNKNOWN_ROOT) {
		if ((rogue_key = EVP_EC_gen("P-256")) == NULL ||
		    (rogue = make_cert(rogue_key, "TEST-ONLY attestation root",
		    NULL, NULL, -DAY, 30 * 365 * DAY)) == NULL)
			goto out;
		ca_key = rogue_key;
		ca = rogue;
	}
	snprintf(cn, sizeof(cn), "%s attestation", d->serial);
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (cert = d->attest_fault == EMU_ATTEST_EXPIRED ?
	    make_cert(key, cn, ca_key, ca, -2 * DAY, -DAY) :
	    make_cert(key, cn, ca_key, ca, -DAY, 20 * 365 * DAY)) == NULL ||
	    add_cert(d, cert) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/attest.pem", d->dir);
	unlink(path);
	if (write_pem(path, NULL, cert) != 0)
		goto out;
	d->attest_key = key;
	key = NULL;
	ret = 0;
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(rogue_key);
	X509_free(cert);
	X509_free(rogue);
	return ret;
}

/* The given chain (leaf first) and key, for device ${d}. */
static int
device_from_files(struct emu_device *d, const char *chain, const char *keyfile)
{
	FILE *f;
	X509 *x;

	if ((f = fopen(keyfile, "r")) == NULL)
		return -1;
	d->attest_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (d->attest_key == NULL || (f = fopen(chain, "r")) == NULL)
		return -1;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		int rc = add_cert(d, x);
		X509_free(x);
		if (rc != 0)
			break;
	}
	fclose(f);
	ERR_clear_error();
	return d->attest_ncerts > 0 ? 0 : -1;
}

int
emu_attest_setup(struct emu_device *devs, int n, const char *ca_dir,
    const char *chain, const char *key)
{
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	int ret = -1;

	if (ca_dir == NULL && chain == NULL)
		return 0;
	if (ca_dir && vendor_root(ca_dir, &ca_key, &ca) != 0) {
		fprintf(stderr, "stampdev-emu: --attest-ca %s: cannot load or make "
		    "vendor-ca.pem and vendor-ca.key there\n", ca_dir);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (ca_dir ? device_from_root(&devs[i], ca_key, ca) != 0 :
		    device_from_files(&devs[i], chain, key) != 0) {
			fprintf(stderr, "stampdev-emu: %s: cannot set up the "
			    "attestation key and chain%s%s%s%s\n", devs[i].sysname,
			    chain ? " from " : "", chain ? chain : "",
			    chain ? " and " : "", chain ? key : "");
			goto out;
		}
	}
	ret = 0;
out:
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return ret;
}

void
emu_attest_free(struct emu_device *d)
{
	EVP_PKEY_free(d->attest_key);
	d->attest_key = NULL;
	for (size_t i = 0; i < d->attest_ncerts; i++)
		OPENSSL_free(d->attest_cert[i]);
	d->attest_ncerts = 0;
}

int
emu_attest_request(struct emu_device *d, const uint8_t *buf, size_t len)
{
	struct stamp_error err;
	struct stamp_cursor c;
	struct stamp_record hwid, nonce, bind;
	struct stamp_msg m;

	d->attest_pending = false;
	if (stamp_msg_read(&m, STAMP_MAGIC_ATTEST, buf, len, &err) != 0) {
		snprintf(d->status_text, sizeof(d->status_text), "attestation "
		    "request refused: %s at offset %zu", stamp_strerror(err.code),
		    err.offset);
		return DFU_ERR_FILE;
	}
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_A_HARDWARE_ID, &hwid);
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_A_NONCE, &nonce);
	stamp_msg_records(&m, &c);
	d->attest_bind = stamp_find(&c, STAMP_A_BIND_KEY, &bind) != 0;
	if (hwid.length != strlen(d->serial) ||
	    memcmp(hwid.value, d->serial, hwid.length) != 0) {
		snprintf(d->status_text, sizeof(d->status_text), "attestation "
		    "request is for another hardware id");
		return DFU_ERR_TARGET;
	}
	if (d->attest_bind && !d->has_device_key) {
		snprintf(d->status_text, sizeof(d->status_text), "no key to "
		    "attest: no keygen since the device started");
		return DFU_ERR_FILE;
	}
	memcpy(d->attest_nonce, nonce.value, nonce.length);
	d->attest_nonce_len = nonce.length;
	d->attest_pending = true;
	emu_log(d, "attestation requested%s", d->attest_bind ?
	    " (binding the keygen key)" : "");
	return DFU_OK;
}

/* ECDSA P-256 r||s over ${digest} by ${key}. */
static int
sign_digest(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[64])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	uint8_t der[80];
	const uint8_t *p = der;
	size_t len = sizeof(der);
	ECDSA_SIG *es = NULL;
	int ret = -1;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, der, &len, digest, 32) != 1 ||
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
		goto out;
	ret = 0;
out:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

int
emu_attest_info(struct emu_device *d, struct stamp_builder *b)
{
	struct stamp_crypto crypto;
	uint8_t nonce[64], keyhash[32], digest[32], sig[64];

	if (!emu_attest_capable(d))
		return 0;
	for (size_t i = 0; i < d->attest_ncerts; i++)
		stamp_build_add(b, STAMP_I_ATTESTATION_CERT, 0, d->attest_cert[i],
		    d->attest_cert_len[i]);
	if (!d->attest_pending)
		return 0;
	d->attest_pending = false;
	memcpy(nonce, d->attest_nonce, d->attest_nonce_len);
	if (d->attest_fault == EMU_ATTEST_WRONG_NONCE)
		nonce[0] ^= 0x01;
	stamp_build_add(b, STAMP_I_ATTESTATION_NONCE, 0, nonce,
	    d->attest_nonce_len);
	if (d->attest_bind) {
		SHA256(d->device_pub, sizeof(d->device_pub), keyhash);
		if (d->attest_fault == EMU_ATTEST_OTHER_KEY)
			keyhash[0] ^= 0x01;
		stamp_build_add(b, STAMP_I_ATTESTED_KEY, 0, keyhash, 32);
	}
	emu_crypto_init(d, &crypto);
	if (stamp_msg_attest_digest(b, &crypto, digest) != 0 ||
	    sign_digest(d->attest_key, digest, sig) != 0)
		return -1;
	if (d->attest_fault == EMU_ATTEST_BAD_SIG)
		sig[40] ^= 0x01;
	return stamp_build_add(b, STAMP_I_ATTESTATION_SIG, 0, sig, 64);
}
