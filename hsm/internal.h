/*
 * internal.h: what the files of hsm/ share and nobody else sees.
 *
 * token.c owns struct hsm and struct hsm_key (libp11 objects); p11fn.c
 * makes the calls libp11 0.4.12 lacks through the module's own function
 * list; ca.c, device.c, csr.c and crl.c build certificates, requests and
 * CRLs on top.
 */
#ifndef HSM_INTERNAL_H
#define HSM_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "hsm/hsm.h"

#define HSM_LABEL_MAX 64
#define HSM_ID_LEN 16        /* CKA_ID of the keys generated here */
#define HSM_KEYS_MAX 32      /* keys looked up or generated per open token */

/* hsm_fmt(err, fmt, ...): format ${err}; for the err buffers. */
void hsm_fmt(char err[static HSM_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* hsm_ossl(err, what): ${what} and OpenSSL's first queued error; clears
 * OpenSSL's queue. */
void hsm_ossl(char err[static HSM_ERR_MAX], const char *what);

/* The module's function list, for what libp11 lacks (p11fn.c). */
struct hsm_p11fn;

/* hsm_p11fn_open(module, err): dlopen ${module} again (the same handle as
 * libp11's) and get its function list; it is already initialised. */
struct hsm_p11fn *hsm_p11fn_open(const char *module,
    char err[static HSM_ERR_MAX]);
void hsm_p11fn_close(struct hsm_p11fn *fn);

/* hsm_p11fn_list(fn): its CK_FUNCTION_LIST * (as void *: this header does
 * not include pkcs11.h). */
void *hsm_p11fn_list(struct hsm_p11fn *fn);

/* hsm_point_ok(point): 1 if ${point} is an uncompressed P-256 point on the
 * curve (checked before a token uses it in ECDH), else 0. */
int hsm_point_ok(const uint8_t point[static 65]);

/* hsm_p11fn_ec_keygen(h, type, label, id, derive, err): a persistent,
 * private, sensitive, non-extractable EC key pair in the token of ${h}:
 * for signing, or with ${derive} for key agreement only (CKA_DERIVE, no
 * CKA_SIGN). The session's login is the application's. 0 or -1. */
int hsm_p11fn_ec_keygen(struct hsm *h, enum hsm_key_type type,
    const char *label, const uint8_t id[static HSM_ID_LEN], bool derive,
    char err[static HSM_ERR_MAX]);

/* hsm_p11fn_keygen_sealed(h, type, transport, context_fn, arg, point,
 * point_len, sealed, cap, sealed_len, err): the token key mode (see
 * hsm_keygen_sealed); the device's public point (point_len bytes) goes to
 * ${point}. */
int hsm_p11fn_keygen_sealed(struct hsm *h, enum hsm_key_type type,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, uint8_t *point, size_t point_len, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX]);

/* A proof that an unwrapped key is the one expected: the token signs
 * ${challenge} (32 bytes, CKM_ECDSA) with it; raw r || s comes back. */
struct hsm_proof {
	uint8_t challenge[32];
	uint8_t sig[96];
	size_t sig_len;
};

/* hsm_p11fn_rewrap(h, id, id_len, proof, in, in_len, in_context_fn,
 * in_arg, transport, context_fn, arg, sealed, cap, sealed_len, err): see
 * hsm_rewrap_sealed; the station key is the private key with CKA_ID
 * ${id}, its handle cached in ${*handle}; ${proof} (may be NULL) is
 * signed with the unwrapped key. */
int hsm_p11fn_rewrap(struct hsm *h, const uint8_t *id, size_t id_len,
    _Atomic unsigned long *handle, struct hsm_proof *proof,
    const uint8_t *in, size_t in_len, hsm_seal_context_fn in_context_fn,
    void *in_arg, const uint8_t transport[static 65],
    hsm_seal_context_fn context_fn, void *arg, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX]);

/* hsm_p11_fail(err, h, what, rv): "token 'LABEL': WHAT: what happened
 * (CKR_NAME); what to do" (p11err.c). */
void hsm_p11_fail(char err[static HSM_ERR_MAX], struct hsm *h,
    const char *what, unsigned long rv);

/* hsm_p11_ossl(err, h, what, fallback): after a failed libp11 call: the
 * hsm_p11_fail message if libp11 left a PKCS#11 code, else hsm_ossl with
 * ${fallback}. */
void hsm_p11_ossl(char err[static HSM_ERR_MAX], struct hsm *h,
    const char *what, const char *fallback);

/* hsm_ckr_name(rv): "CKR_..." for the codes the station meets, or NULL. */
const char *hsm_ckr_name(unsigned long rv);

/* hsm_ossl_take(first): empty OpenSSL's error queue; the PKCS#11 code
 * libp11 left in it (0: none), the first error in ${*first}. */
unsigned long hsm_ossl_take(unsigned long *first);

/* hsm_sign_der(k, what, digest, digest_len, sig, sig_len, err): the
 * token's DER signature over a digest; ${*sig_len} is the room on entry.
 * A lost session is tried once more; a failure names the token, ${what}
 * and the key, and leaves ${sig} wiped. 0 or -1. */
int hsm_sign_der(struct hsm_key *k, const char *what, const uint8_t *digest,
    size_t digest_len, uint8_t *sig, size_t *sig_len,
    char err[static HSM_ERR_MAX]);

/* hsm_key_handle(k): where p11fn.c keeps the key's object handle once
 * found (token objects keep their handles while the application runs;
 * looking a key up costs SoftHSM about 0.2 ms). */
_Atomic unsigned long *hsm_key_handle(struct hsm_key *k);

/* hsm_key_ckid(k, len): the key's CKA_ID and its length. */
const uint8_t *hsm_key_ckid(const struct hsm_key *k, size_t *len);

/* hsm_key_type_of(pkey): the HSM_KEY_* of a public key, 0 if none. */
unsigned hsm_key_type_of(const EVP_PKEY *pkey);

/* hsm_key_type_of_spki(pub): the same read from an X509_PUBKEY, without
 * decoding the key. */
unsigned hsm_key_type_of_spki(const X509_PUBKEY *pub);

/* hsm_key_type_name(type): "P-256", "P-384", "Ed25519". */
const char *hsm_key_type_name(unsigned type);

/* hsm_key_hsm(k): the token a key belongs to. */
struct hsm *hsm_key_hsm(const struct hsm_key *k);

/* hsm_fn(h), hsm_slot_id(h): the token's function list and slot id. */
struct hsm_p11fn *hsm_fn(struct hsm *h);
unsigned long hsm_slot_id(struct hsm *h);

/* hsm_err_buf(h): the buffer behind hsm_error(h), for hsm_ossl(). */
char *hsm_err_buf(struct hsm *h);

/* hsm_set_error(h, fmt, ...): for calls without an err buffer. */
void hsm_set_error(struct hsm *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The sub-CA (ca.c); device.c and crl.c use it. Everything a device
 * certificate shares is DER-encoded once, here, when the sub-CA is opened:
 * device.c then writes each certificate by concatenation.
 */
struct hsm_ca {
	struct hsm *h;
	struct hsm_key *key;
	const EVP_MD *md;            /* SHA-256 for P-256, SHA-384 for P-384 */
	X509 *cert;
	X509 *root;
	struct hsm_profile profile;  /* its strings point into the next two */
	char organization[65];
	char hardware_type[128];
	/* Pre-encoded DER pieces of the device certificate. */
	uint8_t sigalg[16];          /* AlgorithmIdentifier ecdsa-with-SHAx */
	size_t sigalg_len;
	uint8_t issuer[1024];        /* the sub-CA's subject Name */
	size_t issuer_len;
	uint8_t subject_o[128];      /* SET { SEQ { O, UTF8String } } */
	size_t subject_o_len;
	uint8_t not_after[20];       /* the fixed notAfter Time, or empty */
	size_t not_after_len;
	uint8_t ext_ec[96];          /* basicConstraints, keyUsage (EC), EKU */
	size_t ext_ec_len;
	uint8_t ext_ed[96];          /* the same, keyUsage for Ed25519 */
	size_t ext_ed_len;
	uint8_t aki[64];             /* authorityKeyIdentifier extension */
	size_t aki_len;
	uint8_t hw_type[130];        /* OID TLV of the hwType */
	size_t hw_type_len;
	/* Serial numbers: token RNG output fetched 256 at a time, so that a
	 * certificate costs one token call (the signature), not two. */
	pthread_mutex_t serial_lock;
	uint8_t serials[16 * 256];
	size_t serials_left;         /* unused serials at the end of serials */
};

/* hsm_read_cert(file, what, err): a PEM certificate; ${what} names it in
 * messages ("sub-CA certificate"). */
X509 *hsm_read_cert(const char *file, const char *what,
    char err[static HSM_ERR_MAX]);

/* hsm_md_for(pkey): the digest that goes with a signing key. */
const EVP_MD *hsm_md_for(const EVP_PKEY *pkey);

#endif
