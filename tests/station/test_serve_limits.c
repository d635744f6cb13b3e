/*
 * test_serve_limits.c: the LAN service's bounded tables
 * (station/serve_limits.c): a nonce is good once and until it expires, a
 * full table refuses rather than forgetting a live nonce and reuses
 * expired slots; a client's token bucket allows its burst, then its rate,
 * says how long to wait, and one client's bucket is not another's. Also
 * the listen address syntax (serve_listen.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "station/serve.h"

static struct serve_nonces nonces;
static struct serve_limiter limiter;

static void
nonce_of(unsigned i, uint8_t n[static HSM_NONCE_LEN])
{
	memset(n, 0, HSM_NONCE_LEN);
	memcpy(n, &i, sizeof(i));
}

static void
test_nonces(void **state)
{
	uint8_t n[HSM_NONCE_LEN], other[HSM_NONCE_LEN];

	(void)state;
	serve_nonces_init(&nonces, 60);
	nonce_of(1, n);
	nonce_of(2, other);
	assert_int_equal(serve_nonce_put(&nonces, n, 1000), 0);
	assert_int_equal(serve_nonce_take(&nonces, other, 1001), -1);
	assert_int_equal(serve_nonce_take(&nonces, n, 1001), 0);
	assert_int_equal(serve_nonce_take(&nonces, n, 1002), -1);  /* once */
	assert_int_equal(serve_nonce_put(&nonces, n, 1000), 0);
	assert_int_equal(serve_nonce_take(&nonces, n, 1000 + 60000), 1);
	assert_int_equal(serve_nonce_take(&nonces, n, 1000 + 60001), -1);
	serve_nonces_destroy(&nonces);
}

static void
test_nonce_table_full(void **state)
{
	uint8_t n[HSM_NONCE_LEN];

	(void)state;
	serve_nonces_init(&nonces, 5);
	for (unsigned i = 0; i < SERVE_NONCE_SLOTS; i++) {
		nonce_of(i, n);
		assert_int_equal(serve_nonce_put(&nonces, n, 0), 0);
	}
	nonce_of(SERVE_NONCE_SLOTS, n);
	assert_int_equal(serve_nonce_put(&nonces, n, 4999), -1);
	assert_int_equal(serve_nonce_put(&nonces, n, 5000), 0);  /* expired */
	assert_int_equal(serve_nonce_take(&nonces, n, 5001), 0);
	nonce_of(7, n);
	assert_int_equal(serve_nonce_take(&nonces, n, 5001), 1);
	serve_nonces_destroy(&nonces);
}

static void
test_limiter(void **state)
{
	unsigned retry = 0;

	(void)state;
	serve_limiter_init(&limiter, 2, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.1", 0,
		    &retry), 1);
	assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.1", 0, &retry),
	    0);
	assert_int_equal(retry, 1);
	assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.2", 0, &retry),
	    1);
	assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.1", 499,
	    &retry), 0);
	assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.1", 500,
	    &retry), 1);
	/* a long pause refills no more than the burst */
	for (int i = 0; i < 3; i++)
		assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.1",
		    100000, &retry), 1);
	assert_int_equal(serve_limiter_allow(&limiter, "10.0.0.1", 100000,
	    &retry), 0);
	serve_limiter_destroy(&limiter);
}

static void
test_limiter_many_clients(void **state)
{
	unsigned retry = 0;
	char addr[32];

	(void)state;
	serve_limiter_init(&limiter, 1, 1);
	for (int i = 0; i < 5 * SERVE_CLIENT_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 256, i % 256);
		assert_int_equal(serve_limiter_allow(&limiter, addr, i, &retry),
		    1);
	}
	serve_limiter_destroy(&limiter);
}

static void
test_listen_parse(void **state)
{
	struct sockaddr_storage ss;
	unsigned len;
	char err[SERVE_MSG_MAX];

	(void)state;
	assert_int_equal(serve_listen_parse("10.0.0.1:8080", &ss, &len, err),
	    0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(serve_listen_parse("[fe80::1]:0", &ss, &len, err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(serve_listen_parse("10.0.0.1", &ss, &len, err), -1);
	assert_string_equal(err, "--listen: expected ADDRESS:PORT (an IPv4 "
	    "address, or an IPv6 address in brackets, and a port 0-65535)");
	assert_int_equal(serve_listen_parse("10.0.0.1:65536", &ss, &len, err),
	    -1);
	assert_int_equal(serve_listen_parse("10.0.0.1:-1", &ss, &len, err), -1);
	assert_int_equal(serve_listen_parse("10.0.0.1:", &ss, &len, err), -1);
	assert_int_equal(serve_listen_parse("fe80::1:80", &ss, &len, err), -1);
	assert_int_equal(serve_listen_parse("[fe80::1]80", &ss, &len, err), -1);
	assert_int_equal(serve_listen_parse(":80", &ss, &len, err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonces),
		cmocka_unit_test(test_nonce_table_full),
		cmocka_unit_test(test_limiter),
		cmocka_unit_test(test_limiter_many_clients),
		cmocka_unit_test(test_listen_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
