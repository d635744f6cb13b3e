#!/usr/bin/env bash
# dfu.stress.sh (make stress): a bench session against stampdev-emu.
#  1. 24 devices arrive one every 150 ms and each leaves 2 s later; a loop
#     polls `station devices` and flashes every new device once; every
#     device must end up with the image, none missed.
#  2. 4 devices (two slow), 4 processes flashing and reading back in
#     parallel, 50 rounds each: no failure, no stall logged.
. "$(dirname "$0")/../lib/tap.sh"

EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
cd "$TMP"
head -c 6000 /dev/urandom > img.bin

run timeout 300 "$EMU" --raw --state st --devices 24 --arrive-every 150 --fault leave@2000 -- bash -c "
	flashed=0; seen=' '
	end=\$((SECONDS + 8))
	while [ \$SECONDS -lt \$end ]; do
		for s in \$('$STATION' devices | awk '\$3 ~ /^SD/ {print \$3}'); do
			case \"\$seen\" in *\" \$s \"*) continue ;; esac
			'$STATION' flash --device \$s --alt stamp img.bin || exit 1
			seen=\"\$seen\$s \"; flashed=\$((flashed + 1))
		done
		sleep 0.05
	done
	echo \$flashed"
is "$RC" 0 "arriving devices flashed without error"
is "$OUT" 24 "every arriving device flashed once"
bad=0
for k in $(seq 24); do cmp -s img.bin st/dev-$k/stamp.bin || bad=$((bad + 1)); done
is "$bad" 0 "every device holds the image"

run timeout 300 "$EMU" --raw --devices 4 --fault 2:slow@5 --fault 4:slow@15 -- bash -c "
	for k in 1 2 3 4; do
		( for i in \$(seq 50); do
			'$STATION' flash --path 1-\$k --alt stamp img.bin &&
			'$STATION' read --path 1-\$k --alt stamp -o back-\$k.bin &&
			cmp -s img.bin back-\$k.bin || exit 1
		  done ) & pids=\"\$pids \$!\"
	done
	rc=0; for p in \$pids; do wait \$p || rc=1; done; exit \$rc"
is "$RC" 0 "4 devices flashed and read back 50 times in parallel"
is "$ERR" "" "no stall or fault logged"

finish
