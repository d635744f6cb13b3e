/*
 * fuzz_dfu.c: libFuzzer harness for what a DFU device tells the host
 * about itself: the configuration descriptor walk (DFU interface, alt
 * settings), the DFU functional descriptor and GETSTATUS replies. Each
 * input goes to all three parsers; accepted results must be consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flasher/flasher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flasher_dfu_if dfu;
	struct flasher_func func;
	struct flasher_status st;
	char err[FLASHER_ERR_MAX];
	int rc;

	rc = flasher_parse_config(data, size, &dfu, err);
	if (rc == 0 && (dfu.nalts == 0 || dfu.nalts > FLASHER_ALTS_MAX ||
	    dfu.func.transfer_size == 0))
		abort();
	if (rc < 0 && memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	if (flasher_parse_func(data, size, &func) == 0 &&
	    (func.transfer_size == 0 || (size != 7 && size != 9)))
		abort();
	if (flasher_parse_status(data, size, &st) == 0) {
		if (size != 6 || st.poll_timeout_ms > 0xffffff)
			abort();
		(void)flasher_state_name(st.state);
		(void)flasher_status_name(st.status);
	}
	return 0;
}
