/*
 * serve_http.c: the LAN service's HTTP side, on libmicrohttpd.
 *
 * Routes: GET /nonce, POST /serialize, POST /sign. Before anything else,
 * each request is counted against its client's token bucket (429 with
 * Retry-After when it comes too fast); then anything but those routes is
 * 404, a known path with another method 405 (with Allow), a POST must say
 * Content-Type: application/json (415), and a declared Content-Length
 * over the endpoint's limit is refused at once (413:
 * SERVE_SERIALIZE_BODY_MAX, SERVE_SIGN_BODY_MAX). A chunked body that
 * grows past the limit is read no further than SERVE_DISCARD_MAX and
 * refused with 413 too (past that the connection is dropped). libmicrohttpd
 * bounds the rest: [lan] timeout (seconds a connection may idle), [lan]
 * max_connections, the header memory per connection. Every answer that
 * is not a success is JSON: {"error": CODE, "message": TEXT}, and every
 * request is one line on stderr.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "station/serve.h"
#include "station/station.h"

#define SERVE_DISCARD_MAX (1024 * 1024)
#define HEADER_MEMORY (16 * 1024)

enum route { ROUTE_NONE, ROUTE_NONCE, ROUTE_SERIALIZE, ROUTE_SIGN };

struct serve_http {
	struct MHD_Daemon *d;
	struct serve *s;
};

/* One request while its body arrives. */
struct request {
	enum route route;
	char client[SERVE_CLIENT_MAX];
	char *body;
	size_t len, max, seen;
};

static void
client_text(struct MHD_Connection *c, char out[static SERVE_CLIENT_MAX])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, SERVE_CLIENT_MAX, "unknown");
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, out, SERVE_CLIENT_MAX);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, out, SERVE_CLIENT_MAX);
}

/* send_reply(s, c, client, method, url, rep): queue ${rep}, log it. */
static enum MHD_Result
send_reply(struct serve *s, struct MHD_Connection *c, const char *client,
    const char *method, const char *url, struct serve_reply *rep)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char retry[16];

	if (rep->code != NULL) {
		json_t *j = json_pack("{s:s, s:s}", "error", rep->code,
		    "message", rep->message);
		char *text = j ? json_dumps(j, 0) : NULL;

		json_decref(j);
		free(rep->body);
		rep->body = text;
		rep->body_len = text ? strlen(text) : 0;
		rep->content_type = "application/json";
		atomic_fetch_add(&s->refused, 1);
		fprintf(stderr, "serve: %s %s %s %u %s: %s\n", client, method,
		    url, rep->status, rep->code, rep->message);
	}
	if (rep->body == NULL)
		return MHD_NO;
	if (rep->code != NULL && rep->body[rep->body_len - 1] != '\n') {
		char *t = realloc(rep->body, rep->body_len + 1);

		if (t != NULL) {
			rep->body = t;
			rep->body[rep->body_len++] = '\n';
		}
	}
	r = MHD_create_response_from_buffer(rep->body_len, rep->body,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(rep->body);
		return MHD_NO;
	}
	rep->body = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rep->content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rep->retry_after) {
		snprintf(retry, sizeof(retry), "%u", rep->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	}
	if (rep->status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    strcmp(url, "/nonce") == 0 ? "GET" : "POST");
	ret = MHD_queue_response(c, rep->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* admit(s, c, method, url, client, req_route, max, rep): the checks made
 * before a body is read; 0 to go on, -1 with the refusal in ${rep}. */
static int
admit(struct serve *s, struct MHD_Connection *c, const char *method,
    const char *url, const char *client, enum route *route, size_t *max,
    struct serve_reply *rep)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") ==
	    0;
	const char *type, *length;
	unsigned retry = 0;

	*route = strcmp(url, "/nonce") == 0 ? ROUTE_NONCE :
	    strcmp(url, "/serialize") == 0 ? ROUTE_SERIALIZE :
	    strcmp(url, "/sign") == 0 ? ROUTE_SIGN : ROUTE_NONE;
	*max = *route == ROUTE_SIGN ? SERVE_SIGN_BODY_MAX :
	    SERVE_SERIALIZE_BODY_MAX;
	if (!serve_limiter_allow(&s->limiter, client, serve_now_ms(), &retry)) {
		serve_refuse(rep, 429, "too_many_requests", "client %s sends "
		    "more than %u requests a second; retry in %u s", client,
		    s->cfg->lan_client_rate, retry);
		rep->retry_after = retry;
		return -1;
	}
	if (*route == ROUTE_NONE) {
		serve_refuse(rep, 404, "not_found", "no such endpoint; the "
		    "station serves GET /nonce, POST /serialize and POST /sign");
		return -1;
	}
	if ((*route == ROUTE_NONCE && !get) || (*route != ROUTE_NONCE &&
	    !post)) {
		serve_refuse(rep, 405, "method_not_allowed", "%s takes %s only",
		    url, *route == ROUTE_NONCE ? "GET" : "POST");
		return -1;
	}
	if (!post)
		return 0;
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type == NULL || strncasecmp(type, "application/json", 16) != 0 ||
	    (type[16] != '\0' && type[16] != ';')) {
		serve_refuse(rep, 415, "unsupported_media_type", "send the body "
		    "as Content-Type: application/json");
		return -1;
	}
	length = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length != NULL && strtoull(length, NULL, 10) > *max) {
		serve_refuse(rep, 413, "too_large", "the body of %s may be at "
		    "most %zu bytes", url, *max);
		return -1;
	}
	return 0;
}

/* dispatch(s, q, url, rep): the complete request. */
static void
dispatch(struct serve *s, struct request *q, const char *url,
    struct serve_reply *rep)
{
	char err[SERVE_MSG_MAX];

	if (q->seen > q->max) {
		serve_refuse(rep, 413, "too_large", "the body of %s may be at "
		    "most %zu bytes", url, q->max);
		return;
	}
	if (q->route == ROUTE_NONCE) {
		serve_nonce(s, rep);
	} else if (q->route == ROUTE_SERIALIZE) {
		struct serve_serialize_req r;

		if (serve_parse_serialize(q->body, q->len, &r, err) != 0)
			serve_refuse(rep, 400, "bad_request", "%s", err);
		else
			serve_serialize(s, q->client, &r, rep);
	} else {
		struct serve_sign_req r;

		if (serve_parse_sign(q->body, q->len, &r, err) != 0)
			serve_refuse(rep, 400, "bad_request", "%s", err);
		else
			serve_sign(s, q->client, &r, rep);
		serve_sign_req_free(&r);
	}
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct serve *s = cls;
	struct request *q = *con_cls;
	struct serve_reply rep = { .status = 500 };
	enum MHD_Result ret;

	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		*con_cls = q;
		client_text(c, q->client);
		if (admit(s, c, method, url, q->client, &q->route, &q->max,
		    &rep) != 0) {
			q->route = ROUTE_NONE;
			return send_reply(s, c, q->client, method, url, &rep);
		}
		return MHD_YES;
	}
	if (q->route == ROUTE_NONE)     /* refused; the rest is dropped */
		return MHD_NO;
	if (*upload_size != 0) {
		size_t n = *upload_size;

		q->seen += n;
		*upload_size = 0;
		if (q->seen > SERVE_DISCARD_MAX)
			return MHD_NO;
		if (q->seen > q->max)
			return MHD_YES;
		if (q->body == NULL && (q->body = malloc(q->max)) == NULL)
			return MHD_NO;
		memcpy(q->body + q->len, upload, n);
		q->len += n;
		return MHD_YES;
	}
	dispatch(s, q, url, &rep);
	ret = send_reply(s, c, q->client, method, url, &rep);
	if (rep.code == NULL)
		fprintf(stderr, "serve: %s %s %s %u\n", q->client, method, url,
		    rep.status);
	q->route = ROUTE_NONE;
	return ret;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q != NULL) {
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

int
serve_http_start(struct serve *s, int fd, struct serve_http **out)
{
	struct serve_http *hs = calloc(1, sizeof(*hs));

	if (hs == NULL) {
		station_err("out of memory");
		return -1;
	}
	hs->s = s;
	hs->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, s,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg->lan_threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg->lan_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg->lan_max_connections,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_END);
	if (hs->d == NULL) {
		station_err("serve: the HTTP server did not start");
		free(hs);
		return -1;
	}
	*out = hs;
	return 0;
}

void
serve_http_stop(struct serve_http *hs)
{
	if (hs == NULL)
		return;
	MHD_stop_daemon(hs->d);
	free(hs);
}
