#!/usr/bin/env bash
# profile.test.sh: the stamp DFU profile across emulator runs (a device
# that is unplugged and plugged in again keeps its flash): stamping,
# power cuts during a stamp write and during commit, read back from the
# emulated flash with `station inspect` (the slot images) and the commit
# marker bytes; the previous stamp stays active after every cut. Also the
# emulator's new options, and dfu-util reading `info` as an independent
# client.
. "$(dirname "$0")/../lib/tap.sh"
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
TOOL=${TOOL:-$TOP/${BUILD:-build}/tools/stamp_tool}
SIGNER=$TOP/stamp-format/vectors/signer.pem
ST="$TMP/state"
emu() { timeout 60 "$EMU" --state "$ST" --trust "$SIGNER" --keygen-ms 20 "$@"; }
tool() { (cd "$TOP" && "$TOOL" "$@"); }
slot() {  # slot DEV A|B OUT: the image part of a slot
	local skip=0; [ "$2" = B ] && skip=1
	dd if="$ST/dev-$1/stamp.part" bs=8192 skip=$skip count=1 2>/dev/null | head -c 8176 > "$3"
}
marker() {  # marker DEV A|B: the 16 marker bytes as hex
	local off=8176; [ "$2" = B ] && off=$((8192 + 8176))
	od -An -tx1 -j $off -N 16 "$ST/dev-$1/stamp.part" | tr -d ' \n'
}

# --- options
run "$EMU" --keygen-ms soon -- true
is "$RC" 2 "emu bad --keygen-ms exits 2"
err_is "stampdev-emu: --keygen-ms: expected 0 to 60000 ms, got 'soon'" "emu --keygen-ms message"
run "$EMU" --trust "$TMP/none.pem" -- true
is "$RC" 2 "emu missing --trust exits 2"
err_is "stampdev-emu: $TMP/none.pem: not a P-256 public key or certificate (PEM)" "emu --trust message"
run "$EMU" --fault commit-cut@16 -- true
is "$RC" 2 "emu commit-cut beyond the marker exits 2"

# --- first stamp on two devices at once
run emu --devices 2 -- "$TOOL" --signer "$TOP/stamp-format/vectors/signer-key.pem"
is "$RC" 0 "two devices stamped at once"
contains "$OUT" "1-1 $(cat "$ST/dev-1/serial") ok" "result names port and serial of 1-1"
contains "$OUT" "1-2 $(cat "$ST/dev-2/serial") ok" "result names port and serial of 1-2"
S1=$(cat "$ST/dev-1/serial")
slot 1 A "$TMP/a.img"
run "$STATION" inspect "$TMP/a.img" --trust "$SIGNER" --hardware-id "$S1"
is "$RC" 0 "slot A of 1-1 holds a valid stamp for it"
contains "$OUT" "generation 1," "slot A is generation 1"
contains "$(marker 1 A)" "53434f4d01000000" "slot A carries the commit marker of generation 1"
run "$STATION" inspect "$TMP/a.img" --trust "$SIGNER" --hardware-id "$(cat "$ST/dev-2/serial")"
is "$RC" 1 "the stamp of 1-1 is refused for 1-2 (binding)"

# a device with a malformed DFU descriptor is shown, not silently missing
run emu --devices 2 --fault 2:bad-desc@1 -- "$STATION" devices
is "$RC" 0 "devices with a malformed device exits 0"
contains "$OUT" "! 1-2    1209:0001  DFU device left out: configuration descriptor: " "the malformed device is named with the reason"

# dfu-util, an independent client, reads the info record
run emu --devices 1 -- timeout 20 dfu-util -d 1209:0001 -a info -U "$TMP/info.bin"
is "$RC" 0 "dfu-util uploads alt info"
is "$(head -c 4 "$TMP/info.bin")" "SINF" "info record magic"

# --- power cut after byte 150 of the next stamp write (inside the records)
run emu --devices 2 --fault 1:powercut@150 -- "$TOOL" --signer "$TOP/stamp-format/vectors/signer-key.pem"
is "$RC" 1 "power cut: the run fails"
contains "$OUT" "1-1 $S1 FAILED device 1-1 (serial $S1): disconnected during download of alt 'stamp' at byte 0 of" "power cut: 1-1 fails naming port and serial"
contains "$OUT" "1-2 $(cat "$ST/dev-2/serial") ok" "power cut on 1-1 holds up nobody: 1-2 stamped"
slot 1 B "$TMP/b.img"
run "$STATION" inspect "$TMP/b.img" --trust "$SIGNER"
is "$RC" 1 "the interrupted slot B holds no valid stamp"
contains "$ERR" "invalid stamp" "inspect says why slot B is invalid"
is "$(marker 1 B)" "ffffffffffffffffffffffffffffffff" "slot B has no commit marker"
is "$(od -An -tx1 -j 150 -N 4 "$TMP/b.img" | tr -d ' ')" "ffffffff" "slot B is erased from byte 150 on"
slot 1 A "$TMP/a2.img"
run "$STATION" inspect "$TMP/a2.img" --trust "$SIGNER" --hardware-id "$S1"
is "$RC" 0 "slot A still holds generation 1, valid"
run emu --devices 2 -- "$TOOL" --info
is "$RC" 0 "after the power cut the devices answer"
contains "$OUT" "1-1 $S1 generation 1 locked 0" "after a cut in the stamp write generation 1 is active"
contains "$OUT" "generation 2 locked 0" "1-2 went on to generation 2"

# --- power cut after 8 bytes of the commit marker
run emu --devices 1 --fault 1:commit-cut@8 -- "$TOOL" --signer "$TOP/stamp-format/vectors/signer-key.pem"
is "$RC" 1 "commit cut: the run fails"
contains "$OUT" "FAILED device 1-1 (serial $S1): disconnected" "commit cut: names the device"
slot 1 B "$TMP/b2.img"
run "$STATION" inspect "$TMP/b2.img" --trust "$SIGNER" --hardware-id "$S1"
is "$RC" 0 "slot B holds the complete generation 2 image"
is "$(marker 1 B | cut -c1-16)" "53434f4d02000000" "slot B's marker is torn after 8 bytes"
is "$(marker 1 B | cut -c17-32)" "ffffffffffffffff" "the rest of the marker is erased"
run emu --devices 1 -- "$TOOL" --info
contains "$OUT" "1-1 $S1 generation 1 locked 0" "after a cut in the commit generation 1 is still active"

# --- a clean retry commits generation 2, then lock
run emu --devices 1 -- "$TOOL" --lock --signer "$TOP/stamp-format/vectors/signer-key.pem"
is "$RC" 0 "a retry after the cuts stamps and locks"
run emu --devices 1 -- "$TOOL" --info
contains "$OUT" "1-1 $S1 generation 2 locked 1" "generation 2 active and locked"
run emu --devices 1 -- "$STATION" devices --stamp
is "$RC" 0 "station devices exits 0"
contains "$OUT" "
         stamp: generation 2 (digest " "station devices shows the active generation"
contains "$OUT" "...), locked" "station devices shows the lock"
run emu --devices 1 -- "$TOOL" --signer "$TOP/stamp-format/vectors/signer-key.pem"
is "$RC" 1 "a locked device is not stamped again"
contains "$OUT" "device is locked" "locked: the reason is given"

finish
