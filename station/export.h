/*
 * export.h: the signed export for the cloud side (docs/EXPORT.md).
 *
 * An export is a folder: devices.jsonl (always; one device a line, the
 * schema of docs/EXPORT.md), devices.csv (--format csv) or aws-bulk.jsonl
 * (--format aws: AWS IoT bulk-registration parameters), denied.jsonl
 * (the deny list as it is now), crl.pem (the
 * sub-CA's current CRL, made for this export), subca.pem and audit.pem
 * (the certificates a verifier needs besides the root), manifest.json
 * (export_manifest.c) and manifest.json.p7s, a detached CMS signature of
 * manifest.json by the HSM export-signing key.
 *
 * Exports are incremental by audit sequence number: one covers the devices
 * whose latest event lies in (after, through], in their state at
 * `through`; the next one starts after this `through`. Wall-clock time is
 * never used to choose what is exported.
 */
#ifndef STATION_EXPORT_H
#define STATION_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "hsm/hsm.h"
#include "station/config.h"
#include "station/station_audit.h"

#define EXPORT_SCHEMA "station-export/1"
#define EXPORT_FILES_MAX 8
#define EXPORT_NAME_MAX 32
#define EXPORT_ANCHOR_MAX 2048
#define EXPORT_MANIFEST_MAX (64 * 1024)
#define EXPORT_ERR_MAX 512

/* The detail key under which the bench loop records the SHA-256 of a
 * device's provisioning token (the 32-byte digest, or 64 lower-case hex
 * digits), on any of the device's events (its subject: the serial). */
#define EXPORT_TOKEN_HASH_KEY "provisioning_token_sha256"
/* The detail key of the claim mode (text), likewise. */
#define EXPORT_CLAIM_MODE_KEY "claim_mode"

struct export_file {
	char name[EXPORT_NAME_MAX + 1];
	uint8_t sha256[32];
	uint64_t bytes;
	uint64_t lines;
};

struct export_manifest {
	char schema[EXPORT_NAME_MAX + 1];
	char station_id[AUDIT_STATION_ID_MAX + 1];
	char format[EXPORT_NAME_MAX + 1];          /* jsonl, csv, aws */
	char order[AUDIT_TEXT_MAX + 1];            /* "": every order */
	char created[EXPORT_NAME_MAX + 1];         /* informative only */
	uint64_t after, through;
	uint64_t devices;
	uint64_t counts[AUDIT_STATE_COUNT];        /* by enum audit_state */
	uint64_t crl_number;
	struct export_file files[EXPORT_FILES_MAX];
	size_t n_files;
	char anchor[EXPORT_ANCHOR_MAX];            /* audit_anchor_format text */
};

/*
 * export_manifest_format(m, out, len): ${m} as the JSON text of
 * manifest.json (malloc'ed into ${out}, ${len} bytes). 0 or -1.
 */
int export_manifest_format(const struct export_manifest *m, char **out,
    size_t *len);

/*
 * export_manifest_parse(text, len, m, err): parse manifest.json: one JSON
 * object with exactly the keys export_manifest_format writes (any order,
 * any JSON whitespace; no unknown or repeated key; every length checked;
 * nothing after it). 0, or -1 and why in ${err}.
 */
int export_manifest_parse(const char *text, size_t len,
    struct export_manifest *m, char err[static EXPORT_ERR_MAX]);

/* export_json_string(f, s): ${s} as a JSON string literal on ${f}. */
void export_json_string(FILE *f, const char *s);

/* export_state_name(i): the state name of index ${i} (enum audit_state). */
const char *export_state_name(size_t i);

/* Options of one export. */
struct export_options {
	const char *dir;          /* the folder to create */
	const char *format;       /* jsonl, csv, aws */
	const char *order;        /* NULL: every order */
	bool after_given;
	uint64_t after;           /* without after_given: the last export's */
};

/*
 * export_write(cfg, sa, ca, key, o, m): write the export ${o} (export.c):
 * the files into a temporary beside o->dir, the CRL made by the sub-CA
 * ${ca}, a fresh checkpoint as anchor, the manifest signed by the export
 * key ${key}, renamed to o->dir, then recorded (export.written). Errors
 * reported; 0 and the manifest in ${m}, or -1 with nothing left.
 */
int export_write(const struct station_config *cfg, struct station_audit *sa,
    struct hsm_ca *ca, struct hsm_key *key, const struct export_options *o,
    struct export_manifest *m);

/* What export_verify found. */
struct export_report {
	struct export_manifest m;
	bool previous_checked;
	uint64_t previous_through;
};

/*
 * export_verify(dir, trust, previous, r): check the export in ${dir}
 * (export_verify.c): the CMS signature to the root in ${trust}, every
 * file's size and SHA-256, the devices and counts, the CRL's issuer and
 * signature, the anchor's signature (audit.pem, to the root) and that it
 * covers the export; with ${previous} (a folder or NULL) that the two
 * sequence ranges meet without gap or overlap. Reports the first problem
 * (station_err); 0 if all holds, 1 if something does not, -1 if it could
 * not check (unreadable trust file).
 */
int export_verify(const char *dir, const char *trust, const char *previous,
    struct export_report *r);

#endif
