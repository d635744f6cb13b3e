/*
 * run.c: one `station run` session (run.h): the order chosen and checked
 * before the PIN is asked for, the token and audit log opened once,
 * recovery, then the bench loop: poll for arrivals, one thread per new
 * attachment (bench_device), results to the screen, until the run ends;
 * bench.started / bench.ended bracket it in the log and the session's
 * checkpoint seals it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "station/bench_batch.h"
#include "station/bench_recover.h"
#include "station/bench_steps.h"
#include "station/pki.h"
#include "station/run.h"
#include "station/run_screen.h"
#include "station/station.h"
#include "station/station_audit.h"

#define POLL_US 20000

/* One device in flight. */
struct slot {
	pthread_t thread;
	bool used;
	atomic_bool done;
	struct flasher_device dev;
	struct bench *b;
	struct flasher *fl;
	struct run_screen *screen;
	struct bench_result r;
};

/* An attachment already looked at: port path and bus address. */
struct seen {
	char path[FLASHER_PATH_MAX];
	uint8_t bus, address;
	bool present;
};

struct loop {
	struct bench *b;
	struct flasher *fl;
	struct run_screen *screen;
	const struct run_opts *o;
	struct slot slots[32];
	struct seen *seen;
	size_t nseen, capseen;
	struct flasher_device *known;
	size_t nknown;
	unsigned inflight, pass, fail;
	double last_arrival;
};

struct pick {
	struct audit *a;
	char id[ORDER_ID_MAX + 1];
	unsigned open;
	char names[256];
};

static int
pick_open(void *ctx, const struct audit_order *e)
{
	struct pick *p = ctx;
	struct order_state st;
	char err[ORDER_ERR_MAX];

	if (order_state_get(p->a, NULL, NULL, e->order_id, time(NULL), &st,
	    err) != 0 || strcmp(st.state, "open") != 0)
		return 0;
	p->open++;
	snprintf(p->id, sizeof(p->id), "%s", e->order_id);
	if (strlen(p->names) + strlen(e->order_id) + 3 < sizeof(p->names))
		snprintf(p->names + strlen(p->names), sizeof(p->names) -
		    strlen(p->names), "%s%s", p->open > 1 ? ", " : "",
		    e->order_id);
	return 0;
}

/* choose_order(cfg, o, terms): the order to stamp under, its key mode
 * allowed here; before the PIN. Exit code, or -1 to go on. */
static int
choose_order(const struct station_config *cfg, const struct run_opts *o,
    struct order *terms)
{
	struct pick p = { .names = "" };
	struct order_state st;
	char err[ORDER_ERR_MAX];
	int rc, ret = EXIT_FAILED;

	if ((rc = station_audit_peek(cfg, &p.a)) != 0)
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	if (o->batch != NULL) {
		char berr[BATCH_ERR_MAX];

		if ((rc = bench_batch_terms(p.a, o->batch, terms, berr)) != 0)
			station_err("run: %s", berr);
		ret = rc == 0 ? -1 : EXIT_FAILED;
		goto out;
	}
	if (o->order == NULL) {
		if (audit_orders(p.a, pick_open, &p) < 0) {
			station_err("%s", audit_error(p.a));
			goto out;
		}
		if (p.open != 1) {
			station_err(p.open == 0 ? "run: no open production order: "
			    "the officer imports one ('station order import')%s" :
			    "run: several open orders (%s): choose one with "
			    "--order", p.names);
			ret = EXIT_USAGE;
			goto out;
		}
	} else {
		snprintf(p.id, sizeof(p.id), "%s", o->order);
	}
	if ((rc = order_state_get(p.a, NULL, NULL, p.id, time(NULL), &st,
	    err)) != 0) {
		station_err("run: %s", err);
		ret = rc == 1 ? EXIT_USAGE : EXIT_FAILED;
		goto out;
	}
	if (strcmp(st.state, "open") != 0) {
		station_err("run: order %s is %s: nothing can be stamped under it; "
		    "ask the officer for a new order", p.id, st.state);
		goto out;
	}
	if (strcmp(st.terms.key_mode, "host") == 0 &&
	    cfg->mode != STATION_MODE_DEVELOPMENT) {
		station_err("run: order %s asks for host key mode, which only a "
		    "development station runs ([station] mode = development)",
		    p.id);
		ret = EXIT_USAGE;
		goto out;
	}
	*terms = st.terms;
	ret = -1;
out:
	audit_close(p.a);
	return ret;
}

static void *
work(void *arg)
{
	struct slot *s = arg;

	bench_device(s->b, s->fl, &s->dev, run_screen_step, s->screen, &s->r);
	atomic_store(&s->done, true);
	return NULL;
}

/* reap(l): results of the devices that finished. */
static void
reap(struct loop *l)
{
	for (size_t i = 0; i < sizeof(l->slots) / sizeof(l->slots[0]); i++) {
		struct slot *s = &l->slots[i];

		if (!s->used || !atomic_load(&s->done))
			continue;
		pthread_join(s->thread, NULL);
		s->used = false;
		l->inflight--;
		if (s->r.pass)
			l->pass++;
		else
			l->fail++;
		pthread_mutex_lock(&l->b->db);
		run_screen_result(l->screen, &s->r, l->b->allocated);
		pthread_mutex_unlock(&l->b->db);
		bench_times_add(l->b, &s->r);
	}
}

/* start(l, dev): a thread for ${dev}; signals stay with the main thread. */
static int
start(struct loop *l, const struct flasher_device *dev)
{
	sigset_t all, old;

	for (size_t i = 0; i < sizeof(l->slots) / sizeof(l->slots[0]); i++) {
		struct slot *s = &l->slots[i];

		if (s->used)
			continue;
		memset(&s->r, 0, sizeof(s->r));
		s->dev = *dev;
		s->b = l->b;
		s->fl = l->fl;
		s->screen = l->screen;
		atomic_store(&s->done, false);
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		if (pthread_create(&s->thread, NULL, work, s) != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return -1;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		s->used = true;
		l->inflight++;
		return 0;
	}
	return -1;
}

static struct seen *
seen_find(struct loop *l, const struct flasher_device *d)
{
	for (size_t i = 0; i < l->nseen; i++)
		if (strcmp(l->seen[i].path, d->path) == 0 &&
		    l->seen[i].bus == d->bus && l->seen[i].address == d->address)
			return &l->seen[i];
	return NULL;
}

/* poll_devices(l): new attachments get a thread, as room allows. */
static int
poll_devices(struct loop *l, bool may_start)
{
	struct flasher_device *devs = NULL;
	char ferr[FLASHER_ERR_MAX];
	size_t n = 0, keep = 0;
	int rc;

	pthread_mutex_lock(&l->b->usb);
	rc = flasher_list(l->fl, l->known, l->nknown, &devs, &n, ferr);
	pthread_mutex_unlock(&l->b->usb);
	if (rc != 0) {
		run_screen_note(l->screen, "cannot list USB devices: %s", ferr);
		return -1;
	}
	for (size_t i = 0; i < l->nseen; i++)
		l->seen[i].present = false;
	for (size_t i = 0; i < n; i++) {
		struct seen *s = seen_find(l, &devs[i]);

		if (s != NULL) {
			s->present = true;
			continue;
		}
		if (!may_start || l->inflight >= l->o->parallel ||
		    (l->o->count && l->pass + l->inflight >= l->o->count))
			continue;
		if (l->nseen == l->capseen) {
			size_t cap = l->capseen ? 2 * l->capseen : 16;
			void *g = realloc(l->seen, cap * sizeof(*l->seen));

			if (g == NULL)
				break;
			l->seen = g;
			l->capseen = cap;
		}
		if (start(l, &devs[i]) != 0)
			continue;
		s = &l->seen[l->nseen++];
		snprintf(s->path, sizeof(s->path), "%s", devs[i].path);
		s->bus = devs[i].bus;
		s->address = devs[i].address;
		s->present = true;
		l->last_arrival = bench_now_ms();
	}
	for (size_t i = 0; i < l->nseen; i++)   /* unplugged: forget */
		if (l->seen[i].present)
			l->seen[keep++] = l->seen[i];
	l->nseen = keep;
	flasher_list_free(l->known);
	l->known = devs;
	l->nknown = n;
	return 0;
}

/* bench_loop(l, interrupted): until the run ends. */
static void
bench_loop(struct loop *l, volatile sig_atomic_t *interrupted)
{
	bool stopping = false, said = false;
	double last_tick = 0;

	l->last_arrival = bench_now_ms();
	for (;;) {
		reap(l);
		if (*interrupted && !said) {
			run_screen_note(l->screen, "Ctrl-C: no new device; finishing "
			    "the %u in flight", l->inflight);
			said = stopping = true;
		}
		if (l->o->count && l->pass >= l->o->count)
			stopping = true;
		pthread_mutex_lock(&l->b->db);
		if (l->b->stop != BENCH_GO && !stopping) {
			run_screen_note(l->screen, "STOP: %s", l->b->stop_reason);
			stopping = true;
		}
		pthread_mutex_unlock(&l->b->db);
		if (l->o->idle_exit && l->inflight == 0 && bench_now_ms() -
		    l->last_arrival > 1000.0 * l->o->idle_exit)
			stopping = true;
		if (stopping && l->inflight == 0)
			break;
		if (!stopping)
			poll_devices(l, true);
		if (bench_now_ms() - last_tick > 250) {
			run_screen_tick(l->screen);
			last_tick = bench_now_ms();
		}
		usleep(POLL_US);
	}
	flasher_list_free(l->known);
	l->known = NULL;
	free(l->seen);
}

/* read_app_key(file, der, len): [stamp] app_public_key as SPKI DER. */
static int
read_app_key(const char *file, uint8_t **der, size_t *len)
{
	FILE *f = fopen(file, "r");
	EVP_PKEY *k = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	int n = k ? i2d_PUBKEY(k, der) : -1;

	if (f != NULL)
		fclose(f);
	EVP_PKEY_free(k);
	if (n <= 0) {
		station_err("[stamp] app_public_key: %s: expected a PEM public "
		    "key", file);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

static int
log_event(struct bench *b, const char *kind, const struct audit_field *f,
    size_t n)
{
	if (audit_append(b->a, b->actor, kind, b->cfg->station_id, f, n,
	    NULL) != 0) {
		station_err("%s: %s", b->cfg->audit_database, audit_error(b->a));
		return -1;
	}
	return 0;
}

/* batch_open(cfg, id, b, chain): a --batch run: the transport key, the
 * issuing sub-CA as chain, the batch's count of used identities. */
static int
batch_open(const struct station_config *cfg, const char *id, struct bench *b,
    uint8_t **chain)
{
	struct batch_status st;
	char herr[HSM_ERR_MAX], berr[BATCH_ERR_MAX];

	b->batch_id = id;
	if (hsm_key_find(b->h, cfg->pki_transport_key, &b->transport_key,
	    herr) != 0) {
		station_err("run: transport key ([pki] transport_key): %s", herr);
		return -1;
	}
	if (bench_batch_chain(cfg->home, id, chain, &b->chain_len) != 0)
		return -1;
	b->chain = *chain;
	if (batch_status_get(b->a, id, &st, berr) != 0) {
		station_err("run: %s", berr);
		return -1;
	}
	b->allocated = st.used;
	return 0;
}

/* opened(cfg, o, b, fl, interrupted): everything is open: recovery, the
 * loop, the closing event. Returns the exit code. */
static int
opened(const struct station_config *cfg, const struct run_opts *o,
    struct bench *b, struct flasher *fl, volatile sig_atomic_t *interrupted)
{
	struct loop l = { .b = b, .fl = fl, .o = o };
	struct audit_field f[4];
	char pass[16], failn[16], rec[16];
	const char *op = o->operator ? o->operator : "";
	unsigned recovered;
	size_t nf;
	int ret = EXIT_FAILED;

	if ((l.screen = run_screen_new(stdout, isatty(STDOUT_FILENO),
	    b->terms.order_id, b->terms.quantity, b->allocated)) == NULL) {
		station_err("out of memory");
		return EXIT_FAILED;
	}
	if (b->batch_id != NULL)
		run_screen_batch(l.screen, b->batch_id);
	nf = 0;
	if (b->batch_id != NULL)       /* details sorted by key */
		f[nf++] = (struct audit_field){ "batch", b->batch_id,
		    strlen(b->batch_id) };
	f[nf++] = (struct audit_field){ "key_mode", b->terms.key_mode,
	    strlen(b->terms.key_mode) };
	f[nf++] = (struct audit_field){ "operator", op, strlen(op) };
	f[nf++] = (struct audit_field){ "order_id", b->terms.order_id,
	    strlen(b->terms.order_id) };
	if (log_event(b, "bench.started", f, nf) != 0)
		goto out;
	if (strcmp(b->terms.key_mode, "host") == 0)
		run_screen_note(l.screen, "WARNING: HOST KEY MODE (development "
		    "only): device private keys are made in this computer's "
		    "memory. Never ship these devices.");
	if (bench_recover(b, fl, l.screen, &recovered) != 0)
		goto out;
	if (b->batch_id != NULL)
		run_screen_note(l.screen, "station %s ready: batch %s (order %s, "
		    "%s, %llu of %llu identities used)%s%s; plug devices in, "
		    "Ctrl-C ends the run", cfg->station_id, b->batch_id,
		    b->terms.order_id, b->terms.product,
		    (unsigned long long)b->allocated,
		    (unsigned long long)b->terms.quantity, o->operator ?
		    ", operator " : "", op);
	else
		run_screen_note(l.screen, "station %s ready: order %s (%s, key "
		    "mode %s, %llu of %llu allocated)%s%s; plug devices in, "
		    "Ctrl-C ends the run", cfg->station_id, b->terms.order_id,
		    b->terms.product, b->terms.key_mode,
		    (unsigned long long)b->allocated,
		    (unsigned long long)b->terms.quantity, o->operator ?
		    ", operator " : "", op);
	bench_loop(&l, interrupted);
	if (bench_release(b) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(b->a));
		goto out;
	}
	run_screen_summary(l.screen);
	if (o->times)
		bench_times_report(b, stdout);
	snprintf(pass, sizeof(pass), "%u", l.pass);
	snprintf(failn, sizeof(failn), "%u", l.fail);
	snprintf(rec, sizeof(rec), "%u", recovered);
	f[0] = (struct audit_field){ "fail", failn, strlen(failn) };
	f[1] = (struct audit_field){ "pass", pass, strlen(pass) };
	f[2] = (struct audit_field){ "recovered", rec, strlen(rec) };
	f[3] = (struct audit_field){ "stop", b->stop_reason,
	    strlen(b->stop_reason) };
	if (log_event(b, "bench.ended", f, 4) != 0)
		goto out;
	ret = l.fail == 0 && b->stop == BENCH_GO && (o->count == 0 ||
	    l.pass >= o->count || *interrupted) ? EXIT_OK : EXIT_FAILED;
out:
	run_screen_free(l.screen);
	return ret;
}

int
run_session(const struct station_config *cfg, const struct run_opts *o,
    volatile sig_atomic_t *interrupted)
{
	struct bench b = { .cfg = cfg };
	struct attest_policy *attest = NULL;
	struct station_audit *sa = NULL;
	struct order_state st;
	struct flasher *fl = NULL;
	uint8_t *chain = NULL, *app = NULL;
	char actor[AUDIT_ACTOR_MAX + 1], ferr[FLASHER_ERR_MAX];
	char oerr[ORDER_ERR_MAX], aerr[ATTEST_REASON_MAX];
	int len, rc, ret;

	if ((ret = choose_order(cfg, o, &b.terms)) >= 0)
		return ret;
	if ((rc = attest_policy_open(cfg, &attest, aerr)) != 0) {
		station_err("run: %s", aerr);
		return rc == -2 ? EXIT_USAGE : EXIT_FAILED;
	}
	b.attest = attest;
	ret = EXIT_FAILED;
	if (cfg->stamp_app_public_key[0] != '\0' &&
	    read_app_key(cfg->stamp_app_public_key, &app, &b.app_key_len) != 0) {
		attest_policy_free(attest);
		return EXIT_USAGE;
	}
	b.app_key = app;
	if (pki_open(cfg, o->pin_file, &b.h, &b.ca) != 0)
		goto out;
	if (pki_role_key(cfg, b.h, PKI_ROLE_STAMP, &b.stamp_key) != 0)
		goto out;
	if ((rc = station_audit_open(cfg, b.h, "run", false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto out;
	}
	b.a = sa->a;
	snprintf(actor, sizeof(actor), "operator:%s", o->operator);
	b.actor = o->operator ? actor : sa->actor;
	b.confirm_label = o->confirm;
	if (o->batch != NULL) {
		if (batch_open(cfg, o->batch, &b, &chain) != 0)
			goto out;
	} else {
		if ((len = i2d_X509(hsm_ca_cert(b.ca), &chain)) <= 0) {
			station_err("sub-CA certificate: cannot encode it");
			goto out;
		}
		b.chain = chain;
		b.chain_len = (size_t)len;
		if (order_state_get(b.a, NULL, NULL, b.terms.order_id,
		    time(NULL), &st, oerr) != 0) {
			station_err("run: %s", oerr);
			goto out;
		}
		b.allocated = st.allocated;
	}
	if (flasher_open(&fl, ferr) != 0) {
		station_err("USB: %s", ferr);
		goto out;
	}
	pthread_mutex_init(&b.db, NULL);
	pthread_mutex_init(&b.confirm, NULL);
	pthread_mutex_init(&b.usb, NULL);
	ret = opened(cfg, o, &b, fl, interrupted);
	pthread_mutex_destroy(&b.db);
	pthread_mutex_destroy(&b.confirm);
	pthread_mutex_destroy(&b.usb);
out:
	flasher_close(fl);
	if (sa != NULL) {
		uint64_t head = 0;

		audit_head(sa->a, &head, NULL, NULL);
		if (station_audit_close(sa, ret == EXIT_OK) == 0)
			printf("audit log sealed (checkpoint after event %llu)\n",
			    (unsigned long long)head + 1);
		else
			ret = EXIT_FAILED;
	}
	bench_times_free(&b);
	OPENSSL_free(chain);
	OPENSSL_free(app);
	hsm_ca_free(b.ca);
	hsm_close(b.h);
	attest_policy_free(attest);
	return ret;
}
