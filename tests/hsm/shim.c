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
 * Functions outside the list below are forwarded unlogged (neither libp11
 * nor hsm/ calls them).
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

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST_PTR real;
static const char *log_file;

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

/* One log line being built (calls may come from several threads). */
struct line {
	char text[4096];
	size_t len;
};

static void
add(struct line *l, const char *fmt, ...)
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

static void
emit(struct line *l, CK_RV rv)
{
	char buf[24];
	int fd;

	if (log_file == NULL)
		return;
	add(l, " -> %s", NAME(ckr_names, rv, buf));
	if (l->len > sizeof(l->text) - 2)
		l->len = sizeof(l->text) - 2;
	l->text[l->len++] = '\n';
	if ((fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		return;
	if (write(fd, l->text, l->len) < 0)
		l->len = 0;
	close(fd);
}

/* A template, booleans with their values. */
static void
add_template(struct line *l, const char *what, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	char buf[24], vbuf[24];

	add(l, " %s{", what);
	for (CK_ULONG i = 0; t != NULL && i < n; i++) {
		add(l, "%s%s", i ? " " : "", NAME(cka_names, t[i].type, buf));
		if (t[i].pValue == NULL)
			continue;
		if (t[i].ulValueLen == sizeof(CK_BBOOL))
			add(l, "=%u", *(CK_BBOOL *)t[i].pValue);
		else if (t[i].type == CKA_CLASS &&
		    t[i].ulValueLen == sizeof(CK_ULONG))
			add(l, "=%s", NAME(cko_names, *(CK_ULONG *)t[i].pValue,
			    vbuf));
		else if (t[i].type == CKA_KEY_TYPE &&
		    t[i].ulValueLen == sizeof(CK_ULONG))
			add(l, "=%s", NAME(ckk_names, *(CK_ULONG *)t[i].pValue,
			    vbuf));
		else if (t[i].type == CKA_VALUE_LEN &&
		    t[i].ulValueLen == sizeof(CK_ULONG))
			add(l, "=%lu", *(CK_ULONG *)t[i].pValue);
	}
	add(l, "}");
}

static void
add_mech(struct line *l, CK_MECHANISM_PTR m)
{
	char buf[24];

	add(l, " mech=%s", m ? NAME(ckm_names, m->mechanism, buf) : "none");
}

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
		size_t i;

		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c1 = *c2 = '\0';
		snprintf(f->function, sizeof(f->function), "%s", item);
		f->nth = strtoul(c1 + 1, &end, 10);
		f->sticky = *end == '+';
		for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
			if (strcmp(ckr_names[i].name, c2 + 1) == 0)
				break;
		if (i == sizeof(ckr_names) / sizeof(ckr_names[0]) || f->nth == 0)
			continue;
		f->rv = ckr_names[i].value;
		nfaults++;
	}
}

/* fault(function): the injected answer for this call, or CKR_OK. */
static CK_RV
fault(const char *function)
{
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
		real->C_CloseSession(s);
	return rv;
}

/* --- the calls ------------------------------------------------------------ */

static CK_RV
w_Initialize(void *args)
{
	struct line l = { .len = 0 };
	CK_RV rv = fault("C_Initialize");

	if (rv == CKR_OK)
		rv = real->C_Initialize(args);
	add(&l, "C_Initialize");
	emit(&l, rv);
	return rv;
}

static CK_RV
w_Finalize(void *args)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_Finalize(args);

	add(&l, "C_Finalize");
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_GetSlotList(present, list, count);

	add(&l, "C_GetSlotList");
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_GetSlotInfo(slot, info);

	add(&l, "C_GetSlotInfo slot=%lu", slot);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	struct line l = { .len = 0 };
	const char *mode = getenv("HSM_SHIM");
	CK_RV rv = fault("C_GetTokenInfo");

	if (rv == CKR_OK)
		rv = real->C_GetTokenInfo(slot, info);
	if (rv == CKR_OK && mode != NULL && strcmp(mode, "flagged") == 0)
		info->flags |= CKF_USER_PIN_LOCKED;
	add(&l, "C_GetTokenInfo slot=%lu", slot);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
    CK_ULONG_PTR count)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_GetMechanismList(slot, list, count);

	add(&l, "C_GetMechanismList slot=%lu", slot);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
    CK_SESSION_HANDLE_PTR s)
{
	struct line l = { .len = 0 };
	CK_RV rv = fault("C_OpenSession");

	if (rv == CKR_OK)
		rv = real->C_OpenSession(slot, flags, app, notify, s);
	add(&l, "C_OpenSession slot=%lu rw=%d", slot, (flags & CKF_RW_SESSION) != 0);
	if (rv == CKR_OK)
		add(&l, " s=%lu", *s);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_CloseSession(CK_SESSION_HANDLE s)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_CloseSession(s);

	add(&l, "C_CloseSession s=%lu", s);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_CloseAllSessions(CK_SLOT_ID slot)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_CloseAllSessions(slot);

	add(&l, "C_CloseAllSessions slot=%lu", slot);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GetSessionInfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GetSessionInfo", s);

	if (rv == CKR_OK)
		rv = real->C_GetSessionInfo(s, info);
	add(&l, "C_GetSessionInfo s=%lu", s);
	emit(&l, rv);
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
		rv = real->C_Login(s, user, pin, len);
	/* Never the PIN itself. */
	add(&l, "C_Login s=%lu user=%lu", s, user);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_Logout(CK_SESSION_HANDLE s)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_Logout(s);

	add(&l, "C_Logout s=%lu", s);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_FindObjectsInit", s);

	if (rv == CKR_OK)
		rv = real->C_FindObjectsInit(s, t, n);
	add(&l, "C_FindObjectsInit s=%lu", s);
	add_template(&l, "find", t, n);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR obj, CK_ULONG max,
    CK_ULONG_PTR count)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_FindObjects(s, obj, max, count);

	add(&l, "C_FindObjects s=%lu", s);
	if (rv == CKR_OK)
		add(&l, " found=%lu", *count);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_FindObjectsFinal(CK_SESSION_HANDLE s)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_FindObjectsFinal(s);

	add(&l, "C_FindObjectsFinal s=%lu", s);
	emit(&l, rv);
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
	char buf[24], cbuf[24];

	if (rv == CKR_OK) {
		real->C_GetAttributeValue(s, obj, &a, 1);
		rv = real->C_GetAttributeValue(s, obj, t, n);
	}
	add(&l, "C_GetAttributeValue s=%lu obj=%lu class=%s", s, obj,
	    NAME(cko_names, cls, cbuf));
	for (CK_ULONG i = 0; i < n; i++) {
		add(&l, " %s=", NAME(cka_names, t[i].type, buf));
		if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
			add(&l, "unavailable");
		else
			add(&l, "%s%lu", t[i].pValue ? "" : "size", t[i].ulValueLen);
	}
	emit(&l, rv);
	return rv;
}

static CK_RV
w_SetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_SetAttributeValue(s, obj, t, n);

	add(&l, "C_SetAttributeValue s=%lu obj=%lu", s, obj);
	add_template(&l, "set", t, n);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
    CK_OBJECT_HANDLE_PTR obj)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_CreateObject", s);

	if (rv == CKR_OK)
		rv = real->C_CreateObject(s, t, n, obj);
	add(&l, "C_CreateObject s=%lu", s);
	add_template(&l, "obj", t, n);
	if (rv == CKR_OK)
		add(&l, " obj=%lu", *obj);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_DestroyObject(s, obj);

	add(&l, "C_DestroyObject s=%lu obj=%lu", s, obj);
	emit(&l, rv);
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
		rv = real->C_GenerateKeyPair(s, m, pt, pn, qt, qn, pub, priv);
	add(&l, "C_GenerateKeyPair s=%lu", s);
	add_mech(&l, m);
	add_template(&l, "pub", pt, pn);
	add_template(&l, "priv", qt, qn);
	if (rv == CKR_OK)
		add(&l, " pub=%lu priv=%lu", *pub, *priv);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
    CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GenerateKey", s);

	if (rv == CKR_OK)
		rv = real->C_GenerateKey(s, m, t, n, key);
	add(&l, "C_GenerateKey s=%lu", s);
	add_mech(&l, m);
	add_template(&l, "key", t, n);
	if (rv == CKR_OK)
		add(&l, " key=%lu", *key);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_DeriveKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
    CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_DeriveKey", s);

	if (rv == CKR_OK)
		rv = real->C_DeriveKey(s, m, base, t, n, key);
	add(&l, "C_DeriveKey s=%lu", s);
	add_mech(&l, m);
	add(&l, " base=%lu", base);
	add_template(&l, "key", t, n);
	if (rv == CKR_OK)
		add(&l, " key=%lu", *key);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping,
    CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR len)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_WrapKey", s);

	if (rv == CKR_OK)
		rv = real->C_WrapKey(s, m, wrapping, key, out, len);
	add(&l, "C_WrapKey s=%lu", s);
	add_mech(&l, m);
	add(&l, " wrapping=%lu key=%lu", wrapping, key);
	if (rv == CKR_OK)
		add(&l, " len=%lu", *len);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE unwrapping,
    CK_BYTE_PTR in, CK_ULONG in_len, CK_ATTRIBUTE_PTR t, CK_ULONG n,
    CK_OBJECT_HANDLE_PTR key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_UnwrapKey", s);

	if (rv == CKR_OK)
		rv = real->C_UnwrapKey(s, m, unwrapping, in, in_len, t, n, key);
	add(&l, "C_UnwrapKey s=%lu", s);
	add_mech(&l, m);
	add(&l, " unwrapping=%lu len=%lu", unwrapping, in_len);
	add_template(&l, "key", t, n);
	if (rv == CKR_OK)
		add(&l, " key=%lu", *key);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_SignInit", s);

	if (rv == CKR_OK)
		rv = real->C_SignInit(s, m, key);
	add(&l, "C_SignInit s=%lu", s);
	add_mech(&l, m);
	add(&l, " key=%lu", key);
	emit(&l, rv);
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
		rv = real->C_Sign(s, data, len, sig, sig_len);
	} else if (rv != CKR_SESSION_HANDLE_INVALID) {
		/* An error ends the operation: finish it, drop the result. */
		CK_BYTE scratch[512];
		CK_ULONG n = sizeof(scratch);

		real->C_Sign(s, data, len, scratch, &n);
	}
	add(&l, "C_Sign s=%lu len=%lu%s", s, len, sig ? "" : " (size)");
	emit(&l, rv);
	return rv;
}

static CK_RV
w_VerifyInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_VerifyInit(s, m, key);

	add(&l, "C_VerifyInit s=%lu", s);
	add_mech(&l, m);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_Verify(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
    CK_ULONG sig_len)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_Verify(s, data, len, sig, sig_len);

	add(&l, "C_Verify s=%lu", s);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_GenerateRandom(CK_SESSION_HANDLE s, CK_BYTE_PTR buf, CK_ULONG len)
{
	struct line l = { .len = 0 };
	CK_RV rv = session_fault("C_GenerateRandom", s);

	if (rv == CKR_OK)
		rv = real->C_GenerateRandom(s, buf, len);
	add(&l, "C_GenerateRandom s=%lu len=%lu", s, len);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG len,
    CK_UTF8CHAR_PTR label)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_InitToken(slot, pin, len, label);

	add(&l, "C_InitToken slot=%lu", slot);
	emit(&l, rv);
	return rv;
}

static CK_RV
w_InitPIN(CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	struct line l = { .len = 0 };
	CK_RV rv = real->C_InitPIN(s, pin, len);

	add(&l, "C_InitPIN s=%lu", s);
	emit(&l, rv);
	return rv;
}

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
	if (get == NULL || get(&real) != CKR_OK)
		return CKR_GENERAL_ERROR;
	if (real != NULL && shim.C_GetFunctionList == NULL) {
		log_file = getenv("HSM_SHIM_LOG");
		if ((spec = getenv("HSM_SHIM_FAULT")) != NULL)
			parse_faults(spec);
		shim = *real;
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
	}
	*list = &shim;
	return CKR_OK;
}
