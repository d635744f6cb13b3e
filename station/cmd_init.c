/*
 * cmd_init.c: `station init`, the first thing a new station does.
 *
 * It runs the HSM start-up check (the sub-CA against its certificate and
 * the root, then the stamp, audit and export keys against theirs), and
 * only if all of it holds creates the database ([audit] database) with
 * the station identity ([station] id, event audit.created), records the
 * HSM audit key as the checkpoint signer (audit.key), records what it
 * checked (station.init) and seals it all with a first checkpoint.
 *
 * Run again on the same station's database it changes nothing but adding
 * its own session and a checkpoint (a later key rotation is recorded the
 * same way); a database of another station is refused.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(init, "Create the station's database, check the HSM, seal a first checkpoint");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station init [--home DIR] [--pin-file FILE]\n"
	    "\nRuns the HSM start-up check (sub-CA, stamp, audit and export "
	    "keys against\ntheir certificates and the root); then creates the "
	    "audit database\n([audit] database) for [station] id, records the "
	    "audit key, and writes a\nfirst signed checkpoint. Safe to run "
	    "again on the same station; refuses a\ndatabase of another "
	    "station.\n"
	    "  --pin-file FILE  read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 ok, 1 the check or the database failed, 2 usage or "
	    "configuration\n(also: the database belongs to another station).\n");
}

int
init_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const enum pki_role roles[] = { PKI_ROLE_STAMP, PKI_ROLE_AUDIT,
	    PKI_ROLE_EXPORT };
	struct station_config cfg;
	struct station_audit *sa = NULL;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	struct hsm_key *k;
	struct audit_field f[3];
	const char *home_opt = NULL, *pin_file = NULL, *home, *label = "";
	char err[CONFIG_ERR_MAX];
	uint8_t subca_sha[32];
	unsigned mdlen = 0;
	uint64_t seq = 0;
	bool ok = false, created = false;
	int c, rc, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("init: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	ret = EXIT_FAILED;
	/* The start-up check first: a station whose HSM does not check out
	 * gets no database. */
	if (pki_open(&cfg, pin_file, &h, &ca) != 0)
		goto cleanup;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (pki_role_key(&cfg, h, roles[i], &k) != 0)
			goto cleanup;
	label = hsm_token_label(h);
	if ((rc = station_audit_open(&cfg, h, "init", true, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if (X509_digest(hsm_ca_cert(ca), EVP_sha256(), subca_sha, &mdlen) !=
	    1 || mdlen != sizeof(subca_sha)) {
		station_err("init: cannot hash the sub-CA certificate");
		goto cleanup;
	}
	f[0] = (struct audit_field){ "created", sa->created ? "yes" : "no",
	    sa->created ? 3 : 2 };
	f[1] = (struct audit_field){ "subca_cert_sha256", subca_sha,
	    sizeof(subca_sha) };
	f[2] = (struct audit_field){ "token", label, strlen(label) };
	if (audit_append(sa->a, sa->actor, "station.init", cfg.station_id, f, 3,
	    NULL) != 0) {
		station_err("%s: %s", cfg.audit_database, audit_error(sa->a));
		goto cleanup;
	}
	created = sa->created;
	ok = true;
cleanup:
	if (sa != NULL && station_audit_close(sa, ok) != 0)
		ok = false;
	if (ok) {
		struct audit *a = NULL;

		if (station_audit_peek(&cfg, &a) == 0)
			audit_head(a, &seq, NULL, NULL);
		audit_close(a);
		printf("station %s: database %s %s\n"
		    "HSM start-up check: ok (token '%s': sub-CA, stamp, audit "
		    "and export keys)\n"
		    "audit log: sealed through event %llu by the audit key of "
		    "%s\n", cfg.station_id, cfg.audit_database, created ?
		    "created" : "already initialised; checked", label,
		    (unsigned long long)seq, cfg.pki_audit_cert);
		ret = EXIT_OK;
	}
	hsm_ca_free(ca);
	hsm_close(h);
	return ret;
}
