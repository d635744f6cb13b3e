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
#include "station/config.h"
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
	station_err("batch: unknown subcommand '%s'; see 'station batch --help'",
	    argv[1]);
	return EXIT_USAGE;
}
