/*
 * emu_dfu.c: the DFU 1.1 state machine of one emulated device (DFU mode,
 * manifestation tolerant, can download and upload).
 *
 * It follows the state table of DFU 1.1 appendix A.2 and stalls a host
 * that breaks it: a request that the current state does not accept, a
 * GETSTATUS (or anything) sent before the bwPollTimeout of dfuDNBUSY or
 * dfuMANIFEST expired, a DNLOAD longer than wTransferSize, a skipped block
 * number. A stall puts the device in dfuERROR/errSTALLEDPKT (the host must
 * CLRSTATUS) and is logged to stderr, so tests can see that a host kept
 * to the protocol. Device errors (a failed write, a download to a
 * read-only alt) are reported the DFU way: the next GETSTATUS moves to
 * dfuERROR with the status code.
 *
 * A device that is not manifestation tolerant (--fault wait-reset@MS)
 * answers the GETSTATUS after the zero-length DNLOAD with dfuMANIFEST
 * (bwPollTimeout MS) and then waits in dfuMANIFEST-WAIT-RESET for a USB
 * reset, answering only GETSTATUS/GETSTATE.
 *
 * A device error can carry a reason: the alt hook writes it to
 * status_text and GETSTATUS names it by iString (string descriptor
 * EMU_STR_STATUS), as DFU 1.1 allows.
 *
 * A slow device (--fault slow@MS) does not sleep: each block and the
 * manifestation answer the first GETSTATUS with dfuDNBUSY/dfuMANIFEST and
 * bwPollTimeout MS, and the state only moves on once that time passed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "flasher/emu/emu.h"

enum { REQ_DETACH, REQ_DNLOAD, REQ_UPLOAD, REQ_GETSTATUS, REQ_CLRSTATUS,
	REQ_GETSTATE, REQ_ABORT };

static const char *const req_names[] = {
	"DETACH", "DNLOAD", "UPLOAD", "GETSTATUS", "CLRSTATUS", "GETSTATE", "ABORT",
};
static const char *const state_names[] = {
	"appIDLE", "appDETACH", "dfuIDLE", "dfuDNLOAD-SYNC", "dfuDNBUSY",
	"dfuDNLOAD-IDLE", "dfuMANIFEST-SYNC", "dfuMANIFEST",
	"dfuMANIFEST-WAIT-RESET", "dfuUPLOAD-IDLE", "dfuERROR",
};

static int
stall(struct emu_device *d, unsigned req, const char *why)
{
	emu_log(d, "stalled %s in %s: %s", req < 7 ? req_names[req] : "request",
	    state_names[d->state], why);
	if (d->state == DFU_MANIFEST_WAIT_RESET)
		return -EPIPE;  /* only a USB reset gets it out of there */
	if (d->alt >= 0 && d->alt < EMU_ALTS)
		d->alts[d->alt].ops->abort(&d->alts[d->alt]);
	d->state = DFU_ERROR;
	d->status = DFU_ERR_STALLEDPKT;
	return -EPIPE;
}

static int
vanish(struct emu_device *d, const char *what)
{
	d->power_cut = false;
	emu_log(d, "vanishes (fault) during %s at byte %zu", what, d->offset);
	d->presence = DEV_GONE;
	d->vanish_pending = true;
	return -ENODEV;
}

void
emu_dfu_reset(struct emu_device *d)
{
	d->state = DFU_IDLE;
	d->status = DFU_OK;
	d->pending_status = DFU_OK;
	d->busy_pending = false;
	d->alt = 0;
	d->poll_ms = 0;
}

void
emu_dfu_set_alt(struct emu_device *d, int alt)
{
	d->alts[d->alt].ops->abort(&d->alts[d->alt]);
	d->alt = alt;
	if (d->state != DFU_ERROR)
		d->state = DFU_IDLE;
	d->busy_pending = false;
}

static bool
crosses(size_t at, size_t offset, size_t len)
{
	return at != SIZE_MAX && at >= offset && at < offset + (len ? len : 1);
}

static int
dnload(struct emu_device *d, uint16_t block, const uint8_t *data, size_t len)
{
	struct emu_alt *alt = &d->alts[d->alt];

	if (len > EMU_TRANSFER_SIZE)
		return stall(d, REQ_DNLOAD, "wLength exceeds wTransferSize");
	if (d->state == DFU_IDLE) {
		if (len == 0)
			return stall(d, REQ_DNLOAD, "zero-length DNLOAD with nothing downloaded");
		d->offset = 0;
		d->status_text[0] = '\0';
		d->pending_status = (uint8_t)alt->ops->dnload_begin(alt);
	} else if (d->state == DFU_DNLOAD_IDLE) {
		if (block != d->next_block)
			return stall(d, REQ_DNLOAD, "block number out of sequence");
		if (len == 0) {
			alt->busy_ms = 0;
			d->pending_status = (uint8_t)alt->ops->manifest(alt);
			if (d->power_cut)
				return vanish(d, "manifestation (power cut)");
			d->busy_ms = alt->busy_ms;
			d->busy_pending = d->slow_ms > 0 || d->busy_ms > 0 ||
			    d->wait_reset;
			d->state = DFU_MANIFEST_SYNC;
			return 0;
		}
	} else {
		return stall(d, REQ_DNLOAD, "not accepted in this state");
	}
	if (crosses(d->vanish_at, d->offset, len))
		return vanish(d, "download");
	if (crosses(d->stall_at, d->offset, len)) {
		d->stall_at = SIZE_MAX;
		return stall(d, REQ_DNLOAD, "stall fault");
	}
	if (d->pending_status == DFU_OK && crosses(d->error_at, d->offset, len)) {
		emu_log(d, "write error (fault) at byte %zu", d->error_at);
		d->error_at = SIZE_MAX;
		d->pending_status = DFU_ERR_WRITE;
	}
	alt->busy_ms = 0;
	if (d->pending_status == DFU_OK)
		d->pending_status = (uint8_t)alt->ops->dnload_block(alt, d->offset,
		    data, len);
	if (d->power_cut)
		return vanish(d, "download (power cut)");
	d->offset += len;
	d->next_block = (uint16_t)(block + 1);
	d->busy_ms = alt->busy_ms;
	d->busy_pending = d->slow_ms > 0 || d->busy_ms > 0;
	d->state = DFU_DNLOAD_SYNC;
	return 0;
}

static int
upload(struct emu_device *d, uint8_t *data, size_t *len)
{
	struct emu_alt *alt = &d->alts[d->alt];
	size_t want = *len, got = 0;
	int st;

	if (want == 0 || want > EMU_TRANSFER_SIZE)
		return stall(d, REQ_UPLOAD, "wLength zero or above wTransferSize");
	if (d->state == DFU_IDLE) {
		d->offset = 0;
		d->status_text[0] = '\0';
		if ((st = alt->ops->upload_begin(alt)) != DFU_OK)
			goto fail;
	} else if (d->state != DFU_UPLOAD_IDLE) {
		return stall(d, REQ_UPLOAD, "not accepted in this state");
	}
	if (crosses(d->vanish_at, d->offset, want))
		return vanish(d, "upload");
	if ((st = alt->ops->upload_block(alt, d->offset, data, want, &got)) != DFU_OK)
		goto fail;
	d->offset += got;
	d->state = got < want ? DFU_IDLE : DFU_UPLOAD_IDLE;
	*len = got;
	return 0;
fail:
	alt->ops->abort(alt);
	d->state = DFU_ERROR;
	d->status = (uint8_t)st;
	return -EPIPE;
}

static void
getstatus(struct emu_device *d, long long now)
{
	d->poll_ms = 0;
	if (d->state == DFU_DNLOAD_SYNC || d->state == DFU_MANIFEST_SYNC) {
		bool manifest = d->state == DFU_MANIFEST_SYNC;
		if (d->busy_pending) {
			d->busy_pending = false;
			d->poll_ms = manifest && d->wait_reset ? d->manifest_ms :
			    d->slow_ms > d->busy_ms ? d->slow_ms : d->busy_ms;
			d->busy_until = now + d->poll_ms;
			d->state = manifest ? DFU_MANIFEST : DFU_DNBUSY;
		} else if (d->pending_status != DFU_OK) {
			d->alts[d->alt].ops->abort(&d->alts[d->alt]);
			d->status = d->pending_status;
			d->pending_status = DFU_OK;
			d->state = DFU_ERROR;
		} else {
			d->state = manifest ? DFU_IDLE : DFU_DNLOAD_IDLE;
		}
	}
}

int
emu_dfu_request(struct emu_device *d, const uint8_t setup[static 8],
    uint8_t *data, size_t *len)
{
	unsigned type = setup[0], req = setup[1];
	uint16_t value = (uint16_t)(setup[2] | setup[3] << 8);
	long long now = emu_now_ms();
	bool in = (type & 0x80) != 0;

	if ((type & 0x7f) != 0x21 || (setup[4] | setup[5] << 8) != 0 || req > REQ_ABORT)
		return stall(d, req, "not a DFU request to interface 0");
	if (in != (req == REQ_UPLOAD || req == REQ_GETSTATUS || req == REQ_GETSTATE))
		return stall(d, req, "wrong direction");
	/* dfuDNBUSY and dfuMANIFEST accept nothing until bwPollTimeout passed. */
	if (d->state == DFU_DNBUSY || d->state == DFU_MANIFEST) {
		if (now < d->busy_until) {
			char why[96];
			snprintf(why, sizeof(why), "sent %lld ms before bwPollTimeout "
			    "(%u ms) expired", d->busy_until - now, d->poll_ms);
			return stall(d, req, why);
		}
		d->state = d->state == DFU_DNBUSY ? DFU_DNLOAD_SYNC :
		    d->wait_reset ? DFU_MANIFEST_WAIT_RESET : DFU_MANIFEST_SYNC;
	}
	if (d->stall_req >= 0 && (unsigned)d->stall_req == req) {
		d->stall_req = -1;
		return stall(d, req, "stall fault");
	}
	if (d->state == DFU_MANIFEST_WAIT_RESET && req != REQ_GETSTATUS &&
	    req != REQ_GETSTATE)
		return stall(d, req, "waiting for a USB reset");
	switch (req) {
	case REQ_DNLOAD:
		*len = 0;
		return dnload(d, value, data, (size_t)(setup[6] | setup[7] << 8));
	case REQ_UPLOAD:
		return upload(d, data, len);
	case REQ_GETSTATUS:
		getstatus(d, now);
		if (*len > 6)
			*len = 6;
		{
			uint8_t reply[6] = { d->status, (uint8_t)d->poll_ms,
				(uint8_t)(d->poll_ms >> 8), (uint8_t)(d->poll_ms >> 16),
				d->state, d->status != DFU_OK && d->status_text[0] ?
				EMU_STR_STATUS : 0 };
			memcpy(data, reply, *len);
		}
		return 0;
	case REQ_GETSTATE:
		if (*len >= 1) {
			data[0] = d->state;
			*len = 1;
		}
		return 0;
	case REQ_CLRSTATUS:
		*len = 0;
		if (d->state != DFU_ERROR)
			return stall(d, req, "CLRSTATUS outside dfuERROR");
		d->state = DFU_IDLE;
		d->status = DFU_OK;
		return 0;
	case REQ_ABORT:
		*len = 0;
		if (d->state == DFU_ERROR || d->state == DFU_MANIFEST_WAIT_RESET)
			return stall(d, req, "not accepted in this state");
		d->alts[d->alt].ops->abort(&d->alts[d->alt]);
		d->busy_pending = false;
		d->pending_status = DFU_OK;
		d->state = DFU_IDLE;
		return 0;
	default: /* DETACH: this device is already in DFU mode */
		return stall(d, req, "not accepted in DFU mode");
	}
}
