/*
 * flasher.h: the USB DFU 1.1 host of the station, on libusb-1.0.
 *
 * It finds DFU interfaces (class 0xFE, subclass 1) on any device, reads
 * their alt settings by name (the interface strings), and moves files in
 * and out of them: DNLOAD in wTransferSize blocks with GETSTATUS polling
 * that honours bwPollTimeout and dfuDNBUSY, the zero-length DNLOAD and
 * manifestation, UPLOAD until a short block, recovery from dfuERROR
 * (CLRSTATUS) and from a half-done transfer (ABORT). A device is named in
 * every error by its port path and serial (the hardware id).
 *
 * Use:
 *   flasher_open()            one per process (a libusb context)
 *   flasher_list()            a snapshot of attached DFU devices, as plain
 *                             data (call it again to see arrivals and
 *                             departures: periodic enumeration)
 *   flasher_select()          pick one by serial or port path
 *   flasher_session_open()    open and claim one device, only while it is
 *                             worked on (an open handle costs CPU in
 *                             libusb's event handling)
 *   flasher_download()/flasher_upload()   whole files to/from an alt
 *   flasher_session_close()
 *
 * The stamp profile on a session (profile.c): flasher_info, flasher_csr,
 * flasher_attest, flasher_stage, flasher_commit, flasher_lock; flasher_run() works on
 * many devices at once, one thread and one session each (profile_run.c).
 *
 * Concurrency: sessions are independent; one thread per device may run
 * its own session at the same time as others on one shared struct
 * flasher (libusb contexts are thread-safe). A session must not be used
 * by two threads at once. Errors go to the caller's buffer ${err}
 * (FLASHER_ERR_MAX bytes), never to stderr: the caller reports them once.
 *
 * The parsers (flasher_parse_*) need no device and are fuzzed.
 */
#ifndef FLASHER_H
#define FLASHER_H

#include <stddef.h>
#include <stdint.h>

#define FLASHER_ERR_MAX   384
#define FLASHER_STR_MAX   128   /* serial and alt names, ASCII, NUL included */
#define FLASHER_PATH_MAX  32    /* port path "1-2.3" */
#define FLASHER_ALTS_MAX  32
#define FLASHER_TIMEOUT_MS 5000 /* one control transfer */
#define FLASHER_BUSY_MAX_MS 60000 /* longest a device may stay busy per step */

/* DFU functional descriptor bmAttributes (DFU 1.1, 4.1.3). */
#define FLASHER_CAN_DNLOAD       0x01
#define FLASHER_CAN_UPLOAD       0x02
#define FLASHER_MANIFEST_TOLERANT 0x04
#define FLASHER_WILL_DETACH      0x08

/* DFU states (DFU 1.1, 6.1.2). */
enum flasher_state {
	FLASHER_APP_IDLE, FLASHER_APP_DETACH, FLASHER_DFU_IDLE,
	FLASHER_DNLOAD_SYNC, FLASHER_DNBUSY, FLASHER_DNLOAD_IDLE,
	FLASHER_MANIFEST_SYNC, FLASHER_MANIFEST, FLASHER_MANIFEST_WAIT_RESET,
	FLASHER_UPLOAD_IDLE, FLASHER_DFU_ERROR,
};

/* The DFU functional descriptor. */
struct flasher_func {
	uint8_t attributes;           /* FLASHER_CAN_DNLOAD | ... */
	uint16_t detach_timeout_ms;
	uint16_t transfer_size;       /* wTransferSize, >= 1 */
	uint16_t dfu_version;         /* bcdDFUVersion; 0x0100 if absent */
};

/* A GETSTATUS reply. */
struct flasher_status {
	uint8_t status;               /* bStatus: 0 OK, 3 errWRITE, ... */
	uint32_t poll_timeout_ms;     /* bwPollTimeout */
	uint8_t state;                /* bState: enum flasher_state */
	uint8_t string_index;
};

/* The DFU interface of a configuration descriptor. */
struct flasher_dfu_if {
	uint8_t interface;            /* bInterfaceNumber */
	uint8_t protocol;             /* 1 runtime, 2 DFU mode */
	struct flasher_func func;
	size_t nalts;
	struct { uint8_t setting, string_index; } alts[FLASHER_ALTS_MAX];
};

/* One attached DFU device, as listed. Plain data: copy it freely. */
struct flasher_device {
	char path[FLASHER_PATH_MAX];  /* port path, as dfu-util prints it */
	uint8_t bus, address;
	uint16_t vid, pid;
	char serial[FLASHER_STR_MAX]; /* USB serial = hardware id; "" if none */
	struct flasher_dfu_if dfu;
	char alt_names[FLASHER_ALTS_MAX][FLASHER_STR_MAX]; /* by dfu.alts[i] */
};

struct flasher;
struct flasher_session;

/* flasher_progress_fn(arg, done, total): ${done} of ${total} bytes moved
 * (total 0 when unknown, for uploads). */
typedef void flasher_progress_fn(void *arg, size_t done, size_t total);

/*
 * flasher_parse_func(buf, len, func): parse one DFU functional descriptor
 * of exactly ${len} bytes (9, or 7 for DFU 1.0 without bcdDFUVersion).
 * Returns 0, or -1 if malformed.
 */
int flasher_parse_func(const uint8_t *buf, size_t len, struct flasher_func *func);

/*
 * flasher_parse_config(buf, len, dfu, err): walk the configuration
 * descriptor ${buf} (exactly wTotalLength = ${len} bytes) and fill ${dfu}
 * with its first DFU interface (alt settings, functional descriptor).
 * Returns 0, 1 if it has no DFU interface, -1 if malformed (${err} says why).
 */
int flasher_parse_config(const uint8_t *buf, size_t len,
    struct flasher_dfu_if *dfu, char err[static FLASHER_ERR_MAX]);

/* flasher_parse_status(buf, len, st): a GETSTATUS reply of exactly 6
 * bytes. Returns 0, or -1. */
int flasher_parse_status(const uint8_t *buf, size_t len, struct flasher_status *st);

/* flasher_state_name(state), flasher_status_name(status): "dfuIDLE",
 * "errWRITE (device is unable to write memory)", ...; never NULL. */
const char *flasher_state_name(unsigned state);
const char *flasher_status_name(unsigned status);

/* flasher_open(fl, err): a new host context in *${fl}. Returns 0 or -1. */
int flasher_open(struct flasher **fl, char err[static FLASHER_ERR_MAX]);
/* flasher_close(fl): free ${fl} (NULL: nothing). */
void flasher_close(struct flasher *fl);

/*
 * flasher_list(fl, known, nknown, devs, n, err): every attached device
 * with a DFU interface, sorted by port path, into a new array *${devs} of
 * *${n} (free with flasher_list_free). Devices already in ${known} (same
 * bus, address and port path: the same attachment) are copied from it
 * without opening them again, so a loop polling for arrivals leaves
 * devices under work alone; ${known} may be NULL. A device that cannot be
 * read (busy, permissions, malformed descriptors) is left out. Returns 0
 * or -1.
 */
int flasher_list(struct flasher *fl, const struct flasher_device *known,
    size_t nknown, struct flasher_device **devs, size_t *n,
    char err[static FLASHER_ERR_MAX]);
void flasher_list_free(struct flasher_device *devs);

/*
 * flasher_list_rejected(fl, n): the DFU devices the last flasher_list()
 * left out because they could not be read (malformed descriptors, strings
 * that do not read), *${n} of them, each with its port path and why; valid
 * until the next flasher_list() on ${fl}. Non-DFU devices are not listed.
 */
#define FLASHER_REJECTED_MAX 16
struct flasher_rejected {
	char path[FLASHER_PATH_MAX];
	uint16_t vid, pid;
	char why[FLASHER_ERR_MAX];
};
const struct flasher_rejected *flasher_list_rejected(const struct flasher *fl,
    size_t *n);

/*
 * flasher_select(devs, n, serial, path, index, err): the one device of
 * ${devs} whose serial is ${serial} and/or port path is ${path} (NULL:
 * any), into *${index}. Returns 0; -1 if none matches; -2 if several do
 * (${err} says how to choose).
 */
int flasher_select(const struct flasher_device *devs, size_t n,
    const char *serial, const char *path, size_t *index,
    char err[static FLASHER_ERR_MAX]);

/* flasher_alt_index(dev, name): the alt setting named ${name}, or -1. */
int flasher_alt_index(const struct flasher_device *dev, const char *name);

/*
 * flasher_session_open(fl, dev, s, err): open and claim the DFU interface
 * of ${dev} (as listed; it must still be attached at the same address).
 * Returns 0 or -1.
 */
int flasher_session_open(struct flasher *fl, const struct flasher_device *dev,
    struct flasher_session **s, char err[static FLASHER_ERR_MAX]);
/* flasher_session_close(s): release and close (NULL: nothing). */
void flasher_session_close(struct flasher_session *s);

/* flasher_getstatus(s, st, err): one DFU_GETSTATUS. Returns 0 or -1. */
int flasher_getstatus(struct flasher_session *s, struct flasher_status *st,
    char err[static FLASHER_ERR_MAX]);

/*
 * flasher_download(s, alt, data, len, progress, arg, err): download the
 * ${len} bytes (>= 1) of ${data} to alt ${alt} and wait for manifestation;
 * brings the device to dfuIDLE first (CLRSTATUS/ABORT). Returns 0 only
 * once the device reported dfuIDLE after manifestation; -1 otherwise, the
 * device cleared back to dfuIDLE when still possible.
 */
int flasher_download(struct flasher_session *s, const char *alt,
    const uint8_t *data, size_t len, flasher_progress_fn *progress,
    void *arg, char err[static FLASHER_ERR_MAX]);

/*
 * flasher_upload(s, alt, max, data, len, progress, arg, err): upload alt
 * ${alt} until a short block into a new buffer *${data} of *${len} bytes
 * (free()); refuses more than ${max} bytes. Returns 0 or -1.
 */
int flasher_upload(struct flasher_session *s, const char *alt, size_t max,
    uint8_t **data, size_t *len, flasher_progress_fn *progress, void *arg,
    char err[static FLASHER_ERR_MAX]);

/* flasher_session_transfers(s): control transfers issued so far (bench). */
unsigned long flasher_session_transfers(const struct flasher_session *s);

/* flasher_session_name(s): "device 1-2 (serial SD0123...)", for messages;
 * flasher_session_device(s): the device as listed. */
const char *flasher_session_name(const struct flasher_session *s);
const struct flasher_device *flasher_session_device(
    const struct flasher_session *s);

/*
 * The stamp DFU profile (profile.c; ARCHITECTURE.md "USB: the stamp DFU
 * profile", messages in stamp-format/SPEC.md section 5). One call per
 * profile operation, on an open session; each returns 0, or -1 with
 * ${err} naming the device (port path and serial) and what to do. None
 * reports success unless the device confirmed it: stage is read back and
 * compared, commit and lock are read back from the device.
 *
 * Order for one device: flasher_info -> [flasher_attest, when the station
 * checks attestation] -> flasher_csr (device key mode) [-> flasher_attest
 * binding the new key] ->
 * [station issues the certificate, builds and signs the stamp] ->
 * flasher_stage -> [station records `written`] -> flasher_commit ->
 * flasher_lock (optional).
 */
#define FLASHER_HWID_MAX 64
#define FLASHER_CSR_MAX  4096
#define FLASHER_NONCE_MIN 16
#define FLASHER_NONCE_MAX 64

/* The device's info record (SPEC.md 5.1), as plain data. */
struct flasher_info {
	uint8_t hardware_id[FLASHER_HWID_MAX];
	size_t hardware_id_len;
	char model[65], firmware_version[65];
	uint32_t capabilities;            /* STAMP_CAP_* bits */
	uint8_t transport_key[65];        /* P-256 point 04||X||Y */
	uint32_t active_generation;       /* 0 and a zero digest: no stamp */
	uint8_t active_digest[32];
	int has_staged;
	uint32_t staged_generation;
	uint8_t staged_digest[32];
	uint32_t slot_size;
	uint16_t write_unit;
	int locked;                       /* 0, 1; -1 if not reported */
	size_t attestation_certs;         /* ATTESTATION_CERT records (not checked here) */
	/* capabilities & STAMP_CAP_ATTEST: answers flasher_attest() */
};

/* flasher_info_stamped(info): 1 if the device has an active stamp. */
int flasher_info_stamped(const struct flasher_info *info);

/*
 * flasher_parse_info(buf, len, info, err): check the info record ${buf}
 * (exactly ${len} bytes) with the stamp-format reader and fill ${info}.
 * Returns 0 or -1 (${err}: the reason and byte offset).
 */
int flasher_parse_info(const uint8_t *buf, size_t len,
    struct flasher_info *info, char err[static FLASHER_ERR_MAX]);

/* flasher_parse_active(buf, len, generation, digest): the 36-byte reply of
 * alt `commit` (u32 generation, 32-byte digest). Returns 0 or -1. */
int flasher_parse_active(const uint8_t *buf, size_t len, uint32_t *generation,
    uint8_t digest[static 32]);

/* flasher_parse_csr_der(buf, len): 0 if ${buf} is exactly one DER
 * SEQUENCE (definite length, nothing after it), else -1. */
int flasher_parse_csr_der(const uint8_t *buf, size_t len);

/* flasher_profile_check(dev, err): 0 if ${dev} offers the five alts of the
 * stamp profile and can download and upload; else -1. */
int flasher_profile_check(const struct flasher_device *dev,
    char err[static FLASHER_ERR_MAX]);

/*
 * flasher_info(s, info, err): upload alt `info` and parse it. Also checks
 * that its hardware id is the USB serial the device was selected by.
 */
int flasher_info(struct flasher_session *s, struct flasher_info *info,
    char err[static FLASHER_ERR_MAX]);

/* The keygen request's optional subject hints (NULL: left out). */
struct flasher_subject {
	const char *cn, *org, *serial;
};

/*
 * flasher_csr(s, info, nonce, nonce_len, subject, csr, csr_len, err): ask
 * the device (which must have KEYGEN) for a new key pair and a CSR over
 * ${nonce} (16..64 bytes; the station uses 32): DNLOAD the keygen request
 * to alt `csr` (the device is busy, dfuDNBUSY, while it generates), then
 * UPLOAD the CSR into a new buffer *${csr} of *${csr_len} bytes (free()).
 * Only the DER framing is checked here; the CSR's signature and nonce are
 * for the caller's CA to verify (hsm_csr_check).
 */
int flasher_csr(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t *nonce, size_t nonce_len,
    const struct flasher_subject *subject, uint8_t **csr, size_t *csr_len,
    char err[static FLASHER_ERR_MAX]);

/*
 * flasher_attest(s, info, nonce, nonce_len, bind_key, reply, reply_len,
 * err): the attestation exchange (stamp-format/SPEC.md 5.5) with a device
 * that has the ATTEST capability (others are refused up front): DNLOAD an
 * attestation request (hardware id, ${nonce} of 16..64 bytes; with
 * ${bind_key} BIND_KEY, so the device also attests the key of its last
 * keygen) to alt `info`, then UPLOAD alt `info`, the signed answer, into
 * a new buffer *${reply} of *${reply_len} bytes (free()). Nothing in the
 * answer is checked here: chain, signature, nonce and key hash are for the
 * caller to verify (station/attest.c).
 */
int flasher_attest(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t *nonce, size_t nonce_len, int bind_key, uint8_t **reply,
    size_t *reply_len, char err[static FLASHER_ERR_MAX]);

/*
 * flasher_stage(s, info, image, len, err): DNLOAD the stamp image to alt
 * `stamp` (the device stages it, inactive), UPLOAD it back and compare
 * byte for byte. Returns 0 only if the read-back is identical.
 */
int flasher_stage(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t *image, size_t len, char err[static FLASHER_ERR_MAX]);

/*
 * flasher_commit(s, info, digest, generation, err): DNLOAD a commit request
 * naming the staged image (its INTEGRITY digest and generation); the device
 * checks the stamp and activates it. Then UPLOAD alt `commit` and require
 * that exactly this generation and digest are active.
 */
int flasher_commit(struct flasher_session *s, const struct flasher_info *info,
    const uint8_t digest[static 32], uint32_t generation,
    char err[static FLASHER_ERR_MAX]);

/*
 * flasher_lock(s, info, err): DNLOAD the lock request ("LOCK" followed by
 * the hardware id) to alt `lock`, then UPLOAD the lock state and require
 * 1 (locked). A device without the LOCK capability is refused up front.
 */
int flasher_lock(struct flasher_session *s, const struct flasher_info *info,
    char err[static FLASHER_ERR_MAX]);

/*
 * Several devices at once (profile_run.c): flasher_run(fl, devs, n, job,
 * arg, results) runs ${job} for each of the ${n} devices on its own thread,
 * all at once, each with its own session (opened before, closed after
 * ${job}); a slow or failing device holds up nobody. results[i] (caller's
 * array of ${n}) gets device i's outcome. Devices that share a serial
 * (hardware id) are not worked on at all: a cloned or misprogrammed id.
 * Returns the number of devices that failed.
 */
typedef int flasher_job_fn(void *arg, size_t index, struct flasher_session *s,
    char err[static FLASHER_ERR_MAX]);

struct flasher_result {
	char path[FLASHER_PATH_MAX];
	char serial[FLASHER_STR_MAX];
	int ok;                       /* 1 only if the job returned 0 */
	long long ms;                 /* wall time of this device */
	char err[FLASHER_ERR_MAX];    /* names device and port */
};

size_t flasher_run(struct flasher *fl, const struct flasher_device *devs,
    size_t n, flasher_job_fn *job, void *arg, struct flasher_result *results);

#endif
