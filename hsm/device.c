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
 * Speed: the public key is copied into the certificate as the SPKI's
 * fields (X509_PUBKEY_set0_param) instead of X509_set_pubkey, whose
 * OpenSSL 3 encoder round trip costs more than the HSM signature; the
 * fixed extensions are built once per sub-CA (struct hsm_ca).
 */
#include <string.h>

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
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
	    == len;
}

/* copy_spki(x, pub): the certificate's key = ${pub}'s fields, no decode. */
static int
copy_spki(X509 *x, const X509_PUBKEY *pub)
{
	ASN1_OBJECT *alg;
	const unsigned char *bits;
	int bits_len, ptype;
	const void *pval;
	X509_ALGOR *algor;
	unsigned char *copy = NULL;
	ASN1_OBJECT *param = NULL;

	if (X509_PUBKEY_get0_param(&alg, &bits, &bits_len, &algor,
	    (X509_PUBKEY *)pub) != 1 || bits_len <= 0)
		return -1;
	X509_ALGOR_get0(NULL, &ptype, &pval, algor);
	if ((copy = OPENSSL_memdup(bits, (size_t)bits_len)) == NULL)
		return -1;
	if (ptype == V_ASN1_OBJECT) {
		if ((param = OBJ_dup(pval)) == NULL)
			goto fail;
	} else {
		ptype = V_ASN1_UNDEF;  /* Ed25519: parameters absent */
	}
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_dup(alg),
	    ptype, param, copy, bits_len) != 1)
		goto fail;
	return 0;
fail:
	ASN1_OBJECT_free(param);
	OPENSSL_free(copy);
	return -1;
}

static int
add_ski(X509 *x, const X509_PUBKEY *pub)
{
	const unsigned char *bits;
	int bits_len, rc;
	unsigned char md[SHA_DIGEST_LENGTH];
	ASN1_OCTET_STRING *os;

	if (X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL,
	    (X509_PUBKEY *)pub) != 1 || bits_len <= 0)
		return -1;
	SHA1(bits, (size_t)bits_len, md);
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(os, md, sizeof(md)) != 1) {
		ASN1_OCTET_STRING_free(os);
		return -1;
	}
	rc = X509_add1_ext_i2d(x, NID_subject_key_identifier, os, 0, 0);
	ASN1_OCTET_STRING_free(os);
	return rc == 1 ? 0 : -1;
}

/*
 * add_hmn(x, on, type, hwid, len): subjectAltName otherName
 * id-on-hardwareModuleName { hwType, hwSerialNum }. The value is DER
 * written here (its length stays far below 128 + 128 bytes).
 */
static int
add_hmn(X509 *x, const ASN1_OBJECT *on, const ASN1_OBJECT *type,
    const uint8_t *hwid, size_t len)
{
	uint8_t der[2 + 2 + 128 + 2 + HSM_HWID_MAX];
	size_t olen = (size_t)OBJ_length(type), n = 0, body;
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_TYPE *value = NULL;
	ASN1_STRING *seq = NULL;
	int ret = -1;

	if (olen > 127 || len > HSM_HWID_MAX)
		return -1;
	body = 2 + olen + 2 + len;
	der[n++] = 0x30;
	der[n++] = (uint8_t)body;      /* body < 128 by the limits above */
	der[n++] = 0x06;
	der[n++] = (uint8_t)olen;
	memcpy(der + n, OBJ_get0_data(type), olen);
	n += olen;
	der[n++] = 0x04;
	der[n++] = (uint8_t)len;
	memcpy(der + n, hwid, len);
	n += len;
	if ((names = GENERAL_NAMES_new()) == NULL ||
	    (gn = GENERAL_NAME_new()) == NULL ||
	    (value = ASN1_TYPE_new()) == NULL ||
	    (seq = ASN1_STRING_new()) == NULL ||
	    ASN1_STRING_set(seq, der, (int)n) != 1)
		goto cleanup;
	ASN1_TYPE_set(value, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	if (GENERAL_NAME_set0_othername(gn, OBJ_dup(on), value) != 1)
		goto cleanup;
	value = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto cleanup;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0) != 1)
		goto cleanup;
	ret = 0;
cleanup:
	ASN1_STRING_free(seq);
	ASN1_TYPE_free(value);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ret;
}

int
hsm_issue_pubkey(struct hsm_ca *ca, const X509_PUBKEY *pub,
    const struct hsm_device *dev, X509 **out, char err[static HSM_ERR_MAX])
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	uint8_t serial[16];
	unsigned type;
	int ret = -1;

	*out = NULL;
	if (!serial_ok(dev->serial)) {
		hsm_fmt(err, "device serial '%s': expected 1 to %d of A-Z a-z "
		    "0-9 - . _", dev->serial, HSM_SERIAL_MAX);
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
	if (hsm_random(ca->h, serial, sizeof(serial)) != 0) {
		hsm_fmt(err, "%s", hsm_error(ca->h));
		return -1;
	}
	/* All 128 bits stay random; BN_bin2bn keeps the value positive (DER
	 * adds a 00 byte when the top bit is set: 17 bytes, within 20). */
	if (CRYPTO_memcmp(serial, (const uint8_t[16]){ 0 }, sizeof(serial)) ==
	    0) {
		hsm_fmt(err, "the token's RNG returned zeros");
		return -1;
	}
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    (name = X509_NAME_dup(ca->subject_base)) == NULL ||
	    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)dev->serial, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_ASC,
	    (const unsigned char *)dev->serial, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x),
	    -(long)ca->profile.not_before_skew) == NULL)
		goto ossl;
	if (ca->not_after != NULL) {
		if (X509_set1_notAfter(x, ca->not_after) != 1)
			goto ossl;
	} else if (X509_time_adj_ex(X509_getm_notAfter(x),
	    (int)ca->profile.validity_days, 0, NULL) == NULL) {
		goto ossl;
	}
	if (copy_spki(x, pub) != 0 ||
	    X509_add_ext(x, ca->bc, -1) != 1 ||
	    X509_add_ext(x, type == HSM_KEY_ED25519 ? ca->ku_ed : ca->ku_ec,
	    -1) != 1 ||
	    X509_add_ext(x, ca->eku, -1) != 1 ||
	    add_ski(x, pub) != 0 ||
	    X509_add_ext(x, ca->aki, -1) != 1)
		goto ossl;
	if (ca->profile.hardware_module_name && add_hmn(x, ca->on_hmn, ca->hw_type,
	    dev->hwid, dev->hwid_len) != 0)
		goto ossl;
	if (X509_sign(x, hsm_key_pkey(ca->key), ca->md) <= 0) {
		hsm_ossl(err, "the token could not sign the device certificate");
		goto cleanup;
	}
	*out = x;
	x = NULL;
	ret = 0;
	goto cleanup;
ossl:
	hsm_ossl(err, "cannot build the device certificate");
cleanup:
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	return ret;
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
    const uint8_t nonce[static HSM_NONCE_LEN], const struct hsm_device *dev,
    X509 **out, char err[static HSM_ERR_MAX])
{
	X509_PUBKEY *pub = NULL;
	int ret;

	*out = NULL;
	if (hsm_csr_check(csr, len, nonce, ca->profile.key_types, &pub, err) !=
	    0)
		return -1;
	ret = hsm_issue_pubkey(ca, pub, dev, out, err);
	X509_PUBKEY_free(pub);
	return ret;
}
