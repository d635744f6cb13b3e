/*
 * csr.c: CSR intake for keys generated on the device.
 *
 * A CSR from a device is untrusted input: at most HSM_CSR_MAX bytes of DER
 * with nothing after it, version 1, a key of an accepted type, a signature
 * that verifies with its own key (proof of possession), and the station's
 * fresh nonce. The nonce rides in an extension inside the PKCS#9
 * extensionRequest attribute (mbedTLS cannot write a challengePassword
 * attribute, but it can add extensions): OID HSM_NONCE_OID, extnValue a
 * DER OCTET STRING of HSM_NONCE_LEN bytes, compared in constant time. The
 * subject and every other extension are ignored: the certificate is built
 * from the station's own data only. Each rejection names its reason.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "hsm/internal.h"

static const uint8_t nonce_oid[] = HSM_NONCE_OID_DER;

/*
 * pubkey_copy(pub): a copy of ${pub} whose encoding is byte for byte the
 * CSR's. Not X509_PUBKEY_dup: in OpenSSL 3.0 it copies the key's BIT
 * STRING without its "unused bits" flag, and i2d then drops trailing zero
 * bytes, so an EC point ending in 0x00 (1 key in 256) came out one byte
 * short and its certificate malformed. X509_PUBKEY_set0_param marks the
 * bit string as whole bytes, and copies nothing it need not decode.
 */
static X509_PUBKEY *
pubkey_copy(const X509_PUBKEY *pub)
{
	const unsigned char *point;
	const ASN1_OBJECT *alg, *param_obj;
	const void *pval;
	const X509_ALGOR *pa;
	ASN1_OBJECT *alg_copy = NULL, *param_copy = NULL;
	X509_PUBKEY *out = NULL;
	unsigned char *bytes = NULL;
	int len, ptype;

	if (X509_PUBKEY_get0_param(NULL, &point, &len, (X509_ALGOR **)&pa,
	    pub) != 1 || len <= 0)
		return NULL;
	X509_ALGOR_get0(&alg, &ptype, &pval, pa);
	if (ptype != V_ASN1_OBJECT && ptype != V_ASN1_UNDEF)
		return NULL;            /* explicit curve parameters: refused */
	param_obj = ptype == V_ASN1_OBJECT ? pval : NULL;
	if ((out = X509_PUBKEY_new()) == NULL ||
	    (alg_copy = OBJ_dup(alg)) == NULL ||
	    (param_obj != NULL && (param_copy = OBJ_dup(param_obj)) == NULL) ||
	    (bytes = OPENSSL_memdup(point, (size_t)len)) == NULL ||
	    X509_PUBKEY_set0_param(out, alg_copy, ptype, param_copy, bytes,
	    len) != 1) {
		OPENSSL_free(bytes);
		ASN1_OBJECT_free(param_copy);
		ASN1_OBJECT_free(alg_copy);
		X509_PUBKEY_free(out);
		return NULL;
	}
	return out;
}

static int
is_nonce_ext(const X509_EXTENSION *e)
{
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object(
	    (X509_EXTENSION *)e);
	size_t len = (size_t)OBJ_length(obj);

	/* nonce_oid: tag, length, then the body OBJ_get0_data returns. */
	return len == sizeof(nonce_oid) - 1 - 2 &&
	    memcmp(OBJ_get0_data(obj), nonce_oid + 2, len) == 0;
}

/* find_nonce(req, nonce, err): 0 if the CSR carries exactly ${nonce}. */
static int
find_nonce(X509_REQ *req, const uint8_t nonce[static HSM_NONCE_LEN],
    char err[static HSM_ERR_MAX])
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	const ASN1_OCTET_STRING *value = NULL;
	ASN1_OCTET_STRING *inner = NULL;
	const unsigned char *p;
	int found = 0, ret = -1;

	ERR_clear_error();
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);

		if (!is_nonce_ext(e))
			continue;
		found++;
		value = X509_EXTENSION_get_data(e);
	}
	if (found == 0) {
		hsm_fmt(err, "CSR refused: no station nonce (extension %s in "
		    "extensionRequest)", HSM_NONCE_OID);
		goto cleanup;
	}
	if (found > 1) {
		hsm_fmt(err, "CSR refused: more than one nonce extension");
		goto cleanup;
	}
	p = ASN1_STRING_get0_data(value);
	inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(value));
	if (inner == NULL || p != ASN1_STRING_get0_data(value) +
	    ASN1_STRING_length(value)) {
		ERR_clear_error();
		hsm_fmt(err, "CSR refused: the nonce extension is not a DER "
		    "OCTET STRING");
		goto cleanup;
	}
	if (ASN1_STRING_length(inner) != HSM_NONCE_LEN) {
		hsm_fmt(err, "CSR refused: the nonce is %d bytes, expected %d",
		    ASN1_STRING_length(inner), HSM_NONCE_LEN);
		goto cleanup;
	}
	if (CRYPTO_memcmp(ASN1_STRING_get0_data(inner), nonce,
	    HSM_NONCE_LEN) != 0) {
		hsm_fmt(err, "CSR refused: its nonce is not the one this station "
		    "just sent (stale or replayed CSR)");
		goto cleanup;
	}
	ret = 0;
cleanup:
	ASN1_OCTET_STRING_free(inner);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ret;
}

static void
types_text(unsigned types, char *out, size_t size)
{
	static const unsigned all[] = { HSM_KEY_P256, HSM_KEY_P384,
	    HSM_KEY_ED25519 };
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if ((types & all[i]) == 0)
			continue;
		n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "",
		    hsm_key_type_name(all[i]));
		if (n >= size)
			break;
	}
}

int
hsm_csr_check(const uint8_t *csr, size_t len,
    const uint8_t *nonce, unsigned key_types,
    X509_PUBKEY **out, char err[static HSM_ERR_MAX])
{
	const unsigned char *p = csr;
	X509_REQ *req = NULL;
	X509_PUBKEY *pub;
	EVP_PKEY *pkey;
	unsigned type;
	char accepted[64];
	int ret = -1;

	*out = NULL;
	if (len > HSM_CSR_MAX) {
		hsm_fmt(err, "CSR refused: %zu bytes, more than the %d accepted",
		    len, HSM_CSR_MAX);
		return -1;
	}
	if (len == 0 || (req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		hsm_fmt(err, "CSR refused: not a DER PKCS#10 request");
		return -1;
	}
	if (p != csr + len) {
		hsm_fmt(err, "CSR refused: %zu trailing bytes after the request",
		    (size_t)(csr + len - p));
		goto cleanup;
	}
	if (X509_REQ_get_version(req) != 0) {
		hsm_fmt(err, "CSR refused: version %ld, expected 1",
		    X509_REQ_get_version(req) + 1);
		goto cleanup;
	}
	pub = X509_REQ_get_X509_PUBKEY(req);
	type = hsm_key_type_of_spki(pub);
	if ((type & key_types) == 0) {
		types_text(key_types, accepted, sizeof(accepted));
		if (type == 0)
			hsm_fmt(err, "CSR refused: the key's algorithm or curve "
			    "is not supported (accepted: %s)", accepted);
		else
			hsm_fmt(err, "CSR refused: %s keys are not accepted "
			    "(accepted: %s)", hsm_key_type_name(type), accepted);
		goto cleanup;
	}
	if ((pkey = X509_REQ_get0_pubkey(req)) == NULL) {
		ERR_clear_error();
		hsm_fmt(err, "CSR refused: its public key is not a valid %s key",
		    hsm_key_type_name(type));
		goto cleanup;
	}
	if (X509_REQ_verify(req, pkey) != 1) {
		ERR_clear_error();
		hsm_fmt(err, "CSR refused: its signature does not verify (no "
		    "proof of possession of the key)");
		goto cleanup;
	}
	if (nonce != NULL && find_nonce(req, nonce, err) != 0)
		goto cleanup;
	if ((*out = pubkey_copy(pub)) == NULL) {
		hsm_ossl(err, "out of memory");
		goto cleanup;
	}
	ret = 0;
cleanup:
	X509_REQ_free(req);
	ERR_clear_error();
	return ret;
}
