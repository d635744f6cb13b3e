/*
 * emu.h: the insides of stampdev-emu, the umockdev-based emulator of stamp
 * devices (private to flasher/emu/; never linked into the station).
 *
 * Layers, bottom up:
 *   emu_alt.c    what one alt setting does with downloaded and uploaded
 *                bytes (struct emu_alt_ops); today every alt is a raw file
 *                under the state folder, `info` read-only. The stamp-profile
 *                behaviours plug in here as further ops tables.
 *   emu_dfu.c    the DFU 1.1 state machine of one device: class requests,
 *                bwPollTimeout/dfuDNBUSY timing, stalls for a host that
 *                breaks the state table, faults.
 *   emu_usb.c    USB: descriptors, standard requests, and the usbdevfs
 *                ioctls that umockdev forwards (URB submit/reap).
 *   emu_state.c  the per-device state folder: serial, transport key pair.
 *   emu_main.c   options, the umockdev testbed, arrivals and departures,
 *                and the COMMAND it serves.
 *
 * Threads: umockdev runs every ioctl handler in its own worker thread;
 * arrivals, departures and vanishing are done by the main thread. One
 * mutex (emu_lock) guards all device state. Handlers never sleep: a slow
 * device is modelled by dfuDNBUSY and bwPollTimeout.
 */
#ifndef EMU_H
#define EMU_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_VID           0x1209  /* pid.codes */
#define EMU_PID           0x0001  /* pid.codes test PID */
#define EMU_MAX_DEVICES   64
#define EMU_ALTS          5
#define EMU_TRANSFER_SIZE 2048    /* wTransferSize */
#define EMU_DETACH_MS     1000    /* wDetachTimeOut */
#define EMU_ALT_CAPACITY  (1u << 20)
#define EMU_SERIAL_MAX    32
#define EMU_ATTEST_CHAIN_MAX 4

/* DFU 1.1 states and status codes (DFU 1.1, section 6.1.2). */
enum {
	DFU_APP_IDLE, DFU_APP_DETACH, DFU_IDLE, DFU_DNLOAD_SYNC, DFU_DNBUSY,
	DFU_DNLOAD_IDLE, DFU_MANIFEST_SYNC, DFU_MANIFEST,
	DFU_MANIFEST_WAIT_RESET, DFU_UPLOAD_IDLE, DFU_ERROR,
};
enum {
	DFU_OK, DFU_ERR_TARGET, DFU_ERR_FILE, DFU_ERR_WRITE, DFU_ERR_ERASE,
	DFU_ERR_CHECK_ERASED, DFU_ERR_PROG, DFU_ERR_VERIFY, DFU_ERR_ADDRESS,
	DFU_ERR_NOTDONE, DFU_ERR_FIRMWARE, DFU_ERR_VENDOR, DFU_ERR_USBR,
	DFU_ERR_POR, DFU_ERR_UNKNOWN, DFU_ERR_STALLEDPKT,
};

struct emu_alt;

/*
 * What one alt setting does. Every hook returns a DFU status code
 * (DFU_OK on success). Download: dnload_begin, then dnload_block for each
 * block in order (offset = bytes so far), then manifest after the
 * zero-length DNLOAD. Upload: upload_begin, then upload_block, which
 * copies up to ${len} bytes at ${offset} and sets *got (short = end).
 */
struct emu_alt_ops {
	int (*dnload_begin)(struct emu_alt *alt);
	int (*dnload_block)(struct emu_alt *alt, size_t offset,
	    const uint8_t *data, size_t len);
	int (*manifest)(struct emu_alt *alt);
	int (*upload_begin)(struct emu_alt *alt);
	int (*upload_block)(struct emu_alt *alt, size_t offset, uint8_t *buf,
	    size_t len, size_t *got);
	void (*abort)(struct emu_alt *alt);  /* drop a transfer in progress */
};

struct emu_device;

struct emu_alt {
	const char *name;
	const struct emu_alt_ops *ops;
	struct emu_device *dev;  /* the device it belongs to */
	uint32_t busy_ms;        /* set by a hook: dfuDNBUSY/dfuMANIFEST time */
	bool complete;           /* a profile request was received whole */
	char file[PATH_MAX];     /* its virtual flash under the state folder */
	uint8_t *buf;            /* download staging / upload snapshot */
	size_t len, cap;
};

struct emu_device {
	int index;                    /* 1-based; port 1-<index> */
	char serial[EMU_SERIAL_MAX];  /* the hardware id */
	char dir[PATH_MAX];           /* state folder of this device */
	char sysname[16];             /* "1-3" */
	char syspath[64];             /* "/sys/devices/usb1/1-3" */
	char devnode[32];             /* "/dev/bus/usb/001/004" */
	int devnum;
	enum { DEV_ABSENT, DEV_PRESENT, DEV_GONE } presence;
	bool vanish_pending;          /* handler asks main to unplug it */
	long long arrived_ms;
	void *handler;                /* UMockdevIoctlBase */
	void *done;                   /* GQueue of completed URBs to reap */

	/* DFU */
	int alt;
	struct emu_alt alts[EMU_ALTS];
	uint8_t state, status;
	uint8_t pending_status;       /* result of the last block/manifest */
	uint32_t poll_ms;             /* bwPollTimeout of the last GETSTATUS */
	long long busy_until;         /* end of dfuDNBUSY / dfuMANIFEST */
	bool busy_pending;            /* next GETSTATUS reports busy */
	bool block_seen;
	uint16_t next_block;
	size_t offset;                /* bytes downloaded/uploaded so far */

	/* faults */
	size_t vanish_at, error_at;   /* byte offsets; SIZE_MAX = off */
	size_t stall_at;
	uint32_t slow_ms;             /* bwPollTimeout per block; 0 = fast */
	bool wait_reset;              /* not manifestation tolerant */
	uint32_t manifest_ms;         /* its dfuMANIFEST time */
	long long leave_after_ms;     /* -1 = stays */
	unsigned long transfers;      /* control transfers served */
	uint32_t busy_ms;             /* busy time asked for by the alt hook */
	char status_text[96];         /* iString of the last error status */

	/* stamp profile (emu_profile.c, emu_flash.c) */
	bool power_cut;               /* set by a hook: the device loses power */
	void *transport;              /* EVP_PKEY: transport key pair */
	uint8_t transport_pub[65];
	void *trust;                  /* EVP_PKEY: stamp signer, or NULL */
	uint8_t trust_key_id[32];
	bool development;             /* accepts development stamps */
	uint32_t keygen_ms;           /* dfuDNBUSY time of a keygen */
	uint8_t *csr;                 /* the CSR of the last keygen (DER) */
	size_t csr_len;
	uint8_t *flash;               /* the stamp partition: slot A, slot B */
	char flash_file[PATH_MAX];
	size_t stage_slot;            /* slot being written */

	/* stamp profile faults */
	size_t powercut_at;           /* stamp write: power lost after byte N */
	int commit_cut;               /* commit: power lost after N marker bytes; -1 off */
	int stall_req;                /* DFU bRequest stalled once; -1 off */
	int csr_fault;                /* EMU_CSR_* */
	size_t short_at;              /* uploads end after N bytes */
	size_t oversize;              /* uploads get N extra bytes */
	size_t flip_at;               /* stamp upload: byte N flipped */
	int bad_desc;                 /* 1 bad functional descriptor, 2 no profile alts */
	int clone_of;                 /* reports device K's hardware id; 0 off */
	int no_lock;                  /* 1 refuses to lock, 2 ignores the request */

	/* attestation (emu_attest.c) */
	void *attest_key;             /* EVP_PKEY: the chip's attestation key */
	uint8_t *attest_cert[EMU_ATTEST_CHAIN_MAX]; /* DER, leaf first */
	size_t attest_cert_len[EMU_ATTEST_CHAIN_MAX], attest_ncerts;
	int attest_fault;             /* EMU_ATTEST_* */
	bool attest_pending;          /* the next info upload answers a request */
	bool attest_bind;             /* ... with the keygen key's hash */
	uint8_t attest_nonce[64];
	size_t attest_nonce_len;
	uint8_t device_pub[65];       /* the last keygen's public point */
	bool has_device_key;
};

enum {
	EMU_ATTEST_OK, EMU_ATTEST_BAD_SIG, EMU_ATTEST_WRONG_NONCE,
	EMU_ATTEST_UNKNOWN_ROOT, EMU_ATTEST_EXPIRED, EMU_ATTEST_NONE,
	EMU_ATTEST_OTHER_KEY,
};

enum { EMU_CSR_OK, EMU_CSR_OTHER_KEY, EMU_CSR_NO_NONCE, EMU_CSR_WRONG_NONCE };

/* The stamp partition: two slots of EMU_SLOT_SIZE, write unit 16. */
#define EMU_SLOT_SIZE  8192u
#define EMU_WRITE_UNIT 16u
#define EMU_STR_STATUS 0x20           /* string index of status_text */

extern pthread_mutex_t emu_lock;
extern int emu_verbose;

long long emu_now_ms(void);
void emu_log(const struct emu_device *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* emu_alt.c */
int emu_alts_init(struct emu_device *d, bool raw);
void emu_alts_free(struct emu_device *d);

/* emu_dfu.c: a DFU class request; returns 0 (reply in data, its length in *len),
 * -EPIPE (stall) or -ENODEV (the device has vanished). */
void emu_dfu_reset(struct emu_device *d);
int emu_dfu_request(struct emu_device *d, const uint8_t setup[static 8],
    uint8_t *data, size_t *len);
void emu_dfu_set_alt(struct emu_device *d, int alt);

/* emu_usb.c */
int emu_usb_request(struct emu_device *d, const uint8_t setup[static 8],
    uint8_t *data, size_t *len);
char *emu_usb_sysfs_record(const struct emu_device *d);
void *emu_usb_handler_new(struct emu_device *d);
/* emu_usb_drop_done(d, client): drop the unreaped URBs of ${client}
 * (NULL: of every client). Call with emu_lock held. */
void emu_usb_drop_done(struct emu_device *d, void *client);

/* emu_state.c */
int emu_state_device(struct emu_device *d, const char *state_dir, bool raw);
int emu_state_trust(struct emu_device *d, const char *pem);
void emu_state_free(struct emu_device *d);

/* emu_flash.c: the A/B stamp partition (SPEC.md section 4). */
struct emu_slot_state {
	int active, staged;           /* slot index, or -1 */
	uint32_t active_gen, staged_gen;
	uint8_t active_digest[32], staged_digest[32];
	size_t staged_len, active_len; /* image lengths */
};
int emu_flash_load(struct emu_device *d);
void emu_flash_scan(struct emu_device *d, struct emu_slot_state *st);
int emu_flash_write(struct emu_device *d, size_t off, const uint8_t *p,
    size_t len);
/* emu_flash_check(d, slot, full, v-out): stamp_read of slot ${slot};
 * ${full}: signature, binding, secrets as at commit. Returns a DFU status;
 * the reason in d->status_text. */
struct stamp_view;
int emu_flash_check(struct emu_device *d, size_t slot, bool full,
    struct stamp_view *v);
int emu_locked(const struct emu_device *d);

/* emu_profile.c */
const struct emu_alt_ops *emu_profile_ops(const char *alt_name);
/* emu_keygen.c: a new P-256 key and its CSR over ${nonce}; DFU status. */
int emu_keygen(struct emu_device *d, const uint8_t *nonce, size_t nonce_len,
    const char *cn, const char *org, const char *serial);
/* emu_crypto_init(d, crypto): stamp_crypto callbacks over d's keys. */
struct stamp_crypto;
void emu_crypto_init(struct emu_device *d, struct stamp_crypto *crypto);

/* emu_attest.c: chip-vendor attestation (SPEC.md 5.5). emu_attest_setup:
 * every device's attestation key and chain, from a vendor root in
 * ${ca_dir} (made there once) or from the files ${chain} and ${key}; both
 * NULL: none. emu_attest_request: a downloaded attestation request (DFU
 * status, reason in status_text). emu_attest_info: the chain, and the
 * answer to a pending request, appended to the info being built. */
struct stamp_builder;
bool emu_attest_capable(const struct emu_device *d);
int emu_attest_setup(struct emu_device *devs, int n, const char *ca_dir,
    const char *chain, const char *key);
void emu_attest_free(struct emu_device *d);
int emu_attest_request(struct emu_device *d, const uint8_t *buf, size_t len);
int emu_attest_info(struct emu_device *d, struct stamp_builder *b);

#endif
