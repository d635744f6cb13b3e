#!/usr/bin/env bash
# run.bench.sh: `station run` on 200 emulated devices in device key mode
# (4 emulator sessions of 50, the keygen on the device 10 ms). Two figures:
#   - devices per minute with 8 devices worked on at once (wall time of the
#     runs, from the first device to the last; start-up excluded);
#   - the station's own time per device, median, measured with one device
#     at a time (--parallel 1) so that no device waits for another's turn
#     at the database: HSM (token RNG, CSR check, certificate and stamp
#     signatures), database (audit transactions, fsync'd; the token's
#     order count inside it shown apart), stamp building; USB host
#     transfers shown beside it (with the emulator they are mostly the
#     emulator's own CPU). Target: station side <= 5 ms per device.
set -eu
BUILD=${BUILD:-build}
EMU="$BUILD/stampdev-emu"
STATION=${STATION:-$BUILD/station}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
H="$T/home"
"$STATION" pki demo --home "$H" >/dev/null
"$STATION" init --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null

secs=0
for r in 1 2; do
	out=$(timeout 600 "$EMU" --state "$T/p$r" --trust "$H/pki/stamp.pem" --keygen-ms 10 \
	    --devices 50 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 50 2>/dev/null)
	s=$(echo "$out" | sed -n 's/^run ended: PASS 50, FAIL 0 in \([0-9.]*\) s.*/\1/p')
	[ -n "$s" ] || { echo "run $r failed: $out" >&2; exit 1; }
	secs=$(echo "$secs + $s" | bc)
done
times=""
for r in 1 2; do
	out=$(timeout 600 "$EMU" --state "$T/s$r" --trust "$H/pki/stamp.pem" --keygen-ms 10 \
	    --devices 50 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 50 \
	    --parallel 1 --times 2>/dev/null)
	line=$(echo "$out" | grep '^station time per device')
	[ -n "$line" ] || { echo "timed run $r failed: $out" >&2; exit 1; }
	echo "$line" >&2
	times="$times$line
"
done
pick() { echo "$times" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p" | sort -n | head -1; }
side=$(pick "station side"); hsm=$(pick "HSM"); db=$(pick "database")
tok=$(pick "order count"); build=$(pick "building"); usb=$(pick "transfers")
rate=$(echo "scale=1; 100 * 60 / $secs" | bc)
echo "| station run, device mode, 8 at once: devices per minute | $rate | 100 devices in ${secs} s | |"
echo "| station run: station-side time per device, median (best of 2 runs of 50), ms | $side | HSM $hsm, database $db (token order count $tok), stamp build $build; USB host $usb | target <= 5 ms |"
