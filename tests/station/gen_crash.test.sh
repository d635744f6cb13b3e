#!/usr/bin/env bash
# gen_crash.test.sh: the short form of gen_crash.stress.sh (gen_crash_lib.sh
# says what is checked): `station batch generate` killed with SIGKILL
# four times (three while identities were being recorded, one at a random
# moment), started again after every kill; and once failed by the token.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/gen_crash_lib.sh"
gen_setup || { finish; exit 1; }
KILLS=4
for k in 1 2 3; do gen_one "$k" recording; done
gen_one 4 random
gen_report
[ "${COUNT[recording]:-0}" -ge 1 ] && ok "a kill while identities were being recorded (${COUNT[recording]:-0})" ||
    not_ok "a kill while identities were being recorded (${COUNT[recording]:-0})"
is "$BAD" 0 "$KILLS kills: every invariant held after every restart"
gen_fail
gen_final
finish
