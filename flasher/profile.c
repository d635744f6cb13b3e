/*
 * profile.c: the stamp DFU profile on top of the DFU transfers: read the
 * info record, ask for a CSR over a nonce, ask for an attestation over a
 * nonce, stage a stamp and read it back, commit it by digest, lock
 * (flasher.h documents each call).
 *
 * The device's replies are parsed with the stamp-format reader (info) or
 * checked for exact lengths (commit, lock) and DER framing (CSR); every
 * result the device could fake by silence is read back: a staged image is
 * uploaded and compared byte for byte, a commit is confirmed by the active
 * generation and digest the device reports, a lock by its lock state.
 * Messages name the device by port path and serial.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flasher/flasher.h"
#include "stamp-format/stamp.h"

#define INFO_MAX 8192
#define STAMP_UPLOAD_MAX (1u << 20)

static int
fail(char err[static FLASHER_ERR_MAX], const struct flasher_session *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char err[static FLASHER_ERR_MAX], const struct flasher_session *s,
    const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, FLASHER_ERR_MAX, "%s: ", flasher_session_name(s));

	if (n < 0 || n >= FLASHER_ERR_MAX)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, FLASHER_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

int
flasher_info_stamped(const struct flasher_info *info)
{
	static const uint8_t zero[32];

	return info->active_generation != 0 ||
	    memcmp(info->active_digest, zero, 32) != 0;
}

static void
copy_text(char out[65], const struct stamp_record *r)
{
	size_t n = r->length < 64 ? r->length : 64;

	memcpy(out, r->value, n);
	out[n] = '\0';
}

int
flasher_parse_info(const uint8_t *buf, size_t len, struct flasher_info *info,
    char err[static FLASHER_ERR_MAX])
{
	struct stamp_error e;
	struct stamp_cursor c;
	struct stamp_record r;
	struct stamp_msg m;

	memset(info, 0, sizeof(*info));
	info->locked = -1;
	if (stamp_msg_read(&m, STAMP_MAGIC_INFO, buf, len, &e) != 0) {
		snprintf(err, FLASHER_ERR_MAX, "info record (%zu bytes) is invalid: "
		    "%s at offset %zu", len, stamp_strerror(e.code), e.offset);
		return -1;
	}
	stamp_msg_records(&m, &c);
	while (stamp_next(&c, &r)) {
		/* lengths of the values below are checked by the reader */
		switch (r.type) {
		case STAMP_I_HARDWARE_ID:
			if (r.length > FLASHER_HWID_MAX)
				goto bad;
			memcpy(info->hardware_id, r.value, r.length);
			info->hardware_id_len = r.length;
			break;
		case STAMP_I_MODEL:
			copy_text(info->model, &r);
			break;
		case STAMP_I_FIRMWARE_VERSION:
			copy_text(info->firmware_version, &r);
			break;
		case STAMP_I_CAPABILITIES:
			if (r.length != 4)
				goto bad;
			info->capabilities = stamp_le32(r.value);
			break;
		case STAMP_I_TRANSPORT_KEY:
			if (r.length != 65)
				goto bad;
			memcpy(info->transport_key, r.value, 65);
			break;
		case STAMP_I_STAMP_ACTIVE:
		case STAMP_I_STAMP_STAGED:
			if (r.length != 36)
				goto bad;
			if (r.type == STAMP_I_STAMP_ACTIVE) {
				info->active_generation = stamp_le32(r.value);
				memcpy(info->active_digest, r.value + 4, 32);
			} else {
				info->has_staged = 1;
				info->staged_generation = stamp_le32(r.value);
				memcpy(info->staged_digest, r.value + 4, 32);
			}
			break;
		case STAMP_I_STAMP_GEOMETRY:
			if (r.length != 8)
				goto bad;
			info->slot_size = stamp_le32(r.value);
			info->write_unit = stamp_le16(r.value + 4);
			break;
		case STAMP_I_LOCK_STATE:
			if (r.length != 1 || r.value[0] > 1)
				goto bad;
			info->locked = r.value[0];
			break;
		case STAMP_I_ATTESTATION_CERT:
			info->attestation_certs++;
			break;
		default:
			break;
		}
	}
	return 0;
bad:
	snprintf(err, FLASHER_ERR_MAX, "info record: %s of %u bytes at offset "
	    "%zu is malformed", stamp_type_name(STAMP_MAGIC_INFO, r.type) ?
	    stamp_type_name(STAMP_MAGIC_INFO, r.type) : "record",
	    (unsigned)r.length, r.offset);
	return -1;
}

int
flasher_parse_active(const uint8_t *buf, size_t len, uint32_t *generation,
    uint8_t digest[static 32])
{
	if (len != 36)
		return -1;
	*generation = stamp_le32(buf);
	memcpy(digest, buf + 4, 32);
	return 0;
}

int
flasher_parse_csr_der(const uint8_t *buf, size_t len)
{
	size_t body, hdr;

	if (len < 2 || buf[0] != 0x30)
		return -1;
	if (buf[1] < 0x80) {
		body = buf[1];
		hdr = 2;
	} else {
		size_t n = buf[1] & 0x7f;
		if (n == 0 || n > 3 || len < 2 + n || buf[2] == 0)
			return -1;
		body = 0;
		for (size_t i = 0; i < n; i++)
			body = body << 8 | buf[2 + i];
		if (body < 0x80)
			return -1;  /* not the shortest form: not DER */
		hdr = 2 + n;
	}
	return len - hdr == body ? 0 : -1;
}

int
flasher_profile_check(const struct flasher_device *dev,
    char err[static FLASHER_ERR_MAX])
{
	static const char *const alts[] = { "info", "csr", "stamp", "commit", "lock" };

	for (size_t i = 0; i < sizeof(alts) / sizeof(alts[0]); i++)
		if (flasher_alt_index(dev, alts[i]) < 0) {
			snprintf(err, FLASHER_ERR_MAX, "device %s (serial %s) does not "
			    "offer the stamp profile: no alt setting '%s'", dev->path,
			    dev->serial[0] ? dev->serial : "none", alts[i]);
			return -1;
		}
	if ((dev->dfu.func.attributes & (FLASHER_CAN_DNLOAD | FLASHER_CAN_UPLOAD)) !=
	    (FLASHER_CAN_DNLOAD | FLASHER_CAN_UPLOAD)) {
		snprintf(err, FLASHER_ERR_MAX, "device %s (serial %s) does not offer "
		    "the stamp profile: it cannot both download and upload",
		    dev->path, dev->serial[0] ? dev->serial : "none");
		return -1;
	}
	return 0;
}

int
flasher_info(struct flasher_session *s, struct flasher_info *info,
    char err[static FLASHER_ERR_MAX])
{
	const struct flasher_device *dev = flasher_session_device(s);
	char why[FLASHER_ERR_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = -1;

	if (flasher_profile_check(dev, err) != 0)
		return -1;
	if (flasher_upload(s, "info", INFO_MAX, &buf, &len, NULL, NULL, err) != 0)
		return -1;
	if (flasher_parse_info(buf, len, info, why) != 0) {
		fail(err, s, "%s; the device does not speak this profile version "
		    "or answered short or long", why);
		goto out;
	}
	if (info->hardware_id_len != strlen(dev->serial) ||
	    memcmp(info->hardware_id, dev->serial, info->hardware_id_len) != 0) {
		fail(err, s, "info names another hardware id than the USB serial; "
		    "set the device aside");
		goto out;
	}
	if (info->slot_size == 0 || info->write_unit == 0) {
		fail(err, s, "info reports no stamp slot geometry");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* A message of the profile (keygen or commit request) into ${buf}. */
static int
hwid_record(struct stamp_builder *b, const struct flasher_info *info)
{
	return stamp_build_add(b, 0x01, STAMP_RF_CRITICAL, info->hardware_id,
	    info->hardware_id_len);
}

static int
add_text(struct stamp_builder *b, uint16_t type, const char *text)
{
	return text ? stamp_build_add(b, type, 0, text, strlen(text)) : 0;
}

int
flasher_csr(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t *nonce, size_t nonce_len,
    const struct flasher_subject *subject, uint8_t **csr, size_t *csr_len,
    char err[static FLASHER_ERR_MAX])
{
	struct stamp_builder b;
	uint8_t msg[512], key_type = STAMP_KEY_P256;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (!(info->capabilities & STAMP_CAP_KEYGEN))
		return fail(err, s, "device cannot generate keys (no KEYGEN "
		    "capability): use token key mode");
	if (nonce_len < FLASHER_NONCE_MIN || nonce_len > FLASHER_NONCE_MAX)
		return fail(err, s, "nonce of %zu bytes (expected %d to %d)",
		    nonce_len, FLASHER_NONCE_MIN, FLASHER_NONCE_MAX);
	stamp_msg_begin(&b, msg, sizeof(msg), STAMP_MAGIC_KEYGEN);
	hwid_record(&b, info);
	stamp_build_add(&b, STAMP_K_NONCE, STAMP_RF_CRITICAL, nonce, nonce_len);
	stamp_build_add(&b, STAMP_K_KEY_TYPE, STAMP_RF_CRITICAL, &key_type, 1);
	if (subject) {
		add_text(&b, STAMP_K_SUBJECT_CN, subject->cn);
		add_text(&b, STAMP_K_SUBJECT_ORG, subject->org);
		add_text(&b, STAMP_K_SUBJECT_SERIAL, subject->serial);
	}
	if (stamp_msg_finish(&b, &len) != 0)
		return fail(err, s, "keygen request: subject hints too long");
	if (flasher_download(s, "csr", msg, len, NULL, NULL, err) != 0)
		return -1;
	if (flasher_upload(s, "csr", FLASHER_CSR_MAX, &buf, &len, NULL, NULL,
	    err) != 0)
		return -1;
	if (len == 0) {
		free(buf);
		return fail(err, s, "device returned no CSR after the keygen "
		    "request");
	}
	if (flasher_parse_csr_der(buf, len) != 0) {
		free(buf);
		return fail(err, s, "CSR reply of %zu bytes is not one DER "
		    "structure (short, long or garbled)", len);
	}
	*csr = buf;
	*csr_len = len;
	return 0;
}

int
flasher_attest(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t *nonce, size_t nonce_len, int bind_key, uint8_t **reply,
    size_t *reply_len, char err[static FLASHER_ERR_MAX])
{
	static const uint8_t bind = STAMP_BIND_KEYGEN;
	struct stamp_builder b;
	uint8_t msg[256], *buf = NULL;
	size_t len = 0;

	if (!(info->capabilities & STAMP_CAP_ATTEST))
		return fail(err, s, "device offers no attestation (no ATTEST "
		    "capability)");
	if (nonce_len < FLASHER_NONCE_MIN || nonce_len > FLASHER_NONCE_MAX)
		return fail(err, s, "nonce of %zu bytes (expected %d to %d)",
		    nonce_len, FLASHER_NONCE_MIN, FLASHER_NONCE_MAX);
	stamp_msg_begin(&b, msg, sizeof(msg), STAMP_MAGIC_ATTEST);
	hwid_record(&b, info);
	stamp_build_add(&b, STAMP_A_NONCE, STAMP_RF_CRITICAL, nonce, nonce_len);
	if (bind_key)
		stamp_build_add(&b, STAMP_A_BIND_KEY, STAMP_RF_CRITICAL, &bind, 1);
	if (stamp_msg_finish(&b, &len) != 0)
		return fail(err, s, "attestation request does not fit");
	if (flasher_download(s, "info", msg, len, NULL, NULL, err) != 0)
		return -1;
	if (flasher_upload(s, "info", INFO_MAX, &buf, &len, NULL, NULL, err) != 0)
		return -1;
	*reply = buf;
	*reply_len = len;
	return 0;
}

int
flasher_stage(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t *image, size_t len, char err[static FLASHER_ERR_MAX])
{
	uint8_t *back = NULL;
	size_t back_len = 0, at;
	int ret = -1;

	if (info->locked == 1)
		return fail(err, s, "device is locked: it takes no new stamp");
	if (len == 0 || len > info->slot_size - info->write_unit)
		return fail(err, s, "stamp of %zu bytes does not fit the device's "
		    "slot (%u bytes, %u for the commit marker)", len,
		    info->slot_size, info->write_unit);
	if (flasher_download(s, "stamp", image, len, NULL, NULL, err) != 0)
		return -1;
	if (flasher_upload(s, "stamp", STAMP_UPLOAD_MAX, &back, &back_len, NULL,
	    NULL, err) != 0)
		return -1;
	for (at = 0; at < len && at < back_len && back[at] == image[at]; at++)
		;
	if (at < len || back_len != len) {
		if (at == back_len)
			fail(err, s, "read-back of the staged stamp is %zu bytes, "
			    "%zu were written; not committed", back_len, len);
		else
			fail(err, s, "read-back of the staged stamp differs at byte "
			    "%zu of %zu; not committed", at, len);
		goto out;
	}
	ret = 0;
out:
	free(back);
	return ret;
}

int
flasher_commit(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t digest[static 32], uint32_t generation,
    char err[static FLASHER_ERR_MAX])
{
	struct stamp_builder b;
	uint8_t msg[256], gen[4], active[32], *buf = NULL;
	uint32_t active_gen;
	size_t len = 0;
	int ret = -1;

	gen[0] = (uint8_t)generation;
	gen[1] = (uint8_t)(generation >> 8);
	gen[2] = (uint8_t)(generation >> 16);
	gen[3] = (uint8_t)(generation >> 24);
	stamp_msg_begin(&b, msg, sizeof(msg), STAMP_MAGIC_COMMIT);
	hwid_record(&b, info);
	stamp_build_add(&b, STAMP_C_DIGEST, STAMP_RF_CRITICAL, digest, 32);
	stamp_build_add(&b, STAMP_C_GENERATION, STAMP_RF_CRITICAL, gen, 4);
	if (stamp_msg_finish(&b, &len) != 0)
		return fail(err, s, "commit request does not fit");
	if (flasher_download(s, "commit", msg, len, NULL, NULL, err) != 0)
		return -1;
	if (flasher_upload(s, "commit", 64, &buf, &len, NULL, NULL, err) != 0)
		return -1;
	if (flasher_parse_active(buf, len, &active_gen, active) != 0) {
		fail(err, s, "commit state reply of %zu bytes (expected 36); the "
		    "commit is unconfirmed", len);
		goto out;
	}
	if (active_gen != generation || memcmp(active, digest, 32) != 0) {
		fail(err, s, "after commit the device reports generation %u "
		    "active, not the committed generation %u; unconfirmed",
		    active_gen, generation);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int
flasher_lock(struct flasher_session *s, const struct flasher_info *info,
    char err[static FLASHER_ERR_MAX])
{
	uint8_t msg[4 + FLASHER_HWID_MAX], *buf = NULL;
	size_t len = 0;
	int ret = -1;

	if (!(info->capabilities & STAMP_CAP_LOCK))
		return fail(err, s, "device cannot be locked (no LOCK capability)");
	memcpy(msg, "LOCK", 4);
	memcpy(msg + 4, info->hardware_id, info->hardware_id_len);
	if (flasher_download(s, "lock", msg, 4 + info->hardware_id_len, NULL,
	    NULL, err) != 0)
		return -1;
	if (flasher_upload(s, "lock", 16, &buf, &len, NULL, NULL, err) != 0)
		return -1;
	if (len != 1 || buf[0] > 1)
		fail(err, s, "lock state reply of %zu bytes is malformed; lock "
		    "unconfirmed", len);
	else if (buf[0] != 1)
		fail(err, s, "device accepted the lock request but reports "
		    "itself unlocked; set it aside");
	else
		ret = 0;
	free(buf);
	return ret;
}
