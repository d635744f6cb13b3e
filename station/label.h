/*
 * label.h: the label stuck on each device: its serial, its claim ID in
 * readable text, and a QR code whose payload comes from a template
 * ([label] qr_template, e.g. https://example.invalid/claim?id={claim}&
 * sn={serial}).
 *
 * Two renderings of the same label:
 *   - ZPL II for Zebra printers: text fields (^A0) and a QR code (^BQN,
 *     model 2, error correction M), every field hex-escaped through ^FH so
 *     that no value can inject a ZPL command ('^' or '~' in a value
 *     becomes _5E / _7E); written to the spool folder, and to a printer
 *     device when one is configured;
 *   - PNG (8-bit grey): the QR code by libqrencode (level M, 6 pixels a
 *     module, 4 modules of quiet zone), then the serial and the claim ID
 *     in a built-in 5x7 font (lowercase drawn as uppercase), by libpng.
 * Files are written to a temporary name and renamed into place, so a
 * reader never sees half a label; a reprint replaces the file.
 */
#ifndef STATION_LABEL_H
#define STATION_LABEL_H

#include <stddef.h>

#include "station/config.h"

#define LABEL_ERR_MAX 512
#define LABEL_PAYLOAD_MAX 512

/* What a label shows. */
struct label_device {
	const char *serial;
	const char *claim_id;      /* canonical (no separators) */
	const char *product;       /* "" if unknown */
};

/*
 * label_payload(tmpl, d, out, err): the QR payload: ${tmpl} with {claim},
 * {serial} and {product} replaced by the values, percent-encoded except
 * A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved); other characters of ${tmpl}
 * must be printable ASCII. 0, or -1 (unknown field, too long).
 */
int label_payload(const char *tmpl, const struct label_device *d,
    char out[static LABEL_PAYLOAD_MAX + 1], char err[static LABEL_ERR_MAX]);

/* label_zpl(d, payload, out, len, err): the ZPL II of the label,
 * malloc'ed into ${out} (text, NUL-terminated, ${len} bytes). 0 or -1. */
int label_zpl(const struct label_device *d, const char *payload, char **out,
    size_t *len, char err[static LABEL_ERR_MAX]);

/* label_png(d, payload, path, err): the PNG of the label into ${path}
 * (through a temporary file and rename). 0 or -1. */
int label_png(const struct label_device *d, const char *payload,
    const char *path, char err[static LABEL_ERR_MAX]);

/* Where label_write put a label. */
struct label_files {
	char zpl[PATH_MAX];        /* spool/<serial>.zpl */
	char png[PATH_MAX];        /* png_dir/<serial>.png */
	char payload[LABEL_PAYLOAD_MAX + 1];
	int printed;               /* 1 if sent to [label] printer */
};

/*
 * label_write(cfg, d, files, err): the label of ${d} by the [label]
 * settings of ${cfg}: ZPL into the spool folder (and the printer device,
 * if set), PNG into png_dir; folders are created. 0 or -1.
 */
int label_write(const struct station_config *cfg, const struct label_device *d,
    struct label_files *files, char err[static LABEL_ERR_MAX]);

#endif
