/*
 * revoke.h: revocation reasons, shared by `station revoke` (cmd_revoke.c)
 * and `station crl` (cmd_crl.c).
 *
 * A device's revocation reason is text in the audit log. When it starts
 * with one of RFC 5280's CRLReason names ("keyCompromise", or
 * "keyCompromise: stolen from the line"), the CRL entry carries that
 * reasonCode; otherwise (e.g. the recovery's own reasons) the entry has
 * none, as RFC 5280 5.3.1 prefers to "unspecified".
 */
#ifndef STATION_REVOKE_H
#define STATION_REVOKE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/bio.h>

#include "station/station_audit.h"

/*
 * revoke_reason_code(reason, officer): the CRL reasonCode that ${reason}
 * names, or -1 if none. ${officer}: only the names an officer may give
 * to `station revoke` (not certificateHold, removeFromCRL or the CA and
 * AA compromises, which are not about one device).
 */
int revoke_reason_code(const char *reason, bool officer);

/* revoke_reason_names: the names `station revoke` accepts, for messages. */
extern const char revoke_reason_names[];

/*
 * crl_make_pem(cfg, sa, ca, days, pem, number, entries): what `station
 * crl` does, for another verb's session ${sa} (the export): the CRL of
 * every revoked device under the sub-CA ${ca}, next CRL number, recorded
 * (crl.issued), as PEM appended to ${pem}; its number and entry count.
 * 0 or -1 (reported).
 */
int crl_make_pem(const struct station_config *cfg, struct station_audit *sa,
    struct hsm_ca *ca, unsigned days, BIO *pem, uint64_t *number,
    size_t *entries);

#endif
