/*
 * cmd_restamp.c: `station restamp --device SERIAL`, the security officer's
 * re-stamp of a device that comes back (rework, RMA): a new stamp
 * generation with a new certificate, the old certificate revoked as
 * superseded.
 *
 * Identity policy: the device gets a new identity (a new serial and claim
 * ID under the order it was first stamped under). Serials, claim IDs and
 * certificate serials are never reused and a device row keeps one
 * certificate, so the old row is revoked (done -> revoked, reason
 * "superseded: re-stamped", its own transaction) and a new row is
 * allocated for the same hardware id; the audit log links them by the
 * event restamp.superseded. Keeping the same serial is not offered (see
 * docs/OFFICER.md).
 *
 * Before the PIN: the device is known and done, its order still open, it
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
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(restamp, "Re-stamp a returned device with a new identity (officer)");

#define RESTAMP_REASON "superseded: re-stamped"

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station restamp [--home DIR] --device SERIAL "
	    "[--pin-file FILE]\n"
	    "\nRe-stamps the attached device that holds SERIAL (security "
	    "officer: asks for\nthe HSM PIN): its certificate is revoked "
	    "(superseded) and the device gets a\nnew identity, certificate "
	    "and stamp generation under its order.\n"
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

/* known(cfg, serial, d, terms): the device exists and is done; its
 * order is open. 0, or an exit code. */
static int
known(const struct station_config *cfg, const char *serial,
    struct audit_device *d, struct order *terms)
{
	struct order_state st;
	struct audit *a;
	char err[ORDER_ERR_MAX];
	int rc, ret = EXIT_FAILED;

	if ((rc = station_audit_peek(cfg, &a)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	if ((rc = audit_device_get(a, serial, d)) < 0)
		station_err("%s: %s", cfg->audit_database, audit_error(a));
	else if (rc == 1)
		station_err("restamp: no device with serial %s", serial);
	else if (d->state != AUDIT_DONE)
		station_err("restamp: device %s is %s: only a device in state "
		    "done can be re-stamped", serial, audit_state_name(d->state));
	else if (d->hardware_id[0] == '\0' || d->order_id[0] == '\0')
		station_err("restamp: device %s has no hardware id or order on "
		    "record: it was not stamped on a bench", serial);
	else if (order_state_get(a, NULL, NULL, d->order_id, time(NULL), &st,
	    err) != 0)
		station_err("restamp: %s", err);
	else if (strcmp(st.state, "open") != 0)
		station_err("restamp: order %s of device %s is %s: the new "
		    "identity is allocated under it; ask the brand owner for "
		    "more", d->order_id, serial, st.state);
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

/* supersede(sa, d): the old identity revoked, in one transaction. */
static int
supersede(struct station_audit *sa, const struct audit_device *d)
{
	struct audit_change ch = { .to = AUDIT_REVOKED,
	    .reason = RESTAMP_REASON };

	if (audit_device_transition(sa->a, d->serial, &ch, sa->actor, NULL, 0,
	    NULL) != 0) {
		station_err("restamp: device %s: %s", d->serial,
		    audit_error(sa->a));
		return -1;
	}
	return 0;
}

/* stamp(cfg, sa, h, ca, fl, d, dev, terms, r): the bench pipeline on the
 * device; the link from old to new serial recorded. 0 or -1. */
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
	if (r->serial[0] != '\0') {
		f[0] = (struct audit_field){ "new_serial", r->serial,
		    strlen(r->serial) };
		f[1] = (struct audit_field){ "result", r->pass ? "pass" : "fail",
		    r->pass ? 4 : 4 };
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
	char err[CONFIG_ERR_MAX], ferr[FLASHER_ERR_MAX];
	char network[AIRGAP_ERR_MAX];
	bool ok = false;
	int c, rc, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'd': serial = optarg; break;
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
	if ((d = malloc(sizeof(*d))) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		station_err("out of memory");
		ret = EXIT_FAILED;
		goto cleanup;
	}
	if ((ret = known(&cfg, serial, d, &b.terms)) != 0)
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
	if (supersede(sa, d) != 0)
		goto cleanup;
	ok = stamp(&cfg, sa, &b, fl, d, &dev, r) == 0;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ok = false;
	flasher_close(fl);
	hsm_ca_free(b.ca);
	hsm_close(b.h);
	if (ok) {
		printf("re-stamped device %s: new serial %s\nrevoked: the old "
		    "certificate of %s (superseded)\nnext: publish a new CRL "
		    "with 'station crl -o FILE'\n", serial, r->serial, serial);
		ret = EXIT_OK;
	}
	free(d);
	free(r);
	return ret;
}
