/*
 * p11fn.c: the few PKCS#11 calls libp11 0.4.12 does not offer, made
 * through the module's own function list.
 *
 * The module is dlopen()ed a second time, which hands back libp11's
 * handle (reference counted), and asked for C_GetFunctionList. libp11 has
 * already called C_Initialize, so no second one is made (and no
 * C_Finalize: libp11 does that when it unloads). Sessions opened here are
 * closed before returning; the login state is the application's, shared
 * with libp11's session.
 *
 * Three things live here: persistent EC key generation (libp11 0.4.12
 * makes RSA only), the token key mode of stamp-format/SPEC.md section 2
 * (a device key made in the token as a session object and wrapped, inside
 * the token, to the device's transport key: ECDH with CKD_NULL, KEK =
 * CKM_AES_ECB_ENCRYPT_DATA of the caller's context under Z, then
 * CKM_AES_KEY_WRAP_PAD), and re-wrapping: a device key sealed the same way
 * to the station's own transport key (a token key with CKA_DERIVE) is
 * unwrapped into a session object (C_DeriveKey, C_DeriveKey, C_UnwrapKey)
 * and sealed again to a device. The host never holds such a key in
 * plaintext: only sealed values and public points cross the interface.
 *
 * Every operation runs in a session of its own whose objects are all
 * session objects, destroyed before the session is closed, on every path.
 * Output is written only when the last step succeeded. A session lost
 * under an operation (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED) is
 * retried once in a new session: safe, since nothing of the first attempt
 * survives or was handed out, and no PIN is involved (the login belongs to
 * the application, not the session). If the login itself is gone, the
 * retry answers CKR_USER_NOT_LOGGED_IN and the error says the officer must
 * log in again.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>

#include "hsm/internal.h"

struct hsm_p11fn {
	void *dl;
	CK_FUNCTION_LIST *f;
};

struct hsm_p11fn *
hsm_p11fn_open(const char *module, char err[static HSM_ERR_MAX])
{
	struct hsm_p11fn *fn;
	CK_C_GetFunctionList get;

	if ((fn = calloc(1, sizeof(*fn))) == NULL) {
		hsm_fmt(err, "out of memory");
		return NULL;
	}
	if ((fn->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		hsm_fmt(err, "cannot load %s: %s", module, dlerror());
		goto fail;
	}
	*(void **)(&get) = dlsym(fn->dl, "C_GetFunctionList");
	if (get == NULL || get(&fn->f) != CKR_OK || fn->f == NULL) {
		hsm_fmt(err, "%s has no PKCS#11 function list", module);
		goto fail;
	}
	return fn;
fail:
	hsm_p11fn_close(fn);
	return NULL;
}

void *
hsm_p11fn_list(struct hsm_p11fn *fn)
{
	return fn->f;
}

void
hsm_p11fn_close(struct hsm_p11fn *fn)
{
	if (fn == NULL)
		return;
	if (fn->dl != NULL)
		dlclose(fn->dl);
	free(fn);
}

int
hsm_p11fn_ec_keygen(struct hsm *h, enum hsm_key_type type, const char *label,
    const uint8_t id[static HSM_ID_LEN], bool derive,
    char err[static HSM_ERR_MAX])
{
	struct hsm_p11fn *fn = hsm_fn(h);
	/* DER OIDs of the named curves: CKA_EC_PARAMS. */
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	    0x3d, 0x03, 0x01, 0x07 };
	static const CK_BYTE p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
	    0x22 };
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub, priv;
	CK_RV rv;
	CK_ULONG label_len = strlen(label);
	const CK_BYTE *params;
	CK_ULONG params_len;

	if (type == HSM_KEY_P256) {
		params = p256;
		params_len = sizeof(p256);
	} else if (type == HSM_KEY_P384) {
		params = p384;
		params_len = sizeof(p384);
	} else {
		hsm_fmt(err, "keys generated in the token are P-256 or P-384");
		return -1;
	}
	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)params, params_len },
		{ CKA_LABEL, (void *)label, label_len },
		{ CKA_ID, (void *)id, HSM_ID_LEN },
	};
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, derive ? &no : &yes, sizeof(yes) },
		{ CKA_DERIVE, derive ? &yes : &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, label_len },
		{ CKA_ID, (void *)id, HSM_ID_LEN },
	};

	rv = fn->f->C_OpenSession(hsm_slot_id(h),
	    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		hsm_p11_fail(err, h, "open a session for key generation", rv);
		return -1;
	}
	rv = fn->f->C_GenerateKeyPair(s, &mech, pub_tmpl,
	    sizeof(pub_tmpl) / sizeof(pub_tmpl[0]), priv_tmpl,
	    sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &pub, &priv);
	fn->f->C_CloseSession(s);
	if (rv != CKR_OK) {
		char what[128];

		snprintf(what, sizeof(what), "generate %s key '%s'",
		    hsm_key_type_name(type), label);
		hsm_p11_fail(err, h, what, rv);
		return -1;
	}
	return 0;
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

/* DER OIDs of the named curves: CKA_EC_PARAMS. */
static const CK_BYTE p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07 };
static const CK_BYTE p384_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

/* One operation: its own session and every object it made there. */
struct op {
	CK_FUNCTION_LIST *f;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE obj[8];
	size_t nobj;
	const char *step;    /* what was being done, for the message */
};

static CK_RV
op_begin(struct op *o, struct hsm *h)
{
	o->f = hsm_fn(h)->f;
	o->nobj = 0;
	o->step = "open a session";
	return o->f->C_OpenSession(hsm_slot_id(h),
	    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &o->s);
}

static void
keep(struct op *o, CK_OBJECT_HANDLE obj)
{
	if (o->nobj < N(o->obj))
		o->obj[o->nobj++] = obj;
}

/* op_end(o): destroy every object made, newest first, then close the
 * session (session objects die with it anyway; this is not left to it). */
static void
op_end(struct op *o)
{
	while (o->nobj > 0)
		o->f->C_DestroyObject(o->s, o->obj[--o->nobj]);
	o->f->C_CloseSession(o->s);
}

static int
session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED;
}

/* read_point(o, obj, point, len): CKA_EC_POINT (DER OCTET STRING 04 41 ||
 * 65-byte point, or the bare point from some tokens) -> ${len} bytes. */
static CK_RV
read_point(struct op *o, CK_OBJECT_HANDLE obj, uint8_t *point, size_t len)
{
	uint8_t der[160];
	CK_ATTRIBUTE a = { CKA_EC_POINT, der, sizeof(der) };
	CK_RV rv;

	if ((rv = o->f->C_GetAttributeValue(o->s, obj, &a, 1)) != CKR_OK)
		return rv;
	if (a.ulValueLen == len + 2 && der[0] == 0x04 && der[1] == len) {
		memcpy(point, der + 2, len);
		return CKR_OK;
	}
	if (len >= 128 && a.ulValueLen == len + 3 && der[0] == 0x04 &&
	    der[1] == 0x81 && der[2] == len) {
		memcpy(point, der + 3, len);
		return CKR_OK;
	}
	if (a.ulValueLen == len && der[0] == 0x04) {
		memcpy(point, der, len);
		return CKR_OK;
	}
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

/* derive_kek(o, priv, peer, context, kek_attr, kek): Z = ECDH(priv, peer)
 * (CKD_NULL) as a non-extractable AES key, then the KEK =
 * AES-ECB(Z, context), usable for ${kek_attr} (CKA_WRAP or CKA_UNWRAP). */
static CK_RV
derive_kek(struct op *o, CK_OBJECT_HANDLE priv, const uint8_t peer[65],
    uint8_t context[32], CK_ATTRIBUTE_TYPE kek_attr, CK_OBJECT_HANDLE *kek)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG aes_len = 32;
	CK_OBJECT_HANDLE z;
	CK_RV rv;
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
		{ kek_attr, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
	};
	CK_ECDH1_DERIVE_PARAMS ecdh = { CKD_NULL, 0, NULL, 65, (CK_BYTE *)peer };
	CK_MECHANISM m_ecdh = { CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh) };
	CK_KEY_DERIVATION_STRING_DATA data = { context, 32 };
	CK_MECHANISM m_ecb = { CKM_AES_ECB_ENCRYPT_DATA, &data, sizeof(data) };

	if ((rv = o->f->C_DeriveKey(o->s, &m_ecdh, priv, z_tmpl, N(z_tmpl),
	    &z)) != CKR_OK)
		return rv;
	keep(o, z);
	o->step = "derive the key-encryption key";
	if ((rv = o->f->C_DeriveKey(o->s, &m_ecb, z, kek_tmpl, N(kek_tmpl),
	    kek)) != CKR_OK)
		return rv;
	keep(o, *kek);
	return CKR_OK;
}

/*
 * seal_to(o, key, transport, context_fn, arg, out, cap, out_len): the
 * private key object ${key} sealed to ${transport} (SPEC.md section 2):
 * a fresh ephemeral key in the token, Z, the KEK, C_WrapKey. E || C goes
 * to ${out} only once everything succeeded.
 */
static CK_RV
seal_to(struct op *o, CK_OBJECT_HANDLE key, const uint8_t transport[65],
    hsm_seal_context_fn context_fn, void *arg, uint8_t *out, size_t cap,
    size_t *out_len)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE eph_pub, eph_priv, kek;
	CK_ULONG wrapped_len;
	CK_RV rv;
	uint8_t eph[65], context[32];
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

	o->step = "generate the ephemeral key";
	if ((rv = o->f->C_GenerateKeyPair(o->s, &gen, pub_tmpl, N(pub_tmpl),
	    priv_tmpl, N(priv_tmpl), &eph_pub, &eph_priv)) != CKR_OK)
		return rv;
	keep(o, eph_pub);
	keep(o, eph_priv);
	o->step = "read the ephemeral public key";
	if ((rv = read_point(o, eph_pub, eph, sizeof(eph))) != CKR_OK)
		return rv;
	o->step = "compute the KEK context";
	if (context_fn(arg, eph, context) != 0)
		return CKR_FUNCTION_FAILED;
	o->step = "derive the shared secret with the transport key (ECDH)";
	rv = derive_kek(o, eph_priv, transport, context, CKA_WRAP, &kek);
	OPENSSL_cleanse(context, sizeof(context));
	if (rv != CKR_OK)
		return rv;
	o->step = "wrap the device key";
	wrapped_len = (CK_ULONG)(cap - sizeof(eph));
	if ((rv = o->f->C_WrapKey(o->s, &kwp, kek, key, out + sizeof(eph),
	    &wrapped_len)) != CKR_OK) {
		OPENSSL_cleanse(out, cap);
		return rv;
	}
	memcpy(out, eph, sizeof(eph));
	*out_len = sizeof(eph) + wrapped_len;
	return CKR_OK;
}

/* fail(err, h, mode, o, rv): the message for step ${o->step}. */
static void
fail(char err[static HSM_ERR_MAX], struct hsm *h, const char *mode,
    const struct op *o, CK_RV rv)
{
	char what[160];

	snprintf(what, sizeof(what), "%s: cannot %s", mode, o->step);
	hsm_p11_fail(err, h, what, rv);
}

/* One attempt of hsm_p11fn_keygen_sealed, in a new session. */
static CK_RV
keygen_once(struct op *o, enum hsm_key_type type,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, uint8_t *point, size_t point_len, uint8_t *sealed, size_t cap,
    size_t *sealed_len)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE dev_pub, dev_priv;
	CK_RV rv;
	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)(type == HSM_KEY_P384 ? p384_oid :
		    p256_oid), type == HSM_KEY_P384 ? sizeof(p384_oid) :
		    sizeof(p256_oid) },
	};
	/* Extractable only so that it can be wrapped; sensitive, so that it
	 * never leaves in the clear; no usage: the token never uses it. */
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};

	o->step = "generate the device key";
	if ((rv = o->f->C_GenerateKeyPair(o->s, &gen, pub_tmpl, N(pub_tmpl),
	    priv_tmpl, N(priv_tmpl), &dev_pub, &dev_priv)) != CKR_OK)
		return rv;
	keep(o, dev_pub);
	keep(o, dev_priv);
	o->step = "read the device public key";
	if ((rv = read_point(o, dev_pub, point, point_len)) != CKR_OK)
		return rv;
	return seal_to(o, dev_priv, transport, context_fn, arg, sealed, cap,
	    sealed_len);
}

int
hsm_p11fn_keygen_sealed(struct hsm *h, enum hsm_key_type type,
    const uint8_t transport[static 65], hsm_seal_context_fn context_fn,
    void *arg, uint8_t *point, size_t point_len, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX])
{
	struct op o;
	CK_RV rv;

	*sealed_len = 0;
	if (cap < 65 + 16) {
		hsm_fmt(err, "sealed device key: output buffer too small");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rv = op_begin(&o, h)) != CKR_OK)
			break;
		rv = keygen_once(&o, type, transport, context_fn, arg, point,
		    point_len, sealed, cap, sealed_len);
		op_end(&o);
		if (!session_lost(rv))
			break;
	}
	if (rv != CKR_OK) {
		*sealed_len = 0;
		fail(err, h, "token key mode", &o, rv);
		return -1;
	}
	return 0;
}

/* find_private(o, id, id_len, out): the private key with CKA_ID ${id}. */
static CK_RV
find_private(struct op *o, const uint8_t *id, size_t id_len,
    CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, id_len },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = o->f->C_FindObjectsInit(o->s, tmpl, N(tmpl))) != CKR_OK)
		return rv;
	rv = o->f->C_FindObjects(o->s, found, 2, &n);
	o->f->C_FindObjectsFinal(o->s);
	if (rv != CKR_OK)
		return rv;
	if (n != 1)
		return CKR_KEY_HANDLE_INVALID;
	*out = found[0];
	return CKR_OK;
}

/* One attempt of hsm_p11fn_rewrap, in a new session. */
static CK_RV
rewrap_once(struct op *o, const uint8_t *id, size_t id_len,
    _Atomic unsigned long *handle, struct hsm_proof *proof, const uint8_t *in, size_t in_len,
    hsm_seal_context_fn in_context_fn, void *in_arg,
    const uint8_t transport[static 65],
    hsm_seal_context_fn context_fn, void *arg, uint8_t *sealed, size_t cap,
    size_t *sealed_len)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
	CK_KEY_TYPE ec = CKK_EC;
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE station, kek, dev;
	uint8_t context[32];
	CK_RV rv;
	CK_ATTRIBUTE dev_tmpl[] = {
		{ CKA_CLASS, &priv_class, sizeof(priv_class) },
		{ CKA_KEY_TYPE, &ec, sizeof(ec) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		/* Signs only the proof, in this session, if one is asked. */
		{ CKA_SIGN, proof != NULL ? &yes : &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_ULONG sig_len;

	o->step = "find the station transport key";
	if ((station = *handle) == 0) {
		if ((rv = find_private(o, id, id_len, &station)) != CKR_OK)
			return rv;
		*handle = station;
	}
	o->step = "compute the KEK context of the sealed key";
	if (in_context_fn(in_arg, in, context) != 0)
		return CKR_FUNCTION_FAILED;
	o->step = "derive the shared secret with the station transport key "
	    "(ECDH)";
	rv = derive_kek(o, station, in, context, CKA_UNWRAP, &kek);
	OPENSSL_cleanse(context, sizeof(context));
	if (rv != CKR_OK)
		return rv;
	o->step = "unwrap the device key";
	if ((rv = o->f->C_UnwrapKey(o->s, &kwp, kek, (CK_BYTE *)in + 65,
	    (CK_ULONG)(in_len - 65), dev_tmpl, N(dev_tmpl), &dev)) != CKR_OK)
		return rv;
	keep(o, dev);
	if (proof != NULL) {
		o->step = "sign the proof with the unwrapped device key";
		sig_len = sizeof(proof->sig);
		if ((rv = o->f->C_SignInit(o->s, &ecdsa, dev)) != CKR_OK ||
		    (rv = o->f->C_Sign(o->s, proof->challenge,
		    sizeof(proof->challenge), proof->sig, &sig_len)) != CKR_OK)
			return rv;
		proof->sig_len = sig_len;
	}
	return seal_to(o, dev, transport, context_fn, arg, sealed, cap,
	    sealed_len);
}

int
hsm_p11fn_rewrap(struct hsm *h, const uint8_t *id, size_t id_len,
    _Atomic unsigned long *handle, struct hsm_proof *proof, const uint8_t *in, size_t in_len,
    hsm_seal_context_fn in_context_fn,
    void *in_arg, const uint8_t transport[static 65],
    hsm_seal_context_fn context_fn, void *arg, uint8_t *sealed, size_t cap,
    size_t *sealed_len, char err[static HSM_ERR_MAX])
{
	struct op o;
	CK_RV rv;

	*sealed_len = 0;
	if (cap < 65 + 16) {
		hsm_fmt(err, "re-wrap: output buffer too small");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rv = op_begin(&o, h)) != CKR_OK)
			break;
		rv = rewrap_once(&o, id, id_len, handle, proof, in, in_len,
		    in_context_fn, in_arg, transport, context_fn, arg, sealed, cap,
		    sealed_len);
		op_end(&o);
		/* A cached handle the token no longer knows: look it up again. */
		if ((rv == CKR_KEY_HANDLE_INVALID ||
		    rv == CKR_OBJECT_HANDLE_INVALID) && *handle != 0) {
			*handle = 0;
			continue;
		}
		if (!session_lost(rv))
			break;
	}
	if (rv != CKR_OK) {
		*sealed_len = 0;
		/* SoftHSM answers a wrap that does not open with
		 * CKR_GENERAL_ERROR; other tokens with the proper codes. */
		if (strcmp(o.step, "unwrap the device key") == 0 &&
		    (rv == CKR_GENERAL_ERROR || rv == CKR_WRAPPED_KEY_INVALID ||
		    rv == CKR_ENCRYPTED_DATA_INVALID))
			hsm_fmt(err, "token '%s': re-wrap: the sealed device key "
			    "does not open with this station's transport key "
			    "(%s): it was sealed to another key or is damaged; "
			    "nothing was written", hsm_token_label(h),
			    hsm_ckr_name(rv));
		else
			fail(err, h, "re-wrap", &o, rv);
		return -1;
	}
	return 0;
}
#undef N
