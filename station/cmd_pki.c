/*
 * cmd_pki.c: `station pki`, the station's PKI on its token.
 *
 *   station pki demo    --home DIR   a complete demo PKI and home (pki_demo.c)
 *   station pki check   --home DIR   the start-up check of every role
 *   station pki csr     --home DIR --label L [--curve p256|p384] -o FILE
 *                                    key ceremony 1: a new sub-CA key in
 *                                    the token, and its CSR for the root
 *   station pki install --home DIR --cert FILE [--key URI]
 *                                    key ceremony 2: check the signed sub-CA
 *                                    certificate against its token key and
 *                                    the root, then install it
 *
 * The PIN comes from the terminal, or --pin-file FILE (development).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "station/pin.h"
#include "station/pki.h"
#include "station/station.h"

STATION_VERB(pki, "The station's PKI: demo, check, csr, install");

struct pki_opts {
	const char *home;
	const char *pin_file;
	const char *label;
	const char *curve;
	const char *out;
	const char *cert;
	const char *key;
};

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station pki demo --home DIR\n"
	    "       station pki check --home DIR [--pin-file FILE]\n"
	    "       station pki csr --home DIR --label LABEL [--curve p256|p384]"
	    " -o FILE\n"
	    "       station pki install --home DIR --cert FILE [--key URI]\n"
	    "\n"
	    "  demo     create a demo station home with its own PKI (see "
	    "'station pki demo --help')\n"
	    "  check    the start-up check: every role key in the token matches "
	    "its\n"
	    "           certificate, which chains to the root and has the "
	    "right usages\n"
	    "  csr      key ceremony: generate a new sub-CA key LABEL in the "
	    "token and\n"
	    "           write its certificate request (PEM) to FILE for the "
	    "offline root\n"
	    "  install  key ceremony: check the root-signed sub-CA certificate "
	    "FILE against\n"
	    "           its token key (--key, default [pki] subca_key) and the "
	    "root, and\n"
	    "           install it\n"
	    "  --pin-file FILE  read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 ok, 1 failed or the check found a problem, 2 usage "
	    "or config.\n");
}

static int
load(const struct pki_opts *o, struct station_config *cfg)
{
	char err[CONFIG_ERR_MAX];
	const char *home = station_home(o->home);

	if (home == NULL)
		return -1;
	if (config_load(cfg, home, err) != 0) {
		station_err("%s", err);
		return -1;
	}
	return 0;
}

static int
open_token(const struct pki_opts *o, const struct station_config *cfg,
    struct hsm **h)
{
	char err[HSM_ERR_MAX];

	if (pin_open_token(cfg, o->pin_file, h, err) != 0) {
		station_err("%s", err);
		return -1;
	}
	return 0;
}

static int
check_role(const struct station_config *cfg, struct hsm *h,
    enum pki_role role, const char *cert)
{
	struct hsm_key *k;

	if (pki_role_key(cfg, h, role, &k) != 0)
		return -1;
	printf("ok: %s key '%s' and %s\n", role == PKI_ROLE_STAMP ?
	    "stamp-signing" : role == PKI_ROLE_AUDIT ? "audit-checkpoint" :
	    "export-signing", hsm_key_label(k), cert);
	return 0;
}

static int
do_check(const struct pki_opts *o)
{
	struct station_config cfg;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	struct hsm_profile p;
	char err[HSM_ERR_MAX];
	X509 *order = NULL;
	int ret = EXIT_USAGE, bad = 0;

	if (load(o, &cfg) != 0)
		return EXIT_USAGE;
	ret = EXIT_FAILED;
	if (open_token(o, &cfg, &h) != 0)
		goto cleanup;
	pki_profile(&cfg, &p);
	if (hsm_ca_open(&ca, h, cfg.pki_subca_key, cfg.pki_subca_cert,
	    cfg.pki_root_cert, &p, err) != 0) {
		station_err("sub-CA: %s", err);
		bad = 1;
	} else {
		printf("ok: sub-CA key and %s, chain to %s\n", cfg.pki_subca_cert,
		    cfg.pki_root_cert);
	}
	bad |= check_role(&cfg, h, PKI_ROLE_STAMP, cfg.pki_stamp_cert) != 0;
	bad |= check_role(&cfg, h, PKI_ROLE_AUDIT, cfg.pki_audit_cert) != 0;
	bad |= check_role(&cfg, h, PKI_ROLE_EXPORT, cfg.pki_export_cert) != 0;
	{
		FILE *f = fopen(cfg.pki_order_cert, "r");

		if (f != NULL) {
			order = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		}
		if (order == NULL) {
			station_err("pki check: order-verification certificate %s "
			    "is missing or not a PEM certificate",
			    cfg.pki_order_cert);
			bad = 1;
		} else {
			printf("ok: order-verification certificate %s\n",
			    cfg.pki_order_cert);
		}
	}
	if (!bad)
		ret = EXIT_OK;
cleanup:
	X509_free(order);
	hsm_ca_free(ca);
	hsm_close(h);
	return ret;
}

static int
do_csr(const struct pki_opts *o)
{
	struct station_config cfg;
	struct hsm *h = NULL;
	struct hsm_key *key;
	X509_REQ *req = NULL;
	BIO *b = NULL;
	char err[HSM_ERR_MAX], cn[96];
	enum hsm_key_type type = HSM_KEY_P256;
	char *data;
	long len;
	int ret = EXIT_USAGE;

	if (o->label == NULL || o->out == NULL) {
		station_err("pki csr: --label LABEL and -o FILE are required");
		return EXIT_USAGE;
	}
	if (strlen(o->label) > 32 || strlen(o->label) == 0 ||
	    strspn(o->label, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != strlen(o->label) || o->label[0] == '.') {
		station_err("pki csr: --label: expected 1 to 32 of A-Z a-z 0-9 . "
		    "_ - (not starting with .), got '%s'", o->label);
		return EXIT_USAGE;
	}
	if (o->curve != NULL && strcmp(o->curve, "p384") == 0)
		type = HSM_KEY_P384;
	else if (o->curve != NULL && strcmp(o->curve, "p256") != 0) {
		station_err("pki csr: --curve: expected p256 or p384, got '%s'",
		    o->curve);
		return EXIT_USAGE;
	}
	if (load(o, &cfg) != 0)
		return EXIT_USAGE;
	ret = EXIT_FAILED;
	if (access(o->out, F_OK) == 0) {
		station_err("pki csr: %s already exists; not overwritten", o->out);
		goto cleanup;
	}
	if (open_token(o, &cfg, &h) != 0)
		goto cleanup;
	snprintf(cn, sizeof(cn), "%s Device Sub-CA %s", cfg.station_id,
	    o->label);
	if (hsm_key_generate(h, o->label, type, &key, err) != 0 ||
	    hsm_ca_request(key, cfg.device_organization, cn, &req, err) != 0) {
		station_err("pki csr: %s", err);
		goto cleanup;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(b, req) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0) {
		station_err("pki csr: cannot encode the request");
		goto cleanup;
	}
	if (pki_write_new(o->out, data, (size_t)len, 0644) != 0)
		goto cleanup;
	printf("new sub-CA key '%s' (%s) in token '%s'; request in %s\n"
	    "next: sign it with the offline root (CA:TRUE, pathlen 0, "
	    "keyCertSign, cRLSign), then 'station pki install --cert FILE "
	    "--key pkcs11:object=%s'\n", o->label, type == HSM_KEY_P384 ?
	    "P-384" : "P-256", hsm_token_label(h), o->out, o->label);
	ret = EXIT_OK;
cleanup:
	BIO_free(b);
	X509_REQ_free(req);
	hsm_close(h);
	return ret;
}

/* copy_file(from, to): a new file with ${from}'s bytes (at most 64 KiB). */
static int
copy_file(const char *from, const char *to)
{
	static char buf[65536];
	FILE *f = fopen(from, "r");
	size_t n;

	if (f == NULL) {
		station_err("cannot read %s: %s", from, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n == sizeof(buf)) {
		station_err("%s: empty or larger than 64 KiB", from);
		return -1;
	}
	return pki_write_new(to, buf, n, 0644);
}

static int
do_install(const struct pki_opts *o)
{
	struct station_config cfg;
	struct hsm *h = NULL;
	struct hsm_key *key;
	char err[HSM_ERR_MAX], dest[PATH_MAX];
	const char *uri;
	int ret = EXIT_USAGE;

	if (o->cert == NULL) {
		station_err("pki install: --cert FILE is required");
		return EXIT_USAGE;
	}
	if (load(o, &cfg) != 0)
		return EXIT_USAGE;
	ret = EXIT_FAILED;
	uri = o->key ? o->key : cfg.pki_subca_key;
	if (open_token(o, &cfg, &h) != 0)
		goto cleanup;
	if (hsm_key_find(h, uri, &key, err) != 0 ||
	    hsm_check_cert(key, o->cert, cfg.pki_root_cert, true, err) != 0) {
		station_err("pki install: %s", err);
		goto cleanup;
	}
	/* First ceremony: the configured place. A roll-in: beside it, and
	 * the officer switches [pki] subca_key/subca_cert when ready; the
	 * old certificate stays for verifying older devices. */
	if (access(cfg.pki_subca_cert, F_OK) != 0)
		snprintf(dest, sizeof(dest), "%s", cfg.pki_subca_cert);
	else if (station_path(cfg.home, "pki/", dest, sizeof(dest) - 70) != 0)
		goto cleanup;
	else
		snprintf(dest + strlen(dest), 70, "%s.pem", hsm_key_label(key));
	if (copy_file(o->cert, dest) != 0)
		goto cleanup;
	if (strcmp(dest, cfg.pki_subca_cert) == 0)
		printf("installed %s for sub-CA key '%s'\n", dest,
		    hsm_key_label(key));
	else
		printf("installed %s for sub-CA key '%s'; to issue with it, set "
		    "in station.conf:\n  [pki] subca_key = %s\n  [pki] subca_cert "
		    "= %s\nand keep %s to verify older devices\n", dest,
		    hsm_key_label(key), uri, dest, cfg.pki_subca_cert);
	ret = EXIT_OK;
cleanup:
	hsm_close(h);
	return ret;
}

int
pki_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "label", required_argument, NULL, 'l' },
		{ "curve", required_argument, NULL, 'c' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pki_opts o = { 0 };
	const char *sub;
	int c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "demo") == 0)
		return pki_demo_main(argc - 1, argv + 1);
	if (strcmp(sub, "check") != 0 && strcmp(sub, "csr") != 0 &&
	    strcmp(sub, "install") != 0) {
		station_err("pki: unknown action '%s'; see 'station pki --help'",
		    sub);
		return EXIT_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "ho:", options, NULL)) !=
	    -1) {
		switch (c) {
		case 'H': o.home = optarg; break;
		case 'p': o.pin_file = optarg; break;
		case 'l': o.label = optarg; break;
		case 'c': o.curve = optarg; break;
		case 'C': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'o': o.out = optarg; break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		station_err("pki %s: unexpected argument '%s'", sub,
		    argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "check") == 0)
		return do_check(&o);
	if (strcmp(sub, "csr") == 0)
		return do_csr(&o);
	return do_install(&o);
}
