#!/usr/bin/env bash
# run.stress.sh: 1,000 devices through `station run` in device key mode,
# in 16 emulator sessions of up to 64 devices (the emulator's limit), the
# demo order of exactly 1,000: then no serial, claim ID or certificate
# serial twice, every certificate passes `openssl verify` to the demo root,
# every PNG label decodes with zbarimg to its own payload, the order is
# used up (the next device is refused), and the audit log verifies.
. "$(dirname "$0")/../lib/tap.sh"
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
H="$TMP/home"
DB="$H/station.db"
q() { sqlite3 "$DB" "$1"; }
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null

failed=0
for round in $(seq 1 16); do
	n=64; [ "$round" = 16 ] && n=40
	timeout 600 "$EMU" --state "$TMP/s$round" --trust "$H/pki/stamp.pem" --keygen-ms 10 \
	    --devices $n -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count $n \
	    > "$TMP/run$round.out" 2>"$TMP/run$round.err" || failed=$((failed + 1))
done
is "$failed" 0 "16 runs, 1,000 devices, every run exit 0"
is "$(q "SELECT count(*) FROM devices WHERE state = 'done'")" 1000 "1,000 devices done"
is "$(q "SELECT count(*) - count(DISTINCT serial) FROM devices")" 0 "no serial twice"
is "$(q "SELECT count(*) - count(DISTINCT claim_id) FROM devices")" 0 "no claim ID twice"
is "$(q "SELECT count(cert_serial) - count(DISTINCT cert_serial) FROM devices")" 0 "no certificate serial twice"
is "$(q "SELECT count(*) - count(DISTINCT hardware_id) FROM devices")" 0 "no hardware id twice"

mkdir -p "$TMP/certs"
q "SELECT serial, hex(cert_der) FROM devices" | while IFS='|' read -r sn hex; do
	echo "$hex" | xxd -r -p | openssl x509 -inform DER -out "$TMP/certs/$sn.pem"
done
bad=$(cd "$TMP/certs" && ls | xargs -n 100 openssl verify -CAfile "$H/pki/root.pem" \
    -untrusted "$H/pki/subca.pem" 2>&1 | grep -vc ': OK$')
is "$bad" 0 "every certificate passes openssl verify"
is "$(ls "$TMP/certs" | wc -l)" 1000 "1,000 certificates checked"

bad=0
while IFS='|' read -r sn claim; do
	enc=$(printf %s "$claim" | sed 's/\*/%2A/; s/\$/%24/; s/=/%3D/')
	got=$(zbarimg -q --raw "$H/labels/png/$sn.png" 2>/dev/null)
	[ "$got" = "https://example.invalid/claim?id=$enc&sn=$sn" ] || bad=$((bad + 1))
done < <(q "SELECT serial, claim_id FROM devices")
is "$bad" 0 "every PNG label decodes to its own payload"

run timeout 120 "$EMU" --state "$TMP/extra" --trust "$H/pki/stamp.pem" --keygen-ms 10 --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 1
is "$RC" 1 "the 1,001st device: the order is used up, exit 1"
err_is "station: run: order DEMO-DEVICE-1 is used up: nothing can be stamped under it; ask the officer for a new order" "used-up order message"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "audit log verifies"
contains "$OUT" "inventory: 1000 devices match their events" "audit replay: 1,000 devices"
finish
