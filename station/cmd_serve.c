/*
 * cmd_serve.c: `station serve --listen ADDR:PORT`, the factory-LAN service
 * (docs/LAN.md): devices with Ethernet at the test station get their
 * identity (POST /serialize), a nonce (GET /nonce) and their certificate
 * (POST /sign) over HTTP on the isolated bench network.
 *
 * Start-up, each step refused before the next: the configuration, the
 * serial template, the listen address (an address of [lan] interface,
 * which is loopback or a factory interface; serve_listen.c), the socket
 * (bound before the PIN is asked for, so that a port in use is found
 * first), the air-gap check and the officer's PIN once (pki_open: the
 * token and the sub-CA), the audit session (session.started, then
 * lan.started with the address). Then it serves until SIGINT or SIGTERM:
 * the requests in flight finish, lan.stopped records the counts, and the
 * session ends with a signed checkpoint. The signals are blocked (once
 * the token is open, before any thread starts) and taken by sigwait in
 * the main thread, so no handler runs in the middle of a request.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "station/identity.h"
#include "station/pki.h"
#include "station/serve.h"
#include "station/station.h"
#include "station/station_audit.h"

STATION_VERB(serve, "Serve identities and certificates to devices on the factory LAN (HTTP)");

static void
usage(FILE *out)
{
	fprintf(out, "Usage: station serve [--home DIR] --listen ADDRESS:PORT "
	    "[--pin-file FILE]\n"
	    "\nServes the devices on the factory LAN over HTTP (docs/LAN.md):\n"
	    "  POST /serialize  {\"product\": P, \"hardware_id\": H} -> "
	    "{\"id\": CLAIM, \"serial\": S}\n"
	    "  GET  /nonce      -> {\"nonce\": HEX, \"expires_in\": SECONDS}\n"
	    "  POST /sign       {\"hardware_id\": H, \"csr\": PEM} -> the "
	    "certificate and the sub-CA's\n"
	    "ADDRESS must be an address of [lan] interface (loopback or one of "
	    "[airgap]\nfactory_interfaces); PORT 0 picks a free port. The "
	    "officer's PIN is asked for\nonce; Ctrl-C (SIGINT) or SIGTERM stops "
	    "it after the requests in flight.\n"
	    "  --pin-file FILE   read the PIN from FILE (mode 0600; development "
	    "only)\n"
	    "Exit codes: 0 stopped cleanly, 1 failed, 2 usage or "
	    "configuration.\n");
}

/* record(s, kind, listen): lan.started / lan.stopped with the counts. */
static int
record(struct serve *s, const char *kind, const char *listen)
{
	char counts[4][24];
	unsigned long v[4] = { atomic_load(&s->allocated),
	    atomic_load(&s->issued), atomic_load(&s->nonces_given),
	    atomic_load(&s->refused) };
	struct audit_field f[6] = {
		{ "listen", listen, strlen(listen) },
		{ "interface", s->cfg->lan_interface,
		    strlen(s->cfg->lan_interface) },
	};
	size_t n = 2;

	if (strcmp(kind, "lan.stopped") == 0) {
		static const char *keys[4] = { "allocated", "issued", "nonces",
		    "refused" };

		for (size_t i = 0; i < 4; i++) {
			snprintf(counts[i], sizeof(counts[i]), "%lu", v[i]);
			f[n++] = (struct audit_field){ keys[i], counts[i],
			    strlen(counts[i]) };
		}
	}
	if (audit_append(s->sa->a, s->sa->actor, kind, s->cfg->station_id, f, n,
	    NULL) != 0) {
		station_err("serve: %s", audit_error(s->sa->a));
		return -1;
	}
	return 0;
}

/* prepare(cfg, listen, fd, where): everything that needs no PIN. */
static int
prepare(const struct station_config *cfg, const char *listen, int *fd,
    char where[static SERVE_MSG_MAX])
{
	struct sockaddr_storage ss;
	unsigned len, port;
	char err[SERVE_MSG_MAX], ierr[IDENTITY_ERR_MAX];

	if (identity_template_check(cfg->identity_serial_template, ierr) != 0) {
		station_err("[identity] serial_template: %s", ierr);
		return EXIT_USAGE;
	}
	if (serve_listen_parse(listen, &ss, &len, err) != 0 ||
	    serve_listen_check(cfg, &ss, err) != 0) {
		station_err("serve: %s", err);
		return EXIT_USAGE;
	}
	if ((*fd = serve_listen_socket(cfg, &ss, len, &port, err)) < 0) {
		station_err("serve: %s", err);
		return EXIT_FAILED;
	}
	snprintf(where, SERVE_MSG_MAX, "%.*s:%u", (int)(strrchr(listen, ':') -
	    listen), listen, port);
	return EXIT_OK;
}

/* run(s, fd, where): serve until a stop signal. */
static int
run(struct serve *s, int fd, const char *where, const sigset_t *stop)
{
	struct serve_http *hs = NULL;
	int sig = 0, ret = EXIT_FAILED;

	if (record(s, "lan.started", where) != 0 ||
	    serve_http_start(s, fd, &hs) != 0) {
		close(fd);
		return EXIT_FAILED;
	}
	printf("station serve: station %s listening on http://%s/ (interface "
	    "%s); Ctrl-C stops\n", s->cfg->station_id, where,
	    s->cfg->lan_interface);
	fflush(stdout);
	sigwait(stop, &sig);
	fprintf(stderr, "serve: %s: stopping after the requests in flight\n",
	    strsignal(sig));
	serve_http_stop(hs);
	if (record(s, "lan.stopped", where) == 0)
		ret = EXIT_OK;
	printf("station serve: stopped: %lu identities allocated, %lu "
	    "certificates issued, %lu nonces, %lu refusals\n",
	    atomic_load(&s->allocated), atomic_load(&s->issued),
	    atomic_load(&s->nonces_given), atomic_load(&s->refused));
	return ret;
}

int
serve_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "listen", required_argument, NULL, 'l' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *listen = NULL, *pin_file = NULL, *home;
	static struct station_config cfg;
	static struct serve s;
	struct station_audit *sa = NULL;
	struct hsm *h = NULL;
	struct hsm_ca *ca = NULL;
	char err[CONFIG_ERR_MAX], where[SERVE_MSG_MAX];
	sigset_t stop;
	int c, rc, fd = -1, ret = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'H': home_opt = optarg; break;
		case 'l': listen = optarg; break;
		case 'p': pin_file = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		station_err("serve: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (listen == NULL) {
		station_err("serve: --listen ADDRESS:PORT is required");
		return EXIT_USAGE;
	}
	if ((home = station_home(home_opt)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, home, err) != 0) {
		station_err("%s", err);
		return EXIT_USAGE;
	}
	if ((ret = prepare(&cfg, listen, &fd, where)) != EXIT_OK)
		return ret;
	ret = EXIT_FAILED;
	if (pki_open(&cfg, pin_file, &h, &ca) != 0)
		goto cleanup;
	/* From here on a stop signal ends the session cleanly; at the PIN
	 * prompt it ends the process as in every other verb. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = station_audit_open(&cfg, h, "serve", false, &sa)) != 0) {
		ret = rc == -2 ? EXIT_USAGE : EXIT_FAILED;
		goto cleanup;
	}
	if (serve_init(&s, &cfg, h, ca, sa) != 0)
		goto cleanup;
	ret = run(&s, fd, where, &stop);
	fd = -1;     /* closed by run() or libmicrohttpd */
	serve_fini(&s);
cleanup:
	if (fd >= 0)
		close(fd);
	if (station_audit_close(sa, ret == EXIT_OK) != 0)
		ret = EXIT_FAILED;
	hsm_ca_free(ca);
	hsm_close(h);
	return ret;
}
