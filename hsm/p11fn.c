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
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

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
