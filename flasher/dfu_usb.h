/*
 * dfu_usb.h: what the files of flasher/ share among themselves (private
 * to the module; the public interface is flasher.h).
 */
#ifndef FLASHER_DFU_USB_H
#define FLASHER_DFU_USB_H

#include <libusb.h>

#include "flasher/flasher.h"

struct flasher {
	libusb_context *ctx;
	/* DFU devices the last flasher_list left out, and why */
	struct flasher_rejected rejected[FLASHER_REJECTED_MAX];
	size_t nrejected;
};

/* flasher_usb_ctrl(h, count, ...): one control transfer, counted in
 * *${count}; returns libusb's result (bytes or LIBUSB_ERROR_*). */
int flasher_usb_ctrl(libusb_device_handle *h, unsigned long *count,
    uint8_t type, uint8_t request, uint16_t value, uint16_t index,
    uint8_t *data, uint16_t len);

/* flasher_usb_path(ud, out): port path "BUS-P1.P2..." of ${ud}. */
void flasher_usb_path(libusb_device *ud, char out[static FLASHER_PATH_MAX]);

#endif
