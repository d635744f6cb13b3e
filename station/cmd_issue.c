/*
 * cmd_issue.c: `station issue`, one device certificate from a CSR in a
 * file (engineering use), recorded and audited like any other.
 *
 * Everything that can be refused is refused before anything is recorded:
 * the CSR is read and checked (its signature, its key type; a CSR from a
 * file carries no nonce of this station, so none is required and the log
 * says csr_nonce: none), the serial must never have been used (even by a
 * voided device), the output file is created (as a temporary beside it),
 * and the officer's PIN opens the token. Then, in the audit log: the
 * device is allocated (serial, a claim ID from the token's RNG, key mode
 * "engineering"), key_ready with the CSR's public key, the certificate
 * issued by the HSM-held sub-CA, and issued with its DER and serial,
 * durable BEFORE the certificate leaves the station (PEM to -o OUT,
 * renamed into place, mode 0644, or to stdout). A failure after
 * allocation leaves the device failed, with the reason.
 *
 * The certificate carries the HardwareModuleName only when
 * --hardware-id is given (the profile's [device] hardware_module_name
 * needs one; an engineering CSR from a file usually has none).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "station/issue.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(issue, "Issue one device certificate from a CSR file (engineering; audited)");

#define CSR_FILE_MAX (16 * 1024)

struct issue_opts {
	const char *home, *pin_file, *csr, *serial, *out, *hwid;
};

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station issue [--home DIR] --csr FILE --serial "
	    "SERIAL [-o OUT]\n"
	    "                    [--hardware-id ID] [--pin-file FILE]\n"
	    "\nEngineering use: issues one device certificate from the PKCS#10 "
	    "request in\nFILE (PEM or DER) with the sub-CA in the HSM, recorded "
	    "like any device:\nallocated (SERIAL, a new claim ID, key mode "
	    "engineering), key_ready, issued.\nThe CSR's signature and key type "
	    "are checked; it carries no station nonce\n(recorded as such); its "
	    "subject is ignored. A serial is never used twice.\n"
	    "  -o OUT            write the certificate (PEM) to OUT (replaced "
	    "atomically);\n"
	    "                    default: stdout\n"
	    "  --hardware-id ID  the device's hardware id: recorded, and put in "
	    "the\n"
	    "                    certificate's HardwareModuleName\n"
	    "  --pin-file FILE   read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 issued, 1 refused or failed (nothing recorded unless "
	    "it says so),\n2 usage or configuration.\n");
}

/* read_csr(file, der, len): the DER request in ${file}, PEM or DER. */
static int
read_csr(const char *file, uint8_t **der, size_t *len)
{
	uint8_t *buf = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen;
	size_t n;
	FILE *f;
	BIO *b = NULL;
	int ret = -1;

	*der = NULL;
	if ((f = fopen(file, "rb")) == NULL) {
		station_err("issue: cannot read the CSR %s: %s", file,
		    strerror(errno));
		return -1;
	}
	if ((buf = malloc(CSR_FILE_MAX + 1)) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	n = fread(buf, 1, CSR_FILE_MAX + 1, f);
	if (ferror(f)) {
		station_err("issue: cannot read the CSR %s: %s", file,
		    strerror(errno));
		goto cleanup;
	}
	if (n == 0 || n > CSR_FILE_MAX) {
		station_err("issue: the CSR %s is %s", file, n == 0 ? "empty" :
		    "larger than 16 KiB");
		goto cleanup;
	}
	if (n < 11 || memcmp(buf, "-----BEGIN", 10) != 0) {
		*der = buf;     /* DER: hsm_csr_check judges it */
		*len = n;
		buf = NULL;
		ret = 0;
		goto cleanup;
	}
	if ((b = BIO_new_mem_buf(buf, (int)n)) == NULL ||
	    PEM_read_bio(b, &name, &header, &data, &dlen) != 1 ||
	    (strcmp(name, "CERTIFICATE REQUEST") != 0 &&
	    strcmp(name, "NEW CERTIFICATE REQUEST") != 0)) {
		ERR_clear_error();
		station_err("issue: %s: expected a PEM CERTIFICATE REQUEST or a "
		    "DER request", file);
		goto cleanup;
	}
	*der = data;    /* OPENSSL_malloc'ed: the caller uses OPENSSL_free */
	*len = (size_t)dlen;
	data = NULL;
	ret = 1;
cleanup:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	free(buf);
	fclose(f);
	return ret;
}

/* serial_ok(s): 1 to HSM_SERIAL_MAX of A-Z a-z 0-9 - . (the certificate's
 * serialNumber is a PrintableString). */
static bool
serial_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= HSM_SERIAL_MAX && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") ==
	    n;
}

/* precheck(cfg, o): the serial unused, the hardware id not live. */
static int
precheck(const struct station_config *cfg, const struct issue_opts *o)
{
	struct audit_device *d;
	struct audit *a;
	int rc, ret = -1;

	if ((rc = station_audit_peek(cfg, &a)) != 0)
		return rc;
	if ((d = malloc(sizeof(*d))) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	if ((rc = audit_device_get(a, o->serial, d)) == 0) {
		station_err("issue: serial %s is already used (device state %s); "
		    "serials are never reused", o->serial,
		    audit_state_name(d->state));
		goto cleanup;
	}
	if (rc < 0 || (o->hwid && (rc = audit_device_by_hardware(a, o->hwid,
	    d)) < 0)) {
		station_err("%s: %s", cfg->audit_database, audit_error(a));
		goto cleanup;
	}
	if (o->hwid && rc == 0) {
		station_err("issue: hardware id %s is held by device %s (state "
		    "%s)", o->hwid, d->serial, audit_state_name(d->state));
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(d);
	audit_close(a);
	return ret;
}

int
issue_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "csr", required_argument, NULL, 'c' },
		{ "serial", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "hardware-id", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct issue_opts o = { 0 };
	struct station_config cfg;
	struct issue_output out = { .fd = -1 };
	struct issue_request req = { 0 };
	struct issue_result res = { .written = false };
	char err[HSM_ERR_MAX];
	const char *home;
	uint8_t *csr = NULL;
	size_t csr_len = 0;
	int c, rc, pem = 0, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'H': o.home = optarg; break;
		case 'p': o.pin_file = optarg; break;
		case 'c': o.csr = optarg; break;
		case 's': o.serial = optarg; break;
		case 'o': o.out = optarg; break;
		case 'w': o.hwid = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("issue: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (o.csr == NULL || o.serial == NULL) {
		station_err("issue: --csr FILE and --serial SERIAL are required");
		return EXIT_USAGE;
	}
	if (!serial_ok(o.serial)) {
		station_err("issue: --serial: expected 1 to %d of A-Z a-z 0-9 - ., "
		    "got '%s'", HSM_SERIAL_MAX, o.serial);
		return EXIT_USAGE;
	}
	if (o.hwid && (strlen(o.hwid) == 0 || strlen(o.hwid) > HSM_HWID_MAX ||
	    !audit_text_valid(o.hwid, strlen(o.hwid)))) {
		station_err("issue: --hardware-id: expected 1 to %d printable "
		    "bytes", HSM_HWID_MAX);
		return EXIT_USAGE;
	}
	if ((home = station_home(o.home)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	ret = EXIT_FAILED;
	if ((pem = read_csr(o.csr, &csr, &csr_len)) < 0)
		goto cleanup;
	if (hsm_csr_check(csr, csr_len, NULL, cfg.device_key_types, &req.pub,
	    err) != 0) {
		station_err("issue: %s: %s", o.csr, err);
		goto cleanup;
	}
	if ((rc = precheck(&cfg, &o)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if (issue_output_open(&out, o.out) != 0)
		goto cleanup;
	req.serial = o.serial;
	req.hwid = o.hwid;
	req.key_mode = "engineering";
	req.csr = csr;
	req.csr_len = csr_len;
	rc = issue_one(&cfg, o.pin_file, &req, &out, &res);
	if (res.written)
		fprintf(o.out ? stdout : stderr, "issued certificate %s for "
		    "device %s (claim ID %s, key mode engineering)%s%s\n",
		    res.cert_serial, o.serial, res.claim_id, o.out ? " to " : "",
		    o.out ? o.out : "");
	ret = rc == 0 ? EXIT_OK : rc == -2 ? EXIT_USAGE : EXIT_FAILED;
cleanup:
	issue_output_abort(&out);
	X509_PUBKEY_free(req.pub);
	if (pem == 1)
		OPENSSL_free(csr);
	else
		free(csr);
	return ret;
}
