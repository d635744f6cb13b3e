/*
 * crash.c: TEST ONLY. `audit-crash kill|power DIR ROUNDS [SEED]`: the
 * crash and power-loss tests.
 *
 * Each round forks a child that opens the log and appends for ever (single
 * events, whole device lifecycles, group commits of 5; checkpoints every 7
 * events), writing each sequence number to a pipe only after the call that
 * committed it returned. The parent then ends the child:
 *   kill   SIGKILL after a random 0-40 ms;
 *   power  the powercut VFS shim (powercut.c) exits the child at a random
 *          write or sync, losing everything not yet synced.
 * After each round: audit_verify() must find the log intact, with the
 * previous round's latest checkpoint as anchor (nothing sealed lost or
 * rewritten), and every sequence number the child reported must be there.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "tests/audit/powercut.h"
#include "tests/audit/softkey.h"

static char db[600];
static struct softkey key;

static void
report(int fd, uint64_t seq)
{
	if (write(fd, &seq, sizeof(seq)) != (ssize_t)sizeof(seq))
		_exit(4);
}

static int
device_count(struct audit *a, unsigned *n)
{
	struct audit_order o;
	int rc = audit_order_get(a, "ORD-C", &o);

	*n = rc == 0 ? (unsigned)o.allocated : 0;
	return rc < 0 ? -1 : 0;
}

/* The child: append until killed. */
static void
child(int fd)
{
	char err[AUDIT_ERR_MAX], serial[32], claim[32], cs[32];
	uint8_t pub[91] = { 4 }, cert[600] = { 0x30 };
	struct audit_order o = { .quantity = 1000000, .serial_first = 1,
	    .serial_last = 1000000 };
	struct audit *a;
	uint64_t seq, seqs[5];
	unsigned next;

	if ((a = audit_open(db, "ST-CRASH", err)) == NULL) {
		fprintf(stderr, "child: %s\n", err);
		_exit(3);
	}
	audit_set_checkpoint_every(a, 7);
	if (audit_set_signer(a, softkey_sign, &key, key.pem, "officer") != 0)
		goto fail;
	strcpy(o.order_id, "ORD-C");
	strcpy(o.product, "crash test");
	if (audit_order_get(a, "ORD-C", &o) == 1 &&
	    audit_order_add(a, &o, (const uint8_t *)"doc", 3, "officer") != 0)
		goto fail;
	if (device_count(a, &next) != 0)
		goto fail;
	for (unsigned j = 0;; j++) {
		if (j % 3 == 0) {
			if (audit_append(a, "op", "bench.tick", "x", NULL, 0, &seq))
				goto fail;
			report(fd, seq);
		} else if (j % 3 == 1) {
			struct audit_allocation al = { serial, claim, NULL, "ORD-C",
			    "device" };
			struct audit_change c[4] = {
				{ .to = AUDIT_KEY_READY, .public_key = pub,
				    .public_key_len = sizeof(pub) },
				{ .to = AUDIT_ISSUED, .cert_der = cert,
				    .cert_der_len = sizeof(cert), .cert_serial = cs },
				{ .to = AUDIT_WRITTEN },
				{ .to = AUDIT_DONE },
			};

			snprintf(serial, sizeof(serial), "SN-C%08u", next);
			snprintf(claim, sizeof(claim), "CLM-C%08u", next);
			snprintf(cs, sizeof(cs), "c0ffee%08x", next++);
			if (audit_device_allocate(a, &al, "op", NULL, 0, &seq) != 0)
				goto fail;
			report(fd, seq);
			for (int k = 0; k < 4; k++) {
				if (audit_device_transition(a, serial, &c[k], "op",
				    NULL, 0, &seq) != 0)
					goto fail;
				report(fd, seq);
			}
		} else {
			if (audit_begin(a) != 0)
				goto fail;
			for (int k = 0; k < 5; k++)
				if (audit_append(a, "op", "bench.batch", "y", NULL, 0,
				    &seqs[k]) != 0)
					goto fail;
			if (audit_commit(a) != 0)
				goto fail;
			for (int k = 0; k < 5; k++)
				report(fd, seqs[k]);
		}
	}
fail:
	fprintf(stderr, "child: %s\n", audit_error(a));
	_exit(3);
}

/*
 * Killed while creating the database, at a random moment: opening it again
 * must finish the job (never "no station identity"), and it must verify.
 */
static int
creation_rounds(const char *dir, int n)
{
	char path[600], err[AUDIT_ERR_MAX], cmd[700];
	struct audit_verify_result r;
	int bad = 0;

	snprintf(path, sizeof(path), "%s/create.db", dir);
	for (int i = 0; i < n; i++) {
		struct timespec ts = { 0, (long)(rand() % 15000) * 1000 };
		struct audit *a;
		pid_t pid;

		if ((pid = fork()) == 0) {
			a = audit_open(path, "ST-NEW", err);
			_exit(a ? 0 : 3);
		}
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if ((a = audit_open(path, "ST-NEW", err)) == NULL) {
			printf("# creation round %d: %s\n", i, err);
			bad++;
		}
		audit_close(a);
		if (audit_verify(path, NULL, NULL, &r) != 0 ||
		    r.verdict != AUDIT_INTACT) {
			printf("# creation round %d: verify: %s\n", i, r.problem);
			bad++;
		}
		snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s-wal' '%s-shm' "
		    "'%s-journal'", path, path, path, path);
		if (system(cmd) != 0)
			bad++;
	}
	printf("%s 1 - killed while creating the database %d times: reopened "
	    "and verified each time\n", bad ? "not ok" : "ok", n);
	return bad ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	struct audit_checkpoint anchor;
	struct audit_verify_result r;
	char kpath[600], err[AUDIT_ERR_MAX];
	unsigned rounds, seed, failures = 0, cuts = 0;
	uint64_t reported_total = 0, max_seen = 0;
	bool have_anchor = false, power;

	if (argc < 4 || (strcmp(argv[1], "kill") && strcmp(argv[1], "power"))) {
		fprintf(stderr, "usage: audit-crash kill|power DIR ROUNDS [SEED]\n");
		return 2;
	}
	power = strcmp(argv[1], "power") == 0;
	snprintf(db, sizeof(db), "%s/crash.db", argv[2]);
	snprintf(kpath, sizeof(kpath), "%s/key.pem", argv[2]);
	rounds = (unsigned)strtoul(argv[3], NULL, 10);
	seed = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) :
	    (unsigned)time(NULL);
	srand(seed);
	printf("# %s test, %u rounds, seed %u\n", argv[1], rounds, seed);
	if (softkey_load_or_new(&key, kpath) != 0)
		return 1;
	if (!power && creation_rounds(argv[2], 30) != 0)
		failures++;
	{
		/* The station's database exists before the bench starts. */
		struct audit *a = audit_open(db, "ST-CRASH", err);

		if (a == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		audit_close(a);
	}
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t seq, max = 0;
		int fds[2], status;
		pid_t pid;
		ssize_t n;

		if (pipe(fds) != 0)
			return 1;
		fflush(stdout);
		if ((pid = fork()) < 0)
			return 1;
		if (pid == 0) {
			close(fds[0]);
			/* Mostly early cuts; one round in four long enough for
			 * a WAL checkpoint (hundreds of page writes) to finish,
			 * else a long WAL would be cut mid-checkpoint forever. */
			if (power && powercut_install(1 + (unsigned long)rand() %
			    (i % 4 == 3 ? 3000 : 200)) != 0)
				_exit(5);
			child(fds[1]);
		}
		close(fds[1]);
		if (!power) {
			struct timespec ts = { 0, (long)(rand() % 40000) * 1000 };

			nanosleep(&ts, NULL);
			kill(pid, SIGKILL);
		}
		while ((n = read(fds[0], &seq, sizeof(seq))) == sizeof(seq)) {
			reported_total++;
			if (seq > max)
				max = seq;
		}
		close(fds[0]);
		waitpid(pid, &status, 0);
		if (power ? !(WIFEXITED(status) && WEXITSTATUS(status) == 0) :
		    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
			printf("# round %u: child ended otherwise (status %d)\n", i,
			    status);
			failures++;
			continue;
		}
		cuts++;
		if (audit_verify(db, key.pem, have_anchor ? &anchor : NULL, &r) !=
		    0 || r.verdict != AUDIT_INTACT) {
			printf("# round %u: verify: %s (event %llu)\n", i, r.problem,
			    (unsigned long long)r.bad_seq);
			failures++;
			break;
		}
		if (r.head_seq < max || r.head_seq < max_seen) {
			printf("# round %u: event %llu was reported committed, the "
			    "log ends at %llu\n", i, (unsigned long long)max,
			    (unsigned long long)r.head_seq);
			failures++;
			break;
		}
		max_seen = r.head_seq;
		{
			struct audit *a = audit_open_readonly(db, err);

			if (a != NULL && audit_checkpoint_latest(a, &anchor) == 0)
				have_anchor = true;
			audit_close(a);
		}
	}
	printf("%s %d - %s: %u of %u rounds ended the child mid-write; %llu "
	    "events reported committed, none missing; log intact after each; "
	    "%llu events in the end\n", failures ? "not ok" : "ok", power ? 1 : 2,
	    argv[1], cuts,
	    rounds, (unsigned long long)reported_total,
	    (unsigned long long)max_seen);
	printf("1..%d\n", power ? 1 : 2);
	softkey_free(&key);
	return failures ? 1 : 0;
}
