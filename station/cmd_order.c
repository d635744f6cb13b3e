/*
 * cmd_order.c: `station order import|status|demo`, production orders
 * (docs/ORDERS.md).
 *
 *   import FILE  the security officer loads a signed order: verified
 *                (signature, signer chain to [pki] order_cert, this
 *                station, not expired, not imported before, serial block),
 *                then recorded in the audit database as received and on
 *                the token (asks for the PIN: a privileged verb)
 *   status       each order with quantity, allocated, left, expiry and
 *                state; --token also reads the token's counts (PIN), which
 *                shows a rolled-back database
 *   demo         write the demo orders of a demo home into DIR/orders/
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "station/audit_cmd.h"
#include "station/config.h"
#include "station/order.h"
#include "station/pin.h"
#include "station/pki.h"
#include "station/station.h"

STATION_VERB(order, "Import signed production orders and show their status");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station order import [--home DIR] [--pin-file FILE] "
	    "[--actor NAME] FILE\n"
	    "       station order status [--home DIR] [--token] [--pin-file FILE]\n"
	    "       station order demo [--home DIR]\n"
	    "\n  import   verify a signed production order (docs/ORDERS.md) and "
	    "record it in\n"
	    "           the audit database and on the token; asks for the HSM PIN\n"
	    "  status   list the orders: quantity, allocated, left, expiry, state;\n"
	    "           --token compares with the token's counts (asks for the PIN)\n"
	    "  demo     write the demo orders (one per key mode) of a demo home, "
	    "signed\n"
	    "           with its pki/demo-order.key, into DIR/orders/\n"
	    "  --actor NAME  who imports, for the audit log (default: officer)\n"
	    "  --home DIR    the station home (default $STATION_HOME)\n"
	    "Exit codes: 0 done, 1 order refused or failed, 2 usage or "
	    "configuration error.\n");
}

static X509 *
read_cert(const char *file)
{
	FILE *f = fopen(file, "r");
	X509 *x;

	if (f == NULL) {
		station_err("cannot read the order certificate %s ([pki] "
		    "order_cert): %s", file, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ERR_clear_error();
		station_err("%s ([pki] order_cert) is not a PEM certificate",
		    file);
	}
	return x;
}

/* open_signed(cfg, h, a): the database, checkpoints signed by the token's
 * audit key. */
static struct audit *
open_signed(const struct station_config *cfg, struct hsm *h, const char *actor)
{
	struct hsm_key *k;
	EVP_PKEY *pub = NULL;
	BIO *b = NULL;
	char err[AUDIT_ERR_MAX], *pem = NULL, *data;
	struct audit *a = NULL;
	long n;

	if (pki_role_key(cfg, h, PKI_ROLE_AUDIT, &k) != 0)
		return NULL;
	if ((pub = hsm_key_public(k)) == NULL || (b = BIO_new(BIO_s_mem())) ==
	    NULL || PEM_write_bio_PUBKEY(b, pub) != 1 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0 ||
	    (pem = strndup(data, (size_t)n)) == NULL) {
		station_err("audit key: cannot read its public key");
		goto cleanup;
	}
	if ((a = audit_open(cfg->audit_database, cfg->station_id, err)) ==
	    NULL) {
		station_err("%s", err);
		goto cleanup;
	}
	audit_set_checkpoint_every(a, cfg->audit_checkpoint_every);
	if (audit_set_signer(a, hsm_sign, k, pem, actor) != 0) {
		station_err("%s", audit_error(a));
		audit_close(a);
		a = NULL;
	}
cleanup:
	free(pem);
	BIO_free(b);
	EVP_PKEY_free(pub);
	return a;
}

static int
import_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "actor", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *home, *pin_file = NULL;
	const char *actor = "officer", *file;
	struct station_config cfg;
	struct order o;
	enum order_problem problem;
	char err[ORDER_ERR_MAX], herr[HSM_ERR_MAX], when[32];
	struct hsm *h = NULL;
	struct audit *a = NULL;
	uint8_t *doc = NULL;
	size_t len;
	X509 *trusted = NULL;
	int c, ret = EXIT_FAILED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'a': actor = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		station_err("order import: expected one order FILE");
		return EXIT_USAGE;
	}
	file = argv[optind];
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, herr) != 0) {
		station_err("%s", herr);
		return EXIT_USAGE;
	}
	if ((trusted = read_cert(cfg.pki_order_cert)) == NULL)
		return EXIT_USAGE;
	if ((doc = (uint8_t *)audit_cmd_read_file(file, ORDER_DOC_MAX, &len)) ==
	    NULL)
		goto cleanup;
	/* Refuse what is refused anyway before asking for the PIN. */
	if (order_verify(doc, len, trusted, &o, &problem, err) != 0 ||
	    order_check_station(&o, cfg.station_id, time(NULL), &problem,
	    err) != 0) {
		station_err("%s: %s", file, err);
		goto cleanup;
	}
	if (pin_open_token(&cfg, pin_file, &h, herr) != 0) {
		station_err("%s", herr);
		goto cleanup;
	}
	if ((a = open_signed(&cfg, h, actor)) == NULL)
		goto cleanup;
	if (order_import(a, h, cfg.hsm_module, cfg.station_id, trusted, doc, len,
	    time(NULL), actor, &o, &problem, err) != 0) {
		station_err("%s: %s", file, err);
		goto cleanup;
	}
	if (audit_checkpoint(a) != 0)
		station_err("warning: checkpoint not signed: %s", audit_error(a));
	order_time_text(o.expires, when);
	printf("order %s imported: %s x %llu, serials %llu..%llu, key mode %s, "
	    "claim mode %s, expires %s\n", o.order_id, o.product,
	    (unsigned long long)o.quantity, (unsigned long long)o.serial_first,
	    (unsigned long long)o.serial_last, o.key_mode, o.claim_mode, when);
	ret = EXIT_OK;
cleanup:
	audit_close(a);
	hsm_close(h);
	X509_free(trusted);
	free(doc);
	return ret;
}

struct status_ctx {
	struct audit *a;
	struct hsm *h;
	const char *module;
	int failed, rolled_back;
};

static int
print_order(void *ctx, const struct audit_order *e)
{
	struct status_ctx *sc = ctx;
	struct order_state st;
	char err[ORDER_ERR_MAX], when[32], tok[24] = "-";

	if (order_state_get(sc->a, sc->h, sc->module, e->order_id, time(NULL),
	    &st, err) != 0) {
		station_err("%s", err);
		sc->failed = 1;
		return 0;
	}
	order_time_text(st.terms.expires, when);
	if (sc->h != NULL)
		snprintf(tok, sizeof(tok), "%s", "none");
	if (st.token_known)
		snprintf(tok, sizeof(tok), "%llu",
		    (unsigned long long)st.token_count);
	if (strcmp(st.state, "rolled back") == 0)
		sc->rolled_back = 1;
	printf("%-20s %-10s %-6s %10llu %10llu %10llu %-20s %-8s %s\n",
	    e->order_id, st.terms.product, st.terms.key_mode,
	    (unsigned long long)st.terms.quantity,
	    (unsigned long long)st.allocated, (unsigned long long)st.left,
	    when, sc->h != NULL ? tok : "-", st.state);
	return 0;
}

static int
status_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "token", no_argument, NULL, 't' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *home, *pin_file = NULL;
	struct station_config cfg;
	struct status_ctx sc = { 0 };
	char err[AUDIT_ERR_MAX], herr[HSM_ERR_MAX];
	int c, token = 0, ret = EXIT_FAILED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 't': token = 1; break;
		case 'p': pin_file = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("order status: unexpected argument '%s'",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, herr) != 0) {
		station_err("%s", herr);
		return EXIT_USAGE;
	}
	if ((sc.a = audit_open_readonly(cfg.audit_database, err)) == NULL) {
		station_err("%s", err);
		return EXIT_FAILED;
	}
	if (token && pin_open_token(&cfg, pin_file, &sc.h, herr) != 0) {
		station_err("%s", herr);
		goto cleanup;
	}
	sc.module = cfg.hsm_module;
	printf("%-20s %-10s %-6s %10s %10s %10s %-20s %-8s %s\n", "ORDER",
	    "PRODUCT", "KEYS", "QUANTITY", "ALLOCATED", "LEFT", "EXPIRES",
	    "TOKEN", "STATE");
	if (audit_orders(sc.a, print_order, &sc) < 0) {
		station_err("%s", audit_error(sc.a));
		goto cleanup;
	}
	if (sc.rolled_back)
		station_err("the token counted more than the database for an "
		    "order: the database was rolled back or replaced; a security "
		    "officer must resolve this");
	ret = sc.failed || sc.rolled_back ? EXIT_FAILED : EXIT_OK;
cleanup:
	hsm_close(sc.h);
	audit_close(sc.a);
	return ret;
}

/* demo_present(dir): the three demo orders are there. */
static bool
demo_present(const char *dir)
{
	static const char *const names[] = { "device", "token", "host" };
	char path[PATH_MAX];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/demo-%s.order", dir, names[i]);
		if (access(path, F_OK) != 0)
			return false;
	}
	return true;
}

static int
demo_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *home;
	struct station_config cfg;
	char err[ORDER_ERR_MAX], key[PATH_MAX], dir[PATH_MAX];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("order demo: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if (station_path(cfg.home, "pki/demo-order.key", key, sizeof(key)) != 0 ||
	    station_path(cfg.home, "orders", dir, sizeof(dir)) != 0)
		return EXIT_FAILED;
	/* `station pki demo` writes them already: then there is nothing to
	 * do. */
	if (!demo_present(dir) && order_demo_write(dir, key,
	    cfg.pki_order_cert, cfg.station_id, time(NULL), err) != 0) {
		station_err("order demo: %s", err);
		return EXIT_FAILED;
	}
	printf("demo orders for station %s in %s/: demo-device.order, "
	    "demo-token.order, demo-host.order\n", cfg.station_id, dir);
	return EXIT_OK;
}

int
order_main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "import"))
		return import_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return status_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "demo"))
		return demo_main(argc - 1, argv + 1);
	station_err("order: unknown subcommand '%s'; see 'station order --help'",
	    argv[1]);
	return EXIT_USAGE;
}
