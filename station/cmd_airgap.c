/*
 * cmd_airgap.c: `station airgap`, what the air-gap check (airgap.h) finds
 * on this station now, in any mode; it needs no PIN and writes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "station/airgap.h"
#include "station/station.h"

STATION_VERB(airgap, "Check that the station is off the network");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station airgap [--home DIR]\n"
	    "\nReports a default route or a network interface up other than "
	    "loopback and\n[airgap] factory_interfaces: what production mode "
	    "refuses to run with.\n"
	    "Exit codes: 0 air-gapped, 1 networked, 2 usage or "
	    "configuration.\n");
}

int
airgap_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	const char *home_opt = NULL, *home;
	char err[CONFIG_ERR_MAX], found[AIRGAP_ERR_MAX];
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("airgap: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if ((rc = airgap_scan(cfg.airgap_factory_interfaces, found)) < 0) {
		station_err("%s", found);
		return EXIT_FAILED;
	}
	if (rc == 0) {
		printf("air gap: ok: no default route, no interface up but "
		    "loopback%s\n", strcmp(cfg.airgap_factory_interfaces,
		    "none") != 0 ?
		    " and the factory interfaces" : "");
		return EXIT_OK;
	}
	printf("air gap: networked: %s\n", found);
	if (cfg.mode != STATION_MODE_PRODUCTION)
		printf("(development mode: verbs run anyway)\n");
	else if (cfg.airgap_allow_network)
		printf("([airgap] allow_network = yes: verbs run anyway, "
		    "recorded in the audit log)\n");
	else
		printf("(production mode: writing verbs refuse to run)\n");
	return EXIT_FAILED;
}
