/*
 * fuzz_audit_anchor.c: the anchor file parser. Any bytes: either refused
 * with a message, or a checkpoint that formats back to exactly the input;
 * never a crash, leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_checkpoint c;
	static char again[8192];
	char err[AUDIT_ERR_MAX];
	int n;

	err[0] = '\0';
	if (audit_anchor_parse((const char *)data, size, &c, err) != 0) {
		if (err[0] == '\0')
			abort();  /* every refusal says why */
		return 0;
	}
	n = audit_anchor_format(&c, again, sizeof(again));
	if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
		abort();
	return 0;
}
