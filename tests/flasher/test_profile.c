/*
 * test_profile.c: the stamp DFU profile (flasher/profile.c) against
 * stampdev-emu, every operation and every device fault.
 *
 * Run without UMOCKDEV_DIR it re-executes itself under $BUILD/stampdev-emu
 * with the devices below (device K on port 1-K), the TEST-ONLY signer of
 * stamp-format/vectors as the devices' trust anchor, and a 50 ms keygen.
 * It checks the round trip info -> csr (verified with OpenSSL: signature
 * and nonce; and accepted by the CA's own intake, hsm_csr_check) -> stage -> read back -> commit -> lock; that every fault
 * ends in its own clear error naming the device and never in a reported
 * success; that after a power cut the flash file holds no partial stamp as
 * active; and that many devices run at once, each result named.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>
#include <openssl/ec.h>
#include <openssl/sha.h>

#include "flasher/flasher.h"
#include "hsm/hsm.h"
#include "station/stamp_crypto.h"
#include "tests/flasher/stamp_job.h"

enum {
	D_CLEAN = 1, D_CHECKS, D_CSR_KEY, D_CSR_NO_NONCE, D_CSR_WRONG_NONCE,
	D_SHORT, D_OVERSIZE, D_STALL, D_NO_LOCK, D_IGNORE_LOCK, D_FLIP,
	D_NO_PROFILE, D_CLONE, D_VANISH, D_POWERCUT, D_COMMIT_CUT, D_SLOW,
	D_BAD_DESC, D_COUNT = D_BAD_DESC,
};
static const char *const faults[] = {
	"3:csr-other-key@1", "4:csr-no-nonce@1", "5:csr-wrong-nonce@1",
	"6:short@20", "7:oversize@8", "8:stall-req@3", "9:no-lock@1",
	"10:no-lock@2", "11:flip@100", "12:bad-desc@2", "13:clone@1",
	"14:vanish@100", "15:powercut@200", "16:commit-cut@5", "17:slow@30",
	"18:bad-desc@1",
};

static struct flasher *fl;
static struct flasher_device *devs;
static size_t ndevs;
static EVP_PKEY *signer;
static char err[FLASHER_ERR_MAX];
static const char *state_dir;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct flasher_device *
dev(int k)
{
	char path[16];
	size_t i;

	snprintf(path, sizeof(path), "1-%d", k);
	if (flasher_select(devs, ndevs, NULL, path, &i, err) != 0)
		fail_msg("no device at %s: %s", path, err);
	return &devs[i];
}

static struct flasher_session *
open_dev(int k)
{
	struct flasher_session *s;

	if (flasher_session_open(fl, dev(k), &s, err) != 0)
		fail_msg("open 1-%d: %s", k, err);
	return s;
}

/* ${err} names device 1-K and contains ${what}. */
static void
assert_err(int k, const char *what)
{
	char who[16];

	snprintf(who, sizeof(who), "device 1-%d ", k);
	if (strstr(err, who) == NULL || strstr(err, what) == NULL)
		fail_msg("expected '%s' about 1-%d, got: %s", what, k, err);
}

static int
setup(void **state)
{
	(void)state;
	if (flasher_open(&fl, err) != 0 || flasher_list(fl, NULL, 0, &devs,
	    &ndevs, err) != 0)
		return -1;
	signer = stamp_ossl_load_private("stamp-format/vectors/signer-key.pem",
	    err, sizeof(err));
	return signer ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[4200];

	(void)state;
	EVP_PKEY_free(signer);
	flasher_list_free(devs);
	flasher_close(fl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_listing(void **state)
{
	(void)state;
	const struct flasher_rejected *rejected;
	size_t nrejected;

	/* the device with a bad functional descriptor is left out, with why */
	assert_int_equal(ndevs, D_COUNT - 1);
	rejected = flasher_list_rejected(fl, &nrejected);
	assert_int_equal(nrejected, 1);
	assert_string_equal(rejected[0].path, "1-18");
	assert_int_equal(rejected[0].vid, 0x1209);
	if (strstr(rejected[0].why, "malformed DFU functional descriptor") == NULL)
		fail_msg("reason: %s", rejected[0].why);
	assert_int_equal(flasher_profile_check(dev(D_CLEAN), err), 0);
	assert_int_equal(flasher_profile_check(dev(D_NO_PROFILE), err), -1);
	assert_non_null(strstr(err, "1-12"));
	assert_non_null(strstr(err, "no alt setting 'info'"));
}

static void
test_round_trip(void **state)
{
	struct flasher_session *s = open_dev(D_CLEAN);
	struct flasher_info info, after;
	uint8_t nonce[32], image[8192], digest[32], *csr = NULL;
	struct flasher_subject subject = { "dev-1", "Example", "SN-1" };
	size_t csr_len, len;
	char why[128], herr[HSM_ERR_MAX];
	X509_PUBKEY *pub = NULL;
	long long t0;

	(void)state;
	assert_int_equal(flasher_info(s, &info, err), 0);
	assert_int_equal(info.hardware_id_len, strlen(dev(D_CLEAN)->serial));
	assert_string_equal(info.model, "stampdev-emu");
	assert_int_equal(info.capabilities & 0x0f, 0x0f);
	assert_int_equal(info.active_generation, 0);
	assert_int_equal(flasher_info_stamped(&info), 0);
	assert_int_equal(info.slot_size, 8192);
	assert_int_equal(info.write_unit, 16);
	assert_int_equal(info.locked, 0);
	assert_int_equal(info.transport_key[0], 4);

	RAND_bytes(nonce, sizeof(nonce));
	t0 = now_ms();
	assert_int_equal(flasher_csr(s, &info, nonce, sizeof(nonce), &subject,
	    &csr, &csr_len, err), 0);
	/* the device was busy generating (dfuDNBUSY, bwPollTimeout 50 ms) and
	 * the host waited it out: a GETSTATUS sent early would have stalled */
	assert_true(now_ms() - t0 >= 50);
	assert_int_equal(stamp_job_check_csr(csr, csr_len, nonce, sizeof(nonce),
	    why, sizeof(why)), 0);
	/* the CA's intake takes it (docs/device-csr.md) */
	assert_int_equal(hsm_csr_check(csr, csr_len, nonce, HSM_KEY_P256, &pub,
	    herr), 0);
	X509_PUBKEY_free(pub);
	free(csr);

	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_info(s, &after, err), 0);
	assert_int_equal(after.has_staged, 1);
	assert_int_equal(after.staged_generation, 1);
	assert_memory_equal(after.staged_digest, digest, 32);
	assert_int_equal(after.active_generation, 0);  /* inactive until commit */

	assert_int_equal(flasher_commit(s, &info, digest, 1, err), 0);
	assert_int_equal(flasher_info(s, &after, err), 0);
	assert_int_equal(after.active_generation, 1);
	assert_memory_equal(after.active_digest, digest, 32);
	assert_int_equal(after.has_staged, 0);
	assert_int_equal(flasher_info_stamped(&after), 1);

	/* a second stamp goes to the other slot; the first stays until commit */
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 2, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &after, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &after, digest, 2, err), 0);

	assert_int_equal(flasher_lock(s, &after, err), 0);
	assert_int_equal(flasher_info(s, &after, err), 0);
	assert_int_equal(after.locked, 1);
	/* a locked device takes nothing new */
	after.locked = 0;
	assert_int_equal(flasher_stage(s, &after, image, len, err), -1);
	assert_err(D_CLEAN, "errWRITE");
	assert_non_null(strstr(err, "device is locked"));
	flasher_session_close(s);
}

/* The device's own check refuses bad stamps at commit; nothing changes. */
static void
test_device_refuses_bad_stamps(void **state)
{
	struct flasher_session *s = open_dev(D_CHECKS);
	struct flasher_info info, after;
	uint8_t image[8192], digest[32], other_digest[32];
	EVP_PKEY *other = EVP_EC_gen("P-256");
	size_t len;

	(void)state;
	assert_int_equal(flasher_info(s, &info, err), 0);
	/* signed by a key the device does not trust */
	assert_int_equal(stamp_job_build(other, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), -1);
	assert_err(D_CHECKS, "errFILE");
	assert_non_null(strstr(err, "bad signature"));
	/* bound to another device */
	assert_int_equal(stamp_job_build(signer, (const uint8_t *)"SDOTHER", 7,
	    info.transport_key, 1, 0, image, sizeof(image), &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), -1);
	assert_err(D_CHECKS, "errTARGET");
	assert_non_null(strstr(err, "hardware id mismatch"));
	/* secrets sealed to another transport key do not open */
	uint8_t wrong_point[65];
	assert_int_equal(stamp_ossl_point(other, wrong_point), 0);
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, wrong_point, 1, 0, image, sizeof(image), &len,
	    digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), -1);
	assert_non_null(strstr(err, "does not open"));
	/* a development stamp, which this device (no --development) refuses */
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, STAMP_HF_DEVELOPMENT,
	    image, sizeof(image), &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), -1);
	assert_non_null(strstr(err, "development"));
	/* a commit naming another digest */
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	memcpy(other_digest, digest, 32);
	other_digest[0] ^= 1;
	assert_int_equal(flasher_commit(s, &info, other_digest, 1, err), -1);
	assert_non_null(strstr(err, "another stamp than the staged one"));
	assert_int_equal(flasher_info(s, &after, err), 0);
	assert_int_equal(after.active_generation, 0);
	/* now the good one, then a rollback to generation 1 is refused */
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), 0);
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), -1);
	assert_non_null(strstr(err, "generation not above"));
	/* a stamp too large for the slot never leaves the host */
	assert_int_equal(flasher_stage(s, &info, image, 8192, err), -1);
	assert_err(D_CHECKS, "does not fit");
	EVP_PKEY_free(other);
	flasher_session_close(s);
}

/* CSR faults: the flasher hands the CSR over; the CA's check refuses it. */
static void
test_csr_faults(void **state)
{
	static const struct { int k; const char *why; } cases[] = {
		{ D_CSR_KEY, "signature does not verify" },
		{ D_CSR_NO_NONCE, "carries no nonce" },
		{ D_CSR_WRONG_NONCE, "carries another nonce" },
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct flasher_session *s = open_dev(cases[i].k);
		struct flasher_info info;
		uint8_t nonce[32], *csr = NULL;
		size_t csr_len;
		char why[128] = "", herr[HSM_ERR_MAX];
		X509_PUBKEY *pub = NULL;

		RAND_bytes(nonce, sizeof(nonce));
		assert_int_equal(flasher_info(s, &info, err), 0);
		assert_int_equal(flasher_csr(s, &info, nonce, sizeof(nonce), NULL,
		    &csr, &csr_len, err), 0);
		assert_int_equal(stamp_job_check_csr(csr, csr_len, nonce,
		    sizeof(nonce), why, sizeof(why)), -1);
		assert_non_null(strstr(why, cases[i].why));
		/* and the CA's intake refuses it */
		assert_int_equal(hsm_csr_check(csr, csr_len, nonce, HSM_KEY_P256,
		    &pub, herr), -1);
		free(csr);
		flasher_session_close(s);
	}
}

static void
test_reply_faults(void **state)
{
	struct flasher_session *s;
	struct flasher_info info;

	(void)state;
	s = open_dev(D_SHORT);
	assert_int_equal(flasher_info(s, &info, err), -1);
	assert_err(D_SHORT, "info record (20 bytes) is invalid: truncated");
	flasher_session_close(s);
	s = open_dev(D_OVERSIZE);
	assert_int_equal(flasher_info(s, &info, err), -1);
	assert_err(D_OVERSIZE, "is invalid: trailing");
	flasher_session_close(s);
	/* a stalled GETSTATUS fails once; the next attempt recovers */
	s = open_dev(D_STALL);
	assert_int_equal(flasher_info(s, &info, err), -1);
	assert_err(D_STALL, "stalled DFU_GETSTATUS");
	assert_int_equal(flasher_info(s, &info, err), 0);
	flasher_session_close(s);
	/* unplugged in the middle of an upload */
	s = open_dev(D_VANISH);
	assert_int_equal(flasher_info(s, &info, err), -1);
	assert_err(D_VANISH, "disconnected during upload of alt 'info'");
	flasher_session_close(s);
}

static void
test_lock_and_readback_faults(void **state)
{
	struct flasher_session *s;
	struct flasher_info info;
	uint8_t image[8192], digest[32];
	size_t len;

	(void)state;
	s = open_dev(D_NO_LOCK);
	assert_int_equal(flasher_info(s, &info, err), 0);
	assert_int_equal(flasher_lock(s, &info, err), -1);
	assert_err(D_NO_LOCK, "errWRITE");
	assert_non_null(strstr(err, "lock refused"));
	flasher_session_close(s);
	s = open_dev(D_IGNORE_LOCK);
	assert_int_equal(flasher_info(s, &info, err), 0);
	assert_int_equal(flasher_lock(s, &info, err), -1);
	assert_err(D_IGNORE_LOCK, "reports itself unlocked");
	flasher_session_close(s);
	s = open_dev(D_FLIP);
	assert_int_equal(flasher_info(s, &info, err), 0);
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), -1);
	assert_err(D_FLIP, "read-back of the staged stamp differs at byte 100");
	flasher_session_close(s);
}

/* Read slot ${slot} of device K's flash file: 1 active, 0 not; *valid. */
static int
slot_state(int k, int slot, int *valid, uint8_t marker[16])
{
	char path[4200];
	static uint8_t part[16384];
	struct stamp_crypto crypto;
	struct stamp_ossl ossl;
	struct stamp_error e;
	struct stamp_view v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dev-%d/stamp.part", state_dir, k);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fread(part, 1, sizeof(part), f), sizeof(part));
	fclose(f);
	stamp_ossl_init(&ossl, NULL, NULL, &crypto);
	memcpy(marker, part + slot * 8192 + 8192 - 16, 16);
	*valid = stamp_read(&v, part + slot * 8192, 8192 - 16, &crypto, NULL,
	    &e) == 0;
	return *valid && stamp_marker_matches(&v, marker, 16);
}

static void
test_power_cuts(void **state)
{
	struct flasher_session *s;
	struct flasher_info info;
	uint8_t image[8192], digest[32], marker[16];
	size_t len;
	int valid;

	(void)state;
	/* cut after byte 200 of the stamp write */
	s = open_dev(D_POWERCUT);
	assert_int_equal(flasher_info(s, &info, err), 0);
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), -1);
	assert_err(D_POWERCUT, "disconnected during download of alt 'stamp'");
	flasher_session_close(s);
	assert_int_equal(slot_state(D_POWERCUT, 0, &valid, marker), 0);
	assert_int_equal(valid, 0);  /* partial image */
	assert_int_equal(slot_state(D_POWERCUT, 1, &valid, marker), 0);

	/* cut after 5 bytes of the commit marker: the stamp is not active */
	s = open_dev(D_COMMIT_CUT);
	assert_int_equal(flasher_info(s, &info, err), 0);
	assert_int_equal(stamp_job_build(signer, info.hardware_id,
	    info.hardware_id_len, info.transport_key, 1, 0, image, sizeof(image),
	    &len, digest), 0);
	assert_int_equal(flasher_stage(s, &info, image, len, err), 0);
	assert_int_equal(flasher_commit(s, &info, digest, 1, err), -1);
	assert_err(D_COMMIT_CUT, "disconnected");
	flasher_session_close(s);
	assert_int_equal(slot_state(D_COMMIT_CUT, 0, &valid, marker), 0);
	assert_int_equal(valid, 1);                  /* the image is complete */
	assert_memory_equal(marker, "SCOM\x01", 5);  /* the torn marker */
	assert_int_equal(marker[5], 0xff);
}

static void
test_many_at_once(void **state)
{
	const int ks[] = { D_CHECKS, D_SLOW, D_POWERCUT, D_CLONE, D_CLEAN };
	struct flasher_device set[5];
	struct flasher_result results[5];
	struct stamp_job job = { .signer = signer,
		.mutex = PTHREAD_MUTEX_INITIALIZER };

	(void)state;
	for (size_t i = 0; i < 5; i++)
		set[i] = *dev(ks[i]);
	/* 1-15 vanished in the power-cut test: not in a fresh listing, but
	 * this set is stale on purpose: its session fails to open */
	assert_int_equal(flasher_run(fl, set, 5, stamp_job_run, &job, results), 3);
	assert_int_equal(results[0].ok, 1);
	assert_string_equal(results[0].path, "1-2");
	assert_int_equal(results[1].ok, 1);
	assert_string_equal(results[1].path, "1-17");
	assert_int_equal(results[2].ok, 0);
	assert_non_null(strstr(results[2].err, "device 1-15"));
	if (strstr(results[2].err, "no longer attached") == NULL)
		fail_msg("1-15: %s", results[2].err);
	assert_int_equal(results[3].ok, 0);
	assert_non_null(strstr(results[3].err, "device 1-13"));
	assert_non_null(strstr(results[3].err, "cloned"));
	assert_int_equal(results[4].ok, 0);
	assert_non_null(strstr(results[4].err, "device 1-1 "));
	assert_non_null(strstr(results[4].err, "cloned"));
	/* the slow device held up nobody: the fast one finished first */
	assert_true(results[0].ms < results[1].ms);

	/* a clone alone: the flasher cannot tell, the inventory can (here the
	 * job's list of stamped hardware ids; 1-1 was stamped in
	 * test_round_trip) */
	memcpy(job.seen[job.nseen], dev(D_CLEAN)->serial,
	    strlen(dev(D_CLEAN)->serial) + 1);
	strcpy(job.seen_path[job.nseen++], "1-1");
	set[0] = *dev(D_CLONE);
	assert_int_equal(flasher_run(fl, set, 1, stamp_job_run, &job, results), 1);
	assert_non_null(strstr(results[0].err, "device 1-13"));
	assert_non_null(strstr(results[0].err, "already stamped (device at 1-1)"));
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_device_refuses_bad_stamps),
		cmocka_unit_test(test_csr_faults),
		cmocka_unit_test(test_reply_faults),
		cmocka_unit_test(test_lock_and_readback_faults),
		cmocka_unit_test(test_power_cuts),
		cmocka_unit_test(test_many_at_once),
	};
	(void)argc;
	if (getenv("UMOCKDEV_DIR") == NULL) {
		char emu[4096], self[4096], dir[] = "/tmp/test_profile.XXXXXX";
		const char *args[64];
		const char *build = getenv("BUILD");
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		size_t a = 0;

		if (n < 0 || mkdtemp(dir) == NULL)
			return 1;
		self[n] = '\0';
		setenv("PROFILE_STATE", dir, 1);
		snprintf(emu, sizeof(emu), "%s/stampdev-emu", build ? build : "build");
#ifdef __SANITIZE_ADDRESS__
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
#endif
		args[a++] = emu;
		args[a++] = "--devices";
		args[a++] = "18";
		args[a++] = "--state";
		args[a++] = dir;
		args[a++] = "--trust";
		args[a++] = "stamp-format/vectors/signer.pem";
		args[a++] = "--keygen-ms";
		args[a++] = "50";
		for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
			args[a++] = "--fault";
			args[a++] = faults[i];
		}
		args[a++] = "--";
		args[a++] = self;
		args[a] = NULL;
		execv(emu, (char *const *)args);
		fprintf(stderr, "%s: cannot run %s (build it with make): %m\n",
		    argv[0], emu);
		return 1;
	}
	state_dir = getenv("PROFILE_STATE");
	if (state_dir == NULL)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
