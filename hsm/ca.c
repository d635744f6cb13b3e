/*
 * ca.c: the sub-CA and the role certificates: the start-up check, opening
 * the sub-CA for issuance, the ceremony's CSR, and the small certificate
 * maker used by the demo PKI (and by tests playing the offline root).
 *
 * The start-up check is deliberately explicit, one test per property, so
 * that each failure says exactly what is wrong and with which file:
 * the certificate holds the token key's public half, is within its
 * validity, chains to the configured self-signed root, and carries the
 * key usages of its role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "hsm/internal.h"

unsigned
hsm_key_type_of(const EVP_PKEY *pkey)
{
	char group[32];

	if (pkey == NULL)
		return 0;
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return HSM_KEY_ED25519;
	if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_utf8_string_param(pkey,
	    "group", group, sizeof(group), NULL) != 1)
		return 0;
	if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
		return HSM_KEY_P256;
	if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
		return HSM_KEY_P384;
	return 0;
}

unsigned
hsm_key_type_of_spki(const X509_PUBKEY *pub)
{
	ASN1_OBJECT *alg;
	const X509_ALGOR *algor;
	const void *pval;
	int ptype, nid;

	if (X509_PUBKEY_get0_param(&alg, NULL, NULL, (X509_ALGOR **)&algor,
	    (X509_PUBKEY *)pub) != 1)
		return 0;
	nid = OBJ_obj2nid(alg);
	if (nid == NID_ED25519)
		return HSM_KEY_ED25519;
	if (nid != NID_X9_62_id_ecPublicKey)
		return 0;
	X509_ALGOR_get0(NULL, &ptype, &pval, algor);
	if (ptype != V_ASN1_OBJECT)
		return 0;
	nid = OBJ_obj2nid(pval);
	if (nid == NID_X9_62_prime256v1)
		return HSM_KEY_P256;
	if (nid == NID_secp384r1)
		return HSM_KEY_P384;
	return 0;
}

const char *
hsm_key_type_name(unsigned type)
{
	switch (type) {
	case HSM_KEY_P256:
		return "P-256";
	case HSM_KEY_P384:
		return "P-384";
	case HSM_KEY_ED25519:
		return "Ed25519";
	}
	return "unsupported";
}

const EVP_MD *
hsm_md_for(const EVP_PKEY *pkey)
{
	return hsm_key_type_of(pkey) == HSM_KEY_P384 ? EVP_sha384() :
	    EVP_sha256();
}

X509 *
hsm_read_cert(const char *file, const char *what, char err[static HSM_ERR_MAX])
{
	FILE *f;
	X509 *x;

	if ((f = fopen(file, "r")) == NULL) {
		hsm_fmt(err, "cannot read the %s %s", what, file);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ERR_clear_error();
		hsm_fmt(err, "the %s %s is not a PEM certificate", what, file);
	}
	return x;
}

static void
time_text(const ASN1_TIME *t, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (ASN1_TIME_print(b, t) == 1 && (n = BIO_read(b, out,
	    (int)size - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

/* check_chain(cert, root, file, root_file, err): the chain, with the
 * verifier's own reason. */
static int
check_chain(X509 *cert, X509 *root, const char *file, const char *root_file,
    char err[static HSM_ERR_MAX])
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	int ret = -1;

	if (store == NULL || vctx == NULL || X509_STORE_add_cert(store, root) !=
	    1 || X509_STORE_CTX_init(vctx, store, cert, NULL) != 1) {
		hsm_ossl(err, "cannot set up certificate verification");
		goto cleanup;
	}
	if (X509_verify_cert(vctx) != 1) {
		hsm_fmt(err, "%s does not verify to the root %s: %s", file,
		    root_file, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(vctx)));
		ERR_clear_error();
		goto cleanup;
	}
	ret = 0;
cleanup:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return ret;
}

/* check_one(key, cert, root, ...): the start-up check on loaded files. */
static int
check_one(struct hsm_key *key, X509 *cert, X509 *root, const char *file,
    const char *root_file, bool ca, char err[static HSM_ERR_MAX])
{
	EVP_PKEY *pub = NULL;
	char when[64];
	uint32_t ku;
	int ret = -1;

	if ((pub = hsm_key_public(key)) == NULL) {
		hsm_fmt(err, "%s", hsm_error(hsm_key_hsm(key)));
		goto cleanup;
	}
	if (EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) != 1) {
		ERR_clear_error();
		hsm_fmt(err, "%s does not belong to the token key '%s' (its "
		    "public key differs)", file, hsm_key_label(key));
		goto cleanup;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		time_text(X509_get0_notAfter(cert), when, sizeof(when));
		hsm_fmt(err, "%s expired on %s", file, when);
		goto cleanup;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		time_text(X509_get0_notBefore(cert), when, sizeof(when));
		hsm_fmt(err, "%s is not valid before %s", file, when);
		goto cleanup;
	}
	if (X509_self_signed(root, 1) != 1) {
		ERR_clear_error();
		hsm_fmt(err, "the root %s is not a self-signed certificate",
		    root_file);
		goto cleanup;
	}
	if (check_chain(cert, root, file, root_file, err) != 0)
		goto cleanup;
	ku = X509_get_key_usage(cert);
	if (ca) {
		if (X509_check_ca(cert) != 1) {
			hsm_fmt(err, "%s is not a CA certificate (basicConstraints "
			    "CA:TRUE is missing)", file);
			goto cleanup;
		}
		if (ku == UINT32_MAX || (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) !=
		    (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) {
			hsm_fmt(err, "%s: keyUsage must include keyCertSign and "
			    "cRLSign", file);
			goto cleanup;
		}
		if (X509_get_pathlen(cert) != 0) {
			hsm_fmt(err, "%s: a sub-CA must have pathlen 0", file);
			goto cleanup;
		}
		if ((hsm_key_type_of(pub) & (HSM_KEY_P256 | HSM_KEY_P384)) == 0) {
			hsm_fmt(err, "%s: the sub-CA key must be P-256 or P-384",
			    file);
			goto cleanup;
		}
	} else if (ku == UINT32_MAX || (ku & KU_DIGITAL_SIGNATURE) == 0 ||
	    X509_check_ca(cert) != 0) {
		hsm_fmt(err, "%s: expected an end-entity certificate with "
		    "keyUsage digitalSignature", file);
		goto cleanup;
	}
	ret = 0;
cleanup:
	EVP_PKEY_free(pub);
	return ret;
}

int
hsm_check_cert(struct hsm_key *key, const char *cert_file,
    const char *root_file, bool ca, char err[static HSM_ERR_MAX])
{
	X509 *cert = NULL, *root = NULL;
	int ret = -1;

	if ((cert = hsm_read_cert(cert_file, ca ? "sub-CA certificate" :
	    "certificate", err)) == NULL ||
	    (root = hsm_read_cert(root_file, "root certificate", err)) == NULL)
		goto cleanup;
	ret = check_one(key, cert, root, cert_file, root_file, ca, err);
cleanup:
	X509_free(cert);
	X509_free(root);
	return ret;
}

/* make_ext(nid, value, issuer, subject): an extension from its text. */
static X509_EXTENSION *
make_ext(int nid, const char *value, X509 *issuer, X509 *subject)
{
	X509V3_CTX v3;

	X509V3_set_ctx(&v3, issuer, subject, NULL, NULL, 0);
	return X509V3_EXT_conf_nid(NULL, &v3, nid, value);
}

/* ext_der(nid, value, issuer, buf, cap, len): append one extension's DER. */
static int
ext_der(int nid, const char *value, X509 *issuer, uint8_t *buf, size_t cap,
    size_t *len)
{
	X509_EXTENSION *e = make_ext(nid, value, issuer, NULL);
	unsigned char *p = buf + *len;
	int n;

	if (e == NULL)
		return -1;
	n = i2d_X509_EXTENSION(e, NULL);
	if (n <= 0 || (size_t)n > cap - *len) {
		X509_EXTENSION_free(e);
		return -1;
	}
	i2d_X509_EXTENSION(e, &p);
	X509_EXTENSION_free(e);
	*len += (size_t)n;
	return 0;
}

/*
 * encode_profile(ca, err): the DER pieces every device certificate of
 * this sub-CA shares (struct hsm_ca).
 */
static int
encode_profile(struct hsm_ca *ca, char err[static HSM_ERR_MAX])
{
	static const uint8_t sha256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	static const uint8_t sha384[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	    0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
	static const uint8_t o_oid[] = { 0x06, 0x03, 0x55, 0x04, 0x0a };
	ASN1_OBJECT *hw = NULL;
	unsigned char *p;
	size_t olen = strlen(ca->organization);
	int n;

	memcpy(ca->sigalg, ca->md == EVP_sha384() ? sha384 : sha256,
	    sizeof(sha256));
	ca->sigalg_len = sizeof(sha256);
	n = i2d_X509_NAME(X509_get_subject_name(ca->cert), NULL);
	if (n <= 0 || (size_t)n > sizeof(ca->issuer))
		goto ossl;
	p = ca->issuer;
	ca->issuer_len = (size_t)i2d_X509_NAME(X509_get_subject_name(ca->cert),
	    &p);
	/* SET { SEQ { OID O, UTF8String org } }; org <= 64: short lengths */
	ca->subject_o[0] = 0x31;
	ca->subject_o[1] = (uint8_t)(2 + sizeof(o_oid) + 2 + olen);
	ca->subject_o[2] = 0x30;
	ca->subject_o[3] = (uint8_t)(sizeof(o_oid) + 2 + olen);
	memcpy(ca->subject_o + 4, o_oid, sizeof(o_oid));
	ca->subject_o[4 + sizeof(o_oid)] = 0x0c;
	ca->subject_o[5 + sizeof(o_oid)] = (uint8_t)olen;
	memcpy(ca->subject_o + 6 + sizeof(o_oid), ca->organization, olen);
	ca->subject_o_len = 6 + sizeof(o_oid) + olen;
	if (ca->profile.validity_days == 0) {
		memcpy(ca->not_after, "\x18\x0f" "99991231235959Z", 17);
		ca->not_after_len = 17;
	}
	if (ext_der(NID_basic_constraints, "critical,CA:FALSE", NULL, ca->ext_ec,
	    sizeof(ca->ext_ec), &ca->ext_ec_len) != 0 ||
	    ext_der(NID_key_usage, "critical,digitalSignature,keyAgreement",
	    NULL, ca->ext_ec, sizeof(ca->ext_ec), &ca->ext_ec_len) != 0 ||
	    ext_der(NID_ext_key_usage, "clientAuth", NULL, ca->ext_ec,
	    sizeof(ca->ext_ec), &ca->ext_ec_len) != 0 ||
	    ext_der(NID_basic_constraints, "critical,CA:FALSE", NULL, ca->ext_ed,
	    sizeof(ca->ext_ed), &ca->ext_ed_len) != 0 ||
	    ext_der(NID_key_usage, "critical,digitalSignature", NULL, ca->ext_ed,
	    sizeof(ca->ext_ed), &ca->ext_ed_len) != 0 ||
	    ext_der(NID_ext_key_usage, "clientAuth", NULL, ca->ext_ed,
	    sizeof(ca->ext_ed), &ca->ext_ed_len) != 0 ||
	    ext_der(NID_authority_key_identifier, "keyid:always", ca->cert,
	    ca->aki, sizeof(ca->aki), &ca->aki_len) != 0)
		goto ossl;
	if ((hw = OBJ_txt2obj(ca->hardware_type, 1)) == NULL ||
	    (n = i2d_ASN1_OBJECT(hw, NULL)) <= 0 ||
	    (size_t)n > sizeof(ca->hw_type) || n > 127) {
		ERR_clear_error();
		ASN1_OBJECT_free(hw);
		hsm_fmt(err, "device profile: hardware type '%s' is not a "
		    "dotted OID (of at most 125 bytes)", ca->hardware_type);
		return -1;
	}
	p = ca->hw_type;
	ca->hw_type_len = (size_t)i2d_ASN1_OBJECT(hw, &p);
	ASN1_OBJECT_free(hw);
	return 0;
ossl:
	hsm_ossl(err, "cannot prepare the device certificate profile");
	return -1;
}

int
hsm_ca_open(struct hsm_ca **out, struct hsm *h, const char *key_uri,
    const char *cert_file, const char *root_file,
    const struct hsm_profile *profile, char err[static HSM_ERR_MAX])
{
	struct hsm_ca *ca;

	*out = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		hsm_fmt(err, "out of memory");
		return -1;
	}
	ca->h = h;
	pthread_mutex_init(&ca->serial_lock, NULL);
	if (strlen(profile->organization) >= sizeof(ca->organization) ||
	    strlen(profile->hardware_type) >= sizeof(ca->hardware_type)) {
		hsm_fmt(err, "device profile: organization or hardware type "
		    "too long");
		goto fail;
	}
	ca->profile = *profile;
	strcpy(ca->organization, profile->organization);
	strcpy(ca->hardware_type, profile->hardware_type);
	ca->profile.organization = ca->organization;
	ca->profile.hardware_type = ca->hardware_type;

	if (hsm_key_find(h, key_uri, &ca->key, err) != 0)
		goto fail;
	if ((ca->cert = hsm_read_cert(cert_file, "sub-CA certificate", err)) ==
	    NULL || (ca->root = hsm_read_cert(root_file, "root certificate",
	    err)) == NULL)
		goto fail;
	if (check_one(ca->key, ca->cert, ca->root, cert_file, root_file, true,
	    err) != 0)
		goto fail;
	ca->md = hsm_md_for(X509_get0_pubkey(ca->cert));
	if (encode_profile(ca, err) != 0)
		goto fail;
	*out = ca;
	return 0;
fail:
	hsm_ca_free(ca);
	return -1;
}

void
hsm_ca_free(struct hsm_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	X509_free(ca->root);
	pthread_mutex_destroy(&ca->serial_lock);
	OPENSSL_cleanse(ca->serials, sizeof(ca->serials));
	free(ca);
}

X509 *
hsm_ca_cert(const struct hsm_ca *ca)
{
	return ca->cert;
}

static X509_NAME *
make_name(const char *o, const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL || X509_NAME_add_entry_by_NID(n, NID_organizationName,
	    MBSTRING_UTF8, (const unsigned char *)o, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

int
hsm_ca_request(struct hsm_key *key, const char *subject_o,
    const char *subject_cn, X509_REQ **out, char err[static HSM_ERR_MAX])
{
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	EVP_PKEY *pub = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *e;
	int ret = -1;

	*out = NULL;
	if ((pub = hsm_key_public(key)) == NULL) {
		hsm_fmt(err, "%s", hsm_error(hsm_key_hsm(key)));
		return -1;
	}
	if ((req = X509_REQ_new()) == NULL ||
	    (name = make_name(subject_o, subject_cn)) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, pub) != 1 ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL)
		goto ossl;
	if ((e = make_ext(NID_basic_constraints, "critical,CA:TRUE,pathlen:0",
	    NULL, NULL)) == NULL || !sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		goto ossl;
	}
	if ((e = make_ext(NID_key_usage, "critical,keyCertSign,cRLSign", NULL,
	    NULL)) == NULL || !sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		goto ossl;
	}
	if (X509_REQ_add_extensions(req, exts) != 1)
		goto ossl;
	if (X509_REQ_sign(req, hsm_key_pkey(key), hsm_md_for(pub)) <= 0) {
		hsm_p11_ossl(err, hsm_key_hsm(key), "signing the request",
		    "the token could not sign the request");
		goto cleanup;
	}
	*out = req;
	req = NULL;
	ret = 0;
	goto cleanup;
ossl:
	hsm_ossl(err, "cannot build the certificate request");
cleanup:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	return ret;
}

static int
cert_make(EVP_PKEY *subject_key, const char *subject_o,
    const char *subject_cn, X509 *issuer_cert, EVP_PKEY *issuer_key, bool ca,
    const char *ku, unsigned days, X509 **out, char err[static HSM_ERR_MAX]);

int
hsm_cert_make(EVP_PKEY *subject_key, const char *subject_o,
    const char *subject_cn, X509 *issuer_cert, EVP_PKEY *issuer_key, bool ca,
    unsigned days, X509 **out, char err[static HSM_ERR_MAX])
{
	return cert_make(subject_key, subject_o, subject_cn, issuer_cert,
	    issuer_key, ca, ca ? "critical,keyCertSign,cRLSign" :
	    "critical,digitalSignature", days, out, err);
}

int
hsm_cert_make_transport(EVP_PKEY *subject_key, const char *subject_o,
    const char *subject_cn, X509 *issuer_cert, EVP_PKEY *issuer_key,
    unsigned days, X509 **out, char err[static HSM_ERR_MAX])
{
	return cert_make(subject_key, subject_o, subject_cn, issuer_cert,
	    issuer_key, false, "critical,keyAgreement", days, out, err);
}

static int
cert_make(EVP_PKEY *subject_key, const char *subject_o,
    const char *subject_cn, X509 *issuer_cert, EVP_PKEY *issuer_key, bool ca,
    const char *ku, unsigned days, X509 **out, char err[static HSM_ERR_MAX])
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	X509_EXTENSION *e;
	uint8_t serial[16];
	const char *bc;
	int ret = -1;

	*out = NULL;
	bc = !ca ? "critical,CA:FALSE" : issuer_cert ?
	    "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE";
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto ossl;
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	if ((x = X509_new()) == NULL ||
	    (name = make_name(subject_o, subject_cn)) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer_cert ?
	    X509_get_subject_name(issuer_cert) : name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ==
	    NULL || X509_set_pubkey(x, subject_key) != 1)
		goto ossl;
	struct { int nid; const char *value; } exts[] = {
		{ NID_basic_constraints, bc },
		{ NID_key_usage, ku },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if ((e = make_ext(exts[i].nid, exts[i].value, issuer_cert ?
		    issuer_cert : x, x)) == NULL)
			goto ossl;
		if (X509_add_ext(x, e, -1) != 1) {
			X509_EXTENSION_free(e);
			goto ossl;
		}
		X509_EXTENSION_free(e);
	}
	if (X509_sign(x, issuer_key, hsm_md_for(issuer_key)) <= 0) {
		hsm_ossl(err, "cannot sign the certificate");
		goto cleanup;
	}
	*out = x;
	x = NULL;
	ret = 0;
	goto cleanup;
ossl:
	hsm_ossl(err, "cannot build the certificate");
cleanup:
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	return ret;
}
