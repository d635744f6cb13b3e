/*
 * export_lines.c: one device as a line of devices.jsonl, devices.csv
 * (RFC 4180; certificate and key as one-line base64 DER) and
 * aws-bulk.jsonl (AWS IoT bulk-registration parameters: one line per
 * certificate), docs/EXPORT.md. Never a secret: what the audit log holds
 * of a device is public.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "station/export.h"
#include "station/export_lines.h"

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

void
export_iso(int64_t us, char buf[static 32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "?");
}

/* export_field: see export_lines.h. */
void
export_field(FILE *f, const char *key, const char *value, bool first)
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

const char export_csv_header[] = "serial,claim_id,product,hardware_id,order,"
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
int
export_device_lines(struct export_outputs *o, const char *station, const struct audit_device *d,
    const char *product, const struct export_extra *x)
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
	export_iso(d->updated_us, updated);
	snprintf(seq, sizeof(seq), "%" PRIu64, d->last_seq);

	fputc('{', o->jsonl);
	export_field(o->jsonl, "serial", d->serial, true);
	export_field(o->jsonl, "claim_id", d->claim_id, false);
	export_field(o->jsonl, "product", product, false);
	export_field(o->jsonl, "hardware_id", d->hardware_id, false);
	export_field(o->jsonl, "order", d->order_id, false);
	export_field(o->jsonl, "station", station, false);
	export_field(o->jsonl, "state", state, false);
	export_field(o->jsonl, "reason", d->reason, false);
	export_field(o->jsonl, "key_mode", d->key_mode, false);
	export_field(o->jsonl, "claim_mode", x->claim_mode, false);
	export_field(o->jsonl, "provisioning_token_sha256", x->token_sha256, false);
	export_field(o->jsonl, "certificate_serial", d->cert_serial, false);
	export_field(o->jsonl, "certificate_pem", cert_pem, false);
	export_field(o->jsonl, "public_key_pem", key_pem, false);
	fprintf(o->jsonl, ",\"last_seq\":%s", seq);
	export_field(o->jsonl, "updated", updated, false);
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
		export_field(o->aws, "ThingName", d->serial, true);
		export_field(o->aws, "SerialNumber", d->serial, false);
		export_field(o->aws, "CertificatePem", cert_pem, false);
		export_field(o->aws, "CertificateStatus", aws_status(d->state), false);
		export_field(o->aws, "ClaimId", d->claim_id, false);
		export_field(o->aws, "HardwareId", d->hardware_id[0] ? d->hardware_id :
		    "none", false);
		export_field(o->aws, "Product", product[0] ? product : "none", false);
		export_field(o->aws, "StationId", station, false);
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

