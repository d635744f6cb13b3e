#!/usr/bin/env bash
# memcheck.test.sh: the station end to end under valgrind (memcheck) and
# under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer).
#
# valgrind: `station run` through emulated devices in device and token key
# mode, `batch generate` (two worker threads; its key helpers run outside
# valgrind) and `batch import` at a second station, `export`, `crl` and
# `audit verify`; every one exits 0 with no memcheck error and no definite
# leak (--error-exitcode). tests/valgrind.supp holds the one suppression
# (umockdev's own IPC) and says why; tests/lsan.supp the one LeakSanitizer
# suppression (OpenSSL's per-thread DRBG in the emulator).
# ASan/UBSan: scripts/demo, the main job end to end, run with the
# sanitizer build ($BUILD/asan, built by `make check`): exit 0, no report.
. "$(dirname "$0")/../lib/tap.sh"
EMU=$TOP/${BUILD:-build}/stampdev-emu
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --suppressions=$TOP/tests/valgrind.supp --log-file=$TMP/vg.%p.log"
H="$TMP/h"; F="$TMP/f"

# vg_is RC NAME: exit 0 under valgrind; otherwise the logs.
vg_is() {
	is "$1" 0 "$2"
	[ "$1" = 0 ] || { cat "$TMP"/vg.*.log 2>/dev/null | head -40 | sed 's/^/# /'; }
	rm -f "$TMP"/vg.*.log
}

command -v valgrind >/dev/null || { echo "Bail out! valgrind is not installed (scripts/install-deps installs it)"; exit 1; }
for h in "$H" "$F"; do
	"$STATION" pki demo --home "$h" >/dev/null && "$STATION" init --home "$h" >/dev/null ||
	    { echo "Bail out! demo station"; exit 1; }
done
for m in device token; do
	"$STATION" order import --home "$H" "$H/orders/demo-$m.order" >/dev/null
done

for m in device token; do
	o=DEMO-$(echo $m | tr a-z A-Z)-1
	run "$EMU" --state "$TMP/emu-$m" --trust "$H/pki/stamp.pem" --devices 2 --arrive-every 300 -- \
	    $VG "$STATION" run --home "$H" --order "$o" --count 2
	vg_is "$RC" "valgrind: station run, $m key mode, 2 devices"
	contains "$OUT" "PASS 2, FAIL 0" "valgrind: station run, $m key mode: both devices stamped"
done
cp "$H/pki/export.pem" "$F/pki/batch-signer.pem"
run $VG "$STATION" batch generate --home "$H" --order DEMO-TOKEN-1 --count 40 --threads 2 \
    --for "$F/pki/station-transport.pem" -o "$TMP/b.batch"
vg_is "$RC" "valgrind: batch generate, 40 identities, 2 threads"
run $VG "$STATION" batch import --home "$F" "$TMP/b.batch"
vg_is "$RC" "valgrind: batch import"
run $VG "$STATION" export --home "$H" --format jsonl -o "$TMP/export"
vg_is "$RC" "valgrind: export"
run $VG "$STATION" crl --home "$H" -o "$TMP/crl.pem"
vg_is "$RC" "valgrind: crl"
run $VG "$STATION" audit verify --home "$H"
vg_is "$RC" "valgrind: audit verify"

ASAN=$TOP/${BUILD:-build}/asan
if [ -x "$ASAN/station" ] && [ -x "$ASAN/stampdev-emu" ]; then
	# The emulator preloads umockdev into the station: ASan must not
	# insist on coming first in the library list.
	ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:fast_unwind_on_malloc=0 \
	LSAN_OPTIONS=suppressions=$TOP/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    BUILD=${BUILD:-build}/asan "$TOP/scripts/demo" > "$TMP/asan.log" 2>&1
	RC=$?
	is "$RC" 0 "ASan/UBSan: scripts/demo end to end exits 0"
	n=$(grep -c -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/asan.log")
	is "$n" 0 "ASan/UBSan/LSan: no report in the demo's output"
	[ "$RC" = 0 ] && [ "$n" = 0 ] || grep -E -A20 'Sanitizer|runtime error' "$TMP/asan.log" | head -40 | sed 's/^/# /'
else
	not_ok "the sanitizer build $ASAN/station (make check builds it)"
fi
finish
