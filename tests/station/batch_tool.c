/*
 * batch_tool.c: drives batch_take_next on a station home the way the
 * bench loop (`station run --batch ID`) calls it, for batch.test.sh.
 *
 *   batch-tool HOME take BATCH HWID TRANSPORT.pem SEALED.bin CERT.der
 *       one identity for a device with that hardware id and transport
 *       key: prints "INDEX SERIAL CLAIM CERTSERIAL", writes the key
 *       re-wrapped to the device and the certificate
 *   batch-tool HOME take-many BATCH N
 *       N identities for devices with fresh transport keys and hardware
 *       ids hw-PID-I; prints each serial as soon as it is taken (the
 *       crash test kills it with SIGKILL in between)
 *
 * Exit 0, 1 (an identity refused or failed; the message on stderr), 3
 * (none left), 2 usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "station/batch.h"
#include "station/config.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

void
station_err(const char *fmt, ...)
{
	va_list ap;

	fputs("station: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
point_of(EVP_PKEY *k, uint8_t point[static 65])
{
	size_t len = 0;

	return EVP_PKEY_get_octet_string_param(k, "pub", point, 65, &len) ==
	    1 && len == 65 ? 0 : -1;
}

static int
write_file(const char *file, const void *data, size_t len)
{
	FILE *f = fopen(file, "wb");
	int ok = f != NULL && fwrite(data, 1, len, f) == len;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int
take_one(struct station_audit *sa, const char *home, struct hsm_key *k,
    char **a)
{
	FILE *f = fopen(a[2], "r");
	EVP_PKEY *t = f != NULL ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	uint8_t point[65];
	struct batch_taken out;
	char err[BATCH_ERR_MAX];
	int rc;

	if (f != NULL)
		fclose(f);
	if (t == NULL || point_of(t, point) != 0) {
		fprintf(stderr, "batch-tool: cannot read %s\n", a[2]);
		EVP_PKEY_free(t);
		return 2;
	}
	EVP_PKEY_free(t);
	rc = batch_take_next(sa->a, home, k, a[0], a[1], point, "batch-tool",
	    &out, err);
	if (rc != 0) {
		fprintf(stderr, "batch-tool: %s\n", err);
		return rc > 0 ? 3 : 1;
	}
	printf("%llu %s %s %s\n", (unsigned long long)out.index, out.serial,
	    out.claim, out.cert_serial);
	return write_file(a[3], out.sealed, out.sealed_len) == 0 &&
	    write_file(a[4], out.cert, out.cert_len) == 0 ? 0 : 1;
}

static int
take_many(struct station_audit *sa, const char *home, struct hsm_key *k,
    const char *batch, long n)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long i = 0; i < n; i++) {
		EVP_PKEY *t = EVP_EC_gen("P-256");
		uint8_t point[65];
		char hwid[64], err[BATCH_ERR_MAX];
		struct batch_taken out;
		int rc;

		snprintf(hwid, sizeof(hwid), "hw-%ld-%ld", (long)getpid(), i);
		if (t == NULL || point_of(t, point) != 0) {
			EVP_PKEY_free(t);
			return 1;
		}
		EVP_PKEY_free(t);
		if ((rc = batch_take_next(sa->a, home, k, batch, hwid, point,
		    "batch-tool", &out, err)) != 0) {
			fprintf(stderr, "batch-tool: %s\n", err);
			return rc > 0 ? 3 : 1;
		}
		printf("%s\n", out.serial);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static struct station_config cfg;
	char err[CONFIG_ERR_MAX];
	struct station_audit *sa = NULL;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	struct hsm_key *k;
	char herr[HSM_ERR_MAX];
	int ret = 1;

	if (argc < 3 || config_load(&cfg, argv[1], err) != 0) {
		fprintf(stderr, "usage: batch-tool HOME take|take-many ...\n");
		return 2;
	}
	if (pki_open(&cfg, NULL, &h, &ca) != 0)
		return 1;
	if (hsm_key_find(h, cfg.pki_transport_key, &k, herr) != 0) {
		fprintf(stderr, "batch-tool: %s\n", herr);
		goto cleanup;
	}
	if (station_audit_open(&cfg, h, "batch-tool", false, &sa) != 0)
		goto cleanup;
	if (strcmp(argv[2], "take") == 0 && argc == 8)
		ret = take_one(sa, cfg.home, k, argv + 3);
	else if (strcmp(argv[2], "take-many") == 0 && argc == 5)
		ret = take_many(sa, cfg.home, k, argv[3], atol(argv[4]));
	else
		ret = 2;
cleanup:
	station_audit_close(sa, ret == 0);
	hsm_ca_free(ca);
	hsm_close(h);
	return ret;
}
