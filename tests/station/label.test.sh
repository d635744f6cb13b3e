#!/usr/bin/env bash
# label.test.sh: labels of devices stamped on a demo home (order-tool runs
# the bench loop's calls up to done and writes each label): every PNG
# decodes with zbarimg to the expected payload, the ZPL is checked field by
# field, the printer device gets the same ZPL, and `station label SERIAL`
# reprints with an audited event; refusals with exact messages.
. "$(dirname "$0")/../lib/tap.sh"

TOOL=${ORDER_TOOL:-$TOP/${BUILD:-build}/test-tools/order-tool}
H="$TMP/home"
run "$STATION" pki demo --home "$H"
is "$RC" 0 "demo home created"
# A printer device: any writable file that exists; a template with every field.
: > "$TMP/printer"
cat >> "$H/station.conf" <<EOF

[label]
printer = $TMP/printer
qr_template = https://example.invalid/c?id={claim}&sn={serial}&p={product}
EOF
run "$STATION" order demo --home "$H"
is "$RC" 0 "demo orders written"
run "$STATION" order import --home "$H" "$H/orders/demo-device.order"
is "$RC" 0 "demo device order imported"

run "$TOOL" allocate "$H" DEMO-DEVICE-1 5 done
is "$RC" 0 "five devices stamped and labelled"
devices=$OUT
n=0
while read -r serial claim; do
	n=$((n + 1))
	enc=$(printf '%s' "$claim" | sed 's/\*/%2A/; s/\$/%24/; s/=/%3D/')
	want="https://example.invalid/c?id=$enc&sn=$serial&p=DW1"
	png="$H/labels/png/$serial.png"
	got=$(zbarimg -q --raw "$png" 2>/dev/null)
	is "$got" "$want" "PNG $n decodes to its payload"
	zpl=$(cat "$H/labels/spool/$serial.zpl")
	zclaim=$(printf '%s' "$claim" | sed 's/.\{4\}/&-/g; s/-$//; s/~/_7E/')
	zwant=$(printf '^XA\n^CI28\n^PW406\n^LL254\n^FO16,16^BQN,2,4^FH_^FDMA,%s^FS\n^FO200,40^A0N,24,24^FH_^FD%s^FS\n^FO200,90^A0N,22,22^FH_^FD%s^FS\n^FO200,140^A0N,20,20^FH_^FDDW1^FS\n^XZ' \
	    "$(printf '%s' "$want" | sed 's/~/_7E/g')" "$serial" "$zclaim")
	is "$zpl" "$zwant" "ZPL $n field by field"
done <<< "$devices"
is "$n" 5 "five labels"
is "$(cat "$H"/labels/spool/*.zpl | sha256sum)" "$(sha256sum < "$TMP/printer")" "the printer got the same ZPL, in order"

first=$(echo "$devices" | head -1 | cut -d' ' -f1)
rm "$H/labels/png/$first.png"
run "$STATION" label --home "$H" --actor op-7 --reason "label torn" "$first"
is "$RC" 0 "reprint exits 0"
is "$OUT" "label of $first reprinted: $H/labels/spool/$first.zpl, $H/labels/png/$first.png, sent to $TMP/printer" "reprint output"
claim1=$(echo "$devices" | head -1 | cut -d' ' -f2)
contains "$(zbarimg -q --raw "$H/labels/png/$first.png" 2>/dev/null)" "sn=$first&p=DW1" "the reprinted PNG decodes"
run "$STATION" audit show --home "$H" --kind label.reprinted
contains "$OUT" "op-7 label.reprinted $first png=$H/labels/png/$first.png printer=$TMP/printer reason=\"label torn\"" "the reprint is an audited event with its actor"

run "$STATION" label --home "$H" NO-SUCH-1
is "$RC" 1 "unknown serial exits 1"
err_is "station: label: no device with serial 'NO-SUCH-1'" "unknown serial message"

run "$TOOL" allocate "$H" DEMO-DEVICE-1 1
is "$RC" 0 "one device allocated, not done"
pending=$(echo "$OUT" | cut -d' ' -f1)
run "$STATION" label --home "$H" "$pending"
is "$RC" 1 "label of a device not done exits 1"
err_is "station: label: device $pending is allocated: only a device that is done gets a label" "not done message"

run "$STATION" label --home "$H"
is "$RC" 2 "no serial exits 2"
err_is "station: label: expected one SERIAL" "usage message"

printf '[station]\nid = DEMO-01\n[hsm]\ntoken = pkcs11:token=x\n[label]\nqr_template = https://x/{colour}\n' > "$TMP/h2.conf"
mkdir -p "$TMP/h2"; cp "$TMP/h2.conf" "$TMP/h2/station.conf"; cp "$H/station.db" "$TMP/h2/"
run "$STATION" label --home "$TMP/h2" "$first"
is "$RC" 1 "unknown template field exits 1"
err_is "station: label: [label] qr_template: unknown field at '{colour}' (known: {claim} {serial} {product})" "template message"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "the audit log verifies"

finish
