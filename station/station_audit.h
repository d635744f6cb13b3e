/*
 * station_audit.h: the station's audit database, opened the way every verb
 * that writes it must open it (station_audit.c).
 *
 * One place wires audit to hsm: the database named by [audit] database,
 * checkpoints every [audit] checkpoint_every events, signed through
 * hsm_sign by the HSM audit-checkpoint key (after its start-up check
 * against [pki] audit_cert), the session's actor recorded in a
 * session.started event, and at close a session.ended event sealed by a
 * checkpoint. A verb that changes the inventory opens it once, after the
 * token is open, and closes it before the token.
 */
#ifndef STATION_AUDIT_H
#define STATION_AUDIT_H

#include <stdbool.h>

#include "audit/audit.h"
#include "hsm/hsm.h"
#include "station/config.h"

struct station_audit {
	struct audit *a;
	char actor[AUDIT_ACTOR_MAX + 1];
	char verb[32];
	bool created;            /* the database was new */
};

/*
 * station_audit_actor(actor): who runs this process: "officer:" and the
 * login name of the effective user (the PIN holder of a privileged verb).
 */
void station_audit_actor(char actor[static AUDIT_ACTOR_MAX + 1]);

/*
 * station_audit_open(cfg, h, verb, create, out): open [audit] database of
 * ${cfg} (creating it only if ${create}; otherwise a missing database is
 * a usage error: run 'station init'), check that it is this station's,
 * set the checkpoint interval, set the checkpoint signer to the token
 * ${h}'s audit key, and record session.started for ${verb}. Errors are
 * reported; returns 0, -1 (failed) or -2 (not initialised / another
 * station's database: the configuration is wrong).
 */
int station_audit_open(const struct station_config *cfg, struct hsm *h,
    const char *verb, bool create, struct station_audit **out);

/*
 * station_audit_close(sa, ok): record session.ended (result ok or
 * failed), write the session-end checkpoint and close. Reports a failure
 * to seal; 0 or -1. NULL: no-op, 0.
 */
int station_audit_close(struct station_audit *sa, bool ok);

/*
 * station_audit_peek(cfg, out): the database opened read-only, for checks
 * before the PIN is asked for (nothing is written). Reports a missing
 * database ('station init') or one of another station. 0, or -1 (failed)
 * or -2 (configuration). Close with audit_close().
 */
int station_audit_peek(const struct station_config *cfg, struct audit **out);

/*
 * station_audit_pubkey_pem(file, pem): the public keys (SPKI PEM,
 * concatenated, malloc'ed) of the PEM certificates and public keys in
 * ${file}: what audit_verify takes. 0, 1 if ${file} does not exist, -1
 * (reported).
 */
int station_audit_pubkey_pem(const char *file, char **pem);

/*
 * station_lock(cfg, verb): one `station VERB` per station at a time: an
 * exclusive lock on a file beside the database (DATABASE.VERB-lock, spaces
 * as dashes), held while the descriptor is open. The descriptor, or -1
 * (reported: another one holds it, or the file cannot be opened).
 */
int station_lock(const struct station_config *cfg, const char *verb);

#endif
