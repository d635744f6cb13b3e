/*
 * hsm_tool.c: a small test program that drives hsm/ on a station home, so
 * that the integration tests and the bench can check its results with
 * independent tools (openssl, certtool). Not installed.
 *
 *   hsm-tool HOME check
 *   hsm-tool HOME issue-key KEY.pem SERIAL HWID OUT.pem
 *   hsm-tool HOME issue-csr CSR.der NONCEHEX SERIAL HWID OUT.der
 *   hsm-tool HOME crl OUT.pem NUMBER [SERIALHEX:REASON ...]
 *   hsm-tool HOME sign stamp|audit|export DIGESTHEX SIG.der
 *   hsm-tool HOME seal TRANSPORT.pem SERIAL HWID SEALED.bin CERT.pem
 *            (token key mode; the KEK context computed here from
 *            stamp-format/SPEC.md section 2, independently of stamp.c)
 *   hsm-tool HOME random N
 *   hsm-tool HOME station-seal|rewrap|stamp|host-key|keybench ...
 *            (token_tool.c)
 *   hsm-tool HOME bench SECONDS THREADS
 *   hsm-tool HOME stress N THREADS   N certificates per thread, each
 *            verified against the sub-CA key; serials must all differ
 *
 * HWID is text used as the hardware id bytes. The PIN comes from the
 * home's pin file, as the station reads it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "hsm/hsm.h"
#include "station/config.h"
#include "station/pin.h"
#include "tests/hsm/token_tool.h"

static struct station_config cfg;
static struct hsm *h;
static struct hsm_ca *ca;
static char err[HSM_ERR_MAX];

static int
fail(const char *what)
{
	fprintf(stderr, "hsm-tool: %s\n", what);
	return 1;
}

static int
hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static int
write_cert(const char *file, X509 *x)
{
	FILE *f = fopen(file, "w");
	int ok = f != NULL && PEM_write_X509(f, x) == 1;

	if (f != NULL)
		fclose(f);
	return ok ? 0 : -1;
}

static int
open_ca(void)
{
	struct hsm_profile p = {
		.organization = cfg.device_organization,
		.not_before_skew = cfg.device_not_before_skew,
		.validity_days = cfg.device_validity_days,
		.key_types = cfg.device_key_types,
		.hardware_module_name = cfg.device_hardware_module_name,
		.hardware_type = cfg.device_hardware_type,
	};

	return hsm_ca_open(&ca, h, cfg.pki_subca_key, cfg.pki_subca_cert,
	    cfg.pki_root_cert, &p, err);
}

static int
issue_key(char **a)
{
	FILE *f = fopen(a[0], "r");
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	struct hsm_device d = { a[1], (const uint8_t *)a[2], strlen(a[2]) };
	int ret = 1;

	if (f != NULL) {
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		if (k == NULL) {
			rewind(f);
			k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		}
		fclose(f);
	}
	if (k == NULL)
		return fail("cannot read the key");
	if (hsm_issue_key(ca, k, &d, &x, err) != 0)
		fail(err);
	else if (write_cert(a[3], x) == 0)
		ret = 0;
	X509_free(x);
	EVP_PKEY_free(k);
	return ret;
}

static int
issue_csr(char **a)
{
	static uint8_t der[HSM_CSR_MAX * 4];
	uint8_t nonce[HSM_NONCE_LEN], cert[HSM_CERT_MAX];
	size_t n, nlen, clen;
	FILE *f = fopen(a[0], "rb");
	struct hsm_device d = { a[2], (const uint8_t *)a[3], strlen(a[3]) };

	if (f == NULL)
		return fail("cannot read the CSR");
	n = fread(der, 1, sizeof(der), f);
	fclose(f);
	if (hex(a[1], nonce, sizeof(nonce), &nlen) != 0 || nlen != sizeof(nonce))
		return fail("bad nonce");
	if (hsm_issue_csr(ca, der, n, nonce, &d, cert, sizeof(cert), &clen,
	    err) != 0)
		return fail(err);
	if ((f = fopen(a[4], "wb")) == NULL || fwrite(cert, 1, clen, f) != clen)
		return fail("cannot write the certificate");
	fclose(f);
	return 0;
}

static int
crl(int argc, char **a)
{
	struct hsm_revoked r[16];
	uint8_t serials[16][20];
	X509_CRL *c = NULL;
	FILE *f;
	time_t now = time(NULL);
	int ret = 1;

	if (argc - 2 > 16)
		return fail("too many entries");
	for (int i = 2; i < argc; i++) {
		char buf[64], *colon;

		snprintf(buf, sizeof(buf), "%s", a[i]);
		if ((colon = strchr(buf, ':')) == NULL)
			return fail("SERIALHEX:REASON");
		*colon = '\0';
		if (hex(buf, serials[i - 2], 20, &r[i - 2].serial_len) != 0)
			return fail("bad serial");
		r[i - 2].serial = serials[i - 2];
		r[i - 2].when = now - 60;
		r[i - 2].reason = atoi(colon + 1);
	}
	if (hsm_crl(ca, r, (size_t)(argc - 2), strtoull(a[1], NULL, 10), now,
	    now + 7 * 86400, &c, err) != 0)
		return fail(err);
	if ((f = fopen(a[0], "w")) != NULL && PEM_write_X509_CRL(f, c) == 1)
		ret = 0;
	if (f != NULL)
		fclose(f);
	X509_CRL_free(c);
	return ret;
}

static int
sign(char **a)
{
	const char *uri = !strcmp(a[0], "stamp") ? cfg.pki_stamp_key :
	    !strcmp(a[0], "audit") ? cfg.pki_audit_key : cfg.pki_export_key;
	struct hsm_key *k;
	uint8_t digest[32], sig[HSM_SIG_MAX];
	size_t dlen, slen = sizeof(sig);
	FILE *f;

	if (hex(a[1], digest, sizeof(digest), &dlen) != 0 || dlen != 32)
		return fail("bad digest");
	if (hsm_key_find(h, uri, &k, err) != 0)
		return fail(err);
	if (hsm_sign(k, digest, sig, &slen) != 0)
		return fail(hsm_error(h));
	if ((f = fopen(a[2], "wb")) == NULL || fwrite(sig, 1, slen, f) != slen)
		return fail("cannot write the signature");
	fclose(f);
	return 0;
}

/* The KEK context of SPEC.md section 2 for record WRAPPED_DEVICE_KEY. */
static int
spec_context(void *arg, const uint8_t eph[65], uint8_t context[32])
{
	const uint8_t *transport = arg;
	uint8_t in[65 + 65 + 2], hash[32];

	memcpy(in, eph, 65);
	memcpy(in + 65, transport, 65);
	in[130] = 0x0e;   /* WRAPPED_DEVICE_KEY, u16 little-endian */
	in[131] = 0x00;
	SHA256(in, sizeof(in), hash);
	memcpy(context, "STAMP-SECRET-KEK", 16);
	memcpy(context + 16, hash, 16);
	return 0;
}

static int
seal(char **a)
{
	FILE *f = fopen(a[0], "r");
	EVP_PKEY *t = NULL;
	uint8_t transport[65], sealed[1024], cert[HSM_CERT_MAX];
	size_t sealed_len, cert_len;
	X509_PUBKEY *pub = NULL;
	struct hsm_device d = { a[1], (const uint8_t *)a[2], strlen(a[2]) };
	int ret = 1;

	if (f != NULL) {
		t = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (t == NULL || EVP_PKEY_get_octet_string_param(t, "pub", transport,
	    sizeof(transport), &sealed_len) != 1 || sealed_len != 65)
		return fail("cannot read the transport key");
	if (hsm_keygen_sealed(h, HSM_KEY_P256, transport, spec_context,
	    transport, &pub, sealed, sizeof(sealed), &sealed_len, err) != 0 ||
	    hsm_issue_der(ca, pub, &d, cert, sizeof(cert), &cert_len, err) != 0) {
		fail(err);
		goto cleanup;
	}
	if ((f = fopen(a[3], "wb")) == NULL ||
	    fwrite(sealed, 1, sealed_len, f) != sealed_len || fclose(f) != 0 ||
	    (f = fopen(a[4], "wb")) == NULL ||
	    fwrite(cert, 1, cert_len, f) != cert_len || fclose(f) != 0) {
		fail("cannot write the results");
		goto cleanup;
	}
	ret = 0;
cleanup:
	X509_PUBKEY_free(pub);
	EVP_PKEY_free(t);
	return ret;
}

/* The bench: certificates issued per second next to bare signatures by
 * the same sub-CA key through the same token (SHA-256 of a
 * certificate-sized message, then the token's ECDSA), same threads. */
struct worker {
	int certs;          /* 1: DER certificates, 2: X509, 0: bare signs,
	                     * 3: token key mode (sealed keygen + cert) */
	double seconds;
	long done;
	X509_PUBKEY *spki;
	struct hsm_key *key;
	uint8_t *transport;
};

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct hsm_device d = { "BENCH-0001", (const uint8_t *)"hw-bench", 8 };
	char e[HSM_ERR_MAX];
	uint8_t tbs[450] = { 0x30 }, digest[32], sig[HSM_SIG_MAX];
	double end = now_s() + w->seconds;

	while (now_s() < end) {
		if (w->certs == 1) {
			uint8_t der[HSM_CERT_MAX];
			size_t len;

			if (hsm_issue_der(ca, w->spki, &d, der, sizeof(der), &len,
			    e) != 0) {
				fprintf(stderr, "hsm-tool: %s\n", e);
				break;
			}
		} else if (w->certs == 3) {
			uint8_t sealed[512], der[HSM_CERT_MAX];
			size_t sealed_len, len;
			X509_PUBKEY *pub;

			if (hsm_keygen_sealed(h, HSM_KEY_P256, w->transport,
			    spec_context, w->transport, &pub, sealed,
			    sizeof(sealed), &sealed_len, e) != 0 ||
			    hsm_issue_der(ca, pub, &d, der, sizeof(der), &len,
			    e) != 0) {
				fprintf(stderr, "hsm-tool: %s\n", e);
				break;
			}
			X509_PUBKEY_free(pub);
		} else if (w->certs == 2) {
			X509 *x;

			if (hsm_issue_pubkey(ca, w->spki, &d, &x, e) != 0) {
				fprintf(stderr, "hsm-tool: %s\n", e);
				break;
			}
			X509_free(x);
		} else {
			size_t slen = sizeof(sig);

			tbs[1] = (uint8_t)w->done;
			SHA256(tbs, sizeof(tbs), digest);
			if (hsm_sign(w->key, digest, sig, &slen) != 0) {
				fprintf(stderr, "hsm-tool: sign failed\n");
				break;
			}
		}
		w->done++;
	}
	return NULL;
}

/* stress: N certificates per thread, each decoded and verified with the
 * sub-CA's public key (OpenSSL), serials collected and compared. */
struct stress {
	long n;
	X509_PUBKEY *spki;
	BIGNUM **serials;
	long bad;
};

static void *
stress_work(void *arg)
{
	struct stress *st = arg;
	struct hsm_device d = { "STRESS-1", (const uint8_t *)"hw", 2 };
	EVP_PKEY *capub = X509_get0_pubkey(hsm_ca_cert(ca));
	char e[HSM_ERR_MAX];

	for (long i = 0; i < st->n; i++) {
		uint8_t der[HSM_CERT_MAX];
		const unsigned char *p = der;
		size_t len;
		X509 *x;

		if (hsm_issue_der(ca, st->spki, &d, der, sizeof(der), &len, e) !=
		    0 || (x = d2i_X509(NULL, &p, (long)len)) == NULL) {
			st->bad++;
			continue;
		}
		if (X509_verify(x, capub) != 1)
			st->bad++;
		st->serials[i] = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
		    NULL);
		X509_free(x);
	}
	return NULL;
}

static int
bn_cmp(const void *a, const void *b)
{
	return BN_cmp(*(BIGNUM *const *)a, *(BIGNUM *const *)b);
}

static int
stress(long n, int threads)
{
	struct stress st[8];
	pthread_t t[8];
	EVP_PKEY *dev = EVP_EC_gen("P-256");
	X509_PUBKEY *spki = NULL;
	BIGNUM **all;
	long bad = 0, dup = 0, total = n * threads;

	if (threads < 1 || threads > 8 || n < 1 || dev == NULL ||
	    X509_PUBKEY_set(&spki, dev) != 1 ||
	    (all = calloc((size_t)total, sizeof(*all))) == NULL)
		return fail("stress set-up");
	for (int i = 0; i < threads; i++) {
		st[i] = (struct stress){ n, spki, all + i * n, 0 };
		pthread_create(&t[i], NULL, stress_work, &st[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		bad += st[i].bad;
	}
	for (long i = 0; i < total; i++)
		if (all[i] == NULL)
			return fail("a certificate is missing");
	qsort(all, (size_t)total, sizeof(*all), bn_cmp);
	for (long i = 1; i < total; i++)
		dup += BN_cmp(all[i - 1], all[i]) == 0;
	printf("%ld issued, %ld failed, %ld duplicate serials\n", total, bad,
	    dup);
	for (long i = 0; i < total; i++)
		BN_free(all[i]);
	free(all);
	X509_PUBKEY_free(spki);
	EVP_PKEY_free(dev);
	return bad == 0 && dup == 0 ? 0 : 1;
}

/* bench(seconds, threads): prints "certs/s signs/s x509-certs/s
 * token-mode-devices/s". */
static int
bench(double seconds, int threads)
{
	struct worker w[8];
	pthread_t t[8];
	EVP_PKEY *dev = EVP_EC_gen("P-256");
	X509_PUBKEY *spki = NULL;
	struct hsm_key *key;
	double rate[4];
	uint8_t transport[65];
	size_t tlen;

	if (threads < 1 || threads > 8 || dev == NULL ||
	    X509_PUBKEY_set(&spki, dev) != 1)
		return fail("bench set-up");
	if (hsm_key_find(h, cfg.pki_subca_key, &key, err) != 0)
		return fail(err);
	if (EVP_PKEY_get_octet_string_param(dev, "pub", transport,
	    sizeof(transport), &tlen) != 1 || tlen != 65)
		return fail("bench transport key");
	/* Interleaved slices of 0.2 s, so that load from elsewhere on the
	 * machine falls on every mode alike. */
	long total[4] = { 0, 0, 0, 0 };
	int rounds = (int)(seconds / 0.6) + 1;

	for (int r = 0; r < rounds; r++) {
		for (int mode = 0; mode < 4; mode++) {
			for (int i = 0; i < threads; i++) {
				w[i] = (struct worker){ mode, 0.2, 0, spki, key,
				    transport };
				pthread_create(&t[i], NULL, work, &w[i]);
			}
			for (int i = 0; i < threads; i++) {
				pthread_join(t[i], NULL);
				total[mode] += w[i].done;
			}
		}
	}
	for (int mode = 0; mode < 4; mode++)
		rate[mode] = (double)total[mode] / (rounds * 0.2);
	printf("%.0f %.0f %.0f %.0f\n", rate[1], rate[0], rate[2], rate[3]);
	X509_PUBKEY_free(spki);
	EVP_PKEY_free(dev);
	return 0;
}

int
main(int argc, char *argv[])
{
	char cerr[CONFIG_ERR_MAX];
	int ret = 1;

	if (argc < 3)
		return fail("usage: hsm-tool HOME COMMAND ...");
	if (config_load(&cfg, argv[1], cerr) != 0)
		return fail(cerr);
	if (pin_open_token(&cfg, NULL, &h, err) != 0)
		return fail(err);
	if (strcmp(argv[2], "random") == 0 && argc == 4) {
		uint8_t buf[64];
		size_t n = (size_t)atoi(argv[3]);

		if (n > sizeof(buf) || hsm_random(h, buf, n) != 0) {
			ret = fail(hsm_error(h));
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%02x", buf[i]);
			printf("\n");
			ret = 0;
		}
	} else if (strcmp(argv[2], "sign") == 0 && argc == 6) {
		ret = sign(argv + 3);
	} else if (open_ca() != 0) {
		ret = fail(err);
	} else if (strcmp(argv[2], "check") == 0) {
		ret = 0;
	} else if (strcmp(argv[2], "issue-key") == 0 && argc == 7) {
		ret = issue_key(argv + 3);
	} else if (strcmp(argv[2], "issue-csr") == 0 && argc == 8) {
		ret = issue_csr(argv + 3);
	} else if (strcmp(argv[2], "seal") == 0 && argc == 8) {
		ret = seal(argv + 3);
	} else if (strcmp(argv[2], "stress") == 0 && argc == 5) {
		ret = stress(atol(argv[3]), atoi(argv[4]));
	} else if (strcmp(argv[2], "bench") == 0 && argc == 5) {
		ret = bench(atof(argv[3]), atoi(argv[4]));
	} else if (strcmp(argv[2], "crl") == 0 && argc >= 5) {
		ret = crl(argc - 3, argv + 3);
	} else if ((ret = token_tool(argc - 2, argv + 2, &cfg, h, ca)) < 0) {
		ret = fail("unknown command or wrong arguments");
	}
	hsm_ca_free(ca);
	hsm_close(h);
	return ret;
}
