/*
 * bench.c: TEST ONLY. `audit-bench DIR [EVENTS]`: the audit figures for
 * tests/bench/audit.bench.sh, each printed as a BENCH line (tests/bench/run)
 * next to a baseline measured in the same run:
 *   - events/s, one durable commit each   vs  bare SQLite, one row per commit
 *   - events/s in group commits of 100    vs  bare SQLite, 100 rows per commit
 *   - chain verification of EVENTS (1,000,000) events on one core, target
 *     500,000/s   vs  a bare SQLite scan of the same rows
 *   - checkpoint signature checks/s (separately)
 *   - full verification (with the inventory replay) of a 5,000-device log
 *   - database bytes per stamped device (~600-byte certificate, 5 events)
 *     vs  the bytes of its certificate, key and identifiers alone
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "audit/audit.h"
#include "tests/audit/scenario.h"
#include "tests/audit/softkey.h"

static char dir[512];
static struct softkey key;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct audit *
fresh(const char *name, unsigned every)
{
	char path[600], err[AUDIT_ERR_MAX];
	struct audit *a;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((a = audit_open(path, "ST-BENCH", err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	audit_set_checkpoint_every(a, every);
	if (audit_set_signer(a, softkey_sign, &key, key.pem, "officer") != 0) {
		fprintf(stderr, "%s\n", audit_error(a));
		exit(1);
	}
	return a;
}

/* Bare SQLite, same pragmas, rows of the size of an event. */
static double
baseline_inserts(const char *name, int n, int group)
{
	char path[600];
	sqlite3 *db;
	sqlite3_stmt *st;
	uint8_t blob[32] = { 1 };
	double t0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
	    "CREATE TABLE t (seq INTEGER PRIMARY KEY, time_us INTEGER, actor TEXT, "
	    "kind TEXT, subject TEXT, details BLOB, hash BLOB)", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t VALUES (NULL, 1, 'op', 'bench.x', "
	    "'subject', x'', ?)", -1, &st, NULL);
	t0 = now();
	for (int i = 0; i < n; i++) {
		if (i % group == 0)
			sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		sqlite3_bind_blob(st, 1, blob, 32, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		if (i % group == group - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	t0 = now() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n / t0;
}

static double
appends(const char *name, int n, int group)
{
	struct audit *a = fresh(name, 100);
	double t0 = now();

	for (int i = 0; i < n; i++) {
		if (group > 1 && i % group == 0)
			audit_begin(a);
		if (audit_append(a, "op", "bench.x", "subject", NULL, 0, NULL)) {
			fprintf(stderr, "%s\n", audit_error(a));
			exit(1);
		}
		if (group > 1 && i % group == group - 1)
			audit_commit(a);
	}
	t0 = now() - t0;
	audit_close(a);
	return n / t0;
}

static double
bare_scan(const char *path, uint64_t *rows)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	uint64_t bytes = 0;
	double t0 = now();

	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	sqlite3_prepare_v2(db, "SELECT seq, time_us, actor, kind, subject, "
	    "details, hash FROM events ORDER BY seq", -1, &st, NULL);
	*rows = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		bytes += (uint64_t)sqlite3_column_bytes(st, 2) +
		    (uint64_t)sqlite3_column_bytes(st, 5) +
		    (uint64_t)sqlite3_column_bytes(st, 6);
		(*rows)++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	t0 = now() - t0;
	return bytes ? (double)*rows / t0 : 0;
}

int
main(int argc, char *argv[])
{
	struct audit_verify_result r;
	struct scenario sc = { .devices = 5000, .group = 100, .seed = 7 };
	struct stat sb, empty;
	char path[600];
	struct audit *a;
	uint64_t rows;
	int events;
	double ours, base;

	if (argc < 2)
		return 2;
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	events = argc > 2 ? atoi(argv[2]) : 1000000;
	if (softkey_new(&key) != 0)
		return 1;

	ours = appends("single.db", 300, 1);
	base = baseline_inserts("base1.db", 300, 1);
	printf("BENCH audit.append.single %.0f /s audit.append.single.sqlite "
	    "audit events, one durable commit each\n", ours);
	printf("BENCH audit.append.single.sqlite %.0f /s - bare SQLite, one row "
	    "per commit\n", base);
	ours = appends("group.db", 20000, 100);
	base = baseline_inserts("base100.db", 20000, 100);
	printf("BENCH audit.append.group %.0f /s audit.append.group.sqlite "
	    "audit events, group commits of 100\n", ours);
	printf("BENCH audit.append.group.sqlite %.0f /s - bare SQLite, 100 rows "
	    "per commit\n", base);

	/* The big log: group commits of 1000, a checkpoint after each. */
	a = fresh("big.db", 1000);
	for (int i = 0; i < events; i++) {
		if (i % 1000 == 0)
			audit_begin(a);
		audit_append(a, "op-anna", "bench.tick", "SN-00001234", NULL, 0,
		    NULL);
		if (i % 1000 == 999 || i == events - 1)
			audit_commit(a);
	}
	audit_close(a);
	snprintf(path, sizeof(path), "%s/big.db", dir);
	if (audit_verify(path, key.pem, NULL, &r) != 0 ||
	    r.verdict != AUDIT_INTACT) {
		fprintf(stderr, "verify: %s\n", r.problem);
		return 1;
	}
	base = bare_scan(path, &rows);
	ours = (double)r.events / r.chain_seconds;
	printf("BENCH audit.verify.chain %.0f events/s audit.verify.scan audit "
	    "verification: hash chain of %llu events, one core\n", ours,
	    (unsigned long long)r.events);
	printf("BENCH audit.verify.scan %.0f events/s - bare SQLite scan of the "
	    "rows\n", base);
	printf("NOTE audit.verify.chain %.0f%% of the 500000/s target (%s)\n",
	    100 * ours / 500000, ours >= 500000 ? "met" : "NOT met");
	printf("BENCH audit.verify.signatures %.0f /s - checkpoint signature "
	    "checks (ECDSA P-256)\n", (double)r.checkpoints /
	    r.signature_seconds);
	printf("NOTE audit.verify.signatures %llu checkpoints in %.2f s; "
	    "inventory replay %.2f s\n", (unsigned long long)r.checkpoints,
	    r.signature_seconds, r.replay_seconds);

	/* Bytes per stamped device. */
	a = fresh("empty.db", 100);
	audit_close(a);
	a = fresh("devices.db", 100);
	audit_set_clock(a, scenario_clock, &sc);
	if (scenario_setup(a, &sc) != 0 || scenario_run(a, &sc) != 0 ||
	    audit_checkpoint(a) != 0) {
		fprintf(stderr, "%s\n", audit_error(a));
		return 1;
	}
	audit_close(a);  /* folds the WAL into the file */
	snprintf(path, sizeof(path), "%s/devices.db", dir);
	stat(path, &sb);
	if (audit_verify(path, key.pem, NULL, &r) != 0 ||
	    r.verdict != AUDIT_INTACT) {
		fprintf(stderr, "verify: %s\n", r.problem);
		return 1;
	}
	printf("BENCH audit.verify.full %.3f s - full verification of a "
	    "%u-device log, %llu events (chain, signatures, inventory replay)\n",
	    r.chain_seconds + r.signature_seconds + r.replay_seconds,
	    sc.devices, (unsigned long long)r.events);
	printf("NOTE audit.verify.full chain %.3f s, %llu signatures %.3f s, "
	    "replay %.3f s: %.0f events/s\n", r.chain_seconds,
	    (unsigned long long)r.checkpoints, r.signature_seconds,
	    r.replay_seconds, (double)r.events / (r.chain_seconds +
	    r.signature_seconds + r.replay_seconds));
	snprintf(path, sizeof(path), "%s/empty.db", dir);
	stat(path, &empty);
	ours = (double)(sb.st_size - empty.st_size) / sc.devices;
	base = 600 + 91 + 12 + 20 + 9 + 32;  /* cert, key, ids, cert serial */
	printf("BENCH audit.bytes_per_device %.0f B audit.bytes_raw database "
	    "bytes per stamped device (600-byte cert, ~5 events, checkpoints)\n",
	    ours);
	printf("BENCH audit.bytes_raw %.0f B - its certificate, key and "
	    "identifiers alone\n", base);
	softkey_free(&key);
	return 0;
}
