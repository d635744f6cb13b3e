/*
 * order_demo.c: the demo production orders, one per key mode, signed
 * with the demo home's software order key (pki/demo-order.key), exactly
 * as docs/ORDERS.md tells a brand owner to make them with the openssl CLI
 * (CMS SignedData, content attached, binary, signer certificate
 * included).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "station/order.h"

static void
fmt(char err[static ORDER_ERR_MAX], const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static void
fmt(char err[static ORDER_ERR_MAX], const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(err, ORDER_ERR_MAX, f, ap);
	va_end(ap);
}

static int
write_new(const char *path, const void *data, size_t len,
    char err[static ORDER_ERR_MAX])
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0) {
		fmt(err, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len || fsync(fd) != 0 || close(fd) != 0) {
		fmt(err, "cannot write %s: %s", path, strerror(errno));
		if (n >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	return 0;
}

static int
sign_one(const char *dir, const char *mode, const char *text, X509 *cert,
    EVP_PKEY *key, char err[static ORDER_ERR_MAX])
{
	char path[4096];
	BIO *in = BIO_new_mem_buf(text, (int)strlen(text));
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	int len, ret = -1;

	if (in == NULL || (cms = CMS_sign(cert, key, NULL, in, CMS_BINARY)) ==
	    NULL || (len = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		fmt(err, "cannot sign the demo %s order", mode);
		ERR_clear_error();
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/demo-%s.txt", dir, mode);
	if (write_new(path, text, strlen(text), err) != 0)
		goto cleanup;
	snprintf(path, sizeof(path), "%s/demo-%s.order", dir, mode);
	if (write_new(path, der, (size_t)len, err) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return ret;
}

int
order_demo_write(const char *dir, const char *key_file, const char *cert_file,
    const char *station_id, time_t now, char err[static ORDER_ERR_MAX])
{
	static const struct {
		const char *mode, *id;
		unsigned first, last, quantity;
	} demo[] = {
		{ "device", "DEMO-DEVICE-1", 1, 1000, 1000 },
		{ "token", "DEMO-TOKEN-1", 100001, 101000, 1000 },
		{ "host", "DEMO-HOST-1", 200001, 200100, 100 },
	};
	char text[1024], expires[32];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	FILE *f;
	int ret = -1;

	if ((f = fopen(key_file, "r")) == NULL) {
		fmt(err, "cannot read %s: %s", key_file, strerror(errno));
		return -1;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(cert_file, "r")) == NULL) {
		fmt(err, "cannot read %s: %s", cert_file, strerror(errno));
		goto cleanup;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL || cert == NULL || X509_check_private_key(cert, key) !=
	    1) {
		fmt(err, "%s and %s are not a matching PEM key and certificate",
		    key_file, cert_file);
		ERR_clear_error();
		goto cleanup;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fmt(err, "cannot create %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	order_time_text((int64_t)now + 365 * 86400, expires);
	for (size_t i = 0; i < sizeof(demo) / sizeof(demo[0]); i++) {
		snprintf(text, sizeof(text), "station-order 1\n"
		    "# Demo order (not for production), key mode %s\n"
		    "order_id = %s\nstation_id = %s\nproduct = DW1\n"
		    "quantity = %u\nserial_first = %u\nserial_last = %u\n"
		    "key_mode = %s\nclaim_mode = user\nexpires = %s\n",
		    demo[i].mode, demo[i].id, station_id, demo[i].quantity,
		    demo[i].first, demo[i].last, demo[i].mode, expires);
		if (sign_one(dir, demo[i].mode, text, cert, key, err) != 0)
			goto cleanup;
	}
	ret = 0;
cleanup:
	EVP_PKEY_free(key);
	X509_free(cert);
	return ret;
}
