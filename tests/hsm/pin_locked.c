/*
 * pin_locked.c: a PKCS#11 test module that forwards every call to SoftHSM
 * except C_Login, which answers CKR_PIN_LOCKED, as a token whose retry
 * counter has run out does (SoftHSM itself never locks a PIN). Used by
 * tests/hsm/pki.test.sh through [hsm] module. Test-only.
 */
#include <dlfcn.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST shim;

static CK_RV
locked_login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	(void)s;
	(void)user;
	(void)pin;
	(void)len;
	return CKR_PIN_LOCKED;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	void *dl = dlopen(SOFTHSM, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR real;

	if (dl == NULL)
		return CKR_GENERAL_ERROR;
	*(void **)(&get) = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&real) != CKR_OK)
		return CKR_GENERAL_ERROR;
	shim = *real;
	shim.C_Login = locked_login;
	*list = &shim;
	return CKR_OK;
}
