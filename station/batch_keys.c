/*
 * batch_keys.c: where batch generation gets its sealed device keys: from
 * helper processes, each a fresh `station batch keys` that opens the token
 * itself, runs a sealer (hsm/sealer.c) for up to BATCH_KEYS_PER_PROCESS
 * keys and exits.
 *
 * Why processes: SoftHSM 2.6 never frees a destroyed session object until
 * C_Finalize (its session object store keeps every object it ever made;
 * measured ~0.5 KB per device key pair), so a long run in one process
 * grows without bound. A helper's exit gives it all back, and memory stays
 * flat whatever the count. A side effect: the helper makes keys while the
 * worker thread that reads them has the sub-CA sign certificates.
 *
 * The helper is the station binary itself (/proc/self/exe's path), started with
 * posix_spawn (no fork of a process holding the token). It reads from its
 * stdin "SBK1", the PIN (1 length byte, then the PIN: never in argv or
 * the environment), the recipient's 65-byte point and the number of keys
 * (4 bytes, big-endian); it answers 'R' once logged in (or 'F' and the
 * message), then writes for each key its 65-byte point, the sealed value's
 * length (2 bytes, big-endian) and the sealed value E || C. On a failure
 * it writes the length 0xFFFF and the message, and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>
#include <time.h>

#include <openssl/crypto.h>

#include "station/batch_int.h"
#include "station/pin.h"
#include "station/seal.h"

extern char **environ;

/* Helpers open the token one at a time: SoftHSM's file store answers a
 * login or a token lookup racing with another process's with
 * CKR_GENERAL_ERROR or no token at all (seen about once in eight runs of
 * two helpers starting together). A helper says 'R' once it is logged in;
 * a start that fails is tried again, three times in all. */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

struct batch_keys {
	const char *home;
	const char *pin;
	uint8_t recipient[65];
	uint64_t left;             /* keys still wanted in all */
	uint32_t in_process;       /* keys the current helper still owes */
	pid_t pid;
	int to, from;
};

/* read_all / write_all: exactly ${n} bytes, or -1. */
static int
read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* finish(k): close the pipes and reap the helper. */
static void
finish(struct batch_keys *k)
{
	if (k->to >= 0)
		close(k->to);
	if (k->from >= 0)
		close(k->from);
	k->to = k->from = -1;
	if (k->pid > 0) {
		if (k->in_process > 0)
			kill(k->pid, SIGTERM);
		waitpid(k->pid, NULL, 0);
	}
	k->pid = 0;
	k->in_process = 0;
}

/* start_once(k): a new helper for the next keys, logged in. */
static int
start_once(struct batch_keys *k, char err[static BATCH_ERR_MAX])
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	char *argv[] = { "station", "batch", "keys", "--home", (char *)k->home,
	    NULL };
	uint8_t msg[4 + 1 + HSM_PIN_MAX + 65 + 4];
	char self[PATH_MAX];
	ssize_t len;
	size_t pin_len = strlen(k->pin), at = 0;
	uint32_t n = k->left > BATCH_KEYS_PER_PROCESS ? BATCH_KEYS_PER_PROCESS :
	    (uint32_t)k->left;
	int rc;

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		snprintf(err, BATCH_ERR_MAX, "cannot make a pipe: %s",
		    strerror(errno));
		goto fail;
	}
	/* The path /proc/self/exe names (not the link itself: under
	 * valgrind the link is valgrind's own tool, its readlink the
	 * station's path). */
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 ||
	    (size_t)len >= sizeof(self) - 1)
		snprintf(self, sizeof(self), "/proc/self/exe");
	else
		self[len] = '\0';
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	rc = posix_spawn(&k->pid, self, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	k->to = in[1];
	k->from = out[0];
	if (rc != 0) {
		k->pid = 0;
		snprintf(err, BATCH_ERR_MAX, "cannot start a key helper: %s",
		    strerror(rc));
		finish(k);
		return -1;
	}
	memcpy(msg, "SBK1", 4);
	at = 4;
	msg[at++] = (uint8_t)pin_len;
	memcpy(msg + at, k->pin, pin_len);
	at += pin_len;
	memcpy(msg + at, k->recipient, 65);
	at += 65;
	for (int i = 3; i >= 0; i--)
		msg[at++] = (uint8_t)(n >> (8 * i));
	rc = write_all(k->to, msg, at);
	OPENSSL_cleanse(msg, sizeof(msg));
	k->in_process = n;
	if (rc != 0 || read_all(k->from, msg, 1) != 0 || msg[0] != 'R') {
		char text[BATCH_ERR_MAX] = "";
		ssize_t r = rc == 0 && msg[0] == 'F' ?
		    read(k->from, text, sizeof(text) - 1) : 0;

		text[r > 0 ? r : 0] = '\0';
		snprintf(err, BATCH_ERR_MAX, "%s", text[0] ? text :
		    "the key helper did not start");
		k->in_process = 0;
		finish(k);
		return -1;
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return -1;
}

void
batch_keys_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&start_lock);
	else
		pthread_mutex_unlock(&start_lock);
}

static int
start(struct batch_keys *k, char err[static BATCH_ERR_MAX])
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int rc = -1;

	pthread_mutex_lock(&start_lock);
	for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
		if (attempt > 0)
			nanosleep(&pause, NULL);
		rc = start_once(k, err);
	}
	pthread_mutex_unlock(&start_lock);
	return rc;
}

int
batch_keys_open(const char *home, const char *pin,
    const uint8_t recipient[static 65], uint64_t count, struct batch_keys **out)
{
	struct batch_keys *k = calloc(1, sizeof(*k));

	*out = k;
	if (k == NULL || strlen(pin) > HSM_PIN_MAX)
		return -1;
	k->home = home;
	k->pin = pin;
	memcpy(k->recipient, recipient, 65);
	k->left = count;
	k->to = k->from = -1;
	return 0;
}

int
batch_keys_next(struct batch_keys *k, uint8_t point[static 65],
    uint8_t *sealed, size_t cap, size_t *sealed_len,
    char err[static BATCH_ERR_MAX])
{
	uint8_t len[2];
	size_t n;

	*sealed_len = 0;
	if (k->left == 0)
		return -1;
	if (k->in_process == 0) {
		finish(k);
		if (start(k, err) != 0)
			return -1;
	}
	if (read_all(k->from, point, 65) != 0 || read_all(k->from, len, 2)) {
		snprintf(err, BATCH_ERR_MAX, "the key helper stopped");
		finish(k);
		return -1;
	}
	n = (size_t)len[0] << 8 | len[1];
	if (n == 0xffff) {
		char msg[BATCH_ERR_MAX] = "";
		ssize_t r = read(k->from, msg, sizeof(msg) - 1);

		msg[r > 0 ? r : 0] = '\0';
		snprintf(err, BATCH_ERR_MAX, "%s", msg[0] ? msg :
		    "the key helper failed");
		finish(k);
		return -1;
	}
	if (n > cap || read_all(k->from, sealed, n) != 0) {
		snprintf(err, BATCH_ERR_MAX, "the key helper sent a bad key");
		finish(k);
		return -1;
	}
	*sealed_len = n;
	k->in_process--;
	k->left--;
	return 0;
}

void
batch_keys_free(struct batch_keys *k)
{
	if (k == NULL)
		return;
	finish(k);
	free(k);
}

/* The helper's side: fail(msg) reports to the parent. */
static int
helper_fail(const char *msg)
{
	uint8_t mark[67] = { 0 };

	mark[65] = mark[66] = 0xff;
	write_all(1, mark, sizeof(mark));
	write_all(1, msg, strlen(msg));
	return 1;
}

int
batch_keys_helper(const struct station_config *cfg)
{
	uint8_t head[5], recipient[65], count[4], point[65];
	uint8_t sealed[HSM_SEALED_MAX + 2];
	char pin[HSM_PIN_MAX + 1], err[HSM_ERR_MAX];
	struct hsm *h = NULL;
	struct hsm_sealer *z = NULL;
	uint32_t n = 0;
	size_t len;
	int ret = 1;

	/* exec made this process dumpable again: off before the PIN is read */
	if (pin_protect_process(err) != 0)
		return helper_fail(err);
	if (read_all(0, head, 5) != 0 || memcmp(head, "SBK1", 4) != 0 ||
	    head[4] > HSM_PIN_MAX || read_all(0, pin, head[4]) != 0 ||
	    read_all(0, recipient, 65) != 0 || read_all(0, count, 4) != 0)
		return helper_fail("key helper: bad request");
	pin[head[4]] = '\0';
	for (int i = 0; i < 4; i++)
		n = n << 8 | count[i];
	if (cfg->hsm_softhsm_conf[0] != '\0')
		setenv("SOFTHSM2_CONF", cfg->hsm_softhsm_conf, 1);
	if (hsm_open(&h, cfg->hsm_module, cfg->hsm_token, pin, err) != 0 ||
	    hsm_sealer_open(h, recipient, seal_context_key, recipient,
	    BATCH_GROUP, &z, err) != 0) {
		write_all(1, "F", 1);
		write_all(1, err, strlen(err));
		goto cleanup;
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	if (write_all(1, "R", 1) != 0)
		goto cleanup;
	for (uint32_t i = 0; i < n; i++) {
		if (hsm_sealer_next(z, point, sealed + 2, sizeof(sealed) - 2,
		    &len, err) != 0) {
			helper_fail(err);
			goto cleanup;
		}
		sealed[0] = (uint8_t)(len >> 8);
		sealed[1] = (uint8_t)len;
		if (write_all(1, point, 65) != 0 ||
		    write_all(1, sealed, len + 2) != 0)
			goto cleanup;    /* the parent has gone */
	}
	ret = 0;
cleanup:
	OPENSSL_cleanse(pin, sizeof(pin));
	OPENSSL_cleanse(sealed, sizeof(sealed));
	hsm_sealer_free(z);
	hsm_close(h);
	return ret;
}
