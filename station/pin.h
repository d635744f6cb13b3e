/*
 * pin.h: getting the officer's HSM PIN and opening the token from the
 * station's configuration.
 *
 * The PIN comes from the terminal (no echo) or from a PIN file: a file
 * must be private to its owner (no group/other bits) and is refused in
 * production mode unless [hsm] allow_pin_file is set. Never from argv or
 * the environment. The buffer is wiped by the callers on every path.
 */
#ifndef STATION_PIN_H
#define STATION_PIN_H

#include "hsm/hsm.h"
#include "station/config.h"

/*
 * pin_protect_process(err): no core dumps (RLIMIT_CORE 0) and not
 * dumpable (PR_SET_DUMPABLE 0) from now on, for a process about to hold
 * the PIN or a token login. 0, or -1 with ${err}. pin_read calls it.
 */
int pin_protect_process(char err[static HSM_ERR_MAX]);

/*
 * pin_read(cfg, pin_file, pin, err): the PIN from ${pin_file} (the
 * --pin-file option) if not NULL, else from [hsm] pin_file if set, else
 * from the terminal. 0, or -1 with ${err}; ${pin} is wiped on failure.
 */
int pin_read(const struct station_config *cfg, const char *pin_file,
    char pin[static HSM_PIN_MAX + 1], char err[static HSM_ERR_MAX]);

/*
 * pin_open_token(cfg, pin_file, out, err): point SoftHSM at the demo
 * store if configured, get the PIN, and open the configured token. The
 * PIN is wiped before returning. 0 and ${*out}, or -1 with ${err}.
 */
int pin_open_token(const struct station_config *cfg, const char *pin_file,
    struct hsm **out, char err[static HSM_ERR_MAX]);

#endif
