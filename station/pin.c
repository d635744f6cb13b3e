/*
 * pin.c: the officer's PIN, from the terminal or a private PIN file, and
 * opening the configured token with it.
 *
 * A PIN file is a development and CI convenience: it must be a regular
 * file, not a symlink, with no group or other permission bits, at most
 * HSM_PIN_MAX bytes plus one line end; production mode refuses it unless
 * [hsm] allow_pin_file = yes. The terminal prompt reads /dev/tty with echo
 * off (so neither stdin redirection nor a pipe can feed it by accident).
 * Every buffer that held the PIN is wiped on every path.
 *
 * A process that holds the PIN, or the token login it opens (SoftHSM
 * keeps the token's keys decrypted in the process), makes itself
 * non-dumpable and sets its core limit to 0 before it reads the PIN: no
 * core file, no ptrace attach or /proc/PID/mem read by another process of
 * the same user. The login lasts as long as the process, so this is never
 * undone.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "station/pin.h"

static int
fmt_err(char err[static HSM_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fmt_err(char err[static HSM_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, HSM_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

/* take_line(buf, n, pin, what, err): ${buf} minus one line end -> pin. */
static int
take_line(char *buf, size_t n, char pin[static HSM_PIN_MAX + 1],
    const char *what, char err[static HSM_ERR_MAX])
{
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0)
		return fmt_err(err, "%s: the PIN is empty", what);
	if (n > HSM_PIN_MAX)
		return fmt_err(err, "%s: the PIN is longer than %d bytes", what,
		    HSM_PIN_MAX);
	if (memchr(buf, '\0', n) != NULL || memchr(buf, '\n', n) != NULL)
		return fmt_err(err, "%s: expected one line holding the PIN",
		    what);
	memcpy(pin, buf, n);
	pin[n] = '\0';
	return 0;
}

static int
read_pin_file(const char *file, char pin[static HSM_PIN_MAX + 1],
    char err[static HSM_ERR_MAX])
{
	char buf[HSM_PIN_MAX + 3];
	struct stat st;
	ssize_t got;
	size_t n = 0;
	int fd, ret = -1;

	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return fmt_err(err, "cannot read the PIN file %s: %s", file,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fmt_err(err, "PIN file %s is not a regular file", file);
		goto cleanup;
	}
	if ((st.st_mode & 077) != 0) {
		fmt_err(err, "PIN file %s is readable or writable by others "
		    "(mode %04o); refused: chmod 600 %s", file,
		    (unsigned)(st.st_mode & 07777), file);
		goto cleanup;
	}
	while (n < sizeof(buf) && (got = read(fd, buf + n, sizeof(buf) - n)) !=
	    0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fmt_err(err, "cannot read the PIN file %s: %s", file,
			    strerror(errno));
			goto cleanup;
		}
		n += (size_t)got;
	}
	if (n == sizeof(buf)) {
		fmt_err(err, "PIN file %s: the PIN is longer than %d bytes", file,
		    HSM_PIN_MAX);
		goto cleanup;
	}
	ret = take_line(buf, n, pin, file, err);
cleanup:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return ret;
}

static int
read_pin_tty(const char *token, char pin[static HSM_PIN_MAX + 1],
    char err[static HSM_ERR_MAX])
{
	char buf[HSM_PIN_MAX + 3];
	struct termios old, quiet;
	ssize_t got;
	size_t n = 0;
	int fd, ret = -1, restore = 0;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return fmt_err(err, "no terminal to ask for the PIN of '%s' "
		    "(development: --pin-file FILE or [hsm] pin_file)", token);
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = 1;
	}
	if (!restore) {
		fmt_err(err, "cannot turn off echo on the terminal");
		goto cleanup;
	}
	dprintf(fd, "PIN for %s: ", token);
	while (n < sizeof(buf)) {
		got = read(fd, buf + n, sizeof(buf) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		if (buf[n - 1] == '\n')
			break;
	}
	dprintf(fd, "\n");
	if (n == sizeof(buf)) {
		fmt_err(err, "the PIN is longer than %d bytes", HSM_PIN_MAX);
		goto cleanup;
	}
	ret = take_line(buf, n, pin, "terminal", err);
cleanup:
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return ret;
}

int
pin_protect_process(char err[static HSM_ERR_MAX])
{
	const struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return fmt_err(err, "cannot disable core dumps (RLIMIT_CORE): %s",
		    strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return fmt_err(err, "cannot make the process non-dumpable "
		    "(PR_SET_DUMPABLE): %s", strerror(errno));
	return 0;
}

int
pin_read(const struct station_config *cfg, const char *pin_file,
    char pin[static HSM_PIN_MAX + 1], char err[static HSM_ERR_MAX])
{
	const char *file = pin_file ? pin_file :
	    cfg->hsm_pin_file[0] != '\0' ? cfg->hsm_pin_file : NULL;
	int ret;

	if (file != NULL && cfg->mode == STATION_MODE_PRODUCTION &&
	    !cfg->hsm_allow_pin_file)
		return fmt_err(err, "PIN file refused in production mode: the "
		    "security officer types the PIN (or set [hsm] allow_pin_file "
		    "= yes)");
	if (pin_protect_process(err) != 0)
		return -1;
	if (file != NULL)
		ret = read_pin_file(file, pin, err);
	else
		ret = read_pin_tty(cfg->hsm_token, pin, err);
	if (ret != 0)
		OPENSSL_cleanse(pin, HSM_PIN_MAX + 1);
	return ret;
}

int
pin_open_token(const struct station_config *cfg, const char *pin_file,
    struct hsm **out, char err[static HSM_ERR_MAX])
{
	char pin[HSM_PIN_MAX + 1];
	int ret;

	*out = NULL;
	if (cfg->hsm_softhsm_conf[0] != '\0' &&
	    setenv("SOFTHSM2_CONF", cfg->hsm_softhsm_conf, 1) != 0)
		return fmt_err(err, "cannot set SOFTHSM2_CONF: %s",
		    strerror(errno));
	if (pin_read(cfg, pin_file, pin, err) != 0)
		return -1;
	ret = hsm_open(out, cfg->hsm_module, cfg->hsm_token, pin, err);
	OPENSSL_cleanse(pin, sizeof(pin));
	return ret;
}
