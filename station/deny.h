/*
 * deny.h: the deny list as the station uses it (deny.c): the names of the
 * kinds an officer may deny, and the one check the bench loop makes before
 * it allocates anything for a device.
 *
 * The list itself lives in the audit database (audit_deny_*): every
 * addition and removal is an event, replayed by `station audit verify`.
 * Three kinds are used: "hardware_id" (the chip's unique id as the device
 * reports it), "serial" and "claim_id" (identities the station gave out).
 */
#ifndef STATION_DENY_H
#define STATION_DENY_H

#include "audit/audit.h"

#define DENY_MSG_MAX 512

/*
 * deny_kind_parse(name): the stored kind for ${name} as an officer types
 * it ("hardware-id", "hardware_id", "hwid", "serial", "claim-id",
 * "claim_id"), or NULL if it names none.
 */
const char *deny_kind_parse(const char *name);

/*
 * deny_check(a, hardware_id, serial, claim_id, msg): whether any of the
 * identifiers given (NULL or "": not known) is on the deny list of ${a}.
 * 0: none is; 1: one is, and ${msg} says which, why and since when (for
 * the operator's screen and the audit log); -1: the database failed
 * (${msg} says how). The bench loop calls it with the hardware id before
 * allocating a serial, and again with the serial and claim ID it is about
 * to use.
 */
int deny_check(struct audit *a, const char *hardware_id, const char *serial,
    const char *claim_id, char msg[static DENY_MSG_MAX]);

#endif
