/*
 * config.h: station.conf, loaded into one typed, validated struct.
 *
 * station.conf is an INI file in the station home. Every key is declared
 * once, with its type, default and limits, in the table of config.c;
 * unknown sections and keys are errors, never silently ignored. Relative
 * paths are resolved against the home folder.
 */
#ifndef STATION_CONFIG_H
#define STATION_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#define CONFIG_FILE "station.conf"
#define CONFIG_ID_MAX 32      /* station id: [A-Za-z0-9._-], 1..32 */
#define CONFIG_URI_MAX 512    /* a PKCS#11 URI (RFC 7512) */
#define CONFIG_ERR_MAX 512
#define CONFIG_TEXT_FIELD_MAX 64 /* printable text, e.g. an organization */
#define CONFIG_OID_MAX 127      /* a dotted OID */
#define CONFIG_QR_TEMPLATE_MAX 256 /* [label] qr_template */
#define CONFIG_LIST_MAX 255     /* a comma list, e.g. product ids */

enum station_mode {
	STATION_MODE_DEVELOPMENT,
	STATION_MODE_PRODUCTION,
};

struct station_config {
	char home[PATH_MAX];
	char file[PATH_MAX];

	/* [station] */
	char station_id[CONFIG_ID_MAX + 1];
	enum station_mode mode;

	/* [hsm] */
	char hsm_module[PATH_MAX];        /* the PKCS#11 module (.so) */
	char hsm_token[CONFIG_URI_MAX];   /* URI naming the token */
	char hsm_pin_file[PATH_MAX];      /* empty: ask on the TTY */
	bool hsm_allow_pin_file;          /* needed in production mode */
	char hsm_softhsm_conf[PATH_MAX];  /* demo token store; sets SOFTHSM2_CONF */

	/* [pki]: role keys in the token (URIs) and their certificates */
	char pki_root_cert[PATH_MAX];     /* the offline root, trust anchor */
	char pki_subca_key[CONFIG_URI_MAX];
	char pki_subca_cert[PATH_MAX];
	char pki_stamp_key[CONFIG_URI_MAX];
	char pki_stamp_cert[PATH_MAX];
	char pki_audit_key[CONFIG_URI_MAX];
	char pki_audit_cert[PATH_MAX];
	char pki_export_key[CONFIG_URI_MAX];
	char pki_export_cert[PATH_MAX];
	char pki_order_cert[PATH_MAX];    /* verifies production orders */
	char pki_transport_key[CONFIG_URI_MAX]; /* key agreement: batches */
	char pki_transport_cert[PATH_MAX];
	char pki_batch_cert[PATH_MAX];    /* verifies imported batches */

	/* [device]: the device certificate profile */
	char device_organization[CONFIG_TEXT_FIELD_MAX + 1];
	unsigned device_not_before_skew;  /* seconds */
	unsigned device_validity_days;    /* 0: notAfter 99991231235959Z */
	unsigned device_key_types;        /* HSM_KEY_* bits */
	bool device_hardware_module_name; /* SAN otherName (RFC 4108) */
	char device_hardware_type[CONFIG_OID_MAX + 1];

	/* [audit] */
	char audit_database[PATH_MAX];
	unsigned audit_checkpoint_every;  /* events between signed checkpoints */

	/* [airgap] (airgap.h) */
	char airgap_factory_interfaces[CONFIG_TEXT_FIELD_MAX + 1]; /* or "none" */
	bool airgap_allow_network;        /* run networked, recorded */

	/* [lan] (serve.h): the factory-LAN service */
	char lan_interface[CONFIG_TEXT_FIELD_MAX + 1]; /* or "none" */
	unsigned lan_client_rate;         /* requests per second per client */
	unsigned lan_client_burst;        /* requests a client may bunch */
	unsigned lan_timeout;             /* seconds a connection may idle */
	unsigned lan_nonce_lifetime;      /* seconds a CSR nonce is good for */
	unsigned lan_max_connections;     /* open connections at once */
	unsigned lan_threads;             /* worker threads */
	/* [attestation] (attest.h): chip-vendor attestation of devices */
	char attestation_roots[PATH_MAX]; /* PEM bundle of vendor roots; "" none */
	bool attestation_required;        /* for every product */
	char attestation_required_products[CONFIG_LIST_MAX + 1]; /* or "none" */

	/* [stamp] */
	unsigned stamp_write_unit;        /* 16 or 32 bytes */
	unsigned stamp_partition_size;    /* bytes, a multiple of write_unit */
	char stamp_hardware_revision[33]; /* HARDWARE_REVISION; "none": left out */
	bool stamp_pop_secret;            /* add a POP_SECRET to each stamp */
	bool stamp_lock;                  /* lock each device after commit */
	char restamp_identity[8];         /* "new" or "same" (station restamp) */
	char stamp_app_public_key[PATH_MAX]; /* "" or a PEM public key file */

	/* [identity] and [label]: serials, claim IDs, labels (identity.h,
	 * label.h) */
	char identity_serial_template[CONFIG_TEXT_FIELD_MAX + 1];
	unsigned identity_claim_length;   /* Crockford symbols, 10..26 */
	bool identity_claim_check_symbol; /* append the mod-37 check symbol */
	char label_spool[PATH_MAX];       /* ZPL files, one per label */
	char label_printer[PATH_MAX];     /* "" or a printer device (ZPL) */
	char label_png_dir[PATH_MAX];     /* PNG labels, one per device */
	char label_qr_template[CONFIG_QR_TEMPLATE_MAX + 1];
};

/*
 * config_load(cfg, home, err): read ${home}/station.conf into ${cfg}.
 * Returns 0, or -1 with a message in ${err} naming the file, line, key and
 * what is expected.
 */
int config_load(struct station_config *cfg, const char *home,
    char err[static CONFIG_ERR_MAX]);

/*
 * config_parse(cfg, file, text, home, err): as config_load, from the
 * NUL-terminated ${text}; ${file} names it in messages.
 */
int config_parse(struct station_config *cfg, const char *file,
    const char *text, const char *home, char err[static CONFIG_ERR_MAX]);

/* config_print(cfg, out): write the effective configuration as INI. */
void config_print(const struct station_config *cfg, FILE *out);

#endif
