/*
 * serve_request.c: the bodies of the LAN service's requests, parsed
 * strictly: one JSON object (jansson; duplicate keys refused, no NUL in
 * strings), exactly the expected string fields, each value checked
 * against the syntax it must have, nothing unknown accepted. Every
 * message here goes back to the device as the error's text, so it names
 * the field and what is expected. Also the CSR's nonce extension, read
 * before the CSR is checked (the nonce decides which nonce to look up).
 * tests/fuzz/fuzz_http.c runs these over arbitrary bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "station/serve.h"

#define PRODUCT_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789.-"

/* load(body, len, err): the JSON object in ${body}, or NULL. */
static json_t *
load(const char *body, size_t len, char err[static SERVE_MSG_MAX])
{
	json_error_t je;
	json_t *j;

	if (len == 0) {
		snprintf(err, SERVE_MSG_MAX, "the request has no body; send a "
		    "JSON object");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(err, SERVE_MSG_MAX, "bad JSON at byte %d: %s",
		    je.position, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		snprintf(err, SERVE_MSG_MAX, "expected a JSON object");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* fields_only(j, names, err): every key of ${j} is one of ${names}. */
static int
fields_only(json_t *j, const char *const names[], char err[static SERVE_MSG_MAX])
{
	const char *key;
	json_t *v;

	json_object_foreach(j, key, v) {
		bool known = false;

		(void)v;
		for (size_t i = 0; names[i] != NULL; i++)
			known = known || strcmp(key, names[i]) == 0;
		if (!known) {
			snprintf(err, SERVE_MSG_MAX, "unknown field '%.64s'; "
			    "expected only %s%s%s", key, names[0],
			    names[1] ? " and " : "", names[1] ? names[1] : "");
			return -1;
		}
	}
	return 0;
}

/* string(j, name, len, err): field ${name}, a string; its length. */
static const char *
string(json_t *j, const char *name, size_t *len,
    char err[static SERVE_MSG_MAX])
{
	json_t *v = json_object_get(j, name);

	if (v == NULL) {
		snprintf(err, SERVE_MSG_MAX, "missing field '%s'", name);
		return NULL;
	}
	if (!json_is_string(v)) {
		snprintf(err, SERVE_MSG_MAX, "field '%s' must be a string", name);
		return NULL;
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

/* hardware_id(j, out, err): "hardware_id": 1..64 printable ASCII. */
static int
hardware_id(json_t *j, char out[static HSM_HWID_MAX + 1],
    char err[static SERVE_MSG_MAX])
{
	size_t len;
	const char *s = string(j, "hardware_id", &len, err);

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			len = 0;
	if (len == 0 || len > HSM_HWID_MAX) {
		snprintf(err, SERVE_MSG_MAX, "hardware_id: expected 1 to %d "
		    "printable ASCII characters without spaces", HSM_HWID_MAX);
		return -1;
	}
	memcpy(out, s, len + 1);
	return 0;
}

int
serve_parse_serialize(const char *body, size_t len,
    struct serve_serialize_req *r, char err[static SERVE_MSG_MAX])
{
	static const char *const names[] = { "product", "hardware_id", NULL };
	json_t *j = load(body, len, err);
	const char *p;
	size_t plen;
	int ret = -1;

	if (j == NULL)
		return -1;
	if (fields_only(j, names, err) != 0 ||
	    (p = string(j, "product", &plen, err)) == NULL)
		goto cleanup;
	if (plen == 0 || plen > ORDER_PRODUCT_MAX || strlen(p) != plen ||
	    strspn(p, PRODUCT_CHARS) != plen) {
		snprintf(err, SERVE_MSG_MAX, "product: expected 1 to %d of A-Z "
		    "a-z 0-9 . -", ORDER_PRODUCT_MAX);
		goto cleanup;
	}
	memcpy(r->product, p, plen + 1);
	if (hardware_id(j, r->hardware_id, err) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	json_decref(j);
	return ret;
}

/* csr_der(pem, len, r, err): the one PEM CERTIFICATE REQUEST in ${pem}. */
static int
csr_der(const char *pem, size_t len, struct serve_sign_req *r,
    char err[static SERVE_MSG_MAX])
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	BIO *b = NULL;
	int ret = -1;

	if (len > SERVE_SIGN_BODY_MAX || strlen(pem) != len ||
	    (b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    PEM_read_bio(b, &name, &header, &data, &dlen) != 1 ||
	    (strcmp(name, "CERTIFICATE REQUEST") != 0 &&
	    strcmp(name, "NEW CERTIFICATE REQUEST") != 0) || header[0] != '\0') {
		snprintf(err, SERVE_MSG_MAX, "csr: expected one PEM "
		    "CERTIFICATE REQUEST");
		goto cleanup;
	}
	if (dlen <= 0 || dlen > HSM_CSR_MAX) {
		snprintf(err, SERVE_MSG_MAX, "csr: the request is %ld bytes; at "
		    "most %d are accepted", dlen, HSM_CSR_MAX);
		goto cleanup;
	}
	if ((r->csr = malloc((size_t)dlen)) == NULL) {
		snprintf(err, SERVE_MSG_MAX, "out of memory");
		goto cleanup;
	}
	memcpy(r->csr, data, (size_t)dlen);
	r->csr_len = (size_t)dlen;
	ret = 0;
cleanup:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	return ret;
}

int
serve_parse_sign(const char *body, size_t len, struct serve_sign_req *r,
    char err[static SERVE_MSG_MAX])
{
	static const char *const names[] = { "hardware_id", "csr", NULL };
	json_t *j = load(body, len, err);
	const char *pem;
	size_t plen;
	int ret = -1;

	r->csr = NULL;
	r->csr_len = 0;
	if (j == NULL)
		return -1;
	if (fields_only(j, names, err) != 0 ||
	    hardware_id(j, r->hardware_id, err) != 0 ||
	    (pem = string(j, "csr", &plen, err)) == NULL ||
	    csr_der(pem, plen, r, err) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	json_decref(j);
	return ret;
}

void
serve_sign_req_free(struct serve_sign_req *r)
{
	free(r->csr);
	r->csr = NULL;
	r->csr_len = 0;
}

int
serve_csr_nonce(const uint8_t *der, size_t len,
    uint8_t nonce[static HSM_NONCE_LEN], char err[static SERVE_MSG_MAX])
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_OBJECT *oid = NULL;
	int ret = -1;

	if (req == NULL || p != der + len) {
		snprintf(err, SERVE_MSG_MAX, "the CSR does not decode as one "
		    "PKCS#10 request");
		goto cleanup;
	}
	ret = 1;
	if ((oid = OBJ_txt2obj(HSM_NONCE_OID, 1)) == NULL ||
	    (exts = X509_REQ_get_extensions(req)) == NULL)
		goto cleanup;
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		const unsigned char *d;

		if (OBJ_cmp(X509_EXTENSION_get_object(e), oid) != 0)
			continue;
		/* extnValue = OCTET STRING (04 20) of the 32 nonce bytes */
		d = ASN1_STRING_get0_data(v);
		if (ASN1_STRING_length(v) == HSM_NONCE_LEN + 2 && d[0] == 0x04 &&
		    d[1] == HSM_NONCE_LEN) {
			memcpy(nonce, d + 2, HSM_NONCE_LEN);
			ret = 0;
		}
		break;
	}
cleanup:
	if (ret == 1)
		snprintf(err, SERVE_MSG_MAX, "the CSR carries no station nonce "
		    "(extension %s with a 32-byte OCTET STRING, "
		    "docs/device-csr.md); GET /nonce first", HSM_NONCE_OID);
	ERR_clear_error();
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OBJECT_free(oid);
	X509_REQ_free(req);
	return ret;
}
