/*
 * fuzz_manifest.c: the export manifest reader (station/export_manifest.c)
 * that `station export verify` runs on files from outside. Any bytes:
 * either refused with a message, or a manifest that formats and reads
 * back to the same fields; never a crash, leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "station/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct export_manifest m, again;
	char err[EXPORT_ERR_MAX], *text = NULL;
	size_t len;

	err[0] = '\0';
	if (export_manifest_parse((const char *)data, size, &m, err) != 0) {
		if (err[0] == '\0')
			abort();  /* every refusal says why */
		return 0;
	}
	/* Accepted: what the writer makes of it reads back the same. The
	 * reader takes \u escapes the writer does not emit, so compare the
	 * fields, not the bytes. */
	if (export_manifest_format(&m, &text, &len) != 0)
		abort();
	if (export_manifest_parse(text, len, &again, err) != 0 ||
	    memcmp(&m, &again, sizeof(m)) != 0)
		abort();
	free(text);
	return 0;
}
