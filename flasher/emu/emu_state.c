/*
 * emu_state.c: the state folder of one emulated device, DIR/dev-K/:
 *
 *   serial          the hardware id (USB serial string), made once
 *   transport.key   its transport key pair, P-256, PEM, mode 0600, made
 *                   once with O_EXCL (the device's own secret: a test may
 *                   read it to decrypt what was encrypted to the device)
 *   transport.pub   the public half, PEM
 *   trust.pem       optional: the stamp signer's public key (PEM) this
 *                   device trusts (--trust gives one to every device)
 *   stamp.part      the stamp partition, slots A and B (emu_flash.c)
 *   lock            present once the device is locked
 *   device.key      the key pair of the last on-device keygen (0600)
 *   attest.pem      with --attest-ca: this run's attestation certificate
 *                   (emu_attest.c; its key stays in memory)
 *   ALT.bin         with --raw: the virtual flash of each alt (emu_alt.c)
 *
 * A second run over the same folder sees the same devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "flasher/emu/emu.h"

static int
read_serial(struct emu_device *d, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return errno == ENOENT ? 1 : -1;
	n = fread(d->serial, 1, sizeof(d->serial) - 1, f);
	fclose(f);
	d->serial[n] = '\0';
	d->serial[strcspn(d->serial, "\r\n")] = '\0';
	if (d->serial[0] == '\0') {
		fprintf(stderr, "stampdev-emu: %s: empty serial; remove the "
		    "folder to make a new device\n", path);
		return -1;
	}
	return 0;
}

static int
make_serial(struct emu_device *d, const char *path)
{
	uint8_t rnd[6];
	FILE *f;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	snprintf(d->serial, sizeof(d->serial), "SD%02X%02X%02X%02X%02X%02X",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((f = fopen(path, "wx")) == NULL)
		return -1;
	fprintf(f, "%s\n", d->serial);
	return fclose(f) == 0 ? 0 : -1;
}

static int
make_keys(const char *key_path, const char *pub_path)
{
	EVP_PKEY *key = NULL;
	FILE *f = NULL;
	int fd, ret = -1;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		goto out;
	if ((fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto out;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if ((f = fopen(pub_path, "w")) == NULL || !PEM_write_PUBKEY(f, key))
		goto out;
	ret = 0;
out:
	if (f != NULL && fclose(f) != 0)
		ret = -1;
	EVP_PKEY_free(key);
	return ret;
}

static int
p256_point(EVP_PKEY *key, uint8_t out[65])
{
	size_t len = 0;

	if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_octet_string_param(key,
	    OSSL_PKEY_PARAM_PUB_KEY, out, 65, &len) != 1 || len != 65 ||
	    out[0] != 4)
		return -1;
	return 0;
}

static EVP_PKEY *
load_pem(const char *path, bool private)
{
	EVP_PKEY *key;
	X509 *cert;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	if (private) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	} else if ((key = PEM_read_PUBKEY(f, NULL, NULL, NULL)) == NULL) {
		rewind(f);
		if ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			key = X509_get_pubkey(cert);
			X509_free(cert);
		}
	}
	fclose(f);
	return key;
}

/*
 * emu_state_trust(d, pem): make the signer key in ${pem} (public key or
 * certificate) the one device ${d} checks stamps against.
 */
int
emu_state_trust(struct emu_device *d, const char *pem)
{
	uint8_t point[65];
	EVP_PKEY *key = load_pem(pem, false);

	if (key == NULL || p256_point(key, point) != 0) {
		fprintf(stderr, "stampdev-emu: %s: not a P-256 public key or "
		    "certificate (PEM)\n", pem);
		EVP_PKEY_free(key);
		return -1;
	}
	EVP_PKEY_free(d->trust);
	d->trust = key;
	SHA256(point, sizeof(point), d->trust_key_id);
	return 0;
}

void
emu_state_free(struct emu_device *d)
{
	EVP_PKEY_free(d->transport);
	EVP_PKEY_free(d->trust);
	d->transport = d->trust = NULL;
	free(d->csr);
	free(d->flash);
	d->csr = d->flash = NULL;
}

/*
 * emu_state_device(d, state_dir, raw): open (or create) the state folder
 * of device ${d}->index under ${state_dir}; fills serial, dir, keys and
 * alt files (${raw}: plain files per alt, no stamp profile).
 */
int
emu_state_device(struct emu_device *d, const char *state_dir, bool raw)
{
	char path[PATH_MAX + 32], pub[PATH_MAX + 32];
	int rc;

	if (snprintf(d->dir, sizeof(d->dir), "%s/dev-%d", state_dir, d->index) >=
	    (int)sizeof(d->dir))
		goto toolong;
	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "stampdev-emu: cannot create %s: %s\n", d->dir,
		    strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/serial", d->dir);
	if ((rc = read_serial(d, path)) < 0)
		goto fail;
	if (rc == 1 && make_serial(d, path) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/transport.key", d->dir);
	snprintf(pub, sizeof(pub), "%s/transport.pub", d->dir);
	if (access(path, F_OK) != 0 && make_keys(path, pub) != 0)
		goto fail;
	if ((d->transport = load_pem(path, true)) == NULL ||
	    p256_point(d->transport, d->transport_pub) != 0) {
		fprintf(stderr, "stampdev-emu: %s: not a P-256 private key\n", path);
		return -1;
	}
	if (emu_alts_init(d, raw) != 0)
		return -1;
	if (!raw) {
		snprintf(path, sizeof(path), "%s/trust.pem", d->dir);
		if (d->trust == NULL && access(path, F_OK) == 0 &&
		    emu_state_trust(d, path) != 0)
			return -1;
		return emu_flash_load(d);
	}
	/* --raw: `info` returns its state file; a fresh device says who it
	 * is in plain text. */
	snprintf(path, sizeof(path), "%s/info.bin", d->dir);
	if (access(path, F_OK) != 0) {
		FILE *f = fopen(path, "wx");
		if (f == NULL)
			goto fail;
		fprintf(f, "hardware-id: %s\nmodel: stampdev-emu\n", d->serial);
		if (fclose(f) != 0)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "stampdev-emu: cannot set up device state in %s: %s\n",
	    d->dir, errno ? strerror(errno) : "OpenSSL failure");
	return -1;
toolong:
	fprintf(stderr, "stampdev-emu: state path too long: %s\n", state_dir);
	return -1;
}
