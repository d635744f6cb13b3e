/*
 * dfu_parse.c: the parsers of what a DFU device sends about itself: the
 * configuration descriptor (to find the DFU interface and its alt
 * settings), the DFU functional descriptor and GETSTATUS replies.
 *
 * All of it is untrusted device input: every length is checked against
 * what remains, a descriptor may not run past wTotalLength, trailing
 * bytes are refused. No libusb here, so the fuzz harness needs no device.
 */
#include <stdio.h>
#include <string.h>

#include "flasher/flasher.h"

#define DT_CONFIG     0x02
#define DT_INTERFACE  0x04
#define DT_DFU_FUNC   0x21

int
flasher_parse_func(const uint8_t *buf, size_t len, struct flasher_func *func)
{
	if (len != 9 && len != 7)
		return -1;
	if (buf[0] != len || buf[1] != DT_DFU_FUNC)
		return -1;
	func->attributes = buf[2];
	func->detach_timeout_ms = (uint16_t)(buf[3] | buf[4] << 8);
	func->transfer_size = (uint16_t)(buf[5] | buf[6] << 8);
	func->dfu_version = (uint16_t)(len == 9 ? buf[7] | buf[8] << 8 : 0x0100);
	if (func->transfer_size == 0)
		return -1;
	return 0;
}

int
flasher_parse_config(const uint8_t *buf, size_t len, struct flasher_dfu_if *dfu,
    char err[static FLASHER_ERR_MAX])
{
	size_t off, total;
	int in_dfu = 0, found = 0, have_func = 0;

	memset(dfu, 0, sizeof(*dfu));
	if (len < 9 || buf[0] < 9 || buf[1] != DT_CONFIG) {
		snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: bad header");
		return -1;
	}
	total = (size_t)(buf[2] | buf[3] << 8);
	if (total != len) {
		snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: wTotalLength "
		    "%zu but %zu bytes received", total, len);
		return -1;
	}
	for (off = 0; off < len; off += buf[off]) {
		size_t dlen = buf[off];

		if (len - off < 2 || dlen < 2 || dlen > len - off) {
			snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: "
			    "descriptor at byte %zu runs past the end", off);
			return -1;
		}
		if (buf[off + 1] == DT_INTERFACE) {
			const uint8_t *d = buf + off;
			if (dlen < 9) {
				snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: "
				    "interface descriptor at byte %zu too short", off);
				return -1;
			}
			in_dfu = d[5] == 0xfe && d[6] == 0x01 &&
			    (!found || d[2] == dfu->interface);
			if (!in_dfu)
				continue;
			if (!found) {
				found = 1;
				dfu->interface = d[2];
				dfu->protocol = d[7];
			}
			if (dfu->nalts == FLASHER_ALTS_MAX) {
				snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: "
				    "more than %d DFU alt settings", FLASHER_ALTS_MAX);
				return -1;
			}
			for (size_t i = 0; i < dfu->nalts; i++) {
				if (dfu->alts[i].setting == d[3]) {
					snprintf(err, FLASHER_ERR_MAX, "configuration "
					    "descriptor: alt setting %u twice", d[3]);
					return -1;
				}
			}
			dfu->alts[dfu->nalts].setting = d[3];
			dfu->alts[dfu->nalts].string_index = d[8];
			dfu->nalts++;
		} else if (buf[off + 1] == DT_DFU_FUNC && in_dfu) {
			struct flasher_func f;
			if (flasher_parse_func(buf + off, dlen, &f) != 0) {
				snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: "
				    "malformed DFU functional descriptor at byte %zu", off);
				return -1;
			}
			if (have_func && memcmp(&f, &dfu->func, sizeof(f)) != 0) {
				snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: "
				    "conflicting DFU functional descriptors");
				return -1;
			}
			dfu->func = f;
			have_func = 1;
		}
	}
	if (!found)
		return 1;
	if (!have_func) {
		snprintf(err, FLASHER_ERR_MAX, "configuration descriptor: DFU "
		    "interface %u has no DFU functional descriptor", dfu->interface);
		return -1;
	}
	return 0;
}

int
flasher_parse_status(const uint8_t *buf, size_t len, struct flasher_status *st)
{
	if (len != 6)
		return -1;
	st->status = buf[0];
	st->poll_timeout_ms = (uint32_t)buf[1] | (uint32_t)buf[2] << 8 |
	    (uint32_t)buf[3] << 16;
	st->state = buf[4];
	st->string_index = buf[5];
	return 0;
}

const char *
flasher_state_name(unsigned state)
{
	static const char *const names[] = {
		"appIDLE", "appDETACH", "dfuIDLE", "dfuDNLOAD-SYNC", "dfuDNBUSY",
		"dfuDNLOAD-IDLE", "dfuMANIFEST-SYNC", "dfuMANIFEST",
		"dfuMANIFEST-WAIT-RESET", "dfuUPLOAD-IDLE", "dfuERROR",
	};
	return state < sizeof(names) / sizeof(names[0]) ? names[state] :
	    "an unknown state";
}

const char *
flasher_status_name(unsigned status)
{
	static const char *const names[] = {
		"OK",
		"errTARGET (file is not for this device or alt setting)",
		"errFILE (file fails the device's checks)",
		"errWRITE (device is unable to write memory)",
		"errERASE (memory erase failed)",
		"errCHECK_ERASED (memory erase check failed)",
		"errPROG (program memory failed)",
		"errVERIFY (programmed memory failed verification)",
		"errADDRESS (address out of range)",
		"errNOTDONE (download ended before the device expected)",
		"errFIRMWARE (device firmware is corrupt)",
		"errVENDOR (vendor-specific error)",
		"errUSBR (unexpected USB reset)",
		"errPOR (unexpected power-on reset)",
		"errUNKNOWN (unknown error)",
		"errSTALLEDPKT (device stalled an unexpected request)",
	};
	return status < sizeof(names) / sizeof(names[0]) ? names[status] :
	    "an unknown status code";
}
