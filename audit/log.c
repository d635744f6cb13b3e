/*
 * log.c: opening the database, transactions, appending hash-chained
 * events.
 *
 * Every write happens in a BEGIN IMMEDIATE transaction that first reads the
 * chain head (the last event's seq and hash) from the database itself, so
 * several processes (the bench and an officer's verb) can append in turn
 * without forking the chain. A call outside audit_begin()/audit_commit() is
 * its own transaction, durable when it returns (WAL, synchronous=FULL).
 * When a transaction is about to commit, a checkpoint that is due is
 * sealed into it (seal.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/internal.h"

int
audit_fail(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return -1;
}

int
audit_sqlfail(struct audit *a, const char *what)
{
	return audit_fail(a, "%s: %s", what, sqlite3_errmsg(a->db));
}

const char *
audit_error(const struct audit *a)
{
	return a->err;
}

const char *
audit_station_id(const struct audit *a)
{
	return a->station_id;
}

const char *
audit_checkpoint_error(const struct audit *a)
{
	return a->cp_failed ? a->cp_err : NULL;
}

static int64_t
real_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
audit_now(struct audit *a)
{
	return a->now(a->now_ctx);
}

void
audit_set_clock(struct audit *a, int64_t (*now)(void *ctx), void *ctx)
{
	a->now = now ? now : real_clock;
	a->now_ctx = now ? ctx : NULL;
}

void
audit_set_checkpoint_every(struct audit *a, unsigned n)
{
	a->checkpoint_every = n ? n : 1;
}

int
audit_check_text(struct audit *a, const char *what, const char *s, size_t max,
    bool required)
{
	size_t len;

	if (s == NULL)
		return required ? audit_fail(a, "%s is required", what) : 0;
	len = strlen(s);
	if (required && len == 0)
		return audit_fail(a, "%s is empty", what);
	if (len > max)
		return audit_fail(a, "%s too long (%zu bytes, at most %zu)", what,
		    len, max);
	if (!audit_text_ok(s, len))
		return audit_fail(a, "%s: control characters or bad UTF-8", what);
	return 0;
}

/* create_private(path, err): make ${path} 0600 if it does not exist, so
 * that the database (claim IDs: claim secrets) and its -wal and -shm files,
 * which SQLite gives the database file's mode, are the owner's only. An
 * empty file is a new database to SQLite. */
static int
create_private(const char *path, char err[static AUDIT_ERR_MAX])
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(err, AUDIT_ERR_MAX, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static struct audit *
open_common(const char *path, int flags, char err[static AUDIT_ERR_MAX])
{
	struct audit *a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, AUDIT_ERR_MAX, "out of memory");
		return NULL;
	}
	a->now = real_clock;
	a->checkpoint_every = 100;
	if (sqlite3_open_v2(path, &a->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, AUDIT_ERR_MAX, "cannot open %s: %s", path,
		    a->db ? sqlite3_errmsg(a->db) : "out of memory");
		audit_close(a);
		return NULL;
	}
	sqlite3_extended_result_codes(a->db, 1);
	sqlite3_busy_timeout(a->db, 10000);
	return a;
}

static int
load_station(struct audit *a)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *id;
	int ret = -1;

	if (sqlite3_prepare_v2(a->db, "SELECT station_id FROM station WHERE "
	    "id = 1", -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "not a station database");
	if (sqlite3_step(st) != SQLITE_ROW ||
	    (id = sqlite3_column_text(st, 0)) == NULL ||
	    strlen((const char *)id) > AUDIT_STATION_ID_MAX) {
		audit_fail(a, "the database has no station identity");
		goto cleanup;
	}
	strcpy(a->station_id, (const char *)id);
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

static int
create_station(struct audit *a, const char *station_id)
{
	static const char schema[] = "1";
	struct audit_field f = { "schema", schema, 1 };
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (audit_tx_begin(a) != 0)
		return -1;
	if (sqlite3_prepare_v2(a->db, "INSERT INTO station (id, station_id, "
	    "created_us) VALUES (1, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot record the station");
		goto cleanup;
	}
	sqlite3_bind_text(st, 1, station_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, audit_now(a));
	if (sqlite3_step(st) != SQLITE_DONE) {
		audit_sqlfail(a, "cannot record the station");
		goto cleanup;
	}
	rc = audit_append_fields(a, "station", "audit.created", station_id, &f,
	    1, NULL);
cleanup:
	sqlite3_finalize(st);
	return audit_tx_end(a, rc);
}

/* Whether the station row is missing; a->err is set if that is unknown. */
static bool
station_missing(struct audit *a)
{
	sqlite3_stmt *st = NULL;
	bool missing = false;

	a->err[0] = '\0';
	if (sqlite3_prepare_v2(a->db, "SELECT count(*) FROM station", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		audit_sqlfail(a, "cannot read the station identity");
	else
		missing = sqlite3_column_int(st, 0) == 0;
	sqlite3_finalize(st);
	return missing;
}

struct audit *
audit_open(const char *path, const char *station_id,
    char err[static AUDIT_ERR_MAX])
{
	struct audit *a;
	bool created;
	int flags = SQLITE_OPEN_READWRITE;

	if (station_id != NULL) {
		size_t len = strlen(station_id);

		if (len < 1 || len > AUDIT_STATION_ID_MAX ||
		    !audit_text_ok(station_id, len)) {
			snprintf(err, AUDIT_ERR_MAX, "bad station id '%s'",
			    station_id);
			return NULL;
		}
		flags |= SQLITE_OPEN_CREATE;
		if (create_private(path, err) != 0)
			return NULL;
	}
	if ((a = open_common(path, flags, err)) == NULL)
		return NULL;
	/* WAL cannot be switched on inside a transaction. */
	if (sqlite3_exec(a->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous "
	    "= FULL; PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot configure the database");
		goto fail;
	}
	if (audit_migrate(a, &created) != 0)
		goto fail;
	/* Created, or killed between the schema and the station row: the
	 * station row and event 1 are one transaction, so either both or
	 * neither exist. */
	if ((created = created || station_missing(a)) && a->err[0] != '\0')
		goto fail;
	if (created) {
		if (station_id == NULL) {
			audit_fail(a, "not a station database (empty)");
			goto fail;
		}
		if (create_station(a, station_id) != 0)
			goto fail;
	}
	if (load_station(a) != 0)
		goto fail;
	if (station_id != NULL && strcmp(station_id, a->station_id) != 0) {
		audit_fail(a, "the database belongs to station '%s', not '%s'",
		    a->station_id, station_id);
		goto fail;
	}
	return a;
fail:
	snprintf(err, AUDIT_ERR_MAX, "%s: %s", path, a->err);
	audit_close(a);
	return NULL;
}

struct audit *
audit_open_readonly(const char *path, char err[static AUDIT_ERR_MAX])
{
	struct audit *a;

	if ((a = open_common(path, SQLITE_OPEN_READONLY, err)) == NULL)
		return NULL;
	a->readonly = true;
	if (load_station(a) != 0) {
		snprintf(err, AUDIT_ERR_MAX, "%s: %s", path, a->err);
		audit_close(a);
		return NULL;
	}
	return a;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->in_tx)
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(a->ins_event);
	sqlite3_finalize(a->sp_open);
	sqlite3_finalize(a->sp_release);
	sqlite3_finalize(a->sp_undo);
	sqlite3_finalize(a->dev_get);
	sqlite3_finalize(a->dev_ins);
	sqlite3_finalize(a->dev_upd);
	sqlite3_finalize(a->cert_ins);
	sqlite3_close(a->db);
	free(a->sign_pem);
	free(a);
}

/* Reads the chain head inside the open transaction. */
static int
load_head(struct audit *a)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	a->head_seq = 0;
	memset(a->head_hash, 0, sizeof(a->head_hash));
	if (sqlite3_prepare_v2(a->db, "SELECT seq, hash FROM events ORDER BY "
	    "seq DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the log");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != AUDIT_HASH_LEN) {
			audit_fail(a, "the log's last event is damaged; run "
			    "'station audit verify'");
			goto cleanup;
		}
		a->head_seq = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(a->head_hash, sqlite3_column_blob(st, 1), AUDIT_HASH_LEN);
	} else if (rc != SQLITE_DONE) {
		audit_sqlfail(a, "cannot read the log");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

int
audit_tx_open(struct audit *a)
{
	if (a->readonly)
		return audit_fail(a, "the database is open read-only");
	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot lock the database");
	a->in_tx = true;
	if (load_head(a) != 0) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		a->in_tx = false;
		return -1;
	}
	return 0;
}

static int
tx_close(struct audit *a, int rc)
{
	if (rc == 0)
		audit_seal_due(a);  /* in the same transaction: one fsync */
	a->in_tx = false;
	if (rc == 0 && sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		audit_sqlfail(a, "cannot commit");
		rc = -1;
	}
	if (rc != 0) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Inside a batch each call is a savepoint, so a failed call leaves the
 * batch as it was, head included. */
/* Runs a cached one-off statement ${sql} in *${st}. */
static int
run_cached(struct audit *a, sqlite3_stmt **st, const char *sql)
{
	int rc;

	if (*st == NULL && sqlite3_prepare_v3(a->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(*st);
	sqlite3_reset(*st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
audit_tx_begin(struct audit *a)
{
	if (!a->batch)
		return audit_tx_open(a);
	if (run_cached(a, &a->sp_open, "SAVEPOINT audit_call") != 0)
		return audit_sqlfail(a, "cannot open a savepoint");
	a->sp_seq = a->head_seq;
	memcpy(a->sp_hash, a->head_hash, AUDIT_HASH_LEN);
	return 0;
}

int
audit_tx_end(struct audit *a, int rc)
{
	if (!a->batch)
		return tx_close(a, rc);
	if (rc != 0) {
		run_cached(a, &a->sp_undo, "ROLLBACK TO audit_call");
		a->head_seq = a->sp_seq;
		memcpy(a->head_hash, a->sp_hash, AUDIT_HASH_LEN);
	}
	if (run_cached(a, &a->sp_release, "RELEASE audit_call") != 0 && rc == 0)
		return audit_sqlfail(a, "cannot release a savepoint");
	return rc;
}

int
audit_begin(struct audit *a)
{
	if (a->batch)
		return audit_fail(a, "a batch is already open");
	if (audit_tx_open(a) != 0)
		return -1;
	a->batch = true;
	return 0;
}

int
audit_commit(struct audit *a)
{
	if (!a->batch)
		return audit_fail(a, "no batch is open");
	a->batch = false;
	return tx_close(a, 0);
}

int
audit_rollback(struct audit *a)
{
	if (!a->batch)
		return audit_fail(a, "no batch is open");
	a->batch = false;
	a->in_tx = false;
	if (sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot roll back");
	return 0;
}

int
audit_append_locked(struct audit *a, const char *actor, const char *kind,
    const char *subject, const uint8_t *details, size_t len, uint64_t *seq)
{
	static const uint8_t empty[1];
	struct audit_event e = {
		.seq = a->head_seq + 1, .time_us = audit_now(a), .actor = actor,
		.kind = kind, .subject = subject,
		.details = details ? details : empty, .details_len = len,
	};
	uint8_t hash[AUDIT_HASH_LEN];
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (!a->in_tx)
		return audit_fail(a, "internal error: append outside a transaction");
	if (audit_check_text(a, "actor", actor, AUDIT_ACTOR_MAX, true) != 0 ||
	    audit_check_text(a, "kind", kind, AUDIT_KIND_MAX, true) != 0 ||
	    audit_check_text(a, "subject", subject, AUDIT_SUBJECT_MAX, false))
		return -1;
	if (e.subject == NULL)
		e.subject = "";
	if (audit_event_hash(a->head_hash, &e, hash) != 0)
		return audit_fail(a, "cannot hash the event");
	if (a->ins_event == NULL && sqlite3_prepare_v3(a->db, "INSERT INTO "
	    "events (seq, time_us, actor, kind, subject, details, hash) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?)", -1, SQLITE_PREPARE_PERSISTENT, &a->ins_event,
	    NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot append the event");
	st = a->ins_event;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)e.seq);
	sqlite3_bind_int64(st, 2, e.time_us);
	sqlite3_bind_text(st, 3, e.actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e.kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e.subject, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, e.details, (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, hash, AUDIT_HASH_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		audit_sqlfail(a, "cannot append the event");
		goto cleanup;
	}
	a->head_seq = e.seq;
	a->last_time = e.time_us;
	memcpy(a->head_hash, hash, AUDIT_HASH_LEN);
	if (seq != NULL)
		*seq = e.seq;
	ret = 0;
cleanup:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int
audit_append_fields(struct audit *a, const char *actor, const char *kind,
    const char *subject, const struct audit_field *f, size_t n, uint64_t *seq)
{
	uint8_t *d = NULL;
	size_t len;
	int rc;

	if (audit_details_encode(f, n, &d, &len, a->err) != 0)
		return -1;
	rc = audit_append_locked(a, actor, kind, subject, d, len, seq);
	free(d);
	return rc;
}

static bool
kind_reserved(const char *kind)
{
	static const char *const prefixes[] = { "audit.", "device.", "order.",
	    "deny." };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(kind, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

int
audit_append(struct audit *a, const char *actor, const char *kind,
    const char *subject, const struct audit_field *f, size_t n, uint64_t *seq)
{
	int rc;

	if (kind != NULL && kind_reserved(kind))
		return audit_fail(a, "event kind '%s' is reserved", kind);
	/* In a batch one event is one INSERT: atomic by itself, and the head
	 * advances only after it succeeded; no savepoint needed. */
	if (a->batch)
		return audit_append_fields(a, actor, kind, subject, f, n, seq);
	if (audit_tx_begin(a) != 0)
		return -1;
	rc = audit_append_fields(a, actor, kind, subject, f, n, seq);
	return audit_tx_end(a, rc);
}

int
audit_head(struct audit *a, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN],
    uint64_t *sealed)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (!a->in_tx) {
		if (sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			return audit_sqlfail(a, "cannot read the log");
		if (load_head(a) != 0)
			goto cleanup;
	}
	if (seq)
		*seq = a->head_seq;
	if (hash)
		memcpy(hash, a->head_hash, AUDIT_HASH_LEN);
	if (sealed) {
		*sealed = 0;
		if (sqlite3_prepare_v2(a->db, "SELECT max(head_seq) FROM "
		    "checkpoints", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			audit_sqlfail(a, "cannot read the checkpoints");
			goto cleanup;
		}
		*sealed = (uint64_t)sqlite3_column_int64(st, 0);
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	if (!a->in_tx)
		sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}
