/*
 * attest_parse.c: reading a device's answer to an attestation request
 * (stamp-format/SPEC.md 5.5) into struct attest_evidence, with no crypto
 * at all, so the parser can be fuzzed on its own (tests/fuzz/fuzz_attest).
 *
 * The stamp-format reader does the byte-level checks (header, every
 * length, the registry, the signature record last, nonce and key hash only
 * under a signature); this adds what the station needs from an answer: a
 * chain of at most ATTEST_CHAIN_MAX certificates, a nonce and a signature.
 * Every pointer in the evidence points into the caller's buffer.
 */
#include <stdio.h>
#include <string.h>

#include "stamp-format/stamp.h"
#include "station/attest.h"

int
attest_parse(const uint8_t *buf, size_t len, struct attest_evidence *ev,
    char reason[static ATTEST_REASON_MAX])
{
	struct stamp_error err;
	struct stamp_cursor c;
	struct stamp_record r;
	struct stamp_msg m;

	memset(ev, 0, sizeof(*ev));
	if (stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, len, &err) != 0) {
		snprintf(reason, ATTEST_REASON_MAX, "attestation answer (%zu "
		    "bytes) is malformed: %s at offset %zu", len,
		    stamp_strerror(err.code), err.offset);
		return -1;
	}
	stamp_msg_records(&m, &c);
	while (stamp_next(&c, &r)) {
		switch (r.type) {
		case STAMP_I_HARDWARE_ID:
			ev->hardware_id = r.value;
			ev->hardware_id_len = r.length;
			break;
		case STAMP_I_ATTESTATION_CERT:
			if (ev->ncerts == ATTEST_CHAIN_MAX) {
				snprintf(reason, ATTEST_REASON_MAX, "attestation "
				    "chain has more than %d certificates",
				    ATTEST_CHAIN_MAX);
				return -1;
			}
			ev->cert[ev->ncerts] = r.value;
			ev->cert_len[ev->ncerts++] = r.length;
			break;
		case STAMP_I_ATTESTATION_NONCE:
			ev->nonce = r.value;
			ev->nonce_len = r.length;
			break;
		case STAMP_I_ATTESTED_KEY:
			ev->key_hash = r.value;
			break;
		case STAMP_I_ATTESTATION_SIG:
			ev->sig = r.value;
			break;
		default:
			break;
		}
	}
	if (ev->ncerts == 0) {
		snprintf(reason, ATTEST_REASON_MAX, "attestation answer carries "
		    "no attestation certificate");
		return -1;
	}
	if (ev->sig == NULL) {
		snprintf(reason, ATTEST_REASON_MAX, "attestation answer is not "
		    "signed (no ATTESTATION_SIG)");
		return -1;
	}
	if (ev->nonce == NULL) {
		snprintf(reason, ATTEST_REASON_MAX, "attestation answer carries "
		    "no nonce: it does not answer this station's request");
		return -1;
	}
	ev->signed_len = m.signed_len;
	return 0;
}
