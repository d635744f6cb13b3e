/*
 * cmd_deny.c: `station deny add|remove|list`, the security officer's deny
 * list of hardware ids, serials and claim IDs.
 *
 * add and remove are privileged: they ask for the officer's PIN (the
 * audit key seals the session) and each is an event (deny.added,
 * deny.removed) with its reason. list reads the database only and asks
 * for no PIN: the list is no secret, and an operator may need to see why
 * a device was refused. The check before allocation is deny_check
 * (deny.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "station/airgap.h"
#include "station/deny.h"
#include "station/pin.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(deny, "Deny list of hardware ids, serials, claim IDs (officer)");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station deny add KIND VALUE --reason TEXT "
	    "[--home DIR] [--pin-file FILE]\n"
	    "       station deny remove KIND VALUE --reason TEXT [--home DIR] "
	    "[--pin-file FILE]\n"
	    "       station deny list [--home DIR]\n"
	    "\nKIND is hardware-id, serial or claim-id. A denied device is "
	    "refused before\nanything is allocated for it. add and remove ask "
	    "for the officer's HSM PIN\nand are recorded in the audit log; list "
	    "needs no PIN.\n"
	    "  --pin-file FILE  read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 done, 1 refused or failed, 2 usage or "
	    "configuration.\n");
}

static int
print_one(void *ctx, const struct audit_deny *e)
{
	time_t t = (time_t)(e->added_us / 1000000);
	struct tm tm;
	char when[32] = "?";
	size_t *n = ctx;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s\t%s\t%s\t%s\n", e->kind, e->value, when, e->reason);
	(*n)++;
	return 0;
}

static int
list(const struct station_config *cfg)
{
	struct audit *a;
	size_t n = 0;
	int rc;

	if ((rc = station_audit_peek(cfg, &a)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	if (audit_denies(a, print_one, &n) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(a));
		audit_close(a);
		return EXIT_FAILED;
	}
	if (n == 0)
		fprintf(stderr, "deny list is empty\n");
	audit_close(a);
	return EXIT_OK;
}

/* precheck(cfg, add, kind, value): before the PIN: is there anything to
 * do? */
static int
precheck(const struct station_config *cfg, bool add, const char *kind,
    const char *value)
{
	struct audit_deny e;
	struct audit *a;
	int rc, ret = EXIT_FAILED;

	if ((rc = station_audit_peek(cfg, &a)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	if ((rc = audit_deny_get(a, kind, value, &e)) < 0)
		station_err("%s: %s", cfg->audit_database, audit_error(a));
	else if (add && rc == 0)
		station_err("deny: %s %s is denied already (%s)", kind, value,
		    e.reason);
	else if (!add && rc == 1)
		station_err("deny: %s %s is not on the deny list", kind, value);
	else
		ret = EXIT_OK;
	audit_close(a);
	return ret;
}

int
deny_main(int argc, char *argv[])
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
	struct hsm *h = NULL;
	const char *home_opt = NULL, *pin_file = NULL, *reason = NULL, *home;
	const char *action, *kind = NULL, *value = NULL;
	char err[CONFIG_ERR_MAX], herr[HSM_ERR_MAX], network[AIRGAP_ERR_MAX];
	bool add, ok = false;
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
	if (optind >= argc) {
		station_err("deny: expected add, remove or list; see 'station "
		    "deny --help'");
		return EXIT_USAGE;
	}
	action = argv[optind];
	if (strcmp(action, "list") == 0) {
		if (optind + 1 != argc || reason != NULL) {
			station_err("deny list: takes no argument");
			return EXIT_USAGE;
		}
	} else if (strcmp(action, "add") == 0 || strcmp(action, "remove") == 0) {
		if (optind + 3 != argc || reason == NULL) {
			station_err("deny %s: expected KIND VALUE --reason TEXT; "
			    "see 'station deny --help'", action);
			return EXIT_USAGE;
		}
		if ((kind = deny_kind_parse(argv[optind + 1])) == NULL) {
			station_err("deny %s: KIND: expected hardware-id, serial "
			    "or claim-id, got '%s'", action, argv[optind + 1]);
			return EXIT_USAGE;
		}
		value = argv[optind + 2];
		if (value[0] == '\0' || strlen(value) > AUDIT_TEXT_MAX ||
		    !audit_text_valid(value, strlen(value))) {
			station_err("deny %s: VALUE: expected 1 to %d characters "
			    "of text", action, AUDIT_TEXT_MAX);
			return EXIT_USAGE;
		}
		if (reason[0] == '\0' || strlen(reason) > AUDIT_REASON_MAX ||
		    !audit_text_valid(reason, strlen(reason))) {
			station_err("deny %s: --reason: expected 1 to %d "
			    "characters of text", action, AUDIT_REASON_MAX);
			return EXIT_USAGE;
		}
	} else {
		station_err("deny: unknown action '%s': expected add, remove or "
		    "list", action);
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if (kind == NULL)
		return list(&cfg);
	add = strcmp(action, "add") == 0;
	if ((rc = precheck(&cfg, add, kind, value)) != EXIT_OK)
		return rc;
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
	if ((rc = station_audit_open(&cfg, h, add ? "deny add" : "deny remove",
	    false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if ((add ? audit_deny_add(sa->a, kind, value, reason, sa->actor) :
	    audit_deny_remove(sa->a, kind, value, reason, sa->actor)) != 0) {
		station_err("deny %s: %s %s: %s", action, kind, value,
		    audit_error(sa->a));
		goto cleanup;
	}
	ok = true;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ok = false;
	hsm_close(h);
	if (ok) {
		printf("%s %s %s: %s\n", add ? "denied" : "lifted the denial of",
		    kind, value, reason);
		ret = EXIT_OK;
	}
	return ret;
}
