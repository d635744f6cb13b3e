#!/usr/bin/env bash
# run_attest.test.sh: `station run` with [attestation] required, end to
# end through stampdev-emu (--attest-ca: a TEST-ONLY chip vendor) and the
# demo token: a genuine device is attested before allocation and again
# with its new key (device key mode), then stamped; a device without
# attestation, with a forged signature or with another key is refused
# with its reason (nothing allocated before allocation, the device failed
# after it); every check is a device.attestation event; the audit log
# verifies.
. "$(dirname "$0")/../lib/tap.sh"

EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
H="$TMP/home"; CA="$TMP/ca"; ST="$TMP/state"
DB="$H/station.db"
q() { sqlite3 "$DB" "$1"; }
emu() { timeout 120 "$EMU" --state "$ST" --trust "$H/pki/stamp.pem" --keygen-ms 10 --attest-ca "$CA" "$@"; }
srun() { run emu "$@"; }

"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
[ -f "$H/orders/demo-device.order" ] || "$STATION" order demo --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null || not_ok "import device order"
emu -- true
printf '\n[attestation]\nroots = %s\nrequired = yes\n' "$CA/vendor-ca.pem" >> "$H/station.conf"

# --- a genuine device: attested twice, stamped
hw=$(cat "$ST/dev-1/serial")
srun --devices 1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 1
is "$RC" 0 "a genuine device is stamped"
contains "$OUT" "PASS  port 1-1 " "PASS line"
sn=$(q "SELECT serial FROM devices WHERE hardware_id = '$hw'")
is "$(q "SELECT state FROM devices WHERE serial = '$sn'")" "done" "the device is done"
is "$(q "SELECT count(*) FROM events WHERE kind = 'device.attestation' AND subject = '$hw'")" 1 "attested before allocation (subject: hardware id)"
is "$(q "SELECT count(*) FROM events WHERE kind = 'device.attestation' AND subject = '$sn'")" 1 "attested with its key after the CSR (subject: serial)"
run "$STATION" audit show --home "$H" --kind device.attestation --serial "$sn"
contains "$OUT" "key_bound=yes" "the CSR's key is bound to the attested chip"
contains "$OUT" "result=pass" "attestation passed"
is "$(q "SELECT seq < (SELECT seq FROM events WHERE kind = 'device.allocated' AND subject = '$sn') FROM events WHERE kind = 'device.attestation' AND subject = '$hw'")" 1 "the first attestation comes before the allocation"

# --- refused before allocation: no attestation, a forged signature
for f in none:"device offers no attestation" \
    bad-sig:"attestation signature does not verify with the key of 'CN="; do
	ST="$TMP/state-${f%%:*}"
	emu -- true
	hw=$(cat "$ST/dev-1/serial")
	n=$(q "SELECT count(*) FROM devices")
	srun --devices 1 --fault "attest-${f%%:*}@1" -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
	is "$RC" 1 "attest-${f%%:*}: exit 1"
	contains "$OUT" "FAIL  port 1-1    device $hw: not genuine hardware: ${f#*:}" "attest-${f%%:*}: the reason on the screen"
	is "$(q "SELECT count(*) FROM devices")" "$n" "attest-${f%%:*}: nothing allocated"
	is "$(q "SELECT count(*) FROM events WHERE kind = 'bench.refused' AND subject = '$hw'")" 1 "attest-${f%%:*}: bench.refused recorded"
	is "$(q "SELECT count(*) FROM events WHERE kind = 'device.attestation' AND subject = '$hw'")" 1 "attest-${f%%:*}: device.attestation recorded"
done

# --- another key than the CSR's: the allocated device fails
ST="$TMP/state-other"
emu -- true
hw=$(cat "$ST/dev-1/serial")
srun --devices 1 --fault attest-other-key@1 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --idle-exit 1
is "$RC" 1 "attest-other-key: exit 1"
contains "$OUT" "not genuine hardware: attestation covers another key than the one in the device's CSR; set it aside for the officer" "attest-other-key: the reason"
is "$(q "SELECT state FROM devices WHERE hardware_id = '$hw'")" "failed" "attest-other-key: the allocated device failed, no certificate"
is "$(q "SELECT count(*) FROM devices WHERE hardware_id = '$hw' AND cert_der IS NOT NULL")" 0 "attest-other-key: no certificate issued"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "the audit log verifies"
finish
