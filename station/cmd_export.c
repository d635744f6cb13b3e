/*
 * cmd_export.c: `station export` (officer: writes a signed export) and
 * `station export verify` (anyone: checks one), docs/EXPORT.md.
 *
 * export asks for the officer's PIN: the sub-CA signs the CRL it carries,
 * the export key signs its manifest, and the audit key seals the session
 * that records it. verify needs no PIN and no token: the cloud side runs
 * it with the root certificate (--trust, or the home's [pki] root_cert).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "station/export.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(export, "Signed export of devices and CRL for the cloud (officer)");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station export [--home DIR] [--order ID | --after "
	    "SEQ] --format jsonl|csv|aws\n"
	    "                      -o DIR [--pin-file FILE]\n"
	    "       station export verify DIR [--trust ROOT] [--previous DIR] "
	    "[--home DIR]\n"
	    "\nexport writes the devices whose latest audit event comes after "
	    "event SEQ\n(default: where the last export ended), or every device "
	    "of order ID, with\nthe current CRL, into the new folder DIR, its "
	    "manifest signed by the HSM\nexport key (officer: asks for the PIN). "
	    "verify checks an export against the\nroot certificate (ROOT, "
	    "default the home's [pki] root_cert), and with\n--previous that it "
	    "follows that export without gap or overlap.\n"
	    "Exit codes: 0 written / verified, 1 failed or does not verify, 2 "
	    "usage or\nconfiguration.\n");
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
verify_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "trust", required_argument, NULL, 't' },
		{ "previous", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config *cfg = NULL;
	struct export_report *r = NULL;
	const char *home_opt = NULL, *trust = NULL, *previous = NULL;
	int c, rc, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 't': trust = optarg; break;
		case 'p': previous = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		station_err("export verify: expected one export folder DIR");
		return EXIT_USAGE;
	}
	if ((cfg = malloc(sizeof(*cfg))) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL) {
		station_err("out of memory");
		ret = EXIT_FAILED;
		goto cleanup;
	}
	if (trust == NULL) {
		if (load(home_opt, cfg) != 0)
			goto cleanup;
		trust = cfg->pki_root_cert;
	}
	if ((rc = export_verify(argv[optind], trust, previous, r)) != 0) {
		ret = rc < 0 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	printf("export %s: verified: station %s, events %" PRIu64 " to %" PRIu64
	    ", %" PRIu64 " device%s", argv[optind], r->m.station_id,
	    r->m.after + 1, r->m.through, r->m.devices,
	    r->m.devices == 1 ? "" : "s");
	for (size_t i = 1; i < AUDIT_STATE_COUNT; i++)
		if (r->m.counts[i] > 0)
			printf(", %" PRIu64 " %s", r->m.counts[i],
			    export_state_name(i));
	printf(", CRL number %" PRIu64 "\n", r->m.crl_number);
	if (r->previous_checked)
		printf("follows %s (through event %" PRIu64 ") without gap or "
		    "overlap\n", previous, r->previous_through);
	ret = EXIT_OK;
cleanup:
	free(cfg);
	free(r);
	return ret;
}

int
export_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "order", required_argument, NULL, 'O' },
		{ "after", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	struct export_options o = { 0 };
	struct export_manifest *m = NULL;
	struct station_audit *sa = NULL;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	struct hsm_key *key;
	struct audit *peek;
	const char *home_opt = NULL, *pin_file = NULL;
	char *end;
	bool ok = false;
	int c, rc, ret = EXIT_USAGE;

	if (argc > 1 && strcmp(argv[1], "verify") == 0)
		return verify_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'O': o.order = optarg; break;
		case 'a':
			errno = 0;
			o.after = strtoull(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
			    errno != 0) {
				station_err("export: --after: expected an audit "
				    "sequence number, got '%s'", optarg);
				return EXIT_USAGE;
			}
			o.after_given = true;
			break;
		case 'f': o.format = optarg; break;
		case 'o': o.dir = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("export: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (o.dir == NULL || o.format == NULL) {
		station_err("export: %s is required; see 'station export --help'",
		    o.dir == NULL ? "-o DIR" : "--format jsonl|csv|aws");
		return EXIT_USAGE;
	}
	if (strcmp(o.format, "jsonl") != 0 && strcmp(o.format, "csv") != 0 &&
	    strcmp(o.format, "aws") != 0) {
		station_err("export: --format: expected jsonl, csv or aws, got "
		    "'%s'", o.format);
		return EXIT_USAGE;
	}
	if (o.order != NULL && o.after_given) {
		station_err("export: --order and --after exclude each other (an "
		    "order's export has every device of the order)");
		return EXIT_USAGE;
	}
	if (load(home_opt, &cfg) != 0)
		return EXIT_USAGE;
	if ((rc = station_audit_peek(&cfg, &peek)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	audit_close(peek);
	if (access(o.dir, F_OK) == 0) {
		station_err("export: %s exists already: each export goes into a "
		    "new folder", o.dir);
		return EXIT_FAILED;
	}
	ret = EXIT_FAILED;
	if ((m = malloc(sizeof(*m))) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	if (pki_open(&cfg, pin_file, &h, &ca) != 0 ||
	    pki_role_key(&cfg, h, PKI_ROLE_EXPORT, &key) != 0)
		goto cleanup;
	if ((rc = station_audit_open(&cfg, h, "export", false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if (export_write(&cfg, sa, ca, key, &o, m) != 0)
		goto cleanup;
	ok = true;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ok = false;
	hsm_ca_free(ca);
	hsm_close(h);
	if (ok) {
		printf("export %s: events %" PRIu64 " to %" PRIu64 ", %" PRIu64
		    " device%s, CRL number %" PRIu64 ", manifest signed\n"
		    "next: 'station export verify %s' (here and on the cloud "
		    "side); the next export\nstarts after event %" PRIu64 "\n",
		    o.dir, m->after + 1, m->through, m->devices,
		    m->devices == 1 ? "" : "s", m->crl_number, o.dir, m->through);
		ret = EXIT_OK;
	}
	free(m);
	return ret;
}
