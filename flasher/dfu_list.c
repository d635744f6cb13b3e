/*
 * dfu_list.c: finding DFU devices: the libusb context, the listing of
 * attached devices with their DFU interface, serial and alt names, and
 * the choice of one device by serial or port path.
 *
 * Listing opens each new candidate briefly (to read its configuration
 * descriptor and strings) and closes it again: handles stay open only
 * while a device is worked on; devices already known from the previous
 * listing are not opened again. Devices that arrive or leave show up in
 * the next listing (libusb follows uevents); a bench loop polls it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flasher/dfu_usb.h"

int
flasher_usb_ctrl(libusb_device_handle *h, unsigned long *count, uint8_t type,
    uint8_t request, uint16_t value, uint16_t index, uint8_t *data,
    uint16_t len)
{
	(*count)++;
	return libusb_control_transfer(h, type, request, value, index, data, len,
	    FLASHER_TIMEOUT_MS);
}

void
flasher_usb_path(libusb_device *ud, char out[static FLASHER_PATH_MAX])
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(ud, ports, (int)sizeof(ports));
	size_t used;

	used = (size_t)snprintf(out, FLASHER_PATH_MAX, "%u",
	    libusb_get_bus_number(ud));
	for (int i = 0; i < n && used < FLASHER_PATH_MAX; i++)
		used += (size_t)snprintf(out + used, FLASHER_PATH_MAX - used, "%c%u",
		    i == 0 ? '-' : '.', ports[i]);
}

int
flasher_open(struct flasher **fl, char err[static FLASHER_ERR_MAX])
{
	struct flasher *f;
	int rc;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, FLASHER_ERR_MAX, "out of memory");
		return -1;
	}
	/* A transient LIBUSB_ERROR_OTHER (the hotplug monitor socket could not
	 * be set up, seen with many processes starting at once under the
	 * emulator) is retried a few times before giving up. */
	for (int tries = 0; (rc = libusb_init(&f->ctx)) == LIBUSB_ERROR_OTHER &&
	    tries < 5; tries++) {
		struct timespec pause = { 0, 20 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (rc != 0) {
		snprintf(err, FLASHER_ERR_MAX, "cannot start libusb: %s",
		    libusb_strerror(rc));
		free(f);
		return -1;
	}
	*fl = f;
	return 0;
}

void
flasher_close(struct flasher *fl)
{
	if (fl == NULL)
		return;
	libusb_exit(fl->ctx);
	free(fl);
}

/* A string descriptor as printable ASCII (others become '?'). */
static int
read_string(libusb_device_handle *h, unsigned long *count, uint16_t lang,
    uint8_t index, char out[static FLASHER_STR_MAX])
{
	uint8_t buf[255];
	size_t n = 0;
	int got;

	out[0] = '\0';
	if (index == 0)
		return 0;
	got = flasher_usb_ctrl(h, count, LIBUSB_ENDPOINT_IN,
	    LIBUSB_REQUEST_GET_DESCRIPTOR, (uint16_t)(LIBUSB_DT_STRING << 8 | index),
	    lang, buf, sizeof(buf));
	if (got < 2 || buf[1] != LIBUSB_DT_STRING || buf[0] > got || buf[0] < 2)
		return -1;
	for (size_t i = 2; i + 1 < buf[0] && n + 1 < FLASHER_STR_MAX; i += 2) {
		unsigned c = (unsigned)(buf[i] | buf[i + 1] << 8);
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
	return 0;
}

/* Fill ${out} from ${ud}; 1 if it is not a readable DFU device, with
 * ${why} set (non-empty) if it is a DFU device that cannot be read. */
static int
read_device(libusb_device *ud, struct flasher_device *out,
    char why[static FLASHER_ERR_MAX])
{
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *cfg;
	libusb_device_handle *h = NULL;
	uint8_t raw[1024], lang[4];
	unsigned long count = 0;
	char err[FLASHER_ERR_MAX];
	int dfu = 0, got, ret = 1;

	if (libusb_get_device_descriptor(ud, &dd) != 0)
		return 1;
	/* Cheap look at the cached descriptors first: open only DFU devices. */
	if (libusb_get_active_config_descriptor(ud, &cfg) != 0)
		return 1;
	for (int i = 0; i < cfg->bNumInterfaces; i++)
		for (int a = 0; a < cfg->interface[i].num_altsetting; a++)
			if (cfg->interface[i].altsetting[a].bInterfaceClass == 0xfe &&
			    cfg->interface[i].altsetting[a].bInterfaceSubClass == 0x01)
				dfu = 1;
	libusb_free_config_descriptor(cfg);
	why[0] = '\0';
	if (!dfu)
		return 1;
	if ((got = libusb_open(ud, &h)) != 0) {
		snprintf(why, FLASHER_ERR_MAX, "cannot open: %s",
		    libusb_strerror(got));
		return 1;
	}
	memset(out, 0, sizeof(*out));
	got = flasher_usb_ctrl(h, &count, LIBUSB_ENDPOINT_IN,
	    LIBUSB_REQUEST_GET_DESCRIPTOR, LIBUSB_DT_CONFIG << 8, 0, raw,
	    sizeof(raw));
	if (got < 4) {
		snprintf(why, FLASHER_ERR_MAX, "configuration descriptor does not "
		    "read (%s)", got < 0 ? libusb_strerror(got) : "too short");
		goto out;
	}
	if (flasher_parse_config(raw, (size_t)got, &out->dfu, err) != 0) {
		snprintf(why, FLASHER_ERR_MAX, "%s", err);
		goto out;
	}
	flasher_usb_path(ud, out->path);
	out->bus = libusb_get_bus_number(ud);
	out->address = libusb_get_device_address(ud);
	out->vid = dd.idVendor;
	out->pid = dd.idProduct;
	if (dd.iSerialNumber || out->dfu.nalts) {
		got = flasher_usb_ctrl(h, &count, LIBUSB_ENDPOINT_IN,
		    LIBUSB_REQUEST_GET_DESCRIPTOR, LIBUSB_DT_STRING << 8, 0, lang,
		    sizeof(lang));
		snprintf(why, FLASHER_ERR_MAX, "string descriptors do not read");
		if (got < 4 || lang[1] != LIBUSB_DT_STRING)
			goto out;
		uint16_t langid = (uint16_t)(lang[2] | lang[3] << 8);
		if (read_string(h, &count, langid, dd.iSerialNumber, out->serial) != 0)
			goto out;
		for (size_t i = 0; i < out->dfu.nalts; i++)
			if (read_string(h, &count, langid,
			    out->dfu.alts[i].string_index, out->alt_names[i]) != 0)
				goto out;
	}
	why[0] = '\0';
	ret = 0;
out:
	libusb_close(h);
	return ret;
}

/* Port paths in numeric order: "1-2" before "1-10". */
static int
path_cmp(const void *a, const void *b)
{
	const char *p = ((const struct flasher_device *)a)->path;
	const char *q = ((const struct flasher_device *)b)->path;

	while (*p && *q) {
		if (isdigit((unsigned char)*p) && isdigit((unsigned char)*q)) {
			unsigned long x = strtoul(p, (char **)&p, 10);
			unsigned long y = strtoul(q, (char **)&q, 10);
			if (x != y)
				return x < y ? -1 : 1;
		} else if (*p != *q) {
			return (unsigned char)*p - (unsigned char)*q;
		} else {
			p++, q++;
		}
	}
	return (unsigned char)*p - (unsigned char)*q;
}

static const struct flasher_device *
find_known(libusb_device *ud, const struct flasher_device *known, size_t n)
{
	char path[FLASHER_PATH_MAX];

	flasher_usb_path(ud, path);
	for (size_t i = 0; i < n; i++)
		if (known[i].bus == libusb_get_bus_number(ud) &&
		    known[i].address == libusb_get_device_address(ud) &&
		    strcmp(known[i].path, path) == 0)
			return &known[i];
	return NULL;
}

int
flasher_list(struct flasher *fl, const struct flasher_device *known,
    size_t nknown, struct flasher_device **devs, size_t *n,
    char err[static FLASHER_ERR_MAX])
{
	const struct flasher_device *seen;

	libusb_device **list;
	struct flasher_device *out;
	ssize_t count;
	size_t found = 0;

	if ((count = libusb_get_device_list(fl->ctx, &list)) < 0) {
		snprintf(err, FLASHER_ERR_MAX, "cannot list USB devices: %s",
		    libusb_strerror((int)count));
		return -1;
	}
	if ((out = calloc((size_t)count + 1, sizeof(*out))) == NULL) {
		libusb_free_device_list(list, 1);
		snprintf(err, FLASHER_ERR_MAX, "out of memory");
		return -1;
	}
	fl->nrejected = 0;
	for (ssize_t i = 0; i < count; i++) {
		char why[FLASHER_ERR_MAX];
		if ((seen = find_known(list[i], known, nknown)) != NULL) {
			out[found++] = *seen;
		} else if (read_device(list[i], &out[found], why) == 0) {
			found++;
		} else if (why[0] && fl->nrejected < FLASHER_REJECTED_MAX) {
			struct flasher_rejected *r = &fl->rejected[fl->nrejected++];
			struct libusb_device_descriptor dd;
			flasher_usb_path(list[i], r->path);
			r->vid = r->pid = 0;
			if (libusb_get_device_descriptor(list[i], &dd) == 0) {
				r->vid = dd.idVendor;
				r->pid = dd.idProduct;
			}
			snprintf(r->why, sizeof(r->why), "%s", why);
		}
	}
	libusb_free_device_list(list, 1);
	qsort(out, found, sizeof(*out), path_cmp);
	*devs = out;
	*n = found;
	return 0;
}

void
flasher_list_free(struct flasher_device *devs)
{
	free(devs);
}

const struct flasher_rejected *
flasher_list_rejected(const struct flasher *fl, size_t *n)
{
	*n = fl->nrejected;
	return fl->rejected;
}

int
flasher_select(const struct flasher_device *devs, size_t n, const char *serial,
    const char *path, size_t *index, char err[static FLASHER_ERR_MAX])
{
	size_t matches = 0;

	for (size_t i = 0; i < n; i++) {
		if (serial && strcmp(devs[i].serial, serial) != 0)
			continue;
		if (path && strcmp(devs[i].path, path) != 0)
			continue;
		if (matches++ == 0)
			*index = i;
	}
	if (matches == 1)
		return 0;
	if (matches > 1) {
		snprintf(err, FLASHER_ERR_MAX, "%zu DFU devices %s", matches,
		    serial || path ? "match" : "are attached");
		return -2;
	}
	if (serial && path)
		snprintf(err, FLASHER_ERR_MAX, "no DFU device with serial %s at "
		    "port %s", serial, path);
	else if (serial)
		snprintf(err, FLASHER_ERR_MAX, "no DFU device with serial %s", serial);
	else if (path)
		snprintf(err, FLASHER_ERR_MAX, "no DFU device at port %s", path);
	else
		snprintf(err, FLASHER_ERR_MAX, "no DFU device attached");
	return -1;
}

int
flasher_alt_index(const struct flasher_device *dev, const char *name)
{
	for (size_t i = 0; i < dev->dfu.nalts; i++)
		if (strcmp(dev->alt_names[i], name) == 0)
			return (int)i;
	return -1;
}
