#!/usr/bin/env bash
# restamp.test.sh: `station restamp --device SERIAL` end to end through the
# emulated stamp device (stampdev-emu on umockdev) and the demo token: a
# device stamped by `station run` is re-stamped with a new identity; the old
# certificate is revoked (superseded) and in the CRL, the new stamp has a
# higher generation and verifies with `station inspect`, the export shows
# both; the refusals (serial unknown, not done, not attached, no PIN, wrong
# PIN, locked) with their exact messages; the audit log verifies.
. "$(dirname "$0")/../lib/tap.sh"

EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
H="$TMP/home"
ST="$TMP/state"
DB="$H/station.db"
q() { sqlite3 "$DB" "$1"; }
emu() { timeout 120 "$EMU" --state "${EST:-$ST}" --trust "$H/pki/stamp.pem" --keygen-ms 10 "$@"; }
srun() { run emu "$@"; }
slot() {  # slot N OUT: the image part of slot N (0 = A, 1 = B) of device 1
	dd if="$ST/dev-1/stamp.part" bs=8192 skip="$1" count=1 2>/dev/null | head -c 8176 > "$2"
}

"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
[ -f "$H/orders/demo-device.order" ] || "$STATION" order demo --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null || not_ok "import device order"

# --- first stamp on the bench
srun --devices 1 -- "$STATION" run --home "$H" --count 1
is "$RC" 0 "station run stamps the device"
hw=$(cat "$ST/dev-1/serial")
old=$(q "SELECT serial FROM devices WHERE hardware_id = '$hw'")
old_cert=$(q "SELECT cert_serial FROM devices WHERE serial = '$old'")

# --- refusals before the PIN
run "$STATION" restamp --home "$H"
is "$RC" 2 "no --device exits 2"
err_is "station: restamp: expected --device SERIAL; see 'station restamp --help'" "no --device message"
srun --devices 1 -- "$STATION" restamp --home "$H" --device SN-NOPE
is "$RC" 1 "unknown serial exits 1"
err_is "station: restamp: no device with serial SN-NOPE" "unknown serial message"
EST="$TMP/other" srun --devices 1 -- "$STATION" restamp --home "$H" --device "$old"
is "$RC" 1 "device not attached exits 1"
err_is "station: restamp: device $old (hardware id $hw) is not attached: plug it in and run again" "not attached message"

# --- the PIN: none (no PIN file, no terminal), a wrong one; nothing recorded
n=$(q "SELECT count(*) FROM events")
cp "$H/station.conf" "$TMP/conf.orig"
sed -i '/^pin_file = /d' "$H/station.conf"
srun --devices 1 -- setsid -w "$STATION" restamp --home "$H" --device "$old"
is "$RC" 1 "no PIN exits 1"
err_is "station: no terminal to ask for the PIN of 'pkcs11:token=station-demo' (development: --pin-file FILE or [hsm] pin_file)" "no PIN message"
cp "$TMP/conf.orig" "$H/station.conf"
printf '000000\n' > "$TMP/wrong.pin"; chmod 600 "$TMP/wrong.pin"
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$old" --pin-file "$TMP/wrong.pin"
is "$RC" 1 "wrong PIN exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "wrong PIN message"
is "$(q "SELECT count(*) FROM events")" "$n" "no PIN, wrong PIN: nothing recorded"
is "$(q "SELECT state FROM devices WHERE serial = '$old'")" done "the device is still done"

# --- denied: refused before the PIN
"$STATION" deny add --home "$H" hardware-id "$hw" --reason "held for inspection" >/dev/null || not_ok "deny add"
n=$(q "SELECT count(*) FROM events")
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$old"
is "$RC" 1 "denied device exits 1"
contains "$ERR" "station: restamp: device $old: denied: " "denied message"
is "$(q "SELECT count(*) FROM events")" "$n" "denied: nothing recorded"
"$STATION" deny remove --home "$H" hardware-id "$hw" --reason "inspected" >/dev/null || not_ok "deny remove"
n=$(q "SELECT count(*) FROM events")

# --- locked: refused, nothing recorded
touch "$ST/dev-1/lock"
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$old"
is "$RC" 1 "locked device exits 1"
err_is "station: restamp: device $old is locked: a locked device refuses a new stamp and cannot be re-stamped; its certificate stays valid (revoke it with 'station revoke' if it must not be used)" "locked message"
is "$(q "SELECT count(*) FROM events")" "$n" "locked: nothing recorded"
rm -f "$ST/dev-1/lock"

# --- a re-stamp that fails on the bench (a forged key request): the old
# identity is revoked, the new one failed; it may be run again
srun --devices 1 --fault csr-other-key@1 -- "$STATION" restamp --home "$H" --device "$old"
is "$RC" 1 "a re-stamp that fails on the bench exits 1"
contains "$ERR" "station: restamp: device $old: the device's key request was refused" "bench failure message"
is "$(q "SELECT state FROM devices WHERE serial = '$old'")" revoked "after the failure: the old identity is revoked"
is "$(q "SELECT count(*) FROM devices WHERE hardware_id = '$hw' AND state = 'failed'")" 1 "after the failure: the new identity failed"

# --- re-stamp: new identity, old certificate superseded
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$old"
is "$RC" 0 "restamp exits 0"
new=$(q "SELECT serial FROM devices WHERE hardware_id = '$hw' AND state = 'done'")
contains "$OUT" "re-stamped device $old: new serial $new" "restamp message"
[ -n "$new" ] && [ "$new" != "$old" ] && ok "a new serial ($old -> $new)" || not_ok "a new serial ($old -> $new)"
is "$(q "SELECT state || '|' || reason FROM devices WHERE serial = '$old'")" "revoked|superseded: re-stamped" "the old identity is revoked, superseded"
new_cert=$(q "SELECT cert_serial FROM devices WHERE serial = '$new'")
[ -n "$new_cert" ] && [ "$new_cert" != "$old_cert" ] && ok "a new certificate serial" || not_ok "a new certificate serial"
is "$(q "SELECT count(*) FROM events WHERE kind = 'restamp.superseded' AND subject = '$old'")" 2 "restamp.superseded links old and new (failed, then passed)"
is "$(q "SELECT count(*) FROM events WHERE kind = 'device.revoked' AND subject = '$old'")" 1 "the old identity revoked once"
is "$(q "SELECT DISTINCT actor FROM events WHERE kind = 'device.revoked'")" "officer:$(id -un)" "the officer is the actor"
is "$(q "SELECT count(*) FROM deny_list")" 0 "a re-stamp denies nothing"
gen=""
for k in 0 1; do
	slot $k "$TMP/s$k.img"
	o=$("$STATION" inspect "$TMP/s$k.img" --trust "$H/pki/stamp.pem" --hardware-id "$hw" --device-key "$ST/dev-1/transport.key" 2>/dev/null) || continue
	case "$o" in *"\"$new\""*) gen=$(echo "$o" | sed -n 's/.*valid stamp, format [0-9.]*, generation \([0-9]*\),.*/\1/p' | head -1) ;; esac
done
is "$gen" 2 "the new stamp verifies with station inspect, carries $new, generation 2"

# --- the CRL carries the old certificate, reason superseded
run "$STATION" crl --home "$H" -o "$TMP/crl.pem"
is "$RC" 0 "crl exits 0"
crl=$(openssl crl -in "$TMP/crl.pem" -noout -text)
contains "$crl" "Serial Number: $(echo "$old_cert" | tr a-f A-F)" "the old certificate is in the CRL"
contains "$crl" "Superseded" "its reason is superseded"
case "$crl" in *"$(echo "$new_cert" | tr a-f A-F)"*) not_ok "the new certificate is not in the CRL" ;; *) ok "the new certificate is not in the CRL" ;; esac

# --- the export shows both identities
run "$STATION" export --home "$H" --format jsonl -o "$TMP/x"
is "$RC" 0 "export exits 0"
all=$(cat "$TMP"/x/*.jsonl)
contains "$all" "\"$new\"" "the export has the new identity"
contains "$all" "\"$old\"" "the export has the old identity"

# --- the old serial again: it points to the new one; a failed one is refused
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$old"
is "$RC" 1 "re-stamping a superseded identity exits 1"
err_is "station: restamp: device $old was re-stamped as $new (state done): re-stamp $new instead" "superseded identity message"
failed=$(q "SELECT serial FROM devices WHERE hardware_id = '$hw' AND state = 'failed'")
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$failed"
is "$RC" 1 "re-stamping a failed identity exits 1"
err_is "station: restamp: device $failed is failed: only a device in state done can be re-stamped" "failed identity message"

# --- same identity ([restamp] identity = same): serial and claim ID kept
printf '\n[restamp]\nidentity = old\n' >> "$H/station.conf"
run "$STATION" restamp --home "$H" --device "$new"
is "$RC" 2 "a bad [restamp] identity exits 2"
err_is "station: $H/station.conf: [restamp] identity: expected new or same, got 'old'" "bad [restamp] identity message"
sed -i 's/^identity = old/identity = same/' "$H/station.conf"
claim=$(q "SELECT claim_id FROM devices WHERE serial = '$new'")
rows=$(q "SELECT count(*) FROM devices")
srun --devices 1 -- "$STATION" restamp --home "$H" --device "$new"
is "$RC" 0 "same identity: restamp exits 0"
contains "$OUT" "re-stamped device $new: same serial and claim ID, new certificate" "same identity message"
is "$(q "SELECT count(*) FROM devices")" "$rows" "same identity: no new device row"
is "$(q "SELECT state || '|' || claim_id FROM devices WHERE serial = '$new'")" "done|$claim" "same identity: done, same claim ID"
same_cert=$(q "SELECT cert_serial FROM devices WHERE serial = '$new'")
[ -n "$same_cert" ] && [ "$same_cert" != "$new_cert" ] && ok "same identity: a new certificate serial" || not_ok "same identity: a new certificate serial"
is "$(q "SELECT count(*) FROM cert_serials WHERE serial = '$new'")" 2 "both certificate serials stay recorded"
is "$(q "SELECT count(*) FROM events WHERE kind = 'cert.superseded' AND subject = '$new'")" 1 "cert.superseded recorded"
gen=""
for k in 0 1; do
	slot $k "$TMP/s$k.img"
	o=$("$STATION" inspect "$TMP/s$k.img" --trust "$H/pki/stamp.pem" --hardware-id "$hw" --device-key "$ST/dev-1/transport.key" 2>/dev/null) || continue
	case "$o" in *"\"$new\""*) g=$(echo "$o" | sed -n 's/.*valid stamp, format [0-9.]*, generation \([0-9]*\),.*/\1/p' | head -1); [ "${g:-0}" -gt "${gen:-0}" ] && gen=$g ;; esac
done
is "$gen" 3 "same identity: the new stamp verifies, carries $new, generation 3"
run "$STATION" crl --home "$H" -o "$TMP/crl2.pem"
is "$RC" 0 "crl after the same-identity re-stamp exits 0"
contains "$OUT" "2 revoked certificates" "two entries: both superseded certificates"
crl=$(openssl crl -in "$TMP/crl2.pem" -noout -text)
contains "$crl" "Serial Number: $(echo "$new_cert" | tr a-f A-F)" "the superseded certificate of the same identity is in the CRL"
case "$crl" in *"$(echo "$same_cert" | tr a-f A-F)"*) not_ok "the current certificate is not in the CRL" ;; *) ok "the current certificate is not in the CRL" ;; esac
run "$STATION" export --home "$H" --format jsonl -o "$TMP/x2"
is "$RC" 0 "export after the same-identity re-stamp exits 0"
contains "$(cat "$TMP"/x2/*.jsonl)" "\"$new\"" "the export shows the device"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "the audit log verifies"
finish
