/*
 * issue.h: issuing one device certificate and recording it (issue.c);
 * used by `station issue`, and the pieces the bench loop will share
 * (claim IDs, the atomic output file).
 */
#ifndef STATION_ISSUE_H
#define STATION_ISSUE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "hsm/hsm.h"
#include "station/config.h"

#define ISSUE_CLAIM_ID_LEN 12   /* Crockford base32 symbols: 60 bits */
#define ISSUE_CERT_SERIAL_MAX 42 /* hex of a 20-byte serial, NUL */

/*
 * issue_claim_id(h, out): a new claim ID: ISSUE_CLAIM_ID_LEN symbols of
 * Crockford's base32 (0-9 A-Z without I L O U) from 60 bits of the
 * token's RNG. 0, or -1 (reported).
 */
int issue_claim_id(struct hsm *h, char out[static ISSUE_CLAIM_ID_LEN + 1]);

/* A certificate's destination: a file replaced atomically, or stdout. */
struct issue_output {
	int fd;                  /* -1: not open */
	const char *path;        /* NULL: stdout */
	char tmp[PATH_MAX];      /* the temporary beside ${path} */
};

/*
 * issue_output_open(o, path): create the temporary beside ${path} (mode
 * 0644), so that an unwritable destination is found before anything is
 * issued; NULL: stdout. 0, or -1 (reported).
 * issue_output_commit(o, der, len): the certificate as PEM, fsynced and
 * renamed over ${path}. 0, or -1 (reported; the temporary is removed).
 * issue_output_write(o, data, len): the same for any bytes (a CRL).
 * issue_output_abort(o): remove the temporary if still there.
 */
int issue_output_open(struct issue_output *o, const char *path);
int issue_output_commit(struct issue_output *o, const uint8_t *der,
    size_t len);
int issue_output_write(struct issue_output *o, const void *data,
    size_t len);
void issue_output_abort(struct issue_output *o);

/* One certificate to issue from a checked CSR. */
struct issue_request {
	const char *serial;      /* the device serial (unused so far) */
	const char *hwid;        /* NULL: none (no HardwareModuleName) */
	const char *key_mode;    /* e.g. "engineering" */
	const uint8_t *csr;      /* DER, already checked: its hash is logged */
	size_t csr_len;
	X509_PUBKEY *pub;        /* the CSR's key (hsm_csr_check) */
};

struct issue_result {
	char claim_id[ISSUE_CLAIM_ID_LEN + 1];
	char cert_serial[ISSUE_CERT_SERIAL_MAX];  /* upper-case hex */
	bool written;            /* the certificate was written out */
};

/*
 * issue_one(cfg, pin_file, r, out, res): open the token with the
 * officer's PIN and the sub-CA, open the audit log (session), allocate
 * the device, key_ready, issue, issued, then write the certificate to
 * ${out}; a failure after allocation leaves the device failed. 0, -1
 * (reported), or -2 (configuration: the database is missing or another
 * station's). res->written says whether the certificate went out (it
 * may have, with -1, when the session could not be sealed).
 */
int issue_one(const struct station_config *cfg, const char *pin_file,
    const struct issue_request *r, struct issue_output *out,
    struct issue_result *res);

/* issue_cert_serial(der, len, hex): the certificate's serial as
 * upper-case hex (as `openssl x509 -serial` prints it). 0 or -1. */
int issue_cert_serial(const uint8_t *der, size_t len,
    char hex[static ISSUE_CERT_SERIAL_MAX]);

#endif
