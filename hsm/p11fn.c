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
 * Two things live here: persistent EC key generation (libp11 0.4.12 makes
 * RSA only) and the token key mode of stamp-format/SPEC.md section 2: a
 * device key made in the token as a session object and wrapped, inside
 * the token, to the device's transport key (ECDH with CKD_NULL, KEK =
 * CKM_AES_ECB_ENCRYPT_DATA of the caller's context under Z, then
 * CKM_AES_KEY_WRAP_PAD), so the host never holds it in plaintext.
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
hsm_p11fn_ec_keygen(struct hsm_p11fn *fn, unsigned long slot_id,
    enum hsm_key_type type, const char *label,
    const uint8_t id[static HSM_ID_LEN], char err[static HSM_ERR_MAX])
{
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
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, label_len },
		{ CKA_ID, (void *)id, HSM_ID_LEN },
	};

	rv = fn->f->C_OpenSession(slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s);
	if (rv != CKR_OK) {
		hsm_fmt(err, "cannot open a session for key generation "
		    "(PKCS#11 error 0x%lx)", rv);
		return -1;
	}
	rv = fn->f->C_GenerateKeyPair(s, &mech, pub_tmpl,
	    sizeof(pub_tmpl) / sizeof(pub_tmpl[0]), priv_tmpl,
	    sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &pub, &priv);
	fn->f->C_CloseSession(s);
	if (rv != CKR_OK) {
		hsm_fmt(err, "the token refused to generate %s key '%s' "
		    "(PKCS#11 error 0x%lx)", hsm_key_type_name(type), label, rv);
		return -1;
	}
	return 0;
}

/* find_point(f, s, obj, point): CKA_EC_POINT (DER OCTET STRING 04 41 ||
 * 65-byte point, or the bare point from some tokens) -> 65 bytes. */
static int
read_point(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    uint8_t *point, size_t len)
{
	uint8_t der[160];
	CK_ATTRIBUTE a = { CKA_EC_POINT, der, sizeof(der) };

	if (f->C_GetAttributeValue(s, obj, &a, 1) != CKR_OK)
		return -1;
	if (a.ulValueLen == len + 2 && der[0] == 0x04 && der[1] == len) {
		memcpy(point, der + 2, len);
		return 0;
	}
	if (len >= 128 && a.ulValueLen == len + 3 && der[0] == 0x04 &&
	    der[1] == 0x81 && der[2] == len) {
		memcpy(point, der + 3, len);
		return 0;
	}
	if (a.ulValueLen == len && der[0] == 0x04) {
		memcpy(point, der, len);
		return 0;
	}
	return -1;
}

int
hsm_p11fn_keygen_sealed(struct hsm_p11fn *fn, unsigned long slot_id,
    enum hsm_key_type type, const uint8_t transport[static 65],
    hsm_seal_context_fn context_fn, void *arg, uint8_t *point,
    size_t point_len, uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static HSM_ERR_MAX])
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	    0x3d, 0x03, 0x01, 0x07 };
	static const CK_BYTE p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
	    0x22 };
	CK_FUNCTION_LIST *f = fn->f;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG aes_len = 32, wrapped_len;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE dev_pub = 0, dev_priv = 0, eph_pub = 0, eph_priv = 0;
	CK_OBJECT_HANDLE z = 0, kek = 0;
	CK_RV rv;
	uint8_t eph[65], context[32];
	const char *step = "";
	int ret = -1;

	CK_ATTRIBUTE dev_pub_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)(type == HSM_KEY_P384 ? p384 : p256),
		    type == HSM_KEY_P384 ? sizeof(p384) : sizeof(p256) },
	};
	CK_ATTRIBUTE dev_priv_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE eph_pub_tmpl[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
	};
	CK_ATTRIBUTE eph_priv_tmpl[] = {
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
	CK_ECDH1_DERIVE_PARAMS ecdh = { CKD_NULL, 0, NULL, 65,
	    (CK_BYTE *)transport };
	CK_MECHANISM derive = { CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh) };
	CK_KEY_DERIVATION_STRING_DATA data = { context, sizeof(context) };
	CK_MECHANISM ecb = { CKM_AES_ECB_ENCRYPT_DATA, &data, sizeof(data) };

#define N(t) (sizeof(t) / sizeof((t)[0]))
	*sealed_len = 0;
	if (cap < sizeof(eph) + 16) {
		hsm_fmt(err, "sealed device key: output buffer too small");
		return -1;
	}
	rv = f->C_OpenSession(slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s);
	if (rv != CKR_OK) {
		hsm_fmt(err, "cannot open a session for the device key (PKCS#11 "
		    "error 0x%lx)", rv);
		return -1;
	}
	step = "generate the device key";
	if ((rv = f->C_GenerateKeyPair(s, &gen, dev_pub_tmpl, N(dev_pub_tmpl),
	    dev_priv_tmpl, N(dev_priv_tmpl), &dev_pub, &dev_priv)) != CKR_OK)
		goto p11;
	step = "read the device public key";
	if (read_point(f, s, dev_pub, point, point_len) != 0) {
		rv = CKR_GENERAL_ERROR;
		goto p11;
	}
	step = "generate the ephemeral key";
	if ((rv = f->C_GenerateKeyPair(s, &gen, eph_pub_tmpl, N(eph_pub_tmpl),
	    eph_priv_tmpl, N(eph_priv_tmpl), &eph_pub, &eph_priv)) != CKR_OK)
		goto p11;
	step = "read the ephemeral public key";
	if (read_point(f, s, eph_pub, eph, sizeof(eph)) != 0) {
		rv = CKR_GENERAL_ERROR;
		goto p11;
	}
	if (context_fn(arg, eph, context) != 0) {
		hsm_fmt(err, "sealed device key: no KEK context");
		goto cleanup;
	}
	step = "derive Z (ECDH with the transport key)";
	if ((rv = f->C_DeriveKey(s, &derive, eph_priv, z_tmpl, N(z_tmpl), &z)) !=
	    CKR_OK)
		goto p11;
	step = "derive the KEK";
	if ((rv = f->C_DeriveKey(s, &ecb, z, kek_tmpl, N(kek_tmpl), &kek)) !=
	    CKR_OK)
		goto p11;
	step = "wrap the device key";
	wrapped_len = (CK_ULONG)(cap - sizeof(eph));
	if ((rv = f->C_WrapKey(s, &kwp, kek, dev_priv, sealed + sizeof(eph),
	    &wrapped_len)) != CKR_OK)
		goto p11;
	memcpy(sealed, eph, sizeof(eph));
	*sealed_len = sizeof(eph) + wrapped_len;
	ret = 0;
	goto cleanup;
p11:
	hsm_fmt(err, "token key mode: cannot %s (PKCS#11 error 0x%lx)", step, rv);
cleanup:
	/* Session objects die with the session; destroy them anyway, now. */
	if (kek != 0)
		f->C_DestroyObject(s, kek);
	if (z != 0)
		f->C_DestroyObject(s, z);
	if (eph_priv != 0)
		f->C_DestroyObject(s, eph_priv);
	if (eph_pub != 0)
		f->C_DestroyObject(s, eph_pub);
	if (dev_priv != 0)
		f->C_DestroyObject(s, dev_priv);
	if (dev_pub != 0)
		f->C_DestroyObject(s, dev_pub);
	f->C_CloseSession(s);
	OPENSSL_cleanse(context, sizeof(context));
	return ret;
#undef N
}
