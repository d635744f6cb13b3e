#!/usr/bin/env bash
# mem.bench.sh: peak memory (maximum resident set, GNU time) of the
# station's verbs that read the whole log, on a demo home with 300 devices
# made through order-tool (host keys, certificates, labels): `audit
# verify` and `export`, next to sqlite3 reading every event of the same
# database (the floor of anything that opens the file). `station run`'s
# peak memory is the report's run.peak_rss row, for the bench loop's own
# bench to print.
set -eu
BUILD=${BUILD:-build}
TOOL=$PWD/$BUILD/test-tools/order-tool
H=$(mktemp -d)/home; trap 'rm -rf "$(dirname "$H")"' EXIT
"$STATION" pki demo --home "$H" >/dev/null
"$STATION" init --home "$H" >/dev/null
"$STATION" order demo --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null
"$TOOL" allocate "$H" DEMO-DEVICE-1 300 done >/dev/null
peak() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }  # KiB
verify=$(peak "$STATION" audit verify --home "$H")
export=$(peak "$STATION" export --home "$H" --format jsonl -o "$(dirname "$H")/export")
base=$(peak sqlite3 "$H/station.db" "SELECT * FROM events")
echo "BENCH mem.audit_verify $verify KiB mem.sqlite3 peak memory of \`station audit verify\`, 300-device log"
echo "BENCH mem.export $export KiB mem.sqlite3 peak memory of \`station export\` (jsonl), 300 devices"
echo "BENCH mem.sqlite3 $base KiB - sqlite3 reading every event of the same database"
