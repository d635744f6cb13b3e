/*
 * device.c: the device certificate (IEEE 802.1AR IDevID profile), signed
 * by the sub-CA in the HSM.
 *
 *   serial          128 bits from the token's RNG, positive
 *   issuer          the sub-CA's subject
 *   subject         O = organization, CN = device serial,
 *                   serialNumber = device serial (never the claim ID: it
 *                   is a claim secret, and client certificates travel in
 *                   the clear in TLS 1.2)
 *   notBefore       now minus the configured skew
 *   notAfter        99991231235959Z (GeneralizedTime: "no well-defined
 *                   expiration", RFC 5280 4.1.2.5), or now + validity_days
 *   basicConstraints CA:FALSE, critical
 *   keyUsage        digitalSignature (+ keyAgreement for EC), critical
 *   extKeyUsage     clientAuth
 *   subject key id  SHA-1 of the subjectPublicKey bits (RFC 5280 method 1)
 *   authority key id the sub-CA's key id
 *   subjectAltName  optional otherName HardwareModuleName (RFC 4108):
 *                   SEQUENCE { hwType OID, hwSerialNum OCTET STRING }
 *
 * Speed: the certificate is written as DER directly, from pieces encoded
 * once per sub-CA (struct hsm_ca: issuer, O, the fixed extensions, the
 * signature algorithm) plus the few per-device fields; the device key's
 * SPKI is copied as it came (no X509_set_pubkey, whose OpenSSL 3 encoder
 * round trip costs more than the HSM signature). Building with the X509
 * API instead reached about 60-70% of the bare signing rate; this path is
 * what makes issuance cost little more than the signature.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "hsm/internal.h"

static int
serial_ok(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= HSM_SERIAL_MAX && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")
	    == len;
}

/*
 * A DER writer over a fixed buffer: put() appends, and a constructed
 * value is written by remembering where its content starts, then
 * wrap()ping it (its header is inserted in front, memmove). Lengths up to
 * 65535; any overflow sets bad.
 */
struct der {
	uint8_t *buf;
	size_t len, cap;
	int bad;
};

static void
put(struct der *d, const void *p, size_t n)
{
	if (d->bad || n > d->cap - d->len) {
		d->bad = 1;
		return;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

/* wrap(d, tag, start): make d->buf[start..len) the content of a TLV. */
static void
wrap(struct der *d, uint8_t tag, size_t start)
{
	size_t n = d->len - start, hl;
	uint8_t h[4];

	if (d->bad)
		return;
	h[0] = tag;
	if (n < 0x80) {
		h[1] = (uint8_t)n;
		hl = 2;
	} else if (n < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)n;
		hl = 3;
	} else if (n < 0x10000) {
		h[1] = 0x82;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		d->bad = 1;
		return;
	}
	if (hl > d->cap - d->len) {
		d->bad = 1;
		return;
	}
	memmove(d->buf + start + hl, d->buf + start, n);
	memcpy(d->buf + start, h, hl);
	d->len += hl;
}

static void
put_tlv(struct der *d, uint8_t tag, const void *p, size_t n)
{
	size_t start = d->len;

	put(d, p, n);
	wrap(d, tag, start);
}

/* put_time(d, t): UTCTime before 2050, GeneralizedTime from then on. */
static void
put_time(struct der *d, time_t t)
{
	struct tm tm;
	char s[20];

	if (gmtime_r(&t, &tm) == NULL) {
		d->bad = 1;
		return;
	}
	if (tm.tm_year >= 50 && tm.tm_year < 150) {
		strftime(s, sizeof(s), "%y%m%d%H%M%SZ", &tm);
		put_tlv(d, 0x17, s, 13);
	} else {
		strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm);
		put_tlv(d, 0x18, s, 15);
	}
}

static void
put_rdn(struct der *d, uint8_t attr, uint8_t string_tag, const char *value)
{
	const uint8_t oid[] = { 0x06, 0x03, 0x55, 0x04, attr };
	size_t set = d->len, seq;

	seq = d->len;
	put(d, oid, sizeof(oid));
	put_tlv(d, string_tag, value, strlen(value));
	wrap(d, 0x30, seq);
	wrap(d, 0x31, set);
}

/* put_ext(d, oid, critical, content...): Extension, extnValue wraps the
 * DER that the caller writes between ext_begin and ext_end. */
static size_t
ext_begin(struct der *d, uint8_t oid_last)
{
	const uint8_t oid[] = { 0x06, 0x03, 0x55, 0x1d, oid_last };
	size_t start = d->len;

	put(d, oid, sizeof(oid));
	return start;
}

static void
ext_end(struct der *d, size_t start)
{
	size_t value = start + 5;

	wrap(d, 0x04, value);
	wrap(d, 0x30, start);
}

/*
 * write_tbs(ca, d, pub, type, dev, serial): the TBSCertificate. The order
 * of extensions: basicConstraints, keyUsage, extKeyUsage, subject key id,
 * authority key id, subjectAltName.
 */
static void
write_tbs(struct hsm_ca *ca, struct der *d, const X509_PUBKEY *pub,
    unsigned type, const struct hsm_device *dev, const uint8_t serial[16])
{
	static const uint8_t version[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };
	static const uint8_t hmn_oid[] = { 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05,
	    0x05, 0x07, 0x08, 0x04 };
	const unsigned char *bits;
	unsigned char md[SHA_DIGEST_LENGTH], *p;
	int bits_len, spki_len;
	time_t now = time(NULL);
	size_t tbs = d->len, at, exts, ext, skip;

	put(d, version, sizeof(version));
	/* INTEGER, minimal: no leading 00 unless the top bit needs one. */
	for (skip = 0; skip < 15 && serial[skip] == 0 &&
	    (serial[skip + 1] & 0x80) == 0; skip++)
		;
	at = d->len;
	if (serial[skip] & 0x80)
		put(d, "", 1);
	put(d, serial + skip, 16 - skip);
	wrap(d, 0x02, at);
	put(d, ca->sigalg, ca->sigalg_len);
	put(d, ca->issuer, ca->issuer_len);
	at = d->len;
	put_time(d, now - (time_t)ca->profile.not_before_skew);
	if (ca->not_after_len != 0)
		put(d, ca->not_after, ca->not_after_len);
	else
		put_time(d, now + (time_t)ca->profile.validity_days * 86400);
	wrap(d, 0x30, at);
	at = d->len;
	put(d, ca->subject_o, ca->subject_o_len);
	put_rdn(d, 0x03, 0x0c, dev->serial);    /* CN, UTF8String */
	put_rdn(d, 0x05, 0x13, dev->serial);    /* serialNumber, Printable */
	wrap(d, 0x30, at);
	spki_len = i2d_X509_PUBKEY(pub, NULL);
	if (spki_len <= 0 || (size_t)spki_len > d->cap - d->len) {
		d->bad = 1;
		return;
	}
	p = d->buf + d->len;
	i2d_X509_PUBKEY(pub, &p);
	d->len += (size_t)spki_len;

	exts = d->len;
	if (type == HSM_KEY_ED25519)
		put(d, ca->ext_ed, ca->ext_ed_len);
	else
		put(d, ca->ext_ec, ca->ext_ec_len);
	/* subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits */
	if (X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL,
	    (X509_PUBKEY *)pub) != 1 || bits_len <= 0) {
		d->bad = 1;
		return;
	}
	SHA1(bits, (size_t)bits_len, md);
	ext = ext_begin(d, 0x0e);
	put_tlv(d, 0x04, md, sizeof(md));
	ext_end(d, ext);
	put(d, ca->aki, ca->aki_len);
	if (ca->profile.hardware_module_name) {
		/* GeneralNames { [0] otherName { id-on-hardwareModuleName,
		 * [0] EXPLICIT HardwareModuleName { hwType, hwSerialNum } } } */
		size_t names, other, value, hmn;

		ext = ext_begin(d, 0x11);
		names = d->len;
		other = d->len;
		put(d, hmn_oid, sizeof(hmn_oid));
		value = d->len;
		hmn = d->len;
		put(d, ca->hw_type, ca->hw_type_len);
		put_tlv(d, 0x04, dev->hwid, dev->hwid_len);
		wrap(d, 0x30, hmn);
		wrap(d, 0xa0, value);
		wrap(d, 0xa0, other);
		wrap(d, 0x30, names);
		ext_end(d, ext);
	}
	wrap(d, 0x30, exts);
	wrap(d, 0xa3, exts);
	wrap(d, 0x30, tbs);
}

/*
 * issue_der(ca, pub, type, dev, serial, out, len, err): the whole
 * certificate: TBS, its digest signed in the token, the signature.
 */
static int
issue_der(struct hsm_ca *ca, const X509_PUBKEY *pub, unsigned type,
    const struct hsm_device *dev, const uint8_t serial[16],
    uint8_t *out, size_t cap, size_t *len, char err[static HSM_ERR_MAX])
{
	struct der d = { out, 0, cap, 0 };
	uint8_t digest[EVP_MAX_MD_SIZE], sig[HSM_SIG_MAX + 1];
	unsigned int dlen;
	size_t slen = sizeof(sig) - 1, tbs_len, at;
	char what[HSM_SERIAL_MAX + 64];

	write_tbs(ca, &d, pub, type, dev, serial);
	if (d.bad) {
		hsm_fmt(err, "device %s: the certificate does not fit in %zu "
		    "bytes", dev->serial, cap);
		return -1;
	}
	tbs_len = d.len;
	if (EVP_Digest(out, tbs_len, digest, &dlen, ca->md, NULL) != 1) {
		hsm_ossl(err, "cannot hash the certificate");
		return -1;
	}
	snprintf(what, sizeof(what), "signing the certificate of device %s",
	    dev->serial);
	if (hsm_sign_der(ca->key, what, digest, dlen, sig + 1, &slen, err) !=
	    0) {
		/* No partial output: the TBS written so far goes. */
		OPENSSL_cleanse(out, cap);
		*len = 0;
		return -1;
	}
	sig[0] = 0;   /* BIT STRING: no unused bits */
	put(&d, ca->sigalg, ca->sigalg_len);
	at = d.len;
	put(&d, sig, slen + 1);
	wrap(&d, 0x03, at);
	wrap(&d, 0x30, 0);
	if (d.bad) {
		hsm_fmt(err, "device %s: the certificate does not fit in %zu "
		    "bytes", dev->serial, cap);
		return -1;
	}
	*len = d.len;
	return 0;
}

/* next_serial(ca, serial, err): 16 bytes of the token's RNG, from the
 * sub-CA's pool (refilled from the token when empty; each used once). */
static int
next_serial(struct hsm_ca *ca, uint8_t serial[static 16],
    char err[static HSM_ERR_MAX])
{
	int ret = 0;

	pthread_mutex_lock(&ca->serial_lock);
	if (ca->serials_left == 0) {
		if (hsm_random(ca->h, ca->serials, sizeof(ca->serials)) != 0) {
			hsm_fmt(err, "%s", hsm_error(ca->h));
			ret = -1;
			goto unlock;
		}
		ca->serials_left = sizeof(ca->serials) / 16;
	}
	ca->serials_left--;
	memcpy(serial, ca->serials + 16 * ca->serials_left, 16);
	OPENSSL_cleanse(ca->serials + 16 * ca->serials_left, 16);
unlock:
	pthread_mutex_unlock(&ca->serial_lock);
	return ret;
}

int
hsm_issue_der(struct hsm_ca *ca, const X509_PUBKEY *pub,
    const struct hsm_device *dev, uint8_t *out, size_t cap, size_t *len,
    char err[static HSM_ERR_MAX])
{
	uint8_t serial[16];
	unsigned type;

	*len = 0;
	if (!serial_ok(dev->serial)) {
		hsm_fmt(err, "device serial '%s': expected 1 to %d of A-Z a-z "
		    "0-9 - .", dev->serial, HSM_SERIAL_MAX);
		return -1;
	}
	if (ca->profile.hardware_module_name && (dev->hwid_len == 0 ||
	    dev->hwid_len > HSM_HWID_MAX)) {
		hsm_fmt(err, "device %s: hardware id must be 1 to %d bytes",
		    dev->serial, HSM_HWID_MAX);
		return -1;
	}
	type = hsm_key_type_of_spki(pub);
	if ((type & ca->profile.key_types) == 0) {
		hsm_fmt(err, "device %s: %s keys are not accepted (see [device] "
		    "key_types)", dev->serial, hsm_key_type_name(type));
		return -1;
	}
	if (next_serial(ca, serial, err) != 0)
		return -1;
	/* All 128 bits stay random; the INTEGER gets a leading 00 when the
	 * top bit is set, so it is always positive (17 bytes at most). */
	if (CRYPTO_memcmp(serial, (const uint8_t[16]){ 0 }, sizeof(serial)) ==
	    0) {
		hsm_fmt(err, "the token's RNG returned zeros");
		return -1;
	}
	return issue_der(ca, pub, type, dev, serial, out, cap, len, err);
}

int
hsm_issue_pubkey(struct hsm_ca *ca, const X509_PUBKEY *pub,
    const struct hsm_device *dev, X509 **out, char err[static HSM_ERR_MAX])
{
	uint8_t der[HSM_CERT_MAX];
	const unsigned char *p = der;
	size_t len;

	*out = NULL;
	if (hsm_issue_der(ca, pub, dev, der, sizeof(der), &len, err) != 0)
		return -1;
	if ((*out = d2i_X509(NULL, &p, (long)len)) == NULL) {
		hsm_ossl(err, "cannot decode the new device certificate");
		return -1;
	}
	return 0;
}

int
hsm_issue_key(struct hsm_ca *ca, EVP_PKEY *pub, const struct hsm_device *dev,
    X509 **out, char err[static HSM_ERR_MAX])
{
	X509_PUBKEY *spki = NULL;
	int ret;

	*out = NULL;
	if (X509_PUBKEY_set(&spki, pub) != 1) {
		hsm_ossl(err, "cannot read the device public key");
		return -1;
	}
	ret = hsm_issue_pubkey(ca, spki, dev, out, err);
	X509_PUBKEY_free(spki);
	return ret;
}

int
hsm_issue_csr(struct hsm_ca *ca, const uint8_t *csr, size_t len,
    const uint8_t *nonce, const struct hsm_device *dev,
    uint8_t *out, size_t cap, size_t *out_len, char err[static HSM_ERR_MAX])
{
	X509_PUBKEY *pub = NULL;
	int ret;

	*out_len = 0;
	if (hsm_csr_check(csr, len, nonce, ca->profile.key_types, &pub, err) !=
	    0)
		return -1;
	ret = hsm_issue_der(ca, pub, dev, out, cap, out_len, err);
	X509_PUBKEY_free(pub);
	return ret;
}
