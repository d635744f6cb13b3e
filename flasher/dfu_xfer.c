/*
 * dfu_xfer.c: DFU transfers on one open device (a session): download a
 * file to an alt setting, upload one from it.
 *
 * Download (DFU 1.1, 6.1): bring the device to dfuIDLE (CLRSTATUS out of
 * dfuERROR, ABORT out of a half-done transfer), select the alt, then per
 * block DNLOAD (wBlockNum counting from 0) and GETSTATUS until
 * dfuDNLOAD-IDLE, sleeping bwPollTimeout whenever the device reports it
 * is busy (dfuDNBUSY); then the zero-length DNLOAD and GETSTATUS through
 * dfuMANIFEST(-SYNC) until dfuIDLE. Success is reported only once the
 * device said dfuIDLE after manifestation (or, for a device that is not
 * manifestation tolerant, dfuMANIFEST and then, after the USB reset it
 * waits for, dfuIDLE or run-time mode).
 *
 * Upload (6.2): UPLOAD blocks of wTransferSize until a short one.
 *
 * Errors name the device by port path and serial and say how far the
 * transfer got. A device that reports dfuERROR is cleared (CLRSTATUS) so
 * the next attempt starts clean; a vanished device is reported as such.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flasher/dfu_usb.h"

enum { DFU_DETACH, DFU_DNLOAD, DFU_UPLOAD, DFU_GETSTATUS, DFU_CLRSTATUS,
	DFU_GETSTATE, DFU_ABORT };

#define REQ_OUT (LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS | \
	LIBUSB_RECIPIENT_INTERFACE)
#define REQ_IN (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS | \
	LIBUSB_RECIPIENT_INTERFACE)

struct flasher_session {
	libusb_device_handle *h;
	struct flasher_device dev;
	int alt;                 /* alt index selected on the device, or -1 */
	unsigned long transfers;
	char who[FLASHER_PATH_MAX + FLASHER_STR_MAX + 32];
	/* the operation under way, for error messages */
	const char *op, *alt_name;
	size_t done, total;
};

static const char *const req_names[] = {
	"DFU_DETACH", "DFU_DNLOAD", "DFU_UPLOAD", "DFU_GETSTATUS",
	"DFU_CLRSTATUS", "DFU_GETSTATE", "DFU_ABORT",
};

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* "during download of alt 'stamp' at byte 2048 of 4096" */
static void
where(const struct flasher_session *s, char *out, size_t size)
{
	if (s->op == NULL)
		snprintf(out, size, "while preparing it");
	else if (s->total)
		snprintf(out, size, "during %s of alt '%s' at byte %zu of %zu",
		    s->op, s->alt_name, s->done, s->total);
	else
		snprintf(out, size, "during %s of alt '%s' after %zu bytes",
		    s->op, s->alt_name, s->done);
}

static int
usb_fail(struct flasher_session *s, int rc, unsigned req,
    char err[static FLASHER_ERR_MAX])
{
	char at[160];

	where(s, at, sizeof(at));
	if (rc == LIBUSB_ERROR_NO_DEVICE)
		snprintf(err, FLASHER_ERR_MAX, "%s: disconnected %s; the %s did not "
		    "complete: reconnect the device and run again", s->who, at,
		    s->op ? s->op : "operation");
	else if (rc == LIBUSB_ERROR_PIPE)
		snprintf(err, FLASHER_ERR_MAX, "%s: device stalled %s %s",
		    s->who, req_names[req], at);
	else if (rc == LIBUSB_ERROR_TIMEOUT)
		snprintf(err, FLASHER_ERR_MAX, "%s: no answer to %s within %d s %s",
		    s->who, req_names[req], FLASHER_TIMEOUT_MS / 1000, at);
	else if (rc >= 0)
		snprintf(err, FLASHER_ERR_MAX, "%s: short %s (%d bytes) %s",
		    s->who, req_names[req], rc, at);
	else
		snprintf(err, FLASHER_ERR_MAX, "%s: %s failed %s: %s", s->who,
		    req_names[req], at, libusb_strerror(rc));
	return -1;
}

static int
request(struct flasher_session *s, unsigned req, uint16_t value, uint8_t *data,
    uint16_t len, char err[static FLASHER_ERR_MAX])
{
	int in = req == DFU_UPLOAD || req == DFU_GETSTATUS || req == DFU_GETSTATE;
	int rc = flasher_usb_ctrl(s->h, &s->transfers, in ? REQ_IN : REQ_OUT,
	    (uint8_t)req, value, s->dev.dfu.interface, data, len);

	if (rc < 0 || (!in && rc != len))
		return usb_fail(s, rc, req, err);
	return rc;
}

int
flasher_getstatus(struct flasher_session *s, struct flasher_status *st,
    char err[static FLASHER_ERR_MAX])
{
	uint8_t buf[6];
	int rc = request(s, DFU_GETSTATUS, 0, buf, sizeof(buf), err);

	if (rc < 0)
		return -1;
	if (flasher_parse_status(buf, (size_t)rc, st) != 0)
		return usb_fail(s, rc, DFU_GETSTATUS, err);
	return 0;
}

/* After the device reported dfuERROR: say so, and clear it. */
static int
device_error(struct flasher_session *s, const struct flasher_status *st,
    char err[static FLASHER_ERR_MAX])
{
	char at[160], ignored[FLASHER_ERR_MAX];
	int cleared;

	char why[128] = "";

	where(s, at, sizeof(at));
	/* DFU 1.1: iString names a string descriptor saying why; read it
	 * before CLRSTATUS, which may clear it. */
	if (st->string_index) {
		uint8_t text[96];
		int n = libusb_get_string_descriptor_ascii(s->h, st->string_index,
		    text, sizeof(text));
		s->transfers += 2;
		if (n > 0) {
			why[0] = ' ';
			why[1] = '(';
			for (int i = 0; i < n && i + 4 < (int)sizeof(why); i++)
				why[2 + i] = text[i] >= 0x20 && text[i] < 0x7f ?
				    (char)text[i] : '?';
			strcat(why, ")");
		}
	}
	cleared = request(s, DFU_CLRSTATUS, 0, NULL, 0, ignored) == 0;
	snprintf(err, FLASHER_ERR_MAX, "%s: device reports %s%s %s; %s", s->who,
	    flasher_status_name(st->status), why, at, cleared ?
	    "cleared with DFU_CLRSTATUS, nothing was completed" :
	    "could not clear the error (DFU_CLRSTATUS failed)");
	return -1;
}

/*
 * A device that is not manifestation tolerant waits in
 * dfuMANIFEST-WAIT-RESET for a USB reset; after it, it must answer in
 * dfuIDLE or run-time mode, or re-enumerate (a new address).
 */
static int
reset_after_manifest(struct flasher_session *s, char err[static FLASHER_ERR_MAX])
{
	struct flasher_status st;
	int rc = libusb_reset_device(s->h);

	s->alt = -1;
	if (rc == LIBUSB_ERROR_NOT_FOUND)
		return 0;
	if (rc != 0) {
		snprintf(err, FLASHER_ERR_MAX, "%s: USB reset after manifestation "
		    "failed: %s", s->who, libusb_strerror(rc));
		return -1;
	}
	if (flasher_getstatus(s, &st, err) != 0)
		return -1;
	if (st.state != FLASHER_DFU_IDLE && st.state != FLASHER_APP_IDLE) {
		snprintf(err, FLASHER_ERR_MAX, "%s: device in %s after the USB reset "
		    "that ends manifestation", s->who, flasher_state_name(st.state));
		return -1;
	}
	return 0;
}

/*
 * GETSTATUS until the device is in ${target}, honouring bwPollTimeout
 * while it is in one of the ${busy} states (bit mask of states).
 */
static int
poll_until(struct flasher_session *s, unsigned target, unsigned busy,
    char err[static FLASHER_ERR_MAX])
{
	struct flasher_status st;
	unsigned long waited = 0;

	for (;;) {
		if (flasher_getstatus(s, &st, err) != 0)
			return -1;
		if (st.state == FLASHER_DFU_ERROR || st.status != 0)
			return device_error(s, &st, err);
		if (st.state == target)
			return 0;
		if (target == FLASHER_DFU_IDLE &&
		    (st.state == FLASHER_MANIFEST_WAIT_RESET ||
		    (st.state == FLASHER_MANIFEST &&
		    !(s->dev.dfu.func.attributes & FLASHER_MANIFEST_TOLERANT)))) {
			sleep_ms(st.poll_timeout_ms);
			return reset_after_manifest(s, err);
		}
		if (st.state > 31 || !(busy & 1u << st.state)) {
			char at[160], ignored[FLASHER_ERR_MAX];
			where(s, at, sizeof(at));
			snprintf(err, FLASHER_ERR_MAX, "%s: device went to %s %s "
			    "(expected %s)", s->who, flasher_state_name(st.state), at,
			    flasher_state_name(target));
			(void)request(s, DFU_ABORT, 0, NULL, 0, ignored);
			return -1;
		}
		waited += st.poll_timeout_ms ? st.poll_timeout_ms : 1;
		if (waited > FLASHER_BUSY_MAX_MS) {
			char at[160];
			where(s, at, sizeof(at));
			snprintf(err, FLASHER_ERR_MAX, "%s: device still busy (%s) after "
			    "%d s %s", s->who, flasher_state_name(st.state),
			    FLASHER_BUSY_MAX_MS / 1000, at);
			return -1;
		}
		sleep_ms(st.poll_timeout_ms ? st.poll_timeout_ms : 1);
	}
}

/* Select alt ${name} and bring the device to dfuIDLE. */
static int
prepare(struct flasher_session *s, const char *name, unsigned need,
    char err[static FLASHER_ERR_MAX])
{
	int idx = flasher_alt_index(&s->dev, name), rc;
	struct flasher_status st;

	s->op = NULL;
	if (idx < 0) {
		char names[FLASHER_ERR_MAX / 2] = "";
		size_t used = 0;
		for (size_t i = 0; i < s->dev.dfu.nalts && used < sizeof(names); i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used,
			    "%s'%s'", i ? ", " : "", s->dev.alt_names[i]);
		snprintf(err, FLASHER_ERR_MAX, "%s has no alt setting '%s' (it has %s)",
		    s->who, name, names);
		return -1;
	}
	if (!(s->dev.dfu.func.attributes & need)) {
		snprintf(err, FLASHER_ERR_MAX, "%s does not support DFU %s",
		    s->who, need == FLASHER_CAN_DNLOAD ? "download" : "upload");
		return -1;
	}
	if (s->alt != idx) {
		rc = libusb_set_interface_alt_setting(s->h, s->dev.dfu.interface,
		    s->dev.dfu.alts[idx].setting);
		if (rc != 0) {
			if (rc == LIBUSB_ERROR_NO_DEVICE)
				return usb_fail(s, rc, DFU_GETSTATUS, err);
			snprintf(err, FLASHER_ERR_MAX, "%s: cannot select alt setting "
			    "'%s': %s", s->who, name, libusb_strerror(rc));
			return -1;
		}
		s->alt = idx;
	}
	if (flasher_getstatus(s, &st, err) != 0)
		return -1;
	if (st.state == FLASHER_APP_IDLE || st.state == FLASHER_APP_DETACH) {
		snprintf(err, FLASHER_ERR_MAX, "%s is in run-time mode (%s): switch "
		    "it to DFU mode first", s->who, flasher_state_name(st.state));
		return -1;
	}
	if (st.state == FLASHER_MANIFEST_WAIT_RESET) {
		/* left waiting by an earlier host: reset, then select again */
		if (reset_after_manifest(s, err) != 0)
			return -1;
		return prepare(s, name, need, err);
	}
	if (st.state == FLASHER_DFU_ERROR &&
	    request(s, DFU_CLRSTATUS, 0, NULL, 0, err) < 0)
		return -1;
	else if (st.state != FLASHER_DFU_IDLE && st.state != FLASHER_DFU_ERROR) {
		if (st.poll_timeout_ms)
			sleep_ms(st.poll_timeout_ms);
		if (request(s, DFU_ABORT, 0, NULL, 0, err) < 0)
			return -1;
	}
	if (st.state != FLASHER_DFU_IDLE) {
		if (flasher_getstatus(s, &st, err) != 0)
			return -1;
		if (st.state != FLASHER_DFU_IDLE) {
			snprintf(err, FLASHER_ERR_MAX, "%s stays in %s (%s) after "
			    "DFU_CLRSTATUS/DFU_ABORT; reset it", s->who,
			    flasher_state_name(st.state), flasher_status_name(st.status));
			return -1;
		}
	}
	s->alt_name = s->dev.alt_names[idx];
	return 0;
}

int
flasher_download(struct flasher_session *s, const char *alt,
    const uint8_t *data, size_t len, flasher_progress_fn *progress, void *arg,
    char err[static FLASHER_ERR_MAX])
{
	size_t block_size = s->dev.dfu.func.transfer_size;
	uint16_t block = 0;

	if (len == 0) {
		snprintf(err, FLASHER_ERR_MAX, "nothing to download: the image is "
		    "empty");
		return -1;
	}
	if (prepare(s, alt, FLASHER_CAN_DNLOAD, err) != 0)
		return -1;
	s->op = "download";
	s->total = len;
	for (s->done = 0; s->done < len; block++) {
		size_t n = len - s->done < block_size ? len - s->done : block_size;
		if (request(s, DFU_DNLOAD, block, (uint8_t *)(uintptr_t)(data + s->done),
		    (uint16_t)n, err) < 0)
			goto fail;
		if (poll_until(s, FLASHER_DNLOAD_IDLE, 1u << FLASHER_DNBUSY |
		    1u << FLASHER_DNLOAD_SYNC, err) != 0)
			goto fail;
		s->done += n;
		if (progress)
			progress(arg, s->done, len);
	}
	/* The zero-length DNLOAD ends the download; manifestation follows. */
	if (request(s, DFU_DNLOAD, block, NULL, 0, err) < 0)
		goto fail;
	if (poll_until(s, FLASHER_DFU_IDLE, 1u << FLASHER_MANIFEST_SYNC |
	    1u << FLASHER_MANIFEST, err) != 0)
		goto fail;
	s->op = NULL;
	return 0;
fail:
	s->op = NULL;
	return -1;
}

int
flasher_upload(struct flasher_session *s, const char *alt, size_t max,
    uint8_t **data, size_t *len, flasher_progress_fn *progress, void *arg,
    char err[static FLASHER_ERR_MAX])
{
	uint16_t block_size = s->dev.dfu.func.transfer_size, block = 0;
	uint8_t *buf = NULL, *grown;
	size_t cap = 0;
	int got;

	if (prepare(s, alt, FLASHER_CAN_UPLOAD, err) != 0)
		return -1;
	s->op = "upload";
	s->total = 0;
	for (s->done = 0;; block++) {
		if (s->done + block_size > cap) {
			cap = cap ? cap * 2 : (size_t)block_size * 4;
			if ((grown = realloc(buf, cap)) == NULL) {
				snprintf(err, FLASHER_ERR_MAX, "out of memory");
				goto fail;
			}
			buf = grown;
		}
		if ((got = request(s, DFU_UPLOAD, block, buf + s->done, block_size,
		    err)) < 0)
			goto fail;
		s->done += (size_t)got;
		if (progress)
			progress(arg, s->done, 0);
		if (got < block_size)
			break;
		if (s->done > max) {
			char ignored[FLASHER_ERR_MAX];
			(void)request(s, DFU_ABORT, 0, NULL, 0, ignored);
			snprintf(err, FLASHER_ERR_MAX, "%s: alt '%s' holds more than %zu "
			    "bytes; upload aborted", s->who, s->alt_name, max);
			goto fail;
		}
	}
	if (s->done > max) {
		snprintf(err, FLASHER_ERR_MAX, "%s: alt '%s' holds more than %zu "
		    "bytes", s->who, s->alt_name, max);
		goto fail;
	}
	*data = buf;
	*len = s->done;
	s->op = NULL;
	return 0;
fail:
	free(buf);
	s->op = NULL;
	return -1;
}

int
flasher_session_open(struct flasher *fl, const struct flasher_device *dev,
    struct flasher_session **out, char err[static FLASHER_ERR_MAX])
{
	struct flasher_session *s;
	libusb_device **list, *found = NULL;
	char path[FLASHER_PATH_MAX];
	ssize_t n;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, FLASHER_ERR_MAX, "out of memory");
		return -1;
	}
	s->dev = *dev;
	s->alt = -1;
	snprintf(s->who, sizeof(s->who), "device %s (serial %s)", dev->path,
	    dev->serial[0] ? dev->serial : "none");
	if ((n = libusb_get_device_list(fl->ctx, &list)) < 0) {
		snprintf(err, FLASHER_ERR_MAX, "cannot list USB devices: %s",
		    libusb_strerror((int)n));
		goto fail;
	}
	for (ssize_t i = 0; i < n && !found; i++) {
		flasher_usb_path(list[i], path);
		if (libusb_get_bus_number(list[i]) == dev->bus &&
		    libusb_get_device_address(list[i]) == dev->address &&
		    strcmp(path, dev->path) == 0)
			found = list[i];
	}
	rc = found ? libusb_open(found, &s->h) : LIBUSB_ERROR_NO_DEVICE;
	libusb_free_device_list(list, 1);
	if (rc != 0) {
		snprintf(err, FLASHER_ERR_MAX, "%s: cannot open: %s", s->who,
		    rc == LIBUSB_ERROR_NO_DEVICE ? "no longer attached" :
		    libusb_strerror(rc));
		goto fail;
	}
	(void)libusb_set_auto_detach_kernel_driver(s->h, 1);
	if ((rc = libusb_claim_interface(s->h, dev->dfu.interface)) != 0) {
		if (rc == LIBUSB_ERROR_NO_DEVICE)
			snprintf(err, FLASHER_ERR_MAX, "%s: cannot open: no longer "
			    "attached", s->who);
		else
			snprintf(err, FLASHER_ERR_MAX, "%s: cannot claim DFU interface "
			    "%u: %s", s->who, dev->dfu.interface, libusb_strerror(rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->h)
		libusb_close(s->h);
	free(s);
	return -1;
}

void
flasher_session_close(struct flasher_session *s)
{
	if (s == NULL)
		return;
	(void)libusb_release_interface(s->h, s->dev.dfu.interface);
	libusb_close(s->h);
	free(s);
}

unsigned long
flasher_session_transfers(const struct flasher_session *s)
{
	return s->transfers;
}

const char *
flasher_session_name(const struct flasher_session *s)
{
	return s->who;
}

const struct flasher_device *
flasher_session_device(const struct flasher_session *s)
{
	return &s->dev;
}
