/*
 * cmd_restamp.c: `station restamp --device SERIAL`, the security officer's
 * re-stamp of a device that comes back (rework, RMA): a new stamp
 * generation with a new certificate, the old certificate revoked as
 * superseded.
 *
 * Identity policy ([restamp] identity, or --new-identity/--same-identity).
 * Serials, claim IDs and certificate serials are never reused:
 *   new   the old row is revoked (done -> revoked, reason "superseded:
 *         re-stamped", its own transaction) and a new row (new serial and
 *         claim ID, under the order the device was first stamped under)
 *         is allocated for the same hardware id; event restamp.superseded
 *         links them.
 *   same  the row keeps its serial and claim ID and goes done -> key_ready
 *         -> issued -> written -> done with a new certificate (a new
 *         certificate serial, as always). The old certificate is first
 *         recorded by the event cert.superseded (its DER, serial and
 *         reason), which `station crl` lists.
 *
 * A new-identity re-stamp that fails on the bench leaves the old identity
 * revoked and the new one failed; the device still carries its old stamp.
 * `station restamp --device OLD` may then be run again (nothing live holds
 * the hardware id), without a second revocation.
 *
 * Before the PIN: the device is known and done, its order still open, not
 * denied (hardware id; with the same identity its serial and claim ID), it
 * is attached (found by its hardware id, the USB serial), its info record
 * names the same hardware id and it is not locked (a locked device
 * refuses a new stamp). Then the PIN, the revocation, and the bench
 * pipeline (bench.c) for the new identity, which writes generation + 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "station/airgap.h"
#include "station/bench_steps.h"
#include "station/deny.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(restamp, "Re-stamp a returned device with a new identity (officer)");

#define RESTAMP_REASON "superseded: re-stamped"

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station restamp [--home DIR] --device SERIAL "
	    "[--new-identity | --same-identity] [--pin-file FILE]\n"
	    "\nRe-stamps the attached device that holds SERIAL (security "
	    "officer: asks for\nthe HSM PIN): its certificate is revoked "
	    "(superseded) and the device gets a\nnew certificate and stamp "
	    "generation; with a new serial and claim ID under\nits order, or "
	    "keeping them ([restamp] identity = new | same, default new).\n"
	    "  --new-identity   a new serial and claim ID\n"
	    "  --same-identity  keep the serial and claim ID\n"
	    "  --pin-file FILE  read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 re-stamped, 1 refused or failed, 2 usage or "
	    "configuration.\n");
}

static void
no_step(void *arg, const char *port, const char *step)
{
	(void)arg;
	(void)port;
	(void)step;
}

/* retry(a, d, retrying): a new-identity re-stamp that failed on the
 * bench after the old identity was revoked: no live device holds the
 * hardware id, so it may be tried again. 0 (*${retrying}), or -1
 * (reported). */
static int
retry(struct audit *a, const struct audit_device *d, bool *retrying)
{
	struct audit_device *live = malloc(sizeof(*live));
	int rc = -1;

	if (live == NULL)
		station_err("out of memory");
	else if ((rc = audit_device_by_hardware(a, d->hardware_id, live)) < 0)
		station_err("%s", audit_error(a));
	else if (rc == 0)
		station_err("restamp: device %s was re-stamped as %s (state %s): "
		    "re-stamp %s instead", d->serial, live->serial,
		    audit_state_name(live->state), live->serial);
	free(live);
	*retrying = rc == 1;
	return rc == 1 ? 0 : -1;
}

/* known(cfg, serial, same, d, terms, retrying): the device exists and is
 * done (or its new-identity re-stamp failed: *${retrying}); its order is
 * known, and open for a new identity. 0, or an exit code. */
static int
known(const struct station_config *cfg, const char *serial, bool same,
    struct audit_device *d, struct order *terms, bool *retrying)
{
	struct order_state st;
	struct audit *a;
	char err[ORDER_ERR_MAX], msg[DENY_MSG_MAX];
	int rc, ret = EXIT_FAILED;

	*retrying = false;
	if ((rc = station_audit_peek(cfg, &a)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	if ((rc = audit_device_get(a, serial, d)) < 0)
		station_err("%s: %s", cfg->audit_database, audit_error(a));
	else if (rc == 1)
		station_err("restamp: no device with serial %s", serial);
	else if (!same && d->state == AUDIT_REVOKED &&
	    strcmp(d->reason, RESTAMP_REASON) == 0 && d->hardware_id[0] &&
	    retry(a, d, retrying) != 0)
		;
	else if (d->state != AUDIT_DONE && !*retrying)
		station_err("restamp: device %s is %s: only a device in state "
		    "done can be re-stamped", serial, audit_state_name(d->state));
	else if (d->hardware_id[0] == '\0' || d->order_id[0] == '\0')
		station_err("restamp: device %s has no hardware id or order on "
		    "record: it was not stamped on a bench", serial);
	else if (order_state_get(a, NULL, NULL, d->order_id, time(NULL), &st,
	    err) != 0)
		station_err("restamp: %s", err);
	else if (!same && strcmp(st.state, "open") != 0)
		station_err("restamp: order %s of device %s is %s: the new "
		    "identity is allocated under it; ask the brand owner for "
		    "more", d->order_id, serial, st.state);
	else if ((rc = deny_check(a, d->hardware_id, same ? d->serial : NULL,
	    same ? d->claim_id : NULL, msg)) != 0)
		station_err("restamp: device %s: %s%s", serial, rc > 0 ?
		    "denied: " : "", msg);
	else {
		*terms = st.terms;
		ret = 0;
	}
	audit_close(a);
	return ret;
}

/* attached(fl, d, dev): the attached device with ${d}'s hardware id,
 * its info checked: same hardware id, not locked. 0 or -1 (reported). */
static int
attached(struct flasher *fl, const struct audit_device *d,
    struct flasher_device *dev)
{
	struct flasher_device *devs = NULL;
	struct flasher_session *s = NULL;
	struct flasher_info info;
	char ferr[FLASHER_ERR_MAX];
	size_t n = 0, i;
	int ret = -1;

	if (flasher_list(fl, NULL, 0, &devs, &n, ferr) != 0) {
		station_err("USB: %s", ferr);
		return -1;
	}
	for (i = 0; i < n && strcmp(devs[i].serial, d->hardware_id) != 0; i++)
		;
	if (i == n) {
		station_err("restamp: device %s (hardware id %s) is not "
		    "attached: plug it in and run again", d->serial,
		    d->hardware_id);
		goto out;
	}
	*dev = devs[i];
	if (flasher_profile_check(dev, ferr) != 0 ||
	    flasher_session_open(fl, dev, &s, ferr) != 0 ||
	    flasher_info(s, &info, ferr) != 0) {
		station_err("restamp: cannot read device %s (%s): unplug it and "
		    "plug it in again", d->serial, ferr);
		goto out;
	}
	if (info.hardware_id_len != strlen(d->hardware_id) ||
	    memcmp(info.hardware_id, d->hardware_id,
	    info.hardware_id_len) != 0)
		station_err("restamp: the device at port %s answers with another "
		    "hardware id than its USB serial %s: set it aside (faulty "
		    "or forged firmware)", dev->path, d->hardware_id);
	else if (info.locked == 1)
		station_err("restamp: device %s is locked: a locked device "
		    "refuses a new stamp and cannot be re-stamped; its "
		    "certificate stays valid (revoke it with 'station revoke' "
		    "if it must not be used)", d->serial);
	else
		ret = 0;
out:
	flasher_session_close(s);
	flasher_list_free(devs);
	return ret;
}

/* supersede(sa, d, same): the old identity revoked (new), or the old
 * certificate recorded as superseded (same); one transaction. */
static int
supersede(struct station_audit *sa, const struct audit_device *d, bool same)
{
	struct audit_change ch = { .to = AUDIT_REVOKED,
	    .reason = RESTAMP_REASON };
	struct audit_field f[3];
	int rc;

	f[0] = (struct audit_field){ "old_cert_der", d->cert_der,
	    d->cert_der_len };
	f[1] = (struct audit_field){ "old_cert_serial", d->cert_serial,
	    strlen(d->cert_serial) };
	f[2] = (struct audit_field){ "revocation_reason", RESTAMP_REASON,
	    strlen(RESTAMP_REASON) };
	if (same)
		rc = audit_append(sa->a, sa->actor, "cert.superseded", d->serial,
		    f, 3, NULL);
	else
		rc = audit_device_transition(sa->a, d->serial, &ch, sa->actor,
		    NULL, 0, NULL);
	if (rc != 0) {
		station_err("restamp: device %s: %s", d->serial,
		    audit_error(sa->a));
		return -1;
	}
	return 0;
}

/* stamp(cfg, sa, b, fl, d, dev, r): the bench pipeline on device ${dev}
 * (formerly ${d}); for a new identity the link from old to new serial
 * recorded. 0 or -1 (reported). */
static int
stamp(const struct station_config *cfg, struct station_audit *sa,
    struct bench *b, struct flasher *fl, const struct audit_device *d,
    const struct flasher_device *dev, struct bench_result *r)
{
	struct audit_field f[2];
	uint8_t *chain = NULL;
	int len, ret = -1;

	b->a = sa->a;
	b->actor = sa->actor;
	b->restamp = true;
	if ((len = i2d_X509(hsm_ca_cert(b->ca), &chain)) <= 0) {
		station_err("sub-CA certificate: cannot encode it");
		return -1;
	}
	b->chain = chain;
	b->chain_len = (size_t)len;
	pthread_mutex_init(&b->db, NULL);
	pthread_mutex_init(&b->confirm, NULL);
	pthread_mutex_init(&b->usb, NULL);
	bench_device(b, fl, dev, no_step, NULL, r);
	if (b->keep != NULL)
		ret = r->pass ? 0 : -1;
	else if (r->serial[0] != '\0') {
		f[0] = (struct audit_field){ "new_serial", r->serial,
		    strlen(r->serial) };
		f[1] = (struct audit_field){ "result", r->pass ? "pass" : "fail",
		    4 };
		if (audit_append(sa->a, sa->actor, "restamp.superseded",
		    d->serial, f, 2, NULL) != 0)
			station_err("%s: %s", cfg->audit_database,
			    audit_error(sa->a));
		else if (r->pass)
			ret = 0;
	}
	if (ret != 0 && r->reason[0] != '\0')
		station_err("restamp: device %s: %s", d->serial, r->reason);
	if (bench_release(b) != 0)
		ret = -1;
	pthread_mutex_destroy(&b->db);
	pthread_mutex_destroy(&b->confirm);
	pthread_mutex_destroy(&b->usb);
	OPENSSL_free(chain);
	return ret;
}

int
restamp_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "device", required_argument, NULL, 'd' },
		{ "new-identity", no_argument, NULL, 'n' },
		{ "same-identity", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct station_config cfg;
	struct station_audit *sa = NULL;
	struct audit_device *d = NULL;
	struct bench b = { 0 };
	struct bench_result *r = NULL;
	struct flasher *fl = NULL;
	struct flasher_device dev;
	const char *home_opt = NULL, *pin_file = NULL, *serial = NULL, *home;
	const char *policy = NULL;
	bool same, retrying;
	char err[CONFIG_ERR_MAX], ferr[FLASHER_ERR_MAX];
	char network[AIRGAP_ERR_MAX];
	bool ok = false;
	int c, rc, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'd': serial = optarg; break;
		case 'n': policy = "new"; break;
		case 's': policy = "same"; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || serial == NULL) {
		station_err("restamp: expected --device SERIAL; see 'station "
		    "restamp --help'");
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	b.cfg = &cfg;
	if (policy == NULL)
		policy = cfg.restamp_identity;
	if (strcmp(policy, "new") != 0 && strcmp(policy, "same") != 0) {
		station_err("%s/station.conf: [restamp] identity: expected new "
		    "or same, got '%s'", home, policy);
		return EXIT_USAGE;
	}
	same = strcmp(policy, "same") == 0;
	if ((d = malloc(sizeof(*d))) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		station_err("out of memory");
		ret = EXIT_FAILED;
		goto cleanup;
	}
	if ((ret = known(&cfg, serial, same, d, &b.terms, &retrying)) != 0)
		goto cleanup;
	ret = EXIT_FAILED;
	if (flasher_open(&fl, ferr) != 0) {
		station_err("USB: %s", ferr);
		goto cleanup;
	}
	if (attached(fl, d, &dev) != 0)
		goto cleanup;
	if (station_airgap_check(&cfg, network) < 0) {
		station_err("%s", network);
		goto cleanup;
	}
	if (cfg.stamp_app_public_key[0] != '\0') {
		station_err("restamp: [stamp] app_public_key is not supported by "
		    "restamp yet");
		goto cleanup;
	}
	if (pki_open(&cfg, pin_file, &b.h, &b.ca) != 0 ||
	    pki_role_key(&cfg, b.h, PKI_ROLE_STAMP, &b.stamp_key) != 0)
		goto cleanup;
	if ((rc = station_audit_open(&cfg, b.h, "restamp", false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if (!retrying && supersede(sa, d, same) != 0)
		goto cleanup;
	b.keep = same ? d : NULL;
	ok = stamp(&cfg, sa, &b, fl, d, &dev, r) == 0;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ok = false;
	flasher_close(fl);
	hsm_ca_free(b.ca);
	hsm_close(b.h);
	if (ok) {
		if (same)
			printf("re-stamped device %s: same serial and claim ID, new "
			    "certificate\n", serial);
		else
			printf("re-stamped device %s: new serial %s\n", serial,
			    r->serial);
		printf("revoked: the old certificate of %s (superseded)\nnext: "
		    "publish a new CRL with 'station crl -o FILE'\n", serial);
		ret = EXIT_OK;
	}
	free(d);
	free(r);
	return ret;
}
