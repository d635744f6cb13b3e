/*
 * fuzz_audit_details.c: the event-details decoder. Any bytes: either
 * refused, or parsed into details that encode back to exactly the same
 * bytes (one list, one encoding); never a crash, leak or undefined
 * behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_detail d[AUDIT_FIELDS_MAX];
	struct audit_field f[AUDIT_FIELDS_MAX];
	char err[AUDIT_ERR_MAX];
	uint8_t *enc;
	size_t n, len;

	if (audit_details_parse(data, size, d, AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		f[i] = (struct audit_field){ d[i].key, d[i].value, d[i].len };
	if (audit_details_encode(f, n, &enc, &len, err) != 0)
		abort();  /* parsed details must encode */
	if (len != size || (size && memcmp(enc, data, size) != 0))
		abort();  /* not canonical: two encodings of one list */
	free(enc);
	return 0;
}
