/*
 * export.c: writing a signed export (export.h, docs/EXPORT.md).
 *
 * What is exported: the devices whose latest event is in (after, through],
 * `through` being the log's head when the export starts (a device changed
 * by a bench meanwhile has a later event and goes into the next export,
 * in its newer state: nothing falls between two exports). Without
 * --after, `after` is the `through` of the last export.written event of an
 * export over every order. Per device: its row, its order's product, and
 * from its events the claim mode and provisioning-token hash if the bench
 * recorded them. Never a secret: the log holds none.
 *
 * How it is written: every file into DIR.partial (created, must not
 * exist), each O_EXCL and fsynced; the CRL made through `station crl`'s
 * code (recorded as crl.issued); a checkpoint sealed now, its anchor text
 * in the manifest; the manifest signed (CMS, detached, by the export key
 * in the HSM); the folder renamed to DIR; only then export.written is
 * recorded. If anything fails, DIR.partial is removed and nothing is
 * recorded beyond the CRL.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "station/export.h"
#include "station/revoke.h"
#include "station/station.h"

struct serials {
	char (*v)[AUDIT_TEXT_MAX + 1];
	size_t n, cap;
	uint64_t after, through;
	const char *order;
	int failed;
};

/* The three output streams. */
struct outputs {
	FILE *jsonl, *csv, *aws;
	char *jsonl_buf, *csv_buf, *aws_buf;
	size_t jsonl_len, csv_len, aws_len;
	uint64_t aws_lines;
};

static int
pick(void *ctx, const struct audit_device *d)
{
	struct serials *s = ctx;

	if (d->last_seq <= s->after || d->last_seq > s->through)
		return 0;
	if (s->order != NULL && strcmp(d->order_id, s->order) != 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *grown = realloc(s->v, cap * sizeof(*s->v));

		if (grown == NULL) {
			s->failed = 1;
			return 1;
		}
		s->v = grown;
		s->cap = cap;
	}
	snprintf(s->v[s->n++], AUDIT_TEXT_MAX + 1, "%s", d->serial);
	return 0;
}

/* The details the bench may have recorded on a device's events. */
struct extra {
	uint64_t through;
	char claim_mode[AUDIT_TEXT_MAX + 1];
	char token_sha256[AUDIT_TEXT_MAX + 1];
};

static void
detail_text(const struct audit_detail *d, char out[static AUDIT_TEXT_MAX + 1])
{
	if (d->len == 0 || d->len > AUDIT_TEXT_MAX ||
	    !audit_text_valid((const char *)d->value, d->len))
		return;
	memcpy(out, d->value, d->len);
	out[d->len] = '\0';
}

static int
scan_extra(void *ctx, const struct audit_event *e)
{
	struct extra *x = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	size_t n;

	if (e->seq > x->through || audit_details_parse(e->details,
	    e->details_len, d, AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, EXPORT_CLAIM_MODE_KEY) == 0)
			detail_text(&d[i], x->claim_mode);
		else if (strcmp(d[i].key, EXPORT_TOKEN_HASH_KEY) == 0)
			detail_text(&d[i], x->token_sha256);
	}
	return 0;
}

/* pem(type, der, len): ${der} as a malloc'ed PEM text, or NULL. */
static char *
pem(const char *type, const uint8_t *der, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b != NULL && PEM_write_bio(b, type, "", der, (long)len) > 0 &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

/* b64(der, len): one-line base64 of ${der}, malloc'ed. */
static char *
b64(const uint8_t *der, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, der, (int)len);
	return out;
}

static void
iso(int64_t us, char buf[static 32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "?");
}

/* field(f, key, value, first): ,"key":"value" or null if ${value} is "" */
static void
field(FILE *f, const char *key, const char *value, bool first)
{
	fprintf(f, "%s\"%s\":", first ? "" : ",", key);
	if (value == NULL || value[0] == '\0')
		fputs("null", f);
	else
		export_json_string(f, value);
}

static void
csv_field(FILE *f, const char *value, bool first)
{
	if (!first)
		fputc(',', f);
	if (value == NULL)
		return;
	if (strpbrk(value, ",\"\r\n") == NULL) {
		fputs(value, f);
		return;
	}
	fputc('"', f);
	for (; *value; value++) {
		if (*value == '"')
			fputc('"', f);
		fputc(*value, f);
	}
	fputc('"', f);
}

static const char csv_header[] = "serial,claim_id,product,hardware_id,order,"
    "station,state,reason,key_mode,claim_mode,provisioning_token_sha256,"
    "certificate_serial,certificate_der_base64,public_key_der_base64,"
    "last_seq,updated\r\n";

/* aws_status(s): the certificate status the AWS template gets. */
static const char *
aws_status(enum audit_state s)
{
	return s == AUDIT_DONE ? "ACTIVE" : s == AUDIT_REVOKED ? "REVOKED" :
	    "INACTIVE";
}

/* one_device(...): the lines of device ${d} on each output. */
static int
one_device(struct outputs *o, const char *station, const struct audit_device *d,
    const char *product, const struct extra *x)
{
	char *cert_pem = NULL, *key_pem = NULL, *cert_b64 = NULL, *key_b64 = NULL;
	char updated[32], seq[24];
	const char *state = audit_state_name(d->state);
	int ret = -1;

	if (d->cert_der_len > 0 &&
	    ((cert_pem = pem("CERTIFICATE", d->cert_der, d->cert_der_len)) ==
	    NULL || (cert_b64 = b64(d->cert_der, d->cert_der_len)) == NULL))
		goto cleanup;
	if (d->public_key_len > 0 &&
	    ((key_pem = pem("PUBLIC KEY", d->public_key, d->public_key_len)) ==
	    NULL || (key_b64 = b64(d->public_key, d->public_key_len)) == NULL))
		goto cleanup;
	iso(d->updated_us, updated);
	snprintf(seq, sizeof(seq), "%" PRIu64, d->last_seq);

	fputc('{', o->jsonl);
	field(o->jsonl, "serial", d->serial, true);
	field(o->jsonl, "claim_id", d->claim_id, false);
	field(o->jsonl, "product", product, false);
	field(o->jsonl, "hardware_id", d->hardware_id, false);
	field(o->jsonl, "order", d->order_id, false);
	field(o->jsonl, "station", station, false);
	field(o->jsonl, "state", state, false);
	field(o->jsonl, "reason", d->reason, false);
	field(o->jsonl, "key_mode", d->key_mode, false);
	field(o->jsonl, "claim_mode", x->claim_mode, false);
	field(o->jsonl, "provisioning_token_sha256", x->token_sha256, false);
	field(o->jsonl, "certificate_serial", d->cert_serial, false);
	field(o->jsonl, "certificate_pem", cert_pem, false);
	field(o->jsonl, "public_key_pem", key_pem, false);
	fprintf(o->jsonl, ",\"last_seq\":%s", seq);
	field(o->jsonl, "updated", updated, false);
	fputs("}\n", o->jsonl);

	if (o->csv != NULL) {
		csv_field(o->csv, d->serial, true);
		csv_field(o->csv, d->claim_id, false);
		csv_field(o->csv, product, false);
		csv_field(o->csv, d->hardware_id, false);
		csv_field(o->csv, d->order_id, false);
		csv_field(o->csv, station, false);
		csv_field(o->csv, state, false);
		csv_field(o->csv, d->reason, false);
		csv_field(o->csv, d->key_mode, false);
		csv_field(o->csv, x->claim_mode, false);
		csv_field(o->csv, x->token_sha256, false);
		csv_field(o->csv, d->cert_serial, false);
		csv_field(o->csv, cert_b64, false);
		csv_field(o->csv, key_b64, false);
		csv_field(o->csv, seq, false);
		csv_field(o->csv, updated, false);
		fputs("\r\n", o->csv);
	}
	/* AWS: one registration per certificate; no certificate, no thing. */
	if (o->aws != NULL && cert_pem != NULL) {
		fputc('{', o->aws);
		field(o->aws, "ThingName", d->serial, true);
		field(o->aws, "SerialNumber", d->serial, false);
		field(o->aws, "CertificatePem", cert_pem, false);
		field(o->aws, "CertificateStatus", aws_status(d->state), false);
		field(o->aws, "ClaimId", d->claim_id, false);
		field(o->aws, "HardwareId", d->hardware_id[0] ? d->hardware_id :
		    "none", false);
		field(o->aws, "Product", product[0] ? product : "none", false);
		field(o->aws, "StationId", station, false);
		fputs("}\n", o->aws);
		o->aws_lines++;
	}
	ret = 0;
cleanup:
	free(cert_pem);
	free(key_pem);
	free(cert_b64);
	free(key_b64);
	return ret;
}

/* put_file(dir, name, data, len, lines, m): a new file ${dir}/${name}
 * (O_EXCL, 0644, fsynced), listed in ${m} with its size and SHA-256. */
static int
put_file(const char *dir, const char *name, const void *data, size_t len,
    uint64_t lines, struct export_manifest *m)
{
	char path[PATH_MAX];
	const char *p = data;
	size_t left = len;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		station_err("export: %s/%s: path too long", dir, name);
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		station_err("export: cannot create %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			station_err("export: cannot write %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		station_err("export: cannot write %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (m != NULL) {
		struct export_file *f = &m->files[m->n_files++];

		snprintf(f->name, sizeof(f->name), "%s", name);
		f->bytes = len;
		f->lines = lines;
		if (EVP_Digest(data, len, f->sha256, NULL, EVP_sha256(),
		    NULL) != 1) {
			station_err("export: cannot hash %s", name);
			return -1;
		}
	}
	return 0;
}

/* copy_file(dir, name, from, m): ${from} (a certificate) as ${name}. */
static int
copy_file(const char *dir, const char *name, const char *from,
    struct export_manifest *m)
{
	FILE *f = fopen(from, "r");
	char buf[64 * 1024];
	size_t n;

	if (f == NULL) {
		station_err("export: cannot read %s: %s", from, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || !feof(f)) {
		station_err("export: cannot read %s (or larger than 64 KiB)",
		    from);
		fclose(f);
		return -1;
	}
	fclose(f);
	return put_file(dir, name, buf, n, 0, m);
}

/* last_through(ctx, e): the `through` of export.written events over every
 * order; the last one wins. */
static int
last_through(void *ctx, const struct audit_event *e)
{
	struct audit_detail d[AUDIT_FIELDS_MAX];
	uint64_t *through = ctx, v = 0;
	bool ordered = false, found = false;
	char text[24];
	size_t n;

	if (audit_details_parse(e->details, e->details_len, d, AUDIT_FIELDS_MAX,
	    &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, "order") == 0)
			ordered = true;
		if (strcmp(d[i].key, "through") != 0 || d[i].len == 0 ||
		    d[i].len >= sizeof(text))
			continue;
		memcpy(text, d[i].value, d[i].len);
		text[d[i].len] = '\0';
		found = sscanf(text, "%" SCNu64, &v) == 1;
	}
	if (found && !ordered)
		*through = v;
	return 0;
}

/* sign(cfg, key, manifest, len, der, der_len): the detached CMS
 * signature (DER, malloc'ed) of the manifest by the export key. */
static int
sign(const struct station_config *cfg, struct hsm_key *key,
    const char *manifest, size_t len, uint8_t **der, int *der_len)
{
	FILE *f;
	X509 *cert = NULL;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	int ret = -1;

	*der = NULL;
	if ((f = fopen(cfg->pki_export_cert, "r")) == NULL ||
	    (cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		station_err("export: cannot read the export certificate %s",
		    cfg->pki_export_cert);
		goto cleanup;
	}
	if ((in = BIO_new_mem_buf(manifest, (int)len)) == NULL ||
	    (cms = CMS_sign(cert, hsm_key_pkey(key), NULL, in,
	    CMS_DETACHED | CMS_BINARY)) == NULL ||
	    (*der_len = i2d_CMS_ContentInfo(cms, der)) <= 0) {
		station_err("export: the token could not sign the manifest");
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (f != NULL)
		fclose(f);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	X509_free(cert);
	return ret;
}

/* remove_partial(dir, m): the files listed in ${m}, the manifest and its
 * signature, then the folder. */
static void
remove_partial(const char *dir, const struct export_manifest *m)
{
	static const char *const more[] = { "manifest.json",
	    "manifest.json.p7s" };
	char path[PATH_MAX];

	for (size_t i = 0; i < m->n_files; i++)
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		    m->files[i].name) < (int)sizeof(path))
			unlink(path);
	for (size_t i = 0; i < 2; i++)
		if (snprintf(path, sizeof(path), "%s/%s", dir, more[i]) <
		    (int)sizeof(path))
			unlink(path);
	rmdir(dir);
}

/* devices(cfg, sa, s, o, m): one line per device of ${s}, counted. */
static int
devices(const struct station_config *cfg, struct station_audit *sa,
    const struct serials *s, struct outputs *o, struct export_manifest *m)
{
	struct audit_device *d = malloc(sizeof(*d));
	struct audit_order *ord = malloc(sizeof(*ord));
	struct extra x;
	char product[AUDIT_TEXT_MAX + 1];
	int ret = -1;

	if (d == NULL || ord == NULL) {
		station_err("out of memory");
		goto cleanup;
	}
	ord->order_id[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		struct audit_filter f = { .subject = s->v[i] };

		if (audit_device_get(sa->a, s->v[i], d) != 0)
			goto db;
		product[0] = '\0';
		if (d->order_id[0] != '\0') {
			if (strcmp(ord->order_id, d->order_id) != 0 &&
			    audit_order_get(sa->a, d->order_id, ord) != 0)
				goto db;
			snprintf(product, sizeof(product), "%s", ord->product);
		}
		memset(&x, 0, sizeof(x));
		x.through = s->through;
		if (audit_events(sa->a, &f, scan_extra, &x) != 0)
			goto db;
		if (one_device(o, cfg->station_id, d, product, &x) != 0) {
			station_err("export: device %s: cannot encode it",
			    d->serial);
			goto cleanup;
		}
		m->counts[d->state]++;
		m->devices++;
	}
	ret = 0;
	goto cleanup;
db:
	station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
cleanup:
	free(d);
	free(ord);
	return ret;
}

struct denied {
	FILE *f;
	uint64_t n;
};

static int
one_denied(void *ctx, const struct audit_deny *e)
{
	struct denied *d = ctx;
	char added[32];

	iso(e->added_us, added);
	fputc('{', d->f);
	field(d->f, "kind", e->kind, true);
	field(d->f, "value", e->value, false);
	field(d->f, "reason", e->reason, false);
	field(d->f, "added", added, false);
	fputs("}\n", d->f);
	d->n++;
	return 0;
}

/* deny_list(cfg, sa, dir, m): denied.jsonl, the whole deny list now. */
static int
deny_list(const struct station_config *cfg, struct station_audit *sa,
    const char *dir, struct export_manifest *m)
{
	struct denied d = { NULL, 0 };
	char *buf = NULL;
	size_t len = 0;
	int ret = -1;

	if ((d.f = open_memstream(&buf, &len)) == NULL) {
		station_err("out of memory");
		return -1;
	}
	if (audit_denies(sa->a, one_denied, &d) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		fclose(d.f);
		goto cleanup;
	}
	if (fclose(d.f) != 0) {
		station_err("out of memory");
		goto cleanup;
	}
	ret = put_file(dir, "denied.jsonl", buf, len, d.n, m);
cleanup:
	free(buf);
	return ret;
}

/* record(cfg, sa, m, manifest_sha): the export.written event. */
static int
record(const struct station_config *cfg, struct station_audit *sa,
    const struct export_manifest *m, const uint8_t sha[static 32])
{
	char after[24], through[24], count[24], crl[24];
	struct audit_field f[7];
	size_t n = 0;

	snprintf(after, sizeof(after), "%" PRIu64, m->after);
	snprintf(through, sizeof(through), "%" PRIu64, m->through);
	snprintf(count, sizeof(count), "%" PRIu64, m->devices);
	snprintf(crl, sizeof(crl), "%" PRIu64, m->crl_number);
	f[n++] = (struct audit_field){ "after", after, strlen(after) };
	f[n++] = (struct audit_field){ "crl_number", crl, strlen(crl) };
	f[n++] = (struct audit_field){ "devices", count, strlen(count) };
	f[n++] = (struct audit_field){ "format", m->format, strlen(m->format) };
	f[n++] = (struct audit_field){ "manifest_sha256", sha, 32 };
	if (m->order[0] != '\0')
		f[n++] = (struct audit_field){ "order", m->order,
		    strlen(m->order) };
	f[n++] = (struct audit_field){ "through", through, strlen(through) };
	if (audit_append(sa->a, sa->actor, "export.written", cfg->station_id, f,
	    n, NULL) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		return -1;
	}
	return 0;
}

/* start(cfg, sa, o, m, s): the range and the devices in it. */
static int
start(const struct station_config *cfg, struct station_audit *sa,
    const struct export_options *o, struct export_manifest *m,
    struct serials *s)
{
	static const struct audit_filter exports = { .kind = "export.written" };
	struct audit_order *ord;
	int rc;

	snprintf(m->schema, sizeof(m->schema), "%s", EXPORT_SCHEMA);
	snprintf(m->station_id, sizeof(m->station_id), "%s", cfg->station_id);
	snprintf(m->format, sizeof(m->format), "%s", o->format);
	iso((int64_t)time(NULL) * 1000000, m->created);
	if (o->order != NULL) {
		if ((ord = malloc(sizeof(*ord))) == NULL)
			return -1;
		rc = audit_order_get(sa->a, o->order, ord);
		free(ord);
		if (rc < 0)
			goto db;
		if (rc == 1) {
			station_err("export: no order '%s' in the audit log",
			    o->order);
			return -1;
		}
		snprintf(m->order, sizeof(m->order), "%s", o->order);
	}
	if (audit_head(sa->a, &m->through, NULL, NULL) != 0)
		goto db;
	if (o->after_given)
		m->after = o->after;
	else if (o->order == NULL &&
	    audit_events(sa->a, &exports, last_through, &m->after) != 0)
		goto db;
	if (m->after > m->through) {
		station_err("export: --after %" PRIu64 " is beyond the log's "
		    "last event %" PRIu64, m->after, m->through);
		return -1;
	}
	s->after = m->after;
	s->through = m->through;
	s->order = o->order;
	if (audit_devices(sa->a, AUDIT_NONE, pick, s) != 0 || s->failed) {
		if (s->failed) {
			station_err("out of memory");
			return -1;
		}
		goto db;
	}
	return 0;
db:
	station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
	return -1;
}

int
export_write(const struct station_config *cfg, struct station_audit *sa,
    struct hsm_ca *ca, struct hsm_key *key, const struct export_options *o,
    struct export_manifest *m)
{
	struct serials s = { 0 };
	struct outputs out = { 0 };
	struct audit_checkpoint cp;
	char partial[PATH_MAX], *manifest = NULL, *crl_text;
	uint8_t *sig = NULL, sha[32];
	size_t manifest_len = 0, crl_entries;
	int sig_len = 0, n, ret = -1;
	long crl_len;
	BIO *crl = NULL;
	bool made = false;

	memset(m, 0, sizeof(*m));
	if (snprintf(partial, sizeof(partial), "%s.partial", o->dir) >=
	    (int)sizeof(partial)) {
		station_err("export: %s: path too long", o->dir);
		return -1;
	}
	if (access(o->dir, F_OK) == 0) {
		station_err("export: %s exists already: each export goes into "
		    "a new folder", o->dir);
		return -1;
	}
	if (mkdir(partial, 0755) != 0) {
		station_err("export: cannot create %s: %s%s", partial,
		    strerror(errno), errno == EEXIST ? " (left by an export "
		    "that failed: remove it)" : "");
		return -1;
	}
	made = true;
	if (start(cfg, sa, o, m, &s) != 0)
		goto cleanup;
	if ((out.jsonl = open_memstream(&out.jsonl_buf, &out.jsonl_len)) ==
	    NULL || (strcmp(o->format, "csv") == 0 && (out.csv =
	    open_memstream(&out.csv_buf, &out.csv_len)) == NULL) ||
	    (strcmp(o->format, "aws") == 0 && (out.aws =
	    open_memstream(&out.aws_buf, &out.aws_len)) == NULL)) {
		station_err("out of memory");
		goto cleanup;
	}
	if (out.csv != NULL)
		fputs(csv_header, out.csv);
	if (devices(cfg, sa, &s, &out, m) != 0)
		goto cleanup;
	if (fclose(out.jsonl) != 0 || (out.csv && fclose(out.csv) != 0) ||
	    (out.aws && fclose(out.aws) != 0)) {
		out.jsonl = out.csv = out.aws = NULL;
		station_err("out of memory");
		goto cleanup;
	}
	out.jsonl = out.csv = out.aws = NULL;
	if (put_file(partial, "devices.jsonl", out.jsonl_buf, out.jsonl_len,
	    m->devices, m) != 0 ||
	    (out.csv_buf != NULL && put_file(partial, "devices.csv",
	    out.csv_buf, out.csv_len, m->devices + 1, m) != 0) ||
	    (out.aws_buf != NULL && put_file(partial, "aws-bulk.jsonl",
	    out.aws_buf, out.aws_len, out.aws_lines, m) != 0) ||
	    deny_list(cfg, sa, partial, m) != 0)
		goto cleanup;
	/* The CRL as `station crl` makes it, recorded in this session. */
	if ((crl = BIO_new(BIO_s_mem())) == NULL ||
	    crl_make_pem(cfg, sa, ca, 30, crl, &m->crl_number,
	    &crl_entries) != 0 ||
	    (crl_len = BIO_get_mem_data(crl, &crl_text)) <= 0 ||
	    put_file(partial, "crl.pem", crl_text, (size_t)crl_len, 0, m) != 0 ||
	    copy_file(partial, "subca.pem", cfg->pki_subca_cert, m) != 0 ||
	    copy_file(partial, "audit.pem", cfg->pki_audit_cert, m) != 0)
		goto cleanup;
	/* The anchor: a checkpoint over everything up to now. */
	if (audit_checkpoint(sa->a) != 0 ||
	    audit_checkpoint_latest(sa->a, &cp) != 0) {
		station_err("%s: cannot seal a checkpoint for the anchor: %s",
		    cfg->audit_database, audit_error(sa->a));
		goto cleanup;
	}
	if ((n = audit_anchor_format(&cp, m->anchor, sizeof(m->anchor))) < 0) {
		station_err("export: the anchor does not fit");
		goto cleanup;
	}
	if (export_manifest_format(m, &manifest, &manifest_len) != 0 ||
	    EVP_Digest(manifest, manifest_len, sha, NULL, EVP_sha256(),
	    NULL) != 1) {
		station_err("out of memory");
		goto cleanup;
	}
	if (sign(cfg, key, manifest, manifest_len, &sig, &sig_len) != 0 ||
	    put_file(partial, "manifest.json", manifest, manifest_len, 0,
	    NULL) != 0 ||
	    put_file(partial, "manifest.json.p7s", sig, (size_t)sig_len, 0,
	    NULL) != 0)
		goto cleanup;
	if (rename(partial, o->dir) != 0) {
		station_err("export: cannot rename %s to %s: %s", partial,
		    o->dir, strerror(errno));
		goto cleanup;
	}
	if (record(cfg, sa, m, sha) != 0) {
		/* Not recorded: not delivered either. */
		snprintf(partial, sizeof(partial), "%s", o->dir);
		goto cleanup;
	}
	made = false;
	ret = 0;
cleanup:
	if (made)
		remove_partial(partial, m);
	if (out.jsonl)
		fclose(out.jsonl);
	if (out.csv)
		fclose(out.csv);
	if (out.aws)
		fclose(out.aws);
	free(out.jsonl_buf);
	free(out.csv_buf);
	free(out.aws_buf);
	free(s.v);
	free(manifest);
	OPENSSL_free(sig);
	BIO_free(crl);
	return ret;
}
