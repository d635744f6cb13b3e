/*
 * keymode.c: the token key mode's public entry (stamp-format/SPEC.md
 * section 2): the device key pair made and wrapped inside the token by
 * p11fn.c, its public point handed back as an X509_PUBKEY for issuance.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "hsm/internal.h"

int
hsm_keygen_sealed(struct hsm *h, enum hsm_key_type type,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, X509_PUBKEY **device_pub, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX])
{
	uint8_t point[97];
	size_t point_len = type == HSM_KEY_P384 ? 97 : 65;
	unsigned char *copy;
	X509_PUBKEY *pub;
	int curve = type == HSM_KEY_P384 ? NID_secp384r1 : NID_X9_62_prime256v1;

	*device_pub = NULL;
	*sealed_len = 0;
	if (type != HSM_KEY_P256 && type != HSM_KEY_P384) {
		hsm_fmt(err, "token key mode makes P-256 or P-384 device keys");
		return -1;
	}
	if (transport[0] != 0x04) {
		hsm_fmt(err, "the transport key is not an uncompressed P-256 "
		    "point");
		return -1;
	}
	if (hsm_p11fn_keygen_sealed(hsm_fn(h), hsm_slot_id(h),
	    type, transport, context_fn, arg, point, point_len, sealed, cap,
	    sealed_len, err) != 0)
		return -1;
	if ((pub = X509_PUBKEY_new()) == NULL ||
	    (copy = OPENSSL_memdup(point, point_len)) == NULL) {
		X509_PUBKEY_free(pub);
		hsm_fmt(err, "out of memory");
		return -1;
	}
	if (X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
	    V_ASN1_OBJECT, OBJ_nid2obj(curve), copy, (int)point_len) != 1) {
		OPENSSL_free(copy);
		X509_PUBKEY_free(pub);
		hsm_ossl(err, "cannot encode the device public key");
		return -1;
	}
	/* Through DER once, so that X509_PUBKEY_get() works on the result. */
	{
		unsigned char *der = NULL;
		const unsigned char *p;
		int len = i2d_X509_PUBKEY(pub, &der);

		X509_PUBKEY_free(pub);
		p = der;
		*device_pub = len > 0 ? d2i_X509_PUBKEY(NULL, &p, len) : NULL;
		OPENSSL_free(der);
	}
	if (*device_pub == NULL) {
		hsm_ossl(err, "cannot encode the device public key");
		return -1;
	}
	return 0;
}
