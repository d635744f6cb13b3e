#!/usr/bin/env bash
# crash.test.sh: the short form of crash.stress.sh (crash_lib.sh says
# what is checked): `station run` killed with SIGKILL twice in each phase
# of a device (allocated, issued not staged, mid-DFU, written not
# committed, committed not done), restarted after every kill.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/crash_lib.sh"
crash_setup || { finish; exit 1; }
k=0
for round in 1 2; do
	for p in $PHASES; do k=$((k + 1)); crash_one $k "$p"; done
done
crash_report
for p in $PHASES; do
	[ "${COUNT[$p]:-0}" -ge 1 ] && ok "a kill in phase $p (${COUNT[$p]:-0})" || not_ok "a kill in phase $p (${COUNT[$p]:-0})"
done
is "$BAD" 0 "$k kills: every invariant held after every restart"
finish
