/*
 * export_lines.h: the device lines of an export (export_lines.c), shared
 * by export.c only.
 */
#ifndef STATION_EXPORT_LINES_H
#define STATION_EXPORT_LINES_H

#include <stdbool.h>
#include <stdio.h>

#include "audit/audit.h"

/* The three output streams (csv, aws: NULL unless that format). */
struct export_outputs {
	FILE *jsonl, *csv, *aws;
	char *jsonl_buf, *csv_buf, *aws_buf;
	size_t jsonl_len, csv_len, aws_len;
	uint64_t aws_lines;
};

/* The details the bench may have recorded on a device's events. */
struct export_extra {
	uint64_t through;
	char claim_mode[AUDIT_TEXT_MAX + 1];
	char token_sha256[AUDIT_TEXT_MAX + 1];
};

/* The first line of devices.csv. */
extern const char export_csv_header[];

/* export_iso(us, buf): ${us} (microseconds since 1970) as ISO 8601 UTC. */
void export_iso(int64_t us, char buf[static 32]);

/* export_field(f, key, value, first): "key":"value" (null if ${value} is
 * NULL or ""), after a comma unless ${first}. */
void export_field(FILE *f, const char *key, const char *value, bool first);

/* export_device_lines(o, station, d, product, x): device ${d}'s line on
 * each output of ${o}. 0, or -1 (out of memory). */
int export_device_lines(struct export_outputs *o, const char *station,
    const struct audit_device *d, const char *product,
    const struct export_extra *x);

#endif
