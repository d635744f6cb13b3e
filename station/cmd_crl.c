/*
 * cmd_crl.c: `station crl -o FILE`, the certificate revocation list of
 * the sub-CA, from the audit log.
 *
 * Every device in state revoked whose certificate this sub-CA issued is
 * listed with its certificate serial, the time of its revocation (the
 * device's last change: revoked is final) and the reasonCode its reason
 * names (revoke.h); so is every certificate a same-identity re-stamp
 * replaced (event cert.superseded, its time; cmd_restamp.c), each
 * certificate once. Certificates of an earlier sub-CA are counted and
 * left out: a CRL speaks for its issuer only.
 *
 * The CRL number is one more than the highest of the earlier crl.issued
 * events, so it increases across runs however the files are kept; each
 * CRL is recorded (crl.issued: number, entries, thisUpdate, nextUpdate,
 * SHA-256 of its DER) before it is written, atomically, as PEM.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "station/issue.h"
#include "station/pki.h"
#include "station/revoke.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(crl, "Write the sub-CA's CRL of every revoked device (officer)");

struct entry {
	uint8_t serial[20];
	struct hsm_revoked r;
};

struct collect {
	X509 *ca;
	struct entry *e;
	size_t n, cap;
	size_t foreign;          /* revoked under another sub-CA */
	int failed;
};

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station crl [--home DIR] -o FILE [--days N] "
	    "[--pin-file FILE]\n"
	    "\nWrites the CRL (PEM) of every revoked device whose certificate "
	    "the sub-CA\nissued, signed by the sub-CA in the HSM, with a CRL "
	    "number one above the last\n(recorded in the audit log). FILE is "
	    "replaced atomically.\n"
	    "  --days N         nextUpdate N days from now (1-3650; default "
	    "30)\n"
	    "  --pin-file FILE  read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 written, 1 failed, 2 usage or configuration.\n");
}

/* add_cert(c, who, der, len, when, reason): one revoked certificate of
 * device ${who}, unless another sub-CA issued it or it is listed
 * already. 0, or 1 to stop (c->failed). */
static int
add_cert(struct collect *c, const char *who, const uint8_t *der, size_t der_len,
    time_t when, const char *reason)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)der_len);
	BIGNUM *bn = NULL;
	struct entry *e;
	int len;

	if (x == NULL) {
		station_err("crl: device %s: its certificate does not decode",
		    who);
		c->failed = 1;
		return 1;
	}
	if (X509_check_issued(c->ca, x) != X509_V_OK) {
		c->foreign++;
		X509_free(x);
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct entry *grown = realloc(c->e, cap * sizeof(*grown));

		if (grown == NULL) {
			station_err("out of memory");
			c->failed = 1;
			X509_free(x);
			return 1;
		}
		c->e = grown;
		c->cap = cap;
	}
	e = &c->e[c->n];
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL ||
	    (len = BN_num_bytes(bn)) < 1 || len > 20 ||
	    BN_bn2bin(bn, e->serial) != len) {
		station_err("crl: device %s: certificate serial out of range",
		    who);
		c->failed = 1;
		BN_free(bn);
		X509_free(x);
		return 1;
	}
	BN_free(bn);
	X509_free(x);
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].r.serial_len == (size_t)len &&
		    memcmp(c->e[i].serial, e->serial, (size_t)len) == 0)
			return 0;
	e->r.serial_len = (size_t)len;
	e->r.when = when;
	e->r.reason = revoke_reason_code(reason, false);
	c->n++;
	return 0;
}

static int
collect_one(void *ctx, const struct audit_device *d)
{
	return add_cert(ctx, d->serial, d->cert_der, d->cert_der_len,
	    (time_t)(d->updated_us / 1000000), d->reason);
}

/* collect_superseded(ctx, e): a certificate a same-identity re-stamp
 * replaced (event cert.superseded, station restamp). */
static int
collect_superseded(void *ctx, const struct audit_event *e)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	struct collect *c = ctx;
	const uint8_t *der = NULL;
	char reason[AUDIT_REASON_MAX + 1] = "superseded";
	size_t n, der_len = 0;

	if (audit_details_parse(e->details, e->details_len, d, AUDIT_FIELDS_MAX,
	    &n) != 0) {
		station_err("crl: event %llu does not parse; run 'station audit "
		    "verify'", (unsigned long long)e->seq);
		c->failed = 1;
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, "old_cert_der") == 0) {
			der = d[i].value;
			der_len = d[i].len;
		} else if (strcmp(d[i].key, "revocation_reason") == 0 &&
		    d[i].len < sizeof(reason)) {
			memcpy(reason, d[i].value, d[i].len);
			reason[d[i].len] = '\0';
		}
	}
	return add_cert(c, e->subject, der, der_len,
	    (time_t)(e->time_us / 1000000), reason);
}

/* last_number(ctx, e): the highest crl_number of crl.issued events. */
static int
last_number(void *ctx, const struct audit_event *e)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	uint64_t *max = ctx, v;
	char text[24];
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d, AUDIT_FIELDS_MAX,
	    &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, "crl_number") != 0 || d[i].len == 0 ||
		    d[i].len >= sizeof(text))
			continue;
		memcpy(text, d[i].value, d[i].len);
		text[d[i].len] = '\0';
		if (sscanf(text, "%" SCNu64, &v) == 1 && v > *max)
			*max = v;
	}
	return 0;
}

/* make_crl(sa, ca, days, pem, plen, msg): collect, number, sign, record. */
static int
make_crl(const struct station_config *cfg, struct station_audit *sa,
    struct hsm_ca *ca, unsigned days, BIO *pem, uint64_t *number,
    struct collect *c)
{
	static const struct audit_filter crl_events = { .kind = "crl.issued" };
	static const struct audit_filter superseded = {
		.kind = "cert.superseded" };
	struct audit_field f[5];
	X509_CRL *crl = NULL;
	struct hsm_revoked *list = NULL;
	uint8_t *der = NULL, md[32];
	char err[HSM_ERR_MAX], num[24], count[24], tu[24], nu[24];
	time_t now = time(NULL), next = now + (time_t)days * 86400;
	int der_len, ret = -1;

	c->ca = hsm_ca_cert(ca);
	if (audit_devices(sa->a, AUDIT_REVOKED, collect_one, c) != 0 ||
	    c->failed || audit_events(sa->a, &superseded, collect_superseded,
	    c) != 0 || c->failed) {
		if (!c->failed)
			station_err("%s: %s", cfg->audit_database,
			    audit_error(sa->a));
		return -1;
	}
	*number = 0;
	if (audit_events(sa->a, &crl_events, last_number, number) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		return -1;
	}
	(*number)++;
	if (c->n > 0 && (list = calloc(c->n, sizeof(*list))) == NULL) {
		station_err("out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->n; i++) {
		list[i] = c->e[i].r;
		list[i].serial = c->e[i].serial;
	}
	if (hsm_crl(ca, list, c->n, *number, now, next, &crl, err) != 0) {
		station_err("crl: %s", err);
		goto cleanup;
	}
	if ((der_len = i2d_X509_CRL(crl, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)der_len, md, NULL, EVP_sha256(), NULL) != 1 ||
	    PEM_write_bio_X509_CRL(pem, crl) != 1) {
		station_err("crl: cannot encode the CRL");
		goto cleanup;
	}
	snprintf(num, sizeof(num), "%" PRIu64, *number);
	snprintf(count, sizeof(count), "%zu", c->n);
	snprintf(tu, sizeof(tu), "%lld", (long long)now);
	snprintf(nu, sizeof(nu), "%lld", (long long)next);
	f[0] = (struct audit_field){ "crl_number", num, strlen(num) };
	f[1] = (struct audit_field){ "crl_sha256", md, sizeof(md) };
	f[2] = (struct audit_field){ "entries", count, strlen(count) };
	f[3] = (struct audit_field){ "next_update", nu, strlen(nu) };
	f[4] = (struct audit_field){ "this_update", tu, strlen(tu) };
	if (audit_append(sa->a, sa->actor, "crl.issued", cfg->station_id, f, 5,
	    NULL) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		goto cleanup;
	}
	ret = 0;
cleanup:
	OPENSSL_free(der);
	X509_CRL_free(crl);
	free(list);
	return ret;
}

int
crl_make_pem(const struct station_config *cfg, struct station_audit *sa,
    struct hsm_ca *ca, unsigned days, BIO *pem, uint64_t *number,
    size_t *entries)
{
	struct collect c = { 0 };
	int ret = make_crl(cfg, sa, ca, days, pem, number, &c);

	*entries = c.n;
	free(c.e);
	return ret;
}

int
crl_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	struct station_audit *sa = NULL;
	struct issue_output out = { .fd = -1 };
	struct collect c = { 0 };
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	const char *home_opt = NULL, *pin_file = NULL, *path = NULL, *home;
	char err[CONFIG_ERR_MAX], *data, *end;
	unsigned long days = 30;
	uint64_t number = 0;
	BIO *pem = NULL;
	long len;
	bool ok = false;
	int ch, rc, ret = EXIT_USAGE;

	while ((ch = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (ch) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'o': path = optarg; break;
		case 'd':
			days = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
			    days < 1 || days > 3650) {
				station_err("crl: --days: expected 1 to 3650, got "
				    "'%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || path == NULL) {
		station_err("crl: %s", path ? "unexpected argument" :
		    "-o FILE is required");
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	ret = EXIT_FAILED;
	if (access(cfg.audit_database, F_OK) != 0) {
		station_err("no audit database %s: run 'station init --home %s' "
		    "first", cfg.audit_database, cfg.home);
		return EXIT_USAGE;
	}
	if (issue_output_open(&out, path) != 0)
		goto cleanup;
	if (pki_open(&cfg, pin_file, &h, &ca) != 0)
		goto cleanup;
	if ((rc = station_audit_open(&cfg, h, "crl", false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if ((pem = BIO_new(BIO_s_mem())) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	if (make_crl(&cfg, sa, ca, (unsigned)days, pem, &number, &c) != 0 ||
	    (len = BIO_get_mem_data(pem, &data)) <= 0 ||
	    issue_output_write(&out, data, (size_t)len) != 0)
		goto cleanup;
	ok = true;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ok = false;
	issue_output_abort(&out);
	BIO_free(pem);
	free(c.e);
	hsm_ca_free(ca);
	hsm_close(h);
	if (ok) {
		printf("CRL number %" PRIu64 ": %zu revoked certificate%s, next "
		    "update in %lu days, written to %s\n", number, c.n,
		    c.n == 1 ? "" : "s", days, path);
		if (c.foreign > 0)
			printf("note: %zu revoked certificate%s of another "
			    "sub-CA %s not in this CRL\n", c.foreign,
			    c.foreign == 1 ? "" : "s", c.foreign == 1 ? "is" :
			    "are");
		ret = EXIT_OK;
	}
	return ret;
}
