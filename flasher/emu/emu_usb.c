/*
 * emu_usb.c: the USB side of an emulated device: its descriptors, the
 * standard requests, and the usbdevfs ioctls that umockdev forwards from
 * a client (libusb, dfu-util) to our handler.
 *
 * Control URBs are answered at submit time and queued per client (one
 * client per open file); that client's next REAPURB(NDELAY) returns them
 * in order. A client that goes away (closed, killed) takes its queue. A stalled request completes with
 * status -EPIPE, as the kernel reports a STALL. Once a device has vanished
 * every ioctl fails with ENODEV (libusb: LIBUSB_ERROR_NO_DEVICE). Never
 * call libusb or sleep here: all devices share umockdev's handler thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <umockdev.h>

#include "flasher/emu/emu.h"

#define STR_MANUFACTURER 1
#define STR_PRODUCT      2
#define STR_SERIAL       3
#define STR_ALT0         4

static size_t
device_descriptor(uint8_t out[static 18])
{
	const uint8_t d[18] = {
		18, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 64,
		EMU_VID & 0xff, EMU_VID >> 8, EMU_PID & 0xff, EMU_PID >> 8,
		0x00, 0x01, STR_MANUFACTURER, STR_PRODUCT, STR_SERIAL, 1,
	};
	memcpy(out, d, sizeof(d));
	return sizeof(d);
}

static size_t
functional_descriptor(const struct emu_device *d, uint8_t out[static 9])
{
	/* bitCanDnload | bitCanUpload [| bitManifestationTolerant]; DFU 1.1 */
	uint8_t f[9] = { 9, 0x21, d->wait_reset ? 0x03 : 0x07,
		EMU_DETACH_MS & 0xff,
		EMU_DETACH_MS >> 8, EMU_TRANSFER_SIZE & 0xff,
		EMU_TRANSFER_SIZE >> 8, 0x10, 0x01 };
	if (d->bad_desc == 1)  /* fault: wTransferSize 0 */
		f[5] = f[6] = 0;
	memcpy(out, f, sizeof(f));
	return sizeof(f);
}

/* Configuration: one interface, one alt setting per alt, then the DFU
 * functional descriptor. */
#define CONFIG_LEN (9 + 9 * EMU_ALTS + 9)
static size_t
config_descriptor(const struct emu_device *d, uint8_t out[static CONFIG_LEN])
{
	uint8_t *p = out;
	const uint8_t c[9] = { 9, 0x02, CONFIG_LEN & 0xff, CONFIG_LEN >> 8, 1, 1,
		0, 0x80, 50 };

	memcpy(p, c, 9);
	p += 9;
	for (int i = 0; i < EMU_ALTS; i++) {
		const uint8_t intf[9] = { 9, 0x04, 0, (uint8_t)i, 0, 0xfe, 0x01,
			0x02, (uint8_t)(STR_ALT0 + i) };
		memcpy(p, intf, 9);
		p += 9;
	}
	p += functional_descriptor(d, p);
	return (size_t)(p - out);
}

static size_t
string_descriptor(const struct emu_device *d, unsigned index, uint8_t *out,
    size_t max)
{
	const char *s;
	size_t n = 2;

	if (index == 0) {
		const uint8_t langs[4] = { 4, 0x03, 0x09, 0x04 };
		memcpy(out, langs, max < 4 ? max : 4);
		return max < 4 ? max : 4;
	}
	if (index == STR_MANUFACTURER)
		s = "Stamp devices (emulated)";
	else if (index == STR_PRODUCT)
		s = "stampdev-emu";
	else if (index == STR_SERIAL)
		s = d->serial;
	else if (index >= STR_ALT0 && index < STR_ALT0 + EMU_ALTS)
		s = d->bad_desc == 2 ? "alt" : d->alts[index - STR_ALT0].name;
	else if (index == EMU_STR_STATUS && d->status_text[0])
		s = d->status_text;
	else
		return 0;
	for (; *s && n + 2 <= max && n + 2 <= 254; s++) {
		out[n++] = (uint8_t)*s;
		out[n++] = 0;
	}
	if (max >= 2) {
		out[0] = (uint8_t)n;
		out[1] = 0x03;
	}
	return n < max ? n : max;
}

int
emu_usb_request(struct emu_device *d, const uint8_t setup[static 8],
    uint8_t *data, size_t *len)
{
	unsigned type = setup[0], req = setup[1];
	unsigned value = (unsigned)(setup[2] | setup[3] << 8);
	uint8_t desc[256];
	size_t n = 0;

	if (d->presence != DEV_PRESENT)
		return -ENODEV;
	d->transfers++;
	if ((type & 0x60) == 0x20)
		return emu_dfu_request(d, setup, data, len);
	if ((type & 0x60) != 0)
		return -EPIPE;
	switch (req) {
	case 0x06: /* GET_DESCRIPTOR */
		switch (value >> 8) {
		case 0x01: n = device_descriptor(desc); break;
		case 0x02: n = config_descriptor(d, desc); break;
		case 0x03: n = string_descriptor(d, value & 0xff, desc, sizeof(desc)); break;
		case 0x21: n = functional_descriptor(d, desc); break;
		default: return -EPIPE;
		}
		if (n == 0)
			return -EPIPE;
		break;
	case 0x00: /* GET_STATUS */
		desc[0] = desc[1] = 0;
		n = 2;
		break;
	case 0x08: /* GET_CONFIGURATION */
		desc[0] = 1;
		n = 1;
		break;
	case 0x0a: /* GET_INTERFACE */
		desc[0] = (uint8_t)d->alt;
		n = 1;
		break;
	case 0x09: /* SET_CONFIGURATION */
	case 0x01: /* CLEAR_FEATURE */
	case 0x03: /* SET_FEATURE */
		*len = 0;
		return 0;
	case 0x0b: /* SET_INTERFACE */
		if (value >= EMU_ALTS)
			return -EPIPE;
		emu_dfu_set_alt(d, (int)value);
		*len = 0;
		return 0;
	default:
		return -EPIPE;
	}
	if (n > *len)
		n = *len;
	memcpy(data, desc, n);
	*len = n;
	return 0;
}

static void
complete_urb(struct emu_device *d, UMockdevIoctlData *urb_data)
{
	struct usbdevfs_urb *urb = (struct usbdevfs_urb *)urb_data->data;
	uint8_t *buf = urb->buffer;
	size_t len;
	int rc;

	if (urb->type != USBDEVFS_URB_TYPE_CONTROL || urb->buffer_length < 8) {
		urb->status = -EPIPE;
		urb->actual_length = 0;
		return;
	}
	len = (size_t)(buf[6] | buf[7] << 8);
	if (len > (size_t)urb->buffer_length - 8)
		len = (size_t)urb->buffer_length - 8;
	size_t want = len;
	rc = emu_usb_request(d, buf, buf + 8, &len);
	urb->status = rc;
	/* OUT: the whole data stage was taken; IN: what the device sent. */
	urb->actual_length = rc != 0 ? 0 : (int)((buf[0] & 0x80) ? len : want);
}

/* A completed URB waiting for its client to reap it. */
struct done_urb {
	UMockdevIoctlClient *client;
	UMockdevIoctlData *urb;
};

static void
push_done(GQueue *done, UMockdevIoctlClient *client, UMockdevIoctlData *urb)
{
	struct done_urb *d = g_new(struct done_urb, 1);

	d->client = client;
	d->urb = urb;
	g_queue_push_tail(done, d);
}

/* The oldest URB of ${client} (NULL: any client), or NULL. */
static UMockdevIoctlData *
pop_done(GQueue *done, UMockdevIoctlClient *client)
{
	for (GList *l = done->head; l != NULL; l = l->next) {
		struct done_urb *d = l->data;
		if (client == NULL || d->client == client) {
			UMockdevIoctlData *urb = d->urb;
			g_queue_delete_link(done, l);
			g_free(d);
			return urb;
		}
	}
	return NULL;
}

static bool
has_done(GQueue *done, UMockdevIoctlClient *client)
{
	for (GList *l = done->head; l != NULL; l = l->next)
		if (((struct done_urb *)l->data)->client == client)
			return true;
	return false;
}

void
emu_usb_drop_done(struct emu_device *d, void *client)
{
	UMockdevIoctlData *urb;

	while ((urb = pop_done(d->done, client)) != NULL)
		umockdev_ioctl_data_unref(urb);
}

static void
client_vanished(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
    gpointer user_data)
{
	(void)handler;
	pthread_mutex_lock(&emu_lock);
	emu_usb_drop_done(user_data, client);
	pthread_mutex_unlock(&emu_lock);
}

static gboolean
handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
    gpointer user_data)
{
	struct emu_device *d = user_data;
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	gulong request = umockdev_ioctl_client_get_request(client);
	GQueue *done = d->done;

	(void)handler;
	pthread_mutex_lock(&emu_lock);
	/* Unplugged: like the kernel (USBDEVFS_CAP_REAP_AFTER_DISCONNECT),
	 * URBs completed before still come back to REAPURB; then ENODEV. */
	if (d->presence != DEV_PRESENT &&
	    ((request != USBDEVFS_REAPURB && request != USBDEVFS_REAPURBNDELAY) ||
	    !has_done(done, client))) {
		umockdev_ioctl_client_complete(client, -1, ENODEV);
		goto out;
	}
	switch (request) {
	case USBDEVFS_GET_CAPABILITIES: {
		UMockdevIoctlData *caps = umockdev_ioctl_data_resolve(arg, 0,
		    sizeof(guint32), NULL);
		*(guint32 *)caps->data = USBDEVFS_CAP_BULK_CONTINUATION |
		    USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
		    USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_ZERO_PACKET;
		umockdev_ioctl_client_complete(client, 0, 0);
		umockdev_ioctl_data_unref(caps);
		break;
	}
	case USBDEVFS_SUBMITURB: {
		UMockdevIoctlData *urb_data, *buf;
		struct usbdevfs_urb *urb;

		urb_data = umockdev_ioctl_data_resolve(arg, 0,
		    sizeof(struct usbdevfs_urb), NULL);
		urb = (struct usbdevfs_urb *)urb_data->data;
		buf = umockdev_ioctl_data_resolve(urb_data,
		    G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
		    (gsize)(urb->buffer_length > 0 ? urb->buffer_length : 0), NULL);
		complete_urb(d, urb_data);
		if (buf)
			umockdev_ioctl_data_unref(buf);
		if (urb->status == -ENODEV) {
			umockdev_ioctl_data_unref(urb_data);
			umockdev_ioctl_client_complete(client, -1, ENODEV);
			break;
		}
		push_done(done, client, urb_data);
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	}
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY: {
		UMockdevIoctlData *urb_data = pop_done(done, client), *ptr;
		if (urb_data == NULL) {
			umockdev_ioctl_client_complete(client, -1, EAGAIN);
			break;
		}
		ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
		umockdev_ioctl_data_set_ptr(ptr, 0, urb_data);
		umockdev_ioctl_client_complete(client, 0, 0);
		umockdev_ioctl_data_unref(ptr);
		umockdev_ioctl_data_unref(urb_data);
		break;
	}
	case USBDEVFS_DISCARDURB:
		/* Every URB completes at submit: nothing is ever in flight. */
		umockdev_ioctl_client_complete(client, -1, EINVAL);
		break;
	case USBDEVFS_SETINTERFACE: {
		UMockdevIoctlData *si = umockdev_ioctl_data_resolve(arg, 0,
		    sizeof(struct usbdevfs_setinterface), NULL);
		struct usbdevfs_setinterface *s = (void *)si->data;
		if (s->interface != 0 || s->altsetting >= EMU_ALTS) {
			umockdev_ioctl_client_complete(client, -1, EINVAL);
		} else {
			emu_dfu_set_alt(d, (int)s->altsetting);
			umockdev_ioctl_client_complete(client, 0, 0);
		}
		umockdev_ioctl_data_unref(si);
		break;
	}
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:  /* kernel driver queries: there is none */
		umockdev_ioctl_client_complete(client, -1, ENODATA);
		break;
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
	case USBDEVFS_SETCONFIGURATION:
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
	case USBDEVFS_DISCONNECT_CLAIM:
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_RESET:
		emu_dfu_reset(d);
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	default:
		if (emu_verbose)
			emu_log(d, "unhandled ioctl 0x%lx", request);
		umockdev_ioctl_client_complete(client, -1, ENOTTY);
		break;
	}
out:
	pthread_mutex_unlock(&emu_lock);
	return TRUE;
}

void *
emu_usb_handler_new(struct emu_device *d)
{
	UMockdevIoctlBase *h = umockdev_ioctl_base_new();

	g_signal_connect(h, "handle-ioctl", G_CALLBACK(handle_ioctl), d);
	g_signal_connect(h, "client-vanished", G_CALLBACK(client_vanished), d);
	return h;
}

/* The umockdev record (sysfs attributes and uevent properties) of ${d}. */
char *
emu_usb_sysfs_record(const struct emu_device *d)
{
	uint8_t desc[18 + CONFIG_LEN];
	char hex[2 * sizeof(desc) + 1];
	size_t n = device_descriptor(desc);

	n += config_descriptor(d, desc + n);
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", desc[i]);
	return g_strdup_printf(
	    "P: /devices/usb1/%s\nN: bus/usb/001/%03d\n"
	    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
	    "E: BUSNUM=001\nE: DEVNUM=%03d\nE: DEVNAME=/dev/bus/usb/001/%03d\n"
	    "E: ID_SERIAL_SHORT=%s\n"
	    "A: busnum=1\\n\nA: devnum=%d\\n\nA: bConfigurationValue=1\\n\n"
	    "A: speed=480\\n\nA: idVendor=%04x\\n\nA: idProduct=%04x\\n\n"
	    "A: serial=%s\\n\nH: descriptors=%s\n",
	    d->sysname, d->devnum, d->devnum, d->devnum, d->serial, d->devnum,
	    EMU_VID, EMU_PID, d->serial, hex);
}
