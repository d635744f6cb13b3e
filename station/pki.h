/*
 * pki.h: the `station pki` family shares these (cmd_pki.c: dispatch,
 * check, csr, install; pki_demo.c: the demo PKI).
 */
#ifndef STATION_PKI_H
#define STATION_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm/hsm.h"
#include "station/config.h"

/* pki_demo_main(argc, argv): `station pki demo`. */
int pki_demo_main(int argc, char *argv[]);

/* pki_write_secret(file, text, len): a new file, O_EXCL, mode 0600. 0/-1,
 * reported. */
int pki_write_new(const char *file, const void *data, size_t len,
    unsigned mode);

/* pki_write_cert(file, x): PEM into a new file (0644, O_EXCL). */
int pki_write_cert(const char *file, X509 *x);

/* pki_profile(cfg, p): the device profile from the configuration. */
void pki_profile(const struct station_config *cfg, struct hsm_profile *p);

/*
 * pki_open(cfg, pin_file, h, ca): what a verb that issues certificates
 * needs: the PIN (TTY or PIN file), the token, and the sub-CA after its
 * start-up check. Errors are reported (station_err). 0, or -1 with
 * nothing left open. Close with hsm_ca_free(*ca), then hsm_close(*h).
 */
int pki_open(const struct station_config *cfg, const char *pin_file,
    struct hsm **h, struct hsm_ca **ca);

enum pki_role { PKI_ROLE_STAMP, PKI_ROLE_AUDIT, PKI_ROLE_EXPORT };

/*
 * pki_role_key(cfg, h, role, out): the role's key in the token, after
 * checking it against its certificate and the root (hsm_check_cert). Its
 * hsm_sign is the callback for the audit module's checkpoints (role
 * AUDIT), stamp signatures (STAMP) and exports (EXPORT). 0 or -1,
 * reported.
 */
int pki_role_key(const struct station_config *cfg, struct hsm *h,
    enum pki_role role, struct hsm_key **out);

#endif
