/*
 * airgap.h: is the station networked? (airgap.c)
 *
 * The station holds the keys that make device identities; it is meant to
 * have no network (ARCHITECTURE.md, air gap). In production mode every
 * verb that opens the audit log for writing with the HSM refuses to run
 * while a default route exists (IPv4 or IPv6, from /proc/net: the calling
 * process's network namespace) or an interface other than loopback and
 * those named in [airgap] factory_interfaces is up (getifaddrs). Only
 * [airgap] allow_network = yes lets it run anyway, and then what was found
 * is recorded in the audit log (event airgap.overridden).
 */
#ifndef STATION_AIRGAP_H
#define STATION_AIRGAP_H

#include "station/config.h"

#define AIRGAP_ERR_MAX 1024

/*
 * airgap_scan(factory, found): what makes the station networked, as one
 * line in ${found} ("" if nothing): a default route and each interface up
 * that is neither loopback nor in the comma list ${factory} ("none": no
 * factory interfaces). 0 if nothing, 1 if something, -1 if the scan
 * failed (${found} says why).
 */
int airgap_scan(const char *factory, char found[static AIRGAP_ERR_MAX]);

/*
 * station_airgap_check(cfg, err): 0 if the station may run: development
 * mode, or nothing found; 1 if something was found but [airgap]
 * allow_network is set (${err} holds what, for the audit log); -1 with
 * the refusal in ${err}.
 */
int station_airgap_check(const struct station_config *cfg,
    char err[static AIRGAP_ERR_MAX]);

#endif
