/*
 * p11err.c: PKCS#11 failures as messages an operator can act on.
 *
 * Every failed token call is reported once as "token 'LABEL': WHAT: what
 * happened (CKR_NAME); what to do". The advice depends on the kind of
 * failure: a token that was pulled or failed needs reconnecting and a new
 * login by the security officer; a lost session or login needs the
 * officer too (a PIN is never retried by the program: each wrong try
 * burns one of the token's retries); anything else left nothing written
 * and may be retried. libp11 reports the same codes as the reason of its
 * OpenSSL errors (library "PKCS#11 module"); hsm_ossl_ckr reads them.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <p11-kit/pkcs11.h>

#include "hsm/internal.h"

struct ckr_text {
	unsigned long rv;
	const char *name;
	const char *text;
};

#define R(x, t) { x, #x, t }
static const struct ckr_text texts[] = {
	R(CKR_DEVICE_REMOVED, "the token was removed"),
	R(CKR_TOKEN_NOT_PRESENT, "the token is not present"),
	R(CKR_DEVICE_ERROR, "the token reported a device error"),
	R(CKR_DEVICE_MEMORY, "the token is out of memory"),
	R(CKR_SESSION_HANDLE_INVALID, "the token's session was lost"),
	R(CKR_SESSION_CLOSED, "the token's session was closed"),
	R(CKR_USER_NOT_LOGGED_IN, "the token is no longer logged in"),
	R(CKR_PIN_INCORRECT, "wrong PIN"),
	R(CKR_PIN_LOCKED, "the user PIN is locked"),
	R(CKR_GENERAL_ERROR, "the token failed"),
	R(CKR_FUNCTION_FAILED, "the operation failed"),
	R(CKR_HOST_MEMORY, "out of memory"),
	R(CKR_KEY_HANDLE_INVALID, "the key is not in the token"),
	R(CKR_MECHANISM_INVALID, "the token does not offer the mechanism"),
	R(CKR_MECHANISM_PARAM_INVALID, "the token refused the mechanism's "
	    "parameters"),
	R(CKR_TEMPLATE_INCONSISTENT, "the token refused the key's attributes"),
	R(CKR_KEY_FUNCTION_NOT_PERMITTED, "the key may not be used for this"),
	R(CKR_KEY_NOT_WRAPPABLE, "the key may not be wrapped"),
	R(CKR_KEY_UNEXTRACTABLE, "the key is not extractable"),
	R(CKR_WRAPPED_KEY_INVALID, "the wrapped key does not open"),
	R(CKR_ENCRYPTED_DATA_INVALID, "the wrapped key does not open"),
	R(CKR_BUFFER_TOO_SMALL, "the result does not fit"),
	R(CKR_ATTRIBUTE_VALUE_INVALID, "the token returned a value of an "
	    "unexpected form"),
	R(CKR_OPERATION_ACTIVE, "another operation is active in the session"),
	R(CKR_SESSION_COUNT, "the token has no free session"),
	R(CKR_CRYPTOKI_NOT_INITIALIZED, "the PKCS#11 module is not "
	    "initialised"),
};
#undef R

const char *
hsm_ckr_name(unsigned long rv)
{
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].rv == rv)
			return texts[i].name;
	return NULL;
}

void
hsm_p11_fail(char err[static HSM_ERR_MAX], struct hsm *h, const char *what,
    unsigned long rv)
{
	const char *text = "the token refused", *name = NULL, *advice;
	char code[32];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (texts[i].rv == rv) {
			text = texts[i].text;
			name = texts[i].name;
		}
	}
	if (name == NULL) {
		snprintf(code, sizeof(code), "PKCS#11 error 0x%lx", rv);
		name = code;
	}
	switch (rv) {
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_MEMORY:
		advice = "nothing was written; reconnect the token, then the "
		    "security officer restarts the station and logs in again";
		break;
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
		advice = "nothing was written; the security officer restarts the "
		    "station and logs in again (a PIN is never retried "
		    "automatically)";
		break;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
		advice = "not retried; the security officer must act (a wrong "
		    "PIN uses up one of the token's retries)";
		break;
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_HANDLE_INVALID:
		advice = "nothing was written; check the key's URI in "
		    "station.conf";
		break;
	default:
		advice = "nothing was written; if it happens again, check the "
		    "token with 'station pki check'";
		break;
	}
	hsm_fmt(err, "token '%s': %s: %s (%s); %s", hsm_token_label(h), what,
	    text, name, advice);
}

void
hsm_p11_ossl(char err[static HSM_ERR_MAX], struct hsm *h, const char *what,
    const char *fallback)
{
	unsigned long first, rv = hsm_ossl_take(&first);
	char reason[256] = "no detail";

	if (rv != 0) {
		hsm_p11_fail(err, h, what, rv);
		return;
	}
	if (first != 0)
		ERR_error_string_n(first, reason, sizeof(reason));
	hsm_fmt(err, "%s (%s)", fallback, reason);
}

/* libp11 queues the token's code under this library name; OpenSSL may
 * queue its own errors after it (X509_sign and friends), so the whole
 * queue is searched. */
unsigned long
hsm_ossl_take(unsigned long *first)
{
	unsigned long e, rv = 0;
	const char *lib;

	*first = 0;
	while ((e = ERR_get_error()) != 0) {
		if (*first == 0)
			*first = e;
		lib = ERR_lib_error_string(e);
		if (lib != NULL && strcmp(lib, "PKCS#11 module") == 0)
			rv = (unsigned long)ERR_GET_REASON(e);
	}
	return rv;
}
