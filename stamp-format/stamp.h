/*
 * stamp.h: the stamp image and the USB profile messages (info, keygen
 * request, commit request): a no-heap reader (stamp.c) and builder
 * (stamp_build.c).
 *
 * stamp-format/SPEC.md is the byte-level contract; this header and stamp.c
 * are its reference implementation. They depend on nothing but a C11
 * compiler and <stddef.h>/<stdint.h>/<string.h>, so device firmware can
 * copy stamp.h and stamp.c (and stamp_build.c to build). Hashing, signature verification, ECDH and AES come in
 * as callbacks (struct stamp_crypto). The reader never writes to the image,
 * never allocates, and never loads a multi-byte value from an unaligned
 * address (every field is assembled byte by byte). Every failure reports a
 * reason code and the byte offset where it was found.
 *
 * The reader is stamp.c; the builder is stamp_build.c, which firmware that
 * only reads does not need; stamp_names.c holds stamp_strerror() and
 * stamp_type_name() (English names for logs and tools), which
 * -DSTAMP_NO_STRINGS leaves out of this header.
 */
#ifndef STAMP_H
#define STAMP_H

#include <stddef.h>
#include <stdint.h>

/* Magic numbers: the first four bytes, read as a little-endian u32. */
#define STAMP_MAGIC        0x504d5453u  /* "STMP" the stamp image */
#define STAMP_MAGIC_INFO   0x464e4953u  /* "SINF" device info (USB alt info) */
#define STAMP_MAGIC_KEYGEN 0x52474b53u  /* "SKGR" keygen request (alt csr) */
#define STAMP_MAGIC_COMMIT 0x524d4353u  /* "SCMR" commit request (alt commit) */
#define STAMP_MAGIC_ATTEST 0x51544153u  /* "SATQ" attestation request (alt info) */
/* The commit marker in the last write unit of an A/B slot (SPEC.md 4):
 * magic, u32 generation, the first 8 bytes of the digest, 0xFF to the end. */
#define STAMP_MAGIC_MARKER 0x4d4f4353u  /* "SCOM" */
#define STAMP_MARKER_LEN 16

#define STAMP_VERSION_MAJOR 1
#define STAMP_VERSION_MINOR 0
#define STAMP_HEADER_LEN 24       /* the stamp header of version 1.0 */
#define STAMP_MSG_HEADER_LEN 12   /* the message header of version 1.0 */
#define STAMP_RECORD_HEADER_LEN 8
#define STAMP_POINT_LEN 65        /* uncompressed P-256 point 04||X||Y */
#define STAMP_KEY_ID_LEN 32       /* SHA-256 of the signer's 65-byte point */
#define STAMP_SIG_LEN 64          /* ECDSA P-256 r||s, big-endian */
#define STAMP_DIGEST_LEN 32
#define STAMP_SIG_VALUE_LEN 100   /* alg(1) reserved(3) key id(32) r||s(64) */
#define STAMP_SEALED_MIN (STAMP_POINT_LEN + 16)

/* Header flags (stamp). Bits 0-15 are critical, 16-31 informational. */
#define STAMP_HF_DEVELOPMENT 0x0001u  /* may carry plaintext secrets */

/* Record flags. */
#define STAMP_RF_CRITICAL  0x0001u  /* reject the image if the type is unknown */
#define STAMP_RF_SECRET    0x0002u  /* value sealed to the transport key */
#define STAMP_RF_PLAINTEXT 0x0004u  /* with SECRET: not sealed; development only */

/* Stamp record types (SPEC.md, "Record registry"). */
enum {
	STAMP_T_HARDWARE_ID = 0x0001,
	STAMP_T_SERIAL_NUMBER = 0x0002,
	STAMP_T_CLAIM_ID = 0x0003,
	STAMP_T_PRODUCT_ID = 0x0004,
	STAMP_T_MANUFACTURER = 0x0005,
	STAMP_T_MODEL = 0x0006,
	STAMP_T_HARDWARE_REVISION = 0x0007,
	STAMP_T_MANUFACTURING_TIME = 0x0008,
	STAMP_T_STATION_ID = 0x0009,
	STAMP_T_ORDER_ID = 0x000a,
	STAMP_T_DEVICE_CERT = 0x000b,
	STAMP_T_CA_CERT = 0x000c,
	STAMP_T_KEY_REFERENCE = 0x000d,
	STAMP_T_WRAPPED_DEVICE_KEY = 0x000e,
	STAMP_T_POP_SECRET = 0x000f,
	STAMP_T_APP_PUBLIC_KEY = 0x0010,
	STAMP_T_BARCODE_PAYLOAD = 0x0011,
	STAMP_T_PROVISIONING_TOKEN = 0x0012,
	STAMP_T_CLAIM_MODE = 0x0013,
	STAMP_T_INTEGRITY = 0x7ffe,
	STAMP_T_SIGNATURE = 0x7fff,
	STAMP_T_VENDOR_FIRST = 0x8000,
};

/* CLAIM_MODE values. */
#define STAMP_CLAIM_USER 1
#define STAMP_CLAIM_PRE 2

/* Info record types. */
enum {
	STAMP_I_HARDWARE_ID = 0x01,
	STAMP_I_MODEL = 0x02,
	STAMP_I_FIRMWARE_VERSION = 0x03,
	STAMP_I_CAPABILITIES = 0x04,
	STAMP_I_TRANSPORT_KEY = 0x05,
	STAMP_I_STAMP_ACTIVE = 0x06,
	STAMP_I_STAMP_STAGED = 0x07,
	STAMP_I_STAMP_GEOMETRY = 0x08,
	STAMP_I_LOCK_STATE = 0x09,
	STAMP_I_ATTESTATION_CERT = 0x0a,
	STAMP_I_ATTESTATION_SIG = 0x0b,
	STAMP_I_ATTESTATION_NONCE = 0x0c,  /* the attestation request's nonce */
	STAMP_I_ATTESTED_KEY = 0x0d,       /* SHA-256 of the keygen key's point */
};

/* CAPABILITIES bits. */
#define STAMP_CAP_KEYGEN      0x01u  /* on-device keygen (alt csr) */
#define STAMP_CAP_SECRETS     0x02u  /* opens SECRET records */
#define STAMP_CAP_LOCK        0x04u  /* alt lock */
#define STAMP_CAP_AB_SLOTS    0x08u  /* two stamp slots, atomic commit */
#define STAMP_CAP_DEVELOPMENT 0x10u  /* accepts development stamps */
#define STAMP_CAP_ATTEST      0x20u  /* answers attestation requests (alt info) */

/* Keygen request record types. */
enum {
	STAMP_K_HARDWARE_ID = 0x01,
	STAMP_K_NONCE = 0x02,
	STAMP_K_KEY_TYPE = 0x03,
	STAMP_K_SUBJECT_CN = 0x04,
	STAMP_K_SUBJECT_ORG = 0x05,
	STAMP_K_SUBJECT_SERIAL = 0x06,
};
#define STAMP_KEY_P256 1

/* Commit request record types. */
enum {
	STAMP_C_HARDWARE_ID = 0x01,
	STAMP_C_DIGEST = 0x02,
	STAMP_C_GENERATION = 0x03,
};

/* Attestation request record types (SPEC.md 5.5). */
enum {
	STAMP_A_HARDWARE_ID = 0x01,
	STAMP_A_NONCE = 0x02,
	STAMP_A_BIND_KEY = 0x03,
};
#define STAMP_BIND_KEYGEN 1  /* BIND_KEY: the key of the last keygen */

/* Reason codes. SPEC.md, "Errors", says what each one means. */
enum stamp_err {
	STAMP_OK = 0,
	STAMP_E_TRUNCATED,   /* the data ends before what the header says */
	STAMP_E_MAGIC,       /* not this kind of image or message */
	STAMP_E_VERSION,     /* unsupported major version */
	STAMP_E_HEADER,      /* bad header length, write unit or reserved field */
	STAMP_E_LENGTH,      /* total length not a multiple of the write unit */
	STAMP_E_BOUNDS,      /* a record runs past the end */
	STAMP_E_PADDING,     /* non-zero alignment padding */
	STAMP_E_FLAGS,       /* unknown or contradictory flags */
	STAMP_E_CRITICAL,    /* unknown record type marked critical */
	STAMP_E_DUPLICATE,   /* a singleton record given twice */
	STAMP_E_MISSING,     /* a required record is absent */
	STAMP_E_VALUE,       /* a value of the wrong length or content */
	STAMP_E_SECRET,      /* secret flag wrong for the type, or bad sealed form */
	STAMP_E_ORDER,       /* integrity/signature not last, record after last */
	STAMP_E_TRAILING,    /* bytes after the end that are not erased (0xFF) */
	STAMP_E_DIGEST,      /* integrity digest mismatch */
	STAMP_E_SIGNATURE,   /* signature does not verify / unknown key id */
	STAMP_E_BINDING,     /* hardware id is not this device's */
	STAMP_E_DEVELOPMENT, /* development stamp where it is not allowed */
	STAMP_E_DECRYPT,     /* a sealed secret does not open */
	STAMP_E_SPACE,       /* builder: the buffer is too small */
	STAMP_E_CRYPTO,      /* a crypto callback failed or is missing */
	STAMP_E_ARGUMENT,    /* a bad argument to a builder function */
};

/* Where and why: set by every function that can fail. */
struct stamp_error {
	enum stamp_err code;
	size_t offset;  /* byte offset in the image or message */
};

/*
 * Crypto callbacks; each returns 0 on success, -1 on failure. Only those a
 * function needs must be set (SPEC.md, "Sealed secrets", for the scheme).
 */
struct stamp_crypto {
	void *ctx;
	/* sha256(ctx, data, len, out): SHA-256 of ${data}. */
	int (*sha256)(void *ctx, const uint8_t *data, size_t len, uint8_t out[32]);
	/* verify(ctx, key_id, digest, sig): ECDSA P-256 over ${digest} by the
	 * trusted key named ${key_id}; -1 if unknown key or bad signature. */
	int (*verify)(void *ctx, const uint8_t key_id[32], const uint8_t digest[32],
	    const uint8_t sig[64]);
	/* ecdh(ctx, peer, z): x-coordinate of transport private key * ${peer}. */
	int (*ecdh)(void *ctx, const uint8_t peer[65], uint8_t z[32]);
	/* ecdh_ephemeral(ctx, peer, eph, z): fresh key pair, its public point in
	 * ${eph}, x-coordinate of its private key * ${peer} in ${z}. */
	int (*ecdh_ephemeral)(void *ctx, const uint8_t peer[65], uint8_t eph[65],
	    uint8_t z[32]);
	/* aes256_ecb(ctx, key, in, out): two AES-256 block encryptions. */
	int (*aes256_ecb)(void *ctx, const uint8_t key[32], const uint8_t in[32],
	    uint8_t out[32]);
	/* kwp_wrap / kwp_unwrap(ctx, kek, in, len, out, out_len): RFC 5649 AES
	 * key wrap with padding under the 256-bit ${kek}; *${out_len} is the
	 * capacity of ${out} on entry and the length written on return. */
	int (*kwp_wrap)(void *ctx, const uint8_t kek[32], const uint8_t *in,
	    size_t len, uint8_t *out, size_t *out_len);
	int (*kwp_unwrap)(void *ctx, const uint8_t kek[32], const uint8_t *in,
	    size_t len, uint8_t *out, size_t *out_len);
};

/* What the reader checks beyond the format (all optional). */
struct stamp_expect {
	const uint8_t *hardware_id;  /* NULL: binding not checked */
	size_t hardware_id_len;
	int allow_development;       /* 0: a development stamp is refused */
};

/* One record, pointing into the caller's buffer. */
struct stamp_record {
	uint16_t type;
	uint16_t flags;
	uint32_t length;
	const uint8_t *value;
	size_t offset;  /* of the record header */
};

/* A cursor over the records of a checked image or message. */
struct stamp_cursor {
	const uint8_t *buf;
	size_t offset, end;
};

/* A checked stamp image; every pointer points into the caller's buffer. */
struct stamp_view {
	const uint8_t *image;
	size_t total_len;      /* padded image length (header field) */
	size_t records_off;    /* first record */
	size_t integrity_off;  /* the digest covers [0, integrity_off) */
	size_t signature_off;  /* the signature record */
	size_t end_off;        /* end of the signature record */
	uint32_t generation;
	uint32_t flags;
	uint16_t write_unit;
	uint8_t version_major, version_minor;
	int signature_checked; /* 1 if crypto->verify was given and passed */
	const uint8_t *digest;     /* 32 bytes */
	const uint8_t *key_id;     /* 32 bytes */
	const uint8_t *signature;  /* 64 bytes r||s */
	const uint8_t *hardware_id;
	size_t hardware_id_len;
};

/* A checked message (info, keygen, commit or attestation request). */
struct stamp_msg {
	const uint8_t *buf;
	size_t len;
	uint32_t magic;
	size_t records_off;
	size_t signed_len;  /* info with attestation: bytes it covers, else 0 */
};

/*
 * stamp_read(v, buf, len, crypto, expect, err): check the stamp in the
 * first ${len} bytes of ${buf} (a file, or a whole slot: bytes after the
 * image must be 0xFF) and fill ${v}. Checks structure, every length, the
 * registry rules, the digest (crypto->sha256, required), the signature if
 * crypto->verify is set, and what ${expect} asks (may be NULL). Returns 0,
 * or -1 with ${err} set to the first problem and its offset.
 */
int stamp_read(struct stamp_view *v, const uint8_t *buf, size_t len,
    const struct stamp_crypto *crypto, const struct stamp_expect *expect,
    struct stamp_error *err);

/*
 * stamp_msg_read(m, magic, buf, len, err): check a message of kind
 * ${magic} (STAMP_MAGIC_INFO, _KEYGEN, _COMMIT or _ATTEST) that is exactly
 * ${len} bytes. An info attestation signature is not verified here: its
 * digest is SHA-256 of the first m->signed_len bytes; ATTESTATION_NONCE
 * and ATTESTED_KEY need it (MISSING). Returns 0 or -1 with ${err}.
 */
int stamp_msg_read(struct stamp_msg *m, uint32_t magic, const uint8_t *buf,
    size_t len, struct stamp_error *err);

/* stamp_records(v, c) / stamp_msg_records(m, c): a cursor over all records
 * (for a stamp including integrity and signature). */
void stamp_records(const struct stamp_view *v, struct stamp_cursor *c);
void stamp_msg_records(const struct stamp_msg *m, struct stamp_cursor *c);

/* stamp_next(c, rec): the next record into ${rec}; 1, or 0 at the end. */
int stamp_next(struct stamp_cursor *c, struct stamp_record *rec);

/* stamp_find(c, type, rec): the first record of ${type} from ${c} on;
 * 1 found, 0 not. */
int stamp_find(struct stamp_cursor *c, uint16_t type, struct stamp_record *rec);

/*
 * stamp_secret_context(crypto, eph, transport_pub, type, out): the 32
 * bytes the KEK is derived from: "STAMP-SECRET-KEK" || the first 16 bytes
 * of SHA-256(eph || transport_pub || type as u16le). Returns 0 or -1.
 */
int stamp_secret_context(const struct stamp_crypto *crypto,
    const uint8_t eph[65], const uint8_t transport_pub[65], uint16_t type,
    uint8_t out[32]);

/*
 * stamp_secret_open(rec, transport_pub, crypto, out, cap, out_len, err):
 * open the sealed SECRET record ${rec} with the device's transport key
 * (crypto->ecdh, sha256, aes256_ecb, kwp_unwrap), plaintext into ${out}.
 * A PLAINTEXT (development) record is copied. Returns 0, or -1 with ${err}
 * (STAMP_E_DECRYPT, _SPACE, _CRYPTO). Wipes every intermediate key.
 */
int stamp_secret_open(const struct stamp_record *rec,
    const uint8_t transport_pub[65], const struct stamp_crypto *crypto,
    uint8_t *out, size_t cap, size_t *out_len, struct stamp_error *err);

/*
 * stamp_marker(v, out): the commit marker of the checked image ${v}
 * (SPEC.md section 4): "SCOM", generation, the first 8 digest bytes.
 * Firmware programs it, 0xFF-padded, into the slot's last write unit.
 */
void stamp_marker(const struct stamp_view *v, uint8_t out[STAMP_MARKER_LEN]);

/*
 * stamp_marker_matches(v, unit, unit_len): 1 if the slot's last write unit
 * ${unit} (${unit_len} bytes, the image's write unit) is the commit marker
 * of ${v} followed by 0xFF, else 0 (erased, torn, or another image's).
 */
int stamp_marker_matches(const struct stamp_view *v, const uint8_t *unit,
    size_t unit_len);

static inline uint16_t
stamp_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
stamp_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

#ifndef STAMP_NO_STRINGS
/* stamp_names.c. stamp_strerror(code): a short English name of ${code}. */
const char *stamp_strerror(enum stamp_err code);
/* stamp_type_name(magic, type): the registry name of a record type, or
 * NULL if unknown. */
const char *stamp_type_name(uint32_t magic, uint16_t type);
#endif

/* stamp_build.c: a builder writing into a caller buffer; errors stick (the first wins). */
struct stamp_builder {
	uint8_t *buf;
	size_t cap, len;
	uint32_t magic;
	uint16_t write_unit;
	size_t integrity_off;
	struct stamp_error err;
};

/*
 * stamp_build_begin(b, buf, cap, generation, flags, write_unit): start a
 * stamp image in ${buf}. ${write_unit} is 16 or 32. Returns 0 or -1.
 */
int stamp_build_begin(struct stamp_builder *b, uint8_t *buf, size_t cap,
    uint32_t generation, uint32_t flags, unsigned write_unit);

/* stamp_msg_begin(b, buf, cap, magic): start a message. */
int stamp_msg_begin(struct stamp_builder *b, uint8_t *buf, size_t cap,
    uint32_t magic);

/*
 * stamp_build_add(b, type, flags, value, len): append a record as given,
 * zero-padded to 4 bytes. It does not apply the registry rules (the reader
 * does), so test vectors can be built with it. Returns 0 or -1.
 */
int stamp_build_add(struct stamp_builder *b, uint16_t type, uint16_t flags,
    const void *value, size_t len);

/*
 * stamp_build_add_sealed(b, type, flags, plaintext, len, transport_pub,
 * crypto): append a SECRET record holding ${plaintext} sealed to
 * ${transport_pub} (crypto->ecdh_ephemeral, sha256, aes256_ecb, kwp_wrap).
 * SECRET is added to ${flags}. Wipes every intermediate key.
 */
int stamp_build_add_sealed(struct stamp_builder *b, uint16_t type,
    uint16_t flags, const uint8_t *plaintext, size_t len,
    const uint8_t transport_pub[65], const struct stamp_crypto *crypto);

/*
 * stamp_build_digest(b, crypto, digest): end the records of a stamp: fix
 * total_len, append the integrity record and return its SHA-256 in
 * ${digest}, which the signer signs. Returns 0 or -1.
 */
int stamp_build_digest(struct stamp_builder *b,
    const struct stamp_crypto *crypto, uint8_t digest[32]);

/*
 * stamp_build_sign(b, key_id, sig, out_len): append the signature record
 * and the 0xFF padding; *${out_len} is the image length to write.
 */
int stamp_build_sign(struct stamp_builder *b, const uint8_t key_id[32],
    const uint8_t sig[64], size_t *out_len);

/*
 * stamp_msg_attest_digest(b, crypto, digest): for an info message, fix
 * total_len as if a 64-byte attestation signature followed, and return the
 * SHA-256 of everything so far; then add STAMP_I_ATTESTATION_SIG.
 */
int stamp_msg_attest_digest(struct stamp_builder *b,
    const struct stamp_crypto *crypto, uint8_t digest[32]);

/* stamp_msg_finish(b, out_len): fix total_len; *${out_len} the length. */
int stamp_msg_finish(struct stamp_builder *b, size_t *out_len);

#endif
