/*
 * crl.c: the certificate revocation list, signed by the sub-CA in the HSM.
 *
 * A v2 CRL (RFC 5280 5.1): issuer = the sub-CA's subject, thisUpdate and
 * nextUpdate from the caller, one entry per revoked certificate with its
 * revocation date and, when known, a reasonCode entry extension; CRL
 * extensions cRLNumber (monotonic, from the caller, who keeps the count
 * in its records) and authorityKeyIdentifier. Entries are sorted by
 * serial. The list of revoked certificates comes from the caller (the
 * audit records); this file only encodes and signs.
 */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "hsm/internal.h"

static int
add_entry(X509_CRL *crl, const struct hsm_revoked *r,
    char err[static HSM_ERR_MAX])
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	int ret = -1;

	if (r->serial_len == 0 || r->serial_len > 20) {
		hsm_fmt(err, "CRL: a serial number is 1 to 20 bytes, got %zu",
		    r->serial_len);
		return -1;
	}
	if (r->reason < -1 || r->reason > 10 || r->reason == 7) {
		hsm_fmt(err, "CRL: reason code %d is not one of RFC 5280",
		    r->reason);
		return -1;
	}
	if ((rev = X509_REVOKED_new()) == NULL ||
	    (bn = BN_bin2bn(r->serial, (int)r->serial_len, NULL)) == NULL ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
	    (when = ASN1_TIME_set(NULL, r->when)) == NULL ||
	    X509_REVOKED_set_revocationDate(rev, when) != 1)
		goto ossl;
	if (r->reason >= 0 && ((reason = ASN1_ENUMERATED_new()) == NULL ||
	    ASN1_ENUMERATED_set(reason, r->reason) != 1 ||
	    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) != 1))
		goto ossl;
	if (X509_CRL_add0_revoked(crl, rev) != 1)
		goto ossl;
	rev = NULL;
	ret = 0;
	goto cleanup;
ossl:
	hsm_ossl(err, "CRL: cannot add an entry");
cleanup:
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_REVOKED_free(rev);
	return ret;
}

int
hsm_crl(struct hsm_ca *ca, const struct hsm_revoked *list, size_t n,
    uint64_t crl_number, time_t this_update, time_t next_update,
    X509_CRL **out, char err[static HSM_ERR_MAX])
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *number = NULL;
	X509V3_CTX v3;
	X509_EXTENSION *aki = NULL;
	int ret = -1;

	*out = NULL;
	if (next_update <= this_update) {
		hsm_fmt(err, "CRL: nextUpdate must come after thisUpdate");
		return -1;
	}
	if ((crl = X509_CRL_new()) == NULL ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
	    (t = ASN1_TIME_set(NULL, this_update)) == NULL ||
	    X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    ASN1_TIME_set(t, next_update) == NULL ||
	    X509_CRL_set1_nextUpdate(crl, t) != 1)
		goto ossl;
	for (size_t i = 0; i < n; i++)
		if (add_entry(crl, &list[i], err) != 0)
			goto cleanup;
	if ((number = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set_uint64(number, crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) != 1)
		goto ossl;
	X509V3_set_ctx(&v3, ca->cert, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier,
	    "keyid:always")) == NULL || X509_CRL_add_ext(crl, aki, -1) != 1)
		goto ossl;
	if (X509_CRL_sort(crl) != 1)
		goto ossl;
	if (X509_CRL_sign(crl, hsm_key_pkey(ca->key), ca->md) <= 0) {
		hsm_p11_ossl(err, ca->h, "signing the CRL",
		    "the token could not sign the CRL");
		goto cleanup;
	}
	*out = crl;
	crl = NULL;
	ret = 0;
	goto cleanup;
ossl:
	hsm_ossl(err, "cannot build the CRL");
cleanup:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return ret;
}
