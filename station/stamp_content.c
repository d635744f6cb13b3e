/*
 * stamp_content.c: builds the stamp of one bench device.
 *
 * Records go in type order (SPEC.md 1.2), CRITICAL on every record whose
 * meaning changes what the device does (identity, binding, secrets, claim
 * mode). Secrets (claim ID, provisioning token, proof-of-possession
 * secret) are sealed here with OpenSSL to the device's transport key: the
 * station knows them anyway. The device key of the token mode arrives
 * already sealed by the token and is added as it is. Never a DEVELOPMENT
 * image: a production device must accept it. The signature is made in
 * the HSM by the stamp key (r || s), its key id the SHA-256 of the
 * signer's point.
 */
#include <stdio.h>
#include <string.h>

#include "station/seal.h"
#include "station/stamp_content.h"
#include "station/stamp_crypto.h"

static void
add_text(struct stamp_builder *b, uint16_t type, uint16_t flags,
    const char *s)
{
	if (s != NULL && s[0] != '\0')
		stamp_build_add(b, type, flags, s, strlen(s));
}

/* records(c, b, err): every record but the trailer. */
static int
records(const struct stamp_content *c, struct stamp_builder *b,
    char err[static STAMP_CONTENT_ERR_MAX])
{
	const uint16_t crit = STAMP_RF_CRITICAL;
	uint8_t t[8];
	char serr[SEAL_ERR_MAX];

	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(c->time >> (8 * i));
	stamp_build_add(b, STAMP_T_HARDWARE_ID, crit, c->hardware_id,
	    c->hardware_id_len);
	add_text(b, STAMP_T_SERIAL_NUMBER, crit, c->serial);
	if (seal_add_secret(b, STAMP_T_CLAIM_ID, (const uint8_t *)c->claim_id,
	    strlen(c->claim_id), c->transport, serr) != 0)
		goto seal_failed;
	add_text(b, STAMP_T_PRODUCT_ID, 0, c->product);
	add_text(b, STAMP_T_MANUFACTURER, 0, c->manufacturer);
	add_text(b, STAMP_T_MODEL, 0, c->model);
	add_text(b, STAMP_T_HARDWARE_REVISION, 0, c->hw_revision);
	stamp_build_add(b, STAMP_T_MANUFACTURING_TIME, 0, t, sizeof(t));
	add_text(b, STAMP_T_STATION_ID, 0, c->station_id);
	add_text(b, STAMP_T_ORDER_ID, 0, c->order_id);
	stamp_build_add(b, STAMP_T_DEVICE_CERT, crit, c->cert, c->cert_len);
	if (c->chain != NULL)
		stamp_build_add(b, STAMP_T_CA_CERT, 0, c->chain, c->chain_len);
	if (c->key_reference != NULL)
		add_text(b, STAMP_T_KEY_REFERENCE, crit, c->key_reference);
	if (c->wrapped_key != NULL && seal_add_sealed(b,
	    STAMP_T_WRAPPED_DEVICE_KEY, c->wrapped_key, c->wrapped_key_len,
	    serr) != 0)
		goto seal_failed;
	if (c->pop != NULL && seal_add_secret(b, STAMP_T_POP_SECRET, c->pop,
	    c->pop_len, c->transport, serr) != 0)
		goto seal_failed;
	if (c->app_key != NULL)
		stamp_build_add(b, STAMP_T_APP_PUBLIC_KEY, 0, c->app_key,
		    c->app_key_len);
	add_text(b, STAMP_T_BARCODE_PAYLOAD, 0, c->barcode);
	if (seal_add_secret(b, STAMP_T_PROVISIONING_TOKEN, c->token,
	    c->token_len, c->transport, serr) != 0)
		goto seal_failed;
	stamp_build_add(b, STAMP_T_CLAIM_MODE, crit, &c->claim_mode, 1);
	if (b->err.code != STAMP_OK) {
		snprintf(err, STAMP_CONTENT_ERR_MAX, "stamp: %s at byte %zu "
		    "(the partition is too small for this stamp?)",
		    stamp_strerror(b->err.code), b->err.offset);
		return -1;
	}
	return 0;
seal_failed:
	snprintf(err, STAMP_CONTENT_ERR_MAX, "stamp: %s", serr);
	return -1;
}

int
stamp_content_build(const struct stamp_content *c, struct hsm *h,
    struct hsm_key *signer,
    uint8_t *out, size_t cap, size_t *len, uint8_t digest[static 32],
    char err[static STAMP_CONTENT_ERR_MAX])
{
	struct stamp_builder b;
	struct stamp_ossl o;
	struct stamp_crypto crypto;
	uint8_t key_id[32], sig[64];

	if (stamp_ossl_init(&o, NULL, NULL, &crypto) != 0 ||
	    stamp_build_begin(&b, out, cap, c->generation, 0,
	    c->write_unit) != 0) {
		snprintf(err, STAMP_CONTENT_ERR_MAX, "stamp: cannot start the "
		    "image (write unit %u)", c->write_unit);
		return -1;
	}
	if (records(c, &b, err) != 0)
		return -1;
	if (stamp_build_digest(&b, &crypto, digest) != 0) {
		snprintf(err, STAMP_CONTENT_ERR_MAX, "stamp: %s",
		    stamp_strerror(b.err.code));
		return -1;
	}
	if (hsm_key_id(signer, key_id) != 0 ||
	    hsm_sign_rs(signer, digest, sig) != 0) {
		snprintf(err, STAMP_CONTENT_ERR_MAX, "stamp signature: %s",
		    hsm_error(h));
		return -1;
	}
	if (stamp_build_sign(&b, key_id, sig, len) != 0) {
		snprintf(err, STAMP_CONTENT_ERR_MAX, "stamp: %s",
		    stamp_strerror(b.err.code));
		return -1;
	}
	return 0;
}
