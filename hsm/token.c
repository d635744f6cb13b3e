/*
 * token.c: opening the token, the PIN, keys by URI, the token's RNG and
 * digest signing, through libp11's direct API (no engine).
 *
 * The token is chosen by matching the configured URI (parsed by p11-kit)
 * against every slot's token info: PKCS11_find_token would just take the
 * first. Login is tried exactly once: a wrong PIN burns one of the
 * token's retries, so it is reported (naming the token) and never
 * repeated. The first session is read-write because later ones inherit
 * the first one's mode in libp11, and keys are generated here.
 *
 * Shutdown order matters (crashes at exit from module destructors were
 * seen in the field otherwise): free the EVP_PKEYs, close our own handle
 * on the function list, release the slots, unload, free the context.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hsm/internal.h"

struct hsm_key {
	struct hsm *h;
	uint8_t id[64];      /* CKA_ID (libp11's key array may move) */
	size_t id_len;
	EVP_PKEY *pkey;      /* private, signs through the token */
	char label[HSM_LABEL_MAX + 1];
	_Atomic unsigned long handle;  /* its object handle, once p11fn.c
	                                * looked it up (0: not yet) */
};

struct hsm {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	PKCS11_SLOT *slot;   /* the token's slot, one of slots */
	struct hsm_p11fn *fn;
	char module[4096];
	struct hsm_key keys[HSM_KEYS_MAX];
	size_t nkeys;
	char err[HSM_ERR_MAX];
};

/*
 * One open token per process: libp11 contexts on the same module share the
 * module's C_Initialize, and closing one would C_Finalize it under the
 * other. hsm_open and hsm_token_init refuse while a token is open.
 */
static _Atomic int open_tokens;

void
hsm_fmt(char err[static HSM_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, HSM_ERR_MAX, fmt, ap);
	va_end(ap);
}

void
hsm_ossl(char err[static HSM_ERR_MAX], const char *what)
{
	unsigned long e = ERR_peek_error();
	char reason[256] = "no detail";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	hsm_fmt(err, "%s (%s)", what, reason);
}

void
hsm_set_error(struct hsm *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
}

char *
hsm_err_buf(struct hsm *h)
{
	return h->err;
}

const char *
hsm_error(const struct hsm *h)
{
	return h->err;
}

const char *
hsm_token_label(const struct hsm *h)
{
	return h->slot->token->label;
}

struct hsm *
hsm_key_hsm(const struct hsm_key *k)
{
	return k->h;
}

/* A PKCS#11 text field: blank-padded, not NUL-terminated. */
static void
pad_field(CK_UTF8CHAR *field, size_t size, const char *value)
{
	size_t len = value ? strlen(value) : 0;

	memset(field, ' ', size);
	memcpy(field, value, len < size ? len : size);
}

/* Does the token of ${slot} match ${uri}? p11-kit compares the fields. */
static int
token_matches(P11KitUri *uri, const PKCS11_TOKEN *tok)
{
	CK_TOKEN_INFO info;

	memset(&info, 0, sizeof(info));
	pad_field(info.label, sizeof(info.label), tok->label);
	pad_field(info.manufacturerID, sizeof(info.manufacturerID),
	    tok->manufacturer);
	pad_field(info.model, sizeof(info.model), tok->model);
	pad_field(info.serialNumber, sizeof(info.serialNumber), tok->serialnr);
	return p11_kit_uri_match_token_info(uri, &info);
}

/* parse_uri(text, for_what, err): a URI, refusing PINs inside it. */
static P11KitUri *
parse_uri(const char *text, P11KitUriType for_what,
    char err[static HSM_ERR_MAX])
{
	P11KitUri *uri = p11_kit_uri_new();
	int rc;

	if (uri == NULL) {
		hsm_fmt(err, "out of memory");
		return NULL;
	}
	if ((rc = p11_kit_uri_parse(text, for_what, uri)) != P11_KIT_URI_OK) {
		hsm_fmt(err, "'%s' is not a PKCS#11 URI: %s", text,
		    p11_kit_uri_message(rc));
		goto fail;
	}
	if (p11_kit_uri_get_pin_value(uri) != NULL ||
	    p11_kit_uri_get_pin_source(uri) != NULL) {
		hsm_fmt(err, "PKCS#11 URI '%s' carries a PIN; remove pin-value/"
		    "pin-source (the PIN comes from the TTY or [hsm] pin_file)",
		    text);
		goto fail;
	}
	return uri;
fail:
	p11_kit_uri_free(uri);
	return NULL;
}

/* module_ok(module, err): refuse a module that is not there before libp11
 * tries (it would print dlerror() on stderr itself). */
static int
module_ok(const char *module, char err[static HSM_ERR_MAX])
{
	if (access(module, R_OK) != 0) {
		hsm_fmt(err, "cannot load PKCS#11 module %s: %s (check [hsm] "
		    "module)", module, strerror(errno));
		return -1;
	}
	return 0;
}

static int
login(struct hsm *h, const char *pin, char err[static HSM_ERR_MAX])
{
	const char *label = h->slot->token->label;
	unsigned long reason;

	if (h->slot->token->userPinLocked) {
		hsm_fmt(err, "token '%s': the user PIN is locked; the security "
		    "officer must unlock it with the SO PIN", label);
		return -1;
	}
	if (PKCS11_login(h->slot, 0, pin) == 0)
		return 0;
	reason = (unsigned long)ERR_GET_REASON(ERR_peek_last_error());
	ERR_clear_error();
	if (reason == CKR_PIN_INCORRECT || reason == CKR_PIN_INVALID ||
	    reason == CKR_PIN_LEN_RANGE)
		hsm_fmt(err, "token '%s': wrong PIN (not retried: each wrong "
		    "PIN uses up one of the token's retries)", label);
	else if (reason == CKR_PIN_LOCKED)
		hsm_fmt(err, "token '%s': the user PIN is locked; the security "
		    "officer must unlock it with the SO PIN", label);
	else if (reason == CKR_PIN_EXPIRED)
		hsm_fmt(err, "token '%s': the PIN has expired; change it first",
		    label);
	else
		hsm_p11_fail(err, h, "login", reason);
	return -1;
}

int
hsm_open(struct hsm **out, const char *module, const char *token_uri,
    const char *pin, char err[static HSM_ERR_MAX])
{
	struct hsm *h;
	P11KitUri *uri = NULL;
	unsigned nmatch = 0;

	*out = NULL;
	if (open_tokens != 0) {
		hsm_fmt(err, "a token is already open in this process");
		return -1;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		hsm_fmt(err, "out of memory");
		return -1;
	}
	open_tokens++;
	if (strlen(module) >= sizeof(h->module)) {
		hsm_fmt(err, "PKCS#11 module path too long");
		goto fail;
	}
	strcpy(h->module, module);
	if ((uri = parse_uri(token_uri, P11_KIT_URI_FOR_TOKEN, err)) == NULL)
		goto fail;
	if (module_ok(module, err) != 0)
		goto fail;
	if ((h->ctx = PKCS11_CTX_new()) == NULL) {
		hsm_ossl(err, "cannot create a PKCS#11 context");
		goto fail;
	}
	if (PKCS11_CTX_load(h->ctx, module) != 0) {
		ERR_clear_error();
		hsm_fmt(err, "cannot load PKCS#11 module %s (check [hsm] module)",
		    module);
		PKCS11_CTX_free(h->ctx);
		h->ctx = NULL;
		goto fail;
	}
	if (PKCS11_enumerate_slots(h->ctx, &h->slots, &h->nslots) != 0) {
		hsm_ossl(err, "cannot list the PKCS#11 slots");
		goto fail;
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		PKCS11_TOKEN *tok = h->slots[i].token;

		if (tok == NULL || !tok->initialized || !token_matches(uri, tok))
			continue;
		if (nmatch++ == 0)
			h->slot = &h->slots[i];
	}
	if (nmatch == 0) {
		hsm_fmt(err, "no token matches '%s' in %s (is the token plugged "
		    "in and initialised? check [hsm] token)", token_uri, module);
		goto fail;
	}
	if (nmatch > 1) {
		hsm_fmt(err, "%u tokens match '%s'; name one (token= and "
		    "serial=)", nmatch, token_uri);
		goto fail;
	}
	if (PKCS11_open_session(h->slot, 1) != 0) {
		hsm_ossl(err, "cannot open a session on the token");
		goto fail;
	}
	if (login(h, pin, err) != 0)
		goto fail;
	/* The function list now, not lazily: then every later use is
	 * read-only and the threads of issuance may share it. */
	if ((h->fn = hsm_p11fn_open(module, err)) == NULL)
		goto fail;
	p11_kit_uri_free(uri);
	*out = h;
	return 0;
fail:
	p11_kit_uri_free(uri);
	hsm_close(h);
	return -1;
}

void
hsm_close(struct hsm *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->nkeys; i++)
		EVP_PKEY_free(h->keys[i].pkey);
	hsm_p11fn_close(h->fn);
	if (h->ctx != NULL) {
		if (h->slots != NULL)
			PKCS11_release_all_slots(h->ctx, h->slots, h->nslots);
		PKCS11_CTX_unload(h->ctx);
		PKCS11_CTX_free(h->ctx);
	}
	OPENSSL_cleanse(h, sizeof(*h));
	free(h);
	open_tokens--;
}

int
hsm_random(struct hsm *h, uint8_t *buf, size_t len)
{
	if (len > 0xFFFF || PKCS11_generate_random(h->slot, buf,
	    (unsigned)len) != 0) {
		hsm_p11_ossl(h->err, h, "random numbers from the token",
		    "the token's RNG failed");
		return -1;
	}
	return 0;
}

int
hsm_token_init(const char *module, const char *label, const char *so_pin,
    const char *pin, char err[static HSM_ERR_MAX])
{
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots = NULL, *slot = NULL;
	unsigned int n = 0;
	char padded[33];
	int ret = -1;

	if (open_tokens != 0) {
		hsm_fmt(err, "a token is already open in this process");
		return -1;
	}
	/* C_InitToken reads a 32-byte, blank-padded label; libp11 0.4.12
	 * hands the string over as it is, so pad it here. */
	if (strlen(label) == 0 || strlen(label) > 32) {
		hsm_fmt(err, "token label must be 1 to 32 bytes");
		return -1;
	}
	memset(padded, ' ', 32);
	memcpy(padded, label, strlen(label));
	padded[32] = '\0';
	if (module_ok(module, err) != 0)
		return -1;
	if ((ctx = PKCS11_CTX_new()) == NULL) {
		hsm_ossl(err, "cannot create a PKCS#11 context");
		return -1;
	}
	if (PKCS11_CTX_load(ctx, module) != 0) {
		ERR_clear_error();
		hsm_fmt(err, "cannot load PKCS#11 module %s", module);
		PKCS11_CTX_free(ctx);
		return -1;
	}
	if (PKCS11_enumerate_slots(ctx, &slots, &n) != 0)
		goto ossl;
	for (unsigned i = 0; i < n && slot == NULL; i++)
		if (slots[i].token != NULL && !slots[i].token->initialized)
			slot = &slots[i];
	if (slot == NULL) {
		hsm_fmt(err, "no free token in %s", module);
		goto cleanup;
	}
	if (PKCS11_init_token(slot->token, so_pin, padded) != 0)
		goto ossl;
	/* SoftHSM moves the new token to a new slot: look again. */
	PKCS11_release_all_slots(ctx, slots, n);
	slots = NULL;
	slot = NULL;
	if (PKCS11_enumerate_slots(ctx, &slots, &n) != 0)
		goto ossl;
	for (unsigned i = 0; i < n && slot == NULL; i++)
		if (slots[i].token != NULL && slots[i].token->initialized &&
		    strcmp(slots[i].token->label, label) == 0)
			slot = &slots[i];
	if (slot == NULL) {
		hsm_fmt(err, "token '%s' not found after initialising it", label);
		goto cleanup;
	}
	if (PKCS11_open_session(slot, 1) != 0 ||
	    PKCS11_login(slot, 1, so_pin) != 0 ||
	    PKCS11_init_pin(slot->token, pin) != 0 ||
	    PKCS11_logout(slot) != 0)
		goto ossl;
	ret = 0;
	goto cleanup;
ossl:
	hsm_ossl(err, "cannot initialise the token");
cleanup:
	if (slots != NULL)
		PKCS11_release_all_slots(ctx, slots, n);
	PKCS11_CTX_unload(ctx);
	PKCS11_CTX_free(ctx);
	return ret;
}

/* Remember ${key} by label and id (libp11 may move its key array when it
 * lists the keys again); its EVP_PKEY is made once. */
static struct hsm_key *
adopt_key(struct hsm *h, PKCS11_KEY *key, char err[static HSM_ERR_MAX])
{
	struct hsm_key *k;
	const char *label = key->label ? key->label : "";

	for (size_t i = 0; i < h->nkeys; i++)
		if (h->keys[i].id_len == key->id_len && (key->id_len == 0 ||
		    memcmp(h->keys[i].id, key->id, key->id_len) == 0) &&
		    strcmp(h->keys[i].label, label) == 0)
			return &h->keys[i];
	if (key->id_len > sizeof(k->id) || strlen(label) > HSM_LABEL_MAX) {
		hsm_fmt(err, "key '%s': label or id too long", label);
		return NULL;
	}
	if (h->nkeys == HSM_KEYS_MAX) {
		hsm_fmt(err, "too many keys in use (at most %d)", HSM_KEYS_MAX);
		return NULL;
	}
	k = &h->keys[h->nkeys];
	if ((k->pkey = PKCS11_get_private_key(key)) == NULL) {
		hsm_ossl(err, "cannot use the private key");
		return NULL;
	}
	k->h = h;
	if (key->id_len > 0)
		memcpy(k->id, key->id, key->id_len);
	k->id_len = key->id_len;
	snprintf(k->label, sizeof(k->label), "%s", label);
	h->nkeys++;
	return k;
}

int
hsm_key_find(struct hsm *h, const char *key_uri, struct hsm_key **out,
    char err[static HSM_ERR_MAX])
{
	P11KitUri *uri;
	CK_ATTRIBUTE *label, *id;
	PKCS11_KEY *keys = NULL, *found = NULL;
	unsigned int n = 0, nmatch = 0;
	int ret = -1;

	*out = NULL;
	if ((uri = parse_uri(key_uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, err)) ==
	    NULL)
		return -1;
	if (!token_matches(uri, h->slot->token)) {
		hsm_fmt(err, "key '%s' names another token than '%s'", key_uri,
		    h->slot->token->label);
		goto cleanup;
	}
	label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
	id = p11_kit_uri_get_attribute(uri, CKA_ID);
	if (label == NULL && id == NULL) {
		hsm_fmt(err, "key '%s': name the key with object= or id=",
		    key_uri);
		goto cleanup;
	}
	if (PKCS11_enumerate_keys(h->slot->token, &keys, &n) != 0) {
		hsm_p11_ossl(err, h, "listing the keys",
		    "cannot list the keys of the token");
		goto cleanup;
	}
	for (unsigned i = 0; i < n; i++) {
		PKCS11_KEY *k = &keys[i];

		if (label != NULL && (k->label == NULL ||
		    strlen(k->label) != label->ulValueLen ||
		    memcmp(k->label, label->pValue, label->ulValueLen) != 0))
			continue;
		if (id != NULL && (k->id_len != id->ulValueLen ||
		    memcmp(k->id, id->pValue, id->ulValueLen) != 0))
			continue;
		if (nmatch++ == 0)
			found = k;
	}
	if (nmatch == 0) {
		hsm_fmt(err, "token '%s' has no private key matching '%s' "
		    "(check the key's URI in station.conf)",
		    h->slot->token->label, key_uri);
		goto cleanup;
	}
	if (nmatch > 1) {
		hsm_fmt(err, "token '%s': %u private keys match '%s'; name one "
		    "(add id=)", h->slot->token->label, nmatch, key_uri);
		goto cleanup;
	}
	if ((*out = adopt_key(h, found, err)) == NULL)
		goto cleanup;
	ret = 0;
cleanup:
	p11_kit_uri_free(uri);
	return ret;
}

static int
generate(struct hsm *h, const char *label, enum hsm_key_type type,
    bool derive, struct hsm_key **out, char err[static HSM_ERR_MAX])
{
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	uint8_t id[HSM_ID_LEN];

	*out = NULL;
	if (strlen(label) == 0 || strlen(label) > HSM_LABEL_MAX) {
		hsm_fmt(err, "key label must be 1 to %d characters", HSM_LABEL_MAX);
		return -1;
	}
	if (PKCS11_enumerate_keys(h->slot->token, &keys, &n) != 0) {
		hsm_p11_ossl(err, h, "listing the keys",
		    "cannot list the keys of the token");
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (keys[i].label != NULL && strcmp(keys[i].label, label) == 0) {
			hsm_fmt(err, "token '%s' already has a key labelled '%s'",
			    h->slot->token->label, label);
			return -1;
		}
	}
	if (hsm_random(h, id, sizeof(id)) != 0) {
		hsm_fmt(err, "%s", h->err);
		return -1;
	}
	if (hsm_p11fn_ec_keygen(h, type, label, id, derive, err) != 0)
		return -1;
	if (PKCS11_enumerate_keys(h->slot->token, &keys, &n) != 0) {
		hsm_p11_ossl(err, h, "listing the keys",
		    "cannot list the keys of the token");
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (keys[i].id_len == sizeof(id) &&
		    memcmp(keys[i].id, id, sizeof(id)) == 0) {
			*out = adopt_key(h, &keys[i], err);
			return *out ? 0 : -1;
		}
	}
	hsm_fmt(err, "the new key '%s' is not listed by the token", label);
	return -1;
}

int
hsm_key_generate(struct hsm *h, const char *label, enum hsm_key_type type,
    struct hsm_key **out, char err[static HSM_ERR_MAX])
{
	return generate(h, label, type, false, out, err);
}

int
hsm_key_generate_transport(struct hsm *h, const char *label,
    struct hsm_key **out, char err[static HSM_ERR_MAX])
{
	return generate(h, label, HSM_KEY_P256, true, out, err);
}

_Atomic unsigned long *
hsm_key_handle(struct hsm_key *k)
{
	return &k->handle;
}

const uint8_t *
hsm_key_ckid(const struct hsm_key *k, size_t *len)
{
	*len = k->id_len;
	return k->id;
}

EVP_PKEY *
hsm_key_pkey(struct hsm_key *k)
{
	return k->pkey;
}

/*
 * The public half comes from the private EVP_PKEY (libp11 fills in the
 * EC point from the token's public key object), copied through its DER:
 * PKCS11_get_public_key leaks its key object and with it the slot (and
 * libp11's copy of the PIN) in libp11 0.4.12.
 */
EVP_PKEY *
hsm_key_public(struct hsm_key *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int len;

	if ((len = i2d_PUBKEY(k->pkey, &der)) > 0) {
		p = der;
		pub = d2i_PUBKEY(NULL, &p, len);
	}
	OPENSSL_free(der);
	if (pub == NULL)
		hsm_ossl(k->h->err, "cannot read the public key of the token key");
	return pub;
}

const char *
hsm_key_label(const struct hsm_key *k)
{
	return k->label;
}

struct hsm_p11fn *
hsm_fn(struct hsm *h)
{
	return h->fn;
}

unsigned long
hsm_slot_id(struct hsm *h)
{
	return PKCS11_get_slotid_from_slot(h->slot);
}
