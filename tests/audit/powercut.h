/*
 * powercut.h: TEST ONLY. A SQLite VFS shim that loses every write not yet
 * synced when the "power" is cut (see powercut.c).
 */
#ifndef TESTS_AUDIT_POWERCUT_H
#define TESTS_AUDIT_POWERCUT_H

#include <sqlite3.h>

/* powercut_install(cut_after): make the shim the default VFS of this
 * process; after ${cut_after} writes and syncs (0: never) the process
 * exits on the spot, losing what was not synced. 0 or -1. */
int powercut_install(unsigned long cut_after);

#endif
