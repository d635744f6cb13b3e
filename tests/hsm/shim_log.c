/*
 * shim_log.c: the test shim's call log (see shim.c): names of PKCS#11
 * codes, attributes and mechanisms, one line per call written with one
 * write(2), the functions the station does not use, forwarded and
 * logged by name, and the HSM_SHIM_STOP hook.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/hsm/shim.h"

CK_FUNCTION_LIST_PTR shim_real;
const char *shim_log_file;

struct name {
	unsigned long value;
	const char *name;
};

#define N(x) { x, #x }
static const struct name ckr_names[] = {
	N(CKR_OK), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID),
	N(CKR_GENERAL_ERROR), N(CKR_FUNCTION_FAILED), N(CKR_ARGUMENTS_BAD),
	N(CKR_ATTRIBUTE_SENSITIVE), N(CKR_ATTRIBUTE_TYPE_INVALID),
	N(CKR_ATTRIBUTE_VALUE_INVALID), N(CKR_DEVICE_ERROR),
	N(CKR_DEVICE_MEMORY), N(CKR_DEVICE_REMOVED), N(CKR_KEY_HANDLE_INVALID),
	N(CKR_KEY_NOT_WRAPPABLE), N(CKR_KEY_UNEXTRACTABLE),
	N(CKR_MECHANISM_INVALID), N(CKR_MECHANISM_PARAM_INVALID),
	N(CKR_OBJECT_HANDLE_INVALID), N(CKR_OPERATION_ACTIVE),
	N(CKR_OPERATION_NOT_INITIALIZED), N(CKR_PIN_INCORRECT),
	N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE), N(CKR_PIN_EXPIRED),
	N(CKR_PIN_LOCKED), N(CKR_SESSION_CLOSED), N(CKR_SESSION_COUNT),
	N(CKR_SESSION_HANDLE_INVALID), N(CKR_SESSION_READ_ONLY),
	N(CKR_SIGNATURE_INVALID), N(CKR_TEMPLATE_INCOMPLETE),
	N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT),
	N(CKR_USER_ALREADY_LOGGED_IN), N(CKR_USER_NOT_LOGGED_IN),
	N(CKR_WRAPPED_KEY_INVALID), N(CKR_WRAPPING_KEY_HANDLE_INVALID),
	N(CKR_BUFFER_TOO_SMALL), N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	N(CKR_CRYPTOKI_NOT_INITIALIZED), N(CKR_DATA_LEN_RANGE),
	N(CKR_ENCRYPTED_DATA_INVALID), N(CKR_DATA_INVALID),
};
static const struct name cka_names[] = {
	N(CKA_CLASS), N(CKA_TOKEN), N(CKA_PRIVATE), N(CKA_LABEL), N(CKA_VALUE),
	N(CKA_KEY_TYPE), N(CKA_ID), N(CKA_SENSITIVE), N(CKA_ENCRYPT),
	N(CKA_DECRYPT), N(CKA_WRAP), N(CKA_UNWRAP), N(CKA_SIGN),
	N(CKA_VERIFY), N(CKA_DERIVE), N(CKA_VALUE_LEN), N(CKA_EXTRACTABLE),
	N(CKA_LOCAL), N(CKA_NEVER_EXTRACTABLE), N(CKA_ALWAYS_SENSITIVE),
	N(CKA_MODIFIABLE), N(CKA_EC_PARAMS), N(CKA_EC_POINT),
	N(CKA_ALWAYS_AUTHENTICATE), N(CKA_WRAP_WITH_TRUSTED), N(CKA_MODULUS),
	N(CKA_PUBLIC_EXPONENT), N(CKA_CERTIFICATE_TYPE), N(CKA_SUBJECT),
	N(CKA_ISSUER), N(CKA_SERIAL_NUMBER), N(CKA_KEY_GEN_MECHANISM),
	N(CKA_SIGN_RECOVER), N(CKA_VERIFY_RECOVER), N(CKA_TRUSTED),
	N(CKA_COPYABLE), N(CKA_DESTROYABLE), N(CKA_START_DATE),
	N(CKA_END_DATE), N(CKA_ALLOWED_MECHANISMS), N(CKA_APPLICATION),
	N(CKA_OBJECT_ID), N(CKA_PUBLIC_KEY_INFO), N(CKA_PRIME_BITS),
};
static const struct name ckm_names[] = {
	N(CKM_EC_KEY_PAIR_GEN), N(CKM_ECDSA), N(CKM_ECDSA_SHA256),
	N(CKM_ECDH1_DERIVE), N(CKM_AES_KEY_WRAP_PAD), N(CKM_AES_KEY_WRAP),
	N(CKM_AES_ECB_ENCRYPT_DATA), N(CKM_AES_KEY_GEN), N(CKM_RSA_PKCS),
	N(CKM_SHA256), N(CKM_AES_ECB), N(CKM_AES_CBC_PAD),
};
static const struct name cko_names[] = {
	N(CKO_DATA), N(CKO_CERTIFICATE), N(CKO_PUBLIC_KEY),
	N(CKO_PRIVATE_KEY), N(CKO_SECRET_KEY),
};
static const struct name ckk_names[] = {
	N(CKK_EC), N(CKK_AES), N(CKK_RSA), N(CKK_GENERIC_SECRET),
};
#undef N

static const char *
lookup(const struct name *t, size_t n, unsigned long v, char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	snprintf(buf, len, "0x%lx", v);
	return buf;
}
#define NAME(t, v, buf) lookup(t, sizeof(t) / sizeof((t)[0]), v, buf, \
	sizeof(buf))


void
shim_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n < sizeof(l->text) - l->len ? (size_t)n :
		    sizeof(l->text) - 1 - l->len;
}

void
shim_emit(struct line *l, CK_RV rv)
{
	char buf[24];
	int fd;

	if (shim_log_file == NULL)
		return;
	shim_add(l, " -> %s", NAME(ckr_names, rv, buf));
	if (l->len > sizeof(l->text) - 2)
		l->len = sizeof(l->text) - 2;
	l->text[l->len++] = '\n';
	if ((fd = open(shim_log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		return;
	if (write(fd, l->text, l->len) < 0)
		l->len = 0;
	close(fd);
}

/* A template, booleans with their values. */
void
shim_template(struct line *l, const char *what, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	char buf[24], vbuf[24];

	shim_add(l, " %s{", what);
	for (CK_ULONG i = 0; t != NULL && i < n; i++) {
		shim_add(l, "%s%s", i ? " " : "", NAME(cka_names, t[i].type, buf));
		if (t[i].pValue == NULL)
			continue;
		if (t[i].ulValueLen == sizeof(CK_BBOOL))
			shim_add(l, "=%u", *(CK_BBOOL *)t[i].pValue);
		else if (t[i].type == CKA_CLASS &&
		    t[i].ulValueLen == sizeof(CK_ULONG))
			shim_add(l, "=%s", NAME(cko_names, *(CK_ULONG *)t[i].pValue,
			    vbuf));
		else if (t[i].type == CKA_KEY_TYPE &&
		    t[i].ulValueLen == sizeof(CK_ULONG))
			shim_add(l, "=%s", NAME(ckk_names, *(CK_ULONG *)t[i].pValue,
			    vbuf));
		else if (t[i].type == CKA_VALUE_LEN &&
		    t[i].ulValueLen == sizeof(CK_ULONG))
			shim_add(l, "=%lu", *(CK_ULONG *)t[i].pValue);
	}
	shim_add(l, "}");
}

void
shim_mech(struct line *l, CK_MECHANISM_PTR m)
{
	char buf[24];

	shim_add(l, " mech=%s", m ? NAME(ckm_names, m->mechanism, buf) : "none");
}

void
shim_class(struct line *l, CK_OBJECT_CLASS cls)
{
	char buf[24];

	shim_add(l, "%s", NAME(cko_names, cls, buf));
}

void
shim_attr(struct line *l, CK_ATTRIBUTE_TYPE type)
{
	char buf[24];

	shim_add(l, "%s", NAME(cka_names, type, buf));
}

int
shim_ckr_by_name(const char *name, CK_RV *rv)
{
	for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++) {
		if (strcmp(ckr_names[i].name, name) == 0) {
			*rv = ckr_names[i].value;
			return 0;
		}
	}
	return -1;
}

/* The rest of the function list: forwarded and logged by name. */
void
shim_plain(const char *name, CK_RV rv)
{
	struct line l = { .len = 0 };

	shim_add(&l, "%s", name);
	shim_emit(&l, rv);
}

#define PASS1(n, T1) static CK_RV w_##n(T1 a) \
	{ CK_RV rv = shim_real->C_##n(a); shim_plain("C_" #n, rv); return rv; }
#define PASS2(n, T1, T2) static CK_RV w_##n(T1 a, T2 b) \
	{ CK_RV rv = shim_real->C_##n(a, b); shim_plain("C_" #n, rv); return rv; }
#define PASS3(n, T1, T2, T3) static CK_RV w_##n(T1 a, T2 b, T3 c) \
	{ CK_RV rv = shim_real->C_##n(a, b, c); shim_plain("C_" #n, rv); return rv; }
#define PASS5(n, T1, T2, T3, T4, T5) \
	static CK_RV w_##n(T1 a, T2 b, T3 c, T4 d, T5 e) \
	{ CK_RV rv = shim_real->C_##n(a, b, c, d, e); \
	shim_plain("C_" #n, rv); return rv; }
#define S CK_SESSION_HANDLE
#define B CK_BYTE_PTR
#define U CK_ULONG
#define UP CK_ULONG_PTR
#define M CK_MECHANISM_PTR
#define O CK_OBJECT_HANDLE
PASS1(GetInfo, CK_INFO_PTR)
PASS3(GetMechanismInfo, CK_SLOT_ID, CK_MECHANISM_TYPE, CK_MECHANISM_INFO_PTR)
PASS5(SetPIN, S, CK_UTF8CHAR_PTR, U, CK_UTF8CHAR_PTR, U)
PASS3(GetOperationState, S, B, UP)
PASS5(SetOperationState, S, B, U, O, O)
PASS5(CopyObject, S, O, CK_ATTRIBUTE_PTR, U, CK_OBJECT_HANDLE_PTR)
PASS3(GetObjectSize, S, O, UP)
PASS3(EncryptInit, S, M, O)
PASS5(Encrypt, S, B, U, B, UP)
PASS5(EncryptUpdate, S, B, U, B, UP)
PASS3(EncryptFinal, S, B, UP)
PASS3(DecryptInit, S, M, O)
PASS5(Decrypt, S, B, U, B, UP)
PASS5(DecryptUpdate, S, B, U, B, UP)
PASS3(DecryptFinal, S, B, UP)
PASS2(DigestInit, S, M)
PASS5(Digest, S, B, U, B, UP)
PASS3(DigestUpdate, S, B, U)
PASS2(DigestKey, S, O)
PASS3(DigestFinal, S, B, UP)
PASS3(SignUpdate, S, B, U)
PASS3(SignFinal, S, B, UP)
PASS3(SignRecoverInit, S, M, O)
PASS5(SignRecover, S, B, U, B, UP)
PASS3(VerifyUpdate, S, B, U)
PASS3(VerifyFinal, S, B, U)
PASS3(VerifyRecoverInit, S, M, O)
PASS5(VerifyRecover, S, B, U, B, UP)
PASS5(DigestEncryptUpdate, S, B, U, B, UP)
PASS5(DecryptDigestUpdate, S, B, U, B, UP)
PASS5(SignEncryptUpdate, S, B, U, B, UP)
PASS5(DecryptVerifyUpdate, S, B, U, B, UP)
PASS3(SeedRandom, S, B, U)
PASS1(GetFunctionStatus, S)
PASS1(CancelFunction, S)
PASS3(WaitForSlotEvent, CK_FLAGS, CK_SLOT_ID_PTR, void *)
#undef S
#undef B
#undef U
#undef UP
#undef M
#undef O

void
shim_pass_install(CK_FUNCTION_LIST *list)
{
	list->C_GetInfo = w_GetInfo;
	list->C_GetMechanismInfo = w_GetMechanismInfo;
	list->C_SetPIN = w_SetPIN;
	list->C_GetOperationState = w_GetOperationState;
	list->C_SetOperationState = w_SetOperationState;
	list->C_CopyObject = w_CopyObject;
	list->C_GetObjectSize = w_GetObjectSize;
	list->C_EncryptInit = w_EncryptInit;
	list->C_Encrypt = w_Encrypt;
	list->C_EncryptUpdate = w_EncryptUpdate;
	list->C_EncryptFinal = w_EncryptFinal;
	list->C_DecryptInit = w_DecryptInit;
	list->C_Decrypt = w_Decrypt;
	list->C_DecryptUpdate = w_DecryptUpdate;
	list->C_DecryptFinal = w_DecryptFinal;
	list->C_DigestInit = w_DigestInit;
	list->C_Digest = w_Digest;
	list->C_DigestUpdate = w_DigestUpdate;
	list->C_DigestKey = w_DigestKey;
	list->C_DigestFinal = w_DigestFinal;
	list->C_SignUpdate = w_SignUpdate;
	list->C_SignFinal = w_SignFinal;
	list->C_SignRecoverInit = w_SignRecoverInit;
	list->C_SignRecover = w_SignRecover;
	list->C_VerifyUpdate = w_VerifyUpdate;
	list->C_VerifyFinal = w_VerifyFinal;
	list->C_VerifyRecoverInit = w_VerifyRecoverInit;
	list->C_VerifyRecover = w_VerifyRecover;
	list->C_DigestEncryptUpdate = w_DigestEncryptUpdate;
	list->C_DecryptDigestUpdate = w_DecryptDigestUpdate;
	list->C_SignEncryptUpdate = w_SignEncryptUpdate;
	list->C_DecryptVerifyUpdate = w_DecryptVerifyUpdate;
	list->C_SeedRandom = w_SeedRandom;
	list->C_GetFunctionStatus = w_GetFunctionStatus;
	list->C_CancelFunction = w_CancelFunction;
	list->C_WaitForSlotEvent = w_WaitForSlotEvent;
}

/* shim_stop_after_login(): see shim.h. */
void
shim_stop_after_login(void)
{
	static atomic_int stopped;
	const char *file = getenv("HSM_SHIM_STOP");
	struct rlimit core;
	char text[128];
	int fd, n;

	if (file == NULL || atomic_exchange(&stopped, 1) != 0 ||
	    getrlimit(RLIMIT_CORE, &core) != 0)
		return;
	n = snprintf(text, sizeof(text), "%ld %d %llu %llu\n", (long)getpid(),
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
	    (unsigned long long)core.rlim_cur, (unsigned long long)core.rlim_max);
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0)
		return;
	if (n > 0 && write(fd, text, (size_t)n) != n)
		n = -1;
	close(fd);
	raise(SIGSTOP);
}

void
shim_delay(const char *function)
{
	const char *spec = getenv("HSM_SHIM_DELAY");
	size_t n = strlen(function);

	while (spec != NULL && *spec != '\0') {
		if (strncmp(spec, function, n) == 0 && spec[n] == ':') {
			usleep((useconds_t)strtoul(spec + n + 1, NULL, 10) * 1000);
			return;
		}
		spec = strchr(spec, ',');
		spec = spec != NULL ? spec + 1 : NULL;
	}
}
