/*
 * export_verify.c: `station export verify`, the cloud side's check of an
 * export (export.h, docs/EXPORT.md). Needs no PIN and no station: the
 * export folder and the root certificate.
 *
 * In this order, stopping at the first problem: the manifest's detached
 * CMS signature, whose signer must chain to the root (any purpose: the
 * export certificate carries digitalSignature only); the manifest itself
 * (export_manifest_parse); that the folder holds exactly the files listed,
 * each of its size and SHA-256; the device lines against the counts; the
 * CRL's number and signature by subca.pem, which chains to the root, and
 * every revoked device's certificate serial in it; the anchor's signature
 * by audit.pem, which chains to the root, and that it covers the export.
 * With a previous export (verified the same way), that this one starts
 * exactly where it ended.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "station/export.h"
#include "station/station.h"

/* slurp(dir, name, max, out, len): the file (at most ${max} bytes),
 * malloc'ed with a NUL after it. */
static int
slurp(const char *dir, const char *name, size_t max, char **out, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f;
	char *buf = NULL;
	size_t n;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		station_err("export verify: cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max) {
		station_err("export verify: %s: not a regular file of at most "
		    "%zu bytes", path, max);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		station_err("out of memory");
		goto fail;
	}
	n = fread(buf, 1, (size_t)st.st_size + 1, f);
	if (ferror(f) || n != (size_t)st.st_size) {
		station_err("export verify: %s: changed while read", path);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	fclose(f);
	return -1;
}

static const char *
ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown reason";
}

/* chains(store, cert, what): ${cert} verifies to the root, any purpose. */
static int
chains(X509_STORE *store, X509 *cert, const char *what)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;

	if (ctx != NULL && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1)
		ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		station_err("export verify: %s does not chain to the root: %s",
		    what, ctx ? X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)) : "out of memory");
	X509_STORE_CTX_free(ctx);
	return ok ? 0 : -1;
}

static X509 *
read_cert(const char *text, size_t len)
{
	BIO *b = BIO_new_mem_buf(text, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

/* The files of the folder against the manifest. */
static int
check_files(const char *dir, const struct export_manifest *m)
{
	static const char *const always[] = { "devices.jsonl", "denied.jsonl",
	    "crl.pem", "subca.pem", "audit.pem" };
	const char *extra = strcmp(m->format, "csv") == 0 ? "devices.csv" :
	    strcmp(m->format, "aws") == 0 ? "aws-bulk.jsonl" : NULL;
	DIR *d;
	struct dirent *e;
	int ret = 0;

	if (strcmp(m->format, "jsonl") != 0 && extra == NULL) {
		station_err("export verify: unknown format '%s'", m->format);
		return -1;
	}
	for (size_t i = 0; i < 6; i++) {
		const char *want = i < 5 ? always[i] : extra;
		bool listed = false;

		if (want == NULL)
			continue;
		for (size_t j = 0; j < m->n_files; j++)
			listed |= strcmp(m->files[j].name, want) == 0;
		if (!listed) {
			station_err("export verify: the manifest does not list "
			    "%s", want);
			return -1;
		}
	}
	if (m->n_files != (extra ? 6u : 5u)) {
		station_err("export verify: the manifest lists %zu files, a %s "
		    "export has %u", m->n_files, m->format, extra ? 6u : 5u);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		station_err("export verify: cannot read %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	while (ret == 0 && (e = readdir(d)) != NULL) {
		bool listed = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "manifest.json") ||
		    !strcmp(e->d_name, "manifest.json.p7s");

		for (size_t j = 0; j < m->n_files; j++)
			listed |= strcmp(m->files[j].name, e->d_name) == 0;
		if (!listed) {
			station_err("export verify: %s/%s is not in the manifest",
			    dir, e->d_name);
			ret = -1;
		}
	}
	closedir(d);
	return ret;
}

/* one_file(dir, f, text, len): size, hash and line count of ${f}. */
static int
one_file(const char *dir, const struct export_file *f, char **text,
    size_t *len)
{
	uint8_t md[32];
	uint64_t lines = 0;

	if (slurp(dir, f->name, 1u << 30, text, len) != 0)
		return -1;
	if (*len != f->bytes) {
		station_err("export verify: %s/%s: %zu bytes, the manifest says "
		    "%" PRIu64, dir, f->name, *len, f->bytes);
		return -1;
	}
	if (EVP_Digest(*text, *len, md, NULL, EVP_sha256(), NULL) != 1 ||
	    memcmp(md, f->sha256, 32) != 0) {
		station_err("export verify: %s/%s: its SHA-256 is not the "
		    "manifest's: the file was changed", dir, f->name);
		return -1;
	}
	for (size_t i = 0; i < *len; i++)
		lines += (*text)[i] == '\n';
	if (f->lines != 0 && lines != f->lines) {
		station_err("export verify: %s/%s: %" PRIu64 " lines, the "
		    "manifest says %" PRIu64, dir, f->name, lines, f->lines);
		return -1;
	}
	return 0;
}

/* value(line, key, out, size): the string value of "key" in a device line
 * (its JSON escapes are not undone: serials and states have none). 1 if
 * present, 0 if null or absent. */
static int
value(const char *line, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(line, pat)) == NULL)
		return 0;
	p += strlen(pat);
	if ((end = strchr(p, '"')) == NULL || (size_t)(end - p) >= size)
		return 0;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 1;
}

/* check_devices(m, jsonl, len, aws_lines, crl): the lines against the
 * counts; every revoked device's certificate serial on the CRL. */
static int
check_devices(const struct export_manifest *m, char *jsonl, size_t len,
    const struct export_file *aws, X509_CRL *crl)
{
	uint64_t counts[AUDIT_STATE_COUNT] = { 0 }, lines = 0, certs = 0;
	char state[32], serial[AUDIT_TEXT_MAX + 1], cserial[80];
	char *line = jsonl, *nl;

	while (line < jsonl + len) {
		size_t i;

		if ((nl = strchr(line, '\n')) == NULL) {
			station_err("export verify: devices.jsonl: the last "
			    "line is not terminated");
			return -1;
		}
		*nl = '\0';
		lines++;
		if (line[0] != '{' || nl[-1] != '}' ||
		    !value(line, "serial", serial, sizeof(serial)) ||
		    !value(line, "state", state, sizeof(state))) {
			station_err("export verify: devices.jsonl line %" PRIu64
			    ": not a device record", lines);
			return -1;
		}
		for (i = 1; i < AUDIT_STATE_COUNT; i++)
			if (strcmp(state, export_state_name(i)) == 0)
				break;
		if (i == AUDIT_STATE_COUNT) {
			station_err("export verify: devices.jsonl line %" PRIu64
			    ": unknown state '%s'", lines, state);
			return -1;
		}
		counts[i]++;
		certs += strstr(line, ",\"certificate_pem\":\"") != NULL;
		if (i == AUDIT_REVOKED) {
			BIGNUM *bn = NULL;
			ASN1_INTEGER *ai = NULL;
			X509_REVOKED *rev = NULL;
			int found = 0;

			if (value(line, "certificate_serial", cserial,
			    sizeof(cserial)) && BN_hex2bn(&bn, cserial) > 0 &&
			    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
				found = X509_CRL_get0_by_serial(crl, &rev, ai) == 1;
			BN_free(bn);
			ASN1_INTEGER_free(ai);
			if (!found) {
				station_err("export verify: device %s is revoked "
				    "but its certificate is not on crl.pem",
				    serial);
				return -1;
			}
		}
		*nl = '\n';
		line = nl + 1;
	}
	if (lines != m->devices) {
		station_err("export verify: devices.jsonl has %" PRIu64
		    " devices, the manifest says %" PRIu64, lines, m->devices);
		return -1;
	}
	for (size_t i = 1; i < AUDIT_STATE_COUNT; i++)
		if (counts[i] != m->counts[i]) {
			station_err("export verify: devices.jsonl has %" PRIu64
			    " devices %s, the manifest says %" PRIu64, counts[i],
			    export_state_name(i), m->counts[i]);
			return -1;
		}
	if (aws != NULL && aws->lines != certs) {
		station_err("export verify: aws-bulk.jsonl has %" PRIu64 " lines "
		    "for %" PRIu64 " certificates", aws->lines, certs);
		return -1;
	}
	return 0;
}

/* check_crl(store, subca, crl_text, m, out): the CRL by the sub-CA. */
static int
check_crl(X509_STORE *store, const char *subca_text, size_t subca_len,
    const char *crl_text, size_t crl_len, const struct export_manifest *m,
    X509_CRL **out)
{
	X509 *subca = read_cert(subca_text, subca_len);
	BIO *b = BIO_new_mem_buf(crl_text, (int)crl_len);
	X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = subca ? X509_get0_pubkey(subca) : NULL;
	ASN1_INTEGER *num = NULL;
	uint64_t n = 0;
	int ret = -1;

	if (subca == NULL || crl == NULL) {
		station_err("export verify: %s does not decode",
		    subca ? "crl.pem" : "subca.pem");
		goto cleanup;
	}
	if (chains(store, subca, "subca.pem") != 0)
		goto cleanup;
	if (k == NULL || X509_CRL_verify(crl, k) != 1) {
		station_err("export verify: crl.pem is not signed by subca.pem");
		goto cleanup;
	}
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) ==
	    NULL || ASN1_INTEGER_get_uint64(&n, num) != 1 ||
	    n != m->crl_number) {
		station_err("export verify: crl.pem's CRL number is not the "
		    "manifest's %" PRIu64, m->crl_number);
		goto cleanup;
	}
	*out = crl;
	crl = NULL;
	ret = 0;
cleanup:
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	BIO_free(b);
	X509_free(subca);
	return ret;
}

/* check_anchor(store, audit_text, m): the anchor's checkpoint. */
static int
check_anchor(X509_STORE *store, const char *audit_text, size_t audit_len,
    const struct export_manifest *m)
{
	X509 *cert = read_cert(audit_text, audit_len);
	struct audit_checkpoint c;
	BIO *b = NULL;
	char err[AUDIT_ERR_MAX], *pem = NULL, *data;
	long len;
	int ret = -1;

	if (cert == NULL) {
		station_err("export verify: audit.pem does not decode");
		goto cleanup;
	}
	if (chains(store, cert, "audit.pem") != 0)
		goto cleanup;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PUBKEY(b, X509_get0_pubkey(cert)) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0 ||
	    (pem = strndup(data, (size_t)len)) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	if (audit_anchor_parse(m->anchor, strlen(m->anchor), &c, err) != 0 ||
	    audit_checkpoint_check(&c, pem, err) != 0) {
		station_err("export verify: the manifest's anchor: %s", err);
		goto cleanup;
	}
	if (strcmp(c.station_id, m->station_id) != 0 ||
	    c.head_seq < m->through) {
		station_err("export verify: the manifest's anchor (station %s, "
		    "event %" PRIu64 ") does not cover this export (station %s, "
		    "through %" PRIu64 ")", c.station_id, c.head_seq,
		    m->station_id, m->through);
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(pem);
	BIO_free(b);
	X509_free(cert);
	return ret;
}

/* check_signature(store, manifest, p7s): the detached CMS signature. */
static int
check_signature(X509_STORE *store, const char *dir, const char *manifest,
    size_t len, const char *p7s, size_t p7s_len)
{
	const unsigned char *p = (const unsigned char *)p7s;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)p7s_len);
	BIO *content = BIO_new_mem_buf(manifest, (int)len);
	int ret = -1;

	if (cms == NULL || p != (const unsigned char *)p7s + p7s_len) {
		station_err("export verify: %s/manifest.json.p7s is not a DER "
		    "CMS signature", dir);
		goto cleanup;
	}
	ERR_clear_error();
	if (content == NULL || CMS_verify(cms, NULL, store, content, NULL,
	    CMS_BINARY) != 1) {
		station_err("export verify: %s/manifest.json: the signature "
		    "does not verify (%s): the manifest was changed or not "
		    "signed by this station's export key", dir, ossl_reason());
		goto cleanup;
	}
	ret = 0;
cleanup:
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	return ret;
}

/* verify_one(store, dir, r): everything but the previous export. */
static int
verify_one(X509_STORE *store, const char *dir, struct export_manifest *m)
{
	char *manifest = NULL, *p7s = NULL, *text[EXPORT_FILES_MAX] = { 0 };
	size_t len, p7s_len, tlen[EXPORT_FILES_MAX] = { 0 };
	const struct export_file *aws = NULL;
	size_t jsonl = 0, crl = 0, subca = 0, audit = 0;
	char err[EXPORT_ERR_MAX];
	X509_CRL *x = NULL;
	int ret = 1;

	if (slurp(dir, "manifest.json", EXPORT_MANIFEST_MAX, &manifest,
	    &len) != 0 || slurp(dir, "manifest.json.p7s", 64 * 1024, &p7s,
	    &p7s_len) != 0)
		goto cleanup;
	if (check_signature(store, dir, manifest, len, p7s, p7s_len) != 0)
		goto cleanup;
	if (export_manifest_parse(manifest, len, m, err) != 0) {
		station_err("export verify: %s/%s", dir, err);
		goto cleanup;
	}
	if (check_files(dir, m) != 0)
		goto cleanup;
	for (size_t i = 0; i < m->n_files; i++) {
		const char *name = m->files[i].name;

		if (one_file(dir, &m->files[i], &text[i], &tlen[i]) != 0)
			goto cleanup;
		if (!strcmp(name, "devices.jsonl"))
			jsonl = i;
		else if (!strcmp(name, "crl.pem"))
			crl = i;
		else if (!strcmp(name, "subca.pem"))
			subca = i;
		else if (!strcmp(name, "audit.pem"))
			audit = i;
		else if (!strcmp(name, "aws-bulk.jsonl"))
			aws = &m->files[i];
		else if (!strcmp(name, "devices.csv") &&
		    m->files[i].lines != m->devices + 1) {
			station_err("export verify: devices.csv: %" PRIu64
			    " lines for %" PRIu64 " devices", m->files[i].lines,
			    m->devices);
			goto cleanup;
		}
	}
	if (check_crl(store, text[subca], tlen[subca], text[crl], tlen[crl], m,
	    &x) != 0 || check_devices(m, text[jsonl], tlen[jsonl], aws, x) != 0 ||
	    check_anchor(store, text[audit], tlen[audit], m) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	for (size_t i = 0; i < EXPORT_FILES_MAX; i++)
		free(text[i]);
	X509_CRL_free(x);
	free(manifest);
	free(p7s);
	return ret;
}

int
export_verify(const char *dir, const char *trust, const char *previous,
    struct export_report *r)
{
	X509_STORE *store = X509_STORE_new();
	struct export_manifest *prev = NULL;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (store == NULL || X509_STORE_load_file(store, trust) != 1) {
		station_err("export verify: cannot read the root certificate "
		    "%s", trust);
		goto cleanup;
	}
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	if ((ret = verify_one(store, dir, &r->m)) != 0)
		goto cleanup;
	if (previous == NULL)
		goto cleanup;
	ret = 1;
	if ((prev = malloc(sizeof(*prev))) == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	if (verify_one(store, previous, prev) != 0) {
		station_err("export verify: the previous export %s does not "
		    "verify", previous);
		goto cleanup;
	}
	if (strcmp(prev->station_id, r->m.station_id) != 0) {
		station_err("export verify: the previous export is of station "
		    "%s, this one of %s", prev->station_id, r->m.station_id);
		goto cleanup;
	}
	if (r->m.after > prev->through) {
		station_err("export verify: gap: this export starts after event "
		    "%" PRIu64 ", the previous one ended at event %" PRIu64
		    ": events %" PRIu64 " to %" PRIu64 " are in neither",
		    r->m.after, prev->through, prev->through + 1, r->m.after);
		goto cleanup;
	}
	if (r->m.after < prev->through) {
		station_err("export verify: overlap: this export starts after "
		    "event %" PRIu64 ", the previous one ended at event %" PRIu64
		    ": events %" PRIu64 " to %" PRIu64 " are in both",
		    r->m.after, prev->through, r->m.after + 1, prev->through);
		goto cleanup;
	}
	r->previous_checked = true;
	r->previous_through = prev->through;
	ret = 0;
cleanup:
	free(prev);
	X509_STORE_free(store);
	return ret;
}
