#!/usr/bin/env bash
# powercut.stress.sh (make stress): power cuts swept over a whole stamp
# write (every 8th byte of the 352-byte image, and its last) and over every byte of the commit
# marker, on a device that already has generation 1. After each cut the
# device, plugged in again, must report generation 1 active (never the
# partial or unconfirmed one), and a clean retry must then commit
# generation 2, which the next round starts from again (fresh state).
. "$(dirname "$0")/../lib/tap.sh"
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
TOOL=${TOOL:-$TOP/${BUILD:-build}/tools/stamp_tool}
KEY=$TOP/stamp-format/vectors/signer-key.pem
emu() { timeout 60 "$EMU" --state "$1" --trust "$TOP/stamp-format/vectors/signer.pem" --keygen-ms 0 "${@:2}"; }
cuts() {  # cuts FAULT...: one round per fault
	for f in "$@"; do
		st="$TMP/st-$f"
		emu "$st" -- "$TOOL" --signer "$KEY" >/dev/null 2>&1 || { not_ok "$f: first stamp"; continue; }
		run emu "$st" --fault "$f" -- "$TOOL" --signer "$KEY"
		[ "$RC" = 1 ] || { not_ok "$f: the cut run reports failure (rc $RC)"; continue; }
		run emu "$st" -- "$TOOL" --info
		case "$OUT" in *"generation 1 locked 0"*) ;; *) not_ok "$f: generation 1 still active ($OUT)"; continue ;; esac
		run emu "$st" -- "$TOOL" --signer "$KEY"
		[ "$RC" = 0 ] || { not_ok "$f: retry commits ($OUT)"; continue; }
		run emu "$st" -- "$TOOL" --info
		case "$OUT" in *"generation 2 locked 0"*) ok "$f: previous stamp kept, retry commits" ;; *) not_ok "$f: generation 2 after retry ($OUT)" ;; esac
		rm -rf "$st"
	done
}
cd "$TOP"
cuts $(seq -f 'powercut@%g' 0 8 351) powercut@351  # the image is 352 bytes
cuts $(seq -f 'commit-cut@%g' 0 15)
finish
