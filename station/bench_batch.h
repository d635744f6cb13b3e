/*
 * bench_batch.h: `station run --batch ID` (bench_batch.c): the bench
 * loop handing out identities of an imported batch (docs/BATCHES.md)
 * instead of allocating its own. Private to run.c and bench*.c.
 */
#ifndef STATION_BENCH_BATCH_H
#define STATION_BENCH_BATCH_H

#include "station/batch.h"
#include "station/bench_steps.h"
#include "station/issue.h"

/*
 * bench_batch_terms(a, batch_id, terms, err): what a batch run stamps
 * under, from the batch's events: the generator's order id and product,
 * key mode "batch", claim mode "user", quantity = the batch's count.
 * 0; 1 if the batch was not imported here or has nothing left (${err}
 * says which); -1.
 */
int bench_batch_terms(struct audit *a, const char *batch_id,
    struct order *terms, char err[static BATCH_ERR_MAX]);

/*
 * bench_batch_chain(home, batch_id, der, len): the issuing sub-CA's
 * certificate kept at import (HOME/batches/ID.ca.pem) as DER
 * (OPENSSL_malloc'ed). 0 or -1 (reported).
 */
int bench_batch_chain(const char *home, const char *batch_id, uint8_t **der,
    size_t *len);

/*
 * bench_batch_take(b, r, info, k, cert, len, hex): under b->db: the next
 * identity of b->batch_id for the device of ${info} (batch_take_next):
 * serial and claim into ${r}, the key sealed to the device into ${k}, the
 * certificate into ${cert}/${len} and its serial into ${hex}. 0, or -1
 * (reason in ${r}; none left stops the run).
 */
int bench_batch_take(struct bench *b, struct bench_result *r,
    const struct flasher_info *info, struct bench_key *k,
    uint8_t cert[static HSM_CERT_MAX], size_t *len,
    char hex[static ISSUE_CERT_SERIAL_MAX]);

/*
 * bench_batch_unused(a, actor, d, why, batch_id): device ${d}, an identity
 * taken from an imported batch whose stamp never became active, is
 * recorded for the issuing station (whose sub-CA signed its certificate,
 * so only it can revoke it): event batch.unused (subject "batch:ID":
 * serial, cert_serial, why); the batch's id into ${batch_id}. 0 or -1.
 */
int bench_batch_unused(struct audit *a, const char *actor,
    const struct audit_device *d, const char *why,
    char batch_id[static BATCH_ID_MAX + 1]);

/* bench_batch_row(d): 1 if ${d} is an identity taken here from an
 * imported batch (key mode batch, no order of this station), 2 if it is
 * one this station generated for a batch (key mode batch with its
 * order), 0 otherwise. */
int bench_batch_row(const struct audit_device *d);

#endif
