/*
 * cmd_audit.c: `station audit verify|show|anchor|report`, the security
 * officer's view of the audit log. None of them needs the HSM or a PIN;
 * none writes the database.
 *
 *   verify  recompute the hash chain, check every checkpoint signature
 *           under --key, replay the inventory, check an --anchor; exit 0
 *           intact, 1 tampered, 2 usage
 *   show    list events, filtered, as text or JSON lines
 *   anchor  write the latest signed checkpoint to a file, to keep off the
 *           box; verify --anchor catches truncation and rollback with it
 *   report  one self-contained HTML page (cmd_audit_report.c)
 *
 * The database is --db FILE, or [audit] database of the home's config.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "station/audit_cmd.h"
#include "station/config.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(audit, "Verify, show, anchor and report the audit log (officer)");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station audit verify [--home DIR | --db FILE] [--key PEM] "
	    "[--anchor FILE]\n"
	    "       station audit show [--home DIR | --db FILE] [--since TIME] "
	    "[--until TIME]\n"
	    "                          [--kind KIND] [--serial SERIAL] [--actor "
	    "ACTOR] [--json]\n"
	    "       station audit anchor [--home DIR | --db FILE] -o FILE\n"
	    "       station audit report [--home DIR | --db FILE] [--key PEM] "
	    "[--anchor FILE] --html FILE\n"
	    "\nThe security officer's view of the audit log; needs no HSM and no "
	    "PIN, and\nnever writes the database.\n"
	    "  verify   recompute the hash chain, check every checkpoint "
	    "signature under\n"
	    "           --key (the audit public key, PEM), replay the inventory "
	    "and compare;\n"
	    "           with --anchor (from 'audit anchor') also catch truncation "
	    "and rollback\n"
	    "  show     list events; TIME is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ "
	    "(UTC);\n"
	    "           KIND is exact or a prefix ending in '*' (e.g. 'device.*')\n"
	    "  anchor   write the latest signed checkpoint to FILE, to keep off "
	    "the station\n"
	    "  report   write a self-contained HTML report (verification first)\n"
	    "  --key PEM    the audit public key(s): several PEM keys concatenated "
	    "after a\n               key rotation, or certificates; default with "
	    "--home: [pki] audit_cert\n"
	    "  --db FILE    the database (default: [audit] database of the home)\n"
	    "  --home DIR   the station home (default $STATION_HOME)\n"
	    "Exit codes: 0 intact / done, 1 tampered or failed, 2 usage or "
	    "configuration error.\n");
}

/* The database must exist: a wrong path is a usage error (exit 2), not a
 * finding about the log. */
static int
db_exists(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		station_err("cannot open %s: no such file (check --db or --home)",
		    path);
		return -1;
	}
	return 0;
}

int
audit_cmd_db_path(const char *home_opt, const char *db_opt, char *out,
    size_t size)
{
	struct station_config *cfg;
	char err[CONFIG_ERR_MAX];
	const char *home;
	int ret = -1;

	if (db_opt != NULL) {
		if (home_opt != NULL) {
			station_err("audit: give --home or --db, not both");
			return -1;
		}
		if (snprintf(out, size, "%s", db_opt) >= (int)size) {
			station_err("audit: --db path too long");
			return -1;
		}
		return db_exists(out);
	}
	if ((home = station_home(home_opt)) == NULL)
		return -1;
	if ((cfg = malloc(sizeof(*cfg))) == NULL) {
		station_err("out of memory");
		return -1;
	}
	if (config_load(cfg, home, err) != 0) {
		station_err("%s", err);
		goto cleanup;
	}
	if (snprintf(out, size, "%s", cfg->audit_database) >= (int)size) {
		station_err("audit: database path too long");
		goto cleanup;
	}
	ret = db_exists(out);
cleanup:
	free(cfg);
	return ret;
}

char *
audit_cmd_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f;
	char *buf;
	size_t n;

	if ((f = fopen(path, "r")) == NULL) {
		station_err("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		station_err("out of memory");
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		station_err("cannot read %s: %s", path, n > max ? "too large" :
		    strerror(errno));
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *
audit_cmd_read_key(const char *path)
{
	char *pem = audit_cmd_read_file(path, 64 * 1024, NULL);

	/* Certificates (e.g. [pki] audit_cert): their public keys. */
	if (pem != NULL && strstr(pem, "-----BEGIN CERTIFICATE-----") != NULL) {
		free(pem);
		if (station_audit_pubkey_pem(path, &pem) != 0)
			pem = NULL;
	}
	return pem;
}

int
audit_cmd_default_key(const char *home_opt, const char *db_opt, char *out,
    size_t size)
{
	struct station_config *cfg;
	char err[CONFIG_ERR_MAX];
	const char *home;
	int ret = 1;

	if (db_opt != NULL || (home = station_home(home_opt)) == NULL ||
	    (cfg = malloc(sizeof(*cfg))) == NULL)
		return 1;
	if (config_load(cfg, home, err) == 0 &&
	    access(cfg->pki_audit_cert, F_OK) == 0 &&
	    snprintf(out, size, "%s", cfg->pki_audit_cert) < (int)size)
		ret = 0;
	free(cfg);
	return ret;
}

int
audit_cmd_verify(const char *db, const char *key_path, const char *anchor_path,
    struct audit_verify_result *r)
{
	struct audit_checkpoint anchor;
	char err[AUDIT_ERR_MAX], *pem = NULL, *text = NULL;
	size_t len;
	int ret = -1;

	if (key_path && (pem = audit_cmd_read_key(key_path)) == NULL)
		goto cleanup;
	if (anchor_path) {
		if ((text = audit_cmd_read_file(anchor_path, 8192, &len)) == NULL)
			goto cleanup;
		if (audit_anchor_parse(text, len, &anchor, err) != 0) {
			station_err("%s: %s", anchor_path, err);
			goto cleanup;
		}
	}
	if (audit_verify(db, pem, anchor_path ? &anchor : NULL, r) != 0) {
		station_err("%s", r->problem);
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(pem);
	free(text);
	return ret;
}

static int
verify_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "db", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_verify_result r;
	const char *home = NULL, *dbo = NULL, *key = NULL, *anchor = NULL;
	char db[PATH_MAX], cert[PATH_MAX];
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home = optarg; break;
		case 'd': dbo = optarg; break;
		case 'k': key = optarg; break;
		case 'a': anchor = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("audit verify: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (audit_cmd_db_path(home, dbo, db, sizeof(db)) != 0)
		return EXIT_USAGE;
	if (key == NULL && audit_cmd_default_key(home, dbo, cert,
	    sizeof(cert)) == 0)
		key = cert;
	if (audit_cmd_verify(db, key, anchor, &r) != 0)
		return EXIT_USAGE;
	if (key == cert)
		printf("key: the audit certificate %s ([pki] audit_cert)\n", cert);
	audit_cmd_print_result(stdout, db, &r);
	return r.verdict == AUDIT_INTACT ? EXIT_OK : EXIT_FAILED;
}

void
audit_cmd_print_result(FILE *out, const char *db, const struct audit_verify_result *r)
{
	fprintf(out, "database: %s\n", db);
	fprintf(out, "events: %llu\n", (unsigned long long)r->events);
	fprintf(out, "checkpoints: %llu valid, sealed through event %llu\n",
	    (unsigned long long)r->checkpoints,
	    (unsigned long long)r->sealed_seq);
	if (r->unsealed > 0)
		fprintf(out, "unsealed: %llu events after the last checkpoint "
		    "(%llu..%llu): not protected by a signature yet\n",
		    (unsigned long long)r->unsealed,
		    (unsigned long long)(r->sealed_seq + 1),
		    (unsigned long long)r->head_seq);
	else
		fprintf(out, "unsealed: 0\n");
	if (r->verdict == AUDIT_INTACT)
		fprintf(out, "inventory: %llu devices match their events\n",
		    (unsigned long long)r->devices);
	if (r->anchor_checked)
		fprintf(out, "anchor: the log still holds event %llu as sealed\n",
		    (unsigned long long)r->anchor_seq);
	else
		fprintf(out, "anchor: none given; truncation and rollback cannot "
		    "be detected (pass --anchor)\n");
	if (r->key_from_db)
		fprintf(out, "key: none given; signatures were checked against "
		    "the keys the log itself names, which proves nothing against "
		    "someone able to rewrite it (pass --key)\n");
	if (r->verdict == AUDIT_INTACT) {
		fprintf(out, "result: INTACT\n");
	} else {
		if (r->bad_seq)
			fprintf(out, "first bad event: %llu\n",
			    (unsigned long long)r->bad_seq);
		fprintf(out, "result: TAMPERED: %s\n", r->problem);
	}
}

static int
anchor_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "db", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_checkpoint cp;
	struct audit *a = NULL;
	const char *home = NULL, *dbo = NULL, *outp = NULL;
	char db[PATH_MAX], err[AUDIT_ERR_MAX], text[4096], tmp[PATH_MAX + 8];
	int c, n, fd, rc, ret = EXIT_FAILED;

	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'H': home = optarg; break;
		case 'd': dbo = optarg; break;
		case 'o': outp = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || outp == NULL) {
		station_err("audit anchor: %s", outp ? "unexpected argument" :
		    "-o FILE is required");
		return EXIT_USAGE;
	}
	if (audit_cmd_db_path(home, dbo, db, sizeof(db)) != 0)
		return EXIT_USAGE;
	if ((a = audit_open_readonly(db, err)) == NULL) {
		station_err("%s", err);
		return EXIT_FAILED;
	}
	if ((rc = audit_checkpoint_latest(a, &cp)) != 0) {
		station_err("%s", rc == 1 ? "audit anchor: the log has no "
		    "checkpoint yet; nothing is sealed" : audit_error(a));
		goto cleanup;
	}
	if ((n = audit_anchor_format(&cp, text, sizeof(text))) < 0) {
		station_err("audit anchor: checkpoint too large");
		goto cleanup;
	}
	/* Written whole or not at all: temporary file, then rename. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", outp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
		station_err("cannot write %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	rc = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	if (close(fd) != 0)
		rc = 0;
	if (!rc || rename(tmp, outp) != 0) {
		station_err("cannot write %s: %s", outp, strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	printf("anchor: event %llu of station %s written to %s\n",
	    (unsigned long long)cp.head_seq, cp.station_id, outp);
	ret = EXIT_OK;
cleanup:
	audit_close(a);
	return ret;
}

int
audit_main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*main)(int, char **);
	} subs[] = {
		{ "verify", verify_main },
		{ "show", audit_cmd_show },
		{ "anchor", anchor_main },
		{ "report", audit_cmd_report },
	};

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].main(argc - 1, argv + 1);
	station_err("audit: unknown subcommand '%s'; see 'station audit --help'",
	    argv[1]);
	return EXIT_USAGE;
}
