/*
 * seal.h: the host side of sealed secrets (stamp-format/SPEC.md section
 * 2), on OpenSSL, next to the token side in hsm/.
 *
 * "Sealed to X" always means the SPEC.md section 2 format, E || C, with X
 * as the recipient: to a device's transport key for the SECRET records of
 * a stamp, and to a station's transport key (its token key with
 * CKA_DERIVE, [pki] transport_key) for device keys made ahead of time in
 * batches; the record type in the KEK context is the record the value is
 * for (WRAPPED_DEVICE_KEY for keys). The station re-wraps the latter
 * inside its token (hsm_rewrap_sealed) without ever holding them.
 */
#ifndef STATION_SEAL_H
#define STATION_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "stamp-format/stamp.h"
#include "station/config.h"

#define SEAL_ERR_MAX 256

/* What a host key mode key leaves for the audit log (besides the
 * certificate): the mode, named, and the key's fingerprint. */
#define SEAL_HOST_MODE_NOTE "host key mode (development only): the device " \
	"private key was generated in host memory, not in the token"

/*
 * seal_context_key(arg, eph, context): an hsm_seal_context_fn for device
 * keys: stamp_secret_context(eph, recipient, WRAPPED_DEVICE_KEY), ${arg}
 * the recipient's 65-byte point (a device's or a station's transport key).
 */
int seal_context_key(void *arg, const uint8_t eph[65], uint8_t context[32]);

/*
 * seal_value(recipient, type, plaintext, len, out, cap, out_len, err):
 * ${plaintext} sealed to ${recipient} for a record of ${type}: E || C in
 * ${out} (65 + 8 * ceil(len / 8) + 8 bytes). A fresh ephemeral key per
 * call; Z and the KEK are wiped. 0, or -1 with ${err}.
 */
int seal_value(const uint8_t recipient[static 65], uint16_t type,
    const uint8_t *plaintext, size_t len, uint8_t *out, size_t cap,
    size_t *out_len, char err[static SEAL_ERR_MAX]);

/*
 * seal_add_secret(b, type, plaintext, len, transport, err): a SECRET
 * record (CRITICAL) holding ${plaintext} (provisioning token,
 * proof-of-possession secret, claim id) sealed to the device's
 * ${transport} key, appended to the stamp being built. 0 or -1.
 */
int seal_add_secret(struct stamp_builder *b, uint16_t type,
    const uint8_t *plaintext, size_t len, const uint8_t transport[static 65],
    char err[static SEAL_ERR_MAX]);

/*
 * seal_add_sealed(b, type, sealed, len, err): a SECRET record (CRITICAL)
 * whose value was sealed elsewhere (the token: hsm_keygen_sealed,
 * hsm_rewrap_sealed). 0 or -1.
 */
int seal_add_sealed(struct stamp_builder *b, uint16_t type,
    const uint8_t *sealed, size_t len, char err[static SEAL_ERR_MAX]);

/*
 * seal_host_keygen(mode, transport, pub, sealed, cap, sealed_len,
 * fingerprint, err): the development-only host key mode: a P-256 device
 * key made with OpenSSL in this process, its PKCS#8 sealed to the device's
 * ${transport} key (the plaintext is wiped at once), its public key in
 * ${*pub} (caller frees) and the SHA-256 of its SubjectPublicKeyInfo in
 * ${fingerprint}. Refused unless ${mode} is STATION_MODE_DEVELOPMENT. The
 * caller records SEAL_HOST_MODE_NOTE and the fingerprint in the audit log
 * with the device. 0, or -1 with ${err}.
 */
int seal_host_keygen(enum station_mode mode, const uint8_t transport[static 65],
    X509_PUBKEY **pub, uint8_t *sealed, size_t cap, size_t *sealed_len,
    uint8_t fingerprint[static 32], char err[static SEAL_ERR_MAX]);

#endif
