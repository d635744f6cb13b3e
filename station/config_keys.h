/*
 * config_keys.h: the declaration of station.conf's keys, shared by the
 * parser (config.c) and the table (config_keys.c). Private to those two.
 */
#ifndef STATION_CONFIG_KEYS_H
#define STATION_CONFIG_KEYS_H

#include <stddef.h>

#include "station/config.h"

enum key_type {
	KEY_ID,     /* [A-Za-z0-9._-]{1,CONFIG_ID_MAX} */
	KEY_PATH,   /* a file path, relative to the home unless absolute */
	KEY_URI,    /* a PKCS#11 URI */
	KEY_BOOL,   /* yes/no, true/false, on/off, 1/0 */
	KEY_UINT,   /* decimal, from min to max */
	KEY_MODE,   /* development | production */
	KEY_TEXT,   /* printable ASCII, 1 to size-1 characters */
	KEY_OID,    /* a dotted OID: digits and dots */
	KEY_KEYTYPES, /* comma list of p256, p384, ed25519 */
};

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size;
	const char *fallback;  /* default value; NULL: the key is required */
	unsigned min, max;     /* KEY_UINT only */
};

#define FIELD(f) offsetof(struct station_config, f), \
	sizeof(((struct station_config *)0)->f)

/* The parser keeps one slot per key; config_keys.c checks the count. */
#define CONFIG_KEYS_MAX 128

extern const struct key config_keys[];
extern const size_t config_nkeys;

#endif
