#!/usr/bin/env bash
# fault.test.sh: the HSM failing in the middle of `station issue`, through
# a PKCS#11 module that forwards to SoftHSM and fails the Nth
# C_GenerateRandom or C_Sign (tests/hsm/shim.c, HSM_SHIM_FAULT). Whatever fails,
# the device is left in a definite state with the reason, no certificate
# leaves the station unrecorded, and the log still verifies; a session that
# could not be sealed is reported and sealed by the next one.
. "$(dirname "$0")/../lib/tap.sh"

H="$TMP/home"
DB="$H/station.db"
FAULT="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
[ -f "$FAULT" ] || { not_ok "fault module $FAULT (make check builds it)"; finish; exit 1; }
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
sed -i "s#^module = .*#module = $FAULT#" "$H/station.conf"
q() { sqlite3 "$DB" "$1"; }
"$STATION" init --home "$H" >/dev/null || not_ok "init through the fault module"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/dev.key" -subj "/CN=x" -out "$TMP/dev.csr" 2>/dev/null
issue() {  # issue FUNCTION:N SERIAL: the Nth call of FUNCTION fails
	run env HSM_SHIM_FAULT="$1:CKR_DEVICE_ERROR" "$STATION" issue --home "$H" \
		--csr "$TMP/dev.csr" --serial "$2" -o "$TMP/$2.pem"
}
no_output() {  # no_output SERIAL
	if [ -e "$TMP/$1.pem" ] || ls -A "$TMP" | grep -q "^\.$1\.pem\."; then
		not_ok "$1: no certificate and no temporary written"
	else ok "$1: no certificate and no temporary written"; fi
}

# The audit key's test signature fails: the log is not even opened.
n=$(q "SELECT count(*) FROM events")
issue C_Sign:1 F1
is "$RC" 1 "audit signer failing exits 1"
err_is "station: $DB: the audit signer's test signature does not verify under the given public key" "audit signer failure message"
is "$(q "SELECT count(*) FROM events")" "$n" "nothing recorded without a working audit key"
no_output F1

# The RNG fails for the claim ID: no device.
issue C_GenerateRandom:1 F2
is "$RC" 1 "RNG failing for the claim ID exits 1"
contains "$ERR" "station: claim ID: token 'station-demo': random numbers from the token: the token reported a device error (CKR_DEVICE_ERROR); nothing was written" "claim ID failure message"
is "$(q "SELECT count(*) FROM devices WHERE serial = 'F2'")" 0 "no device without a claim ID"
run "$STATION" audit show --home "$H" --kind session.ended
contains "$(echo "$OUT" | tail -1)" "session.ended DEMO-01 result=failed verb=issue" "the session is recorded as failed"
no_output F2

# The RNG fails for the certificate serial: the device is failed.
issue C_GenerateRandom:2 F3
is "$RC" 1 "RNG failing for the certificate serial exits 1"
contains "$ERR" "station: device F3: issue: token 'station-demo': random numbers from the token: the token reported a device error (CKR_DEVICE_ERROR); nothing was written" "certificate serial failure message"
contains "$(q "SELECT state || '|' || reason FROM devices WHERE serial = 'F3'")" "failed|issue: token 'station-demo': random numbers from the token: the token reported a device error (CKR_DEVICE_ERROR); nothing was written" "F3 failed, with the reason"
is "$(q "SELECT kind FROM events WHERE subject = 'F3' ORDER BY seq" | tr '\n' ' ')" \
	"device.allocated device.key_ready device.failed " "F3's events"
no_output F3

# The sub-CA's signature fails: the device is failed.
issue C_Sign:2 F4
is "$RC" 1 "the certificate signature failing exits 1"
contains "$ERR" "station: device F4: issue: token 'station-demo': signing the certificate of device F4 with key 'subca': the token reported a device error (CKR_DEVICE_ERROR); nothing was written" "certificate signature failure message"
is "$(q "SELECT state FROM devices WHERE serial = 'F4'")" "failed" "F4 failed"
no_output F4

run "$STATION" audit verify --home "$H"
is "$RC" 0 "the log verifies after the failures"
contains "$OUT" "unsealed: 0" "every failed session was sealed"

# The session-end checkpoint fails: the certificate is out and recorded,
# the exit code and message say the session is unsealed; the next session
# seals it.
issue C_Sign:3 F5
is "$RC" 1 "an unsealed session exits 1"
contains "$OUT" "issued certificate" "the certificate was issued"
err_is "station: audit: cannot seal the session: the audit key did not sign the checkpoint (the events are recorded; the next session seals them)" "unsealed session message"
is "$(q "SELECT state FROM devices WHERE serial = 'F5'")" "issued" "F5 issued"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/F5.pem"
is "$RC" 0 "F5's certificate verifies"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "an unsealed tail is not tampering"
contains "$OUT" "unsealed: 5 events after the last checkpoint" "verify reports the unsealed session"
"$STATION" init --home "$H" >/dev/null || not_ok "init seals"
run "$STATION" audit verify --home "$H"
contains "$OUT" "unsealed: 0" "the next session sealed it"

finish
