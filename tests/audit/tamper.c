/*
 * tamper.c: TEST ONLY. `audit-tamper DIR N [SEED]`: the tamper test.
 *
 * Builds a real signed log (several sessions, checkpoints, an unsealed
 * tail), keeps older copies of the file and an anchor (the latest
 * checkpoint), then makes N random mutations, each on a fresh copy, as an
 * attacker with full write access who drops the triggers, edits, recomputes
 * the hash chain after the edit and puts the triggers back:
 *   bit flips in any column of events, checkpoints and devices; deleted,
 *   inserted and swapped events (renumbered, chain recomputed); sealed
 *   edits with the covering checkpoints removed; the tail cut; the file
 *   replaced by an older copy; plausible device-row edits.
 * Every mutation that touches a sealed event, a checkpoint or the inventory
 * must be caught by audit_verify() with the anchor; one that only touches
 * the unsealed tail need not be, but the unsealed count must then be
 * reported exactly. Prints TAP, one line per kind: tried, caught, required.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit.h"
#include "tests/audit/scenario.h"
#include "tests/audit/softkey.h"

enum kind { FLIP_EVENT, FLIP_CHECKPOINT, FLIP_DEVICE, DELETE_EVENT,
	INSERT_EVENT, SWAP_EVENTS, SEALED_EDIT_UNSEAL, TAIL_CUT, ROLLBACK,
	DEVICE_EDIT, NKINDS };
static const char *const kind_names[NKINDS] = { "bit flip in an event",
	"bit flip in a checkpoint", "bit flip in a device row", "event deleted",
	"event inserted", "events swapped", "sealed edit, checkpoints removed",
	"tail cut", "file replaced by an older copy", "device row edited" };

#define SNAPSHOTS 4

static char dir[512];
static struct scenario sc;
static uint64_t anchor_seq, base_head;
static struct audit_checkpoint anchor;
static char triggers[32][512];
static int ntriggers;

static uint64_t
rnd(uint64_t n)
{
	return n ? scenario_rand(&sc) % n : 0;
}

static void
path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;
	int ret = -1;

	if (in && out) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			if (fwrite(buf, 1, n, out) != n)
				goto cleanup;
		ret = ferror(in) ? -1 : 0;
	}
cleanup:
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ret = -1;
	return ret;
}

/* Sessions of devices, each sealed, each followed by a copy of the file. */
static int
build(struct softkey *key)
{
	char db[600], snap[600], err[AUDIT_ERR_MAX];
	struct audit *a;

	path(db, sizeof(db), "base.db");
	for (size_t i = 0; i < 3; i++) {  /* a fresh start in a used folder */
		static const char *const suffix[] = { "", "-wal", "-shm" };

		snprintf(snap, sizeof(snap), "%s%s", db, suffix[i]);
		unlink(snap);
	}
	for (int s = 0; s <= SNAPSHOTS; s++) {
		if ((a = audit_open(db, "ST-TAMPER", err)) == NULL) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		audit_set_clock(a, scenario_clock, &sc);
		audit_set_checkpoint_every(a, 20);
		if (audit_set_signer(a, softkey_sign, key, key->pem, "officer"))
			goto fail;
		if (s == 0 && scenario_setup(a, &sc) != 0)
			goto fail;
		sc.first_device = (unsigned)s * 100;
		sc.devices = s < SNAPSHOTS ? 12 : 2;
		sc.group = 4;
		if (scenario_run(a, &sc) != 0)
			goto fail;
		if (s < SNAPSHOTS && audit_checkpoint(a) != 0)
			goto fail;
		if (s == SNAPSHOTS - 1 && audit_checkpoint_latest(a, &anchor) != 0)
			goto fail;
		audit_head(a, &base_head, NULL, NULL);
		audit_close(a);
		if (s < SNAPSHOTS) {
			char name[32];

			snprintf(name, sizeof(name), "snap%d.db", s);
			path(snap, sizeof(snap), name);
			if (copy_file(db, snap) != 0)
				return -1;
		}
	}
	anchor_seq = anchor.head_seq;
	return 0;
fail:
	fprintf(stderr, "%s\n", audit_error(a));
	audit_close(a);
	return -1;
}

static int
exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int64_t
scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The attacker's chain recomputation from event ${from} on. */
static int
rechain(sqlite3 *db, int64_t from)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	uint8_t prev[AUDIT_HASH_LEN] = { 0 };
	int ret = -1;

	if (from > 1 && sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE "
	    "seq = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, from - 1);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_bytes(st, 0) == AUDIT_HASH_LEN)
			memcpy(prev, sqlite3_column_blob(st, 0), AUDIT_HASH_LEN);
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(db, "SELECT seq, time_us, actor, kind, subject, "
	    "details FROM events WHERE seq >= ? ORDER BY seq", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "UPDATE events SET hash = ? "
	    "WHERE seq = ?", -1, &up, NULL) != SQLITE_OK)
		goto cleanup;
	sqlite3_bind_int64(st, 1, from);
	/* Updating the hash column while reading the others is safe: the
	 * scan is by rowid and the rowid does not change. */
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct audit_event e = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.time_us = sqlite3_column_int64(st, 1),
			.actor = (const char *)sqlite3_column_text(st, 2),
			.kind = (const char *)sqlite3_column_text(st, 3),
			.subject = (const char *)sqlite3_column_text(st, 4),
			.details = sqlite3_column_blob(st, 5),
			.details_len = (size_t)sqlite3_column_bytes(st, 5),
		};
		uint8_t h[AUDIT_HASH_LEN];

		if (!e.actor) e.actor = "";
		if (!e.kind) e.kind = "";
		if (!e.subject) e.subject = "";
		if (!e.details) e.details = (const uint8_t *)"";
		audit_event_hash(prev, &e, h);
		memcpy(prev, h, AUDIT_HASH_LEN);
		sqlite3_bind_blob(up, 1, h, AUDIT_HASH_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 2, (int64_t)e.seq);
		if (sqlite3_step(up) != SQLITE_DONE)
			goto cleanup;
		sqlite3_reset(up);
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	return ret;
}

/* Flips one bit of column ${col} of the row ${where} in ${table}. */
static int
flip(sqlite3 *db, const char *table, const char *col, const char *where)
{
	char sql[512];
	sqlite3_stmt *st = NULL, *up = NULL;
	uint8_t buf[8192];
	int type, n, ret = -1;

	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s", col, table,
	    where);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto cleanup;
	type = sqlite3_column_type(st, 0);
	snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ? WHERE %s", table, col,
	    where);
	if (sqlite3_prepare_v2(db, sql, -1, &up, NULL) != SQLITE_OK)
		goto cleanup;
	if (type == SQLITE_INTEGER) {
		sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0) ^
		    (int64_t)(1ULL << rnd(40)));
	} else if (type == SQLITE_NULL) {
		sqlite3_bind_text(up, 1, "x", 1, SQLITE_STATIC);
	} else {
		n = sqlite3_column_bytes(st, 0);
		if (n <= 0 || n > (int)sizeof(buf)) {
			sqlite3_bind_text(up, 1, "y", 1, SQLITE_STATIC);
		} else {
			memcpy(buf, sqlite3_column_blob(st, 0), (size_t)n);
			buf[rnd((uint64_t)n)] ^= (uint8_t)(1u << rnd(8));
			if (type == SQLITE_TEXT)
				sqlite3_bind_text(up, 1, (char *)buf, n,
				    SQLITE_TRANSIENT);
			else
				sqlite3_bind_blob(up, 1, buf, n, SQLITE_TRANSIENT);
		}
	}
	/* Exactly one row changed (a flip always changes the value). */
	ret = sqlite3_step(up) == SQLITE_DONE && sqlite3_changes(db) == 1 ?
	    0 : -1;
cleanup:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	return ret;
}

struct outcome {
	bool applied;
	bool must_catch;      /* touched sealed events, checkpoints, inventory */
};

/* Shifts events after ${seq} by ${delta} (renumbering). */
static int
renumber(sqlite3 *db, int64_t seq, int delta)
{
	char sql[256];

	/* Through negative numbers, so the primary key never collides. */
	snprintf(sql, sizeof(sql), "UPDATE events SET seq = -seq WHERE seq > "
	    "%lld; UPDATE events SET seq = -seq + (%d) WHERE seq < 0",
	    (long long)seq, delta);
	return exec(db, sql);
}

static struct outcome
mutate(sqlite3 *db, enum kind k)
{
	static const char *const ecols[] = { "seq", "time_us", "actor", "kind",
	    "subject", "details", "hash" };
	static const char *const ccols[] = { "head_seq", "event_count",
	    "head_hash", "time_us", "station_id", "key_id", "signature" };
	static const char *const dcols[] = { "serial", "claim_id",
	    "hardware_id", "order_id", "key_mode", "state", "public_key",
	    "cert_serial", "cert_der", "reason", "created_us", "updated_us",
	    "last_seq" };
	struct outcome o = { false, true };
	int64_t head = scalar(db, "SELECT max(seq) FROM events");
	int64_t s = 1 + (int64_t)rnd((uint64_t)head), s2;
	char where[128], sql[512];
	int c;

	switch (k) {
	case FLIP_EVENT:
		c = (int)rnd(7);
		snprintf(where, sizeof(where), "seq = %lld", (long long)s);
		o.applied = flip(db, "events", ecols[c], where) == 0;
		if (c != 6)  /* a recomputing attacker re-hashes what he edits */
			o.applied = o.applied && rechain(db, c == 0 ? 1 : s) == 0;
		o.must_catch = (uint64_t)s <= anchor_seq;
		break;
	case FLIP_CHECKPOINT:
		/* The row is picked once, here: a random() in both the SELECT
		 * and the UPDATE of flip() could copy one row's flipped value
		 * onto another row that already held it (no change at all). */
		snprintf(sql, sizeof(sql), "SELECT head_seq FROM checkpoints "
		    "LIMIT 1 OFFSET %llu", (unsigned long long)rnd((uint64_t)
		    scalar(db, "SELECT count(*) FROM checkpoints")));
		snprintf(where, sizeof(where), "head_seq = %lld",
		    (long long)scalar(db, sql));
		o.applied = flip(db, "checkpoints", ccols[rnd(7)], where) == 0;
		break;
	case FLIP_DEVICE:
		snprintf(sql, sizeof(sql), "SELECT rowid FROM devices LIMIT 1 "
		    "OFFSET %llu", (unsigned long long)rnd((uint64_t)scalar(db,
		    "SELECT count(*) FROM devices")));
		snprintf(where, sizeof(where), "rowid = %lld",
		    (long long)scalar(db, sql));
		o.applied = flip(db, "devices", dcols[rnd(13)], where) == 0;
		break;
	case DELETE_EVENT:
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE seq = %lld",
		    (long long)s);
		o.applied = exec(db, sql) == 0 && renumber(db, s, -1) == 0 &&
		    rechain(db, s) == 0;
		o.must_catch = (uint64_t)s <= anchor_seq;
		break;
	case INSERT_EVENT:
		o.applied = renumber(db, s - 1, 1) == 0;
		snprintf(sql, sizeof(sql), "INSERT INTO events VALUES (%lld, "
		    "(SELECT time_us FROM events WHERE seq = %lld), 'op-anna', "
		    "'bench.note', 'forged', x'', x'00')", (long long)s,
		    (long long)(s > 1 ? s - 1 : 2));
		o.applied = o.applied && exec(db, sql) == 0 && rechain(db, s) == 0;
		o.must_catch = (uint64_t)s <= anchor_seq;
		break;
	case SWAP_EVENTS:
		s2 = 1 + (int64_t)rnd((uint64_t)head);
		if (s2 == s)
			s2 = s == head ? s - 1 : s + 1;
		snprintf(sql, sizeof(sql), "CREATE TEMP TABLE x AS SELECT * FROM "
		    "events WHERE seq IN (%lld, %lld); UPDATE events SET (time_us, "
		    "actor, kind, subject, details) = (SELECT time_us, actor, kind, "
		    "subject, details FROM x WHERE x.seq = (%lld + %lld - "
		    "events.seq)) WHERE seq IN (%lld, %lld); DROP TABLE x",
		    (long long)s, (long long)s2, (long long)s, (long long)s2,
		    (long long)s, (long long)s2);
		o.applied = exec(db, sql) == 0 && rechain(db, s < s2 ? s : s2) == 0;
		/* Two identical events swapped change nothing. */
		o.applied = o.applied && scalar(db, "SELECT 1") == 1;
		o.must_catch = (uint64_t)(s < s2 ? s : s2) <= anchor_seq;
		break;
	case SEALED_EDIT_UNSEAL:
		s = 1 + (int64_t)rnd(anchor_seq);
		snprintf(where, sizeof(where), "seq = %lld", (long long)s);
		snprintf(sql, sizeof(sql), "DELETE FROM checkpoints WHERE head_seq "
		    ">= %lld", (long long)s);
		o.applied = flip(db, "events", rnd(2) ? "actor" : "details",
		    where) == 0 && rechain(db, s) == 0 && exec(db, sql) == 0;
		break;
	case TAIL_CUT:
		s = 2 + (int64_t)rnd((uint64_t)head - 1);  /* new head: s - 1 */
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE seq >= %lld; "
		    "DELETE FROM checkpoints WHERE head_seq >= %lld", (long long)s,
		    (long long)s);
		o.applied = exec(db, sql) == 0;
		o.must_catch = (uint64_t)s <= anchor_seq;
		break;
	case DEVICE_EDIT:
		switch (rnd(6)) {
		case 0: c = exec(db, "UPDATE devices SET state = 'done' WHERE "
		    "serial = (SELECT serial FROM devices WHERE state != 'done' "
		    "ORDER BY random() LIMIT 1)"); break;
		case 1: c = exec(db, "UPDATE devices SET hardware_id = 'HW-CLONE' "
		    "WHERE serial = (SELECT serial FROM devices ORDER BY random() "
		    "LIMIT 1)"); break;
		case 2: c = exec(db, "UPDATE devices SET reason = 'nothing wrong' "
		    "WHERE serial = (SELECT serial FROM devices WHERE reason IS NOT "
		    "NULL ORDER BY random() LIMIT 1)"); break;
		case 3: c = exec(db, "UPDATE devices SET cert_der = (SELECT cert_der "
		    "FROM devices d2 WHERE d2.serial != devices.serial AND cert_der "
		    "IS NOT NULL LIMIT 1) WHERE serial = (SELECT serial FROM devices "
		    "WHERE cert_der IS NOT NULL ORDER BY random() LIMIT 1)"); break;
		case 4: c = exec(db, "DELETE FROM devices WHERE serial = (SELECT "
		    "serial FROM devices ORDER BY random() LIMIT 1)"); break;
		default: c = exec(db, "INSERT INTO devices SELECT 'SN-EXTRA', "
		    "'CLM-EXTRA', 'HW-EXTRA', order_id, key_mode, 'done', public_key, "
		    "'ffff', cert_der, NULL, created_us, updated_us, last_seq FROM "
		    "devices WHERE state = 'done' LIMIT 1"); break;
		}
		o.applied = c == 0 && sqlite3_changes(db) > 0;
		break;
	default:
		break;
	}
	return o;
}

/* SQL random() from our seeded generator: a run is replayable by seed. */
static void
sql_random(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_int64(ctx, (sqlite3_int64)(scenario_rand(&sc) >> 1));
}

static int
save_triggers(const char *db_path)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	if (sqlite3_open(db_path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = "
	    "'trigger'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW && ntriggers < 32)
		snprintf(triggers[ntriggers++], sizeof(triggers[0]), "%s",
		    sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned tried[NKINDS] = { 0 }, caught[NKINDS] = { 0 },
	    required[NKINDS] = { 0 }, missed[NKINDS] = { 0 },
	    tail_ok[NKINDS] = { 0 };
	struct audit_verify_result r;
	struct softkey key;
	char base[600], work[600], wal[620], shm[620], snap[600];
	unsigned n;
	int failures = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: audit-tamper DIR N [SEED]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	n = (unsigned)strtoul(argv[2], NULL, 10);
	sc.seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 12345;
	sc.rng = sc.seed;
	if (softkey_new(&key) != 0 || build(&key) != 0)
		return 1;
	path(base, sizeof(base), "base.db");
	path(work, sizeof(work), "work.db");
	snprintf(wal, sizeof(wal), "%s-wal", work);
	snprintf(shm, sizeof(shm), "%s-shm", work);
	if (save_triggers(base) != 0 ||
	    audit_verify(base, key.pem, &anchor, &r) != 0 ||
	    r.verdict != AUDIT_INTACT || r.unsealed != base_head - anchor_seq) {
		printf("not ok 1 - the untouched log verifies (%s)\n", r.problem);
		return 1;
	}
	printf("# seed %llu\n", (unsigned long long)sc.seed);
	printf("# log: %llu events, anchor at %llu, %llu unsealed, %d triggers\n",
	    (unsigned long long)base_head, (unsigned long long)anchor_seq,
	    (unsigned long long)r.unsealed, ntriggers);
	for (unsigned i = 0; i < n; i++) {
		enum kind k = (enum kind)(i % NKINDS);
		struct outcome o = { true, true };
		sqlite3 *db;
		uint64_t head;

		unlink(wal);
		unlink(shm);
		if (k == ROLLBACK) {
			char name[32];

			snprintf(name, sizeof(name), "snap%d.db",
			    (int)rnd(SNAPSHOTS - 1));
			path(snap, sizeof(snap), name);
			copy_file(snap, work);
		} else {
			copy_file(base, work);
			if (sqlite3_open(work, &db) != SQLITE_OK ||
			    sqlite3_create_function(db, "random", 0, SQLITE_UTF8,
			    NULL, sql_random, NULL, NULL) != SQLITE_OK)
				return 1;
			exec(db, "PRAGMA synchronous = OFF; BEGIN");
			for (int t = 0; t < ntriggers; t++) {
				char drop[128], name[64];

				if (sscanf(triggers[t], "CREATE TRIGGER %63s", name) == 1) {
					snprintf(drop, sizeof(drop), "DROP TRIGGER %s", name);
					exec(db, drop);
				}
			}
			o = mutate(db, k);
			for (int t = 0; t < ntriggers; t++)
				exec(db, triggers[t]);
			head = (uint64_t)scalar(db, "SELECT max(seq) FROM events");
			exec(db, o.applied ? "COMMIT" : "ROLLBACK");
			sqlite3_close(db);
			if (!o.applied) {
				i--;  /* e.g. a flip that broke a constraint: redo */
				continue;
			}
			(void)head;
		}
		tried[k]++;
		required[k] += o.must_catch;
		if (audit_verify(work, key.pem, &anchor, &r) != 0) {
			printf("# %s: verify could not run: %s\n", kind_names[k],
			    r.problem);
			missed[k]++;
			continue;
		}
		if (r.verdict == AUDIT_TAMPERED) {
			caught[k]++;
		} else if (o.must_catch) {
			missed[k]++;
			printf("# MISSED %s (trial %u)\n", kind_names[k], i);
		} else if (r.unsealed == r.head_seq - anchor_seq) {
			tail_ok[k]++;
		} else {
			missed[k]++;
			printf("# %s: unsealed reported %llu, expected %llu\n",
			    kind_names[k], (unsigned long long)r.unsealed,
			    (unsigned long long)(r.head_seq - anchor_seq));
		}
	}
	for (int k = 0; k < NKINDS; k++) {
		bool ok = missed[k] == 0;

		failures += !ok;
		printf("%s %d - %s: tried %u, caught %u, had to catch %u, "
		    "unsealed-only and reported %u\n", ok ? "ok" : "not ok", k + 1,
		    kind_names[k], tried[k], caught[k], required[k], tail_ok[k]);
	}
	printf("1..%d\n", NKINDS);
	softkey_free(&key);
	return failures ? 1 : 0;
}
