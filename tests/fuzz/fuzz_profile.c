/*
 * fuzz_profile.c: the flasher's parsers of stamp-profile replies from a
 * device: the info record into struct flasher_info (flasher_parse_info),
 * the commit state (flasher_parse_active) and the CSR framing
 * (flasher_parse_csr_der). The first input byte picks the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flasher/flasher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flasher_info info;
	char err[FLASHER_ERR_MAX];
	uint8_t digest[32];
	uint32_t gen;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (flasher_parse_info(data + 1, size - 1, &info, err) == 0) {
			/* what was parsed fits its fields */
			if (info.hardware_id_len == 0 ||
			    info.hardware_id_len > FLASHER_HWID_MAX ||
			    strlen(info.model) > 64 ||
			    strlen(info.firmware_version) > 64)
				__builtin_trap();
		} else if (memchr(err, '\0', sizeof(err)) == NULL) {
			__builtin_trap();
		}
		break;
	case 1:
		if (flasher_parse_active(data + 1, size - 1, &gen, digest) == 0 &&
		    size - 1 != 36)
			__builtin_trap();
		break;
	default:
		if (flasher_parse_csr_der(data + 1, size - 1) == 0 &&
		    (size - 1 < 2 || data[1] != 0x30))
			__builtin_trap();
		break;
	}
	return 0;
}
