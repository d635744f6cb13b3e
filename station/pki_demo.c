/*
 * pki_demo.c: `station pki demo --home DIR`, a complete demo PKI and
 * station home in one step (the embedded default of `make demo`).
 *
 * DIR/softhsm2.conf   SoftHSM's config; its token store is DIR/tokens
 * DIR/pin             the token's user PIN, random, mode 0600, never shown
 * DIR/pki/demo-root.key  the offline root's key: SOFTWARE, labelled demo,
 *                     mode 0600 (a real root lives offline, elsewhere)
 * DIR/pki/root.pem    the root certificate (trust anchor)
 * token: subca, stamp, audit, export: P-256 keys generated in the token,
 *                     never extractable; certificates in DIR/pki/ signed
 *                     by the root (subca: CA pathlen 0; others end-entity)
 * token: station-transport: the station's transport key (P-256, key
 *                     agreement only), DIR/pki/station-transport.pem
 *                     (keyUsage keyAgreement): batch generators seal
 *                     device keys to it; the token re-wraps them
 * DIR/pki/demo-order.key, order.pem  the brand owner's order-signing key
 *                     (software, labelled demo) and its self-signed cert
 * DIR/station.conf    development mode, naming all of the above
 *
 * The SO PIN is random and thrown away: a demo token is recreated, not
 * repaired. An existing, non-empty DIR is refused; if anything fails, what
 * was created is removed again.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "station/pin.h"
#include "station/order.h"
#include "station/pki.h"
#include "station/station.h"

#define DEMO_TOKEN "station-demo"
#define DEMO_PIN_LEN 24

int
pki_write_new(const char *file, const void *data, size_t len, unsigned mode)
{
	int fd;
	ssize_t got;

	if ((fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    (mode_t)mode)) < 0) {
		station_err("cannot create %s: %s", file, strerror(errno));
		return -1;
	}
	got = write(fd, data, len);
	if (got < 0 || (size_t)got != len || fsync(fd) != 0) {
		station_err("cannot write %s: %s", file, strerror(errno));
		close(fd);
		unlink(file);
		return -1;
	}
	if (close(fd) != 0) {
		station_err("cannot write %s: %s", file, strerror(errno));
		unlink(file);
		return -1;
	}
	return 0;
}

/* pem_of(writer): the PEM text of an object, through a memory BIO. */
static int
write_pem_bio(const char *file, BIO *b, unsigned mode)
{
	char *data;
	long len = BIO_get_mem_data(b, &data);
	int ret;

	if (len <= 0) {
		station_err("cannot encode %s", file);
		return -1;
	}
	ret = pki_write_new(file, data, (size_t)len, mode);
	OPENSSL_cleanse(data, (size_t)len);
	return ret;
}

int
pki_write_cert(const char *file, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ret = -1;

	if (b != NULL && PEM_write_bio_X509(b, x) == 1)
		ret = write_pem_bio(file, b, 0644);
	else
		station_err("cannot encode %s", file);
	BIO_free(b);
	return ret;
}

static int
write_key(const char *file, EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ret = -1;

	if (b != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL,
	    NULL) == 1)
		ret = write_pem_bio(file, b, 0600);
	else
		station_err("cannot encode %s", file);
	BIO_free(b);
	return ret;
}

/* random_pin(out, len): ${len} characters from 56 unambiguous ones,
 * without modulo bias (bytes >= 224 are drawn again). */
static int
random_pin(char *out, size_t len)
{
	static const char set[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz"
	    "23456789";
	uint8_t r;
	size_t n = 0;

	while (n < len) {
		if (RAND_bytes(&r, 1) != 1)
			return -1;
		if (r < 224)
			out[n++] = set[r % 56];
	}
	out[len] = '\0';
	OPENSSL_cleanse(&r, sizeof(r));
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* usable_home(home): 0 if ${home} does not exist (created) or is empty. */
static int
make_home(const char *home)
{
	DIR *d;
	struct dirent *e;

	if (mkdir(home, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		station_err("cannot create %s: %s", home, strerror(errno));
		return -1;
	}
	if ((d = opendir(home)) == NULL) {
		station_err("%s exists and cannot be read: %s", home,
		    strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			closedir(d);
			station_err("%s already exists and is not empty; refusing "
			    "to overwrite a station home (choose a new folder)",
			    home);
			return -1;
		}
	}
	closedir(d);
	return chmod(home, 0700);
}

struct demo {
	char home[PATH_MAX];
	char pin[HSM_PIN_MAX + 1];
	char so_pin[HSM_PIN_MAX + 1];
	struct hsm *h;
	EVP_PKEY *root_key, *order_key;
	X509 *root;
};

static int
path_in(const struct demo *d, const char *name, char out[static PATH_MAX])
{
	return station_path(d->home, name, out, PATH_MAX);
}

/* token_role(d, label, cn, ca, file): a key in the token, its cert;
 * ${ca} < 0: the station transport key (key agreement). */
static int
token_role(struct demo *d, const char *label, const char *cn, int ca,
    const char *file)
{
	struct hsm_key *key = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	char err[HSM_ERR_MAX], path[PATH_MAX];
	int ret = -1;

	if ((ca < 0 ? hsm_key_generate_transport(d->h, label, &key, err) :
	    hsm_key_generate(d->h, label, HSM_KEY_P256, &key, err)) != 0 ||
	    (pub = hsm_key_public(key)) == NULL ||
	    (ca < 0 ? hsm_cert_make_transport(pub,
	    "Station demo (not for production)", cn, d->root, d->root_key, 1825,
	    &x, err) : hsm_cert_make(pub, "Station demo (not for production)",
	    cn, d->root, d->root_key, ca > 0, ca > 0 ? 3650 : 1825, &x,
	    err)) != 0) {
		station_err("pki demo: %s", pub == NULL && key != NULL ?
		    hsm_error(d->h) : err);
		goto cleanup;
	}
	if (path_in(d, file, path) != 0 || pki_write_cert(path, x) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	X509_free(x);
	EVP_PKEY_free(pub);
	return ret;
}

static const char demo_conf[] =
    "; Demo station home made by 'station pki demo': development mode only.\n"
    "; The root and order keys in pki/ are software keys labelled demo.\n"
    "[station]\nid = DEMO-01\nmode = development\n\n"
    "[hsm]\nmodule = %s\ntoken = pkcs11:token=" DEMO_TOKEN "\n"
    "pin_file = pin\nsofthsm_conf = softhsm2.conf\n\n"
    "[pki]\nroot_cert = pki/root.pem\n"
    "subca_key = pkcs11:object=subca\nsubca_cert = pki/subca.pem\n"
    "stamp_key = pkcs11:object=stamp\nstamp_cert = pki/stamp.pem\n"
    "audit_key = pkcs11:object=audit\naudit_cert = pki/audit.pem\n"
    "export_key = pkcs11:object=export\nexport_cert = pki/export.pem\n"
    "transport_key = pkcs11:object=station-transport\n"
    "transport_cert = pki/station-transport.pem\n"
    "order_cert = pki/order.pem\n\n"
    "[device]\norganization = Demo Devices\nkey_types = p256, p384, ed25519\n"
    "hardware_module_name = yes\n";

static int
build(struct demo *d, const char *module)
{
	char err[HSM_ERR_MAX], path[PATH_MAX], text[PATH_MAX + 256];
	X509 *order = NULL;
	int n, ret = -1;

	if (path_in(d, "tokens", path) != 0 || mkdir(path, 0700) != 0 ||
	    path_in(d, "pki", path) != 0 || mkdir(path, 0700) != 0) {
		station_err("cannot create the folders of %s: %s", d->home,
		    strerror(errno));
		return -1;
	}
	n = snprintf(text, sizeof(text), "directories.tokendir = %s/tokens\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", d->home);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    path_in(d, "softhsm2.conf", path) != 0 ||
	    pki_write_new(path, text, (size_t)n, 0600) != 0)
		return -1;
	if (setenv("SOFTHSM2_CONF", path, 1) != 0)
		return -1;
	if (pin_protect_process(err) != 0) {
		station_err("pki demo: %s", err);
		return -1;
	}
	if (random_pin(d->pin, DEMO_PIN_LEN) != 0 ||
	    random_pin(d->so_pin, DEMO_PIN_LEN) != 0) {
		station_err("pki demo: no random numbers");
		return -1;
	}
	if (path_in(d, "pin", path) != 0 ||
	    pki_write_new(path, d->pin, strlen(d->pin), 0600) != 0)
		return -1;
	if (hsm_token_init(module, DEMO_TOKEN, d->so_pin, d->pin, err) != 0 ||
	    hsm_open(&d->h, module, "pkcs11:token=" DEMO_TOKEN, d->pin, err) !=
	    0) {
		station_err("pki demo: %s", err);
		return -1;
	}
	OPENSSL_cleanse(d->so_pin, sizeof(d->so_pin));
	OPENSSL_cleanse(d->pin, sizeof(d->pin));

	if ((d->root_key = EVP_EC_gen("P-256")) == NULL ||
	    (d->order_key = EVP_EC_gen("P-256")) == NULL) {
		station_err("pki demo: cannot generate the software keys");
		return -1;
	}
	if (hsm_cert_make(d->root_key, "Station demo (not for production)",
	    "Demo Root CA (demo)", NULL, d->root_key, true, 7300, &d->root,
	    err) != 0 ||
	    hsm_cert_make(d->order_key, "Demo brand owner (demo)",
	    "Demo order signing (demo)", NULL, d->order_key, false, 3650, &order,
	    err) != 0) {
		station_err("pki demo: %s", err);
		goto cleanup;
	}
	if (path_in(d, "pki/demo-root.key", path) != 0 ||
	    write_key(path, d->root_key) != 0 ||
	    path_in(d, "pki/root.pem", path) != 0 ||
	    pki_write_cert(path, d->root) != 0 ||
	    path_in(d, "pki/demo-order.key", path) != 0 ||
	    write_key(path, d->order_key) != 0 ||
	    path_in(d, "pki/order.pem", path) != 0 ||
	    pki_write_cert(path, order) != 0)
		goto cleanup;
	if (token_role(d, "subca", "DEMO-01 Device Sub-CA (demo)", true,
	    "pki/subca.pem") != 0 ||
	    token_role(d, "stamp", "DEMO-01 Stamp Signing (demo)", false,
	    "pki/stamp.pem") != 0 ||
	    token_role(d, "audit", "DEMO-01 Audit Checkpoints (demo)", false,
	    "pki/audit.pem") != 0 ||
	    token_role(d, "export", "DEMO-01 Export Signing (demo)", false,
	    "pki/export.pem") != 0 ||
	    token_role(d, "station-transport", "DEMO-01 Station Transport Key "
	    "(demo)", -1, "pki/station-transport.pem") != 0)
		goto cleanup;
	n = snprintf(text, sizeof(text), demo_conf, module);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    path_in(d, CONFIG_FILE, path) != 0 ||
	    pki_write_new(path, text, (size_t)n, 0600) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	X509_free(order);
	return ret;
}

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station pki demo --home DIR [--module SO]\n"
	    "\nCreates a demo station home in DIR (new or empty): a SoftHSM token\n"
	    "store inside it, a software demo root, the sub-CA, stamp, audit,\n"
	    "export and station transport keys generated in the token with their\n"
	    "certificates, a demo\n"
	    "order-signing key, a random PIN in DIR/pin (0600, never shown) and\n"
	    "DIR/station.conf (development mode).\n"
	    "  --home DIR    the new station home (default $STATION_HOME)\n"
	    "  --module SO   the SoftHSM module (default "
	    "/usr/lib/softhsm/libsofthsm2.so)\n"
	    "Exit codes: 0 created, 1 failed (nothing left behind), 2 usage.\n");
}

/* demo_orders(cfg): the demo production orders, one per key mode, in
 * HOME/orders/ (order_demo_write), ready for 'station order import'. */
static int
demo_orders(const struct station_config *cfg)
{
	char err[ORDER_ERR_MAX], key[PATH_MAX], dir[PATH_MAX];

	if (station_path(cfg->home, "pki/demo-order.key", key, sizeof(key)) !=
	    0 || station_path(cfg->home, "orders", dir, sizeof(dir)) != 0 ||
	    order_demo_write(dir, key, cfg->pki_order_cert, cfg->station_id,
	    time(NULL), err) != 0) {
		station_err("pki demo: demo orders: %s", err);
		return -1;
	}
	return 0;
}

int
pki_demo_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "module", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *home;
	const char *module = "/usr/lib/softhsm/libsofthsm2.so";
	struct demo d;
	char err[HSM_ERR_MAX];
	int c, ret = EXIT_FAILED, created = 0;

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H':
			home_opt = optarg;
			break;
		case 'm':
			module = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("pki demo: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (realpath(home, d.home) == NULL) {
		/* Not there yet: make it, then take its real path. */
		if (make_home(home) != 0 || realpath(home, d.home) == NULL)
			return EXIT_FAILED;
	} else if (make_home(d.home) != 0) {
		return EXIT_FAILED;
	}
	created = 1;
	if (build(&d, module) != 0)
		goto cleanup;
	hsm_close(d.h);
	d.h = NULL;
	/* Prove the result the way the station will use it. */
	{
		struct station_config cfg;
		struct hsm_ca *ca = NULL;
		struct hsm_profile p;

		if (config_load(&cfg, d.home, err) != 0 ||
		    pin_open_token(&cfg, NULL, &d.h, err) != 0) {
			station_err("pki demo: %s", err);
			goto cleanup;
		}
		pki_profile(&cfg, &p);
		if (hsm_ca_open(&ca, d.h, cfg.pki_subca_key, cfg.pki_subca_cert,
		    cfg.pki_root_cert, &p, err) != 0) {
			station_err("pki demo: %s", err);
			goto cleanup;
		}
		hsm_ca_free(ca);
		if (demo_orders(&cfg) != 0)
			goto cleanup;
	}
	printf("Demo station home: %s\n"
	    "  token '%s' in %s/tokens (PIN in %s/pin, mode 0600)\n"
	    "  root: %s/pki/root.pem (demo software key), sub-CA: "
	    "%s/pki/subca.pem\n"
	    "  demo orders: %s/orders/demo-device.order, demo-token.order, "
	    "demo-host.order\n", d.home, DEMO_TOKEN, d.home, d.home, d.home,
	    d.home, d.home);
	ret = EXIT_OK;
cleanup:
	hsm_close(d.h);
	EVP_PKEY_free(d.root_key);
	EVP_PKEY_free(d.order_key);
	X509_free(d.root);
	if (ret != EXIT_OK && created)
		nftw(d.home, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	OPENSSL_cleanse(&d, sizeof(d));
	return ret;
}
