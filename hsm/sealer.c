/*
 * sealer.c: device keys made in the token in bulk, each sealed to one
 * recipient (stamp-format/SPEC.md section 2), for pre-generated batches.
 *
 * hsm_keygen_sealed spends two key pairs, two derivations and a wrap per
 * device, in a session of its own. Here one sealer (one per thread) keeps
 * a session open for a run of keys to the same recipient: the ephemeral
 * pair E, Z and the KEK are made once per session, and each device key
 * then costs one C_GenerateKeyPair, one C_GetAttributeValue (its point),
 * one C_WrapKey and two C_DestroyObject. Every sealed value is still a
 * complete E || C of SPEC.md section 2 (the recipient cannot tell); the
 * keys of one session share E and so the KEK, which is what AES key wrap
 * (RFC 3394/5649) is made for: many distinct keys under one KEK.
 *
 * The session is closed and a new one (new E, new KEK) opened every
 * ${per_session} keys, which bounds how many keys share a KEK. Note that
 * SoftHSM 2.6 never frees a session object, destroyed or not, before
 * C_Finalize (measured: ~0.5 KB per device key pair, whether sessions are
 * reused or not); station/batch_keys.c therefore runs sealers in helper
 * processes that exit after a few thousand keys. No object outlives the
 * sealer; a failed call leaves no output and closes the session (the next
 * call opens a new one).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>

#include "hsm/internal.h"

#define N(t) (sizeof(t) / sizeof((t)[0]))

static const CK_BYTE p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07 };

struct hsm_sealer {
	struct hsm *h;
	CK_FUNCTION_LIST *f;
	CK_SESSION_HANDLE s;
	bool open;
	CK_OBJECT_HANDLE eph_pub, eph_priv, z, kek;
	uint8_t eph[65];
	uint8_t recipient[65];
	hsm_seal_context_fn context_fn;
	void *arg;
	unsigned per_session, used;
	const char *step;
};

/* point_of(f, s, obj, point): CKA_EC_POINT (DER OCTET STRING of the
 * 65-byte point, or the bare point) into ${point}. */
static CK_RV
point_of(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    uint8_t point[static 65])
{
	uint8_t der[80];
	CK_ATTRIBUTE a = { CKA_EC_POINT, der, sizeof(der) };
	CK_RV rv;

	if ((rv = f->C_GetAttributeValue(s, obj, &a, 1)) != CKR_OK)
		return rv;
	if (a.ulValueLen == 67 && der[0] == 0x04 && der[1] == 65 &&
	    der[2] == 0x04) {
		memcpy(point, der + 2, 65);
		return CKR_OK;
	}
	if (a.ulValueLen == 65 && der[0] == 0x04) {
		memcpy(point, der, 65);
		return CKR_OK;
	}
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

static void
session_close(struct hsm_sealer *z)
{
	if (!z->open)
		return;
	/* Newest first; the session would take them along anyway. */
	if (z->kek != CK_INVALID_HANDLE)
		z->f->C_DestroyObject(z->s, z->kek);
	if (z->z != CK_INVALID_HANDLE)
		z->f->C_DestroyObject(z->s, z->z);
	if (z->eph_priv != CK_INVALID_HANDLE)
		z->f->C_DestroyObject(z->s, z->eph_priv);
	if (z->eph_pub != CK_INVALID_HANDLE)
		z->f->C_DestroyObject(z->s, z->eph_pub);
	z->f->C_CloseSession(z->s);
	z->kek = z->z = z->eph_priv = z->eph_pub = CK_INVALID_HANDLE;
	z->open = false;
	OPENSSL_cleanse(z->eph, sizeof(z->eph));
}

/* session_open(z): a new session, E, Z = ECDH(e, R), KEK = AES-ECB(Z,
 * context(E)). */
static CK_RV
session_open(struct hsm_sealer *z)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG aes_len = 32;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) },
	};
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_DERIVE, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE z_tmpl[] = {
		{ CKA_CLASS, &secret, sizeof(secret) },
		{ CKA_KEY_TYPE, &aes, sizeof(aes) },
		{ CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_DERIVE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
	};
	CK_ATTRIBUTE kek_tmpl[] = {
		{ CKA_CLASS, &secret, sizeof(secret) },
		{ CKA_KEY_TYPE, &aes, sizeof(aes) },
		{ CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_WRAP, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
	};
	CK_ECDH1_DERIVE_PARAMS ecdh = { CKD_NULL, 0, NULL, 65, z->recipient };
	CK_MECHANISM m_ecdh = { CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh) };
	uint8_t context[32];
	CK_KEY_DERIVATION_STRING_DATA data = { context, 32 };
	CK_MECHANISM m_ecb = { CKM_AES_ECB_ENCRYPT_DATA, &data, sizeof(data) };
	CK_RV rv;

	z->step = "open a session";
	if ((rv = z->f->C_OpenSession(hsm_slot_id(z->h), CKF_SERIAL_SESSION |
	    CKF_RW_SESSION, NULL, NULL, &z->s)) != CKR_OK)
		return rv;
	z->open = true;
	z->used = 0;
	z->step = "generate the ephemeral key";
	if ((rv = z->f->C_GenerateKeyPair(z->s, &gen, pub_tmpl, N(pub_tmpl),
	    priv_tmpl, N(priv_tmpl), &z->eph_pub, &z->eph_priv)) != CKR_OK)
		return rv;
	z->step = "read the ephemeral public key";
	if ((rv = point_of(z->f, z->s, z->eph_pub, z->eph)) != CKR_OK)
		return rv;
	z->step = "compute the KEK context";
	if (z->context_fn(z->arg, z->eph, context) != 0)
		return CKR_FUNCTION_FAILED;
	z->step = "derive the shared secret with the recipient key (ECDH)";
	rv = z->f->C_DeriveKey(z->s, &m_ecdh, z->eph_priv, z_tmpl, N(z_tmpl),
	    &z->z);
	if (rv == CKR_OK) {
		z->step = "derive the key-encryption key";
		rv = z->f->C_DeriveKey(z->s, &m_ecb, z->z, kek_tmpl,
		    N(kek_tmpl), &z->kek);
	}
	OPENSSL_cleanse(context, sizeof(context));
	return rv;
}

int
hsm_sealer_open(struct hsm *h, const uint8_t recipient[static 65],
    hsm_seal_context_fn context_fn, void *arg, unsigned per_session,
    struct hsm_sealer **out, char err[static HSM_ERR_MAX])
{
	struct hsm_sealer *z;

	*out = NULL;
	if (per_session == 0) {
		hsm_fmt(err, "sealer: at least one key per session");
		return -1;
	}
	if (hsm_point_ok(recipient) != 1) {
		hsm_fmt(err, "the recipient key is not an uncompressed point on "
		    "P-256; nothing was sealed to it");
		return -1;
	}
	if ((z = calloc(1, sizeof(*z))) == NULL) {
		hsm_fmt(err, "out of memory");
		return -1;
	}
	z->h = h;
	z->f = hsm_p11fn_list(hsm_fn(h));
	memcpy(z->recipient, recipient, 65);
	z->context_fn = context_fn;
	z->arg = arg;
	z->per_session = per_session;
	z->kek = z->z = z->eph_priv = z->eph_pub = CK_INVALID_HANDLE;
	*out = z;
	return 0;
}

/* One device key in the open session: generate, read, wrap, destroy. */
static CK_RV
keygen_one(struct hsm_sealer *z, uint8_t point[static 65], uint8_t *sealed,
    size_t cap, size_t *sealed_len)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_ULONG wrapped_len = (CK_ULONG)(cap - 65);
	CK_RV rv;
	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) },
	};
	/* As hsm_keygen_sealed: extractable only to be wrapped, sensitive,
	 * no usage. */
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};

	z->step = "generate the device key";
	if ((rv = z->f->C_GenerateKeyPair(z->s, &gen, pub_tmpl, N(pub_tmpl),
	    priv_tmpl, N(priv_tmpl), &pub, &priv)) != CKR_OK)
		return rv;
	z->step = "read the device public key";
	if ((rv = point_of(z->f, z->s, pub, point)) != CKR_OK)
		goto cleanup;
	z->step = "wrap the device key";
	rv = z->f->C_WrapKey(z->s, &kwp, z->kek, priv, sealed + 65,
	    &wrapped_len);
	if (rv == CKR_OK) {
		memcpy(sealed, z->eph, 65);
		*sealed_len = 65 + wrapped_len;
	}
cleanup:
	z->f->C_DestroyObject(z->s, priv);
	z->f->C_DestroyObject(z->s, pub);
	return rv;
}

int
hsm_sealer_next(struct hsm_sealer *z, uint8_t point[static 65],
    uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static HSM_ERR_MAX])
{
	CK_RV rv = CKR_OK;
	char what[160];

	*sealed_len = 0;
	if (cap < 65 + 16) {
		hsm_fmt(err, "sealer: output buffer too small");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (z->open && z->used >= z->per_session)
			session_close(z);
		if (!z->open && (rv = session_open(z)) != CKR_OK) {
			session_close(z);
			if (rv == CKR_SESSION_HANDLE_INVALID ||
			    rv == CKR_SESSION_CLOSED)
				continue;
			break;
		}
		rv = keygen_one(z, point, sealed, cap, sealed_len);
		z->used++;
		if (rv == CKR_OK)
			return 0;
		session_close(z);
		/* A lost session is retried once, in a new one: nothing of
		 * the first attempt survives or was handed out. */
		if (rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED)
			break;
	}
	OPENSSL_cleanse(sealed, cap);
	*sealed_len = 0;
	snprintf(what, sizeof(what), "batch keys: cannot %s", z->step);
	hsm_p11_fail(err, z->h, what, rv);
	return -1;
}

void
hsm_sealer_free(struct hsm_sealer *z)
{
	if (z == NULL)
		return;
	session_close(z);
	OPENSSL_cleanse(z, sizeof(*z));
	free(z);
}
