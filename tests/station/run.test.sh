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
	enc=$(printf %s "$claim" | sed 's/\*/%2A/; s/\$/%24/; s/=/%3D/')
	contains "$(zbarimg -q --raw "$H/labels/png/$sn.png" 2>/dev/null)" "id=$enc&sn=$sn" "device $k: PNG label decodes to its claim ID"
	[ -f "$H/labels/spool/$sn.zpl" ] && ok "device $k: ZPL spooled" || not_ok "device $k: ZPL spooled"
done

# --- the same devices again: already stamped, refused before allocation
n=$(q "SELECT count(*) FROM devices")
srun --devices 1 -- "$STATION" run --home "$H" --idle-exit 1
is "$RC" 1 "a stamped device is a FAIL, exit 1"
contains "$OUT" "FAIL  port 1-1    device $(cat "$ST/dev-1/serial"): already stamped (stamp generation 1 is active): set it aside for the officer" "already stamped message"
is "$(q "SELECT count(*) FROM devices")" "$n" "nothing allocated for a stamped device"
is "$(q "SELECT count(*) FROM events WHERE kind = 'bench.refused'")" 1 "bench.refused recorded"

# --- token mode: the key made in the token, sealed to the device
"$STATION" order import --home "$H" "$H/orders/demo-token.order" >/dev/null || not_ok "import token order"
run "$STATION" run --home "$H" --count 1
is "$RC" 2 "two open orders: --order needed, exit 2"
err_is "station: run: several open orders (DEMO-DEVICE-1, DEMO-TOKEN-1): choose one with --order" "two open orders message"
ST="$TMP/tok"
srun --devices 2 -- "$STATION" run --home "$H" --order DEMO-TOKEN-1 --count 2
is "$RC" 0 "token mode: two devices stamped"
is "$(q "SELECT count(*) FROM devices WHERE state = 'done' AND key_mode = 'token'")" 2 "two token-mode devices done"
hw=$(cat "$ST/dev-1/serial")
sn=$(q "SELECT serial FROM devices WHERE hardware_id = '$hw'")
slot_a 1 "$TMP/t1.img"
run "$STATION" inspect "$TMP/t1.img" --trust "$H/pki/stamp.pem" --hardware-id "$hw" --device-key "$ST/dev-1/transport.key"
is "$RC" 0 "token mode: stamp valid and its secrets open with the device key"
contains "$OUT" "wrapped_device_key 0x000e critical secret(opened)" "token mode: the wrapped device key opens on the device"
if cert_ok "$sn"; then ok "token mode: certificate verifies"; else not_ok "token mode: certificate verifies"; fi

# --- host key mode (development stations only): said loudly, recorded
"$STATION" order import --home "$H" "$H/orders/demo-host.order" >/dev/null || not_ok "import host order"
ST="$TMP/host"
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-HOST-1 --count 1
is "$RC" 0 "host mode on a development station: stamped"
contains "$OUT" "WARNING: HOST KEY MODE (development only)" "host mode: the warning"
contains "$(q "SELECT group_concat(kind) FROM events WHERE kind = 'device.key_ready' AND subject = (SELECT serial FROM devices WHERE key_mode = 'host')")" "device.key_ready" "host mode: key recorded"
slot_a 1 "$TMP/h1.img"
run "$STATION" inspect "$TMP/h1.img" --trust "$H/pki/stamp.pem" --hardware-id "$(cat "$ST/dev-1/serial")" --device-key "$ST/dev-1/transport.key"
contains "$OUT" "wrapped_device_key 0x000e critical secret(opened)" "host mode: the key sealed to the device"
cp "$H/station.conf" "$TMP/station.conf.dev"
sed -i 's/^mode = development/mode = production/; s/^\(pin_file = .*\)/\1\nallow_pin_file = yes/' "$H/station.conf"
run "$STATION" run --home "$H" --order DEMO-HOST-1 --count 1
cp "$TMP/station.conf.dev" "$H/station.conf"
is "$RC" 2 "host mode on a production station: exit 2"
err_is "station: run: order DEMO-HOST-1 asks for host key mode, which only a development station runs ([station] mode = development)" "host mode refused in production"

# fail_case NAME FAULT WANT_STATE WANT_MESSAGE: one fresh device with a fault
fail_case() {
	ST="$TMP/$1"
	srun --devices 1 --fault "$2" -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
	is "$RC" 1 "$1: exit 1"
	hw=$(cat "$ST/dev-1/serial")
	is "$(q "SELECT state FROM devices WHERE hardware_id = '$hw' ORDER BY created_us DESC LIMIT 1")" "$3" "$1: device left $3"
	contains "$OUT" "$4" "$1: the operator is told why"
}
fail_case forged csr-other-key@1 failed "the device's key request was refused (CSR refused: its signature does not verify (no proof of possession of the key)): set the device aside (faulty or forged firmware)"
fail_case nonce csr-wrong-nonce@1 failed "CSR refused: its nonce is not the one this station just sent (stale or replayed CSR)"
fail_case powercut powercut@300 revoked "the stamp was not written (device 1-1 (serial "
contains "$(q "SELECT group_concat(kind) FROM events WHERE subject = (SELECT serial FROM devices WHERE hardware_id = '$hw')")" "device.failed,device.revoked" "powercut: failed, then its certificate revoked"
fail_case commitcut commit-cut@8 unconfirmed "the device was lost while activating its stamp"
CUT_HW=$hw

# Unplugged mid-stamp: leaves 250 ms after it arrived, every step slow.
ST="$TMP/unplug"
srun --devices 1 --arrive-every 1000 --fault slow@100 --fault leave@250 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 2
is "$RC" 1 "unplugged: exit 1"
hw=$(cat "$ST/dev-1/serial")
st=$(q "SELECT state FROM devices WHERE hardware_id = '$hw'")
case "$st" in failed|revoked) ok "unplugged: device failed (revoked if its certificate was issued): $st" ;; *) not_ok "unplugged: device left '$st'" ;; esac
# On a loaded machine the device may leave before the first DFU request
# ("disconnected while preparing it") instead of mid-transfer ("during").
case "$OUT" in
*"disconnected during "*|*"disconnected while preparing it"*) ok "unplugged: the operator is told the device was disconnected" ;;
*) not_ok "unplugged: the operator is told the device was disconnected"; echo "$OUT" | sed 's/^/# /' ;;
esac

# The same device plugged in again: recovery finishes it (its stamp is staged).
ST="$TMP/commitcut"
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
contains "$OUT" "recovered $(q "SELECT serial FROM devices WHERE hardware_id = '$CUT_HW'"): was unconfirmed, the device is attached with its stamp active: done" "recovery finishes an unconfirmed device that is attached"
is "$(q "SELECT state FROM devices WHERE hardware_id = '$CUT_HW'")" done "recovered device done"

# --- --confirm-label: the scanner types the claim ID (lower case, hyphens)
ST="$TMP/confirm"
mkfifo "$TMP/scan"
( emu --devices 2 --arrive-every 200 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 2 --parallel 1 --confirm-label < "$TMP/scan" > "$TMP/confirm.out" 2>&1; echo $? > "$TMP/confirm.rc" ) &
exec 7> "$TMP/scan"
for k in 1 2; do
	for i in $(seq 1 100); do
		[ -f "$ST/dev-$k/serial" ] && c=$(q "SELECT claim_id FROM devices WHERE hardware_id = '$(cat "$ST/dev-$k/serial")' AND state = 'done'")
		[ -n "${c:-}" ] && break; sleep 0.1
	done
	if [ "$k" = 1 ]; then echo "$c" | tr 'A-Z' 'a-z' | sed 's/^\(....\)/\1-/' >&7; else echo "WRONG-LABEL" >&7; fi
	c=
done
exec 7>&-
wait
is "$(cat "$TMP/confirm.rc")" 0 "confirm-label: run ends"
contains "$(cat "$TMP/confirm.out")" "scan the label of " "confirm-label: the operator is asked to scan"
contains "$(cat "$TMP/confirm.out")" "NOTE: the scanned label is not a claim ID" "confirm-label: a wrong scan is reported"
is "$(q "SELECT count(*) FROM events WHERE kind = 'label.confirmed'")" 1 "confirm-label: a good scan (typed form) recorded"
is "$(q "SELECT count(*) FROM events WHERE kind = 'label.mismatch'")" 1 "confirm-label: a wrong scan recorded"

# --- a denied device: refused before allocation
ST="$TMP/deny"
emu --devices 1 -- true
hw=$(cat "$ST/dev-1/serial")
"$STATION" deny add hardware-id "$hw" --reason "stolen from the line" --home "$H" >/dev/null || not_ok "deny add"
n=$(q "SELECT count(*) FROM devices")
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
is "$RC" 1 "denied device: exit 1"
contains "$OUT" "FAIL  port 1-1    device $hw: denied: hardware_id $hw is on the deny list since " "denied device message"
is "$(q "SELECT count(*) FROM devices")" "$n" "nothing allocated for a denied device"

# --- HSM fault: the sub-CA's signature fails (PKCS#11 shim)
SHIM="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
if [ -f "$SHIM" ]; then
	cp "$H/station.conf" "$TMP/station.conf.orig"
	sed -i "s#^module = .*#module = $SHIM#" "$H/station.conf"
	ST="$TMP/hsm"
	run env HSM_SHIM_FAULT=C_Sign:2:CKR_DEVICE_ERROR "$EMU" --state "$ST" --trust "$H/pki/stamp.pem" --keygen-ms 10 --devices 2 --arrive-every 2000 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 2
	is "$RC" 1 "HSM fault: exit 1"
	contains "$OUT" "no certificate: token 'station-demo': signing the certificate of device " "HSM fault: the certificate signature failure is named"
	contains "$OUT" "STOP: the token failed" "HSM fault: the run stops rather than burn identities"
	hw=$(cat "$ST/dev-1/serial")
	is "$(q "SELECT state FROM devices WHERE hardware_id = '$hw'")" failed "HSM fault: device failed"
	is "$(q "SELECT count(*) FROM devices WHERE hardware_id = '$(cat "$ST/dev-2/serial")'")" 0 "HSM fault: the next device is not started"
	cp "$TMP/station.conf.orig" "$H/station.conf"
else
	not_ok "fault module $SHIM (make check builds it)"
fi

# --- orders: used up, expired
sign() {  # sign NAME ID QTY FIRST EXPIRES
	printf 'station-order 1\norder_id = %s\nstation_id = DEMO-01\nproduct = DW1\nquantity = %s\nserial_first = %s\nserial_last = %s\nkey_mode = device\nclaim_mode = user\nexpires = %s\n' \
	    "$2" "$3" "$4" "$(($4 + $3 - 1))" "$5" > "$TMP/$1.txt"
	openssl cms -sign -binary -nodetach -outform DER -in "$TMP/$1.txt" \
	    -signer "$H/pki/order.pem" -inkey "$H/pki/demo-order.key" -out "$TMP/$1.order"
	"$STATION" order import --home "$H" "$TMP/$1.order" >/dev/null
}
sign small SMALL-1 1 50000 2099-12-31T23:59:59Z || not_ok "import a one-device order"
ST="$TMP/small"
srun --devices 2 --arrive-every 300 -- "$STATION" run --home "$H" --order SMALL-1 --idle-exit 2
is "$RC" 1 "order used up: exit 1"
is "$(echo "$OUT" | grep -c '^PASS')" 1 "order used up: one device stamped"
contains "$OUT" "not stamped: order SMALL-1 is used up: 1 of 1 allocated; ask the brand owner for a new order" "order used up message"
contains "$OUT" "STOP: order SMALL-1 is used up" "order used up stops the run"
sign soon SOON-1 5 60000 "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)" || not_ok "import a short-lived order"
sleep 3
run "$STATION" run --home "$H" --order SOON-1 --count 1
is "$RC" 1 "expired order: exit 1"
err_is "station: run: order SOON-1 is expired: nothing can be stamped under it; ask the officer for a new order" "expired order message"

# --- [stamp] lock, pop_secret, hardware_revision; a device that does not lock
cp "$H/station.conf" "$TMP/station.conf.orig"
printf '\n[stamp]\nlock = yes\npop_secret = yes\nhardware_revision = B2\n' >> "$H/station.conf"
ST="$TMP/lock"
srun --devices 2 --fault 2:no-lock@1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
cp "$TMP/station.conf.orig" "$H/station.conf"
is "$RC" 1 "lock: a device that did not lock is a FAIL"
is "$(cat "$ST/dev-1/lock" 2>/dev/null)" 1 "lock: the first device is locked"
contains "$OUT" "stamped, but the device did not lock (device 1-2 " "lock failure message"
is "$(q "SELECT count(*) FROM events WHERE kind = 'bench.lock_failed'")" 1 "bench.lock_failed recorded"
slot_a 1 "$TMP/l1.img"
run "$STATION" inspect "$TMP/l1.img" --trust "$H/pki/stamp.pem" --hardware-id "$(cat "$ST/dev-1/serial")" --device-key "$ST/dev-1/transport.key"
contains "$OUT" "pop_secret         0x000f critical secret(opened)" "pop_secret: sealed in the stamp"
contains "$OUT" "hardware_revision  0x0007 2 bytes: \"B2\"" "hardware_revision in the stamp"

# --- Ctrl-C: devices in flight are finished, the log sealed
ST="$TMP/intr"
srun --devices 6 --arrive-every 250 --fault slow@40 -- bash -c '"$0" run --home "$1" --order DEMO-DEVICE-1 & pid=$!; sleep 1; kill -INT $pid; wait $pid' "$STATION" "$H"
is "$RC" 0 "Ctrl-C: clean exit 0"
contains "$OUT" "Ctrl-C: no new device; finishing the " "Ctrl-C message"
contains "$OUT" "audit log sealed" "Ctrl-C: checkpoint written"
is "$(q "SELECT count(*) FROM devices WHERE state IN ('allocated', 'key_ready', 'issued', 'written')")" 0 "Ctrl-C: no device left in flight"

# --- killed mid-stamp (SIGKILL): recovery at the next start
ST="$TMP/kill"
emu --devices 1 --fault slow@300 -- timeout -s KILL 0.6 "$STATION" run --home "$H" --order DEMO-DEVICE-1 >/dev/null 2>&1
hw=$(cat "$ST/dev-1/serial")
was=$(q "SELECT state FROM devices WHERE hardware_id = '$hw'")
case "$was" in allocated|key_ready|issued|written|done) ok "killed: device left $was" ;; *) not_ok "killed: device left '$was'" ;; esac
ST="$TMP/kill-other"
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 1
is "$RC" 0 "after a kill: the next run stamps"
is "$(q "SELECT count(*) FROM devices WHERE state IN ('allocated', 'key_ready', 'issued', 'written')")" 0 "after a kill: nothing left in flight"
case "$was" in
issued) contains "$OUT" "was issued, now voided and its certificate" "killed while issued: voided and revoked" ;;
written) contains "$OUT" "was written, now unconfirmed" "killed while written: unconfirmed (device gone)" ;;
allocated|key_ready) contains "$OUT" "now voided (no certificate was issued)" "killed before issue: voided" ;;
*) ok "killed after done: nothing to recover" ;;
esac

killed=$(q "SELECT serial FROM devices WHERE hardware_id = '$(cat "$TMP/kill/dev-1/serial")'")
next=$(q "SELECT serial FROM devices WHERE hardware_id = '$(cat "$TMP/kill-other/dev-1/serial")'")
[ "${next##*-}" -gt "$(( 10#${killed##*-} + 1 ))" ] && ok "after a kill: serials skip the killed run's block ($killed, then $next), never reused" || not_ok "after a kill: serials skip ($killed, then $next)"
run "$STATION" order status --home "$H" --token
is "$RC" 0 "order status --token: the token's reservation is not a rollback"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "audit log verifies"
contains "$OUT" "result: INTACT" "audit verify: intact"

# --- a database copied back: the token's count is ahead of every record
cp "$DB" "$TMP/old.db"
ST="$TMP/rb1"
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 1
is "$RC" 0 "one more device before the rollback"
rm -f "$DB-wal" "$DB-shm"; cp "$TMP/old.db" "$DB"
ST="$TMP/rb2"
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
is "$RC" 1 "rolled-back database: exit 1"
contains "$OUT" "STOP: order DEMO-DEVICE-1: the token counted " "rolled-back database: the run stops"
contains "$OUT" "the database was rolled back or replaced" "rolled-back database message"
finish
