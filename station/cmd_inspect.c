/*
 * cmd_inspect.c: `station inspect FILE`, check a stamp image and print
 * every record.
 *
 * The file is read whole (a stamp file, or a dump of a slot: bytes after
 * the image must be erased, 0xFF) and handed to stamp_read() with the
 * OpenSSL callbacks of stamp_crypto.c. The digest is always checked; the
 * signature only with --trust (a PEM certificate or public key); the
 * binding only with --hardware-id. Secrets are shown as their length,
 * unless --device-key (the device's transport private key, PEM) opens
 * them; a secret that does not open with it makes the stamp invalid for
 * that device. A USB profile message (info, keygen or commit request, as
 * uploaded with dfu-util) is recognised by its magic and checked with
 * stamp_msg_read(), an info attestation against its certificate's key,
 * and with --roots its chain against vendor roots (station/attest.c).
 * Exit 0 valid, 1 invalid (reason and offset on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "stamp-format/stamp.h"
#include "station/attest.h"
#include "station/stamp_crypto.h"
#include "station/station.h"

STATION_VERB(inspect, "Check a stamp image and print its records");

#define INSPECT_MAX (1024 * 1024)  /* the largest partition config allows */
#define HEX_SHOWN 48               /* bytes of a long value shown in text */

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station inspect FILE [--json] [--trust CERT|PUBKEY]\n"
	    "                       [--hardware-id ID] [--device-key KEY] "
	    "[--roots PEM]\n"
	    "\nChecks the stamp image in FILE (stamp-format/SPEC.md) and prints "
	    "every\nrecord. The integrity digest is always checked. FILE may "
	    "also be a USB\ninfo message, keygen, commit or attestation "
	    "request.\n"
	    "  --trust FILE        verify the signature with this signer "
	    "certificate\n"
	    "                      or public key (PEM)\n"
	    "  --hardware-id ID    check the stamp is bound to this device "
	    "(text, or\n"
	    "                      hex:0011... for a binary id)\n"
	    "  --device-key FILE   the device's transport private key (PEM): "
	    "open the\n"
	    "                      secret records and show them\n"
	    "  --roots PEM         info answering an attestation request: check "
	    "its\n                      chain against these vendor roots "
	    "(SPEC.md 5.5)\n"
	    "  --json              print one JSON object instead of text\n"
	    "  --home DIR          accepted for uniformity; not used\n"
	    "Exit codes: 0 valid, 1 invalid (reason and byte offset), 2 usage.\n");
}

/* Read all of ${path} (at most INSPECT_MAX bytes) into a new buffer. */
static uint8_t *
read_file(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		station_err("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(INSPECT_MAX + 1)) == NULL) {
		station_err("%s: out of memory", path);
		goto cleanup;
	}
	n = fread(buf, 1, INSPECT_MAX + 1, f);
	if (ferror(f)) {
		station_err("cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (n > INSPECT_MAX) {
		station_err("%s: larger than %d bytes; expected a stamp image",
		    path, INSPECT_MAX);
		goto fail;
	}
	*len = n;
	goto cleanup;
fail:
	free(buf);
	buf = NULL;
cleanup:
	fclose(f);
	return buf;
}

/* --hardware-id: text, or hex:... for binary ids. */
static int
parse_hwid(const char *arg, uint8_t out[64], size_t *len)
{
	size_t n = strlen(arg);

	if (strncmp(arg, "hex:", 4) == 0) {
		arg += 4;
		n -= 4;
		if (n == 0 || n % 2 != 0 || n / 2 > 64)
			return -1;
		for (size_t i = 0; i < n / 2; i++) {
			unsigned v;

			if (sscanf(arg + 2 * i, "%2x", &v) != 1 ||
			    strspn(arg + 2 * i, "0123456789abcdefABCDEF") < 2)
				return -1;
			out[i] = (uint8_t)v;
		}
		*len = n / 2;
		return 0;
	}
	if (n == 0 || n > 64)
		return -1;
	memcpy(out, arg, n);
	*len = n;
	return 0;
}

static void
print_hex(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static int
is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return n > 0;
}

/* A JSON string of printable ASCII (checked by is_text). */
static void
print_json_text(FILE *out, const uint8_t *p, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fputc('\\', out);
		fputc(p[i], out);
	}
	fputc('"', out);
}

static void
print_json_string(FILE *out, const char *s)
{
	print_json_text(out, (const uint8_t *)s, strlen(s));
}

/* One record: text or JSON; ${plain} is the opened secret, or NULL. */
static void
print_record(FILE *out, int json, int first, uint32_t magic,
    const struct stamp_record *r, const uint8_t *plain, size_t plain_len)
{
	const char *name = stamp_type_name(magic, r->type);
	const uint8_t *val = plain != NULL ? plain : r->value;
	size_t n = plain != NULL ? plain_len : r->length;
	int secret = (r->flags & STAMP_RF_SECRET) != 0;
	int shown = !secret || plain != NULL;

	if (name == NULL)
		name = "unknown";
	if (json) {
		fprintf(out, "%s\n    {\"offset\": %zu, \"type\": %u, \"name\": ",
		    first ? "" : ",", r->offset, r->type);
		print_json_string(out, name);
		fprintf(out, ", \"flags\": %u, \"length\": %u", r->flags,
		    r->length);
		if (secret)
			fprintf(out, ", \"secret\": \"%s\"", plain != NULL ?
			    "opened" : (r->flags & STAMP_RF_PLAINTEXT) ?
			    "plaintext" : "sealed");
		if (shown) {
			fprintf(out, ", \"value_hex\": \"");
			print_hex(out, val, n);
			fputc('"', out);
			if (is_text(val, n)) {
				fprintf(out, ", \"text\": ");
				print_json_text(out, val, n);
			}
		}
		fputc('}', out);
		return;
	}
	fprintf(out, "  @%-5zu %-18s 0x%04x %s%s%u bytes", r->offset, name,
	    r->type, (r->flags & STAMP_RF_CRITICAL) ? "critical " : "",
	    secret ? ((r->flags & STAMP_RF_PLAINTEXT) ? "secret(PLAINTEXT) " :
	    plain != NULL ? "secret(opened) " : "secret(sealed) ") : "",
	    r->length);
	if (plain != NULL && !(r->flags & STAMP_RF_PLAINTEXT))
		fprintf(out, ", %zu opened", n);
	if (!shown) {
		fputc('\n', out);
		return;
	}
	if (magic == STAMP_MAGIC && r->type == STAMP_T_MANUFACTURING_TIME &&
	    n == 8) {
		unsigned long long t = 0;

		for (int i = 7; i >= 0; i--)
			t = t << 8 | val[i];
		fprintf(out, ": %llu (unix seconds)\n", t);
	} else if (is_text(val, n)) {
		fprintf(out, ": \"%.*s\"\n", (int)n, (const char *)val);
	} else {
		fprintf(out, ": ");
		print_hex(out, val, n < HEX_SHOWN ? n : HEX_SHOWN);
		fprintf(out, "%s\n", n > HEX_SHOWN ? "..." : "");
	}
}

/* Open every secret (if a device key is given) and print every record
 * (${out} NULL: only open). Returns 0, or -1 with ${err} set when a secret
 * does not open. */
static int
print_records(FILE *out, int json, const struct stamp_view *v,
    const struct stamp_crypto *crypto, const uint8_t *tpub,
    struct stamp_error *err)
{
	static uint8_t plain[INSPECT_MAX];
	struct stamp_cursor c;
	struct stamp_record r;
	size_t plain_len = 0;
	int first = 1, ret = 0;

	stamp_records(v, &c);
	while (stamp_next(&c, &r)) {
		int open = tpub != NULL && (r.flags & STAMP_RF_SECRET);

		if (open && stamp_secret_open(&r, tpub, crypto, plain,
		    sizeof(plain), &plain_len, err) != 0) {
			ret = -1;
			break;
		}
		if (out != NULL)
			print_record(out, json, first, STAMP_MAGIC, &r,
			    open ? plain : NULL,
			    plain_len);
		OPENSSL_cleanse(plain, plain_len);
		plain_len = 0;
		first = 0;
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	return ret;
}

static void
print_header(FILE *out, int json, const char *file, const struct stamp_view *v,
    int bound)
{
	if (json) {
		fprintf(out, "{\"file\": ");
		print_json_string(out, file);
		fprintf(out, ", \"valid\": true, \"version\": \"%u.%u\", "
		    "\"generation\": %u, \"total_length\": %zu, \"write_unit\": %u, "
		    "\"flags\": %u, \"development\": %s, \"digest\": \"",
		    v->version_major, v->version_minor, v->generation, v->total_len,
		    v->write_unit, v->flags,
		    (v->flags & STAMP_HF_DEVELOPMENT) ? "true" : "false");
		print_hex(out, v->digest, STAMP_DIGEST_LEN);
		fprintf(out, "\", \"key_id\": \"");
		print_hex(out, v->key_id, STAMP_KEY_ID_LEN);
		fprintf(out, "\", \"signature\": \"%s\", \"binding\": \"%s\", "
		    "\"records\": [", v->signature_checked ? "verified" :
		    "not checked", bound ? "matches" : "not checked");
		return;
	}
	fprintf(out, "%s: valid stamp, format %u.%u, generation %u, %zu bytes "
	    "(write unit %u)%s\n", file, v->version_major, v->version_minor,
	    v->generation, v->total_len, v->write_unit,
	    (v->flags & STAMP_HF_DEVELOPMENT) ?
	    ", DEVELOPMENT (plaintext secrets allowed)" : "");
	fprintf(out, "  digest     ");
	print_hex(out, v->digest, STAMP_DIGEST_LEN);
	fprintf(out, " (checked)\n  signer     ");
	print_hex(out, v->key_id, STAMP_KEY_ID_LEN);
	fprintf(out, "\n  signature  %s\n  binding    %s\n",
	    v->signature_checked ? "verified with --trust" :
	    "NOT CHECKED (no --trust)", bound ? "hardware id matches" :
	    "not checked (no --hardware-id)");
}

static const char *
msg_kind(uint32_t magic)
{
	switch (magic) {
	case STAMP_MAGIC_INFO:
		return "info message";
	case STAMP_MAGIC_KEYGEN:
		return "keygen request";
	case STAMP_MAGIC_COMMIT:
		return "commit request";
	case STAMP_MAGIC_ATTEST:
		return "attestation request";
	}
	return NULL;
}

/* The attestation signature of an info message, by the key of its first
 * ATTESTATION_CERT (the chain itself is not checked here). 0 or -1. */
static int
check_attestation(const struct stamp_msg *m)
{
	struct stamp_cursor c;
	struct stamp_record cert, sig;
	struct stamp_ossl o;
	struct stamp_crypto cr;
	const uint8_t *p;
	uint8_t digest[32];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int ret = -1;

	stamp_msg_records(m, &c);
	if (!stamp_find(&c, STAMP_I_ATTESTATION_CERT, &cert))
		return -1;
	stamp_msg_records(m, &c);
	if (!stamp_find(&c, STAMP_I_ATTESTATION_SIG, &sig))
		return -1;
	p = cert.value;
	if ((x = d2i_X509(NULL, &p, (long)cert.length)) == NULL ||
	    p != cert.value + cert.length || (key = X509_get_pubkey(x)) == NULL)
		goto cleanup;
	if (stamp_ossl_init(&o, key, NULL, &cr) != 0 ||
	    cr.sha256(NULL, m->buf, m->signed_len, digest) != 0)
		goto cleanup;
	ret = cr.verify(cr.ctx, o.trust_key_id, digest, sig.value);
cleanup:
	EVP_PKEY_free(key);
	X509_free(x);
	return ret;
}

/* `station inspect` of a USB profile message (SPEC.md section 5). */
static int
inspect_msg(const char *file, const uint8_t *buf, size_t len, int json,
    const struct stamp_expect *expect, const struct attest_policy *roots)
{
	const char *kind = msg_kind(stamp_le32(buf));
	const char *attest = "none";
	struct attest_result res;
	char chain[2 * ATTEST_SUBJECT_MAX + 64];
	struct stamp_cursor c;
	struct stamp_record r;
	struct stamp_error err;
	struct stamp_msg m;
	int first = 1;

	if (stamp_msg_read(&m, stamp_le32(buf), buf, len, &err) != 0)
		goto invalid;
	stamp_msg_records(&m, &c);
	if (expect->hardware_id != NULL && stamp_find(&c, 1, &r) &&
	    (r.length != expect->hardware_id_len ||
	    memcmp(r.value, expect->hardware_id, r.length) != 0)) {
		err.code = STAMP_E_BINDING;
		err.offset = r.offset + 8;
		goto invalid;
	}
	if (m.signed_len != 0) {
		if (check_attestation(&m) != 0) {
			err.code = STAMP_E_SIGNATURE;
			err.offset = m.signed_len + 8;
			goto invalid;
		}
		attest = "verified by the attestation certificate's key "
		    "(chain not checked)";
	}
	if (roots != NULL) {
		if (attest_verify(roots, buf, len, NULL, 0, NULL, 0, NULL,
		    &res) != 0) {
			station_err("%s: attestation refused: %s", file, res.reason);
			return EXIT_FAILED;
		}
		snprintf(chain, sizeof(chain), "verified: chain '%s' to vendor "
		    "root '%s' (nonce not checked)", res.chain, res.root);
		attest = chain;
	}
	if (json) {
		printf("{\"file\": ");
		print_json_string(stdout, file);
		printf(", \"valid\": true, \"kind\": \"%s\", \"length\": %zu, "
		    "\"attestation\": \"%s\", \"records\": [", kind, len,
		    m.signed_len ? "verified" : "none");
	} else {
		printf("%s: valid %s, format %u.%u, %zu bytes\n", file, kind,
		    buf[4], buf[5], len);
		if (m.magic == STAMP_MAGIC_INFO)
			printf("  attestation  %s\n", attest);
	}
	stamp_msg_records(&m, &c);
	while (stamp_next(&c, &r)) {
		print_record(stdout, json, first, m.magic, &r, NULL, 0);
		first = 0;
	}
	if (json)
		printf("\n  ]}\n");
	return EXIT_OK;
invalid:
	station_err("%s: invalid %s: %s at offset %zu (0x%zx)", file, kind,
	    stamp_strerror(err.code), err.offset, err.offset);
	if (json) {
		printf("{\"file\": ");
		print_json_string(stdout, file);
		printf(", \"valid\": false, \"kind\": \"%s\", \"error\": "
		    "{\"code\": %d, \"reason\": ", kind, (int)err.code);
		print_json_string(stdout, stamp_strerror(err.code));
		printf(", \"offset\": %zu}}\n", err.offset);
	}
	return EXIT_FAILED;
}

int
inspect_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "trust", required_argument, NULL, 't' },
		{ "hardware-id", required_argument, NULL, 'i' },
		{ "device-key", required_argument, NULL, 'k' },
		{ "roots", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *trust_path = NULL, *key_path = NULL, *hwid_arg = NULL, *file;
	const char *roots_path = NULL;
	struct attest_policy *roots = NULL;
	struct stamp_expect expect = { NULL, 0, 1 };
	struct stamp_crypto crypto;
	struct stamp_ossl ossl;
	struct stamp_error err;
	struct stamp_view v;
	EVP_PKEY *trust = NULL, *device_key = NULL;
	uint8_t hwid[64], tpub[65], *image = NULL;
	size_t len = 0;
	char msg[512];
	int c, json = 0, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H':
			break;
		case 'j':
			json = 1;
			break;
		case 't':
			trust_path = optarg;
			break;
		case 'i':
			hwid_arg = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'r':
			roots_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		station_err("inspect: expected a stamp FILE; see 'station inspect "
		    "--help'");
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		station_err("inspect: unexpected argument '%s'", argv[optind + 1]);
		return EXIT_USAGE;
	}
	file = argv[optind];
	if (hwid_arg != NULL) {
		if (parse_hwid(hwid_arg, hwid, &expect.hardware_id_len) != 0) {
			station_err("inspect: --hardware-id: expected 1 to 64 "
			    "characters, or hex:HEX of 1 to 64 bytes, got '%s'",
			    hwid_arg);
			return EXIT_USAGE;
		}
		expect.hardware_id = hwid;
	}
	if (trust_path != NULL &&
	    (trust = stamp_ossl_load_public(trust_path, msg, sizeof(msg))) == NULL) {
		station_err("inspect: --trust: %s", msg);
		goto cleanup;
	}
	if (key_path != NULL) {
		if ((device_key = stamp_ossl_load_private(key_path, msg,
		    sizeof(msg))) == NULL) {
			station_err("inspect: --device-key: %s", msg);
			goto cleanup;
		}
		if (stamp_ossl_point(device_key, tpub) != 0) {
			station_err("inspect: --device-key: %s: no public point",
			    key_path);
			goto cleanup;
		}
	}
	if (stamp_ossl_init(&ossl, trust, device_key, &crypto) != 0) {
		station_err("inspect: a key is not a P-256 key");
		goto cleanup;
	}
	if ((image = read_file(file, &len)) == NULL)
		goto cleanup;
	if (len >= 4 && msg_kind(stamp_le32(image)) != NULL) {
		if (trust != NULL || device_key != NULL) {
			station_err("inspect: %s is a USB %s; --trust and "
			    "--device-key apply to stamps only", file,
			    msg_kind(stamp_le32(image)));
			goto cleanup;
		}
		if (roots_path != NULL && stamp_le32(image) != STAMP_MAGIC_INFO) {
			station_err("inspect: %s is a USB %s; --roots applies to "
			    "info messages only", file, msg_kind(stamp_le32(image)));
			goto cleanup;
		}
		if (roots_path != NULL &&
		    attest_policy_roots(roots_path, &roots, msg) != 0) {
			station_err("inspect: %s", msg);
			goto cleanup;
		}
		ret = inspect_msg(file, image, len, json, &expect, roots);
		goto cleanup;
	}
	if (roots_path != NULL) {
		station_err("inspect: --roots applies to info messages only");
		goto cleanup;
	}
	ret = EXIT_FAILED;
	/* Secrets are opened once before anything is printed: one that does
	 * not open makes the stamp invalid for this device. */
	if (stamp_read(&v, image, len, &crypto, &expect, &err) == 0 &&
	    print_records(NULL, json, &v, &crypto, device_key != NULL ? tpub :
	    NULL, &err) == 0) {
		print_header(stdout, json, file, &v, hwid_arg != NULL);
		print_records(stdout, json, &v, &crypto, device_key != NULL ?
		    tpub : NULL, &err);
		if (json)
			printf("\n  ]}\n");
		ret = EXIT_OK;
		goto cleanup;
	}
	station_err("%s: invalid stamp: %s at offset %zu (0x%zx)", file,
	    stamp_strerror(err.code), err.offset, err.offset);
	if (json) {
		printf("{\"file\": ");
		print_json_string(stdout, file);
		printf(", \"valid\": false, \"error\": {\"code\": %d, \"reason\": ",
		    (int)err.code);
		print_json_string(stdout, stamp_strerror(err.code));
		printf(", \"offset\": %zu}}\n", err.offset);
	}
cleanup:
	free(image);
	attest_policy_free(roots);
	EVP_PKEY_free(trust);
	EVP_PKEY_free(device_key);
	return ret;
}
