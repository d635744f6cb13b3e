/*
 * fuzz_attest.c: the attestation messages (stamp-format/SPEC.md 5.5): any
 * bytes as a device's answer (attest_parse, station/attest_parse.c) and as
 * an attestation request (stamp_msg_read of SATQ, what firmware reads).
 * Accepted or refused with a reason, never a crash, leak or undefined
 * behaviour; an accepted answer's every pointer lies inside the input, its
 * signature at the end of the signed bytes, at most ATTEST_CHAIN_MAX
 * certificates and a nonce of 16..64 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stamp-format/stamp.h"
#include "station/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
	if (p < data || len > size || p + len > data + size)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[ATTEST_REASON_MAX];
	struct attest_evidence ev;
	struct stamp_error err;
	struct stamp_msg m;

	if (attest_parse(data, size, &ev, reason) == 0) {
		if (ev.ncerts == 0 || ev.ncerts > ATTEST_CHAIN_MAX ||
		    ev.nonce_len < 16 || ev.nonce_len > 64 ||
		    ev.signed_len + 8 + 64 != size || ev.sig != data + size - 64)
			abort();
		inside(ev.hardware_id, ev.hardware_id_len, data, size);
		inside(ev.nonce, ev.nonce_len, data, ev.signed_len);
		for (size_t i = 0; i < ev.ncerts; i++)
			inside(ev.cert[i], ev.cert_len[i], data, ev.signed_len);
		if (ev.key_hash)
			inside(ev.key_hash, 32, data, ev.signed_len);
	} else if (memchr(reason, '\0', sizeof(reason)) == NULL || !reason[0]) {
		abort();
	}
	if (stamp_msg_read(&m, STAMP_MAGIC_ATTEST, data, size, &err) != 0 &&
	    (err.code == STAMP_OK || err.offset > size))
		abort();
	return 0;
}
