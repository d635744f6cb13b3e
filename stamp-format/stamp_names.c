/*
 * stamp_names.c: English names of the reason codes and of the record
 * types of the stamp image and the USB profile messages, for logs and
 * tools (`station inspect`). Firmware that reports numbers only leaves
 * this file out (and builds with -DSTAMP_NO_STRINGS); the reader and
 * builder never call it.
 */
#include <stddef.h>

#include "stamp.h"

#ifndef STAMP_NO_STRINGS
#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

const char *
stamp_strerror(enum stamp_err code)
{
	static const char *const names[] = {
		"ok", "truncated", "bad magic", "unsupported version",
		"bad header", "bad total length", "record past the end",
		"non-zero padding", "bad flags", "unknown critical record",
		"duplicate record", "missing record", "bad value",
		"bad secret record", "bad record order", "trailing bytes",
		"digest mismatch", "bad signature", "hardware id mismatch",
		"development stamp refused", "secret does not decrypt",
		"buffer too small", "crypto callback failed", "bad argument",
	};

	if ((size_t)code >= NROWS(names))
		return "unknown error";
	return names[code];
}

const char *
stamp_type_name(uint32_t magic, uint16_t type)
{
	static const char *const stamp_names[] = {
		NULL, "hardware_id", "serial_number", "claim_id", "product_id",
		"manufacturer", "model", "hardware_revision",
		"manufacturing_time", "station_id", "order_id", "device_cert",
		"ca_cert", "key_reference", "wrapped_device_key", "pop_secret",
		"app_public_key", "barcode_payload", "provisioning_token",
		"claim_mode",
	};
	static const char *const info_names[] = {
		NULL, "hardware_id", "model", "firmware_version", "capabilities",
		"transport_key", "stamp_active", "stamp_staged",
		"stamp_geometry", "lock_state", "attestation_cert",
		"attestation_sig", "attestation_nonce", "attested_key",
	};
	static const char *const keygen_names[] = {
		NULL, "hardware_id", "nonce", "key_type", "subject_cn",
		"subject_org", "subject_serial",
	};
	static const char *const commit_names[] = {
		NULL, "hardware_id", "digest", "generation",
	};
	static const char *const attest_names[] = {
		NULL, "hardware_id", "nonce", "bind_key",
	};
	const char *const *names = commit_names;
	size_t n = NROWS(commit_names);

	if (magic == STAMP_MAGIC) {
		if (type == STAMP_T_INTEGRITY)
			return "integrity";
		if (type == STAMP_T_SIGNATURE)
			return "signature";
		if (type >= STAMP_T_VENDOR_FIRST)
			return "vendor";
		names = stamp_names;
		n = NROWS(stamp_names);
	} else if (magic == STAMP_MAGIC_INFO) {
		names = info_names;
		n = NROWS(info_names);
	} else if (magic == STAMP_MAGIC_KEYGEN) {
		names = keygen_names;
		n = NROWS(keygen_names);
	} else if (magic == STAMP_MAGIC_ATTEST) {
		names = attest_names;
		n = NROWS(attest_names);
	} else if (magic != STAMP_MAGIC_COMMIT) {
		return NULL;
	}
	return type < n ? names[type] : NULL;
}
#else
typedef int stamp_names_empty;  /* ISO C forbids an empty file */
#endif
