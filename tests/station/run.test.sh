#!/usr/bin/env bash
# run.test.sh: `station run`, the bench loop, end to end through the
# emulated stamp devices (stampdev-emu on umockdev, the same libusb path
# as real hardware) and the demo token (SoftHSM): devices stamped in
# device and token key mode, every stamp checked with `station inspect`
# (signature, binding, secrets opened with the device's transport key),
# every certificate with `openssl verify`, every label with zbarimg; then
# each kind of failure leaves its state, event and message; recovery at
# start; the audit log verifies at the end.
. "$(dirname "$0")/../lib/tap.sh"

EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
H="$TMP/home"
ST="$TMP/state"
DB="$H/station.db"
q() { sqlite3 "$DB" "$1"; }
emu() { timeout 120 "$EMU" --state "$ST" --trust "$H/pki/stamp.pem" --keygen-ms 10 "$@"; }
srun() { run emu "$@"; }
slot_a() {  # slot_a DEV OUT: the image part of slot A of device DEV
	dd if="$ST/dev-$1/stamp.part" bs=8192 count=1 2>/dev/null | head -c 8176 > "$2"
}
cert_ok() {  # cert_ok SERIAL: its certificate verifies to the demo root
	q "SELECT hex(cert_der) FROM devices WHERE serial = '$1'" | xxd -r -p |
	    openssl x509 -inform DER -out "$TMP/c.pem" 2>/dev/null &&
	    openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" \
	    "$TMP/c.pem" >/dev/null 2>&1
}

"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
[ -f "$H/orders/demo-device.order" ] || "$STATION" order demo --home "$H" >/dev/null

# --- no order yet: a usage error, before the PIN
run "$STATION" run --home "$H" --count 1
is "$RC" 2 "no open order exits 2"
err_is "station: run: no open production order: the officer imports one ('station order import')" "no open order message"
run "$STATION" run --home "$H" --count x
is "$RC" 2 "bad --count exits 2"
err_is "station: run: --count: expected a number up to 100000000, got 'x'" "bad --count message"

"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null || not_ok "import device order"

# --- device mode: two devices at once
srun --devices 2 -- "$STATION" run --home "$H" --count 2 --operator alice
is "$RC" 0 "device mode: two devices stamped, exit 0"
is "$(echo "$OUT" | grep -c '^PASS  port 1-[12] ')" 2 "two PASS lines, one per port"
contains "$OUT" "run ended: PASS 2, FAIL 0" "summary line"
contains "$OUT" "audit log sealed" "checkpoint at the end"
is "$(q "SELECT count(*) FROM devices WHERE state = 'done' AND key_mode = 'device'")" 2 "two devices done"
is "$(q "SELECT count(DISTINCT actor) FROM events WHERE kind LIKE 'device.%'")" 1 "one actor for the device events"
is "$(q "SELECT actor FROM events WHERE kind = 'device.done' LIMIT 1")" "operator:alice" "the operator is the actor"
for k in 1 2; do
	hw=$(cat "$ST/dev-$k/serial")
	sn=$(q "SELECT serial FROM devices WHERE hardware_id = '$hw'")
	slot_a $k "$TMP/s$k.img"
	run "$STATION" inspect "$TMP/s$k.img" --trust "$H/pki/stamp.pem" --hardware-id "$hw" --device-key "$ST/dev-$k/transport.key"
	is "$RC" 0 "device $k: stamp valid, signed by the stamp key, bound, secrets open"
	contains "$OUT" "\"$sn\"" "device $k: stamp carries serial $sn"
	contains "$OUT" "key_reference" "device $k: key record of device mode"
	contains "$OUT" "provisioning_token 0x0012 critical secret(opened)" "device $k: provisioning token sealed"
	if cert_ok "$sn"; then ok "device $k: certificate passes openssl verify"; else not_ok "device $k: certificate passes openssl verify"; fi
	claim=$(q "SELECT claim_id FROM devices WHERE serial = '$sn'")
	contains "$(zbarimg -q --raw "$H/labels/png/$sn.png" 2>/dev/null)" "id=$claim&sn=$sn" "device $k: PNG label decodes to its claim ID"
	[ -f "$H/labels/spool/$sn.zpl" ] && ok "device $k: ZPL spooled" || not_ok "device $k: ZPL spooled"
done

# --- the same devices again: already stamped, refused before allocation
n=$(q "SELECT count(*) FROM devices")
srun --devices 1 -- "$STATION" run --home "$H" --idle-exit 1
is "$RC" 1 "a stamped device is a FAIL, exit 1"
contains "$OUT" "FAIL  port 1-1    device $(cat "$ST/dev-1/serial"): already stamped (stamp generation 1 is active): set it aside for the officer" "already stamped message"
is "$(q "SELECT count(*) FROM devices")" "$n" "nothing allocated for a stamped device"
is "$(q "SELECT count(*) FROM events WHERE kind = 'bench.refused'")" 1 "bench.refused recorded"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "audit log verifies"
finish
