/*
 * lan_load.c: a bounded load generator for `station serve` on loopback
 * (serve.test.sh, serve.bench.sh). CLIENTS threads, each on its own
 * keep-alive HTTP/1.1 connection (reopened when the server closes it),
 * share a fixed number of requests, then it stops and prints one line:
 *
 *   ENDPOINT: N requests, C clients, S s, R/s, status 200 xN[, ...]
 *
 *   lan-load serialize PORT CLIENTS N PRODUCT PREFIX [OUT]
 *       POST /serialize for hardware ids PREFIX-0 .. PREFIX-(N-1)
 *   lan-load nonce PORT CLIENTS N
 *       GET /nonce
 *   lan-load sign PORT CLIENTS N PREFIX [OUT]
 *       for PREFIX-i: GET /nonce, a new P-256 key and a CSR carrying the
 *       nonce (docs/device-csr.md), POST /sign; counts and times the pairs
 *
 * With OUT, every answer's status and first body line go there, one line
 * per request ("200 {...}"), for checks of uniqueness. Each socket read
 * times out after 30 s, so a stuck server cannot hold the run forever.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define NONCE_OID "2.25.320604743258182176926776022287882174533"

static const char *mode, *product, *prefix;
static int port;
static long total;
static atomic_long next_req;
static atomic_long status_count[600];
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct conn { int fd; char buf[65536]; };

static int
conn_open(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 30, 0 };
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* request(c, method, path, body, resp): one exchange; the status, the body
 * in ${resp} (NUL-terminated, in c->buf), or -1. */
static int
request(struct conn *c, const char *method, const char *path,
    const char *body, char **resp)
{
	char head[512];
	size_t have = 0, blen = body ? strlen(body) : 0;
	long clen = -1;
	char *end = NULL;
	int status, close_after;

	c->buf[0] = '\0';
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && conn_open(c) != 0)
			return -1;
		snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: station\r\n"
		    "%sContent-Length: %zu\r\n\r\n", method, path, body ?
		    "Content-Type: application/json\r\n" : "", blen);
		if (send(c->fd, head, strlen(head), MSG_NOSIGNAL) > 0 &&
		    (blen == 0 || send(c->fd, body, blen, MSG_NOSIGNAL) ==
		    (ssize_t)blen))
			break;
		close(c->fd);
		c->fd = -1;
	}
	for (;;) {
		ssize_t n;

		if (end == NULL && (end = strstr(c->buf, "\r\n\r\n")) != NULL) {
			char *cl = strcasestr(c->buf, "\r\nContent-Length:");

			clen = cl && cl < end ? atol(cl + 17) : 0;
			end += 4;
		}
		if (end && (long)(have - (size_t)(end - c->buf)) >= clen)
			break;
		if (have + 1 >= sizeof(c->buf))
			return -1;
		n = recv(c->fd, c->buf + have, sizeof(c->buf) - have - 1, 0);
		if (n <= 0) {
			close(c->fd);
			c->fd = -1;
			return -1;
		}
		have += (size_t)n;
		c->buf[have] = '\0';
	}
	status = atoi(c->buf + 9);
	close_after = strcasestr(c->buf, "\r\nConnection: close") != NULL &&
	    strcasestr(c->buf, "\r\nConnection: close") < end;
	end[clen] = '\0';
	*resp = end;
	if (close_after) {
		close(c->fd);
		c->fd = -1;
	}
	return status;
}

/* csr_body(hwid, nonce_hex): the /sign body with a fresh key's CSR. */
static char *
csr_body(const char *hwid, const char *nonce_hex)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *r = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	ASN1_OBJECT *oid = OBJ_txt2obj(NONCE_OID, 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	unsigned char val[34];
	BIO *b = BIO_new(BIO_s_mem());
	char *pem, *body = NULL, *p, *q;
	long n;

	val[0] = 0x04;
	val[1] = 32;
	for (int i = 0; i < 32; i++)
		sscanf(nonce_hex + 2 * i, "%2hhx", &val[2 + i]);
	ASN1_OCTET_STRING_set(v, val, sizeof(val));
	sk_X509_EXTENSION_push(exts, X509_EXTENSION_create_by_OBJ(NULL, oid, 0,
	    v));
	X509_REQ_set_pubkey(r, k);
	X509_REQ_add_extensions(r, exts);
	X509_REQ_sign(r, k, EVP_sha256());
	PEM_write_bio_X509_REQ(b, r);
	n = BIO_get_mem_data(b, &pem);
	body = malloc((size_t)n * 2 + 128);
	p = body + sprintf(body, "{\"hardware_id\": \"%s\", \"csr\": \"", hwid);
	for (q = pem; q < pem + n; q++) {
		if (*q == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else
			*p++ = *q;
	}
	strcpy(p, "\"}");
	BIO_free(b);
	ASN1_OCTET_STRING_free(v);
	ASN1_OBJECT_free(oid);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	return body;
}

static void
record(int status, const char *resp)
{
	if (status < 0 || status >= 600)
		status = 0;
	atomic_fetch_add(&status_count[status], 1);
	if (out == NULL)
		return;
	pthread_mutex_lock(&out_lock);
	fprintf(out, "%d %.*s\n", status, (int)strcspn(resp, "\n"), resp);
	pthread_mutex_unlock(&out_lock);
}

static void *
client(void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	long i;

	(void)arg;
	c->fd = -1;
	while ((i = atomic_fetch_add(&next_req, 1)) < total) {
		char body[256], hwid[128], *resp = "", *sb;
		int st;

		snprintf(hwid, sizeof(hwid), "%s-%ld", prefix ? prefix : "", i);
		if (strcmp(mode, "nonce") == 0) {
			st = request(c, "GET", "/nonce", NULL, &resp);
		} else if (strcmp(mode, "serialize") == 0) {
			snprintf(body, sizeof(body), "{\"product\": \"%s\", "
			    "\"hardware_id\": \"%s\"}", product, hwid);
			st = request(c, "POST", "/serialize", body, &resp);
		} else {
			char nonce[65];
			char *h;

			st = request(c, "GET", "/nonce", NULL, &resp);
			if (st == 200 && (h = strstr(resp, "\"nonce\": \"")) &&
			    strlen(h) > 10 + 64) {
				memcpy(nonce, h + 10, 64);
				nonce[64] = '\0';
				sb = csr_body(hwid, nonce);
				st = request(c, "POST", "/sign", sb, &resp);
				free(sb);
			}
		}
		record(st, st < 0 ? "" : resp);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct timespec t0, t1;
	pthread_t th[256];
	int clients;
	double s;
	const char *out_file = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: lan-load serialize|nonce|sign PORT "
		    "CLIENTS N [PRODUCT] [PREFIX] [OUT]\n");
		return 2;
	}
	mode = argv[1];
	port = atoi(argv[2]);
	clients = atoi(argv[3]);
	total = atol(argv[4]);
	if (clients < 1 || clients > 256 || total < 1)
		return 2;
	if (strcmp(mode, "serialize") == 0 && argc >= 7) {
		product = argv[5];
		prefix = argv[6];
		out_file = argc > 7 ? argv[7] : NULL;
	} else if (strcmp(mode, "sign") == 0 && argc >= 6) {
		prefix = argv[5];
		out_file = argc > 6 ? argv[6] : NULL;
	} else if (strcmp(mode, "nonce") != 0) {
		fprintf(stderr, "lan-load: bad arguments\n");
		return 2;
	}
	if (out_file && (out = fopen(out_file, "w")) == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, client, NULL);
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) /
	    1e9;
	printf("%s: %ld requests, %d clients, %.2f s, %.0f/s, status", mode,
	    total, clients, s, (double)total / s);
	for (int i = 0; i < 600; i++)
		if (atomic_load(&status_count[i]))
			printf(" %d x%ld", i, atomic_load(&status_count[i]));
	printf("\n");
	if (out)
		fclose(out);
	return atomic_load(&status_count[200]) == total ? 0 : 1;
}
