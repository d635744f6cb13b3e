/*
 * cmd_revoke.c: `station revoke SERIAL --reason R`, the security
 * officer's revocation of one device's certificate.
 *
 * A privileged verb: it asks for the officer's PIN itself (the audit key
 * signs the session's checkpoint). The device must exist, hold a
 * certificate and not be revoked already; the audit log's transition
 * table decides the rest. The device's hardware id (if known) and its
 * serial are put on the deny list in the same transaction, so a revoked
 * device is refused if it comes back to a bench. The change is durable
 * before the verb returns; the CRL carrying it is made by `station crl`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/airgap.h"
#include "station/deny.h"
#include "station/pin.h"
#include "station/revoke.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(revoke, "Revoke a device's certificate (officer; then 'station crl')");

const char revoke_reason_names[] = "unspecified, keyCompromise, "
    "affiliationChanged, superseded, cessationOfOperation, "
    "privilegeWithdrawn";

int
revoke_reason_code(const char *reason, bool officer)
{
	static const struct {
		const char *name;
		int code;
		bool officer;
	} names[] = {
		{ "unspecified", 0, true },
		{ "keyCompromise", 1, true },
		{ "cACompromise", 2, false },
		{ "affiliationChanged", 3, true },
		{ "superseded", 4, true },
		{ "cessationOfOperation", 5, true },
		{ "certificateHold", 6, false },
		{ "removeFromCRL", 8, false },
		{ "privilegeWithdrawn", 9, true },
		{ "aACompromise", 10, false },
	};
	size_t n = strcspn(reason, ": ");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncmp(reason, names[i].name, n) == 0 &&
		    (names[i].officer || !officer))
			return names[i].code;
	return -1;
}

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station revoke [--home DIR] SERIAL --reason REASON "
	    "[--pin-file FILE]\n"
	    "\nRevokes the certificate of device SERIAL in the audit log "
	    "(security officer:\nasks for the HSM PIN). REASON is one of %s,\n"
	    "optionally followed by ': ' and a note, e.g. 'keyCompromise: "
	    "stolen'.\nThen publish a new CRL with 'station crl'.\n"
	    "  --pin-file FILE  read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 revoked, 1 refused or failed, 2 usage or "
	    "configuration.\n", revoke_reason_names);
}

/* precheck(cfg, serial): the device exists, has a certificate, is not
 * revoked yet; before the PIN is asked for. */
static int
precheck(const struct station_config *cfg, const char *serial)
{
	struct audit_device *d = NULL;
	struct audit *a;
	int rc, ret = -1;

	if ((rc = station_audit_peek(cfg, &a)) != 0)
		return rc;
	if ((d = malloc(sizeof(*d))) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	if ((rc = audit_device_get(a, serial, d)) < 0)
		station_err("%s: %s", cfg->audit_database, audit_error(a));
	else if (rc == 1)
		station_err("revoke: no device with serial %s", serial);
	else if (d->state == AUDIT_REVOKED)
		station_err("revoke: device %s is revoked already (%s)", serial,
		    d->reason);
	else if (d->cert_der_len == 0)
		station_err("revoke: device %s has no certificate to revoke "
		    "(state %s)", serial, audit_state_name(d->state));
	else
		ret = 0;
cleanup:
	free(d);
	audit_close(a);
	return ret;
}

/* deny_revoked(sa, serial, reason): deny the revoked device's hardware id
 * and serial (each unless denied already), "revoked: REASON". */
static int
deny_revoked(struct station_audit *sa, const char *serial, const char *reason)
{
	struct audit_device *d;
	struct audit_deny e;
	char why[AUDIT_REASON_MAX + 1];
	int rc, ret = -1;

	if ((d = malloc(sizeof(*d))) == NULL ||
	    audit_device_get(sa->a, serial, d) != 0)
		goto cleanup;
	if (strlen(reason) + 9 <= AUDIT_REASON_MAX)
		snprintf(why, sizeof(why), "revoked: %s", reason);
	else
		snprintf(why, sizeof(why), "revoked");
	if (d->hardware_id[0] != '\0' &&
	    ((rc = audit_deny_get(sa->a, "hardware_id", d->hardware_id,
	    &e)) < 0 || (rc == 1 && audit_deny_add(sa->a, "hardware_id",
	    d->hardware_id, why, sa->actor) != 0)))
		goto cleanup;
	if ((rc = audit_deny_get(sa->a, "serial", serial, &e)) < 0 ||
	    (rc == 1 && audit_deny_add(sa->a, "serial", serial, why,
	    sa->actor) != 0))
		goto cleanup;
	ret = 0;
cleanup:
	free(d);
	return ret;
}

int
revoke_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	struct station_audit *sa = NULL;
	struct audit_change ch = { .to = AUDIT_REVOKED };
	struct hsm *h = NULL;
	const char *home_opt = NULL, *pin_file = NULL, *reason = NULL, *home;
	const char *serial;
	char err[CONFIG_ERR_MAX], herr[HSM_ERR_MAX], network[AIRGAP_ERR_MAX];
	bool ok = false;
	int c, rc, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'r': reason = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || reason == NULL) {
		station_err("revoke: expected one SERIAL and --reason REASON; see "
		    "'station revoke --help'");
		return EXIT_USAGE;
	}
	serial = argv[optind];
	if (revoke_reason_code(reason, true) < 0 ||
	    strlen(reason) > AUDIT_REASON_MAX ||
	    !audit_text_valid(reason, strlen(reason))) {
		station_err("revoke: --reason: expected one of %s (optionally "
		    "followed by ': ' and a note), got '%s'",
		    revoke_reason_names, reason);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if ((rc = precheck(&cfg, serial)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	ret = EXIT_FAILED;
	/* A networked production station is refused before the PIN. */
	if (station_airgap_check(&cfg, network) < 0) {
		station_err("%s", network);
		return EXIT_FAILED;
	}
	if (pin_open_token(&cfg, pin_file, &h, herr) != 0) {
		station_err("%s", herr);
		goto cleanup;
	}
	if ((rc = station_audit_open(&cfg, h, "revoke", false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	ch.reason = reason;
	if (audit_begin(sa->a) != 0 ||
	    audit_device_transition(sa->a, serial, &ch, sa->actor, NULL, 0,
	    NULL) != 0 || deny_revoked(sa, serial, reason) != 0 ||
	    audit_commit(sa->a) != 0) {
		station_err("revoke: device %s: %s", serial, audit_error(sa->a));
		audit_rollback(sa->a);
		goto cleanup;
	}
	ok = true;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ok = false;
	hsm_close(h);
	if (ok) {
		printf("revoked device %s: %s\ndenied: its serial and hardware "
		    "id (station deny list)\nnext: publish a new CRL with "
		    "'station crl -o FILE'\n", serial, reason);
		ret = EXIT_OK;
	}
	return ret;
}
