/*
 * attest_tool.c: a test program that checks the attestation of every
 * attached stamp device the way the bench does (station/attest.h), for
 * tests/station/attest.test.sh under stampdev-emu. Never installed.
 *
 *   attest-tool HOME [--product P] [--bind] [--db FILE]
 *
 * HOME holds a station.conf with its [attestation] section. Per device:
 * flasher_info, attest_device (and with --bind: a keygen, then
 * attest_device again with the CSR's key, as in device key mode), each
 * printed as
 *   PORT SERIAL RESULT required=yes|no key_bound=yes|no
 *     chain: SUBJECT / root: SUBJECT / reason: TEXT   (when set)
 *   PORT SERIAL ok | PORT SERIAL REFUSED: REASON
 * With --db each result is recorded as device.attestation in that audit
 * database (created for station id "attest-test"). Exit 0 when no device
 * was refused, 1 otherwise, 2 on a configuration error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "flasher/flasher.h"
#include "station/attest.h"
#include "station/config.h"

static const char *product, *db;
static int bind_key;

static void
show(const struct flasher_device *dev, const struct attest_result *r)
{
	printf("%s %s %s required=%s key_bound=%s\n", dev->path, dev->serial,
	    attest_outcome_name(r->outcome), r->required ? "yes" : "no",
	    r->key_bound ? "yes" : "no");
	if (r->chain[0])
		printf("  chain: %s\n", r->chain);
	if (r->root[0])
		printf("  root: %s\n", r->root);
	if (r->reason[0])
		printf("  reason: %s\n", r->reason);
}

/* The 65-byte point of the key in a CSR (DER). */
static int
csr_point(const uint8_t *der, size_t len, uint8_t point[65])
{
	const uint8_t *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	EVP_PKEY *key = req ? X509_REQ_get0_pubkey(req) : NULL;
	size_t n = 0;
	int ok = key && EVP_PKEY_get_octet_string_param(key,
	    OSSL_PKEY_PARAM_PUB_KEY, point, 65, &n) == 1 && n == 65;

	X509_REQ_free(req);
	return ok ? 0 : -1;
}

/* One device: 0 may go on, 1 refused, -1 failed before attestation. */
static int
one(const struct attest_policy *pol, struct flasher *fl,
    const struct flasher_device *dev, struct audit *a)
{
	struct flasher_session *s = NULL;
	struct flasher_info info;
	struct attest_result r;
	char err[FLASHER_ERR_MAX];
	uint8_t nonce[32], point[65], *csr = NULL;
	size_t csr_len = 0;
	int rc = -1;

	if (flasher_session_open(fl, dev, &s, err) != 0 ||
	    flasher_info(s, &info, err) != 0) {
		printf("%s %s ERROR: %s\n", dev->path, dev->serial, err);
		goto out;
	}
	rc = attest_device(pol, s, &info, product, NULL, &r);
	show(dev, &r);
	if (a && attest_record(a, "test", dev->serial, product, &r) != 0)
		printf("  audit: %s\n", audit_error(a));
	if (rc == 0 && bind_key) {
		if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
		    flasher_csr(s, &info, nonce, sizeof(nonce), NULL, &csr,
		    &csr_len, err) != 0 || csr_point(csr, csr_len, point) != 0) {
			printf("%s %s ERROR: keygen: %s\n", dev->path, dev->serial,
			    err);
			rc = -1;
			goto out;
		}
		rc = attest_device(pol, s, &info, product, point, &r);
		show(dev, &r);
		if (a && attest_record(a, "test", dev->serial, product, &r) != 0)
			printf("  audit: %s\n", audit_error(a));
	}
	if (rc == 1)
		printf("%s %s REFUSED: %s\n", dev->path, dev->serial, r.reason);
	else
		printf("%s %s ok\n", dev->path, dev->serial);
out:
	free(csr);
	flasher_session_close(s);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "product", required_argument, NULL, 'p' },
		{ "bind", no_argument, NULL, 'b' },
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	struct attest_policy *pol = NULL;
	struct flasher *fl = NULL;
	struct flasher_device *devs = NULL;
	struct audit *a = NULL;
	char err[CONFIG_ERR_MAX], ferr[FLASHER_ERR_MAX];
	size_t n = 0;
	int c, rc, ret = 2;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			product = optarg;
		else if (c == 'b')
			bind_key = 1;
		else if (c == 'd')
			db = optarg;
		else
			return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: attest-tool HOME [--product P] [--bind] "
		    "[--db FILE]\n");
		return 2;
	}
	if (config_load(&cfg, argv[optind], err) != 0) {
		fprintf(stderr, "attest-tool: %s\n", err);
		return 2;
	}
	if ((rc = attest_policy_open(&cfg, &pol, err)) != 0) {
		fprintf(stderr, "attest-tool: %s\n", err);
		return rc == -2 ? 2 : 1;
	}
	ret = 1;
	if (db && (a = audit_open(db, "attest-test", err)) == NULL) {
		fprintf(stderr, "attest-tool: %s\n", err);
		goto out;
	}
	if (flasher_open(&fl, ferr) != 0 ||
	    flasher_list(fl, NULL, 0, &devs, &n, ferr) != 0) {
		fprintf(stderr, "attest-tool: %s\n", ferr);
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < n; i++)
		if (one(pol, fl, &devs[i], a) != 0)
			ret = 1;
out:
	flasher_list_free(devs);
	flasher_close(fl);
	audit_close(a);
	attest_policy_free(pol);
	return ret;
}
