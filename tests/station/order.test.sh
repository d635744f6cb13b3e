#!/usr/bin/env bash
# order.test.sh: production orders through the real binary on one demo
# home: orders made with the openssl CLI (docs/ORDERS.md), signed by the
# demo order key and by a foreign key; every refusal with its exact message
# and exit code; allocation up to the quantity and expiry (order-tool, the
# bench loop's calls); a rolled-back database caught by the token's record
# on re-import and on allocation; the audit log still verifies.
. "$(dirname "$0")/../lib/tap.sh"

TOOL=${ORDER_TOOL:-$TOP/${BUILD:-build}/test-tools/order-tool}
H="$TMP/home"
run "$STATION" pki demo --home "$H"
is "$RC" 0 "demo home created"
run "$STATION" order demo --home "$H"
is "$RC" 0 "order demo exits 0"
is "$OUT" "demo orders for station DEMO-01 in $H/orders/: demo-device.order, demo-token.order, demo-host.order" "order demo output"

# sign NAME TEXT [openssl options]: $TMP/NAME.order signed by the demo key.
sign() {
	local name=$1 text=$2; shift 2
	printf '%s' "$text" > "$TMP/$name.txt"
	openssl cms -sign -binary -nodetach -outform DER -in "$TMP/$name.txt" \
	    -signer "$H/pki/order.pem" -inkey "$H/pki/demo-order.key" \
	    -out "$TMP/$name.order" "$@"
}
# order_text ID STATION QTY FIRST LAST EXPIRES [PRODUCT]
order_text() {
	printf 'station-order 1\norder_id = %s\nstation_id = %s\nproduct = %s\nquantity = %s\nserial_first = %s\nserial_last = %s\nkey_mode = device\nclaim_mode = user\nexpires = %s\n' \
	    "$1" "$2" "${7:-GW2}" "$3" "$4" "$5" "$6"
}
FAR=2099-12-31T23:59:59Z

run "$STATION" order import --home "$H" "$H/orders/demo-device.order"
is "$RC" 0 "demo device order imported"
contains "$OUT" "order DEMO-DEVICE-1 imported: DW1 x 1000, serials 1..1000, key mode device, claim mode user, expires " "import summary"

run "$STATION" order import --home "$H" "$H/orders/demo-device.order"
is "$RC" 1 "replayed order refused with exit 1"
contains "$ERR" "station: $H/orders/demo-device.order: order DEMO-DEVICE-1 was imported before (at " "replayed order message"
contains "$ERR" "); an order is imported only once" "replayed order message tail"

# An order made with the openssl CLI, as docs/ORDERS.md says.
sign cli "$(order_text CLI-1 DEMO-01 2 5000 5001 $FAR)"
run "$STATION" order import --home "$H" "$TMP/cli.order"
is "$RC" 0 "openssl-made order imported"

# Bad signature: one character of the signed text changed in the DER.
sign tamper "$(order_text TAMPER-1 DEMO-01 10 6000 6099 $FAR)"
perl -0777 -pi -e 's/quantity = 10\n/quantity = 90\n/' "$TMP/tamper.order"
run "$STATION" order import --home "$H" "$TMP/tamper.order"
is "$RC" 1 "tampered order exits 1"
err_is "station: $TMP/tamper.order: bad signature: the order was changed after it was signed, or the signature is not the signer's; ask the brand owner for the original file" "bad signature message"

# A foreign key, its certificate in the document.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TMP/foreign.key" -out "$TMP/foreign.pem" -days 30 \
    -subj "/CN=Foreign order key (test)" 2>/dev/null
order_text FOREIGN-1 DEMO-01 10 7000 7099 $FAR > "$TMP/foreign.txt"
openssl cms -sign -binary -nodetach -outform DER -in "$TMP/foreign.txt" \
    -signer "$TMP/foreign.pem" -inkey "$TMP/foreign.key" -out "$TMP/foreign.order"
run "$STATION" order import --home "$H" "$TMP/foreign.order"
is "$RC" 1 "foreign-signed order exits 1"
err_is "station: $TMP/foreign.order: untrusted signer: 'Foreign order key (test)' does not chain to the order certificate of [pki] order_cert (self-signed certificate)" "untrusted signer message"

# A foreign key without its certificate in the document.
openssl cms -sign -binary -nodetach -nocerts -outform DER -in "$TMP/foreign.txt" \
    -signer "$TMP/foreign.pem" -inkey "$TMP/foreign.key" -out "$TMP/nocert.order"
run "$STATION" order import --home "$H" "$TMP/nocert.order"
is "$RC" 1 "order without signer certificate exits 1"
err_is "station: $TMP/nocert.order: untrusted signer: the signer's certificate is neither in the document nor [pki] order_cert" "unknown signer message"

# The demo key without its certificate in the document: the trusted one is used.
sign nocert-ok "$(order_text NOCERT-OK DEMO-01 1 8000 8000 $FAR)" -nocerts
run "$STATION" order import --home "$H" "$TMP/nocert-ok.order"
is "$RC" 0 "order signed by the trusted key without certificate imported"

sign other "$(order_text OTHER-1 OTHER-9 10 9000 9099 $FAR)"
run "$STATION" order import --home "$H" "$TMP/other.order"
is "$RC" 1 "order for another station exits 1"
err_is "station: $TMP/other.order: order OTHER-1 is for station OTHER-9, not this station (DEMO-01)" "other station message"

sign old "$(order_text OLD-1 DEMO-01 10 9100 9199 2020-01-01T00:00:00Z)"
run "$STATION" order import --home "$H" "$TMP/old.order"
is "$RC" 1 "expired order exits 1"
err_is "station: $TMP/old.order: order OLD-1 expired at 2020-01-01T00:00:00Z; ask the brand owner for a new order" "expired message"

sign block "$(order_text BLOCK-1 DEMO-01 200 9200 9299 $FAR)"
run "$STATION" order import --home "$H" "$TMP/block.order"
is "$RC" 1 "quantity beyond the block exits 1"
err_is "station: $TMP/block.order: order BLOCK-1: quantity 200 does not fit the serial block 9200..9299" "serial block message"

sign reversed "$(order_text REV-1 DEMO-01 1 9400 9300 $FAR)"
run "$STATION" order import --home "$H" "$TMP/reversed.order"
is "$RC" 1 "reversed block exits 1"
err_is "station: $TMP/reversed.order: order REV-1: quantity 1 does not fit the serial block 9400..9300" "reversed block message"

sign overlap "$(order_text OVERLAP-1 DEMO-01 10 995 1004 $FAR DW1)"
run "$STATION" order import --home "$H" "$TMP/overlap.order"
is "$RC" 1 "overlapping block exits 1"
err_is "station: $TMP/overlap.order: order OVERLAP-1: serial block 995..1004 of DW1 overlaps order DEMO-DEVICE-1" "overlap message"

head -c 300 /dev/urandom > "$TMP/random.order"
printf '\x00' | cat - "$TMP/random.order" > "$TMP/junk.order"
run "$STATION" order import --home "$H" "$TMP/junk.order"
is "$RC" 1 "junk exits 1"
err_is "station: $TMP/junk.order: malformed order document: not a DER CMS document" "junk message"

cat "$TMP/cli.order" > "$TMP/trailing.order"; printf 'X' >> "$TMP/trailing.order"
run "$STATION" order import --home "$H" "$TMP/trailing.order"
is "$RC" 1 "trailing bytes exit 1"
err_is "station: $TMP/trailing.order: malformed order document: 1 bytes after the CMS document" "trailing bytes message"

openssl cms -sign -binary -outform DER -in "$TMP/cli.txt" -signer "$H/pki/order.pem" \
    -inkey "$H/pki/demo-order.key" -out "$TMP/detached.order"
run "$STATION" order import --home "$H" "$TMP/detached.order"
is "$RC" 1 "detached signature exits 1"
err_is "station: $TMP/detached.order: malformed order document: the order text is not attached (sign with -nodetach)" "detached message"

sign missing "$(order_text MISS-1 DEMO-01 1 9500 9500 $FAR | grep -v '^expires')"
run "$STATION" order import --home "$H" "$TMP/missing.order"
is "$RC" 1 "missing key exits 1"
err_is "station: $TMP/missing.order: malformed order document: expires missing" "missing key message"

sign badqty "$(order_text QTY-1 DEMO-01 012 9600 9699 $FAR)"
run "$STATION" order import --home "$H" "$TMP/badqty.order"
is "$RC" 1 "leading zero quantity exits 1"
err_is "station: $TMP/badqty.order: malformed order document: line 5: quantity: expected a whole number from 1 to 1000000000000, got '012'" "bad quantity message"

sign badver "$(order_text VER-1 DEMO-01 1 9700 9700 $FAR | sed 's/^station-order 1/station-order 2/')"
run "$STATION" order import --home "$H" "$TMP/badver.order"
is "$RC" 1 "unknown version exits 1"
err_is "station: $TMP/badver.order: malformed order document: line 1: expected 'station-order 1'" "version message"

run "$STATION" order import --home "$H"
is "$RC" 2 "import without FILE exits 2"
err_is "station: order import: expected one order FILE" "usage message"

# Allocation up to the quantity (CLI-1 holds 2).
run "$TOOL" allocate "$H" CLI-1 2
is "$RC" 0 "two devices allocated under CLI-1"
contains "$OUT" "GW2-DEMO-01-00005000 " "first serial from the block through the template"
contains "$OUT" "GW2-DEMO-01-00005001 " "second serial"
run "$TOOL" allocate "$H" CLI-1 1
is "$RC" 1 "third allocation refused"
err_is "order-tool: used up: order CLI-1 is used up: 2 of 2 allocated; ask the brand owner for a new order" "used up message"

# An order that expires while it is open.
soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
sign soon "$(order_text SOON-1 DEMO-01 5 9800 9804 "$soon")"
run "$STATION" order import --home "$H" "$TMP/soon.order"
is "$RC" 0 "short-lived order imported"
sleep 3
run "$TOOL" allocate "$H" SOON-1 1
is "$RC" 1 "allocation under an expired order refused"
err_is "order-tool: expired: order SOON-1 expired at $soon; ask the brand owner for a new order" "expired at allocation message"

# Rollback: keep a copy of the database, then import and allocate more.
cp "$H/station.db" "$TMP/old.db"
run "$STATION" order import --home "$H" "$H/orders/demo-token.order"
is "$RC" 0 "demo token order imported"
run "$TOOL" allocate "$H" DEMO-DEVICE-1 3
is "$RC" 0 "three devices allocated under DEMO-DEVICE-1"
run "$STATION" order status --home "$H" --token
is "$RC" 0 "status with the token exits 0"
contains "$OUT" "DEMO-DEVICE-1        DW1        device       1000          3        997 " "status line of DEMO-DEVICE-1"
contains "$OUT" " 3        open" "token count and state"
contains "$OUT" "CLI-1                GW2        device          2          2          0 2099-12-31T23:59:59Z 2        used up" "status of a used-up order"
# The database copied back to before the import and the allocations.
rm -f "$H/station.db-wal" "$H/station.db-shm"
cp "$TMP/old.db" "$H/station.db"
run "$STATION" order import --home "$H" "$H/orders/demo-token.order"
is "$RC" 1 "re-import after a rollback refused"
err_is "station: $H/orders/demo-token.order: order DEMO-TOKEN-1 was imported before: the token holds its record (0 allocated) but the database does not; the database was rolled back or replaced, and a security officer must resolve this" "rollback on re-import message"
run "$TOOL" allocate "$H" DEMO-DEVICE-1 1
is "$RC" 1 "allocation after a rollback refused"
err_is "order-tool: rolled back: order DEMO-DEVICE-1: the token counted 3 identities but the database only 0; the database was rolled back or replaced, and stamping under this order stops until a security officer resolves it" "rollback on allocation message"
run "$STATION" order status --home "$H" --token
is "$RC" 1 "status with the token shows the rollback"
contains "$OUT" " 3        rolled back" "status names the rollback"
run "$STATION" order status --home "$H"
is "$RC" 0 "status without the token cannot tell"

# The token's count itself only goes up.
run "$TOOL" counter "$H" DEMO-DEVICE-1
is "$OUT" "3" "the token's count of DEMO-DEVICE-1"
run "$TOOL" counter "$H" DEMO-DEVICE-1 set 2
is "$RC" 1 "the token's count cannot go back"
err_is "order-tool: order DEMO-DEVICE-1: the token's count 3 cannot go back to 2" "count going back message"
run "$TOOL" counter "$H" DEMO-DEVICE-1 set 7
is "$OUT" "7" "the token's count goes up"
run "$TOOL" counter "$H" NO-SUCH-ORDER
is "$OUT" "none" "no record of an order never imported"
run "$TOOL" counter "$H" "bad/id"
err_is "order-tool: order id 'bad/id': expected 1 to 64 of A-Z a-z 0-9 . _ -" "bad order id refused by the token layer"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "the (restored) audit log verifies"

finish
