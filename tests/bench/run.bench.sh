#!/usr/bin/env bash
# run.bench.sh: `station run` on 200 emulated devices in device key mode
# (4 emulator sessions of 50, the keygen on the device 10 ms), printed as
# BENCH/NOTE lines for tests/bench/run:
#   - devices per minute with 8 devices worked on at once next to one at a
#     time (wall time of the runs, from the first device to the last;
#     start-up excluded), runs interleaved;
#   - the station's own time per device, median, measured with one device
#     at a time (--parallel 1) so that no device waits for another's turn
#     at the database: HSM (token RNG, CSR check, certificate and stamp
#     signatures), database (audit transactions, fsync'd; the token's
#     order count inside it shown apart), stamp building; USB host
#     transfers shown beside it (with the emulator they are mostly the
#     emulator's own CPU), next to the whole device's wall time. Target:
#     station side <= 5 ms per device;
#   - peak memory (max RSS) of the station process, 8 at once and one.
set -eu
BUILD=${BUILD:-build}
EMU="$BUILD/stampdev-emu"
STATION=${STATION:-$BUILD/station}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
H="$T/home"
"$STATION" pki demo --home "$H" >/dev/null
"$STATION" init --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null

# one run of 50 through the emulator: RUN PREFIX ARGS...; its stdout in
# $T/PREFIX.out, its peak memory (KiB, the station process) in $T/PREFIX.rss
n=0
run50() {
	local pre=$1
	shift
	n=$((n + 1))
	timeout 600 "$EMU" --state "$T/st$n" --trust "$H/pki/stamp.pem" --keygen-ms 10 \
	    --devices 50 -- /usr/bin/time -f %M -o "$T/$pre.rss" \
	    "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 50 "$@" \
	    > "$T/$pre.out" 2>/dev/null
}
secs() { sed -n 's/^run ended: PASS 50, FAIL 0 in \([0-9.]*\) s.*/\1/p' "$T/$1.out"; }
max() { sort -n | tail -1; }
# interleaved: 8 at once, then one at a time (with --times), twice
p8=0; p1=0
for r in 1 2; do
	run50 "p$r" || true
	s=$(secs "p$r")
	[ -n "$s" ] || { echo "run p$r failed: $(cat "$T/p$r.out")" >&2; exit 1; }
	p8=$(echo "$p8 + $s" | bc)
	run50 "s$r" --parallel 1 --times || true
	s=$(secs "s$r")
	[ -n "$s" ] || { echo "timed run s$r failed: $(cat "$T/s$r.out")" >&2; exit 1; }
	p1=$(echo "$p1 + $s" | bc)
	grep '^station time per device' "$T/s$r.out" >&2
done
times=$(cat "$T"/s?.out | grep '^station time per device')
pick() { echo "$times" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p" | sort -n | head -1; }
side=$(pick "station side"); hsm=$(pick "HSM"); db=$(pick "database")
tok=$(pick "order count"); build=$(pick "building"); usb=$(pick "transfers")
wall=$(pick "wall time")
rate8=$(echo "scale=1; 100 * 60 / $p8" | bc)
rate1=$(echo "scale=1; 100 * 60 / $p1" | bc)
rss8=$(cat "$T"/p?.rss | max); rss1=$(cat "$T"/s?.rss | max)
echo "BENCH run.per_device $side ms run.device_wall \`station run\`, device key mode: the station's own time per device, median (best of 2 runs of 50, one at a time)"
echo "BENCH run.device_wall $wall ms - the whole device, one at a time, median (emulated device: keygen 10 ms, DFU, USB)"
echo "NOTE run.per_device HSM $hsm ms, database $db ms (token order count $tok ms), stamp build $build ms; USB host $usb ms; target <= 5 ms"
echo "BENCH run.8_at_once $rate8 devices/min run.1_at_once \`station run\`, device key mode, 8 devices at once (2 x 50 emulated devices)"
echo "BENCH run.1_at_once $rate1 devices/min - the same, one device at a time (--parallel 1)"
echo "BENCH run.peak_rss $rss8 KiB run.peak_rss.1 peak memory of \`station run\` (max RSS), 50 devices, 8 at once"
echo "BENCH run.peak_rss.1 $rss1 KiB - the same, one device at a time"
