/*
 * shim.c: a PKCS#11 test module (test-only) that forwards to SoftHSM,
 * logs the calls the station makes and fails chosen ones on request.
 * Used by the tests/hsm/ scripts through [hsm] module. Three environment
 * variables, read when the module is loaded:
 *
 * HSM_SHIM (older modes, kept):
 *   locked     C_Login answers CKR_PIN_LOCKED, as a token whose retry
 *              counter has run out does (SoftHSM itself never locks a PIN)
 *   flagged    also report CKF_USER_PIN_LOCKED in C_GetTokenInfo
 *   count:FILE append "C_Login" to FILE per C_Login, then forward
 *
 * HSM_SHIM_LOG=FILE: one line per call, appended with one write(2):
 *   C_GenerateKeyPair s=1 mech=CKM_EC_KEY_PAIR_GEN pub{CKA_TOKEN=0 ...}
 *       priv{CKA_TOKEN=0 CKA_SENSITIVE=1 CKA_EXTRACTABLE=1 ...} -> CKR_OK
 *       pub=2 priv=3
 *   C_GetAttributeValue s=1 obj=3 class=CKO_PRIVATE_KEY CKA_VALUE=unavailable
 *       -> CKR_ATTRIBUTE_SENSITIVE
 * Booleans of templates are logged with their values, other attributes by
 * name (and CKA_CLASS/CKA_KEY_TYPE values); C_GetAttributeValue logs the
 * class of the object and, per attribute, its returned length or
 * "unavailable": a private key's CKA_VALUE handed out would show as
 * "class=CKO_PRIVATE_KEY ... CKA_VALUE=<length>".
 *
 * HSM_SHIM_FAULT=SPEC[,SPEC...], SPEC = FUNCTION:N[+]:CKR_NAME: the Nth
 * call of FUNCTION (counted from 1 in this process; "N+": the Nth and
 * every later one) answers CKR_NAME without being forwarded. Faults on a
 * session-taking function with CKR_SESSION_HANDLE_INVALID really close
 * that session in SoftHSM first (a session lost under the caller).
 * Example: C_Sign:3:CKR_DEVICE_REMOVED,C_Login:1:CKR_PIN_INCORRECT.
 *
 * HSM_SHIM_DELAY=FUNCTION:MS[,...]: every call of FUNCTION (those that
 * can take a fault) first sleeps MS ms: a slow token.
 *
 * HSM_SHIM_STOP=FILE: after the first successful C_Login, write
 * "PID DUMPABLE CORE_SOFT CORE_HARD" (prctl(PR_GET_DUMPABLE), RLIMIT_CORE)
 * to FILE and stop the process (SIGSTOP), so that a test can look at a
 * process holding the login (/proc/PID/cmdline, environ) and then let it
 * go on with SIGCONT.
 *
 * Every function of the PKCS#11 2.40 list is logged: those the station
 * uses with their arguments, the rest by name.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "tests/hsm/shim.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST shim;

/* --- faults -------------------------------------------------------------- */

#define FAULTS_MAX 8
static struct fault {
	char function[40];
	unsigned long nth;
	int sticky;          /* N+: from the Nth call on */
	CK_RV rv;
	atomic_ulong calls;
} faults[FAULTS_MAX];
static size_t nfaults;

static void
parse_faults(const char *spec)
{
	char copy[512], *save = NULL, *item;

	snprintf(copy, sizeof(copy), "%s", spec);
	for (item = strtok_r(copy, ",", &save); item != NULL &&
	    nfaults < FAULTS_MAX; item = strtok_r(NULL, ",", &save)) {
		struct fault *f = &faults[nfaults];
		char *c1 = strchr(item, ':'), *c2, *end;

		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c1 = *c2 = '\0';
		snprintf(f->function, sizeof(f->function), "%s", item);
		f->nth = strtoul(c1 + 1, &end, 10);
		f->sticky = *end == '+';
		if (shim_ckr_by_name(c2 + 1, &f->rv) != 0 || f->nth == 0)
			continue;
		nfaults++;
	}
}

/* fault(function): the injected answer for this call, or CKR_OK. */
static CK_RV
fault(const char *function)
{
	shim_delay(function);
	for (size_t i = 0; i < nfaults; i++) {
		struct fault *f = &faults[i];
		unsigned long n;

		if (strcmp(f->function, function) != 0)
			continue;
		n = atomic_fetch_add(&f->calls, 1) + 1;
		if (n == f->nth || (f->sticky && n > f->nth))
			return f->rv;
	}
	return CKR_OK;
}

/* A lost session: close it for real, then say so. */
static CK_RV
session_fault(const char *function, CK_SESSION_HANDLE s)
{
	CK_RV rv = fault(function);

	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
		shim_real->C_CloseSession(s);
	return rv;
}

/* --- the calls ------------------------------------------------------------ */

static CK_RV
w_Initialize(void *args)
{
	struct line l = { .len = 0 };
	CK_RV rv = fault("C_Initialize");

	if (rv == CKR_OK)
		rv = shim_real->C_Initialize(args);
	shim_add(&l, "C_Initialize");
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_Finalize(void *args)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_Finalize(args);

	shim_add(&l, "C_Finalize");
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_GetSlotList(present, list, count);

	shim_add(&l, "C_GetSlotList");
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_GetSlotInfo(slot, info);

	shim_add(&l, "C_GetSlotInfo slot=%lu", slot);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	struct line l = { .len = 0 };
	const char *mode = getenv("HSM_SHIM");
	CK_RV rv = fault("C_GetTokenInfo");

	if (rv == CKR_OK)
		rv = shim_real->C_GetTokenInfo(slot, info);
	if (rv == CKR_OK && mode != NULL && strcmp(mode, "flagged") == 0)
		info->flags |= CKF_USER_PIN_LOCKED;
	shim_add(&l, "C_GetTokenInfo slot=%lu", slot);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
    CK_ULONG_PTR count)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_GetMechanismList(slot, list, count);

	shim_add(&l, "C_GetMechanismList slot=%lu", slot);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
    CK_SESSION_HANDLE_PTR s)
{
	struct line l = { .len = 0 };
	CK_RV rv = fault("C_OpenSession");

	if (rv == CKR_OK)
		rv = shim_real->C_OpenSession(slot, flags, app, notify, s);
	shim_add(&l, "C_OpenSession slot=%lu rw=%d", slot,
	    (flags & CKF_RW_SESSION) != 0);
	if (rv == CKR_OK)
		shim_add(&l, " s=%lu", *s);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_CloseSession(CK_SESSION_HANDLE s)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_CloseSession(s);

	shim_add(&l, "C_CloseSession s=%lu", s);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_CloseAllSessions(CK_SLOT_ID slot)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_CloseAllSessions(slot);

	shim_add(&l, "C_CloseAllSessions slot=%lu", slot);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GetSessionInfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GetSessionInfo", s);

	if (rv == CKR_OK)
		rv = shim_real->C_GetSessionInfo(s, info);
	shim_add(&l, "C_GetSessionInfo s=%lu", s);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	struct line l = { .len = 0 };
	const char *mode = getenv("HSM_SHIM");
	CK_RV rv = session_fault("C_Login", s);
	int fd;

	if (rv == CKR_OK && mode != NULL && (strcmp(mode, "locked") == 0 ||
	    strcmp(mode, "flagged") == 0))
		rv = CKR_PIN_LOCKED;
	if (rv == CKR_OK && mode != NULL && strncmp(mode, "count:", 6) == 0) {
		fd = open(mode + 6, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			if (write(fd, "C_Login\n", 8) != 8)
				rv = CKR_GENERAL_ERROR;
			close(fd);
		}
	}
	if (rv == CKR_OK)
		rv = shim_real->C_Login(s, user, pin, len);
	if (rv == CKR_OK)
		shim_stop_after_login();
	/* Never the PIN itself. */
	shim_add(&l, "C_Login s=%lu user=%lu", s, user);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_Logout(CK_SESSION_HANDLE s)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_Logout(s);

	shim_add(&l, "C_Logout s=%lu", s);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_FindObjectsInit", s);

	if (rv == CKR_OK)
		rv = shim_real->C_FindObjectsInit(s, t, n);
	shim_add(&l, "C_FindObjectsInit s=%lu", s);
	shim_template(&l, "find", t, n);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR obj, CK_ULONG max,
    CK_ULONG_PTR count)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_FindObjects(s, obj, max, count);

	shim_add(&l, "C_FindObjects s=%lu", s);
	if (rv == CKR_OK)
		shim_add(&l, " found=%lu", *count);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_FindObjectsFinal(CK_SESSION_HANDLE s)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_FindObjectsFinal(s);

	shim_add(&l, "C_FindObjectsFinal s=%lu", s);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct line l = { .len = 0 };
	CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
	CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
	CK_RV rv = session_fault("C_GetAttributeValue", s);

	if (rv == CKR_OK) {
		shim_real->C_GetAttributeValue(s, obj, &a, 1);
		rv = shim_real->C_GetAttributeValue(s, obj, t, n);
	}
	shim_add(&l, "C_GetAttributeValue s=%lu obj=%lu class=", s, obj);
	shim_class(&l, cls);
	for (CK_ULONG i = 0; i < n; i++) {
		shim_add(&l, " ");
		shim_attr(&l, t[i].type);
		shim_add(&l, "=");
		if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
			shim_add(&l, "unavailable");
		else
			shim_add(&l, "%s%lu", t[i].pValue ? "" : "size", t[i].ulValueLen);
	}
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_SetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_SetAttributeValue(s, obj, t, n);

	shim_add(&l, "C_SetAttributeValue s=%lu obj=%lu", s, obj);
	shim_template(&l, "set", t, n);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
    CK_OBJECT_HANDLE_PTR obj)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_CreateObject", s);

	if (rv == CKR_OK)
		rv = shim_real->C_CreateObject(s, t, n, obj);
	shim_add(&l, "C_CreateObject s=%lu", s);
	shim_template(&l, "obj", t, n);
	if (rv == CKR_OK)
		shim_add(&l, " obj=%lu", *obj);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_DestroyObject(s, obj);

	shim_add(&l, "C_DestroyObject s=%lu obj=%lu", s, obj);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
    CK_ATTRIBUTE_PTR pt, CK_ULONG pn, CK_ATTRIBUTE_PTR qt, CK_ULONG qn,
    CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GenerateKeyPair", s);

	if (rv == CKR_OK)
		rv = shim_real->C_GenerateKeyPair(s, m, pt, pn, qt, qn, pub, priv);
	shim_add(&l, "C_GenerateKeyPair s=%lu", s);
	shim_mech(&l, m);
	shim_template(&l, "pub", pt, pn);
	shim_template(&l, "priv", qt, qn);
	if (rv == CKR_OK)
		shim_add(&l, " pub=%lu priv=%lu", *pub, *priv);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
    CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GenerateKey", s);

	if (rv == CKR_OK)
		rv = shim_real->C_GenerateKey(s, m, t, n, key);
	shim_add(&l, "C_GenerateKey s=%lu", s);
	shim_mech(&l, m);
	shim_template(&l, "key", t, n);
	if (rv == CKR_OK)
		shim_add(&l, " key=%lu", *key);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_DeriveKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
    CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_DeriveKey", s);

	if (rv == CKR_OK)
		rv = shim_real->C_DeriveKey(s, m, base, t, n, key);
	shim_add(&l, "C_DeriveKey s=%lu", s);
	shim_mech(&l, m);
	shim_add(&l, " base=%lu", base);
	shim_template(&l, "key", t, n);
	if (rv == CKR_OK)
		shim_add(&l, " key=%lu", *key);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping,
    CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR len)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_WrapKey", s);

	if (rv == CKR_OK)
		rv = shim_real->C_WrapKey(s, m, wrapping, key, out, len);
	shim_add(&l, "C_WrapKey s=%lu", s);
	shim_mech(&l, m);
	shim_add(&l, " wrapping=%lu key=%lu", wrapping, key);
	if (rv == CKR_OK)
		shim_add(&l, " len=%lu", *len);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
    CK_OBJECT_HANDLE unwrapping,
    CK_BYTE_PTR in, CK_ULONG in_len, CK_ATTRIBUTE_PTR t, CK_ULONG n,
    CK_OBJECT_HANDLE_PTR key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_UnwrapKey", s);

	if (rv == CKR_OK)
		rv = shim_real->C_UnwrapKey(s, m, unwrapping, in, in_len, t, n, key);
	shim_add(&l, "C_UnwrapKey s=%lu", s);
	shim_mech(&l, m);
	shim_add(&l, " unwrapping=%lu len=%lu", unwrapping, in_len);
	shim_template(&l, "key", t, n);
	if (rv == CKR_OK)
		shim_add(&l, " key=%lu", *key);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_SignInit", s);

	if (rv == CKR_OK)
		rv = shim_real->C_SignInit(s, m, key);
	shim_add(&l, "C_SignInit s=%lu", s);
	shim_mech(&l, m);
	shim_add(&l, " key=%lu", key);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
    CK_ULONG_PTR sig_len)
{
	struct line l = { .len = 0 };
	CK_RV rv = CKR_OK;

	/* A size query (sig NULL) is not counted as a signature. */
	if (sig != NULL)
		rv = session_fault("C_Sign", s);
	if (rv == CKR_OK) {
		rv = shim_real->C_Sign(s, data, len, sig, sig_len);
	} else if (rv != CKR_SESSION_HANDLE_INVALID) {
		/* An error ends the operation: finish it, drop the result. */
		CK_BYTE scratch[512];
		CK_ULONG n = sizeof(scratch);

		shim_real->C_Sign(s, data, len, scratch, &n);
	}
	shim_add(&l, "C_Sign s=%lu len=%lu%s", s, len, sig ? "" : " (size)");
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_VerifyInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_VerifyInit(s, m, key);

	shim_add(&l, "C_VerifyInit s=%lu", s);
	shim_mech(&l, m);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_Verify(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
    CK_ULONG sig_len)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_Verify(s, data, len, sig, sig_len);

	shim_add(&l, "C_Verify s=%lu", s);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_GenerateRandom(CK_SESSION_HANDLE s, CK_BYTE_PTR buf, CK_ULONG len)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GenerateRandom", s);

	if (rv == CKR_OK)
		rv = shim_real->C_GenerateRandom(s, buf, len);
	shim_add(&l, "C_GenerateRandom s=%lu len=%lu", s, len);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG len,
    CK_UTF8CHAR_PTR label)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_InitToken(slot, pin, len, label);

	shim_add(&l, "C_InitToken slot=%lu", slot);
	shim_emit(&l, rv);
	return rv;
}

static CK_RV
w_InitPIN(CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	struct line l = { .len = 0 };
	CK_RV rv = shim_real->C_InitPIN(s, pin, len);

	shim_add(&l, "C_InitPIN s=%lu", s);
	shim_emit(&l, rv);
	return rv;
}

__attribute__((visibility("default")))
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	void *dl = dlopen(SOFTHSM, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList get;
	const char *spec;

	if (dl == NULL)
		return CKR_GENERAL_ERROR;
	*(void **)(&get) = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&shim_real) != CKR_OK)
		return CKR_GENERAL_ERROR;
	if (shim_real != NULL && shim.C_GetFunctionList == NULL) {
		shim_log_file = getenv("HSM_SHIM_LOG");
		if ((spec = getenv("HSM_SHIM_FAULT")) != NULL)
			parse_faults(spec);
		shim = *shim_real;
		shim.C_GetFunctionList = C_GetFunctionList;
		shim.C_Initialize = w_Initialize;
		shim.C_Finalize = w_Finalize;
		shim.C_GetSlotList = w_GetSlotList;
		shim.C_GetSlotInfo = w_GetSlotInfo;
		shim.C_GetTokenInfo = w_GetTokenInfo;
		shim.C_GetMechanismList = w_GetMechanismList;
		shim.C_OpenSession = w_OpenSession;
		shim.C_CloseSession = w_CloseSession;
		shim.C_CloseAllSessions = w_CloseAllSessions;
		shim.C_GetSessionInfo = w_GetSessionInfo;
		shim.C_Login = w_Login;
		shim.C_Logout = w_Logout;
		shim.C_FindObjectsInit = w_FindObjectsInit;
		shim.C_FindObjects = w_FindObjects;
		shim.C_FindObjectsFinal = w_FindObjectsFinal;
		shim.C_GetAttributeValue = w_GetAttributeValue;
		shim.C_SetAttributeValue = w_SetAttributeValue;
		shim.C_CreateObject = w_CreateObject;
		shim.C_DestroyObject = w_DestroyObject;
		shim.C_GenerateKeyPair = w_GenerateKeyPair;
		shim.C_GenerateKey = w_GenerateKey;
		shim.C_DeriveKey = w_DeriveKey;
		shim.C_WrapKey = w_WrapKey;
		shim.C_UnwrapKey = w_UnwrapKey;
		shim.C_SignInit = w_SignInit;
		shim.C_Sign = w_Sign;
		shim.C_VerifyInit = w_VerifyInit;
		shim.C_Verify = w_Verify;
		shim.C_GenerateRandom = w_GenerateRandom;
		shim.C_InitToken = w_InitToken;
		shim.C_InitPIN = w_InitPIN;
		shim_pass_install(&shim);
	}
	*list = &shim;
	return CKR_OK;
}
