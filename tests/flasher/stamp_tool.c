/*
 * stamp_tool.c: stamp every attached stamp device at once (flasher_run +
 * stamp_job), for the integration tests and the bench; run it under
 * stampdev-emu.
 *
 *   stamp_tool [--signer KEY] [--lock] [--info] [--path PORT]...
 *
 * Prints one line per device: "PORT SERIAL ok MS" or "PORT SERIAL FAILED
 * reason", then "total MS". --info prints "PORT SERIAL generation N
 * locked L" instead of stamping. Exit 0 if every device succeeded, 1 if
 * any failed, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flasher/flasher.h"
#include "station/stamp_crypto.h"
#include "tests/flasher/stamp_job.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
info_job(void *arg, size_t index, struct flasher_session *s,
    char err[static FLASHER_ERR_MAX])
{
	struct flasher_info *infos = arg;

	return flasher_info(s, &infos[index], err);
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "signer", required_argument, NULL, 's' },
		{ "lock", no_argument, NULL, 'l' },
		{ "info", no_argument, NULL, 'i' },
		{ "path", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *signer = "stamp-format/vectors/signer-key.pem";
	const char *paths[64];
	struct flasher *fl = NULL;
	struct flasher_device *devs = NULL, *pick = NULL;
	struct flasher_result *results = NULL;
	struct flasher_info *infos = NULL;
	struct stamp_job job = { .mutex = PTHREAD_MUTEX_INITIALIZER };
	char err[FLASHER_ERR_MAX];
	size_t n = 0, npaths = 0, m = 0;
	int c, info = 0, ret = 1;
	long long t0;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 's': signer = optarg; break;
		case 'l': job.lock = 1; break;
		case 'i': info = 1; break;
		case 'p':
			if (npaths == 64)
				return 2;
			paths[npaths++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!info && (job.signer = stamp_ossl_load_private(signer, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "stamp_tool: %s\n", err);
		return 2;
	}
	if (flasher_open(&fl, err) != 0 || flasher_list(fl, NULL, 0, &devs, &n,
	    err) != 0) {
		fprintf(stderr, "stamp_tool: %s\n", err);
		goto out;
	}
	pick = calloc(n + 1, sizeof(*pick));
	results = calloc(n + 1, sizeof(*results));
	infos = calloc(n + 1, sizeof(*infos));
	if (pick == NULL || results == NULL || infos == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int want = npaths == 0;
		for (size_t j = 0; j < npaths; j++)
			want |= strcmp(paths[j], devs[i].path) == 0;
		if (want)
			pick[m++] = devs[i];
	}
	t0 = now_ms();
	if (info)
		flasher_run(fl, pick, m, info_job, infos, results);
	else
		flasher_run(fl, pick, m, stamp_job_run, &job, results);
	ret = 0;
	for (size_t i = 0; i < m; i++) {
		if (!results[i].ok) {
			printf("%s %s FAILED %s\n", results[i].path, results[i].serial,
			    results[i].err);
			ret = 1;
		} else if (info) {
			printf("%s %s generation %u locked %d\n", results[i].path,
			    results[i].serial, infos[i].active_generation,
			    infos[i].locked);
		} else {
			printf("%s %s ok %lld\n", results[i].path, results[i].serial,
			    results[i].ms);
		}
	}
	printf("total %lld\n", now_ms() - t0);
out:
	free(pick);
	free(results);
	free(infos);
	flasher_list_free(devs);
	flasher_close(fl);
	EVP_PKEY_free(job.signer);
	return ret;
}
