/*
 * config_keys.c: every key of station.conf, once: section, name, type,
 * where it goes in struct station_config, default (NULL: required) and
 * limits. Add a key here and a field in config.h; config.c does the rest.
 */
#include "hsm/hsm.h"
#include "station/config_keys.h"

const struct key config_keys[] = {
	{ "station", "id", KEY_ID, FIELD(station_id), NULL, 0, 0 },
	{ "station", "mode", KEY_MODE, FIELD(mode), "production", 0, 0 },

	{ "hsm", "module", KEY_PATH, FIELD(hsm_module),
	    "/usr/lib/softhsm/libsofthsm2.so", 0, 0 },
	{ "hsm", "token", KEY_URI, FIELD(hsm_token), NULL, 0, 0 },
	{ "hsm", "pin_file", KEY_PATH, FIELD(hsm_pin_file), "", 0, 0 },
	{ "hsm", "allow_pin_file", KEY_BOOL, FIELD(hsm_allow_pin_file), "no",
	    0, 0 },
	{ "hsm", "softhsm_conf", KEY_PATH, FIELD(hsm_softhsm_conf), "", 0, 0 },

	{ "pki", "root_cert", KEY_PATH, FIELD(pki_root_cert), "pki/root.pem",
	    0, 0 },
	{ "pki", "subca_key", KEY_URI, FIELD(pki_subca_key),
	    "pkcs11:object=subca", 0, 0 },
	{ "pki", "subca_cert", KEY_PATH, FIELD(pki_subca_cert), "pki/subca.pem",
	    0, 0 },
	{ "pki", "stamp_key", KEY_URI, FIELD(pki_stamp_key),
	    "pkcs11:object=stamp", 0, 0 },
	{ "pki", "stamp_cert", KEY_PATH, FIELD(pki_stamp_cert), "pki/stamp.pem",
	    0, 0 },
	{ "pki", "audit_key", KEY_URI, FIELD(pki_audit_key),
	    "pkcs11:object=audit", 0, 0 },
	{ "pki", "audit_cert", KEY_PATH, FIELD(pki_audit_cert), "pki/audit.pem",
	    0, 0 },
	{ "pki", "export_key", KEY_URI, FIELD(pki_export_key),
	    "pkcs11:object=export", 0, 0 },
	{ "pki", "export_cert", KEY_PATH, FIELD(pki_export_cert),
	    "pki/export.pem", 0, 0 },
	{ "pki", "order_cert", KEY_PATH, FIELD(pki_order_cert), "pki/order.pem",
	    0, 0 },
	{ "pki", "transport_key", KEY_URI, FIELD(pki_transport_key),
	    "pkcs11:object=station-transport", 0, 0 },
	{ "pki", "transport_cert", KEY_PATH, FIELD(pki_transport_cert),
	    "pki/station-transport.pem", 0, 0 },

	{ "device", "organization", KEY_TEXT, FIELD(device_organization),
	    "Example Devices", 0, 0 },
	{ "device", "not_before_skew", KEY_UINT, FIELD(device_not_before_skew),
	    "300", 0, 86400 },
	{ "device", "validity_days", KEY_UINT, FIELD(device_validity_days), "0",
	    0, 36500 },
	{ "device", "key_types", KEY_KEYTYPES, FIELD(device_key_types), "p256",
	    0, 0 },
	{ "device", "hardware_module_name", KEY_BOOL,
	    FIELD(device_hardware_module_name), "yes", 0, 0 },
	{ "device", "hardware_type", KEY_OID, FIELD(device_hardware_type),
	    HSM_HWTYPE_OID_DEFAULT, 0, 0 },

	{ "audit", "database", KEY_PATH, FIELD(audit_database), "station.db",
	    0, 0 },
	{ "audit", "checkpoint_every", KEY_UINT, FIELD(audit_checkpoint_every),
	    "100", 1, 1000000 },

	{ "airgap", "factory_interfaces", KEY_TEXT,
	    FIELD(airgap_factory_interfaces), "none", 0, 0 },
	{ "airgap", "allow_network", KEY_BOOL, FIELD(airgap_allow_network),
	    "no", 0, 0 },

	{ "attestation", "roots", KEY_PATH, FIELD(attestation_roots), "", 0, 0 },
	{ "attestation", "required", KEY_BOOL, FIELD(attestation_required), "no",
	    0, 0 },
	{ "attestation", "required_products", KEY_TEXT,
	    FIELD(attestation_required_products), "none", 0, 0 },

	{ "stamp", "write_unit", KEY_UINT, FIELD(stamp_write_unit), "16", 16, 32 },
	{ "stamp", "partition_size", KEY_UINT, FIELD(stamp_partition_size),
	    "8192", 512, 1048576 },

	{ "identity", "serial_template", KEY_TEXT,
	    FIELD(identity_serial_template), "{product}-{station}-{n:08}", 0, 0 },
	{ "identity", "claim_length", KEY_UINT, FIELD(identity_claim_length),
	    "12", 10, 26 },
	{ "identity", "claim_check_symbol", KEY_BOOL,
	    FIELD(identity_claim_check_symbol), "yes", 0, 0 },
	{ "label", "spool", KEY_PATH, FIELD(label_spool), "labels/spool", 0, 0 },
	{ "label", "printer", KEY_PATH, FIELD(label_printer), "", 0, 0 },
	{ "label", "png_dir", KEY_PATH, FIELD(label_png_dir), "labels/png", 0, 0 },
	{ "label", "qr_template", KEY_TEXT, FIELD(label_qr_template),
	    "https://example.invalid/claim?id={claim}&sn={serial}", 0, 0 },
};

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_KEYS_MAX,
    "raise CONFIG_KEYS_MAX");
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);
