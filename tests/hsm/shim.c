/*
 * shim.c: a PKCS#11 test module that forwards every call to SoftHSM but
 * C_Login, whose behaviour $HSM_SHIM chooses (test-only):
 *   locked     answer CKR_PIN_LOCKED, as a token whose retry counter has
 *              run out does (SoftHSM itself never locks a PIN)
 *   flagged    also report CKF_USER_PIN_LOCKED in C_GetTokenInfo, as
 *              tokens that tell before any login is tried
 *   count:FILE append one line to FILE per C_Login, then forward: proves
 *              that a wrong PIN is tried once and never again
 * Used by tests/hsm/pki.test.sh through [hsm] module.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST shim;
static CK_C_Login real_login;
static CK_C_GetTokenInfo real_token_info;

static CK_RV
shim_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	const char *mode = getenv("HSM_SHIM");
	CK_RV rv = real_token_info(slot, info);

	if (rv == CKR_OK && mode != NULL && strcmp(mode, "flagged") == 0)
		info->flags |= CKF_USER_PIN_LOCKED;
	return rv;
}

static CK_RV
shim_login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	const char *mode = getenv("HSM_SHIM");
	int fd;

	if (mode != NULL && (strcmp(mode, "locked") == 0 ||
	    strcmp(mode, "flagged") == 0))
		return CKR_PIN_LOCKED;
	if (mode != NULL && strncmp(mode, "count:", 6) == 0) {
		fd = open(mode + 6, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			if (write(fd, "C_Login\n", 8) != 8)
				return CKR_GENERAL_ERROR;
			close(fd);
		}
	}
	return real_login(s, user, pin, len);
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
	real_login = real->C_Login;
	real_token_info = real->C_GetTokenInfo;
	shim.C_Login = shim_login;
	shim.C_GetTokenInfo = shim_token_info;
	*list = &shim;
	return CKR_OK;
}
