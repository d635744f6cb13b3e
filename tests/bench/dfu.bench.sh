#!/usr/bin/env bash
# dfu.bench.sh: DFU throughput against stampdev-emu, each figure next to
# its baseline from the same emulator run:
#  - download + upload of 4 KiB through our host in-process on an open
#    device, and the same with open/claim/close per device, next to the
#    emulator's own limit, bare GETSTATUS round trips per second, scaled
#    to the number of control transfers one cycle needs (target: >= 80%);
#    measured in 8 interleaved rounds, best of each (see dfu_bench.c);
#  - `station flash` + `station read` per device (two processes) next to
#    `dfu-util -D` + `dfu-util -U` per device (two processes).
# Host and emulator share the machine's cores; while a handle is open,
# libusb's event thread spins against the always-ready fake node.
set -eu
BUILD=${BUILD:-build}
EMU="$BUILD/stampdev-emu"
BENCH="$BUILD/bench/dfu_bench"
[ -x "$BENCH" ] || make -s "$BENCH" >&2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
head -c 4096 /dev/urandom > "$T/img.bin"
N_PROC=40

read -r rtt xfer per cycle < <(timeout 300 "$EMU" --raw --state "$T/st" -- "$BENCH" 8)
allowed=$(( rtt / per ))
echo "BENCH dfu.host.xfer $xfer /s dfu.emu.limit DFU download + upload of 4 KiB through our host (flasher) on an open device, with compare"
echo "BENCH dfu.emu.limit $allowed /s - the emulator's limit: bare GETSTATUS round trips ($rtt/s) for the $per control transfers of one cycle"
echo "NOTE dfu.host.xfer target >= 80% of the emulator's limit"
echo "BENCH dfu.host.cycle $cycle /s dfu.emu.limit the same with open + claim + close per device"

pairs() {  # pairs FLASH_CMD READ_CMD: devices/s over N_PROC pairs, in one emulator run
	timeout 300 "$EMU" --raw --state "$T/st" -- bash -c '
		t0=$(date +%s%N)
		for i in $(seq '"$N_PROC"'); do
			rm -f "'"$T"'/back.bin"
			'"$1"' >/dev/null 2>&1 || exit 1
			'"$2"' >/dev/null 2>&1 || exit 1
		done
		t1=$(date +%s%N)
		cmp -s "'"$T"'/img.bin" "'"$T"'/back.bin" || exit 1
		echo $(( '"$N_PROC"' * 1000000000 / (t1 - t0) ))'
}
ours=$(pairs "'$STATION' flash --alt stamp '$T/img.bin'" "'$STATION' read --alt stamp -o '$T/back.bin'")
theirs=$(pairs "dfu-util -a stamp -D '$T/img.bin'" "dfu-util -a stamp -U '$T/back.bin'")
echo "BENCH dfu.station $ours devices/s dfu.dfu-util \`station flash\` + \`station read\` of 4 KiB (two processes per device)"
echo "BENCH dfu.dfu-util $theirs devices/s - \`dfu-util -D\` + \`-U\` (two processes per device)"
