/*
 * seal.c: checkpoints. When a transaction is about to commit with at least
 * checkpoint_every events unsealed and a signer set, a checkpoint over its
 * head (station id, head seq, count, head hash, time, key id; encoded as
 * docs/AUDIT.md says) is signed through the caller's callback and stored
 * in that same transaction, so the events and their seal cost one fsync.
 * If signing fails the events still commit, unsealed, and the next commit
 * retries; audit_checkpoint() seals at once (session end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"

static int
sign_checkpoint(struct audit *a, struct audit_checkpoint *c)
{
	uint8_t digest[AUDIT_HASH_LEN], key_id[AUDIT_HASH_LEN], *msg = NULL;
	char kerr[AUDIT_ERR_MAX];
	size_t len;
	void *key = NULL;
	int ret = -1;

	if (audit_checkpoint_message(c, &msg, &len) != 0)
		return audit_fail(a, "cannot encode the checkpoint");
	audit_sha256(msg, len, digest);
	c->sig_len = sizeof(c->sig);
	if (a->sign(a->sign_ctx, digest, c->sig, &c->sig_len) != 0 ||
	    c->sig_len == 0 || c->sig_len > sizeof(c->sig)) {
		audit_fail(a, "the audit key did not sign the checkpoint");
		goto cleanup;
	}
	if ((key = audit_key_load(a->sign_pem, key_id, kerr)) == NULL) {
		audit_fail(a, "audit key: %s", kerr);
		goto cleanup;
	}
	if (audit_sig_to_der(key, c->sig, &c->sig_len, sizeof(c->sig)) != 0 ||
	    audit_sig_check(key, digest, c->sig, c->sig_len) != 0) {
		audit_fail(a, "the checkpoint signature does not verify under "
		    "the audit public key (wrong key or signer?)");
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(msg);
	audit_key_free(key);
	return ret;
}

/*
 * Seals the head inside the open transaction if it is not sealed yet (and,
 * with ${only_if_due}, if checkpoint_every events wait); 0 if nothing to
 * do. Signing writes nothing, so a failed signature leaves the transaction
 * as it was.
 */
static int
seal_locked(struct audit *a, bool only_if_due)
{
	struct audit_checkpoint c;
	sqlite3_stmt *st = NULL;
	uint64_t sealed;
	int ret = -1;

	if (a->sign == NULL)
		return audit_fail(a, "no audit signer set; cannot seal the log");
	if (sqlite3_prepare_v2(a->db, "SELECT coalesce(max(head_seq), 0) FROM "
	    "checkpoints", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		audit_sqlfail(a, "cannot read the checkpoints");
		goto cleanup;
	}
	sealed = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (a->head_seq <= sealed || (only_if_due && a->head_seq - sealed <
	    a->checkpoint_every))
		return 0;
	memset(&c, 0, sizeof(c));
	strcpy(c.station_id, a->station_id);
	c.head_seq = a->head_seq;
	c.event_count = a->head_seq;
	memcpy(c.head_hash, a->head_hash, AUDIT_HASH_LEN);
	c.time_us = audit_now(a);
	memcpy(c.key_id, a->sign_key_id, AUDIT_HASH_LEN);
	if (sign_checkpoint(a, &c) != 0)
		goto cleanup;
	if (sqlite3_prepare_v2(a->db, "INSERT INTO checkpoints (head_seq, "
	    "event_count, head_hash, time_us, station_id, key_id, signature) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot store the checkpoint");
		goto cleanup;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)c.head_seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)c.event_count);
	sqlite3_bind_blob(st, 3, c.head_hash, AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, c.time_us);
	sqlite3_bind_text(st, 5, c.station_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, c.key_id, AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, c.sig, (int)c.sig_len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		audit_sqlfail(a, "cannot store the checkpoint");
		goto cleanup;
	}
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* A due checkpoint goes into the transaction being committed; when it
 * fails, the events are committed all the same, unsealed, and the next
 * commit tries again. */
void
audit_seal_due(struct audit *a)
{
	char keep[AUDIT_ERR_MAX];

	if (a->sign == NULL)
		return;
	memcpy(keep, a->err, sizeof(keep));
	if (seal_locked(a, true) != 0) {
		a->cp_failed = true;
		snprintf(a->cp_err, sizeof(a->cp_err), "%s", a->err);
	} else {
		a->cp_failed = false;
	}
	memcpy(a->err, keep, sizeof(keep));
}

int
audit_checkpoint(struct audit *a)
{
	int rc;

	if (a->batch)
		return audit_fail(a, "commit the open batch first");
	if (a->sign == NULL)
		return audit_fail(a, "no audit signer set; cannot seal the log");
	if (audit_tx_open(a) != 0)
		return -1;
	rc = seal_locked(a, false);
	a->in_tx = false;
	if (rc == 0 && sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		rc = audit_sqlfail(a, "cannot commit the checkpoint");
	if (rc != 0)
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
