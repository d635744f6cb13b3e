/*
 * emu_flash.c: the stamp partition of an emulated device, as firmware
 * keeps it (stamp-format/SPEC.md section 4): two slots, A and B, each
 * EMU_SLOT_SIZE bytes, in one file DIR/dev-K/stamp.part:
 *
 *   [ slot A: image | 0xFF ... | commit marker (last write unit) ]
 *   [ slot B: image | 0xFF ... | commit marker (last write unit) ]
 *
 * The file is programmed in place, write by write, like flash (pwrite of
 * exactly the bytes the device programs, no temporary copy): a power cut
 * (a fault) after byte N leaves exactly the first N bytes of a write in
 * the file. That is safe because nothing is trusted that is not complete:
 * staging writes only the slot that is not active, and a slot counts only
 * with a valid image AND a matching commit marker, programmed last, one
 * write unit. So after any cut the previous stamp (or none) is active.
 *
 * The partition can be checked with the station's own tools: the first
 * EMU_SLOT_SIZE - 16 bytes of a slot are an image followed by 0xFF, which
 * `station inspect` reads; the last 16 bytes are the marker.
 *
 * The device's own check of a stamp (emu_flash_check) is the reader of
 * stamp-format (stamp.c) with the device's crypto: the signer key it
 * trusts, its hardware id, its transport key for every secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "flasher/emu/emu.h"
#include "stamp-format/stamp.h"

#define PART_SIZE (2 * EMU_SLOT_SIZE)
#define IMAGE_MAX (EMU_SLOT_SIZE - EMU_WRITE_UNIT)

/* Load (or create, erased) the partition file of ${d}. */
int
emu_flash_load(struct emu_device *d)
{
	int fd = -1;
	ssize_t n;

	snprintf(d->flash_file, sizeof(d->flash_file), "%s/stamp.part", d->dir);
	if ((d->flash = malloc(PART_SIZE)) == NULL)
		goto fail;
	memset(d->flash, 0xff, PART_SIZE);
	if ((fd = open(d->flash_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		goto fail;
	if ((n = pread(fd, d->flash, PART_SIZE, 0)) < 0)
		goto fail;
	if (n == 0 && pwrite(fd, d->flash, PART_SIZE, 0) != (ssize_t)PART_SIZE)
		goto fail;
	if (n != 0 && n != (ssize_t)PART_SIZE) {
		fprintf(stderr, "stampdev-emu: %s: %zd bytes, expected %u: not a "
		    "stamp partition of this emulator; remove it\n", d->flash_file,
		    n, PART_SIZE);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
fail:
	fprintf(stderr, "stampdev-emu: %s: %s\n", d->flash_file, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Program ${len} bytes at ${off} of the partition (memory and file). */
int
emu_flash_write(struct emu_device *d, size_t off, const uint8_t *p, size_t len)
{
	int fd, ok;

	if (off > PART_SIZE || len > PART_SIZE - off)
		return DFU_ERR_ADDRESS;
	memcpy(d->flash + off, p, len);
	if ((fd = open(d->flash_file, O_WRONLY | O_CLOEXEC)) < 0)
		return DFU_ERR_WRITE;
	ok = pwrite(fd, p, len, (off_t)off) == (ssize_t)len;
	if (close(fd) != 0)
		ok = 0;
	return ok ? DFU_OK : DFU_ERR_WRITE;
}

/*
 * emu_flash_check(d, slot, full, v): read the image in ${slot}. Without
 * ${full}: structure and digest (what staging needs). With ${full}: what
 * commit needs: signature by the trusted signer, this device's hardware id,
 * development only if allowed, the write unit, and every secret opens.
 */
int
emu_flash_check(struct emu_device *d, size_t slot, bool full,
    struct stamp_view *v)
{
	const uint8_t *base = d->flash + slot * EMU_SLOT_SIZE;
	struct stamp_expect expect = { NULL, 0, d->development };
	struct stamp_crypto crypto;
	struct stamp_error err;
	struct stamp_cursor cur;
	struct stamp_record rec;
	uint8_t plain[1024];
	size_t plain_len;

	emu_crypto_init(d, &crypto);
	if (full) {
		if (d->trust == NULL) {
			snprintf(d->status_text, sizeof(d->status_text), "no stamp "
			    "signer provisioned on this device");
			return DFU_ERR_FILE;
		}
		expect.hardware_id = (const uint8_t *)d->serial;
		expect.hardware_id_len = strlen(d->serial);
	} else {
		crypto.verify = NULL;  /* staging: format and digest only */
		expect.allow_development = 1;
	}
	if (stamp_read(v, base, IMAGE_MAX, &crypto, &expect, &err) != 0) {
		snprintf(d->status_text, sizeof(d->status_text), "stamp refused: "
		    "%s at offset %zu", stamp_strerror(err.code), err.offset);
		return err.code == STAMP_E_BINDING ? DFU_ERR_TARGET : DFU_ERR_FILE;
	}
	if (!full)
		return DFU_OK;
	if (v->write_unit != EMU_WRITE_UNIT) {
		snprintf(d->status_text, sizeof(d->status_text), "stamp refused: "
		    "write unit %u, this device programs %u", v->write_unit,
		    EMU_WRITE_UNIT);
		return DFU_ERR_FILE;
	}
	stamp_records(v, &cur);
	while (stamp_next(&cur, &rec)) {
		if (!(rec.flags & STAMP_RF_SECRET))
			continue;
		if (stamp_secret_open(&rec, d->transport_pub, &crypto, plain,
		    sizeof(plain), &plain_len, &err) != 0) {
			OPENSSL_cleanse(plain, sizeof(plain));
			snprintf(d->status_text, sizeof(d->status_text), "stamp "
			    "refused: secret at offset %zu does not open (%s)",
			    rec.offset, stamp_strerror(err.code));
			return DFU_ERR_FILE;
		}
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	return DFU_OK;
}

/* Boot-time view: which slot is active, which holds a staged image. */
void
emu_flash_scan(struct emu_device *d, struct emu_slot_state *st)
{
	struct stamp_view v[2];
	bool valid[2], marked[2];

	memset(st, 0, sizeof(*st));
	st->active = st->staged = -1;
	for (size_t i = 0; i < 2; i++) {
		char keep[sizeof(d->status_text)];
		memcpy(keep, d->status_text, sizeof(keep));
		valid[i] = emu_flash_check(d, i, false, &v[i]) == DFU_OK;
		memcpy(d->status_text, keep, sizeof(keep));
		marked[i] = valid[i] && stamp_marker_matches(&v[i], d->flash +
		    i * EMU_SLOT_SIZE + IMAGE_MAX, EMU_WRITE_UNIT);
	}
	for (int i = 0; i < 2; i++)
		if (marked[i] && (st->active < 0 ||
		    v[i].generation > v[st->active].generation))
			st->active = i;
	if (st->active >= 0) {
		st->active_gen = v[st->active].generation;
		st->active_len = v[st->active].total_len;
		memcpy(st->active_digest, v[st->active].digest, 32);
	}
	for (int i = 0; i < 2; i++)
		if (valid[i] && !marked[i]) {
			st->staged = i;
			st->staged_gen = v[i].generation;
			st->staged_len = v[i].total_len;
			memcpy(st->staged_digest, v[i].digest, 32);
		}
}

/* emu_locked(d): 1 if the device has been locked. */
int
emu_locked(const struct emu_device *d)
{
	char path[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/lock", d->dir);
	return access(path, F_OK) == 0;
}
