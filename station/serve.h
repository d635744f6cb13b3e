/*
 * serve.h: `station serve`, the factory-LAN service for devices that are
 * tested over Ethernet instead of USB (docs/LAN.md).
 *
 * Pieces, one file each:
 *   cmd_serve.c      the verb: options, the listen address checked against
 *                    [lan] interface, the officer's PIN, start, signals, stop
 *   serve_http.c     libmicrohttpd: routing, body limits, rate limits,
 *                    JSON errors
 *   serve_request.c  the request bodies (JSON, jansson): strict, fuzzed
 *   serve_device.c   what a request does: identities, nonces
 *   serve_sign.c     POST /sign: CSR intake and the certificate
 *   serve_limits.c   the nonce table and the per-client token buckets
 *   serve_listen.c   the listen address, checked against [lan] interface
 *
 * Threads: libmicrohttpd runs [lan] threads workers; the audit handle is
 * for one thread at a time, so every database (and token counter) step
 * runs under one mutex; the HSM signature of /sign runs outside it.
 */
#ifndef STATION_SERVE_H
#define STATION_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "station/config.h"
#include "station/order.h"
#include "station/station_audit.h"

#define SERVE_MSG_MAX 768
#define SERVE_CLIENT_MAX 64          /* a client's address as text */
#define SERVE_SERIALIZE_BODY_MAX 1024
#define SERVE_SIGN_BODY_MAX (16 * 1024)
#define SERVE_NONCE_SLOTS 4096       /* nonces outstanding at once */
#define SERVE_CLIENT_SLOTS 1024      /* clients tracked by the rate limit */

/* ---- request bodies (serve_request.c) -------------------------------- */

struct serve_serialize_req {
	char product[ORDER_PRODUCT_MAX + 1];
	char hardware_id[HSM_HWID_MAX + 1];
};

struct serve_sign_req {
	char hardware_id[HSM_HWID_MAX + 1];
	uint8_t *csr;                /* DER, malloc'ed */
	size_t csr_len;
};

/*
 * serve_parse_serialize(body, len, r, err): ${body} must be one JSON
 * object with exactly the string fields "product" (1..32 of A-Z a-z 0-9
 * . -) and "hardware_id" (1..HSM_HWID_MAX printable ASCII), no duplicate
 * keys, nothing after it. 0, or -1 and why in ${err}.
 * serve_parse_sign(body, len, r, err): the same with "hardware_id" and
 * "csr" (a PEM CERTIFICATE REQUEST of at most HSM_CSR_MAX bytes of DER),
 * the DER in r->csr (free with serve_sign_req_free). 0 or -1.
 */
int serve_parse_serialize(const char *body, size_t len,
    struct serve_serialize_req *r, char err[static SERVE_MSG_MAX]);
int serve_parse_sign(const char *body, size_t len, struct serve_sign_req *r,
    char err[static SERVE_MSG_MAX]);
void serve_sign_req_free(struct serve_sign_req *r);

/*
 * serve_csr_nonce(der, len, nonce, err): the station nonce extension of
 * the CSR ${der} (docs/device-csr.md). 0, 1 if it has none, -1 if the CSR
 * does not decode.
 */
int serve_csr_nonce(const uint8_t *der, size_t len,
    uint8_t nonce[static HSM_NONCE_LEN], char err[static SERVE_MSG_MAX]);

/* ---- limits (serve_limits.c) ------------------------------------------ */

struct serve_nonce_slot {
	uint8_t nonce[HSM_NONCE_LEN];
	int64_t expires_ms;          /* 0: free */
};

struct serve_nonces {
	pthread_mutex_t lock;
	struct serve_nonce_slot slot[SERVE_NONCE_SLOTS];
	unsigned lifetime_ms;
};

struct serve_client_slot {
	char addr[SERVE_CLIENT_MAX];
	double tokens;
	int64_t last_ms;
};

struct serve_limiter {
	pthread_mutex_t lock;
	struct serve_client_slot slot[SERVE_CLIENT_SLOTS];
	double rate, burst;
};

/* serve_now_ms(): a monotonic clock, milliseconds. */
int64_t serve_now_ms(void);

void serve_nonces_init(struct serve_nonces *n, unsigned lifetime_s);
void serve_nonces_destroy(struct serve_nonces *n);
/* serve_nonce_put(n, nonce, now): keep ${nonce} until now + lifetime. 0,
 * or -1 if every slot holds a live nonce. */
int serve_nonce_put(struct serve_nonces *n, const uint8_t *nonce, int64_t now);
/* serve_nonce_take(n, nonce, now): 0 if ${nonce} was given out and is
 * live (it is used up now), 1 if it expired (used up too), -1 unknown. */
int serve_nonce_take(struct serve_nonces *n, const uint8_t *nonce,
    int64_t now);

void serve_limiter_init(struct serve_limiter *l, unsigned rate,
    unsigned burst);
void serve_limiter_destroy(struct serve_limiter *l);
/* serve_limiter_allow(l, addr, now, retry_s): 1 if client ${addr} may make
 * a request now (it is counted); 0 and the seconds to wait if not. */
int serve_limiter_allow(struct serve_limiter *l, const char *addr,
    int64_t now, unsigned *retry_s);

/* ---- the service (serve_device.c) ------------------------------------- */

struct serve {
	const struct station_config *cfg;
	struct hsm *h;
	struct hsm_ca *ca;
	struct station_audit *sa;
	pthread_mutex_t db_lock;     /* sa->a and the token's order counts */
	struct serve_nonces nonces;
	struct serve_limiter limiter;
	char *chain_pem;             /* the sub-CA certificate, PEM */
	size_t chain_pem_len;
	atomic_ulong allocated, issued, nonces_given, refused;
};

/* An answer: a status, and a JSON body, or an error code and message. */
struct serve_reply {
	unsigned status;
	const char *code;            /* an error's code, NULL on success */
	char message[SERVE_MSG_MAX]; /* an error's message */
	char *body;                  /* success: malloc'ed */
	size_t body_len;
	const char *content_type;
	unsigned retry_after;        /* seconds, 429 / 503 */
};

/* serve_refuse(rep, status, code, fmt, ...): fill in an error answer. */
void serve_refuse(struct serve_reply *rep, unsigned status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* serve_reply_json(rep, fmt, ...): status 200 and the JSON text. */
void serve_reply_json(struct serve_reply *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* serve_init(s, cfg, h, ca, sa): set up the service on an open token, CA
 * and audit session. 0 or -1 (reported). serve_fini(s) frees it. */
int serve_init(struct serve *s, const struct station_config *cfg,
    struct hsm *h, struct hsm_ca *ca, struct station_audit *sa);
void serve_fini(struct serve *s);

/*
 * The endpoints: each fills ${rep} (status 200 and a body, or a refusal);
 * ${client} is the client's address (the audit actor is "lan:" and it).
 * Nothing is allocated or recorded for a refused request.
 */
void serve_serialize(struct serve *s, const char *client,
    const struct serve_serialize_req *r, struct serve_reply *rep);
void serve_nonce(struct serve *s, struct serve_reply *rep);
void serve_sign(struct serve *s, const char *client,
    const struct serve_sign_req *r, struct serve_reply *rep);

/* ---- where it listens (serve_listen.c) ------------------------------- */

struct sockaddr_storage;

/* serve_listen_parse(text, ss, len, err): "ADDR:PORT" or "[ADDR6]:PORT". */
int serve_listen_parse(const char *text, struct sockaddr_storage *ss,
    unsigned *len, char err[static SERVE_MSG_MAX]);

/* serve_listen_check(cfg, ss, err): [lan] interface is loopback or one of
 * [airgap] factory_interfaces, and ${ss} is one of its addresses. 0/-1. */
int serve_listen_check(const struct station_config *cfg,
    const struct sockaddr_storage *ss, char err[static SERVE_MSG_MAX]);

/* serve_listen_socket(cfg, ss, len, port, err): a listening TCP socket on
 * ${ss}, bound to [lan] interface too; the port it got in ${port}. The
 * descriptor, or -1. */
int serve_listen_socket(const struct station_config *cfg,
    const struct sockaddr_storage *ss, unsigned len, unsigned *port,
    char err[static SERVE_MSG_MAX]);

/* ---- HTTP (serve_http.c) ---------------------------------------------- */

struct serve_http;

/*
 * serve_http_start(s, fd, out): serve HTTP on the bound, listening socket
 * ${fd} (taken over) with [lan] threads, timeout and max_connections. 0,
 * or -1 (reported). serve_http_stop(hs): finish the requests in flight,
 * stop, free.
 */
int serve_http_start(struct serve *s, int fd, struct serve_http **out);
void serve_http_stop(struct serve_http *hs);

#endif
