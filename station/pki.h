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

#endif
