/*
 * pki.c: the station's PKI from its configuration: the device profile,
 * the sub-CA opened for issuance, and the role keys (stamp, audit,
 * export) checked against their certificates. What `station pki check`
 * does once, a verb that issues or signs does at start-up.
 */
#include <stdio.h>

#include "station/airgap.h"
#include "station/pin.h"
#include "station/pki.h"
#include "station/station.h"

void
pki_profile(const struct station_config *cfg, struct hsm_profile *p)
{
	p->organization = cfg->device_organization;
	p->not_before_skew = cfg->device_not_before_skew;
	p->validity_days = cfg->device_validity_days;
	p->key_types = cfg->device_key_types;
	p->hardware_module_name = cfg->device_hardware_module_name;
	p->hardware_type = cfg->device_hardware_type;
}

int
pki_open(const struct station_config *cfg, const char *pin_file,
    struct hsm **h, struct hsm_ca **ca)
{
	struct hsm_profile p;
	char err[HSM_ERR_MAX], network[AIRGAP_ERR_MAX];

	*ca = NULL;
	/* Refuse a networked production station before the PIN is asked
	 * for (station_audit_open checks again, and records an override). */
	if (station_airgap_check(cfg, network) < 0) {
		station_err("%s", network);
		return -1;
	}
	if (pin_open_token(cfg, pin_file, h, err) != 0) {
		station_err("%s", err);
		return -1;
	}
	pki_profile(cfg, &p);
	if (hsm_ca_open(ca, *h, cfg->pki_subca_key, cfg->pki_subca_cert,
	    cfg->pki_root_cert, &p, err) != 0) {
		station_err("sub-CA: %s", err);
		hsm_close(*h);
		*h = NULL;
		return -1;
	}
	return 0;
}

int
pki_role_key(const struct station_config *cfg, struct hsm *h,
    enum pki_role role, struct hsm_key **out)
{
	static const char *names[] = { "stamp-signing", "audit-checkpoint",
	    "export-signing" };
	const char *uri = role == PKI_ROLE_STAMP ? cfg->pki_stamp_key :
	    role == PKI_ROLE_AUDIT ? cfg->pki_audit_key : cfg->pki_export_key;
	const char *cert = role == PKI_ROLE_STAMP ? cfg->pki_stamp_cert :
	    role == PKI_ROLE_AUDIT ? cfg->pki_audit_cert : cfg->pki_export_cert;
	char err[HSM_ERR_MAX];

	if (hsm_key_find(h, uri, out, err) != 0 ||
	    hsm_check_cert(*out, cert, cfg->pki_root_cert, false, err) != 0) {
		station_err("%s key: %s", names[role], err);
		*out = NULL;
		return -1;
	}
	return 0;
}
