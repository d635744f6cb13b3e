/*
 * cmd_flash.c: `station flash` and `station read`, raw DFU download and
 * upload of one alt setting of any DFU 1.1 device.
 *
 *   station flash [--device SERIAL] [--path PORT] --alt NAME FILE
 *   station read  [--device SERIAL] [--path PORT] --alt NAME -o FILE
 *
 * With several devices attached one must be chosen; the verbs refuse to
 * guess (exit 2). Progress goes to stderr when it is a terminal. They need
 * no station.conf: --home is accepted and not read. `read` writes FILE
 * through a temporary file and a rename, so FILE is never half-written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flasher/flasher.h"
#include "station/station.h"

STATION_VERB(flash, "Download a file to an alt setting of a DFU device (raw)");
STATION_VERB(read, "Upload an alt setting of a DFU device to a file (raw)");

#define IMAGE_MAX (16u << 20)

struct opts {
	const char *serial, *path, *alt, *file;
};

static void
usage(FILE *out, int is_read)
{
	if (is_read)
		fprintf(out, "Usage: station read [--device SERIAL] [--path PORT] "
		    "--alt NAME -o FILE\n\nUploads alt setting NAME of a DFU device "
		    "into FILE (replaced atomically).\n");
	else
		fprintf(out, "Usage: station flash [--device SERIAL] [--path PORT] "
		    "--alt NAME FILE\n\nDownloads FILE to alt setting NAME of a DFU "
		    "device and waits for\nmanifestation.\n");
	fprintf(out, "  --device SERIAL  the device with this USB serial "
	    "(hardware id)\n"
	    "  --path PORT      the device at this port path (see 'station "
	    "devices')\n"
	    "  --alt NAME       the alt setting, by name\n"
	    "  --home DIR       accepted; this verb needs no station.conf\n"
	    "With one device attached no choice is needed.\n"
	    "Exit codes: 0 done, 1 the transfer failed or no such device, "
	    "2 usage.\n");
}

static int
parse(int argc, char *argv[], int is_read, struct opts *o)
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "device", required_argument, NULL, 'd' },
		{ "path", required_argument, NULL, 'p' },
		{ "alt", required_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = is_read ? "read" : "flash";
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, is_read ? "ho:" : "h", options,
	    NULL)) != -1) {
		switch (c) {
		case 'H': break;
		case 'd': o->serial = optarg; break;
		case 'p': o->path = optarg; break;
		case 'a': o->alt = optarg; break;
		case 'o':
			if (!is_read)
				goto bad;
			o->file = optarg;
			break;
		case 'h':
			usage(stdout, is_read);
			return 1;
		default:
			goto bad;
		}
	}
	if (!is_read && optind < argc)
		o->file = argv[optind++];
	if (optind != argc) {
		station_err("%s: unexpected argument '%s'", verb, argv[optind]);
		return -1;
	}
	if (o->alt == NULL || o->alt[0] == '\0') {
		station_err("%s: no alt setting: pass --alt NAME (see 'station "
		    "devices')", verb);
		return -1;
	}
	if (o->file == NULL) {
		station_err(is_read ? "read: no output file: pass -o FILE" :
		    "flash: no image: pass FILE");
		return -1;
	}
	return 0;
bad:
	usage(stderr, is_read);
	return -1;
}

static void
progress(void *arg, size_t done, size_t total)
{
	const char *what = arg;

	if (total)
		fprintf(stderr, "\r%s: %zu of %zu bytes (%zu%%)", what, done, total,
		    done * 100 / total);
	else
		fprintf(stderr, "\r%s: %zu bytes", what, done);
}

/* List, choose, open. Returns 0, or the exit code. */
static int
open_chosen(const char *verb, const struct opts *o, struct flasher **fl,
    struct flasher_session **s)
{
	struct flasher_device *devs = NULL;
	char err[FLASHER_ERR_MAX];
	size_t n = 0, i = 0;
	int rc, ret = EXIT_FAILED;

	if (flasher_open(fl, err) != 0 || flasher_list(*fl, NULL, 0, &devs, &n, err) != 0) {
		station_err("%s: %s", verb, err);
		goto out;
	}
	rc = flasher_select(devs, n, o->serial, o->path, &i, err);
	if (rc == -2 && o->serial == NULL && o->path == NULL) {
		station_err("%s: %zu DFU devices are attached; choose one with "
		    "--device SERIAL or --path PORT (see 'station devices')", verb, n);
		ret = EXIT_USAGE;
		goto out;
	}
	if (rc == -2) {
		station_err("%s: %s; choose one with --path PORT (see 'station "
		    "devices')", verb, err);
		ret = EXIT_USAGE;
		goto out;
	}
	if (rc != 0) {
		station_err("%s: %s (see 'station devices')", verb, err);
		goto out;
	}
	if (flasher_alt_index(&devs[i], o->alt) < 0) {
		size_t used = 0;
		for (size_t a = 0; a < devs[i].dfu.nalts && used < sizeof(err); a++)
			used += (size_t)snprintf(err + used, sizeof(err) - used,
			    "%s'%s'", a ? ", " : "", devs[i].alt_names[a]);
		station_err("%s: device %s (serial %s) has no alt setting '%s' (it "
		    "has %s)", verb, devs[i].path, devs[i].serial, o->alt, err);
		ret = EXIT_USAGE;
		goto out;
	}
	if (flasher_session_open(*fl, &devs[i], s, err) != 0) {
		station_err("%s: %s", verb, err);
		goto out;
	}
	ret = 0;
out:
	flasher_list_free(devs);
	return ret;
}

static int
read_image(const char *file, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t done = 0;
	int fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		station_err("flash: cannot read %s: %s", file, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > IMAGE_MAX) {
		station_err("flash: %s: expected a regular file of 1 to %u bytes",
		    file, IMAGE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		goto fail;
	while (done < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);
		if (r <= 0) {
			station_err("flash: cannot read %s: %s", file,
			    r ? strerror(errno) : "file shrank");
			goto fail;
		}
		done += (size_t)r;
	}
	close(fd);
	*data = buf;
	*len = done;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return -1;
}

int
flash_main(int argc, char *argv[])
{
	struct flasher *fl = NULL;
	struct flasher_session *s = NULL;
	char err[FLASHER_ERR_MAX], what[160];
	uint8_t *image = NULL;
	size_t len = 0;
	struct opts o;
	int rc, tty = isatty(STDERR_FILENO);

	if ((rc = parse(argc, argv, 0, &o)) != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (read_image(o.file, &image, &len) != 0)
		return EXIT_USAGE;
	if ((rc = open_chosen("flash", &o, &fl, &s)) != 0)
		goto out;
	snprintf(what, sizeof(what), "flash %s to alt '%s'", o.file, o.alt);
	rc = flasher_download(s, o.alt, image, len, tty ? progress : NULL, what,
	    err);
	if (tty)
		fputc('\n', stderr);
	if (rc != 0) {
		station_err("flash: %s", err);
		rc = EXIT_FAILED;
		goto out;
	}
	rc = EXIT_OK;
out:
	flasher_session_close(s);
	flasher_close(fl);
	free(image);
	return rc;
}

static int
write_file(const char *file, const uint8_t *data, size_t len)
{
	char tmp[4096];
	size_t done = 0;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >= (int)sizeof(tmp)) {
		station_err("read: path too long: %s", file);
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		station_err("read: cannot write %s: %s", file, strerror(errno));
		return -1;
	}
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, file) != 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	station_err("read: cannot write %s: %s", file, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

int
read_main(int argc, char *argv[])
{
	struct flasher *fl = NULL;
	struct flasher_session *s = NULL;
	char err[FLASHER_ERR_MAX], what[160];
	uint8_t *data = NULL;
	size_t len = 0;
	struct opts o;
	int rc, tty = isatty(STDERR_FILENO);

	if ((rc = parse(argc, argv, 1, &o)) != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = open_chosen("read", &o, &fl, &s)) != 0)
		goto out;
	snprintf(what, sizeof(what), "read alt '%s' to %s", o.alt, o.file);
	rc = flasher_upload(s, o.alt, IMAGE_MAX, &data, &len, tty ? progress : NULL,
	    what, err);
	if (tty)
		fputc('\n', stderr);
	if (rc != 0) {
		station_err("read: %s", err);
		rc = EXIT_FAILED;
		goto out;
	}
	rc = write_file(o.file, data, len) == 0 ? EXIT_OK : EXIT_FAILED;
out:
	flasher_session_close(s);
	flasher_close(fl);
	free(data);
	return rc;
}
