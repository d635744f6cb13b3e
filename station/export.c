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
#include "station/export_lines.h"
#include "station/revoke.h"
#include "station/station.h"

struct serials {
	char (*v)[AUDIT_TEXT_MAX + 1];
	size_t n, cap;
	uint64_t after, through;
	const char *order;
	int failed;
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

static void
detail_text(const struct audit_detail *d, char out[static AUDIT_TEXT_MAX + 1])
{
	if (d->len == 0 || d->len > AUDIT_TEXT_MAX ||
	    !audit_text_valid((const char *)d->value, d->len))
		return;
	memcpy(out, d->value, d->len);
	out[d->len] = '\0';
}

/* token_hash(d, out): the token's SHA-256 as lower-case hex, from the
 * 32-byte digest or its 64 hex digits; anything else is left out. */
static void
token_hash(const struct audit_detail *d, char out[static AUDIT_TEXT_MAX + 1])
{
	if (d->len == 32) {
		for (size_t i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", d->value[i]);
	} else if (d->len == 64) {
		for (size_t i = 0; i < 64; i++)
			if (!strchr("0123456789abcdef", d->value[i]) ||
			    d->value[i] == 0)
				return;
		memcpy(out, d->value, 64);
		out[64] = '\0';
	}
}

static int
scan_extra(void *ctx, const struct audit_event *e)
{
	struct export_extra *x = ctx;
	struct audit_detail d[AUDIT_FIELDS_MAX];
	size_t n;

	if (e->seq > x->through || audit_details_parse(e->details,
	    e->details_len, d, AUDIT_FIELDS_MAX, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].key, EXPORT_CLAIM_MODE_KEY) == 0)
			detail_text(&d[i], x->claim_mode);
		else if (strcmp(d[i].key, EXPORT_TOKEN_HASH_KEY) == 0)
			token_hash(&d[i], x->token_sha256);
	}
	return 0;
}

/* put_file(dir, name, data, len, lines, m): a new file ${dir}/${name}
 * (O_EXCL, 0600: claim IDs are claim secrets; fsynced), listed in ${m} with its size and SHA-256. */
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
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
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
    const struct serials *s, struct export_outputs *o, struct export_manifest *m)
{
	struct audit_device *d = malloc(sizeof(*d));
	struct audit_order *ord = malloc(sizeof(*ord));
	struct export_extra x;
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
		if (export_device_lines(o, cfg->station_id, d, product, &x) != 0) {
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

	export_iso(e->added_us, added);
	fputc('{', d->f);
	export_field(d->f, "kind", e->kind, true);
	export_field(d->f, "value", e->value, false);
	export_field(d->f, "reason", e->reason, false);
	export_field(d->f, "added", added, false);
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
	export_iso((int64_t)time(NULL) * 1000000, m->created);
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
	struct export_outputs out = { 0 };
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
	if (mkdir(partial, 0700) != 0) {
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
		fputs(export_csv_header, out.csv);
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
