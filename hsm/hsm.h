/*
 * hsm.h: the station's PKCS#11 token and the HSM-held sub-CA.
 *
 * A token is opened once with the officer's PIN (hsm_open); keys in it are
 * named by PKCS#11 URIs (RFC 7512) and stay in it: signatures are made by
 * the token through libp11. On top of the token:
 *   - the sub-CA (hsm_ca_open), checked at start-up against its
 *     certificate and the configured root, issues device certificates
 *     (IEEE 802.1AR IDevID profile) from a checked CSR or a public key, and
 *     CRLs;
 *   - the other role keys (stamp signing, audit checkpoints, export
 *     signing) sign digests through hsm_sign, whose shape suits a callback.
 *
 * Errors are reported once: into the ${err} buffer of the call, or for
 * calls on an open token without such a buffer, into hsm_error(h). Nothing
 * here prints. A failed token call is reported as "token 'LABEL': what
 * was being done: what happened (CKR_NAME); what to do" (reconnect the
 * token, or the officer logs in again, or retry); no partial output is
 * ever handed back. A session lost under the token key mode or a re-wrap
 * is reopened once (safe: they run in sessions of their own, nothing of
 * the first attempt survives); a signature is tried once more, but libp11
 * 0.4.12 keeps its pooled session handle, so a session lost under libp11
 * ends in the message that the officer must restart and log in. A login
 * is never repeated by this module, and the token's PIN is not kept by
 * it after hsm_open returns (libp11 keeps a copy for re-login after fork;
 * do not fork while a token is open).
 *
 * One token is open per process at a time (libp11 contexts on one module
 * share its initialisation; closing one would finalise the other):
 * hsm_open and hsm_token_init refuse while one is open.
 *
 * Thread safety: hsm_issue_*, hsm_crl, hsm_sign, hsm_random,
 * hsm_keygen_sealed, hsm_rewrap_sealed and hsm_sealer_next (one sealer
 * per thread) may run on several threads at
 * once on one open token;
 * opening, closing, key lookup and persistent key generation may not.
 */
#ifndef HSM_H
#define HSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#define HSM_ERR_MAX 512
#define HSM_PIN_MAX 64          /* bytes of a user PIN */
#define HSM_NONCE_LEN 32        /* the station's CSR nonce */
#define HSM_SERIAL_MAX 64       /* a device serial (text) */
#define HSM_HWID_MAX 64         /* a device hardware id (bytes) */
#define HSM_CSR_MAX 4096        /* bytes of a DER CSR; longer is refused */
#define HSM_SIG_MAX 112         /* a DER ECDSA P-384 signature fits */
#define HSM_CERT_MAX 2048       /* a DER device certificate fits */
/* A sealed value E || C (SPEC.md section 2) of at most 1024 plaintext
 * bytes, the WRAPPED_DEVICE_KEY limit. */
#define HSM_SEALED_MAX (65 + 1024 + 8)

/*
 * The CSR nonce extension: an extension inside the CSR's extensionRequest
 * attribute (PKCS#9), OID HSM_NONCE_OID, extnValue = DER OCTET STRING of
 * exactly HSM_NONCE_LEN bytes. mbedTLS writes it with
 * mbedtls_x509write_csr_set_extension(). The OID is in the 2.25 arc (a
 * UUID-derived OID, ITU-T X.667: unique without registration); a brand
 * with its own enterprise arc may replace it. Its DER (tag, length, 20
 * bytes), for device code that writes OIDs as bytes, is HSM_NONCE_OID_DER.
 */
#define HSM_NONCE_OID "2.25.320604743258182176926776022287882174533"
#define HSM_NONCE_OID_DER "\x06\x14\x69\x83\xe2\xb2\x9d\x8f\xf8\x9b\xea" \
	"\xb6\x8d\x91\xc0\x98\xda\xb5\xb5\xe3\x80\x45"
/*
 * The default hwType of the HardwareModuleName (RFC 4108) in the device
 * certificate's subjectAltName, in the same kind of arc; products set
 * their own with [device] hardware_type.
 */
#define HSM_HWTYPE_OID_DEFAULT "2.25.206475652591324897905571479869996001814"

/* Key types, as a bit set for the accepted device key types. */
enum hsm_key_type {
	HSM_KEY_P256 = 1,
	HSM_KEY_P384 = 2,
	HSM_KEY_ED25519 = 4,
};

struct hsm;      /* an open, logged-in token */
struct hsm_key;  /* a private key in the token; owned by its struct hsm */
struct hsm_ca;   /* the sub-CA: key, certificate, root and device profile */

/*
 * hsm_open(out, module, token_uri, pin, err): load the PKCS#11 ${module},
 * find the one token matching ${token_uri} (a PKCS#11 URI; pin-value and
 * pin-source are refused) and log in with ${pin} (the caller wipes it).
 * A wrong PIN is reported once naming the token and never retried; a
 * locked PIN has its own message. Returns 0 and ${*out}, or -1.
 */
int hsm_open(struct hsm **out, const char *module, const char *token_uri,
    const char *pin, char err[static HSM_ERR_MAX]);

/*
 * hsm_close(h): free every key and CA obtained from ${h}, then release the
 * token in the order that keeps module destructors happy. NULL: no-op.
 * Every hsm_ca on ${h} must be freed first.
 */
void hsm_close(struct hsm *h);

/* hsm_error(h): the last error of a call on ${h} without an err buffer. */
const char *hsm_error(const struct hsm *h);

/* hsm_token_label(h): the label of the open token. */
const char *hsm_token_label(const struct hsm *h);

/* hsm_random(h, buf, len): ${len} bytes from the token's RNG. 0 or -1. */
int hsm_random(struct hsm *h, uint8_t *buf, size_t len);

/*
 * hsm_token_init(module, label, so_pin, pin, err): initialise the first
 * free token of ${module} (SoftHSM) as ${label} with the given SO and user
 * PINs. For the demo PKI and tests. 0 or -1.
 */
int hsm_token_init(const char *module, const char *label, const char *so_pin,
    const char *pin, char err[static HSM_ERR_MAX]);

/*
 * hsm_key_find(h, key_uri, out, err): the private key named by ${key_uri}
 * (object= and/or id=; token attributes, if any, must match the open
 * token). Exactly one key must match. 0 and ${*out}, or -1.
 */
int hsm_key_find(struct hsm *h, const char *key_uri, struct hsm_key **out,
    char err[static HSM_ERR_MAX]);

/*
 * hsm_key_generate(h, label, type, out, err): a new persistent, sensitive,
 * non-extractable EC key pair (HSM_KEY_P256 or HSM_KEY_P384) labelled
 * ${label} in the token, with a random CKA_ID. Refuses a label already in
 * use. 0 and ${*out}, or -1.
 */
int hsm_key_generate(struct hsm *h, const char *label, enum hsm_key_type type,
    struct hsm_key **out, char err[static HSM_ERR_MAX]);

/*
 * hsm_key_generate_transport(h, label, out, err): a new persistent P-256
 * key pair for key agreement only (CKA_DERIVE, no CKA_SIGN; sensitive,
 * not extractable) labelled ${label}: the station's transport key, to
 * which pre-generated device keys are sealed (hsm_rewrap_sealed). 0 or -1.
 */
int hsm_key_generate_transport(struct hsm *h, const char *label,
    struct hsm_key **out, char err[static HSM_ERR_MAX]);

/* hsm_key_point(k, point): the 65-byte public point of a P-256 key. 0, or
 * -1 (hsm_error()). */
int hsm_key_point(struct hsm_key *k, uint8_t point[static 65]);

/* hsm_key_pkey(k): the key as an EVP_PKEY that signs through the token
 * (borrowed: valid until hsm_close). */
EVP_PKEY *hsm_key_pkey(struct hsm_key *k);

/* hsm_key_public(k): a new software EVP_PKEY with the public half. */
EVP_PKEY *hsm_key_public(struct hsm_key *k);

/* hsm_key_label(k): the key's CKA_LABEL. */
const char *hsm_key_label(const struct hsm_key *k);

/*
 * hsm_sign(key, digest, sig, sig_len): sign the SHA-256 ${digest} with
 * ${key} (a struct hsm_key *, void * so that it can be handed over as a
 * callback context). ${*sig_len} is the room in ${sig} on entry and the
 * signature's length on return: a DER ECDSA-Sig-Value (X9.62), at most
 * HSM_SIG_MAX bytes. 0, or -1 with the reason in hsm_error().
 */
int hsm_sign(void *key, const uint8_t digest[32], uint8_t *sig,
    size_t *sig_len);

/*
 * hsm_sign_rs(key, digest, rs): hsm_sign with a P-256 key, the signature
 * as raw r || s (32 bytes each, big-endian), as the stamp's SIGNATURE
 * record carries it. 0, or -1 with the reason in hsm_error().
 */
int hsm_sign_rs(struct hsm_key *key, const uint8_t digest[32],
    uint8_t rs[static 64]);

/*
 * hsm_key_id(key, id): SHA-256 of the key's 65-byte public point (P-256),
 * the key id of the stamp's SIGNATURE record. 0, or -1 (hsm_error()).
 */
int hsm_key_id(struct hsm_key *key, uint8_t id[static 32]);

/*
 * hsm_check_cert(key, cert_file, root_file, ca, err): the start-up check
 * of one role certificate: ${cert_file} (PEM) holds the public half of
 * ${key}, verifies to the self-signed ${root_file} (PEM), is valid now,
 * and has the key usages of its role (${ca}: a CA with keyCertSign and
 * cRLSign, pathlen 0; else digitalSignature). Each failure is named.
 */
int hsm_check_cert(struct hsm_key *key, const char *cert_file,
    const char *root_file, bool ca, char err[static HSM_ERR_MAX]);

/*
 * Token key mode (stamp-format/SPEC.md section 2, "Token mode"): the
 * device key is generated in the token as a session object and leaves it
 * only wrapped to the device's transport key T; the host never holds it.
 * ${context_fn} computes the 32-byte KEK context from the ephemeral point
 * E the token made (stamp_secret_context(E, T, WRAPPED_DEVICE_KEY) in
 * stamp-format), so the exact KDF input stays defined in one place.
 */
typedef int (*hsm_seal_context_fn)(void *arg, const uint8_t eph[65],
    uint8_t context[32]);

/*
 * hsm_keygen_sealed(h, type, transport, context_fn, arg, device_pub,
 * sealed, cap, sealed_len, err): a new device key pair (HSM_KEY_P256 or
 * HSM_KEY_P384) in the token; its public key in ${*device_pub} (caller
 * frees; hand it to hsm_issue_der; it holds the algorithm and the point,
 * for X509_PUBKEY_get0_param and i2d_X509_PUBKEY, and is not decoded:
 * X509_PUBKEY_get0 gives NULL on it) and E || C (the ephemeral point and the
 * RFC 5649 wrap of the PKCS#8 private key) in ${sealed} (HSM_SEALED_MAX
 * is enough). The pair is made as session objects (CKA_TOKEN false; the
 * private half CKA_SENSITIVE, CKA_EXTRACTABLE only to be wrapped, no
 * usage); it, the ephemeral pair, Z and the KEK are destroyed before
 * returning, on every path. There is no plaintext form here: a key in the
 * clear is the station's development-only "host" key mode, made with
 * OpenSSL outside this module (station/seal.c), which the caller audits.
 * 0, or -1.
 */
int hsm_keygen_sealed(struct hsm *h, enum hsm_key_type type,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, X509_PUBKEY **device_pub, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX]);

/*
 * hsm_rewrap_sealed(station_key, expect, in, in_len, in_context_fn,
 * in_arg, transport, context_fn, arg, sealed, cap, sealed_len, err): a device
 * private key that arrives sealed to this station's transport key
 * ${station_key} (${in} = E' || C', the same SPEC.md section 2 format with
 * the station key as recipient; ${in_context_fn} gives its KEK context
 * from E', i.e. stamp_secret_context(E', station point,
 * WRAPPED_DEVICE_KEY)) is opened inside the token into a session object
 * (ECDH with CKD_NULL, the KEK, C_UnwrapKey) and sealed to the device's
 * ${transport} key as hsm_keygen_sealed does (C_WrapKey): E || C in
 * ${sealed}. The key is never in host memory; every token object made is
 * destroyed before returning. A value not sealed to this station's key
 * fails at the unwrap. With ${expect} (the public key of the device's
 * certificate; NULL: not checked), the unwrapped key first signs a random
 * challenge in the token, verified here against ${expect}: a key that
 * does not belong to its certificate (a batch mix-up) is refused and
 * nothing is handed back. 0, or -1.
 */
int hsm_rewrap_sealed(struct hsm_key *station_key,
    const X509_PUBKEY *expect, const uint8_t *in,
    size_t in_len, hsm_seal_context_fn in_context_fn, void *in_arg,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static HSM_ERR_MAX]);

/*
 * Batch key generation (hsm/sealer.c): many P-256 device keys, each sealed
 * to one ${recipient} (a station's transport key) as hsm_keygen_sealed
 * does, at about a third of its token cost: a sealer keeps a session and
 * its ephemeral key and KEK for ${per_session} keys (SPEC.md section 2
 * values that share E), then starts a new session. One sealer per thread;
 * sealers on one token may run on several threads at once.
 *
 * hsm_sealer_open(h, recipient, context_fn, arg, per_session, out, err):
 * a sealer (nothing is made in the token until the first key). 0 or -1.
 * hsm_sealer_next(z, point, sealed, cap, sealed_len, err): a new device
 * key pair; its public point in ${point}, E || C in ${sealed}; no token
 * object survives. 0, or -1 with nothing handed out.
 * hsm_sealer_free(z): destroy its objects, close its session. NULL: no-op.
 */
struct hsm_sealer;
int hsm_sealer_open(struct hsm *h, const uint8_t recipient[static 65],
    hsm_seal_context_fn context_fn, void *arg, unsigned per_session,
    struct hsm_sealer **out, char err[static HSM_ERR_MAX]);
int hsm_sealer_next(struct hsm_sealer *z, uint8_t point[static 65],
    uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static HSM_ERR_MAX]);
void hsm_sealer_free(struct hsm_sealer *z);

/* The device certificate profile (IEEE 802.1AR IDevID). */
struct hsm_profile {
	const char *organization;    /* subject O */
	unsigned not_before_skew;    /* seconds notBefore lies in the past */
	unsigned validity_days;      /* 0: notAfter 99991231235959Z */
	unsigned key_types;          /* accepted device keys, HSM_KEY_* */
	bool hardware_module_name;   /* add the SAN otherName (RFC 4108) */
	const char *hardware_type;   /* its hwType OID, dotted */
};

/*
 * hsm_ca_open(out, h, key_uri, cert_file, root_file, profile, err): the
 * sub-CA whose key ${key_uri} is in ${h}, after the start-up check of
 * hsm_check_cert (CA usages) on ${cert_file} and ${root_file}; the
 * ${profile} is copied. 0 and ${*out}, or -1.
 */
int hsm_ca_open(struct hsm_ca **out, struct hsm *h, const char *key_uri,
    const char *cert_file, const char *root_file,
    const struct hsm_profile *profile, char err[static HSM_ERR_MAX]);

/* hsm_ca_free(ca): free it (the token stays open). NULL: no-op. */
void hsm_ca_free(struct hsm_ca *ca);

/* hsm_ca_cert(ca): the sub-CA certificate (borrowed). */
X509 *hsm_ca_cert(const struct hsm_ca *ca);

/* One device: its serial (1..HSM_SERIAL_MAX of A-Z a-z 0-9 - . : it is
 * also the subject's serialNumber, a PrintableString) and hardware id (1..HSM_HWID_MAX bytes; used only for the
 * HardwareModuleName). */
struct hsm_device {
	const char *serial;
	const uint8_t *hwid;
	size_t hwid_len;
};

/*
 * hsm_csr_check(csr, len, nonce, key_types, out, err): CSR intake, no
 * token needed. ${csr} is DER, at most HSM_CSR_MAX bytes, no trailing
 * bytes; its signature must verify with its own key (proof of
 * possession); its key must be one of ${key_types}; its extensionRequest
 * must carry the nonce extension equal to ${nonce} (HSM_NONCE_LEN bytes).
 * A NULL ${nonce} skips that check: only for an engineering issue of a
 * CSR from a file, which the caller records as such. Nothing else of the
 * CSR (subject, other extensions) is used. 0 and the CSR's public key in
 * ${*out} (caller frees), or -1 naming the reason.
 */
int hsm_csr_check(const uint8_t *csr, size_t len,
    const uint8_t *nonce, unsigned key_types,
    X509_PUBKEY **out, char err[static HSM_ERR_MAX]);

/*
 * hsm_issue_csr(ca, csr, len, nonce, dev, out, cap, out_len, err):
 * hsm_csr_check with the profile's key types, then hsm_issue_der: the
 * certificate as DER in ${out}. 0, or -1 naming the reason.
 */
int hsm_issue_csr(struct hsm_ca *ca, const uint8_t *csr, size_t len,
    const uint8_t *nonce, const struct hsm_device *dev,
    uint8_t *out, size_t cap, size_t *out_len, char err[static HSM_ERR_MAX]);

/*
 * hsm_issue_pubkey(ca, pub, dev, out, err): the device certificate for
 * ${pub} (one of the profile's key types) and ${dev}, signed in the HSM,
 * with a positive serial of 128 bits from the token's RNG. 0 and ${*out}
 * (caller frees), or -1. Decoding the result into an X509 costs about
 * twice the signature (OpenSSL 3 decodes the key): prefer hsm_issue_der
 * where DER is what is stored anyway.
 */
int hsm_issue_pubkey(struct hsm_ca *ca, const X509_PUBKEY *pub,
    const struct hsm_device *dev, X509 **out, char err[static HSM_ERR_MAX]);

/*
 * hsm_issue_der(ca, pub, dev, out, cap, len, err): as hsm_issue_pubkey,
 * the certificate as DER in ${out} (${cap} bytes; HSM_CERT_MAX is enough)
 * and its length in ${*len}. The fastest path (no X509 object).
 */
int hsm_issue_der(struct hsm_ca *ca, const X509_PUBKEY *pub,
    const struct hsm_device *dev, uint8_t *out, size_t cap, size_t *len,
    char err[static HSM_ERR_MAX]);

/* hsm_issue_key(...): hsm_issue_pubkey for an EVP_PKEY (public half). */
int hsm_issue_key(struct hsm_ca *ca, EVP_PKEY *pub,
    const struct hsm_device *dev, X509 **out, char err[static HSM_ERR_MAX]);

/* One revoked certificate for hsm_crl. */
struct hsm_revoked {
	const uint8_t *serial;       /* big-endian, as in the certificate */
	size_t serial_len;           /* 1..20 */
	time_t when;
	int reason;                  /* CRL_REASON_* of RFC 5280, or -1: none */
};

/*
 * hsm_crl(ca, list, n, crl_number, this_update, next_update, out, err): a
 * v2 CRL over the ${n} revoked certificates, with CRL number and
 * authority key id, signed by the sub-CA in the HSM. 0 and ${*out}, or -1.
 */
int hsm_crl(struct hsm_ca *ca, const struct hsm_revoked *list, size_t n,
    uint64_t crl_number, time_t this_update, time_t next_update,
    X509_CRL **out, char err[static HSM_ERR_MAX]);

/*
 * hsm_ca_request(key, subject_o, subject_cn, out, err): a CSR for a
 * (sub-CA) key in the token, signed by it, for the offline root to sign.
 * 0 and ${*out}, or -1.
 */
int hsm_ca_request(struct hsm_key *key, const char *subject_o,
    const char *subject_cn, X509_REQ **out, char err[static HSM_ERR_MAX]);

/*
 * hsm_cert_make(subject_key, subject_o, subject_cn, issuer_cert,
 * issuer_key, ca, days, out, err): a certificate for the public half of
 * ${subject_key} signed by ${issuer_key} (software or token). A NULL
 * ${issuer_cert} makes it self-signed. ${ca}: basicConstraints CA (pathlen
 * 0 unless self-signed), keyCertSign + cRLSign; else digitalSignature.
 * For the demo PKI and the root side of the ceremony in tests.
 */
int hsm_cert_make(EVP_PKEY *subject_key, const char *subject_o,
    const char *subject_cn, X509 *issuer_cert, EVP_PKEY *issuer_key, bool ca,
    unsigned days, X509 **out, char err[static HSM_ERR_MAX]);

/*
 * hsm_cert_make_transport(subject_key, subject_o, subject_cn, issuer_cert,
 * issuer_key, days, out, err): hsm_cert_make for a station transport key:
 * end-entity, keyUsage keyAgreement only. Batch generators seal device
 * keys to the key in this certificate.
 */
int hsm_cert_make_transport(EVP_PKEY *subject_key, const char *subject_o,
    const char *subject_cn, X509 *issuer_cert, EVP_PKEY *issuer_key,
    unsigned days, X509 **out, char err[static HSM_ERR_MAX]);

/*
 * ---- Production-order counters (hsm/orders.c) ----
 * The token's own record of the orders a station imported and how many
 * identities it allocated under each: a private CKO_DATA token object
 * labelled "order:<id>" (CKA_APPLICATION "station-order"), value the count
 * as 8 bytes big-endian. A database copied back to an older state cannot
 * roll these back. ${module} is the PKCS#11 module ${h} was opened with.
 * Order ids: 1..64 of A-Z a-z 0-9 . _ -.
 */

/* hsm_order_counter_get(h, module, order_id, count, err): 0 and the count,
 * 1 if the token has no record of ${order_id}, -1. */
int hsm_order_counter_get(struct hsm *h, const char *module,
    const char *order_id, uint64_t *count, char err[static HSM_ERR_MAX]);

/* hsm_order_counter_create(h, module, order_id, err): a new record with
 * count 0; -1 if one exists already. */
int hsm_order_counter_create(struct hsm *h, const char *module,
    const char *order_id, char err[static HSM_ERR_MAX]);

/* hsm_order_counter_set(h, module, order_id, count, err): raise the count
 * to ${count}; a lower count than the token's is refused. 0 or -1. */
int hsm_order_counter_set(struct hsm *h, const char *module,
    const char *order_id, uint64_t count, char err[static HSM_ERR_MAX]);

#endif
