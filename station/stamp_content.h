/*
 * stamp_content.h: the stamp a bench device receives (stamp_content.c):
 * every record of stamp-format/SPEC.md 1.3 that applies to it, its
 * secrets sealed to the device's transport key, signed by the station's
 * stamp key in the HSM.
 */
#ifndef STATION_STAMP_CONTENT_H
#define STATION_STAMP_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "stamp-format/stamp.h"

#define STAMP_CONTENT_ERR_MAX 256
#define STAMP_CONTENT_TOKEN_LEN 32     /* provisioning token bytes */
#define STAMP_CONTENT_POP_LEN 32       /* proof-of-possession secret */

/* What goes into one device's stamp. Text is NUL-terminated; NULL or ""
 * leaves an optional record out. */
struct stamp_content {
	const uint8_t *hardware_id;
	size_t hardware_id_len;
	const uint8_t *transport;      /* the device's 65-byte point */
	uint32_t generation;
	unsigned write_unit;           /* 16 or 32 */
	const char *serial, *claim_id, *product, *manufacturer, *model;
	const char *hw_revision, *station_id, *order_id, *barcode;
	uint64_t time;                 /* seconds since 1970 */
	const uint8_t *cert;           /* the device certificate, DER */
	size_t cert_len;
	const uint8_t *chain;          /* the sub-CA certificate, DER */
	size_t chain_len;
	/* the key record: device mode names the key on the device
	 * (KEY_REFERENCE); token and host modes carry it sealed
	 * (WRAPPED_DEVICE_KEY, E || C as the token or seal.c made it). */
	const char *key_reference;
	const uint8_t *wrapped_key;
	size_t wrapped_key_len;
	const uint8_t *token;          /* provisioning token */
	size_t token_len;
	const uint8_t *pop;            /* NULL: no POP_SECRET */
	size_t pop_len;
	const uint8_t *app_key;        /* NULL: no APP_PUBLIC_KEY (SPKI DER) */
	size_t app_key_len;
	uint8_t claim_mode;            /* STAMP_CLAIM_USER or _PRE */
};

/*
 * stamp_content_build(c, h, signer, out, cap, len, digest, err): the image of
 * ${c} into ${out} (${cap} bytes), signed through hsm_sign_rs by
 * ${signer} (the stamp key, in ${h}); its length in ${len} and its INTEGRITY
 * digest in ${digest} (what the commit request names). 0, or -1 and why.
 */
int stamp_content_build(const struct stamp_content *c, struct hsm *h,
    struct hsm_key *signer,
    uint8_t *out, size_t cap, size_t *len, uint8_t digest[static 32],
    char err[static STAMP_CONTENT_ERR_MAX]);

#endif
