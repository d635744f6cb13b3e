/*
 * label_png.c: the PNG rendering of a label (label.h): the QR code by
 * libqrencode, the serial and the claim ID in a built-in 5x7 font, an
 * 8-bit grey image written by libpng.
 *
 * Layout: a white border of 4 QR modules round the code (6 pixels a
 * module), then two text lines, each glyph 5x7 dots drawn 3 pixels a dot
 * with a one-dot gap: "SN <serial>" and the claim ID grouped by four.
 * The font covers 0-9 A-Z and - . * ~ $ = : _ and space; lowercase is
 * drawn as uppercase, anything else as '?'.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <qrencode.h>

#include "station/identity.h"
#include "station/label.h"

#define MODULE_PX 6
#define QUIET 4
#define DOT 3
#define GLYPH_W ((5 + 1) * DOT)
#define LINE_H ((7 + 3) * DOT)

/* Rows of 5 bits, leftmost dot in bit 4. */
static const struct {
	char c;
	uint8_t rows[7];
} font[] = {
	{ '0', { 0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E } },
	{ '1', { 0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E } },
	{ '2', { 0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F } },
	{ '3', { 0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E } },
	{ '4', { 0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02 } },
	{ '5', { 0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E } },
	{ '6', { 0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E } },
	{ '7', { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 } },
	{ '8', { 0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E } },
	{ '9', { 0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C } },
	{ 'A', { 0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11 } },
	{ 'B', { 0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E } },
	{ 'C', { 0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E } },
	{ 'D', { 0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C } },
	{ 'E', { 0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F } },
	{ 'F', { 0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10 } },
	{ 'G', { 0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F } },
	{ 'H', { 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11 } },
	{ 'I', { 0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E } },
	{ 'J', { 0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C } },
	{ 'K', { 0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11 } },
	{ 'L', { 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F } },
	{ 'M', { 0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11 } },
	{ 'N', { 0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11 } },
	{ 'O', { 0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E } },
	{ 'P', { 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10 } },
	{ 'Q', { 0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D } },
	{ 'R', { 0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11 } },
	{ 'S', { 0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E } },
	{ 'T', { 0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04 } },
	{ 'U', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E } },
	{ 'V', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04 } },
	{ 'W', { 0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A } },
	{ 'X', { 0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11 } },
	{ 'Y', { 0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04 } },
	{ 'Z', { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F } },
	{ '-', { 0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00 } },
	{ '.', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C } },
	{ '*', { 0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00 } },
	{ '~', { 0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00 } },
	{ '$', { 0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04 } },
	{ '=', { 0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00 } },
	{ ':', { 0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00 } },
	{ '_', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F } },
	{ ' ', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 } },
	{ '?', { 0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04 } },
};

static const uint8_t *
glyph(char c)
{
	size_t n = sizeof(font) / sizeof(font[0]);

	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	for (size_t i = 0; i < n; i++)
		if (font[i].c == c)
			return font[i].rows;
	return font[n - 1].rows;
}

struct image {
	size_t w, h;
	uint8_t *px;     /* 0 black, 255 white */
};

static void
fill(struct image *im, size_t x, size_t y, size_t w, size_t h)
{
	for (size_t j = y; j < y + h && j < im->h; j++)
		for (size_t i = x; i < x + w && i < im->w; i++)
			im->px[j * im->w + i] = 0;
}

static void
text(struct image *im, size_t x, size_t y, const char *s)
{
	for (; *s != '\0'; s++, x += GLYPH_W) {
		const uint8_t *g = glyph(*s);

		for (size_t r = 0; r < 7; r++)
			for (size_t c = 0; c < 5; c++)
				if (g[r] & (0x10 >> c))
					fill(im, x + c * DOT, y + r * DOT, DOT, DOT);
	}
}

static void
png_error_fn(png_structp png, png_const_charp msg)
{
	char *err = png_get_error_ptr(png);

	snprintf(err, LABEL_ERR_MAX, "PNG: %s", msg);
	png_longjmp(png, 1);
}

static int
write_png(const struct image *im, FILE *f, char err[static LABEL_ERR_MAX])
{
	png_structp png;
	png_infop info = NULL;
	volatile int ret = -1;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, png_error_fn,
	    NULL);
	if (png == NULL || (info = png_create_info_struct(png)) == NULL) {
		snprintf(err, LABEL_ERR_MAX, "PNG: out of memory");
		goto cleanup;
	}
	if (setjmp(png_jmpbuf(png)))
		goto cleanup;
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8,
	    PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	    PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (size_t y = 0; y < im->h; y++)
		png_write_row(png, im->px + y * im->w);
	png_write_end(png, NULL);
	ret = 0;
cleanup:
	png_destroy_write_struct(&png, &info);
	return ret;
}

int
label_png(const struct label_device *d, const char *payload, const char *path,
    char err[static LABEL_ERR_MAX])
{
	char display[IDENTITY_DISPLAY_BUF], line1[96], tmp[PATH_MAX + 16];
	struct image im = { 0, 0, NULL };
	QRcode *qr;
	size_t qr_px, text_w;
	FILE *f = NULL;
	int fd = -1;
	int ret = -1;

	tmp[0] = '\0';
	err[0] = '\0';
	if ((qr = QRcode_encodeString8bit(payload, 0, QR_ECLEVEL_M)) == NULL) {
		snprintf(err, LABEL_ERR_MAX, "QR code: cannot encode the payload: "
		    "%s", strerror(errno));
		return -1;
	}
	identity_claim_display(d->claim_id, display);
	snprintf(line1, sizeof(line1), "SN %s", d->serial);
	qr_px = ((size_t)qr->width + 2 * QUIET) * MODULE_PX;
	text_w = (strlen(line1) > strlen(display) ? strlen(line1) :
	    strlen(display)) * GLYPH_W + 2 * QUIET * MODULE_PX;
	im.w = qr_px > text_w ? qr_px : text_w;
	im.h = qr_px + 2 * LINE_H + QUIET * MODULE_PX;
	if ((im.px = malloc(im.w * im.h)) == NULL) {
		snprintf(err, LABEL_ERR_MAX, "out of memory");
		goto cleanup;
	}
	memset(im.px, 255, im.w * im.h);
	for (size_t y = 0; y < (size_t)qr->width; y++)
		for (size_t x = 0; x < (size_t)qr->width; x++)
			if (qr->data[y * (size_t)qr->width + x] & 1)
				fill(&im, (im.w - qr_px) / 2 + (x + QUIET) * MODULE_PX,
				    (y + QUIET) * MODULE_PX, MODULE_PX, MODULE_PX);
	text(&im, QUIET * MODULE_PX, qr_px, line1);
	text(&im, QUIET * MODULE_PX, qr_px + LINE_H, display);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* 0600: a label carries the claim ID, a claim secret */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (f = fdopen(fd, "wb")) == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(err, LABEL_ERR_MAX, "cannot create %s: %s", tmp,
		    strerror(errno));
		goto cleanup;
	}
	if (write_png(&im, f, err) != 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		if (err[0] == '\0')
			snprintf(err, LABEL_ERR_MAX, "cannot write %s: %s", tmp,
			    strerror(errno));
		goto cleanup;
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, LABEL_ERR_MAX, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto cleanup;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, LABEL_ERR_MAX, "cannot write %s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (f != NULL)
		fclose(f);
	if (ret != 0 && tmp[0] != '\0')
		unlink(tmp);
	free(im.px);
	QRcode_free(qr);
	return ret;
}
