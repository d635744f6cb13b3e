/*
 * issue.c: one device certificate, issued by the HSM-held sub-CA and
 * recorded in the audit log before it leaves the station.
 *
 * The order is the one of ARCHITECTURE.md: allocated (serial and claim ID
 * durable before use) -> key_ready (the public key) -> the HSM signs ->
 * issued (certificate DER and serial durable) -> only then is the
 * certificate written out. The destination is created as a temporary
 * first, so that a destination that cannot be written is found before
 * anything is issued; the temporary is renamed over it at the end, so a
 * reader never sees half a certificate.
 *
 * Claim IDs: 60 bits of the token's RNG as 12 symbols of Crockford's
 * base32 (digits and upper-case letters without I L O U), unambiguous to
 * read off a label. The audit log refuses a claim ID ever used before; at
 * 60 bits the odds of a clash within a fleet of 10 million are about
 * n^2 / 2^61 = 4e-5, and a clash is refused, never shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "station/issue.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

int
issue_claim_id(struct hsm *h, char out[static ISSUE_CLAIM_ID_LEN + 1])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint8_t rnd[8];
	uint64_t bits = 0;

	if (hsm_random(h, rnd, sizeof(rnd)) != 0) {
		station_err("claim ID: %s",
		    hsm_error(h));
		return -1;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		bits = bits << 8 | rnd[i];
	OPENSSL_cleanse(rnd, sizeof(rnd));
	for (int i = 0; i < ISSUE_CLAIM_ID_LEN; i++)
		out[i] = alphabet[(bits >> (59 - 5 * i)) & 31];
	out[ISSUE_CLAIM_ID_LEN] = '\0';
	bits = 0;
	return 0;
}

int
issue_output_open(struct issue_output *o, const char *path)
{
	char dir[PATH_MAX];
	int n;

	o->fd = -1;
	o->path = path;
	o->tmp[0] = '\0';
	if (path == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	n = snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.XXXXXX", dirname(dir),
	    strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	if (n < 0 || (size_t)n >= sizeof(o->tmp)) {
		station_err("%s: path too long", path);
		o->tmp[0] = '\0';
		return -1;
	}
	if ((o->fd = mkstemp(o->tmp)) < 0) {
		station_err("cannot write %s: %s", path, strerror(errno));
		o->tmp[0] = '\0';
		return -1;
	}
	if (fchmod(o->fd, 0644) != 0) {
		station_err("cannot write %s: %s", path, strerror(errno));
		issue_output_abort(o);
		return -1;
	}
	return 0;
}

void
issue_output_abort(struct issue_output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0] != '\0')
		unlink(o->tmp);
	o->tmp[0] = '\0';
}

int
issue_output_write(struct issue_output *o, const void *data, size_t len)
{
	const char *p = data;
	int fd = o->path ? o->fd : STDOUT_FILENO;
	size_t done = 0;

	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			station_err("cannot write %s: %s", o->path ? o->path :
			    "stdout", strerror(errno));
			goto fail;
		}
		done += (size_t)w;
	}
	if (o->path == NULL)
		return 0;
	if (fsync(o->fd) != 0 || close(o->fd) != 0) {
		o->fd = -1;
		station_err("cannot write %s: %s", o->path, strerror(errno));
		goto fail;
	}
	o->fd = -1;
	if (rename(o->tmp, o->path) != 0) {
		station_err("cannot write %s: %s", o->path, strerror(errno));
		goto fail;
	}
	o->tmp[0] = '\0';
	return 0;
fail:
	issue_output_abort(o);
	return -1;
}

int
issue_output_commit(struct issue_output *o, const uint8_t *der, size_t len)
{
	BIO *b = NULL;
	char *pem;
	long plen;
	int ret = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio(b, "CERTIFICATE", "", der, (long)len) <= 0 ||
	    (plen = BIO_get_mem_data(b, &pem)) <= 0) {
		station_err("cannot encode the certificate as PEM");
		issue_output_abort(o);
		goto cleanup;
	}
	ret = issue_output_write(o, pem, (size_t)plen);
cleanup:
	BIO_free(b);
	return ret;
}

int
issue_cert_serial(const uint8_t *der, size_t len,
    char hex[static ISSUE_CERT_SERIAL_MAX])
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	BIGNUM *bn = NULL;
	char *h = NULL;
	int ret = -1;

	if (x != NULL && p == der + len &&
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) !=
	    NULL && (h = BN_bn2hex(bn)) != NULL &&
	    strlen(h) < ISSUE_CERT_SERIAL_MAX) {
		strcpy(hex, h);
		ret = 0;
	}
	OPENSSL_free(h);
	BN_free(bn);
	X509_free(x);
	return ret;
}

/* fail_device(sa, serial, why): leave the device failed, with ${why}. */
static void
fail_device(struct station_audit *sa, const char *serial, const char *why)
{
	struct audit_change c = { .to = AUDIT_FAILED, .reason = why };

	if (audit_device_transition(sa->a, serial, &c, sa->actor, NULL, 0,
	    NULL) != 0)
		station_err("device %s: cannot record it failed: %s", serial,
		    audit_error(sa->a));
}

/* record(sa, r, ca, res): allocated, key_ready, issue, issued. */
static int
record(struct station_audit *sa, struct hsm *h, struct hsm_ca *ca,
    const struct issue_request *r, uint8_t *cert, size_t *cert_len,
    struct issue_result *res)
{
	struct audit_allocation al = { 0 };
	struct audit_change c = { 0 };
	struct audit_field kf[2];
	struct hsm_device dev = { 0 };
	uint8_t csr_sha[32], *spki = NULL;
	char err[HSM_ERR_MAX], why[AUDIT_REASON_MAX + 1];
	int spki_len, ret = -1;

	if (issue_claim_id(h, res->claim_id) != 0)
		return -1;
	al.serial = r->serial;
	al.claim_id = res->claim_id;
	al.hardware_id = r->hwid;
	al.key_mode = r->key_mode;
	if (audit_device_allocate(sa->a, &al, sa->actor, NULL, 0, NULL) != 0) {
		station_err("device %s: %s", r->serial, audit_error(sa->a));
		return -1;
	}
	if ((spki_len = i2d_X509_PUBKEY(r->pub, &spki)) <= 0 ||
	    EVP_Digest(r->csr, r->csr_len, csr_sha, NULL, EVP_sha256(), NULL) !=
	    1) {
		fail_device(sa, r->serial, "cannot encode the CSR's public key");
		station_err("device %s: cannot encode the CSR's public key",
		    r->serial);
		goto cleanup;
	}
	/* A CSR from a file carries no nonce of this station: said so. */
	kf[0] = (struct audit_field){ "csr_nonce", "none", 4 };
	kf[1] = (struct audit_field){ "csr_sha256", csr_sha, sizeof(csr_sha) };
	c.to = AUDIT_KEY_READY;
	c.public_key = spki;
	c.public_key_len = (size_t)spki_len;
	if (audit_device_transition(sa->a, r->serial, &c, sa->actor, kf, 2,
	    NULL) != 0) {
		station_err("device %s: %s", r->serial, audit_error(sa->a));
		fail_device(sa, r->serial, "cannot record its public key");
		goto cleanup;
	}
	dev.serial = r->serial;
	dev.hwid = (const uint8_t *)r->hwid;
	dev.hwid_len = r->hwid ? strlen(r->hwid) : 0;
	if (hsm_issue_der(ca, r->pub, &dev, cert, HSM_CERT_MAX, cert_len,
	    err) != 0 || issue_cert_serial(cert, *cert_len, res->cert_serial) !=
	    0) {
		snprintf(why, sizeof(why), "issue: %s", *cert_len ? "the new "
		    "certificate does not decode" : err);
		station_err("device %s: %s", r->serial, why);
		fail_device(sa, r->serial, why);
		goto cleanup;
	}
	memset(&c, 0, sizeof(c));
	c.to = AUDIT_ISSUED;
	c.cert_der = cert;
	c.cert_der_len = *cert_len;
	c.cert_serial = res->cert_serial;
	if (audit_device_transition(sa->a, r->serial, &c, sa->actor, NULL, 0,
	    NULL) != 0) {
		/* Not recorded: the certificate must not leave the station. */
		station_err("device %s: %s", r->serial, audit_error(sa->a));
		fail_device(sa, r->serial, "the certificate could not be "
		    "recorded; never handed out");
		goto cleanup;
	}
	ret = 0;
cleanup:
	OPENSSL_free(spki);
	return ret;
}

int
issue_one(const struct station_config *cfg, const char *pin_file,
    const struct issue_request *r, struct issue_output *out,
    struct issue_result *res)
{
	struct station_config *c = NULL;
	struct station_audit *sa = NULL;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	uint8_t cert[HSM_CERT_MAX];
	size_t cert_len = 0;
	bool ok = false;
	int rc, ret = -1;

	res->written = false;
	/* Without a hardware id, no HardwareModuleName: a profile copy. */
	if ((c = malloc(sizeof(*c))) == NULL) {
		station_err("out of memory");
		return -1;
	}
	*c = *cfg;
	if (r->hwid == NULL)
		c->device_hardware_module_name = false;
	if (pki_open(c, pin_file, &h, &ca) != 0)
		goto cleanup;
	if ((rc = station_audit_open(c, h, "issue", false, &sa)) != 0) {
		ret = rc;
		goto cleanup;
	}
	if (record(sa, h, ca, r, cert, &cert_len, res) != 0)
		goto cleanup;
	if (issue_output_commit(out, cert, cert_len) != 0) {
		station_err("device %s: the certificate is recorded as issued "
		    "but was not written out; it is in the database "
		    "('station audit show --serial %s')", r->serial, r->serial);
		goto cleanup;
	}
	res->written = true;
	ok = true;
	ret = 0;
cleanup:
	if (station_audit_close(sa, ok) != 0)
		ret = -1;
	hsm_ca_free(ca);
	hsm_close(h);
	free(c);
	return ret;
}
