/*
 * cmd_devices.c: `station devices`, list the attached USB DFU devices
 * (any DFU 1.x device, not only stamp devices), one line each: port path,
 * VID:PID, serial (the hardware id) and the alt settings by name. With
 * --watch it then reports arrivals ("+") and departures ("-") as they
 * happen, by listing again every 100 ms.
 *
 * With --stamp, a device that offers the stamp profile (alts info, csr,
 * stamp, commit, lock) gets a second line with its stamp state from its
 * `info` record: active generation and digest prefix, a staged stamp, the
 * lock state (or why the record could not be read). Reading it opens the
 * device and selects an alt, which would disturb another process working
 * on it, so plain listing never does.
 *
 * A DFU device that cannot be read (malformed descriptors) is shown on a
 * line starting with "!" and the reason, so it does not just go missing.
 *
 * It needs no station.conf: --home is accepted and not read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flasher/flasher.h"
#include "stamp-format/stamp.h"
#include "station/station.h"

STATION_VERB(devices, "List attached USB DFU devices (port, VID:PID, serial, alts, stamp state)");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station devices [--home DIR] [--watch SECONDS] "
	    "[--stamp]\n"
	    "\nLists the attached USB DFU devices: port path, VID:PID, serial "
	    "(hardware id),\nDFU version, transfer size and alt settings by name. "
	    "Choose one for\n'station flash' or 'station read' with --device "
	    "SERIAL or --path PORT.\n"
	    "  --watch SECONDS  then print '+' / '-' lines as devices arrive and "
	    "leave,\n                   for SECONDS (0: until interrupted)\n"
	    "  --stamp          also read each stamp device's info: active "
	    "generation,\n                   staged stamp, lock (opens the "
	    "device: not while another\n                   program works on it)\n"
	    "  --home DIR       accepted; this verb needs no station.conf\n"
	    "Exit codes: 0 listed (also when none is attached), 1 USB failure, "
	    "2 usage.\n");
}

static void
print_device(const char *prefix, const struct flasher_device *d)
{
	printf("%s%-8s %04x:%04x  %-16s DFU %x.%x %s xfer %-5u alts:", prefix,
	    d->path, d->vid, d->pid, d->serial[0] ? d->serial : "-",
	    d->dfu.func.dfu_version >> 8, (d->dfu.func.dfu_version >> 4) & 0xf,
	    d->dfu.protocol == 2 ? "dfu-mode" : "run-time",
	    d->dfu.func.transfer_size);
	for (size_t i = 0; i < d->dfu.nalts; i++)
		printf(" %s", d->alt_names[i][0] ? d->alt_names[i] : "?");
	printf("\n");
}

/* The second line: the stamp state from the device's info record. */
static int show_stamp;

static void
print_stamp(struct flasher *fl, const struct flasher_device *d)
{
	struct flasher_session *s = NULL;
	struct flasher_info info;
	char err[FLASHER_ERR_MAX];

	if (!show_stamp || flasher_profile_check(d, err) != 0)
		return;
	if (flasher_session_open(fl, d, &s, err) != 0 ||
	    flasher_info(s, &info, err) != 0) {
		printf("         stamp: info unreadable: %s\n", err);
		flasher_session_close(s);
		return;
	}
	flasher_session_close(s);
	if (flasher_info_stamped(&info))
		printf("         stamp: generation %u (digest %02x%02x%02x%02x...)",
		    info.active_generation, info.active_digest[0],
		    info.active_digest[1], info.active_digest[2],
		    info.active_digest[3]);
	else
		printf("         stamp: none");
	if (info.has_staged)
		printf(", staged generation %u", info.staged_generation);
	printf("%s", info.locked == 1 ? ", locked" : info.locked == 0 ?
	    ", unlocked" : "");
	if ((info.capabilities & STAMP_CAP_ATTEST) && info.attestation_certs)
		printf(", attestation chain of %zu (not checked here)",
		    info.attestation_certs);
	printf("\n");
}

static bool
present(const struct flasher_device *d, const struct flasher_device *list,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].bus == d->bus && list[i].address == d->address &&
		    strcmp(list[i].path, d->path) == 0 &&
		    strcmp(list[i].serial, d->serial) == 0)
			return true;
	return false;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
devices_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "watch", required_argument, NULL, 'w' },
		{ "stamp", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct flasher *fl = NULL;
	struct flasher_device *devs = NULL, *next = NULL;
	char err[FLASHER_ERR_MAX], *end;
	long watch = -1;
	const struct flasher_rejected *rejected;
	size_t n = 0, m = 0, nrejected;
	int c, ret = EXIT_FAILED;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H':
			break;
		case 'w':
			watch = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || watch < 0 || watch > 86400) {
				station_err("devices: --watch: expected seconds from 0 "
				    "to 86400, got '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			show_stamp = 1;
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
		station_err("devices: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (flasher_open(&fl, err) != 0 || flasher_list(fl, NULL, 0, &devs, &n, err) != 0) {
		station_err("devices: %s", err);
		goto out;
	}
	if (n == 0)
		printf("no DFU devices attached\n");
	for (size_t i = 0; i < n; i++) {
		print_device("", &devs[i]);
		print_stamp(fl, &devs[i]);
	}
	rejected = flasher_list_rejected(fl, &nrejected);
	for (size_t i = 0; i < nrejected; i++)
		printf("! %-6s %04x:%04x  DFU device left out: %s\n",
		    rejected[i].path, rejected[i].vid, rejected[i].pid,
		    rejected[i].why);
	fflush(stdout);
	if (watch >= 0) {
		long long until = now_ms() + watch * 1000;
		struct timespec pause = { 0, 100 * 1000 * 1000 };
		while (watch == 0 || now_ms() < until) {
			nanosleep(&pause, NULL);
			if (flasher_list(fl, devs, n, &next, &m, err) != 0) {
				station_err("devices: %s", err);
				goto out;
			}
			for (size_t i = 0; i < m; i++)
				if (!present(&next[i], devs, n)) {
					print_device("+ ", &next[i]);
					print_stamp(fl, &next[i]);
				}
			for (size_t i = 0; i < n; i++)
				if (!present(&devs[i], next, m))
					print_device("- ", &devs[i]);
			fflush(stdout);
			flasher_list_free(devs);
			devs = next;
			n = m;
			next = NULL;
		}
	}
	ret = EXIT_OK;
out:
	flasher_list_free(devs);
	flasher_close(fl);
	return ret;
}
