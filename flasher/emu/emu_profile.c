/*
 * emu_profile.c: the stamp DFU profile of an emulated device: what each
 * alt setting does (ARCHITECTURE.md, "USB: the stamp DFU profile";
 * messages in stamp-format/SPEC.md section 5).
 *
 *   info    UPLOAD: the info record (SINF), built fresh at each upload
 *           from the device's state: hardware id, model, firmware version,
 *           capabilities, transport key, active and staged stamp,
 *           geometry, lock state; with an attestation key its chain,
 *           and the answer to an attestation request (emu_attest.c).
 *           DNLOAD: an attestation request (SATQ); errTARGET without
 *           attestation.
 *   csr     DNLOAD: a keygen request (SKGR). When its last byte arrives
 *           the device generates a P-256 key and a CSR carrying the nonce,
 *           and reports dfuDNBUSY with bwPollTimeout --keygen-ms (the time
 *           an MCU needs; the handler never sleeps). UPLOAD: that CSR.
 *   stamp   DNLOAD: staged into the slot that is not active (erased at the
 *           first block, programmed block by block), checked for format
 *           and digest at manifestation; inactive until commit. UPLOAD:
 *           the staged image, else the active one, for read-back.
 *   commit  DNLOAD: a commit request (SCMR): the device's full check of
 *           the staged stamp, then the commit marker. UPLOAD: the active
 *           generation and digest (36 bytes, as STAMP_ACTIVE in info).
 *   lock    DNLOAD: a lock request, "LOCK" followed by the hardware id.
 *           UPLOAD: the lock state, one byte (0 unlocked, 1 locked).
 *
 * A locked device refuses csr, stamp and commit downloads (errWRITE).
 * Every refusal sets the device's status string (GETSTATUS iString), so
 * the host can say why.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flasher/emu/emu.h"
#include "stamp-format/stamp.h"

#define MSG_MAX 4096
#define INFO_MAX 8192
#define IMAGE_MAX (EMU_SLOT_SIZE - EMU_WRITE_UNIT)

static int
refuse(struct emu_device *d, int status, const char *why)
{
	snprintf(d->status_text, sizeof(d->status_text), "%s", why);
	emu_log(d, "refuses: %s", why);
	return status;
}

static int
reserve(struct emu_alt *alt, size_t need)
{
	uint8_t *grown;

	if (need <= alt->cap)
		return 0;
	if ((grown = realloc(alt->buf, need)) == NULL)
		return -1;
	alt->buf = grown;
	alt->cap = need;
	return 0;
}

/* Download of a message into alt->buf (at most ${max} bytes). */
static int
collect(struct emu_alt *alt, size_t offset, const uint8_t *data, size_t len,
    size_t max)
{
	if (offset != alt->len || len > max - offset)
		return refuse(alt->dev, DFU_ERR_ADDRESS, "request too long");
	if (reserve(alt, offset + len) != 0)
		return DFU_ERR_UNKNOWN;
	memcpy(alt->buf + offset, data, len);
	alt->len = offset + len;
	return DFU_OK;
}

static int
begin_unlocked(struct emu_alt *alt)
{
	alt->len = 0;
	alt->complete = false;
	if (emu_locked(alt->dev))
		return refuse(alt->dev, DFU_ERR_WRITE, "device is locked");
	return DFU_OK;
}

/* Upload of alt->buf, with the reply faults applied. */
static int
snapshot_block(struct emu_alt *alt, size_t offset, uint8_t *buf, size_t len,
    size_t *got)
{
	struct emu_device *d = alt->dev;
	size_t have = alt->len < d->short_at ? alt->len : d->short_at;
	size_t total = have + d->oversize, n = 0;

	if (offset < total)
		n = total - offset < len ? total - offset : len;
	for (size_t i = 0; i < n; i++) {
		size_t at = offset + i;
		buf[i] = at < have ? alt->buf[at] : 0xa5;
		if (at == d->flip_at && strcmp(alt->name, "stamp") == 0)
			buf[i] ^= 0x01;
	}
	*got = n;
	return DFU_OK;
}

static int
snapshot(struct emu_alt *alt, const uint8_t *p, size_t len)
{
	alt->len = 0;
	if (reserve(alt, len ? len : 1) != 0)
		return DFU_ERR_UNKNOWN;
	if (len)
		memcpy(alt->buf, p, len);
	alt->len = len;
	return DFU_OK;
}

static void
drop(struct emu_alt *alt)
{
	alt->len = 0;
	alt->complete = false;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* --- info --- */

static int
info_upload_begin(struct emu_alt *alt)
{
	struct emu_device *d = alt->dev;
	struct emu_slot_state st;
	struct stamp_builder b;
	uint8_t buf[INFO_MAX], caps[4], active[36], staged[36], geo[8];
	uint8_t locked = (uint8_t)emu_locked(d);
	size_t len;

	emu_flash_scan(d, &st);
	put_le32(caps, STAMP_CAP_KEYGEN | STAMP_CAP_SECRETS | STAMP_CAP_LOCK |
	    STAMP_CAP_AB_SLOTS | (d->development ? STAMP_CAP_DEVELOPMENT : 0) |
	    (emu_attest_capable(d) ? STAMP_CAP_ATTEST : 0));
	put_le32(active, st.active_gen);
	memcpy(active + 4, st.active_digest, 32);
	put_le32(staged, st.staged_gen);
	memcpy(staged + 4, st.staged_digest, 32);
	put_le32(geo, EMU_SLOT_SIZE);
	geo[4] = EMU_WRITE_UNIT;
	geo[5] = geo[6] = geo[7] = 0;
	stamp_msg_begin(&b, buf, sizeof(buf), STAMP_MAGIC_INFO);
	stamp_build_add(&b, STAMP_I_HARDWARE_ID, STAMP_RF_CRITICAL, d->serial,
	    strlen(d->serial));
	stamp_build_add(&b, STAMP_I_MODEL, 0, "stampdev-emu", 12);
	stamp_build_add(&b, STAMP_I_FIRMWARE_VERSION, 0, "emu-1.0", 7);
	stamp_build_add(&b, STAMP_I_CAPABILITIES, STAMP_RF_CRITICAL, caps, 4);
	stamp_build_add(&b, STAMP_I_TRANSPORT_KEY, STAMP_RF_CRITICAL,
	    d->transport_pub, 65);
	stamp_build_add(&b, STAMP_I_STAMP_ACTIVE, 0, active, 36);
	if (st.staged >= 0)
		stamp_build_add(&b, STAMP_I_STAMP_STAGED, 0, staged, 36);
	stamp_build_add(&b, STAMP_I_STAMP_GEOMETRY, 0, geo, 8);
	stamp_build_add(&b, STAMP_I_LOCK_STATE, 0, &locked, 1);
	if (emu_attest_info(d, &b) != 0 || stamp_msg_finish(&b, &len) != 0)
		return refuse(d, DFU_ERR_UNKNOWN, "info record does not fit");
	return snapshot(alt, buf, len);
}

/* A download to alt info: an attestation request, if the device can. */
static int
info_dnload_begin(struct emu_alt *alt)
{
	alt->len = 0;
	alt->complete = false;
	if (!emu_attest_capable(alt->dev))
		return refuse(alt->dev, DFU_ERR_TARGET, "no attestation: alt info "
		    "is read-only");
	return DFU_OK;
}

static int
info_manifest(struct emu_alt *alt)
{
	int st = emu_attest_request(alt->dev, alt->buf, alt->len);

	if (st != DFU_OK)
		emu_log(alt->dev, "refuses: %s", alt->dev->status_text);
	drop(alt);
	return st;
}

/* --- csr --- */

/* A record's text value as a C string in ${out}; NULL if absent. */
static const char *
text(const struct stamp_msg *m, uint16_t type, char out[65])
{
	struct stamp_cursor c;
	struct stamp_record r;

	stamp_msg_records(m, &c);
	if (!stamp_find(&c, type, &r) || r.length > 64)
		return NULL;
	memcpy(out, r.value, r.length);
	out[r.length] = '\0';
	return out;
}

static int
csr_dnload_block(struct emu_alt *alt, size_t offset, const uint8_t *data,
    size_t len)
{
	struct emu_device *d = alt->dev;
	struct stamp_error err;
	struct stamp_cursor c;
	struct stamp_record hwid, nonce, type;
	struct stamp_msg m;
	char cn[65], org[65], serial[65];
	int st;

	if ((st = collect(alt, offset, data, len, MSG_MAX)) != DFU_OK)
		return st;
	if (alt->len < STAMP_MSG_HEADER_LEN || alt->len < stamp_le32(alt->buf + 8))
		return DFU_OK;  /* more to come */
	alt->complete = true;
	if (stamp_msg_read(&m, STAMP_MAGIC_KEYGEN, alt->buf, alt->len, &err) != 0) {
		snprintf(d->status_text, sizeof(d->status_text), "keygen request "
		    "refused: %s at offset %zu", stamp_strerror(err.code), err.offset);
		return DFU_ERR_FILE;
	}
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_K_HARDWARE_ID, &hwid);
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_K_NONCE, &nonce);
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_K_KEY_TYPE, &type);
	if (hwid.length != strlen(d->serial) ||
	    memcmp(hwid.value, d->serial, hwid.length) != 0)
		return refuse(d, DFU_ERR_TARGET, "keygen request is for another "
		    "hardware id");
	if (type.length != 1 || type.value[0] != STAMP_KEY_P256)
		return refuse(d, DFU_ERR_FILE, "key type not supported (P-256 only)");
	if (nonce.length < 16 || nonce.length > 64)
		return refuse(d, DFU_ERR_FILE, "nonce of a bad length");
	st = emu_keygen(d, nonce.value, nonce.length,
	    text(&m, STAMP_K_SUBJECT_CN, cn), text(&m, STAMP_K_SUBJECT_ORG, org),
	    text(&m, STAMP_K_SUBJECT_SERIAL, serial));
	if (st == DFU_OK) {
		alt->busy_ms = d->keygen_ms;
		emu_log(d, "generated a P-256 key (busy %u ms)", d->keygen_ms);
	}
	return st;
}

static int
csr_manifest(struct emu_alt *alt)
{
	if (!alt->complete)
		return refuse(alt->dev, DFU_ERR_FILE, "keygen request incomplete");
	drop(alt);
	return DFU_OK;
}

static int
csr_upload_begin(struct emu_alt *alt)
{
	return snapshot(alt, alt->dev->csr, alt->dev->csr_len);
}

/* --- stamp --- */

static int
stamp_dnload_begin(struct emu_alt *alt)
{
	struct emu_device *d = alt->dev;
	struct emu_slot_state st;
	uint8_t erased[EMU_SLOT_SIZE];
	int rc;

	if ((rc = begin_unlocked(alt)) != DFU_OK)
		return rc;
	emu_flash_scan(d, &st);
	d->stage_slot = st.active == 0 ? 1 : 0;
	memset(erased, 0xff, sizeof(erased));
	return emu_flash_write(d, d->stage_slot * EMU_SLOT_SIZE, erased,
	    sizeof(erased));
}

static int
stamp_dnload_block(struct emu_alt *alt, size_t offset, const uint8_t *data,
    size_t len)
{
	struct emu_device *d = alt->dev;
	size_t base = d->stage_slot * EMU_SLOT_SIZE;

	if (offset > IMAGE_MAX || len > IMAGE_MAX - offset)
		return refuse(d, DFU_ERR_ADDRESS, "stamp larger than the slot");
	alt->len = offset + len;
	if (d->powercut_at != SIZE_MAX && d->powercut_at >= offset &&
	    d->powercut_at < offset + len) {
		emu_log(d, "power cut (fault) after byte %zu of the stamp write",
		    d->powercut_at);
		d->power_cut = true;
		return emu_flash_write(d, base + offset, data, d->powercut_at - offset);
	}
	return emu_flash_write(d, base + offset, data, len);
}

static int
stamp_manifest(struct emu_alt *alt)
{
	struct emu_device *d = alt->dev;
	struct stamp_view v;
	int st = emu_flash_check(d, d->stage_slot, false, &v);

	if (st != DFU_OK)
		emu_log(d, "refuses to stage: %s", d->status_text);
	else
		emu_log(d, "staged generation %u in slot %c", v.generation,
		    "AB"[d->stage_slot]);
	drop(alt);
	return st;
}

static int
stamp_upload_begin(struct emu_alt *alt)
{
	struct emu_device *d = alt->dev;
	struct emu_slot_state st;

	emu_flash_scan(d, &st);
	if (st.staged >= 0)
		return snapshot(alt, d->flash + (size_t)st.staged * EMU_SLOT_SIZE,
		    st.staged_len);
	if (st.active >= 0)
		return snapshot(alt, d->flash + (size_t)st.active * EMU_SLOT_SIZE,
		    st.active_len);
	return snapshot(alt, NULL, 0);
}

/* --- commit --- */

static int
msg_dnload_block(struct emu_alt *alt, size_t offset, const uint8_t *data,
    size_t len)
{
	return collect(alt, offset, data, len, 256);
}

static int
commit_manifest(struct emu_alt *alt)
{
	struct emu_device *d = alt->dev;
	struct emu_slot_state st;
	struct stamp_error err;
	struct stamp_cursor c;
	struct stamp_record hwid, digest, gen;
	struct stamp_view v;
	struct stamp_msg m;
	uint8_t marker[EMU_WRITE_UNIT];
	size_t at;
	int rc;

	if (stamp_msg_read(&m, STAMP_MAGIC_COMMIT, alt->buf, alt->len, &err) != 0) {
		snprintf(d->status_text, sizeof(d->status_text), "commit request "
		    "refused: %s at offset %zu", stamp_strerror(err.code), err.offset);
		drop(alt);
		return DFU_ERR_FILE;
	}
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_C_HARDWARE_ID, &hwid);
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_C_DIGEST, &digest);
	stamp_msg_records(&m, &c);
	stamp_find(&c, STAMP_C_GENERATION, &gen);
	drop(alt);
	if (hwid.length != strlen(d->serial) ||
	    memcmp(hwid.value, d->serial, hwid.length) != 0)
		return refuse(d, DFU_ERR_TARGET, "commit request is for another "
		    "hardware id");
	if (digest.length != 32 || gen.length != 4)
		return refuse(d, DFU_ERR_FILE, "commit request: bad digest or "
		    "generation length");
	emu_flash_scan(d, &st);
	if (st.staged < 0)
		return refuse(d, DFU_ERR_FILE, "no stamp staged");
	if ((rc = emu_flash_check(d, (size_t)st.staged, true, &v)) != DFU_OK) {
		emu_log(d, "refuses to commit: %s", d->status_text);
		return rc;
	}
	if (memcmp(v.digest, digest.value, 32) != 0 ||
	    v.generation != stamp_le32(gen.value))
		return refuse(d, DFU_ERR_FILE, "commit names another stamp than the "
		    "staged one (digest or generation)");
	if (st.active >= 0 && v.generation <= st.active_gen)
		return refuse(d, DFU_ERR_FILE, "generation not above the active "
		    "stamp's");
	memset(marker, 0xff, sizeof(marker));
	stamp_marker(&v, marker);
	at = (size_t)st.staged * EMU_SLOT_SIZE + IMAGE_MAX;
	if (d->commit_cut >= 0) {
		emu_log(d, "power cut (fault) after %d bytes of the commit marker",
		    d->commit_cut);
		d->power_cut = true;
		return emu_flash_write(d, at, marker, (size_t)d->commit_cut);
	}
	if ((rc = emu_flash_write(d, at, marker, sizeof(marker))) == DFU_OK)
		emu_log(d, "committed generation %u (slot %c)", v.generation,
		    "AB"[st.staged]);
	return rc;
}

static int
commit_upload_begin(struct emu_alt *alt)
{
	struct emu_slot_state st;
	uint8_t out[36];

	emu_flash_scan(alt->dev, &st);
	put_le32(out, st.active_gen);
	memcpy(out + 4, st.active_digest, 32);
	return snapshot(alt, out, sizeof(out));
}

/* --- lock --- */

static int
lock_dnload_begin(struct emu_alt *alt)
{
	alt->len = 0;
	return DFU_OK;
}

static int
lock_manifest(struct emu_alt *alt)
{
	struct emu_device *d = alt->dev;
	char path[PATH_MAX + 8], tmp[PATH_MAX + 16];
	size_t n = strlen(d->serial);
	int fd, ok;

	ok = alt->len == 4 + n && memcmp(alt->buf, "LOCK", 4) == 0;
	if (ok && memcmp(alt->buf + 4, d->serial, n) != 0) {
		drop(alt);
		return refuse(d, DFU_ERR_TARGET, "lock request is for another "
		    "hardware id");
	}
	drop(alt);
	if (!ok)
		return refuse(d, DFU_ERR_FILE, "not a lock request");
	if (d->no_lock == 1)
		return refuse(d, DFU_ERR_WRITE, "lock refused (fault)");
	if (d->no_lock == 2) {
		emu_log(d, "ignores the lock request (fault)");
		return DFU_OK;
	}
	snprintf(path, sizeof(path), "%s/lock", d->dir);
	snprintf(tmp, sizeof(tmp), "%s/lock.new", d->dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return refuse(d, DFU_ERR_WRITE, "cannot program the lock");
	ok = write(fd, "1\n", 2) == 2;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return refuse(d, DFU_ERR_WRITE, "cannot program the lock");
	}
	emu_log(d, "locked");
	return DFU_OK;
}

static int
lock_upload_begin(struct emu_alt *alt)
{
	uint8_t state = (uint8_t)emu_locked(alt->dev);

	return snapshot(alt, &state, 1);
}

static const struct emu_alt_ops info_ops = {
	info_dnload_begin, msg_dnload_block, info_manifest,
	info_upload_begin, snapshot_block, drop,
};
static const struct emu_alt_ops csr_ops = {
	begin_unlocked, csr_dnload_block, csr_manifest,
	csr_upload_begin, snapshot_block, drop,
};
static const struct emu_alt_ops stamp_ops = {
	stamp_dnload_begin, stamp_dnload_block, stamp_manifest,
	stamp_upload_begin, snapshot_block, drop,
};
static const struct emu_alt_ops commit_ops = {
	begin_unlocked, msg_dnload_block, commit_manifest,
	commit_upload_begin, snapshot_block, drop,
};
static const struct emu_alt_ops lock_ops = {
	lock_dnload_begin, msg_dnload_block, lock_manifest,
	lock_upload_begin, snapshot_block, drop,
};

const struct emu_alt_ops *
emu_profile_ops(const char *name)
{
	if (strcmp(name, "info") == 0)
		return &info_ops;
	if (strcmp(name, "csr") == 0)
		return &csr_ops;
	if (strcmp(name, "stamp") == 0)
		return &stamp_ops;
	if (strcmp(name, "commit") == 0)
		return &commit_ops;
	return &lock_ops;
}
