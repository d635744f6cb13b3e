/*
 * fuzz_http.c: the LAN service's request bodies (station/serve_request.c).
 * The first byte picks the endpoint (even: POST /serialize, odd: POST
 * /sign); the rest is the body as it came off the wire. Either a parsed
 * request whose fields hold what the parser promises, or a message saying
 * why, never a crash, leak or undefined behaviour. A CSR that parses is
 * also searched for its nonce extension (serve_csr_nonce).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "station/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[SERVE_MSG_MAX];
	uint8_t nonce[HSM_NONCE_LEN];
	const char *body = (const char *)data + 1;
	int rc;

	if (size == 0 || size - 1 > SERVE_SIGN_BODY_MAX)
		return 0;
	err[0] = '\0';
	if (data[0] % 2 == 0) {
		struct serve_serialize_req r;

		rc = serve_parse_serialize(body, size - 1, &r, err);
		if (rc == 0) {
			check_text(r.product, ORDER_PRODUCT_MAX);
			check_text(r.hardware_id, HSM_HWID_MAX);
		}
	} else {
		struct serve_sign_req r;

		rc = serve_parse_sign(body, size - 1, &r, err);
		if (rc == 0) {
			check_text(r.hardware_id, HSM_HWID_MAX);
			if (r.csr == NULL || r.csr_len == 0 ||
			    r.csr_len > HSM_CSR_MAX)
				abort();
			err[0] = '\0';
			if (serve_csr_nonce(r.csr, r.csr_len, nonce, err) != 0 &&
			    err[0] == '\0')
				abort();
		} else if (r.csr != NULL)
			abort();     /* nothing handed back on failure */
		serve_sign_req_free(&r);
	}
	if (rc != 0 && err[0] == '\0')
		abort();         /* every refusal says why */
	return 0;
}
