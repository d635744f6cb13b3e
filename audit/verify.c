/*
 * verify.c: audit_verify(), what `station audit verify` runs on an
 * officer's laptop with nothing but the database and the audit public key.
 *
 * It never writes the database (read-only connection; its scratch tables
 * are TEMP) and trusts nothing in it: every column's type and length is
 * checked before use. In order:
 *   1. the schema version and the append-only triggers, word for word;
 *   2. one pass over the events in sequence: numbering from 1 without gaps,
 *      the hash chain, canonical details, the checkpoints' head hashes and
 *      the anchor's head as they go by, and the replay of every device,
 *      order and deny-list event into TEMP tables (replay.c);
 *   3. every checkpoint's signature, station id and count;
 *   4. the anchor: its signature, and that the log still reaches its head;
 *   5. the inventory: devices, certificate serials, orders and the deny
 *      list must be exactly what the replay built.
 * The first problem is reported, with the event it concerns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit/internal.h"
#include "audit/replay.h"

#define KEYS_MAX 16

struct verifier {
	sqlite3 *db;
	struct audit_verify_result *r;
	struct replay rp;
	char station_id[AUDIT_STATION_ID_MAX + 1];
	struct audit_checkpoint *cps;
	size_t ncps;
	void *given[KEYS_MAX];            /* from --key; none: n_given 0 */
	uint8_t given_ids[KEYS_MAX][AUDIT_HASH_LEN];
	size_t n_given;
	void *keys[KEYS_MAX];             /* from audit.key events */
	uint8_t key_ids[KEYS_MAX][AUDIT_HASH_LEN];
	size_t nkeys;
	const struct audit_checkpoint *anchor;
	bool anchor_hash_ok;
	bool busy;                        /* locked by a writer: no verdict */
};

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bad(v, seq, fmt, ...): record the first problem; returns -1. */
static int bad(struct verifier *v, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
bad(struct verifier *v, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (v->r->verdict == AUDIT_TAMPERED)
		return -1;
	v->r->verdict = AUDIT_TAMPERED;
	v->r->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->r->problem, sizeof(v->r->problem), fmt, ap);
	va_end(ap);
	return -1;
}

static int
check_schema(struct verifier *v)
{
	sqlite3_stmt *st = NULL;
	size_t found = 0;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(v->db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		rc = sqlite3_errcode(v->db);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			v->busy = true;
			snprintf(v->r->problem, sizeof(v->r->problem),
			    "the database stayed locked by another process "
			    "for 10 s; try again");
			goto cleanup;
		}
		bad(v, 0, "not a readable SQLite database: %s",
		    sqlite3_errmsg(v->db));
		goto cleanup;
	}
	if (sqlite3_column_int(st, 0) != AUDIT_SCHEMA_VERSION) {
		bad(v, 0, "schema version %d, expected %d", sqlite3_column_int(st,
		    0), AUDIT_SCHEMA_VERSION);
		goto cleanup;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(v->db, "SELECT sql FROM sqlite_master WHERE type "
	    "= 'trigger'", -1, &st, NULL) != SQLITE_OK) {
		bad(v, 0, "cannot read the schema: %s", sqlite3_errmsg(v->db));
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 0);
		size_t i;

		for (i = 0; i < audit_ntriggers; i++)
			if (sql && strcmp(sql, audit_triggers[i]) == 0)
				break;
		if (i == audit_ntriggers) {
			bad(v, 0, "unexpected trigger in the schema: %.80s",
			    sql ? sql : "(null)");
			goto cleanup;
		}
		found++;
	}
	if (rc != SQLITE_DONE || found != audit_ntriggers) {
		bad(v, 0, "append-only triggers missing or altered (%zu of %zu "
		    "found)", found, audit_ntriggers);
		goto cleanup;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(v->db, "SELECT station_id, (SELECT count(*) FROM "
	    "station) FROM station WHERE id = 1", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_type(st, 0) != SQLITE_TEXT ||
	    sqlite3_column_bytes(st, 0) > AUDIT_STATION_ID_MAX ||
	    sqlite3_column_int(st, 1) != 1) {
		bad(v, 0, "the station identity is missing or damaged");
		goto cleanup;
	}
	strcpy(v->station_id, (const char *)sqlite3_column_text(st, 0));
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

static int
load_checkpoints(struct verifier *v)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;
	size_t cap = 0;

	if (sqlite3_prepare_v2(v->db, "SELECT head_seq, event_count, head_hash, "
	    "time_us, station_id, key_id, signature, typeof(head_seq), "
	    "typeof(event_count), typeof(time_us), typeof(station_id) FROM "
	    "checkpoints ORDER BY head_seq", -1, &st, NULL) != SQLITE_OK)
		return bad(v, 0, "cannot read the checkpoints: %s",
		    sqlite3_errmsg(v->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct audit_checkpoint *c;
		int64_t head = sqlite3_column_int64(st, 0);

		if (v->ncps == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			void *p = realloc(v->cps, ncap * sizeof(*v->cps));

			if (p == NULL) {
				bad(v, 0, "out of memory");
				goto cleanup;
			}
			v->cps = p;
			cap = ncap;
		}
		c = &v->cps[v->ncps];
		memset(c, 0, sizeof(*c));
		if (strcmp((const char *)sqlite3_column_text(st, 7), "integer") ||
		    strcmp((const char *)sqlite3_column_text(st, 8), "integer") ||
		    strcmp((const char *)sqlite3_column_text(st, 9), "integer") ||
		    strcmp((const char *)sqlite3_column_text(st, 10), "text") ||
		    sqlite3_column_type(st, 2) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 2) != AUDIT_HASH_LEN ||
		    sqlite3_column_type(st, 5) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 5) != AUDIT_HASH_LEN ||
		    sqlite3_column_type(st, 6) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 6) > AUDIT_SIG_MAX ||
		    sqlite3_column_bytes(st, 4) > AUDIT_STATION_ID_MAX ||
		    head < 1) {
			bad(v, head > 0 ? (uint64_t)head : 0, "checkpoint at "
			    "event %lld is malformed", (long long)head);
			goto cleanup;
		}
		c->head_seq = (uint64_t)head;
		c->event_count = (uint64_t)sqlite3_column_int64(st, 1);
		memcpy(c->head_hash, sqlite3_column_blob(st, 2), AUDIT_HASH_LEN);
		c->time_us = sqlite3_column_int64(st, 3);
		memcpy(c->station_id, sqlite3_column_text(st, 4),
		    (size_t)sqlite3_column_bytes(st, 4));
		memcpy(c->key_id, sqlite3_column_blob(st, 5), AUDIT_HASH_LEN);
		c->sig_len = (size_t)sqlite3_column_bytes(st, 6);
		if (c->sig_len)
			memcpy(c->sig, sqlite3_column_blob(st, 6), c->sig_len);
		v->ncps++;
	}
	if (rc != SQLITE_DONE) {
		bad(v, 0, "cannot read the checkpoints: %s", sqlite3_errmsg(v->db));
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* An audit.key event: remember the key it introduces. */
static int
learn_key(struct verifier *v, const struct audit_event *e)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	uint8_t id[AUDIT_HASH_LEN];
	char err[AUDIT_ERR_MAX], *pem;
	size_t n;
	void *key;

	if (audit_details_parse(e->details, e->details_len, d, AUDIT_FIELDS_MAX,
	    &n) != 0 || n != 2 || strcmp(d[0].key, "key_id") != 0 ||
	    d[0].len != AUDIT_HASH_LEN || strcmp(d[1].key, "public_key_pem"))
		return bad(v, e->seq, "event %llu (audit.key): malformed details",
		    (unsigned long long)e->seq);
	if ((pem = strndup((const char *)d[1].value, d[1].len)) == NULL)
		return bad(v, e->seq, "out of memory");
	key = audit_key_load(pem, id, err);
	free(pem);
	if (key == NULL || memcmp(id, d[0].value, AUDIT_HASH_LEN) != 0) {
		audit_key_free(key);
		return bad(v, e->seq, "event %llu (audit.key): the key does not "
		    "match its id", (unsigned long long)e->seq);
	}
	if (v->nkeys == KEYS_MAX) {
		audit_key_free(key);
		return 0;
	}
	v->keys[v->nkeys] = key;
	memcpy(v->key_ids[v->nkeys++], id, AUDIT_HASH_LEN);
	return 0;
}

static bool
text_column(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_TEXT &&
	    strlen((const char *)sqlite3_column_text(st, i)) ==
	    (size_t)sqlite3_column_bytes(st, i);
}

static int
one_event(struct verifier *v, const struct audit_event *e, uint8_t *prev,
    size_t *cp)
{
	uint8_t h[AUDIT_HASH_LEN];

	if (audit_event_hash(prev, e, h) != 0)
		return bad(v, e->seq, "event %llu cannot be hashed",
		    (unsigned long long)e->seq);
	if (memcmp(h, e->hash, AUDIT_HASH_LEN) != 0)
		return bad(v, e->seq, "event %llu: hash does not match its "
		    "contents and the event before it (edited, inserted, deleted "
		    "or reordered)", (unsigned long long)e->seq);
	memcpy(prev, h, AUDIT_HASH_LEN);
	while (*cp < v->ncps && v->cps[*cp].head_seq == e->seq) {
		if (memcmp(v->cps[*cp].head_hash, h, AUDIT_HASH_LEN) != 0)
			return bad(v, e->seq, "checkpoint at event %llu names "
			    "another head hash than the log has (the sealed log "
			    "was rewritten)", (unsigned long long)e->seq);
		(*cp)++;
	}
	if (v->anchor && v->anchor->head_seq == e->seq) {
		if (memcmp(v->anchor->head_hash, h, AUDIT_HASH_LEN) != 0)
			return bad(v, e->seq, "event %llu differs from the "
			    "anchor's head: the log was rewritten or rolled back "
			    "and regrown", (unsigned long long)e->seq);
		v->anchor_hash_ok = true;
	}
	if (e->seq == 1 && (strcmp(e->kind, "audit.created") != 0 ||
	    strcmp(e->subject, v->station_id) != 0))
		return bad(v, 1, "event 1 is not the creation of station '%s'",
		    v->station_id);
	if (strncmp(e->kind, "audit.", 6) == 0) {
		if (strcmp(e->kind, "audit.key") == 0)
			return learn_key(v, e);
		if (strcmp(e->kind, "audit.created") != 0 || e->seq != 1)
			return bad(v, e->seq, "event %llu: unexpected %s",
			    (unsigned long long)e->seq, e->kind);
		return 0;
	}
	if (audit_replay_event(&v->rp, e) != 0)
		return bad(v, e->seq, "event %llu (%s %s): %s",
		    (unsigned long long)e->seq, e->kind, e->subject, v->rp.err);
	return 0;
}

static int
chain_pass(struct verifier *v)
{
	sqlite3_stmt *st = NULL;
	uint8_t prev[AUDIT_HASH_LEN] = { 0 };
	uint64_t expect = 1;
	size_t cp = 0;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(v->db, "SELECT seq, time_us, actor, kind, subject, "
	    "details, hash FROM events ORDER BY seq", -1, &st,
	    NULL) != SQLITE_OK)
		return bad(v, 0, "cannot read the events: %s",
		    sqlite3_errmsg(v->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct audit_event e;
		int64_t seq = sqlite3_column_int64(st, 0);

		if (seq < 1 || (uint64_t)seq != expect) {
			bad(v, expect, "event %llu is missing (found %lld next): "
			    "events were deleted or renumbered",
			    (unsigned long long)expect, (long long)seq);
			goto cleanup;
		}
		if (!text_column(st, 2) || !text_column(st, 3) ||
		    !text_column(st, 4) ||
		    sqlite3_column_type(st, 5) != SQLITE_BLOB ||
		    sqlite3_column_type(st, 6) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 6) != AUDIT_HASH_LEN ||
		    sqlite3_column_type(st, 1) != SQLITE_INTEGER) {
			bad(v, expect, "event %llu has a column of the wrong type "
			    "or size", (unsigned long long)expect);
			goto cleanup;
		}
		e.seq = expect;
		e.time_us = sqlite3_column_int64(st, 1);
		e.actor = (const char *)sqlite3_column_text(st, 2);
		e.kind = (const char *)sqlite3_column_text(st, 3);
		e.subject = (const char *)sqlite3_column_text(st, 4);
		e.details = sqlite3_column_blob(st, 5);
		e.details_len = (size_t)sqlite3_column_bytes(st, 5);
		e.hash = sqlite3_column_blob(st, 6);
		if (e.details == NULL)
			e.details = (const uint8_t *)"";
		if (one_event(v, &e, prev, &cp) != 0)
			goto cleanup;
		expect++;
	}
	if (rc != SQLITE_DONE) {
		bad(v, expect, "cannot read event %llu: %s",
		    (unsigned long long)expect, sqlite3_errmsg(v->db));
		goto cleanup;
	}
	v->r->events = expect - 1;
	v->r->head_seq = expect - 1;
	if (v->r->events == 0) {
		bad(v, 0, "the log is empty");
		goto cleanup;
	}
	if (cp < v->ncps) {
		bad(v, v->cps[cp].head_seq, "checkpoint at event %llu, but the "
		    "log ends at event %llu: events were cut off",
		    (unsigned long long)v->cps[cp].head_seq,
		    (unsigned long long)v->r->head_seq);
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* Finds the key for ${key_id}: the given one, or one from the log. */
static void *
key_for(struct verifier *v, const uint8_t key_id[static AUDIT_HASH_LEN])
{
	if (v->n_given) {
		for (size_t i = 0; i < v->n_given; i++)
			if (memcmp(key_id, v->given_ids[i], AUDIT_HASH_LEN) == 0)
				return v->given[i];
		return NULL;
	}
	for (size_t i = 0; i < v->nkeys; i++)
		if (memcmp(key_id, v->key_ids[i], AUDIT_HASH_LEN) == 0)
			return v->keys[i];
	return NULL;
}

static int
check_signature(struct verifier *v, const struct audit_checkpoint *c,
    const char *what)
{
	uint8_t digest[AUDIT_HASH_LEN], *msg = NULL;
	size_t len;
	void *key;
	int ok;

	if ((key = key_for(v, c->key_id)) == NULL) {
		char id[2 * AUDIT_HASH_LEN + 1];

		audit_hex(c->key_id, AUDIT_HASH_LEN, id);
		return bad(v, c->head_seq, "%s at event %llu: signed by a key %s "
		    "(key id %.16s...)", what, (unsigned long long)c->head_seq,
		    v->n_given ? "other than the one given; after a key rotation "
		    "pass both keys in --key" : "the log does not introduce", id);
	}
	if (audit_checkpoint_message(c, &msg, &len) != 0)
		return bad(v, c->head_seq, "out of memory");
	audit_sha256(msg, len, digest);
	free(msg);
	ok = audit_sig_check(key, digest, c->sig, c->sig_len) == 0;
	if (!ok)
		return bad(v, c->head_seq, "%s at event %llu: bad signature",
		    what, (unsigned long long)c->head_seq);
	return 0;
}

static int
checkpoint_pass(struct verifier *v)
{
	/* Times are signed but not required to grow: a station whose clock
	 * was set back is not evidence of an edited log. */
	for (size_t i = 0; i < v->ncps; i++) {
		const struct audit_checkpoint *c = &v->cps[i];

		if (strcmp(c->station_id, v->station_id) != 0)
			return bad(v, c->head_seq, "checkpoint at event %llu is for "
			    "station '%s', not '%s'", (unsigned long long)
			    c->head_seq, c->station_id, v->station_id);
		if (c->event_count != c->head_seq)
			return bad(v, c->head_seq, "checkpoint at event %llu counts "
			    "%llu events", (unsigned long long)c->head_seq,
			    (unsigned long long)c->event_count);
		if (check_signature(v, c, "checkpoint") != 0)
			return -1;
		v->r->checkpoints++;
		v->r->sealed_seq = c->head_seq;
	}
	return 0;
}

static int
anchor_pass(struct verifier *v)
{
	const struct audit_checkpoint *a = v->anchor;

	if (strcmp(a->station_id, v->station_id) != 0)
		return bad(v, 0, "the anchor is for station '%s', the database for "
		    "'%s'", a->station_id, v->station_id);
	if (a->event_count != a->head_seq)
		return bad(v, 0, "the anchor is malformed (count != head)");
	if (check_signature(v, a, "the anchor") != 0)
		return -1;
	if (a->head_seq > v->r->head_seq)
		return bad(v, v->r->head_seq + 1, "the log ends at event %llu but "
		    "the anchor seals event %llu: the log was truncated or rolled "
		    "back", (unsigned long long)v->r->head_seq,
		    (unsigned long long)a->head_seq);
	if (!v->anchor_hash_ok)
		return bad(v, a->head_seq, "the anchor's head was not found");
	v->r->anchor_checked = true;
	v->r->anchor_seq = a->head_seq;
	if (a->head_seq > v->r->sealed_seq)
		v->r->sealed_seq = a->head_seq;
	return 0;
}

int
audit_verify(const char *path, const char *pubkey_pem,
    const struct audit_checkpoint *anchor, struct audit_verify_result *r)
{
	struct verifier v;
	struct stat sb;
	char err[AUDIT_ERR_MAX];
	double t0;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	v.r = r;
	v.anchor = anchor;
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(r->problem, sizeof(r->problem), "cannot open %s: no such "
		    "file (check --db or --home)", path);
		return -1;
	}
	if (pubkey_pem != NULL && audit_keys_load(pubkey_pem, v.given,
	    v.given_ids, KEYS_MAX, &v.n_given, err) != 0) {
		snprintf(r->problem, sizeof(r->problem), "audit key: %s", err);
		return -1;
	}
	r->key_from_db = pubkey_pem == NULL;
	if (sqlite3_open_v2(path, &v.db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(r->problem, sizeof(r->problem), "cannot open %s: %s", path,
		    v.db ? sqlite3_errmsg(v.db) : "out of memory");
		goto cleanup;
	}
	/* The writer's last close checkpoints and removes the WAL under an
	 * exclusive lock: wait for it rather than report a busy file. */
	sqlite3_busy_timeout(v.db, 10000);
	ret = 0;
	/* One read transaction: on a running station, every step sees the
	 * same snapshot (WAL), so a device appended meanwhile is no finding. */
	sqlite3_exec(v.db, "PRAGMA temp_store = MEMORY; BEGIN", NULL, NULL,
	    NULL);
	t0 = seconds();
	if (check_schema(&v) != 0 || load_checkpoints(&v) != 0 ||
	    audit_replay_init(&v.rp, v.db) != 0) {
		if (v.rp.err[0] != '\0')
			bad(&v, 0, "%s", v.rp.err);
		goto done;
	}
	if (chain_pass(&v) != 0)
		goto done;
	r->chain_seconds = seconds() - t0;
	t0 = seconds();
	if (checkpoint_pass(&v) != 0 || (anchor && anchor_pass(&v) != 0))
		goto done;
	r->signature_seconds = seconds() - t0;
	t0 = seconds();
	if (audit_replay_compare(&v.rp, &r->devices) != 0) {
		bad(&v, v.rp.bad_seq, "%s", v.rp.err);
		goto done;
	}
	r->replay_seconds = seconds() - t0;
	r->unsealed = r->head_seq - r->sealed_seq;
done:
	if (v.busy)
		ret = -1;
	if (r->verdict == AUDIT_TAMPERED)
		r->unsealed = r->head_seq > r->sealed_seq ?
		    r->head_seq - r->sealed_seq : 0;
	sqlite3_exec(v.db, "COMMIT", NULL, NULL, NULL);
cleanup:
	audit_replay_free(&v.rp);
	sqlite3_close(v.db);
	free(v.cps);
	for (size_t i = 0; i < v.n_given; i++)
		audit_key_free(v.given[i]);
	for (size_t i = 0; i < v.nkeys; i++)
		audit_key_free(v.keys[i]);
	return ret;
}
