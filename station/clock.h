/*
 * clock.h: the station's clock against its own audit log (clock.c).
 *
 * An air-gapped station has no time source but its own clock, which drifts
 * or is set back (a dead RTC battery, a wrong manual setting). Certificates
 * take their notBefore from it and the audit log orders its story by it, so
 * a writing verb refuses to run while the clock reads earlier than the
 * newest time already recorded: the log never goes back in time.
 */
#ifndef STATION_CLOCK_H
#define STATION_CLOCK_H

#include "audit/audit.h"

#define CLOCK_ERR_MAX 512

/*
 * station_clock_check(a, err): 0 if the clock now is not earlier than the
 * newest event or checkpoint time in ${a}; -1 with the message for the
 * officer in ${err} if it is (or if the log cannot be read).
 */
int station_clock_check(struct audit *a, char err[static CLOCK_ERR_MAX]);

#endif
