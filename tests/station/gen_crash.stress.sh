#!/usr/bin/env bash
# gen_crash.stress.sh: `station batch generate` killed with SIGKILL at a
# random moment at least GEN_KILLS times (default 60), at least GEN_MIN
# (default 20) while identities were being recorded, started again after
# every kill; one kill in three at a random moment, the others while the
# identities are being recorded. gen_crash_lib.sh says what is checked.
# Prints the counts per phase.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/gen_crash_lib.sh"
gen_setup || { finish; exit 1; }
KILLS=${GEN_KILLS:-60}
MIN=${GEN_MIN:-20}
start=$SECONDS
k=0
while [ "$k" -lt "$KILLS" ] || [ "${COUNT[recording]:-0}" -lt "$MIN" ]; do
	[ "$k" -ge $((KILLS * 2)) ] && break
	k=$((k + 1))
	if [ $((k % 3)) = 0 ]; then gen_one "$k" random; else gen_one "$k" recording; fi
	[ $((k % 10)) = 0 ] && echo "# $k kills, $((SECONDS - start)) s" && gen_report
done
gen_report
echo "# $k kills in $((SECONDS - start)) s"
[ "$k" -ge "$KILLS" ] && ok "$k kills (at least $KILLS)" || not_ok "$k kills (at least $KILLS)"
[ "${COUNT[recording]:-0}" -ge "$MIN" ] && ok "phase recording: ${COUNT[recording]} kills (at least $MIN)" ||
    not_ok "phase recording: ${COUNT[recording]:-0} kills (at least $MIN)"
is "$BAD" 0 "every invariant held after every one of the $k restarts"
gen_final
finish
