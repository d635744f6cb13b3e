/*
 * cmd_batch.c: `station batch generate|import|status|void|revoke`,
 * pre-generated batches of identities (docs/BATCHES.md).
 *
 *   generate  in the secure room: identities, token-made keys sealed to the
 *             receiving station, certificates; one encrypted, signed file
 *   import    at the factory station: the file verified and its
 *             identities kept for the bench loop (batch_take_next)
 *   status    used, left, failed, voided per imported batch
 *   void      the officer withdraws a batch's unused identities
 *   revoke    at the issuing station: revoke what a factory voided
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/batch.h"
#include "station/batch_int.h"
#include "station/config.h"
#include "station/pki.h"
#include "station/station_audit.h"
#include "station/station.h"

STATION_VERB(batch, "Pre-generated batches: generate, import, status, void");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station batch generate --order ID --count N "
	    "[--threads T] --for CERT -o FILE\n"
	    "       station batch import FILE\n"
	    "       station batch status [BATCH]\n"
	    "       station batch void BATCH [--reason TEXT] [-o LIST]\n"
	    "       station batch revoke BATCH LIST\n"
	    "Every form takes [--home DIR]; generate, import, void and revoke "
	    "take\n[--pin-file FILE] and ask for the officer's PIN.\n"
	    "\n  generate  make N identities under order ID (key_mode token): "
	    "keys made in\n"
	    "            the token and sealed to the receiving station's "
	    "transport\n"
	    "            certificate CERT, certificates from the sub-CA, each "
	    "recorded\n"
	    "            before it is written; FILE is a CMS EnvelopedData to "
	    "CERT with\n"
	    "            a manifest signed by the export key (T worker threads, "
	    "1-8)\n"
	    "  import    verify a batch file (addressed to this station, "
	    "signed by\n"
	    "            [pki] batch_cert, not imported before) and keep its "
	    "identities\n"
	    "  status    each imported batch (or BATCH): count, used, failed, "
	    "voided, left\n"
	    "  void      withdraw BATCH's unused identities (recorded voided); "
	    "LIST gets\n"
	    "            their certificate serials for the issuing station\n"
	    "  revoke    at the issuing station: revoke the certificates in "
	    "LIST\n"
	    "(`station batch keys` is generate's key helper process, not for "
	    "people.)\n"
	    "Exit codes: 0 done, 1 refused or failed, 2 usage or "
	    "configuration error.\n");
}

static int
load(const char *home_opt, struct station_config *cfg)
{
	const char *home;
	char err[CONFIG_ERR_MAX];

	if ((home = station_home(home_opt)) == NULL)
		return -1;
	if (config_load(cfg, home, err) != 0) {
		station_err("%s", err);
		return -1;
	}
	return 0;
}

static int
count_arg(const char *s, const char *what, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (s[0] < '1' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    *v > max) {
		station_err("batch generate: %s: expected 1 to %" PRIu64
		    ", got '%s'", what, max, s);
		return -1;
	}
	return 0;
}

static int
generate_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "order", required_argument, NULL, 'O' },
		{ "count", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "for", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_request r = { .threads = 1 };
	struct batch_result res;
	struct station_config cfg;
	const char *home_opt = NULL;
	uint64_t threads = 1;
	int c, rc;

	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': r.pin_file = optarg; break;
		case 'O': r.order_id = optarg; break;
		case 'n':
			if (count_arg(optarg, "--count", BATCH_COUNT_MAX,
			    &r.count) != 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (count_arg(optarg, "--threads", 8, &threads) != 0)
				return EXIT_USAGE;
			r.threads = (unsigned)threads;
			break;
		case 'f': r.for_cert = optarg; break;
		case 'o': r.out = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("batch generate: unexpected argument '%s'",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (r.order_id == NULL || r.count == 0 || r.for_cert == NULL ||
	    r.out == NULL) {
		station_err("batch generate: %s is required; see 'station batch "
		    "--help'", r.order_id == NULL ? "--order ID" : r.count == 0 ?
		    "--count N" : r.for_cert == NULL ? "--for CERT" : "-o FILE");
		return EXIT_USAGE;
	}
	if (load(home_opt, &cfg) != 0)
		return EXIT_USAGE;
	if ((rc = batch_generate(&cfg, &r, &res)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	printf("batch %s: %" PRIu64 " identities, %s .. %s, written to %s "
	    "(%.1f s, %.0f/s)\n", res.batch_id, res.count, res.first, res.last,
	    r.out, res.seconds, res.seconds > 0 ? (double)res.count /
	    res.seconds : 0.0);
	return EXIT_OK;
}

/* The options every subcommand but generate takes. */
struct common {
	const char *home_opt, *pin_file, *reason, *list;
};

static int
parse_common(int argc, char *argv[], const char *verb, struct common *o,
    int min, int max)
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'H': o->home_opt = optarg; break;
		case 'p': o->pin_file = optarg; break;
		case 'r': o->reason = optarg; break;
		case 'o': o->list = optarg; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (argc - optind > max || argc - optind < min) {
		station_err("batch %s: expected %s; see 'station batch --help'",
		    verb, max == 2 ? "BATCH and LIST" : !strcmp(verb, "import") ?
		    "one batch FILE" : "one BATCH");
		return -1;
	}
	return 0;
}

static int
import_main(int argc, char *argv[])
{
	struct common o = { 0 };
	struct station_config cfg;
	struct batch_import_result res;
	int rc;

	if ((rc = parse_common(argc, argv, "import", &o, 1, 1)) != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (load(o.home_opt, &cfg) != 0)
		return EXIT_USAGE;
	if ((rc = batch_import(&cfg, argv[optind], o.pin_file, &res)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	printf("batch %s imported: %" PRIu64 " identities of order %s (%s) "
	    "from station %s\n", res.m.batch_id, res.m.count, res.m.order_id,
	    res.m.product, res.m.generator);
	return EXIT_OK;
}

static int
print_status(void *ctx, const struct batch_status *st)
{
	int *n = ctx;

	if ((*n)++ == 0)
		printf("%-28s %-16s %10s %10s %10s %10s %10s\n", "BATCH",
		    "ORDER", "COUNT", "USED", "FAILED", "VOIDED", "LEFT");
	printf("%-28s %-16s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10"
	    PRIu64 " %10" PRIu64 "\n", st->batch_id, st->order_id, st->count,
	    st->used, st->failed, st->voided, st->left);
	return 0;
}

static int
status_main(int argc, char *argv[])
{
	struct common o = { 0 };
	struct station_config cfg;
	struct batch_status st;
	struct audit *a;
	char err[BATCH_ERR_MAX];
	int rc, n = 0, ret = EXIT_FAILED;

	if ((rc = parse_common(argc, argv, "status", &o, 0, 1)) != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (load(o.home_opt, &cfg) != 0)
		return EXIT_USAGE;
	if ((rc = station_audit_peek(&cfg, &a)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	if (optind < argc) {
		if ((rc = batch_status_get(a, argv[optind], &st, err)) == 0) {
			print_status(&n, &st);
			ret = EXIT_OK;
		} else
			station_err("batch status: %s", rc > 0 ? "no such batch "
			    "was imported here" : err);
	} else if (batch_status_all(a, print_status, &n, err) == 0) {
		if (n == 0)
			printf("no batches imported\n");
		ret = EXIT_OK;
	} else
		station_err("batch status: %s", err);
	audit_close(a);
	return ret;
}

/* officer(cfg, pin_file, verb, h, sa): PIN, token and audit session. */
static int
officer(const struct station_config *cfg, const char *pin_file,
    const char *verb, struct hsm **h, struct station_audit **sa)
{
	struct hsm_ca *ca = NULL;
	int rc;

	*h = NULL;
	*sa = NULL;
	if (pki_open(cfg, pin_file, h, &ca) != 0)
		return EXIT_FAILED;
	hsm_ca_free(ca);
	if ((rc = station_audit_open(cfg, *h, verb, false, sa)) != 0) {
		hsm_close(*h);
		*h = NULL;
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	}
	return EXIT_OK;
}

static int
void_main(int argc, char *argv[])
{
	struct common o = { .reason = "batch voided by the officer" };
	struct station_config cfg;
	struct station_audit *sa;
	struct hsm *h;
	FILE *list = NULL;
	char err[BATCH_ERR_MAX];
	uint64_t n = 0;
	int rc, ret;

	if ((rc = parse_common(argc, argv, "void", &o, 1, 1)) != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (load(o.home_opt, &cfg) != 0)
		return EXIT_USAGE;
	if (o.list != NULL && (list = fopen(o.list, "wx")) == NULL) {
		station_err("batch void: cannot create %s: %s", o.list,
		    strerror(errno));
		return EXIT_FAILED;
	}
	if ((ret = officer(&cfg, o.pin_file, "batch void", &h, &sa)) == 0) {
		rc = batch_void(sa->a, cfg.home, argv[optind], o.reason,
		    sa->actor, list, &n, err);
		if (rc != 0)
			station_err("batch void: %s", err);
		ret = rc == 0 ? EXIT_OK : EXIT_FAILED;
		if (station_audit_close(sa, rc == 0) != 0)
			ret = EXIT_FAILED;
		hsm_close(h);
	}
	if (list != NULL && (fclose(list) != 0 || ret != EXIT_OK))
		ret = EXIT_FAILED;
	if (ret == EXIT_OK)
		printf("batch %s: %" PRIu64 " unused identities voided%s%s\n",
		    argv[optind], n, o.list ? "; certificate serials for the "
		    "issuing station in " : "", o.list ? o.list : "");
	return ret;
}

/* revoke_line(sa, batch, line, reason): "SERIAL CERTSERIAL" revoked. */
static int
revoke_line(struct station_audit *sa, const char *batch, char *line,
    const char *reason)
{
	char *cs = strchr(line, ' ');
	struct audit_device d;
	struct audit_change c = { .to = AUDIT_REVOKED, .reason = reason };

	if (cs == NULL)
		return -1;
	*cs++ = '\0';
	if (audit_device_get(sa->a, line, &d) != 0 ||
	    strcmp(d.key_mode, BATCH_KEY_MODE) != 0 ||
	    strcmp(d.cert_serial, cs) != 0) {
		station_err("batch revoke: %s (certificate %s) is not an "
		    "identity of batch %s issued here", line, cs, batch);
		return -1;
	}
	if (d.state == AUDIT_REVOKED)
		return 0;
	if (audit_device_transition(sa->a, line, &c, sa->actor, NULL, 0,
	    NULL) != 0) {
		station_err("batch revoke: %s: %s", line, audit_error(sa->a));
		return -1;
	}
	return 0;
}

static int
revoke_main(int argc, char *argv[])
{
	struct common o = { .reason = "cessationOfOperation: batch voided at "
	    "the factory" };
	struct station_config cfg;
	struct station_audit *sa;
	struct hsm *h;
	char line[512], head[160];
	FILE *f;
	uint64_t n = 0;
	int rc, ret;

	if ((rc = parse_common(argc, argv, "revoke", &o, 2, 2)) != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (load(o.home_opt, &cfg) != 0)
		return EXIT_USAGE;
	if ((f = fopen(argv[optind + 1], "r")) == NULL) {
		station_err("batch revoke: cannot read %s: %s", argv[optind + 1],
		    strerror(errno));
		return EXIT_FAILED;
	}
	snprintf(head, sizeof(head), "station-batch-void 1 %s\n", argv[optind]);
	if (fgets(line, sizeof(line), f) == NULL || strcmp(line, head) != 0) {
		station_err("batch revoke: %s is not the void list of batch %s",
		    argv[optind + 1], argv[optind]);
		fclose(f);
		return EXIT_FAILED;
	}
	if ((ret = officer(&cfg, o.pin_file, "batch revoke", &h, &sa)) == 0) {
		while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (revoke_line(sa, argv[optind], line, o.reason) != 0)
				ret = EXIT_FAILED;
			else
				n++;
		}
		if (station_audit_close(sa, ret == 0) != 0)
			ret = EXIT_FAILED;
		hsm_close(h);
	}
	fclose(f);
	if (ret == EXIT_OK)
		printf("batch %s: %" PRIu64 " certificates revoked; next: "
		    "'station crl'\n", argv[optind], n);
	return ret;
}

/* `station batch keys --home DIR`: the key helper of batch generate
 * (batch_keys.c); it talks over stdin and stdout, not to people. */
static int
keys_main(int argc, char *argv[])
{
	struct common o = { 0 };
	struct station_config cfg;

	if (parse_common(argc, argv, "keys", &o, 0, 0) != 0 ||
	    load(o.home_opt, &cfg) != 0)
		return EXIT_USAGE;
	return batch_keys_helper(&cfg) == 0 ? EXIT_OK : EXIT_FAILED;
}

int
batch_main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "generate"))
		return generate_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "keys"))
		return keys_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import"))
		return import_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return status_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "void"))
		return void_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "revoke"))
		return revoke_main(argc - 1, argv + 1);
	station_err("batch: unknown subcommand '%s'; see 'station batch --help'",
	    argv[1]);
	return EXIT_USAGE;
}
