#!/usr/bin/env bash
# batch.bench.sh: `station batch generate`, complete identities per second
# (serial and claim ID, device key made in the token and sealed there to
# the receiving station, certificate signed by the sub-CA in the token,
# three durable audit records, written into the CMS envelope), for 1 and 2
# worker threads, next to the same per-identity PKCS#11 calls made bare
# in a tight loop on the same token (tests/bench/batch_bare.c), measured
# in the same run in interleaved rounds (best of 3 each, so that load
# from elsewhere on the shared machine falls on both alike). Targets:
# >= 70% of bare, >= 100x the shell script doing the same job the simple
# way (tests/bench/batch_shell.sh). Then peak memory (maximum resident set
# of the process and its children) for 10,000 and 30,000 identities; set
# BATCH_BENCH_BIG=100000 to add that count (about two minutes here).
# Printed as BENCH/NOTE lines for tests/bench/run.
set -eu
BUILD=${BUILD:-build}
BARE="$BUILD/bench/batch-bare"
[ -x "$BARE" ] || make -s "$BARE" >&2
H=$(mktemp -d); trap 'rm -rf "$H"' EXIT
rmdir "$H"
"$STATION" pki demo --home "$H" >/dev/null
"$STATION" init --home "$H" >/dev/null
printf 'station-order 1\norder_id = BENCH-1\nstation_id = DEMO-01\nproduct = BN1\nquantity = 1000000\nserial_first = 1\nserial_last = 1000000\nkey_mode = token\nclaim_mode = user\nexpires = 2099-12-31T23:59:59Z\n' > "$H/order.txt"
openssl cms -sign -binary -nodetach -outform DER -in "$H/order.txt" \
    -signer "$H/pki/order.pem" -inkey "$H/pki/demo-order.key" -out "$H/bench.order"
"$STATION" order import --home "$H" "$H/bench.order" >/dev/null
FOR="$H/pki/station-transport.pem"
n=0
# gen THREADS COUNT: identities/s of one batch generate run.
gen() {
	n=$((n + 1))
	"$STATION" batch generate --home "$H" --order BENCH-1 --count "$2" \
	    --threads "$1" --for "$FOR" -o "$H/b$n.batch" |
	    sed -n 's/.*, \([0-9]*\)\/s)$/\1/p'
	rm -f "$H/b$n.batch"
}
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
declare -A best=([g1]=0 [g2]=0 [b1]=0 [b2]=0)
for round in 1 2 3; do
	for t in 1 2; do
		best[b$t]=$(max "${best[b$t]}" "$("$BARE" "$H" rate 3 "$t")")
		best[g$t]=$(max "${best[g$t]}" "$(gen "$t" 4000)")
	done
done
shell=$(bash "$(dirname "$0")/batch_shell.sh" "$H" 10 2>/dev/null)
tt=1; [ "${best[g2]}" -gt "${best[g1]}" ] && tt=2
echo "BENCH batch.generate ${best[g$tt]} /s batch.bare.${tt}t,batch.shell \`station batch generate\`: complete identities/s (best of 1 and 2 worker threads: $tt)"
echo "NOTE batch.generate $(awk -v a="${best[g$tt]}" -v b="$shell" 'BEGIN { printf "%.0f", a / b }')x the shell script; targets >= 70% of bare, >= 100x the shell script"
for t in 1 2; do
	echo "BENCH batch.generate.${t}t ${best[g$t]} /s batch.bare.${t}t \`station batch generate\`, $t worker thread(s): complete identities/s"
	echo "BENCH batch.bare.${t}t ${best[b$t]} /s - the same PKCS#11 calls bare in a tight loop, $t thread(s)"
	echo "NOTE batch.generate.${t}t target >= 70% of bare"
done
echo "BENCH batch.shell $shell /s - the shell script (pkcs11-tool + openssl with the pkcs11 engine + sqlite3, one process per step)"
mem() {
	/usr/bin/time -f %M "$STATION" batch generate --home "$H" --order \
	    BENCH-1 --count "$1" --threads 2 --for "$FOR" -o "$H/m$1.batch" \
	    2>&1 >/dev/null | tail -1
	rm -f "$H/m$1.batch"
}
m10=$(mem 10000); m30=$(mem 30000)
echo "BENCH batch.peak_rss.30k $m30 KiB batch.peak_rss.10k peak memory of \`station batch generate\` (max RSS, process and workers), 30,000 identities"
echo "BENCH batch.peak_rss.10k $m10 KiB - the same, 10,000 identities"
echo "NOTE batch.peak_rss.30k growth $(( (m30 - m10) * 1000 / 20000 )) bytes per identity"
if [ -n "${BATCH_BENCH_BIG:-}" ]; then
	mb=$(mem "$BATCH_BENCH_BIG")
	echo "BENCH batch.peak_rss.big $mb KiB batch.peak_rss.10k peak memory of \`station batch generate\`, $BATCH_BENCH_BIG identities"
fi
