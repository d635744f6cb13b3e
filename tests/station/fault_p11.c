/*
 * fault_p11.c: a PKCS#11 test module (test-only) that forwards every call
 * to SoftHSM, except that $STATION_P11_FAULT makes one call fail the way
 * a failing HSM answers (CKR_DEVICE_ERROR):
 *   random@N   the Nth C_GenerateRandom of the process
 *   sign@N     the Nth C_Sign of the process
 * Used by tests/station/fault.test.sh through [hsm] module, to reach the
 * paths where the token fails after the audit log has started recording
 * (a device allocated, then its certificate cannot be issued).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST fault;
static CK_C_GenerateRandom real_random;
static CK_C_Sign real_sign;
static unsigned long n_random, n_sign;

/* due(kind, n): whether $STATION_P11_FAULT is "${kind}@${n}". */
static int
due(const char *kind, unsigned long n)
{
	const char *f = getenv("STATION_P11_FAULT");
	size_t len = strlen(kind);
	char *end;

	return f != NULL && strncmp(f, kind, len) == 0 && f[len] == '@' &&
	    strtoul(f + len + 1, &end, 10) == n && *end == '\0';
}

static CK_RV
fault_random(CK_SESSION_HANDLE s, CK_BYTE_PTR buf, CK_ULONG len)
{
	if (due("random", ++n_random))
		return CKR_DEVICE_ERROR;
	return real_random(s, buf, len);
}

static CK_RV
fault_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len,
    CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	CK_RV rv;

	/* A size query (sig == NULL) is not a signature. */
	if (sig == NULL || !due("sign", ++n_sign))
		return real_sign(s, data, len, sig, sig_len);
	/* An error ends the operation (PKCS#11 5.2): let SoftHSM end it
	 * too, then answer as a failing device and keep nothing. */
	rv = real_sign(s, data, len, sig, sig_len);
	if (rv == CKR_OK)
		memset(sig, 0, *sig_len);
	return CKR_DEVICE_ERROR;
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
	fault = *real;
	real_random = real->C_GenerateRandom;
	real_sign = real->C_Sign;
	fault.C_GenerateRandom = fault_random;
	fault.C_Sign = fault_sign;
	*list = &fault;
	return CKR_OK;
}
