/*
 * powercut.c: TEST ONLY. A SQLite VFS shim that models power loss: every
 * write to the database, its WAL or its journal stays in memory until the
 * file is synced; only xSync puts it on disk. When the operation counter
 * reaches the cut point, the process _exit()s on the spot, so everything
 * written but not yet synced is lost, as in a power cut. The -shm index is
 * passed through (SQLite rebuilds it after a crash).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/audit/powercut.h"

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;         /* follows this struct in memory */
	int shim;                   /* 0: pass everything through */
	unsigned char *mem;         /* the file as the program sees it */
	sqlite3_int64 size, cap;
	sqlite3_int64 dirty_lo, dirty_hi;  /* written since the last sync */
};

static sqlite3_vfs *real_vfs;
static unsigned long ops, cut_at;

static void
tick(void)
{
	if (cut_at != 0 && ++ops >= cut_at)
		_exit(0);  /* power gone: nothing unsynced reaches the disk */
}

static int
grow(struct shim_file *f, sqlite3_int64 need)
{
	if (need > f->cap) {
		sqlite3_int64 cap = f->cap ? f->cap : 65536;
		unsigned char *p;

		while (cap < need)
			cap *= 2;
		if ((p = realloc(f->mem, (size_t)cap)) == NULL)
			return SQLITE_NOMEM;
		memset(p + f->cap, 0, (size_t)(cap - f->cap));
		f->mem = p;
		f->cap = cap;
	}
	return SQLITE_OK;
}

/* Writes what changed since the last sync to the real file, in pieces
 * (the unix VFS writes at most 128 KiB per call). */
static int
write_back(struct shim_file *f)
{
	sqlite3_int64 off, end = f->dirty_hi < f->size ? f->dirty_hi : f->size;
	int rc;

	for (off = f->dirty_lo; off < end; off += 65536) {
		sqlite3_int64 n = end - off < 65536 ? end - off : 65536;

		if ((rc = f->real->pMethods->xWrite(f->real, f->mem + off, (int)n,
		    off)) != SQLITE_OK)
			return rc;
	}
	f->dirty_lo = f->dirty_hi = 0;
	return SQLITE_OK;
}

static int
x_close(sqlite3_file *file)
{
	struct shim_file *f = (struct shim_file *)file;
	int rc;

	if (f->shim)  /* a clean close: the OS writes it back later */
		write_back(f);
	rc = f->real->pMethods->xClose(f->real);
	free(f->mem);
	return rc;
}

static int
x_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off)
{
	struct shim_file *f = (struct shim_file *)file;

	if (!f->shim)
		return f->real->pMethods->xRead(f->real, buf, n, off);
	if (off >= f->size) {
		memset(buf, 0, (size_t)n);
		return SQLITE_IOERR_SHORT_READ;
	}
	if (off + n > f->size) {
		memcpy(buf, f->mem + off, (size_t)(f->size - off));
		memset((char *)buf + (f->size - off), 0,
		    (size_t)(off + n - f->size));
		return SQLITE_IOERR_SHORT_READ;
	}
	memcpy(buf, f->mem + off, (size_t)n);
	return SQLITE_OK;
}

static int
x_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off)
{
	struct shim_file *f = (struct shim_file *)file;

	if (!f->shim)
		return f->real->pMethods->xWrite(f->real, buf, n, off);
	tick();
	if (grow(f, off + n) != SQLITE_OK)
		return SQLITE_IOERR_WRITE;
	memcpy(f->mem + off, buf, (size_t)n);
	if (off + n > f->size)
		f->size = off + n;
	if (f->dirty_hi == 0 || off < f->dirty_lo)
		f->dirty_lo = off;
	if (off + n > f->dirty_hi)
		f->dirty_hi = off + n;
	return SQLITE_OK;
}

static int
x_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct shim_file *f = (struct shim_file *)file;

	if (!f->shim)
		return f->real->pMethods->xTruncate(f->real, size);
	if (size < f->size)
		f->size = size;
	return SQLITE_OK;
}

static int
x_sync(sqlite3_file *file, int flags)
{
	struct shim_file *f = (struct shim_file *)file;
	const sqlite3_io_methods *m = f->real->pMethods;
	int rc;

	if (!f->shim)
		return m->xSync(f->real, flags);
	tick();
	if ((rc = write_back(f)) != SQLITE_OK)
		return rc;
	if ((rc = m->xTruncate(f->real, f->size)) != SQLITE_OK)
		return rc;
	return m->xSync(f->real, flags);
}

static int
x_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct shim_file *f = (struct shim_file *)file;

	if (!f->shim)
		return f->real->pMethods->xFileSize(f->real, size);
	*size = f->size;
	return SQLITE_OK;
}

#define FWD(name, args, call) \
	static int name args { \
		struct shim_file *f = (struct shim_file *)file; \
		return f->real->pMethods->call; \
	}
FWD(x_lock, (sqlite3_file *file, int l), xLock(f->real, l))
FWD(x_unlock, (sqlite3_file *file, int l), xUnlock(f->real, l))
FWD(x_check_lock, (sqlite3_file *file, int *out),
    xCheckReservedLock(f->real, out))
FWD(x_sector_size, (sqlite3_file *file), xSectorSize(f->real))
FWD(x_shm_map, (sqlite3_file *file, int pg, int sz, int ext,
    void volatile **pp), xShmMap(f->real, pg, sz, ext, pp))
FWD(x_shm_lock, (sqlite3_file *file, int off, int n, int flags),
    xShmLock(f->real, off, n, flags))
FWD(x_shm_unmap, (sqlite3_file *file, int del), xShmUnmap(f->real, del))

static int
x_file_control(sqlite3_file *file, int op, void *arg)
{
	struct shim_file *f = (struct shim_file *)file;

	/* Size hints and chunking would act on the real file behind our back. */
	if (f->shim && (op == SQLITE_FCNTL_SIZE_HINT ||
	    op == SQLITE_FCNTL_CHUNK_SIZE))
		return SQLITE_OK;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
x_device_characteristics(sqlite3_file *file)
{
	(void)file;
	return 0;  /* promise nothing: no atomic or ordered writes */
}

static void
x_shm_barrier(sqlite3_file *file)
{
	struct shim_file *f = (struct shim_file *)file;

	f->real->pMethods->xShmBarrier(f->real);
}

static const sqlite3_io_methods methods = {
	2, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock,
	x_unlock, x_check_lock, x_file_control, x_sector_size,
	x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier,
	x_shm_unmap, NULL, NULL,
};

static int
x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
    int *out_flags)
{
	struct shim_file *f = (struct shim_file *)file;
	sqlite3_int64 size = 0;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc;
	f->shim = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL |
	    SQLITE_OPEN_MAIN_JOURNAL)) != 0;
	if (f->shim) {
		if ((rc = f->real->pMethods->xFileSize(f->real, &size)) !=
		    SQLITE_OK || (rc = grow(f, size + 1)) != SQLITE_OK ||
		    (size > 0 && (rc = f->real->pMethods->xRead(f->real, f->mem,
		    (int)size, 0)) != SQLITE_OK)) {
			f->real->pMethods->xClose(f->real);
			free(f->mem);
			return rc ? rc : SQLITE_IOERR;
		}
		f->size = size;
	}
	f->base.pMethods = &methods;
	return SQLITE_OK;
}

static sqlite3_vfs shim_vfs;

#define VFWD(name, args, call) \
	static int name args { (void)vfs; return real_vfs->call; }
VFWD(v_delete, (sqlite3_vfs *vfs, const char *n, int dir),
    xDelete(real_vfs, n, dir))
VFWD(v_access, (sqlite3_vfs *vfs, const char *n, int fl, int *out),
    xAccess(real_vfs, n, fl, out))
VFWD(v_full, (sqlite3_vfs *vfs, const char *n, int sz, char *out),
    xFullPathname(real_vfs, n, sz, out))
VFWD(v_random, (sqlite3_vfs *vfs, int n, char *out),
    xRandomness(real_vfs, n, out))
VFWD(v_sleep, (sqlite3_vfs *vfs, int us), xSleep(real_vfs, us))
VFWD(v_time, (sqlite3_vfs *vfs, sqlite3_int64 *out),
    xCurrentTimeInt64(real_vfs, out))
VFWD(v_error, (sqlite3_vfs *vfs, int n, char *out),
    xGetLastError(real_vfs, n, out))

int
powercut_install(unsigned long cut_after)
{
	if ((real_vfs = sqlite3_vfs_find(NULL)) == NULL)
		return -1;
	cut_at = cut_after;
	ops = 0;
	shim_vfs = *real_vfs;
	shim_vfs.iVersion = 2;
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.zName = "powercut";
	shim_vfs.pNext = NULL;
	shim_vfs.xOpen = x_open;
	shim_vfs.xDelete = v_delete;
	shim_vfs.xAccess = v_access;
	shim_vfs.xFullPathname = v_full;
	shim_vfs.xRandomness = v_random;
	shim_vfs.xSleep = v_sleep;
	shim_vfs.xCurrentTimeInt64 = v_time;
	shim_vfs.xGetLastError = v_error;
	shim_vfs.xDlOpen = NULL;
	shim_vfs.xDlError = NULL;
	shim_vfs.xDlSym = NULL;
	shim_vfs.xDlClose = NULL;
	shim_vfs.xCurrentTime = NULL;
	return sqlite3_vfs_register(&shim_vfs, 1) == SQLITE_OK ? 0 : -1;
}
