/*
 * batch_import.c: `station batch import FILE` at the factory station.
 *
 * Checks, in this order, each refusal with its own message (exit 1):
 *   1. the file is a CMS EnvelopedData with a recipient that names this
 *      station's transport certificate ([pki] transport_cert): else "not
 *      addressed to this station" (before the PIN is asked for);
 *   2. it decrypts with the transport key in the token (ECDH in the
 *      token): else "damaged or tampered";
 *   3. the text parses (batch_parse), the manifest's CMS signature
 *      verifies and its signer chains to [pki] batch_cert, its
 *      content_sha256 and count match the text, and its recipient_key is
 *      this station's: else "bad signature" or "does not match";
 *   4. the batch id was not imported before (event batch.imported).
 * Only then are the identities kept, as fixed-size records (batch.h) in
 * HOME/batches/ID.items (written beside, synced, renamed), the issuing
 * sub-CA's certificate in HOME/batches/ID.ca.pem (the stamps' chain), and
 * the event batch.imported recorded. The decrypted text lives in an unnamed
 * temporary file (O_TMPFILE, mode 0600) that disappears with the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "station/batch_int.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

static X509 *
read_cert(const char *file, const char *what)
{
	FILE *f = fopen(file, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (x == NULL)
		station_err("batch import: cannot read %s %s", what, file);
	ERR_clear_error();
	return x;
}

/* read_cms(file): the whole file as a CMS EnvelopedData. */
static CMS_ContentInfo *
read_cms(const char *file)
{
	BIO *b = BIO_new_file(file, "rb");
	CMS_ContentInfo *cms = b != NULL ? d2i_CMS_bio(b, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	if (b == NULL)
		station_err("batch import: cannot read %s: %s", file,
		    strerror(errno));
	else if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) !=
	    NID_pkcs7_enveloped) {
		station_err("batch import: %s is not a batch file (not a CMS "
		    "EnvelopedData)", file);
		CMS_ContentInfo_free(cms);
		cms = NULL;
	}
	return cms;
}

/* addressed_to(cms, cert): some key-agreement recipient names ${cert}. */
static bool
addressed_to(CMS_ContentInfo *cms, X509 *cert)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);

	for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		STACK_OF(CMS_RecipientEncryptedKey) *reks;

		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE)
			continue;
		reks = CMS_RecipientInfo_kari_get0_reks(ri);
		for (int j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++)
			if (CMS_RecipientEncryptedKey_cert_cmp(
			    sk_CMS_RecipientEncryptedKey_value(reks, j), cert) == 0)
				return true;
	}
	return false;
}

/* decrypt(cms, key, cert, dir, fd, len): the content into an unnamed
 * file in ${dir}, mapped by the caller. 0 or -1. */
static int
decrypt(CMS_ContentInfo *cms, EVP_PKEY *key, X509 *cert, const char *dir,
    int *fd, size_t *len)
{
	BIO *out = NULL;
	struct stat st;
	int ok;

	if ((*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0) {
		station_err("batch import: cannot make a temporary file in %s: "
		    "%s", dir, strerror(errno));
		return -1;
	}
	ok = (out = BIO_new_fd(*fd, BIO_NOCLOSE)) != NULL &&
	    CMS_decrypt_set1_pkey_and_peer(cms, key, cert, NULL) == 1 &&
	    CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY) == 1 &&
	    BIO_flush(out) == 1;
	BIO_free(out);
	ERR_clear_error();
	if (!ok) {
		station_err("batch import: the batch is damaged or tampered: it "
		    "does not decrypt with this station's transport key");
		return -1;
	}
	if (fstat(*fd, &st) != 0 || st.st_size <= 0) {
		station_err("batch import: the batch is empty");
		return -1;
	}
	*len = (size_t)st.st_size;
	return 0;
}

/* The items file being written while the text is parsed. */
struct sink {
	FILE *f;
	uint8_t rec[BATCH_RECORD];
};

static int
sink_item(void *ctx, const struct batch_item *it)
{
	struct sink *s = ctx;

	if (batch_record_encode(it, s->rec) != 0 ||
	    fwrite(s->rec, BATCH_RECORD, 1, s->f) != 1)
		return -1;
	return 0;
}

/* verify_manifest(p, trust, m): the manifest's signature (signer chains
 * to ${trust}) and text. 0 or -1 (reported). */
static int
verify_manifest(const struct batch_parsed *p, X509 *trust,
    struct batch_manifest *m)
{
	uint8_t *der = malloc(p->manifest_b64_len);
	const unsigned char *q = der;
	X509_STORE *store = X509_STORE_new();
	CMS_ContentInfo *cms = NULL;
	BIO *out = BIO_new(BIO_s_mem());
	char err[BATCH_ERR_MAX], *text;
	long tlen;
	int ret = -1, n;

	if (der == NULL || store == NULL || out == NULL ||
	    (n = EVP_DecodeBlock(der, p->manifest_b64, (int)
	    p->manifest_b64_len)) <= 0 ||
	    (cms = d2i_CMS_ContentInfo(NULL, &q, n)) == NULL) {
		station_err("batch import: the manifest is not a CMS SignedData");
		goto cleanup;
	}
	X509_STORE_add_cert(store, trust);
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (CMS_verify(cms, NULL, store, NULL, out, CMS_BINARY) != 1) {
		station_err("batch import: bad signature: the manifest does not "
		    "verify with a signer chaining to [pki] batch_cert");
		goto cleanup;
	}
	if ((tlen = BIO_get_mem_data(out, &text)) <= 0 ||
	    batch_manifest_parse(text, (size_t)tlen, m, err) != 0) {
		station_err("batch import: %s", tlen <= 0 ? "empty manifest" :
		    err);
		goto cleanup;
	}
	ret = 0;
cleanup:
	ERR_clear_error();
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	X509_STORE_free(store);
	free(der);
	return ret;
}

/* imported_before(a, id): 1 if batch.imported was recorded for ${id}. */
static int
seen(void *ctx, const struct audit_event *e)
{
	(void)e;
	*(int *)ctx = 1;
	return 1;
}

static int
imported_before(struct audit *a, const char *id)
{
	char subject[AUDIT_SUBJECT_MAX + 1];
	struct audit_filter f = { .kind = "batch.imported", .subject = subject };
	int found = 0;

	batch_subject(id, subject);
	if (audit_events(a, &f, seen, &found) < 0)
		return -1;
	return found;
}

/* record(sa, m): the event batch.imported. */
static int
record(struct station_audit *sa, const struct batch_manifest *m,
    const char *file)
{
	char subject[AUDIT_SUBJECT_MAX + 1], count[24], first[24], cs[65];
	struct audit_field f[] = {
		{ "content_sha256", cs, 64 }, { "count", count, 0 },
		{ "file", file, strlen(file) },
		{ "generator", m->generator, strlen(m->generator) },
		{ "order_id", m->order_id, strlen(m->order_id) },
		{ "product", m->product, strlen(m->product) },
		{ "serial_first", first, 0 },
	};

	for (int i = 0; i < 32; i++)
		snprintf(cs + 2 * i, 3, "%02x", m->content_sha256[i]);
	f[1].len = (size_t)snprintf(count, sizeof(count), "%" PRIu64, m->count);
	f[6].len = (size_t)snprintf(first, sizeof(first), "%" PRIu64,
	    m->serial_first);
	batch_subject(m->batch_id, subject);
	if (audit_append(sa->a, sa->actor, "batch.imported", subject, f,
	    sizeof(f) / sizeof(f[0]), NULL) != 0) {
		station_err("batch import: %s", audit_error(sa->a));
		return -1;
	}
	return 0;
}

/* check(p, m, own): what the signed manifest says against the text. */
static int
check(const struct batch_parsed *p, const struct batch_manifest *m,
    const uint8_t own[32], const char *file)
{
	if (memcmp(p->content_sha256, m->content_sha256, 32) != 0) {
		station_err("batch import: %s is tampered: its content does not "
		    "match the signed manifest (content_sha256)", file);
		return -1;
	}
	if (p->count != m->count) {
		station_err("batch import: %s has %" PRIu64 " identities, the "
		    "signed manifest says %" PRIu64, file, p->count, m->count);
		return -1;
	}
	if (memcmp(m->recipient_key, own, 32) != 0) {
		station_err("batch import: %s is not addressed to this station "
		    "(the manifest names another transport key)", file);
		return -1;
	}
	return 0;
}

/* decode_ca(p): the sub-CA certificate of the ca line. */
static X509 *
decode_ca(const struct batch_parsed *p)
{
	uint8_t *der = malloc(p->ca_b64_len);
	const unsigned char *q = der;
	int n = der != NULL ? EVP_DecodeBlock(der, p->ca_b64,
	    (int)p->ca_b64_len) : -1;
	X509 *x = n > 0 ? d2i_X509(NULL, &q, n) : NULL;

	free(der);
	ERR_clear_error();
	return x;
}

/* write_ca(home, id, ca): HOME/batches/ID.ca.pem, for the stamps' chain. */
static int
write_ca(const char *home, const char *id, X509 *ca)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/batches/%s.ca.pem", home, id);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = PEM_write_X509(f, ca) == 1;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* keep(cfg, plain, len, trust, own, m, items, ca): parse, verify, write the
 * records beside their final name; ${items} the final name. */
static int
keep(const struct station_config *cfg, const char *file, const uint8_t *plain,
    size_t len, X509 *trust, const uint8_t own[32], struct batch_manifest *m,
    char tmp[static PATH_MAX], X509 **ca)
{
	struct batch_parsed p;
	struct sink s = { 0 };
	char err[BATCH_ERR_MAX];
	int ret = -1;

	snprintf(tmp, PATH_MAX, "%s/batches/.import-%ld", cfg->home,
	    (long)getpid());
	if ((s.f = fopen(tmp, "wbx")) == NULL) {
		station_err("batch import: cannot create %s: %s", tmp,
		    strerror(errno));
		tmp[0] = '\0';
		return -1;
	}
	if (batch_parse(plain, len, sink_item, &s, &p, err) != 0) {
		station_err("batch import: %s is damaged or tampered: %s", file,
		    err);
		goto cleanup;
	}
	if (verify_manifest(&p, trust, m) != 0 || check(&p, m, own, file) != 0)
		goto cleanup;
	if ((*ca = decode_ca(&p)) == NULL) {
		station_err("batch import: %s: the issuing CA certificate (ca "
		    "line) does not decode", file);
		goto cleanup;
	}
	if (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0) {
		station_err("batch import: cannot write %s: %s", tmp,
		    strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	OPENSSL_cleanse(s.rec, sizeof(s.rec));
	fclose(s.f);
	return ret;
}

int
batch_import(const struct station_config *cfg, const char *file,
    const char *pin_file, struct batch_import_result *res)
{
	CMS_ContentInfo *cms = NULL;
	X509 *own_cert = NULL, *trust = NULL, *ca_cert = NULL;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	struct hsm_key *tkey;
	struct station_audit *sa = NULL;
	struct audit *peek;
	char dir[PATH_MAX], tmp[PATH_MAX] = "", items[PATH_MAX];
	uint8_t point[65], own[32], *plain = MAP_FAILED;
	size_t len = 0;
	int fd = -1, rc, ret = -1;
	bool ok = false;

	memset(res, 0, sizeof(*res));
	if ((rc = station_audit_peek(cfg, &peek)) != 0)
		return rc == -2 ? -2 : -1;
	audit_close(peek);
	if ((own_cert = read_cert(cfg->pki_transport_cert, "this station's "
	    "transport certificate ([pki] transport_cert)")) == NULL ||
	    (trust = read_cert(cfg->pki_batch_cert, "the batch signer's "
	    "certificate ([pki] batch_cert)")) == NULL) {
		ret = -2;
		goto cleanup;
	}
	if (batch_point_sha256(own_cert, point, own) != 0) {
		station_err("batch import: [pki] transport_cert is not a P-256 "
		    "key");
		ret = -2;
		goto cleanup;
	}
	if ((cms = read_cms(file)) == NULL)
		goto cleanup;
	if (!addressed_to(cms, own_cert)) {
		station_err("batch import: %s is not addressed to this station: "
		    "no recipient is its transport certificate ([pki] "
		    "transport_cert)", file);
		goto cleanup;
	}
	snprintf(dir, sizeof(dir), "%s/batches", cfg->home);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		station_err("batch import: cannot create %s: %s", dir,
		    strerror(errno));
		goto cleanup;
	}
	if (pki_open(cfg, pin_file, &h, &ca) != 0)
		goto cleanup;
	{
		char err[HSM_ERR_MAX];

		if (hsm_key_find(h, cfg->pki_transport_key, &tkey, err) != 0) {
			station_err("batch import: transport key: %s", err);
			goto cleanup;
		}
	}
	if ((rc = station_audit_open(cfg, h, "batch import", false, &sa)) != 0) {
		ret = rc == -2 ? -2 : -1;
		goto cleanup;
	}
	if (decrypt(cms, hsm_key_pkey(tkey), own_cert, dir, &fd, &len) != 0)
		goto cleanup;
	if ((plain = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)) ==
	    MAP_FAILED) {
		station_err("batch import: cannot map the decrypted batch: %s",
		    strerror(errno));
		goto cleanup;
	}
	if (keep(cfg, file, plain, len, trust, own, &res->m, tmp, &ca_cert) != 0)
		goto cleanup;
	if ((rc = imported_before(sa->a, res->m.batch_id)) != 0) {
		if (rc > 0)
			station_err("batch import: batch %s was imported before; "
			    "a batch is imported only once", res->m.batch_id);
		else
			station_err("batch import: %s", audit_error(sa->a));
		goto cleanup;
	}
	if (batch_items_path(cfg->home, res->m.batch_id, items,
	    sizeof(items)) != 0 || rename(tmp, items) != 0) {
		station_err("batch import: cannot store %s: %s", items,
		    strerror(errno));
		goto cleanup;
	}
	tmp[0] = '\0';
	if (write_ca(cfg->home, res->m.batch_id, ca_cert) != 0) {
		station_err("batch import: cannot write %s/batches/%s.ca.pem",
		    cfg->home, res->m.batch_id);
		unlink(items);
		goto cleanup;
	}
	if (record(sa, &res->m, file) != 0) {
		unlink(items);
		goto cleanup;
	}
	ok = true;
	ret = 0;
cleanup:
	if (tmp[0] != '\0')
		unlink(tmp);
	if (plain != MAP_FAILED)
		munmap(plain, len);
	if (fd >= 0)
		close(fd);
	if (station_audit_close(sa, ok) != 0 && ret == 0)
		ret = -1;
	hsm_ca_free(ca);
	hsm_close(h);
	CMS_ContentInfo_free(cms);
	X509_free(own_cert);
	X509_free(trust);
	X509_free(ca_cert);
	return ret;
}
