/*
 * order_tool.c: a test program that allocates devices under an imported
 * order on a demo station home, exactly as the bench loop will: the
 * order check (order_allocate_check), the serial from the template, a
 * claim ID from the token's RNG (identity_allocate), the token's count
 * (order_allocated), and with "done" a host-mode key, a certificate from
 * the HSM sub-CA, the states up to done, and the label (label_write).
 *
 *   order-tool allocate HOME ORDER COUNT [done]
 *   order-tool counter HOME ORDER [set N]   the token's count (hsm/orders.c)
 *
 * Prints "SERIAL CLAIM" per device; on a refusal prints
 * "order-tool: <problem>: <message>" and exits 1. With ORDER_TOOL_TIMES
 * set, also the mean time of each step per device, on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "station/config.h"
#include "station/identity.h"
#include "station/label.h"
#include "station/order.h"
#include "station/pin.h"
#include "station/pki.h"
#include "station/station.h"

void
station_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("order-tool: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct audit *
open_signed(const struct station_config *cfg, struct hsm *h)
{
	struct hsm_key *k;
	EVP_PKEY *pub;
	BIO *b = BIO_new(BIO_s_mem());
	char err[AUDIT_ERR_MAX], *data, pem[4096];
	struct audit *a;
	long n;

	if (pki_role_key(cfg, h, PKI_ROLE_AUDIT, &k) != 0 ||
	    (pub = hsm_key_public(k)) == NULL)
		return NULL;
	PEM_write_bio_PUBKEY(b, pub);
	n = BIO_get_mem_data(b, &data);
	snprintf(pem, sizeof(pem), "%.*s", (int)n, data);
	BIO_free(b);
	EVP_PKEY_free(pub);
	if ((a = audit_open(cfg->audit_database, cfg->station_id, err)) == NULL) {
		station_err("%s", err);
		return NULL;
	}
	if (audit_set_signer(a, hsm_sign, k, pem, "order-tool") != 0) {
		station_err("%s", audit_error(a));
		audit_close(a);
		return NULL;
	}
	return a;
}

/* finish(a, ca, serial): host-mode key, certificate, up to done. */
static int
finish(struct audit *a, struct hsm_ca *ca, const char *serial)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_PUBKEY *pub = NULL;
	uint8_t cert[HSM_CERT_MAX], *spki = NULL;
	const uint8_t *p = cert;
	char herr[HSM_ERR_MAX], *hex = NULL;
	struct hsm_device dev = { serial, (const uint8_t *)serial,
	    strlen(serial) };
	struct audit_change c;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	size_t len;
	int spki_len, ret = -1;

	if (key == NULL || X509_PUBKEY_set(&pub, key) != 1 ||
	    (spki_len = i2d_PUBKEY(key, &spki)) <= 0)
		goto cleanup;
	c = (struct audit_change){ .to = AUDIT_KEY_READY, .public_key = spki,
	    .public_key_len = (size_t)spki_len };
	if (audit_device_transition(a, serial, &c, "order-tool", NULL, 0,
	    NULL) != 0)
		goto audit_err;
	if (hsm_issue_der(ca, pub, &dev, cert, sizeof(cert), &len, herr) != 0) {
		station_err("%s", herr);
		goto cleanup;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	    NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto cleanup;
	c = (struct audit_change){ .to = AUDIT_ISSUED, .cert_der = cert,
	    .cert_der_len = len, .cert_serial = hex };
	if (audit_device_transition(a, serial, &c, "order-tool", NULL, 0,
	    NULL) != 0)
		goto audit_err;
	c = (struct audit_change){ .to = AUDIT_WRITTEN };
	if (audit_device_transition(a, serial, &c, "order-tool", NULL, 0,
	    NULL) != 0)
		goto audit_err;
	c = (struct audit_change){ .to = AUDIT_DONE };
	if (audit_device_transition(a, serial, &c, "order-tool", NULL, 0,
	    NULL) != 0)
		goto audit_err;
	ret = 0;
	goto cleanup;
audit_err:
	station_err("%s", audit_error(a));
cleanup:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	OPENSSL_free(spki);
	X509_PUBKEY_free(pub);
	EVP_PKEY_free(key);
	return ret;
}

/* counter_main: read or raise the token's count of an order. */
static int
counter_main(int argc, char *argv[])
{
	struct station_config cfg;
	char err[CONFIG_ERR_MAX], herr[HSM_ERR_MAX];
	struct hsm *h = NULL;
	uint64_t count;
	int rc, ret = 1;

	if (config_load(&cfg, argv[2], err) != 0) {
		station_err("%s", err);
		return 2;
	}
	if (pin_open_token(&cfg, NULL, &h, herr) != 0) {
		station_err("%s", herr);
		return 1;
	}
	if (argc == 6 && strcmp(argv[4], "set") == 0 &&
	    hsm_order_counter_set(h, cfg.hsm_module, argv[3],
	    strtoull(argv[5], NULL, 10), herr) != 0) {
		station_err("%s", herr);
		goto cleanup;
	}
	rc = hsm_order_counter_get(h, cfg.hsm_module, argv[3], &count, herr);
	if (rc < 0) {
		station_err("%s", herr);
		goto cleanup;
	}
	if (rc == 1)
		printf("none\n");
	else
		printf("%llu\n", (unsigned long long)count);
	ret = 0;
cleanup:
	hsm_close(h);
	return ret;
}

int
main(int argc, char *argv[])
{
	struct station_config cfg;
	struct order_state st;
	enum order_problem problem;
	char err[ORDER_ERR_MAX], ierr[IDENTITY_ERR_MAX];
	char serial[IDENTITY_SERIAL_MAX + 1], claim[IDENTITY_CLAIM_BUF];
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	struct audit *a = NULL;
	uint64_t n;
	long count;
	double times[3] = { 0, 0, 0 };
	int done, ret = 1;

	if (argc >= 4 && strcmp(argv[1], "counter") == 0)
		return counter_main(argc, argv);
	if (argc < 5 || argc > 6 || strcmp(argv[1], "allocate") != 0) {
		fprintf(stderr, "usage: order-tool allocate HOME ORDER COUNT "
		    "[done]\n");
		return 2;
	}
	count = atol(argv[4]);
	done = argc == 6 && strcmp(argv[5], "done") == 0;
	if (config_load(&cfg, argv[2], err) != 0) {
		station_err("%s", err);
		return 2;
	}
	if (identity_template_check(cfg.identity_serial_template, ierr) != 0) {
		station_err("[identity] %s", ierr);
		return 2;
	}
	if (pki_open(&cfg, NULL, &h, &ca) != 0 || (a = open_signed(&cfg, h)) ==
	    NULL)
		goto cleanup;
	for (long i = 0; i < count; i++) {
		struct audit_allocation d = { 0 };
		double t0 = now_ms(), t1, t2;

		if (order_allocate_check(a, h, cfg.hsm_module, argv[3],
		    time(NULL), &st, &n, &problem, err) != 0) {
			station_err("%s: %s", order_problem_name(problem), err);
			goto cleanup;
		}
		if (identity_serial(cfg.identity_serial_template,
		    st.terms.product, cfg.station_id, st.terms.order_id, n,
		    serial, ierr) != 0) {
			station_err("%s", ierr);
			goto cleanup;
		}
		t1 = now_ms();
		d.serial = serial;
		d.order_id = argv[3];
		d.key_mode = st.terms.key_mode;
		if (identity_allocate(a, &d, identity_hsm_rng, h,
		    cfg.identity_claim_length, cfg.identity_claim_check_symbol,
		    "order-tool", claim, NULL, ierr) != 0) {
			station_err("%s", ierr);
			goto cleanup;
		}
		t2 = now_ms();
		if (order_allocated(h, cfg.hsm_module, argv[3], st.allocated + 1,
		    err) != 0) {
			station_err("%s", err);
			goto cleanup;
		}
		times[0] += t1 - t0;
		times[1] += t2 - t1;
		times[2] += now_ms() - t2;
		if (done) {
			struct label_device ld = { serial, claim,
			    st.terms.product };
			struct label_files files;
			char lerr[LABEL_ERR_MAX];

			if (finish(a, ca, serial) != 0)
				goto cleanup;
			if (label_write(&cfg, &ld, &files, lerr) != 0) {
				station_err("%s", lerr);
				goto cleanup;
			}
		}
		printf("%s %s\n", serial, claim);
	}
	if (getenv("ORDER_TOOL_TIMES") != NULL && count > 0)
		fprintf(stderr, "per device, ms: order check %.2f, allocate %.2f, "
		    "token count %.2f\n", times[0] / (double)count,
		    times[1] / (double)count, times[2] / (double)count);
	if (audit_checkpoint(a) != 0) {
		station_err("%s", audit_error(a));
		goto cleanup;
	}
	ret = 0;
cleanup:
	audit_close(a);
	hsm_ca_free(ca);
	hsm_close(h);
	return ret;
}
