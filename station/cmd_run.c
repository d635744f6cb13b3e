/*
 * cmd_run.c: `station run`, the bench loop.
 *
 * The officer's PIN is asked once (TTY, or a PIN file in development);
 * the token, the sub-CA, the stamp key and the audit log stay open for
 * the whole run. Then, after recovery of what an earlier run left in
 * flight (bench_recover.c), the attached DFU devices are polled
 * (flasher_list, every POLL_MS): each new attachment (port, bus address)
 * gets a thread of its own that takes it through bench_device (bench.c),
 * at most --parallel at once. A device stays "seen" while it is
 * attached, so a stamped device left on the hub is not worked on again;
 * unplugged and plugged in again, it is looked at again (and refused as
 * already stamped).
 *
 * The run ends after --count devices passed, when the order is used up or
 * expires, when nothing arrived for --idle-exit seconds, or on Ctrl-C
 * (SIGINT) or SIGTERM: no new device is started, the devices in flight
 * are finished, bench.ended is recorded and a checkpoint sealed. One run
 * per home at a time (a lock file beside the database).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "station/batch.h"
#include "station/bench_recover.h"
#include "station/pki.h"
#include "station/run.h"
#include "station/run_screen.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(run, "Stamp devices as they arrive on the bench (the officer's PIN once)");

#define POLL_MS 20
#define PARALLEL_MAX 32

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station run [--home DIR] [--order ID | --batch ID] "
	    "[--count N]\n                  [--operator ID] [--confirm-label] [--parallel N] [--idle-exit S] "
	    "[--times]\n                  [--pin-file FILE]\n"
	    "\nStamps every stamp-profile device that arrives on the bench "
	    "under the open\nproduction order: identity, key (the order's key "
	    "mode), certificate, stamp,\nlabel. One line per device: PASS, or "
	    "FAIL with what to do. Ctrl-C finishes\nthe devices in flight and "
	    "ends the run cleanly.\n"
	    "  --order ID        the order to stamp under (default: the only "
	    "open one)\n"
	    "  --batch ID        hand out the identities of imported batch ID "
	    "instead\n                    (docs/BATCHES.md)\n"
	    "  --count N         end after N devices passed\n"
	    "  --operator ID     who is at the bench (recorded with each "
	    "device)\n"
	    "  --confirm-label   after each label, read the scanned claim ID "
	    "from stdin\n"
	    "  --parallel N      devices worked on at once (default 8, at most "
	    "%d)\n"
	    "  --idle-exit S     end when no device arrived for S seconds and "
	    "none is in flight\n"
	    "  --times           at the end, the station's own time per device "
	    "(HSM, database,\n                    USB, stamp building; "
	    "medians)\n"
	    "  --pin-file FILE   read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 every device passed, 1 a device failed or the run "
	    "stopped on a\nproblem (order used up or expired, token or database "
	    "failing), 2 usage or\nconfiguration.\n", PARALLEL_MAX);
}

static int
parse_uint(const char *opt, const char *s, unsigned long max,
    unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *out > max ||
	    s[0] == '-') {
		station_err("run: %s: expected a number up to %lu, got '%s'", opt,
		    max, s);
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char *argv[], struct run_opts *o)
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "order", required_argument, NULL, 'o' },
		{ "batch", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'n' },
		{ "operator", required_argument, NULL, 'u' },
		{ "confirm-label", no_argument, NULL, 'c' },
		{ "parallel", required_argument, NULL, 'j' },
		{ "idle-exit", required_argument, NULL, 'i' },
		{ "times", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	o->parallel = 8;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'p': o->pin_file = optarg; break;
		case 'o': o->order = optarg; break;
		case 'b': o->batch = optarg; break;
		case 'u': o->operator = optarg; break;
		case 'c': o->confirm = true; break;
		case 't': o->times = true; break;
		case 'n':
			if (parse_uint("--count", optarg, 100000000, &v) != 0)
				return EXIT_USAGE;
			o->count = v;
			break;
		case 'j':
			if (parse_uint("--parallel", optarg, PARALLEL_MAX, &v) != 0 ||
			    v == 0) {
				if (v == 0)
					station_err("run: --parallel: at least 1");
				return EXIT_USAGE;
			}
			o->parallel = (unsigned)v;
			break;
		case 'i':
			if (parse_uint("--idle-exit", optarg, 86400, &v) != 0)
				return EXIT_USAGE;
			o->idle_exit = (unsigned)v;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("run: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->batch != NULL && o->order != NULL) {
		station_err("run: --batch and --order exclude each other: a batch "
		    "run stamps the batch's identities, not the order's");
		return EXIT_USAGE;
	}
	if (o->batch != NULL && !batch_id_valid(o->batch)) {
		station_err("run: --batch: '%s' is not a batch id ('station "
		    "batch status' lists them)", o->batch);
		return EXIT_USAGE;
	}
	if (o->operator != NULL && (strlen(o->operator) == 0 ||
	    strlen(o->operator) > 48 || !audit_text_valid(o->operator,
	    strlen(o->operator)))) {
		station_err("run: --operator: expected 1 to 48 printable "
		    "characters");
		return EXIT_USAGE;
	}
	return -1;
}

int
run_main(int argc, char *argv[])
{
	struct run_opts o = { 0 };
	struct station_config cfg;
	struct sigaction sa_int;
	char err[CONFIG_ERR_MAX];
	const char *home;
	int rc, lock = -1;

	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	if ((home = station_home(o.home)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if ((lock = station_lock(&cfg, "run")) < 0)
		return EXIT_FAILED;
	memset(&sa_int, 0, sizeof(sa_int));
	sa_int.sa_handler = on_signal;
	sigemptyset(&sa_int.sa_mask);
	sigaction(SIGINT, &sa_int, NULL);
	sigaction(SIGTERM, &sa_int, NULL);
	rc = run_session(&cfg, &o, &interrupted);
	close(lock);
	return rc;
}
