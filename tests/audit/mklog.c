/*
 * mklog.c: TEST ONLY. `audit-mklog`: writes a realistic, signed station
 * database through the real audit API (see scenario.h), so that the
 * `station audit` verbs can be tested against real files.
 *
 *   audit-mklog --db FILE --station ID --key PRIV.pem [--pub PUB.pem]
 *       [--devices N] [--every N] [--group N] [--seed N] [--unsealed K]
 *       [--first N] [--no-seal]
 *
 * PRIV.pem is a software test key, created if missing (mode 0600). Ends
 * with a session-end checkpoint unless --no-seal, then appends K more
 * (unsealed) events.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "tests/audit/scenario.h"
#include "tests/audit/softkey.h"

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "station", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "pub", required_argument, NULL, 'p' },
		{ "devices", required_argument, NULL, 'n' },
		{ "every", required_argument, NULL, 'e' },
		{ "group", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 'r' },
		{ "unsealed", required_argument, NULL, 'u' },
		{ "first", required_argument, NULL, 'f' },
		{ "no-seal", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct scenario s = { .devices = 20 };
	struct softkey key;
	struct audit *a = NULL;
	const char *db = NULL, *station = "ST-TEST", *priv = NULL, *pub = NULL;
	char err[AUDIT_ERR_MAX];
	unsigned every = 100, unsealed = 0;
	int c, seal = 1, ret = 1;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 's': station = optarg; break;
		case 'k': priv = optarg; break;
		case 'p': pub = optarg; break;
		case 'n': s.devices = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'e': every = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'g': s.group = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': s.seed = strtoull(optarg, NULL, 10); break;
		case 'u': unsealed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': s.first_device = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'N': seal = 0; break;
		default: return 2;
		}
	}
	if (db == NULL || priv == NULL) {
		fprintf(stderr, "audit-mklog: --db and --key are required\n");
		return 2;
	}
	if (softkey_load_or_new(&key, priv) != 0) {
		fprintf(stderr, "audit-mklog: cannot load or create %s\n", priv);
		return 1;
	}
	if (pub && softkey_write_pub(&key, pub) != 0) {
		fprintf(stderr, "audit-mklog: cannot write %s\n", pub);
		goto cleanup;
	}
	if ((a = audit_open(db, station, err)) == NULL) {
		fprintf(stderr, "audit-mklog: %s\n", err);
		goto cleanup;
	}
	/* Later sessions (--first) continue the simulated calendar. */
	s.start_us = 1795680000000000LL + (int64_t)s.first_device * 3600000000LL;
	audit_set_clock(a, scenario_clock, &s);
	audit_set_checkpoint_every(a, every);
	if (audit_set_signer(a, softkey_sign, &key, key.pem, "officer") != 0)
		goto fail;
	if (s.first_device == 0 && scenario_setup(a, &s) != 0)
		goto fail;
	if (scenario_run(a, &s) != 0)
		goto fail;
	if (seal && audit_checkpoint(a) != 0)
		goto fail;
	for (unsigned i = 0; i < unsealed; i++)
		if (audit_append(a, "op-anna", "bench.note", "after the seal", NULL,
		    0, NULL) != 0)
			goto fail;
	ret = 0;
	goto cleanup;
fail:
	fprintf(stderr, "audit-mklog: %s\n", audit_error(a));
cleanup:
	audit_close(a);
	softkey_free(&key);
	return ret;
}
