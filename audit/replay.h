/*
 * replay.h: rebuilding the inventory from the events (private to audit/).
 * The verifier feeds every event in order to audit_replay_event(); the
 * rebuilt devices, certificate serials, orders and deny list live in TEMP
 * tables of the verifier's read-only connection, and
 * audit_replay_compare() checks the database's own tables against them.
 */
#ifndef AUDIT_REPLAY_H
#define AUDIT_REPLAY_H

#include "audit/internal.h"

struct replay {
	sqlite3 *db;
	sqlite3_stmt *get, *ins, *upd, *cert, *order_get, *order_ins,
	    *deny_ins, *deny_del;
	char err[AUDIT_ERR_MAX];
	uint64_t bad_seq;
};

/* audit_replay_init(rp, db): create the TEMP tables and statements. */
int audit_replay_init(struct replay *rp, sqlite3 *db);

/* audit_replay_event(rp, e): apply ${e}; -1 and rp->err if it could not
 * have been written by this module (illegal transition, missing detail,
 * reused serial, ...). */
int audit_replay_event(struct replay *rp, const struct audit_event *e);

/* audit_replay_compare(rp, devices): -1 and rp->err, rp->bad_seq at the
 * first difference; else 0 and the number of devices matched. */
int audit_replay_compare(struct replay *rp, uint64_t *devices);

void audit_replay_free(struct replay *rp);

#endif
