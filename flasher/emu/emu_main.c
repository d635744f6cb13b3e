/*
 * emu_main.c: stampdev-emu, emulated stamp devices served on umockdev.
 *
 *   stampdev-emu [--devices N] [--state DIR] [--arrive-every MS]
 *                [--fault SPEC]... [--raw] [--trust PEM] [--keygen-ms MS]
 *                [--development] [--attest-ca DIR | --attest-chain PEM
 *                --attest-key PEM] [--verbose] -- COMMAND [ARG]...
 *
 * Like umockdev-run, it builds a fake /sys and /dev (umockdev testbed),
 * attaches one ioctl handler per device node, runs COMMAND with the
 * umockdev preload and UMOCKDEV_DIR set, and exits with COMMAND's status,
 * removing its /tmp/umockdev.* folder. COMMAND drives the devices through
 * plain libusb (the station, dfu-util, ...): there is no other transport.
 *
 * The emulator itself runs under the preload too (it re-executes itself
 * with it): only then do umockdev's uevents reach the clients, so a
 * client's libusb sees devices arrive (--arrive-every: device K arrives
 * K*MS ms after COMMAND starts) and leave (--fault K:leave@MS, or a
 * device vanishing mid-transfer) while it runs.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#include "flasher/emu/emu.h"

#define PRELOAD "libumockdev-preload.so.0"

pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
int emu_verbose;
static struct emu_device devices[EMU_MAX_DEVICES];
static int ndevices = 1;
static volatile sig_atomic_t got_signal;

long long
emu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
emu_log(const struct emu_device *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "stampdev-emu: %s (%s): ", d->sysname, d->serial);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
usage(FILE *out)
{
	fprintf(out, "Usage: stampdev-emu [--devices N] [--state DIR] "
	    "[--arrive-every MS]\n"
	    "                    [--fault SPEC]... [--raw] [--trust PEM] "
	    "[--keygen-ms MS]\n                    [--development] "
	    "[--attest-ca DIR | --attest-chain PEM --attest-key PEM]\n"
	    "                    [--verbose] -- COMMAND [ARG]...\n"
	    "\nServes N emulated stamp devices (USB DFU 1.1, VID:PID %04x:%04x) "
	    "on umockdev\nand runs COMMAND against them; exits with its status.\n"
	    "  --devices N        how many devices, 1-%d (default 1); device K is "
	    "on port 1-K\n"
	    "  --state DIR        keep each device (serial, transport key, "
	    "flash) in DIR/dev-K\n"
	    "                     (default: a temporary folder removed at exit)\n"
	    "  --arrive-every MS  no device at start; device K arrives K*MS ms "
	    "later\n"
	    "  --fault [K:]KIND@N fault on device K (default: every device):\n"
	    "       vanish@BYTE   unplugged when a transfer reaches byte BYTE\n"
	    "       error@BYTE    the write of byte BYTE fails (dfuERROR, "
	    "errWRITE)\n"
	    "       stall@BYTE    the DNLOAD carrying byte BYTE is stalled (once)\n"
	    "       slow@MS       every block and manifestation busy for MS ms "
	    "(dfuDNBUSY)\n"
	    "       leave@MS      unplugged MS ms after it arrived\n"
	    "       wait-reset@MS not manifestation tolerant: dfuMANIFEST for MS "
	    "ms, then\n                     dfuMANIFEST-WAIT-RESET until a USB "
	    "reset\n"
	    "       powercut@BYTE stamp write: power lost after byte BYTE (that "
	    "many bytes\n                     programmed); the device is gone "
	    "for this run\n"
	    "       commit-cut@N  commit: power lost after N (0-15) bytes of the "
	    "marker\n"
	    "       stall-req@R   stalls the first DFU request R (0 DETACH .. 6 "
	    "ABORT)\n"
	    "       csr-other-key@1, csr-no-nonce@1, csr-wrong-nonce@1\n"
	    "                     the CSR is signed by another key / lacks the "
	    "nonce /\n                     carries another nonce\n"
	    "       short@N       every upload ends after N bytes\n"
	    "       oversize@N    every upload has N extra bytes\n"
	    "       flip@BYTE     stamp read-back: byte BYTE has a bit flipped\n"
	    "       bad-desc@1|2  1: wTransferSize 0; 2: alt names not the "
	    "profile's\n"
	    "       clone@K       reports device K's hardware id (a cloned "
	    "serial)\n"
	    "       no-lock@1|2   1: refuses to lock (errWRITE); 2: ignores "
	    "the request\n"
	    "       attest-bad-sig@1, attest-wrong-nonce@1, attest-unknown-root@1,\n"
	    "       attest-expired@1, attest-none@1, attest-other-key@1\n"
	    "                     attestation: a flipped signature bit / a valid "
	    "signature\n                     over another nonce / a certificate "
	    "from a look-alike\n                     root / an expired "
	    "certificate / no attestation / the\n                     hash of "
	    "another key than the keygen's\n"
	    "  --raw              every alt a plain file (a bare DFU device, no "
	    "stamp profile)\n"
	    "  --trust PEM        stamp signer (public key or certificate) every "
	    "device\n                     trusts (else DIR/dev-K/trust.pem; "
	    "none: commit refused)\n"
	    "  --keygen-ms MS     on-device keygen time, reported as dfuDNBUSY "
	    "(default 300)\n"
	    "  --development      accept development stamps (capability bit 4)\n"
	    "  --attest-ca DIR    chip-vendor attestation (TEST-ONLY): the vendor "
	    "root in\n                     DIR/vendor-ca.pem (made once), a fresh "
	    "attestation key\n                     and certificate per device "
	    "(STATE/dev-K/attest.pem)\n"
	    "  --attest-chain PEM --attest-key PEM\n"
	    "                     a given attestation chain (leaf first) and leaf "
	    "key\n"
	    "  --verbose          log arrivals, departures and unhandled ioctls\n"
	    "Protocol violations by the host are logged to stderr as "
	    "'stalled ...'.\n", EMU_VID, EMU_PID, EMU_MAX_DEVICES);
}

static int
parse_num(const char *s, long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno || end == s || *end || *out < 0 || *out > max ? -1 : 0;
}

static int
attest_fault(const char *kind)
{
	static const char *const kinds[] = { "", "bad-sig", "wrong-nonce",
	    "unknown-root", "expired", "none", "other-key" };

	for (int i = 1; i < (int)(sizeof(kinds) / sizeof(kinds[0])); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return i;
	return 0;
}

static int
parse_fault(const char *spec)
{
	const char *kind = spec, *at, *colon = strchr(spec, ':');
	long long dev = 0, n;
	char name[24];
	int first, last;

	if (colon) {
		char num[12];
		if ((size_t)(colon - spec) >= sizeof(num))
			goto bad;
		memcpy(num, spec, (size_t)(colon - spec));
		num[colon - spec] = '\0';
		if (parse_num(num, EMU_MAX_DEVICES, &dev) != 0 || dev < 1)
			goto bad;
		kind = colon + 1;
	}
	if ((at = strchr(kind, '@')) == NULL || (size_t)(at - kind) >= sizeof(name))
		goto bad;
	memcpy(name, kind, (size_t)(at - kind));
	name[at - kind] = '\0';
	if (parse_num(at + 1, 1LL << 40, &n) != 0)
		goto bad;
	first = dev ? (int)dev : 1;
	last = dev ? (int)dev : EMU_MAX_DEVICES;
	for (int i = first - 1; i < last; i++) {
		struct emu_device *d = &devices[i];
		if (strcmp(name, "vanish") == 0)
			d->vanish_at = (size_t)n;
		else if (strcmp(name, "error") == 0)
			d->error_at = (size_t)n;
		else if (strcmp(name, "stall") == 0)
			d->stall_at = (size_t)n;
		else if (strcmp(name, "slow") == 0 && n <= 0xffffff)
			d->slow_ms = (uint32_t)n;
		else if (strcmp(name, "leave") == 0)
			d->leave_after_ms = n;
		else if (strcmp(name, "wait-reset") == 0 && n <= 0xffffff) {
			d->wait_reset = true;
			d->manifest_ms = (uint32_t)n;
		}
		else if (strcmp(name, "powercut") == 0)
			d->powercut_at = (size_t)n;
		else if (strcmp(name, "commit-cut") == 0 && n < EMU_WRITE_UNIT)
			d->commit_cut = (int)n;
		else if (strcmp(name, "stall-req") == 0 && n <= 6)
			d->stall_req = (int)n;
		else if (strcmp(name, "csr-other-key") == 0)
			d->csr_fault = EMU_CSR_OTHER_KEY;
		else if (strcmp(name, "csr-no-nonce") == 0)
			d->csr_fault = EMU_CSR_NO_NONCE;
		else if (strcmp(name, "csr-wrong-nonce") == 0)
			d->csr_fault = EMU_CSR_WRONG_NONCE;
		else if (strcmp(name, "short") == 0)
			d->short_at = (size_t)n;
		else if (strcmp(name, "oversize") == 0 && n <= 1 << 24)
			d->oversize = (size_t)n;
		else if (strcmp(name, "flip") == 0)
			d->flip_at = (size_t)n;
		else if (strcmp(name, "bad-desc") == 0 && n >= 1 && n <= 2)
			d->bad_desc = (int)n;
		else if (strcmp(name, "clone") == 0 && n >= 1 && n <= EMU_MAX_DEVICES)
			d->clone_of = (int)n;
		else if (strcmp(name, "no-lock") == 0 && n >= 1 && n <= 2)
			d->no_lock = (int)n;
		else if (strncmp(name, "attest-", 7) == 0 && n == 1 &&
		    (d->attest_fault = attest_fault(name + 7)) != 0)
			;
		else
			goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "stampdev-emu: bad --fault '%s': expected [K:]KIND@N with "
	    "a KIND listed by --help\n", spec);
	return -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* Plug ${d} in: handler first, then the sysfs entry (sends "add"). */
static void
arrive(UMockdevTestbed *tb, struct emu_device *d)
{
	GError *err = NULL;
	char *record;

	if (!umockdev_testbed_attach_ioctl(tb, d->devnode, d->handler, &err)) {
		fprintf(stderr, "stampdev-emu: %s: %s\n", d->devnode, err->message);
		g_clear_error(&err);
		return;
	}
	pthread_mutex_lock(&emu_lock);
	emu_dfu_reset(d);
	d->presence = DEV_PRESENT;
	d->arrived_ms = emu_now_ms();
	pthread_mutex_unlock(&emu_lock);
	record = emu_usb_sysfs_record(d);
	if (!umockdev_testbed_add_from_string(tb, record, &err)) {
		fprintf(stderr, "stampdev-emu: %s: %s\n", d->sysname, err->message);
		g_clear_error(&err);
	}
	g_free(record);
	if (emu_verbose)
		emu_log(d, "arrived");
}

/*
 * Unplug ${d}: answer ENODEV, tell clients ("remove"), then drop its sysfs
 * entry. Its ioctl handler stays attached (answering ENODEV) until the
 * emulator ends: detaching it while a client still has the node open
 * leaves that client blocked in its ioctl for good. Device nodes are
 * never reused, so nothing else needs the node.
 */
static void
leave(UMockdevTestbed *tb, struct emu_device *d, bool announce)
{
	pthread_mutex_lock(&emu_lock);
	d->presence = DEV_GONE;
	d->vanish_pending = false;
	pthread_mutex_unlock(&emu_lock);
	if (announce)
		umockdev_testbed_uevent(tb, d->syspath, "remove");
	umockdev_testbed_remove_device(tb, d->syspath);
	if (emu_verbose)
		emu_log(d, "left");
}

/* One pass of the main loop: arrivals, departures and vanished devices. */
static void
tick(UMockdevTestbed *tb, long long start, long long arrive_every)
{
	long long now = emu_now_ms();

	for (int i = 0; i < ndevices; i++) {
		struct emu_device *d = &devices[i];
		bool gone, leaving;

		if (d->presence == DEV_ABSENT) {
			if (now >= start + arrive_every * d->index)
				arrive(tb, d);
			continue;
		}
		pthread_mutex_lock(&emu_lock);
		gone = d->vanish_pending;
		leaving = d->presence == DEV_PRESENT && d->leave_after_ms >= 0 &&
		    now >= d->arrived_ms + d->leave_after_ms;
		pthread_mutex_unlock(&emu_lock);
		if (gone || leaving)
			leave(tb, d, true);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "devices", required_argument, NULL, 'n' },
		{ "state", required_argument, NULL, 's' },
		{ "arrive-every", required_argument, NULL, 'a' },
		{ "fault", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "raw", no_argument, NULL, 'r' },
		{ "trust", required_argument, NULL, 't' },
		{ "keygen-ms", required_argument, NULL, 'k' },
		{ "development", no_argument, NULL, 'D' },
		{ "attest-ca", required_argument, NULL, 'A' },
		{ "attest-chain", required_argument, NULL, 'C' },
		{ "attest-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char tmp_state[] = "/tmp/stampdev-emu.XXXXXX";
	const char *state = NULL, *preload = getenv("LD_PRELOAD");
	long long arrive_every = -1, n, keygen_ms = 300;
	const char *trust = NULL, *attest_ca = NULL, *attest_chain = NULL;
	const char *attest_key = NULL;
	bool raw = false, development = false;
	UMockdevTestbed *tb = NULL;
	int c, status = 0, ret = 2;
	pid_t child = -1;
	long long start;
	bool made_tmp = false;

	for (int i = 0; i < EMU_MAX_DEVICES; i++) {
		devices[i].index = i + 1;
		devices[i].vanish_at = devices[i].error_at = SIZE_MAX;
		devices[i].stall_at = SIZE_MAX;
		devices[i].leave_after_ms = -1;
		devices[i].powercut_at = devices[i].short_at = SIZE_MAX;
		devices[i].flip_at = SIZE_MAX;
		devices[i].commit_cut = devices[i].stall_req = -1;
	}
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_num(optarg, EMU_MAX_DEVICES, &n) != 0 || n < 1) {
				fprintf(stderr, "stampdev-emu: --devices: expected 1 to %d, "
				    "got '%s'\n", EMU_MAX_DEVICES, optarg);
				return 2;
			}
			ndevices = (int)n;
			break;
		case 's':
			state = optarg;
			break;
		case 'a':
			if (parse_num(optarg, 3600000, &arrive_every) != 0) {
				fprintf(stderr, "stampdev-emu: --arrive-every: expected "
				    "milliseconds, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'f':
			if (parse_fault(optarg) != 0)
				return 2;
			break;
		case 'v':
			emu_verbose = 1;
			break;
		case 'r':
			raw = true;
			break;
		case 't':
			trust = optarg;
			break;
		case 'D':
			development = true;
			break;
		case 'A':
			attest_ca = optarg;
			break;
		case 'C':
			attest_chain = optarg;
			break;
		case 'K':
			attest_key = optarg;
			break;
		case 'k':
			if (parse_num(optarg, 60000, &keygen_ms) != 0) {
				fprintf(stderr, "stampdev-emu: --keygen-ms: expected 0 to "
				    "60000 ms, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((attest_chain == NULL) != (attest_key == NULL) ||
	    (attest_ca && attest_chain)) {
		fprintf(stderr, "stampdev-emu: give either --attest-ca DIR or both "
		    "--attest-chain PEM and --attest-key PEM\n");
		return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "stampdev-emu: no COMMAND; usage: stampdev-emu "
		    "[options] -- COMMAND [ARG]...\n");
		return 2;
	}
	/* uevents reach clients only when the emulator runs under the preload
	 * itself: re-execute once with it (after any existing entries, so an
	 * ASan runtime stays first). */
	if (preload == NULL || strstr(preload, "libumockdev-preload") == NULL) {
		char *value = preload && *preload ?
		    g_strdup_printf("%s:%s", preload, PRELOAD) : g_strdup(PRELOAD);
		char self[PATH_MAX];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

		setenv("LD_PRELOAD", value, 1);
		g_free(value);
		self[len > 0 ? len : 0] = '\0';
		execv(len > 0 ? self : "/proc/self/exe", argv);
		fprintf(stderr, "stampdev-emu: cannot re-execute with %s: %s\n",
		    PRELOAD, strerror(errno));
		return 2;
	}
	if (state == NULL) {
		if (mkdtemp(tmp_state) == NULL) {
			fprintf(stderr, "stampdev-emu: mkdtemp: %s\n", strerror(errno));
			return 2;
		}
		made_tmp = true;
	} else if (mkdir(state, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "stampdev-emu: cannot create state folder %s: %s\n",
		    state, strerror(errno));
		return 2;
	}
	for (int i = 0; i < ndevices; i++) {
		struct emu_device *d = &devices[i];
		if (emu_state_device(d, state ? state : tmp_state, raw) != 0)
			goto out;
		if (trust && !raw && emu_state_trust(d, trust) != 0)
			goto out;
		d->development = development;
		d->keygen_ms = (uint32_t)keygen_ms;
		snprintf(d->sysname, sizeof(d->sysname), "1-%d", d->index);
		snprintf(d->syspath, sizeof(d->syspath), "/sys/devices/usb1/1-%d",
		    d->index);
		d->devnum = d->index + 1;
		snprintf(d->devnode, sizeof(d->devnode), "/dev/bus/usb/001/%03d",
		    d->devnum);
		d->done = g_queue_new();
		d->handler = emu_usb_handler_new(d);
	}
	for (int i = 0; i < ndevices; i++) {
		struct emu_device *d = &devices[i];
		if (d->clone_of > 0 && d->clone_of <= ndevices)
			memcpy(d->serial, devices[d->clone_of - 1].serial,
			    sizeof(d->serial));
	}
	if (!raw && emu_attest_setup(devices, ndevices, attest_ca, attest_chain,
	    attest_key) != 0)
		goto out;
	tb = umockdev_testbed_new();
	if (arrive_every < 0)
		tick(tb, 0, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	fflush(NULL);
	if ((child = fork()) < 0) {
		fprintf(stderr, "stampdev-emu: fork: %s\n", strerror(errno));
		goto out;
	}
	if (child == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "stampdev-emu: cannot run %s: %s\n", argv[optind],
		    strerror(errno));
		_exit(127);
	}
	start = emu_now_ms();
	for (;;) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w == child)
			break;
		if (w < 0 && errno != EINTR) {
			fprintf(stderr, "stampdev-emu: waitpid: %s\n", strerror(errno));
			goto out;
		}
		if (got_signal) {
			kill(child, got_signal);
			got_signal = 0;
		}
		tick(tb, start, arrive_every < 0 ? 0 : arrive_every);
		nanosleep(&pause, NULL);
	}
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	for (int i = 0; i < ndevices; i++) {
		struct emu_device *d = &devices[i];
		if (tb && d->presence == DEV_PRESENT)
			leave(tb, d, false);
		if (tb && d->presence != DEV_ABSENT)
			umockdev_testbed_detach_ioctl(tb, d->devnode, NULL);
	}
	if (tb)
		g_object_unref(tb);
	for (int i = 0; i < ndevices; i++) {
		if (devices[i].handler)
			g_object_unref(devices[i].handler);
		if (devices[i].done) {
			emu_usb_drop_done(&devices[i], NULL);
			g_queue_free(devices[i].done);
		}
		emu_alts_free(&devices[i]);
		emu_attest_free(&devices[i]);
		emu_state_free(&devices[i]);
	}
	if (made_tmp)
		nftw(tmp_state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return ret;
}
