#!/usr/bin/env bash
# crash.stress.sh: `station run` killed with SIGKILL at least CRASH_KILLS
# times (default 200), at least CRASH_MIN (default 20) in each phase of a
# device (allocated, issued not staged, mid-DFU, written not committed,
# committed not done), restarted after every kill; crash_lib.sh says how a
# phase is held and told apart, and what is checked after every restart.
# One kill in six is at a fully random moment (0-3 s into the run) rather
# than inside a chosen phase. Prints the counts per phase.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/crash_lib.sh"
KILLS=${CRASH_KILLS:-200}
MIN=${CRASH_MIN:-20}
crash_setup || { finish; exit 1; }
start=$SECONDS
k=0
short() {  # short: the first phase with fewer than MIN kills, if any
	local p
	for p in $PHASES; do [ "${COUNT[$p]:-0}" -lt "$MIN" ] && { echo "$p"; return; }; done
}
set -- $PHASES
while :; do
	need=$(short)
	[ "$k" -ge "$KILLS" ] && [ -z "$need" ] && break
	[ "$k" -ge $((KILLS * 2)) ] && break
	k=$((k + 1))
	if [ $((k % 6)) = 0 ]; then target=random
	elif [ -n "$need" ] && [ $((k % 2)) = 0 ]; then target=$need
	else target=$(eval echo "\${$(( (k % 5) + 1 ))}"); fi
	crash_one $k "$target"
	[ $((k % 20)) = 0 ] && echo "# $k kills, $((SECONDS - start)) s" && crash_report
done
crash_report
echo "# $k kills in $((SECONDS - start)) s"
[ "$k" -ge "$KILLS" ] && ok "$k kills (at least $KILLS)" || not_ok "$k kills (at least $KILLS)"
for p in $PHASES; do
	[ "${COUNT[$p]:-0}" -ge "$MIN" ] && ok "phase $p: ${COUNT[$p]:-0} kills (at least $MIN)" || not_ok "phase $p: ${COUNT[$p]:-0} kills (at least $MIN)"
done
is "$BAD" 0 "every invariant held after every one of the $k restarts"
is "$(q "SELECT count(*) FROM devices WHERE state = 'done'")" "$k" "every killed device was stamped after its restart"
finish
