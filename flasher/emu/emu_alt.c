/*
 * emu_alt.c: what each alt setting of an emulated device does with the
 * bytes of a DFU transfer.
 *
 * An alt is a small set of hooks (struct emu_alt_ops in emu.h). Today
 * every alt is a raw file kept under the device's state folder: a download
 * is staged in memory and written to the file (new file, rename) only at
 * manifestation, so an interrupted download leaves the old content (the
 * emulator does not fsync: its files outlive a crash of the emulator, not
 * of the machine, which is all tests need);
 * an upload returns a snapshot of the file taken when the upload starts.
 * `info` is upload-only: a download to it fails with errTARGET. These raw
 * files are what the emulator offers with --raw (a bare DFU device, for the
 * transport tests); by default every alt has the stamp profile's ops
 * (emu_profile.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flasher/emu/emu.h"

static const char *const alt_names[EMU_ALTS] = {
	"info", "csr", "stamp", "commit", "lock",
};

static int
raw_dnload_begin(struct emu_alt *alt)
{
	alt->len = 0;
	return DFU_OK;
}

static int
raw_dnload_block(struct emu_alt *alt, size_t offset, const uint8_t *data,
    size_t len)
{
	uint8_t *grown;
	size_t cap;

	if (offset != alt->len || len > EMU_ALT_CAPACITY - offset)
		return DFU_ERR_ADDRESS;
	if (offset + len > alt->cap) {
		cap = alt->cap ? alt->cap : 4096;
		while (cap < offset + len)
			cap *= 2;
		if ((grown = realloc(alt->buf, cap)) == NULL)
			return DFU_ERR_UNKNOWN;
		alt->buf = grown;
		alt->cap = cap;
	}
	memcpy(alt->buf + offset, data, len);
	alt->len = offset + len;
	return DFU_OK;
}

static int
raw_manifest(struct emu_alt *alt)
{
	char tmp[PATH_MAX + 8];
	size_t done = 0;
	ssize_t n;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", alt->file);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return DFU_ERR_WRITE;
	while (done < alt->len) {
		n = write(fd, alt->buf + done, alt->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		unlink(tmp);
		return DFU_ERR_WRITE;
	}
	if (rename(tmp, alt->file) != 0) {
		unlink(tmp);
		return DFU_ERR_WRITE;
	}
	alt->len = 0;
	return DFU_OK;
fail:
	close(fd);
	unlink(tmp);
	return DFU_ERR_WRITE;
}

static int
raw_upload_begin(struct emu_alt *alt)
{
	FILE *f;
	size_t n;

	alt->len = 0;
	if ((f = fopen(alt->file, "rb")) == NULL)
		return errno == ENOENT ? DFU_OK : DFU_ERR_FILE;
	for (;;) {
		if (alt->len == alt->cap) {
			size_t cap = alt->cap ? alt->cap * 2 : 4096;
			uint8_t *grown;
			if (cap > EMU_ALT_CAPACITY ||
			    (grown = realloc(alt->buf, cap)) == NULL) {
				fclose(f);
				return DFU_ERR_FILE;
			}
			alt->buf = grown;
			alt->cap = cap;
		}
		n = fread(alt->buf + alt->len, 1, alt->cap - alt->len, f);
		alt->len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	return DFU_OK;
}

static int
raw_upload_block(struct emu_alt *alt, size_t offset, uint8_t *buf, size_t len,
    size_t *got)
{
	size_t n = 0;

	if (offset < alt->len)
		n = alt->len - offset < len ? alt->len - offset : len;
	if (n)
		memcpy(buf, alt->buf + offset, n);
	*got = n;
	return DFU_OK;
}

static void
raw_abort(struct emu_alt *alt)
{
	alt->len = 0;
}

static int
readonly_dnload_begin(struct emu_alt *alt)
{
	(void)alt;
	return DFU_ERR_TARGET;
}

static const struct emu_alt_ops raw_ops = {
	raw_dnload_begin, raw_dnload_block, raw_manifest,
	raw_upload_begin, raw_upload_block, raw_abort,
};
static const struct emu_alt_ops readonly_ops = {
	readonly_dnload_begin, raw_dnload_block, raw_manifest,
	raw_upload_begin, raw_upload_block, raw_abort,
};

int
emu_alts_init(struct emu_device *d, bool raw)
{
	for (int i = 0; i < EMU_ALTS; i++) {
		struct emu_alt *alt = &d->alts[i];
		int n;

		memset(alt, 0, sizeof(*alt));
		alt->name = alt_names[i];
		alt->dev = d;
		if (!raw)
			alt->ops = emu_profile_ops(alt->name);
		else
			alt->ops = strcmp(alt->name, "info") == 0 ? &readonly_ops :
			    &raw_ops;
		n = snprintf(alt->file, sizeof(alt->file), "%s/%s.bin", d->dir,
		    alt->name);
		if (n < 0 || (size_t)n >= sizeof(alt->file)) {
			fprintf(stderr, "stampdev-emu: state path too long: %s\n", d->dir);
			return -1;
		}
	}
	return 0;
}

void
emu_alts_free(struct emu_device *d)
{
	for (int i = 0; i < EMU_ALTS; i++) {
		free(d->alts[i].buf);
		d->alts[i].buf = NULL;
		d->alts[i].len = d->alts[i].cap = 0;
	}
}
