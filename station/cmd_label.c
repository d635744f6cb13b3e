/*
 * cmd_label.c: `station label SERIAL`, reprint a device's label (ZPL to
 * the spool and the printer, PNG to png_dir) from what the audit database
 * holds; every reprint is an event label.reprinted with its actor, so a
 * second label for one device is never silent.
 *
 * Only a device that is done gets a label: a label for a device that
 * failed, or whose identity was voided or revoked, would put a dead
 * identity on a box. The verb needs no PIN; its event is sealed by the
 * next signed checkpoint (the next bench session).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "station/config.h"
#include "station/label.h"
#include "station/order.h"
#include "station/station.h"

STATION_VERB(label, "Reprint a device's label (audited)");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station label [--home DIR] [--actor NAME] "
	    "[--reason TEXT] SERIAL\n"
	    "\nReprints the label of device SERIAL (which must be done): ZPL into "
	    "[label] spool\n"
	    "and to [label] printer if set, PNG into [label] png_dir. The reprint "
	    "is\nrecorded in the audit log as label.reprinted with the actor.\n"
	    "  --actor NAME   who reprints (default: operator)\n"
	    "  --reason TEXT  why (e.g. 'label damaged'), recorded with the event\n"
	    "  --home DIR     the station home (default $STATION_HOME)\n"
	    "Exit codes: 0 printed, 1 no such device / not done / failed, 2 usage "
	    "or\nconfiguration error.\n");
}

int
label_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "actor", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *home, *actor = "operator", *reason = "";
	struct station_config cfg;
	struct audit_device dev;
	struct order o;
	struct label_device ld;
	struct label_files files;
	char err[LABEL_ERR_MAX], aerr[AUDIT_ERR_MAX];
	struct audit *a = NULL;
	int c, rc, ret = EXIT_FAILED;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'a': actor = optarg; break;
		case 'r': reason = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		station_err("label: expected one SERIAL");
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if ((a = audit_open(cfg.audit_database, cfg.station_id, aerr)) == NULL) {
		station_err("%s", aerr);
		return EXIT_FAILED;
	}
	if ((rc = audit_device_get(a, argv[optind], &dev)) != 0) {
		if (rc > 0)
			station_err("label: no device with serial '%s'",
			    argv[optind]);
		else
			station_err("%s", audit_error(a));
		goto cleanup;
	}
	if (dev.state != AUDIT_DONE) {
		station_err("label: device %s is %s: only a device that is done "
		    "gets a label", dev.serial, audit_state_name(dev.state));
		goto cleanup;
	}
	ld.serial = dev.serial;
	ld.claim_id = dev.claim_id;
	ld.product = "";
	if (dev.order_id[0] != '\0') {
		if (order_load(a, dev.order_id, &o, err) != 0) {
			station_err("%s", err);
			goto cleanup;
		}
		ld.product = o.product;
	}
	if (label_write(&cfg, &ld, &files, err) != 0) {
		station_err("label: %s", err);
		goto cleanup;
	}
	{
		struct audit_field f[] = {
			{ "png", files.png, strlen(files.png) },
			{ "printer", files.printed ? cfg.label_printer : "",
			    files.printed ? strlen(cfg.label_printer) : 0 },
			{ "reason", reason, strlen(reason) },
			{ "zpl", files.zpl, strlen(files.zpl) },
		};

		if (audit_append(a, actor, "label.reprinted", dev.serial, f,
		    sizeof(f) / sizeof(f[0]), NULL) != 0) {
			station_err("label printed but not recorded: %s",
			    audit_error(a));
			goto cleanup;
		}
	}
	printf("label of %s reprinted: %s, %s%s%s\n", dev.serial, files.zpl,
	    files.png, files.printed ? ", sent to " : "",
	    files.printed ? cfg.label_printer : "");
	ret = EXIT_OK;
cleanup:
	audit_close(a);
	return ret;
}
