/*
 * fuzz_config.c: station.conf parser. Any bytes: either a config or an
 * error message, never a crash, leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "station/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct station_config cfg;
	char err[CONFIG_ERR_MAX];
	char *text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_parse(&cfg, "fuzz.conf", text, "/home", err) != 0 &&
	    err[0] == '\0')
		abort();  /* every failure must say why */
	free(text);
	return 0;
}
