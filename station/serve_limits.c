/*
 * serve_limits.c: the two tables of the LAN service that bound what
 * clients can make it hold.
 *
 * Nonces: a fixed table of SERVE_NONCE_SLOTS; a nonce is handed out by
 * GET /nonce, lives [lan] nonce_lifetime seconds, and is used up the first
 * time a CSR presents it, valid or not (single use). An expired slot is
 * reused; when every slot is live, GET /nonce is refused (503) instead of
 * forgetting a nonce a device is still using. Lookups compare in constant
 * time.
 *
 * Rate limits: a token bucket per client address ([lan] client_rate
 * tokens a second, at most [lan] client_burst), in a fixed table hashed by
 * address with a short probe; a client that finds no slot takes the one
 * idle longest in its probe (whose bucket has refilled in all likelihood).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "station/serve.h"

#define PROBE 8

int64_t
serve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
serve_nonces_init(struct serve_nonces *n, unsigned lifetime_s)
{
	memset(n->slot, 0, sizeof(n->slot));
	n->lifetime_ms = lifetime_s * 1000u;
	pthread_mutex_init(&n->lock, NULL);
}

void
serve_nonces_destroy(struct serve_nonces *n)
{
	OPENSSL_cleanse(n->slot, sizeof(n->slot));
	pthread_mutex_destroy(&n->lock);
}

int
serve_nonce_put(struct serve_nonces *n, const uint8_t *nonce, int64_t now)
{
	int ret = -1;

	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < SERVE_NONCE_SLOTS; i++) {
		struct serve_nonce_slot *s = &n->slot[i];

		if (s->expires_ms != 0 && s->expires_ms > now)
			continue;
		memcpy(s->nonce, nonce, HSM_NONCE_LEN);
		s->expires_ms = now + n->lifetime_ms;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

int
serve_nonce_take(struct serve_nonces *n, const uint8_t *nonce, int64_t now)
{
	int ret = -1;

	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < SERVE_NONCE_SLOTS; i++) {
		struct serve_nonce_slot *s = &n->slot[i];

		if (s->expires_ms == 0 ||
		    CRYPTO_memcmp(s->nonce, nonce, HSM_NONCE_LEN) != 0)
			continue;
		ret = s->expires_ms > now ? 0 : 1;
		s->expires_ms = 0;
		OPENSSL_cleanse(s->nonce, HSM_NONCE_LEN);
		break;
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

void
serve_limiter_init(struct serve_limiter *l, unsigned rate, unsigned burst)
{
	memset(l->slot, 0, sizeof(l->slot));
	l->rate = rate;
	l->burst = burst;
	pthread_mutex_init(&l->lock, NULL);
}

void
serve_limiter_destroy(struct serve_limiter *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* hash(s): FNV-1a. */
static size_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* find(l, addr, now): the client's slot, taken over if new. */
static struct serve_client_slot *
find(struct serve_limiter *l, const char *addr, int64_t now)
{
	size_t first = hash(addr) % SERVE_CLIENT_SLOTS;
	struct serve_client_slot *empty = NULL, *oldest = NULL;

	for (size_t k = 0; k < PROBE; k++) {
		struct serve_client_slot *s =
		    &l->slot[(first + k) % SERVE_CLIENT_SLOTS];

		if (s->addr[0] == '\0') {
			if (empty == NULL)
				empty = s;
			continue;
		}
		if (strcmp(s->addr, addr) == 0)
			return s;
		if (oldest == NULL || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	if (empty != NULL)
		oldest = empty;
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	oldest->tokens = l->burst;
	oldest->last_ms = now;
	return oldest;
}

int
serve_limiter_allow(struct serve_limiter *l, const char *addr, int64_t now,
    unsigned *retry_s)
{
	struct serve_client_slot *s;
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	s = find(l, addr, now);
	s->tokens += (double)(now - s->last_ms) / 1000.0 * l->rate;
	if (s->tokens > l->burst)
		s->tokens = l->burst;
	s->last_ms = now;
	if (s->tokens >= 1.0) {
		s->tokens -= 1.0;
		ret = 1;
	} else {
		double wait = (1.0 - s->tokens) / l->rate;

		*retry_s = (unsigned)wait + 1;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}
