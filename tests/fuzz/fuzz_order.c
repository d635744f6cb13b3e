/*
 * fuzz_order.c: the production order document: the signed text parser
 * (order_parse_text), the CMS container (order_content) and the whole
 * verification (order_verify against a trusted certificate made at start).
 * The first byte chooses which; any bytes give an order or an error that
 * says why, never a crash, leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "station/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *trusted;

/* make_trusted(): a self-signed P-256 certificate, the fuzzed documents'
 * stand-in for [pki] order_cert. */
static X509 *
make_trusted(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	if (k == NULL || x == NULL)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz order key", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	if (X509_sign(x, k, EVP_sha256()) <= 0)
		abort();
	EVP_PKEY_free(k);
	return x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct order o;
	enum order_problem problem;
	char err[ORDER_ERR_MAX];
	uint8_t *text;
	size_t len;
	int rc;

	if (size < 1)
		return 0;
	if (trusted == NULL)
		trusted = make_trusted();
	err[0] = '\0';
	switch (data[0] % 3) {
	case 0:
		rc = order_parse_text(data + 1, size - 1, &o, err);
		if (rc != 0 && err[0] == '\0')
			abort();
		if (rc == 0 && (o.quantity == 0 || o.serial_last < o.serial_first ||
		    o.serial_last - o.serial_first + 1 < o.quantity))
			abort();
		break;
	case 1:
		if (order_content(data + 1, size - 1, &text, &len, err) == 0) {
			if (len == 0 || len > ORDER_TEXT_MAX)
				abort();
			(void)order_parse_text(text, len, &o, err);
			free(text);
		} else if (err[0] == '\0') {
			abort();
		}
		break;
	default:
		if (order_verify(data + 1, size - 1, trusted, &o, &problem,
		    err) != 0 && (err[0] == '\0' || problem == ORDER_OK))
			abort();
		break;
	}
	return 0;
}
