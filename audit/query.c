/*
 * query.c: the audit signer, and reading events and checkpoints back for
 * `station audit show`, reports and anchors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "audit/internal.h"

static int
record_key(struct audit *a, const char *pem, const uint8_t key_id[32],
    const char *actor)
{
	struct audit_field f[2] = {
		{ "key_id", key_id, AUDIT_HASH_LEN },
		{ "public_key_pem", pem, strlen(pem) },
	};
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (audit_tx_begin(a) != 0)
		return -1;
	if (sqlite3_prepare_v2(a->db, "INSERT OR IGNORE INTO audit_keys (key_id, "
	    "pem, added_us) VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot record the audit key");
		goto cleanup;
	}
	sqlite3_bind_blob(st, 1, key_id, AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pem, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, audit_now(a));
	if ((step = sqlite3_step(st)) != SQLITE_DONE) {
		audit_sqlfail(a, "cannot record the audit key");
		goto cleanup;
	}
	if (sqlite3_changes(a->db) == 0)
		rc = 0;  /* known already */
	else
		rc = audit_append_fields(a, actor, "audit.key", a->station_id, f,
		    2, NULL);
cleanup:
	sqlite3_finalize(st);
	return audit_tx_end(a, rc);
}

int
audit_set_signer(struct audit *a, audit_sign_fn *sign, void *ctx,
    const char *pubkey_pem, const char *actor)
{
	uint8_t key_id[AUDIT_HASH_LEN], digest[AUDIT_HASH_LEN];
	uint8_t sig[AUDIT_SIG_MAX];
	size_t sig_len = sizeof(sig);
	char kerr[AUDIT_ERR_MAX];
	void *key;
	char *pem = NULL;
	int ret = -1;

	if (sign == NULL || pubkey_pem == NULL)
		return audit_fail(a, "audit signer: no signing function or key");
	if ((key = audit_key_load(pubkey_pem, key_id, kerr)) == NULL)
		return audit_fail(a, "audit key: %s", kerr);
	/* A test signature: a wrong key or a broken signer shows now, not at
	 * the first checkpoint, hundreds of devices later. */
	if (RAND_bytes(digest, sizeof(digest)) != 1 ||
	    sign(ctx, digest, sig, &sig_len) != 0 || sig_len == 0 ||
	    sig_len > sizeof(sig) ||
	    audit_sig_to_der(key, sig, &sig_len, sizeof(sig)) != 0 ||
	    audit_sig_check(key, digest, sig, sig_len) != 0) {
		audit_fail(a, "the audit signer's test signature does not verify "
		    "under the given public key");
		goto cleanup;
	}
	if ((pem = strdup(pubkey_pem)) == NULL) {
		audit_fail(a, "out of memory");
		goto cleanup;
	}
	if (record_key(a, pubkey_pem, key_id, actor ? actor : "station") != 0)
		goto cleanup;
	free(a->sign_pem);
	a->sign_pem = pem;
	pem = NULL;
	a->sign = sign;
	a->sign_ctx = ctx;
	memcpy(a->sign_key_id, key_id, AUDIT_HASH_LEN);
	ret = 0;
cleanup:
	free(pem);
	audit_key_free(key);
	return ret;
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

int
audit_events(struct audit *a, const struct audit_filter *f,
    int (*cb)(void *ctx, const struct audit_event *e), void *ctx)
{
	static const struct audit_filter none;
	sqlite3_stmt *st = NULL;
	char kind[AUDIT_KIND_MAX + 2];
	int rc, ret = -1;
	size_t kl;

	if (f == NULL)
		f = &none;
	if (sqlite3_prepare_v2(a->db, "SELECT seq, time_us, actor, kind, "
	    "subject, details, hash FROM events WHERE "
	    "(?1 = 0 OR time_us >= ?1) AND (?2 = 0 OR time_us < ?2) AND "
	    "(?3 IS NULL OR kind = ?3 OR (?4 AND substr(kind, 1, length(?3)) = ?3))"
	    " AND (?5 IS NULL OR subject = ?5) AND (?6 IS NULL OR actor = ?6) "
	    "ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the log");
	sqlite3_bind_int64(st, 1, f->since_us);
	sqlite3_bind_int64(st, 2, f->until_us);
	if (f->kind != NULL) {
		kl = strlen(f->kind);
		if (kl > AUDIT_KIND_MAX) {
			audit_fail(a, "kind filter too long");
			goto cleanup;
		}
		memcpy(kind, f->kind, kl + 1);
		if (kl > 0 && kind[kl - 1] == '*') {
			kind[kl - 1] = '\0';
			sqlite3_bind_int(st, 4, 1);
		} else {
			sqlite3_bind_int(st, 4, 0);
		}
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
	}
	if (f->subject)
		sqlite3_bind_text(st, 5, f->subject, -1, SQLITE_STATIC);
	if (f->actor)
		sqlite3_bind_text(st, 6, f->actor, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		static const uint8_t zero[AUDIT_HASH_LEN];
		struct audit_event e = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.time_us = sqlite3_column_int64(st, 1),
			.actor = col_text(st, 2), .kind = col_text(st, 3),
			.subject = col_text(st, 4),
			.details = sqlite3_column_blob(st, 5),
			.details_len = (size_t)sqlite3_column_bytes(st, 5),
			.hash = sqlite3_column_blob(st, 6),
		};
		int r;

		if (sqlite3_column_bytes(st, 6) != AUDIT_HASH_LEN)
			e.hash = zero;
		if ((r = cb(ctx, &e)) != 0) {
			ret = r;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE) {
		audit_sqlfail(a, "cannot read the log");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* Fills ${c} from a row (head_seq, event_count, head_hash, time_us,
 * station_id, key_id, signature); -1 if a column has the wrong shape. */
static int
checkpoint_row(sqlite3_stmt *st, struct audit_checkpoint *c)
{
	const char *sid = col_text(st, 4);

	memset(c, 0, sizeof(*c));
	if (sqlite3_column_bytes(st, 2) != AUDIT_HASH_LEN ||
	    sqlite3_column_bytes(st, 5) != AUDIT_HASH_LEN ||
	    sqlite3_column_bytes(st, 6) > AUDIT_SIG_MAX ||
	    strlen(sid) > AUDIT_STATION_ID_MAX)
		return -1;
	c->head_seq = (uint64_t)sqlite3_column_int64(st, 0);
	c->event_count = (uint64_t)sqlite3_column_int64(st, 1);
	memcpy(c->head_hash, sqlite3_column_blob(st, 2), AUDIT_HASH_LEN);
	c->time_us = sqlite3_column_int64(st, 3);
	strcpy(c->station_id, sid);
	memcpy(c->key_id, sqlite3_column_blob(st, 5), AUDIT_HASH_LEN);
	c->sig_len = (size_t)sqlite3_column_bytes(st, 6);
	if (c->sig_len)
		memcpy(c->sig, sqlite3_column_blob(st, 6), c->sig_len);
	return 0;
}

static int
each_checkpoint(struct audit *a, const char *order,
    int (*cb)(void *ctx, const struct audit_checkpoint *c), void *ctx)
{
	struct audit_checkpoint c;
	sqlite3_stmt *st = NULL;
	char sql[256];
	int rc, r, ret = -1;

	snprintf(sql, sizeof(sql), "SELECT head_seq, event_count, head_hash, "
	    "time_us, station_id, key_id, signature FROM checkpoints ORDER BY "
	    "head_seq %s", order);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot read the checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (checkpoint_row(st, &c) != 0) {
			audit_fail(a, "checkpoint %lld is damaged; run 'station "
			    "audit verify'", sqlite3_column_int64(st, 0));
			goto cleanup;
		}
		if ((r = cb(ctx, &c)) != 0) {
			ret = r;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE) {
		audit_sqlfail(a, "cannot read the checkpoints");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

int
audit_checkpoints(struct audit *a,
    int (*cb)(void *ctx, const struct audit_checkpoint *c), void *ctx)
{
	return each_checkpoint(a, "ASC", cb, ctx);
}

static int
take_first(void *ctx, const struct audit_checkpoint *c)
{
	*(struct audit_checkpoint *)ctx = *c;
	return 2;
}

int
audit_checkpoint_latest(struct audit *a, struct audit_checkpoint *c)
{
	int rc = each_checkpoint(a, "DESC", take_first, c);

	if (rc == 2)
		return 0;
	return rc == 0 ? 1 : -1;
}
