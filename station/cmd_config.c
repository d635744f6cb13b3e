/*
 * cmd_config.c: `station config`, check station.conf and print the
 * effective configuration (every key, defaults filled in, paths resolved).
 */
#include <getopt.h>
#include <stdio.h>

#include "station/config.h"
#include "station/station.h"

STATION_VERB(config, "Check station.conf and print the effective configuration");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station config [--home DIR] [--quiet]\n"
	    "\nChecks DIR/station.conf and prints the effective configuration:\n"
	    "every key, with defaults filled in and paths resolved.\n"
	    "  --home DIR   the station home (default $STATION_HOME)\n"
	    "  --quiet      only check; print nothing when it is valid\n"
	    "Exit codes: 0 valid, 2 usage or configuration error.\n");
}

int
config_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *home_opt = NULL, *home;
	int c, quiet = 0;

	while ((c = getopt_long(argc, argv, "hq", options, NULL)) != -1) {
		switch (c) {
		case 'H':
			home_opt = optarg;
			break;
		case 'q':
			quiet = 1;
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
		station_err("config: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if (!quiet)
		config_print(&cfg, stdout);
	return EXIT_OK;
}
