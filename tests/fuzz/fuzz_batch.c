/*
 * fuzz_batch.c: the batch file's text, manifest and stored records
 * (station/batch_file.c), which `station batch import` parses after
 * decryption and batch_take_next reads back. The first byte picks the
 * parser: 0 the text (each identity also stored as a record and read back
 * unchanged), 1 the manifest, 2 a record. Any bytes: refused with a
 * message, or accepted; never a crash, leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "station/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
round_trip(void *ctx, const struct batch_item *it)
{
	static uint8_t rec[BATCH_RECORD];
	static struct batch_item back;

	(void)ctx;
	if (batch_record_encode(it, rec) != 0)
		return 1;     /* too big for a record: refused, not stored */
	if (batch_record_decode(rec, &back) != 0 || back.index != it->index ||
	    strcmp(back.serial, it->serial) != 0 ||
	    strcmp(back.claim, it->claim) != 0 ||
	    back.cert_len != it->cert_len ||
	    memcmp(back.cert, it->cert, it->cert_len) != 0 ||
	    back.sealed_len != it->sealed_len ||
	    memcmp(back.sealed, it->sealed, it->sealed_len) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct batch_manifest m;
	static struct batch_item it;
	struct batch_parsed p;
	char err[BATCH_ERR_MAX], hex[AUDIT_TEXT_MAX + 1];
	int rc;

	if (size < 1)
		return 0;
	err[0] = '\0';
	switch (data[0] % 3) {
	case 0:
		rc = batch_parse(data + 1, size - 1, round_trip, NULL, &p, err);
		if (rc != 0 && err[0] == '\0')
			abort();      /* every refusal says why */
		if (rc == 0 && (p.ca_b64 == NULL || p.manifest_b64 == NULL))
			abort();
		break;
	case 1:
		rc = batch_manifest_parse((const char *)data + 1, size - 1, &m,
		    err);
		if (rc != 0 && err[0] == '\0')
			abort();
		break;
	default:
		if (size - 1 >= BATCH_RECORD &&
		    batch_record_decode(data + 1, &it) == 0)
			batch_cert_serial(it.cert, it.cert_len, hex);
		batch_cert_serial(data + 1, size - 1, hex);
		break;
	}
	return 0;
}
