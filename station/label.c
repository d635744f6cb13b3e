/*
 * label.c: the QR payload from its template, the ZPL II label, and
 * writing a device's label to the spool, the printer and the PNG folder
 * (label.h; the PNG itself is drawn in label_png.c).
 *
 * ZPL layout (203 dpi, 2 x 1.25 inch, 406 x 254 dots):
 *   ^XA ^CI28 ^PW406 ^LL254
 *   ^FO16,16^BQN,2,4^FH_^FDMA,<payload>^FS       QR, model 2, level M
 *   ^FO200,40^A0N,24,24^FH_^FD<serial>^FS
 *   ^FO200,90^A0N,22,22^FH_^FD<claim, grouped by 4>^FS
 *   ^FO200,140^A0N,20,20^FH_^FD<product>^FS
 *   ^XZ
 * Every ^FD value passes through zpl_field(): characters outside
 * printable ASCII, and '^', '~' and '_', are written as _XX (^FH_).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "station/identity.h"
#include "station/label.h"

static void
fmt(char err[static LABEL_ERR_MAX], const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static void
fmt(char err[static LABEL_ERR_MAX], const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(err, LABEL_ERR_MAX, f, ap);
	va_end(ap);
}

int
label_payload(const char *tmpl, const struct label_device *d,
    char out[static LABEL_PAYLOAD_MAX + 1], char err[static LABEL_ERR_MAX])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const char *t = tmpl; *t != '\0';) {
		const char *val = NULL;

		if (*t == '{') {
			if (!strncmp(t, "{claim}", 7)) {
				val = d->claim_id;
				t += 7;
			} else if (!strncmp(t, "{serial}", 8)) {
				val = d->serial;
				t += 8;
			} else if (!strncmp(t, "{product}", 9)) {
				val = d->product;
				t += 9;
			} else {
				fmt(err, "[label] qr_template: unknown field at '%.12s' "
				    "(known: {claim} {serial} {product})", t);
				return -1;
			}
			for (const char *v = val; *v != '\0'; v++) {
				unsigned char c = (unsigned char)*v;

				if (n + 3 > LABEL_PAYLOAD_MAX)
					goto too_long;
				if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
				    c == '_' || c == '~') {
					out[n++] = (char)c;
				} else {
					out[n++] = '%';
					out[n++] = hex[c >> 4];
					out[n++] = hex[c & 15];
				}
			}
			continue;
		}
		if ((unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e) {
			fmt(err, "[label] qr_template: only printable ASCII");
			return -1;
		}
		if (n + 1 > LABEL_PAYLOAD_MAX)
			goto too_long;
		out[n++] = *t++;
	}
	out[n] = '\0';
	return 0;
too_long:
	fmt(err, "QR payload longer than %d bytes", LABEL_PAYLOAD_MAX);
	return -1;
}

/* zpl_field(f, s): ${s} as ^FH_ field data. */
static void
zpl_field(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c > 0x7e || c == '^' || c == '~' || c == '_')
			fprintf(f, "_%02X", c);
		else
			fputc(c, f);
	}
}

int
label_zpl(const struct label_device *d, const char *payload, char **out,
    size_t *len, char err[static LABEL_ERR_MAX])
{
	char display[IDENTITY_DISPLAY_BUF];
	FILE *f;

	*out = NULL;
	*len = 0;
	if ((f = open_memstream(out, len)) == NULL) {
		fmt(err, "out of memory");
		return -1;
	}
	identity_claim_display(d->claim_id, display);
	fputs("^XA\n^CI28\n^PW406\n^LL254\n", f);
	fputs("^FO16,16^BQN,2,4^FH_^FDMA,", f);
	zpl_field(f, payload);
	fputs("^FS\n^FO200,40^A0N,24,24^FH_^FD", f);
	zpl_field(f, d->serial);
	fputs("^FS\n^FO200,90^A0N,22,22^FH_^FD", f);
	zpl_field(f, display);
	fputs("^FS\n^FO200,140^A0N,20,20^FH_^FD", f);
	zpl_field(f, d->product);
	fputs("^FS\n^XZ\n", f);
	if (fclose(f) != 0 || *out == NULL) {
		free(*out);
		*out = NULL;
		fmt(err, "out of memory");
		return -1;
	}
	return 0;
}

/* make_dirs(path): mkdir -p, 0700 (labels carry claim IDs). */
static int
make_dirs(const char *path, char err[static LABEL_ERR_MAX])
{
	char p[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(p)) {
		fmt(err, "bad folder '%s'", path);
		return -1;
	}
	memcpy(p, path, len + 1);
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				fmt(err, "cannot create %s: %s", p, strerror(errno));
				return -1;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

/* replace_file(path, data, len): write a temporary file, fsync, rename. */
static int
replace_file(const char *path, const void *data, size_t len,
    char err[static LABEL_ERR_MAX])
{
	char tmp[PATH_MAX + 16];
	ssize_t w;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0) {
		fmt(err, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	w = write(fd, data, len);
	if (w < 0 || (size_t)w != len || fsync(fd) != 0) {
		fmt(err, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		fmt(err, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
send_to_printer(const char *dev, const char *zpl, size_t len,
    char err[static LABEL_ERR_MAX])
{
	int fd = open(dev, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
	ssize_t w;

	if (fd < 0) {
		fmt(err, "label printer %s: %s (is it plugged in and switched "
		    "on?)", dev, strerror(errno));
		return -1;
	}
	w = write(fd, zpl, len);
	if (w < 0 || (size_t)w != len) {
		fmt(err, "label printer %s: %s", dev, w < 0 ? strerror(errno) :
		    "short write");
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		fmt(err, "label printer %s: %s", dev, strerror(errno));
		return -1;
	}
	return 0;
}

int
label_write(const struct station_config *cfg, const struct label_device *d,
    struct label_files *files, char err[static LABEL_ERR_MAX])
{
	char *zpl = NULL;
	size_t len;
	int ret = -1;

	memset(files, 0, sizeof(*files));
	if (strspn(d->serial, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789.-") != strlen(d->serial) || d->serial[0] == '\0' ||
	    d->serial[0] == '.') {
		fmt(err, "serial '%s' cannot name a label file", d->serial);
		return -1;
	}
	if (label_payload(cfg->label_qr_template, d, files->payload, err) != 0 ||
	    label_zpl(d, files->payload, &zpl, &len, err) != 0)
		goto cleanup;
	if ((size_t)snprintf(files->zpl, sizeof(files->zpl), "%s/%s.zpl",
	    cfg->label_spool, d->serial) >= sizeof(files->zpl) ||
	    (size_t)snprintf(files->png, sizeof(files->png), "%s/%s.png",
	    cfg->label_png_dir, d->serial) >= sizeof(files->png)) {
		fmt(err, "label path too long");
		goto cleanup;
	}
	if (make_dirs(cfg->label_spool, err) != 0 ||
	    make_dirs(cfg->label_png_dir, err) != 0 ||
	    replace_file(files->zpl, zpl, len, err) != 0 ||
	    label_png(d, files->payload, files->png, err) != 0)
		goto cleanup;
	if (cfg->label_printer[0] != '\0') {
		if (send_to_printer(cfg->label_printer, zpl, len, err) != 0)
			goto cleanup;
		files->printed = 1;
	}
	ret = 0;
cleanup:
	free(zpl);
	return ret;
}
