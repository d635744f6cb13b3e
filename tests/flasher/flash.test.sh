#!/usr/bin/env bash
# flash.test.sh: `station devices|flash|read` against stampdev-emu, through
# the real binaries and libusb: round trips, faults (vanish mid-transfer,
# dfuERROR, a slow device), ambiguity, arrivals and departures, the real
# dfu-util as an independent client. Exact messages and exit codes.
. "$(dirname "$0")/../lib/tap.sh"

EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
ST="$TMP/state"
emu() { timeout 60 "$EMU" --raw "$@"; }
cd "$TMP"
head -c 4096 /dev/urandom > img4k.bin
head -c 5000 /dev/urandom > img5000.bin
head -c 10 /dev/urandom > small.bin

# --- the emulator's own command line
run "$EMU" --help
is "$RC" 0 "emu --help exits 0"
contains "$OUT" "Usage: stampdev-emu" "emu --help shows usage"
run "$EMU" --devices 0 -- true
is "$RC" 2 "emu --devices 0 exits 2"
err_is "stampdev-emu: --devices: expected 1 to 64, got '0'" "emu --devices message"
run "$EMU" --fault melt@3 -- true
is "$RC" 2 "emu bad fault exits 2"
err_is "stampdev-emu: bad --fault 'melt@3': expected [K:]KIND@N with a KIND listed by --help" "emu bad fault message"
run "$EMU"
is "$RC" 2 "emu without COMMAND exits 2"
run emu -- sh -c 'exit 7'
is "$RC" 7 "emu exits with COMMAND's status"
run emu -- sh -c 'echo "$UMOCKDEV_DIR"'
is "$RC" 0 "emu runs COMMAND under umockdev"
if [ -n "$OUT" ] && [ ! -e "$OUT" ]; then ok "emu removes its umockdev folder"; else not_ok "emu removes its umockdev folder ($OUT)"; fi

# --- listing, and the state kept across runs
run emu --state "$ST" --devices 2 -- "$STATION" devices
is "$RC" 0 "devices exits 0"
S1=$(cat "$ST/dev-1/serial"); S2=$(cat "$ST/dev-2/serial")
is "$OUT" "1-1      1209:0001  $S1   DFU 1.1 dfu-mode xfer 2048  alts: info csr stamp commit lock
1-2      1209:0001  $S2   DFU 1.1 dfu-mode xfer 2048  alts: info csr stamp commit lock" "devices lists path, VID:PID, serial, alts"
key_mode=$(stat -c %a "$ST/dev-1/transport.key")
is "$key_mode" 600 "transport key is mode 0600"
run openssl pkey -in "$ST/dev-1/transport.key" -noout -text
contains "$OUT" "NIST CURVE: P-256" "transport key is a P-256 key"

# --- ambiguity and selection
run emu --state "$ST" --devices 2 -- "$STATION" flash --alt stamp img4k.bin
is "$RC" 2 "flash with two devices and no choice exits 2"
err_is "station: flash: 2 DFU devices are attached; choose one with --device SERIAL or --path PORT (see 'station devices')" "ambiguity message"
run emu --state "$ST" --devices 2 -- "$STATION" read --alt stamp -o x.bin
is "$RC" 2 "read with two devices and no choice exits 2"
run emu --state "$ST" --devices 2 -- "$STATION" flash --device NOPE --alt stamp img4k.bin
is "$RC" 1 "unknown serial exits 1"
err_is "station: flash: no DFU device with serial NOPE (see 'station devices')" "unknown serial message"
run emu --state "$ST" --devices 2 -- "$STATION" flash --path 1-2 --alt nope img4k.bin
is "$RC" 2 "unknown alt exits 2"
err_is "station: flash: device 1-2 (serial $S2) has no alt setting 'nope' (it has 'info', 'csr', 'stamp', 'commit', 'lock')" "unknown alt message"

run emu --state "$ST" --devices 2 -- "$STATION" flash --device "$S1" --path 1-2 --alt stamp img4k.bin
is "$RC" 1 "serial and port that do not match one device exit 1"
err_is "station: flash: no DFU device with serial $S1 at port 1-2 (see 'station devices')" "serial and port mismatch message"
cp -r "$ST" "$TMP/clone"; cp "$TMP/clone/dev-1/serial" "$TMP/clone/dev-2/serial"
run emu --state "$TMP/clone" --devices 2 -- "$STATION" read --device "$S1" --alt info -o x.bin
is "$RC" 2 "two devices with one serial exit 2"
err_is "station: read: 2 DFU devices match; choose one with --path PORT (see 'station devices')" "cloned serial message"
run emu --state "$TMP/clone" --devices 2 -- "$STATION" read --device "$S1" --path 1-2 --alt info -o x.bin
is "$RC" 0 "a cloned serial is told apart by its port"

# --- round trips (sizes below, at and off the 2048-byte block)
for img in img4k.bin img5000.bin small.bin; do
	run emu --state "$ST" --devices 2 -- sh -c "'$STATION' flash --device $S2 --alt stamp $img && '$STATION' read --path 1-2 --alt stamp -o back.bin"
	is "$RC" 0 "flash + read $img exits 0"
	if cmp -s $img back.bin && cmp -s $img "$ST/dev-2/stamp.bin"; then ok "$img read back and in the device flash"; else not_ok "$img read back and in the device flash"; fi
done
run emu --state "$ST" --devices 2 -- "$STATION" read --device "$S2" --alt stamp -o again.bin
if [ "$RC" = 0 ] && cmp -s small.bin again.bin; then ok "a second run sees the same device and flash"; else not_ok "a second run sees the same device and flash"; fi
run emu --state "$ST" -- "$STATION" read --alt info -o info.txt
is "$(cat info.txt)" "hardware-id: $S1
model: stampdev-emu" "info returns its state file"
run emu --state "$ST" -- "$STATION" flash --alt info img4k.bin
is "$RC" 1 "download to read-only info exits 1"
err_is "station: flash: device 1-1 (serial $S1): device reports errTARGET (file is not for this device or alt setting) during download of alt 'info' at byte 0 of 4096; cleared with DFU_CLRSTATUS, nothing was completed" "errTARGET message"

# --- faults
cp "$ST/dev-1/stamp.bin" before.bin 2>/dev/null || : > before.bin
run emu --state "$ST" --fault vanish@2048 -- "$STATION" flash --alt stamp img5000.bin
is "$RC" 1 "device vanishing mid-download exits 1"
err_is "stampdev-emu: 1-1 ($S1): vanishes (fault) during download at byte 2048
station: flash: device 1-1 (serial $S1): disconnected during download of alt 'stamp' at byte 2048 of 5000; the download did not complete: reconnect the device and run again" "vanish mid-download message"
if cmp -s before.bin "$ST/dev-1/stamp.bin" || { [ ! -s before.bin ] && [ ! -e "$ST/dev-1/stamp.bin" ]; }; then ok "vanished download changed nothing"; else not_ok "vanished download changed nothing"; fi
run emu --state "$ST" --fault vanish@0 -- "$STATION" read --alt info -o gone.bin
is "$RC" 1 "device vanishing mid-upload exits 1"
err_is "stampdev-emu: 1-1 ($S1): vanishes (fault) during upload at byte 0
station: read: device 1-1 (serial $S1): disconnected during upload of alt 'info' after 0 bytes; the upload did not complete: reconnect the device and run again" "vanish mid-upload message"
if [ ! -e gone.bin ]; then ok "no output file after a failed read"; else not_ok "no output file after a failed read"; fi
run emu --state "$ST" --fault error@3000 -- sh -c "'$STATION' flash --alt stamp img5000.bin; echo rc=\$?; '$STATION' flash --alt stamp img4k.bin"
is "$RC" 0 "after dfuERROR the next flash succeeds"
is "$OUT" "rc=1" "a write error fails the flash"
err_is "stampdev-emu: 1-1 ($S1): write error (fault) at byte 3000
station: flash: device 1-1 (serial $S1): device reports errWRITE (device is unable to write memory) during download of alt 'stamp' at byte 2048 of 5000; cleared with DFU_CLRSTATUS, nothing was completed" "dfuERROR message"
if cmp -s img4k.bin "$ST/dev-1/stamp.bin"; then ok "flash after dfuERROR landed"; else not_ok "flash after dfuERROR landed"; fi
run emu --state "$ST" --fault stall@4100 -- sh -c "'$STATION' flash --alt stamp img5000.bin; echo rc=\$?; '$STATION' flash --alt stamp img5000.bin"
is "$RC" 0 "after a stalled DNLOAD the next flash succeeds"
is "$OUT" "rc=1" "a stalled DNLOAD fails the flash"
err_is "stampdev-emu: 1-1 ($S1): stalled DNLOAD in dfuDNLOAD-IDLE: stall fault
station: flash: device 1-1 (serial $S1): device stalled DFU_DNLOAD during download of alt 'stamp' at byte 4096 of 5000" "stalled DNLOAD message"
# dfu-util leaves the device in dfuERROR; the station clears it first.
run emu --state "$ST" --fault error@100 -- sh -c "timeout 20 dfu-util -a stamp -D img5000.bin >/dev/null 2>&1; echo dfu-util=\$?; '$STATION' flash --alt stamp img5000.bin"
is "$RC" 0 "station recovers a device that dfu-util left in dfuERROR"
if cmp -s img5000.bin "$ST/dev-1/stamp.bin"; then ok "flash after a foreign dfuERROR landed"; else not_ok "flash after a foreign dfuERROR landed"; fi
run emu --state "$ST" --fault slow@40 -- sh -c "'$STATION' flash --alt stamp img5000.bin && '$STATION' read --alt stamp -o slow.bin"
is "$RC" 0 "slow device (dfuDNBUSY, bwPollTimeout 40 ms) flashes"
is "$ERR" "" "the host never polled early (no stall logged)"
if cmp -s img5000.bin slow.bin; then ok "slow device round trip"; else not_ok "slow device round trip"; fi

run emu --state "$ST" --fault wait-reset@30 -- sh -c "'$STATION' flash --alt stamp img4k.bin && '$STATION' read --alt stamp -o wr.bin && timeout 20 dfu-util -a stamp -D img5000.bin >/dev/null 2>&1 && '$STATION' read --alt stamp -o wr2.bin"
is "$RC" 0 "device that is not manifestation tolerant: flash, reset, read"
is "$ERR" "" "no stall while waiting for the reset"
if cmp -s img4k.bin wr.bin && cmp -s img5000.bin wr2.bin; then ok "manifested before the reset (station and dfu-util)"; else not_ok "manifested before the reset (station and dfu-util)"; fi

# --- usage errors
run "$STATION" flash img4k.bin
is "$RC" 2 "flash without --alt exits 2"
err_is "station: flash: no alt setting: pass --alt NAME (see 'station devices')" "flash without --alt message"
run "$STATION" read --alt stamp
is "$RC" 2 "read without -o exits 2"
err_is "station: read: no output file: pass -o FILE" "read without -o message"
run "$STATION" flash --alt stamp missing.bin
is "$RC" 2 "flash of a missing file exits 2"
err_is "station: flash: cannot read missing.bin: No such file or directory" "missing file message"
: > empty.bin
run "$STATION" flash --alt stamp empty.bin
is "$RC" 2 "flash of an empty file exits 2"
err_is "station: flash: empty.bin: expected a regular file of 1 to 16777216 bytes" "empty file message"
run emu --arrive-every 60000 -- "$STATION" flash --alt stamp img4k.bin
is "$RC" 1 "flash with no device exits 1"
err_is "station: flash: no DFU device attached (see 'station devices')" "no device message"
run "$STATION" devices --watch soon
is "$RC" 2 "devices --watch junk exits 2"

# --- the real dfu-util against the emulator
run emu --state "$ST" --devices 2 -- timeout 20 dfu-util -l
is "$RC" 0 "dfu-util -l exits 0"
contains "$OUT" "Found DFU: [1209:0001] ver=0100, devnum=3, cfg=1, intf=0, path=\"1-2\", alt=2, name=\"stamp\", serial=\"$S2\"" "dfu-util -l lists the stamp alt"
contains "$OUT" "alt=0, name=\"info\", serial=\"$S1\"" "dfu-util -l lists the info alt"
run emu --state "$ST" --devices 2 -- sh -c "timeout 20 dfu-util -S $S2 -a stamp -D img5000.bin && timeout 20 dfu-util -S $S2 -a stamp -U du.bin"
is "$RC" 0 "dfu-util -D then -U exits 0"
if cmp -s img5000.bin du.bin; then ok "dfu-util round trip returns the same bytes"; else not_ok "dfu-util round trip returns the same bytes"; fi
run emu --state "$ST" --devices 2 -- sh -c "timeout 20 dfu-util -S $S2 -a stamp -D img4k.bin >/dev/null 2>&1 && '$STATION' read --device $S2 --alt stamp -o mixed.bin"
if [ "$RC" = 0 ] && cmp -s img4k.bin mixed.bin; then ok "station reads what dfu-util wrote"; else not_ok "station reads what dfu-util wrote"; fi

# --- two clients on one device at once: each reaps only its own URBs
run emu --state "$ST" -- bash -c "
	( for i in \$(seq 30); do '$STATION' devices >/dev/null || exit 1; done ) & lister=\$!
	for i in \$(seq 10); do
		'$STATION' flash --alt stamp img5000.bin && '$STATION' read --alt stamp -o par.bin && cmp -s img5000.bin par.bin || exit 1
	done
	wait \$lister"
is "$RC" 0 "listing in one process while another flashes the same device"

# --- arrival and departure while the host runs
run emu --state "$ST" --devices 2 --arrive-every 300 --fault 1:leave@500 -- "$STATION" devices --watch 2
is "$RC" 0 "devices --watch exits 0"
is "$(echo "$OUT" | awk '{print $1, $2, $3, $4}')" "no DFU devices attached
+ 1-1 1209:0001 $S1
+ 1-2 1209:0001 $S2
- 1-1 1209:0001 $S1" "arrivals and a departure are seen in order"
run emu --state "$ST" --arrive-every 200 -- sh -c "'$STATION' devices --watch 1 >/dev/null; '$STATION' flash --alt stamp small.bin"
is "$RC" 0 "a device that arrived during the run can be flashed"

finish
