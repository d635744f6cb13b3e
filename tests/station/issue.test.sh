#!/usr/bin/env bash
# issue.test.sh: `station init` and `station issue` on a fresh demo home
# (SoftHSM token, real SQLite file), checked from outside: openssl verify
# for the certificate, sqlite3 for the records, `station audit verify`
# with the audit certificate's key for the log. Every refusal has its exact
# message and exit code and leaves nothing recorded.
. "$(dirname "$0")/../lib/tap.sh"

H="$TMP/home"
DB="$H/station.db"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
ROOT="$H/pki/root.pem"; SUBCA="$H/pki/subca.pem"
q() { sqlite3 "$DB" "$1"; }
events() { q "SELECT count(*) FROM events"; }

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/dev.key" -subj "/CN=ignored/serialNumber=ignored" \
	-out "$TMP/dev.csr" 2>/dev/null
openssl req -in "$TMP/dev.csr" -outform DER -out "$TMP/dev.der"
echo "wrong-pin" > "$TMP/badpin"; chmod 600 "$TMP/badpin"

# ---- before init -----------------------------------------------------------
run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-1 -o "$TMP/c.pem"
is "$RC" 2 "issue before init exits 2"
err_is "station: no audit database $DB: run 'station init --home $H' first" "issue before init message"

run "$STATION" init --home "$H" --pin-file "$TMP/badpin"
is "$RC" 1 "init with a wrong PIN exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "init wrong PIN message"
is "$(ls "$H" | grep -c station.db)" 0 "init with a wrong PIN creates no database"

cp "$H/pki/audit.pem" "$TMP/audit.pem.orig"
cp "$H/pki/stamp.pem" "$H/pki/audit.pem"
run "$STATION" init --home "$H"
is "$RC" 1 "init when the start-up check fails exits 1"
err_is "station: audit-checkpoint key: $H/pki/audit.pem does not belong to the token key 'audit' (its public key differs)" "start-up check failure message"
is "$(ls "$H" | grep -c station.db)" 0 "a failed start-up check creates no database"
cp "$TMP/audit.pem.orig" "$H/pki/audit.pem"

# ---- init ---------------------------------------------------------------------
run "$STATION" init --home "$H"
is "$RC" 0 "init on a fresh demo home exits 0"
is "$(echo "$OUT" | head -1)" "station DEMO-01: database $DB created" "init says it created the database"
contains "$OUT" "HSM start-up check: ok (token 'station-demo'" "init ran the start-up check"
is "$(q "SELECT station_id FROM station")" "DEMO-01" "the database records the station id"
is "$(q "SELECT kind FROM events ORDER BY seq" | tr '\n' ' ')" \
	"audit.created audit.key session.started station.init session.ended " "init's events"
is "$(q "SELECT count(*) FROM checkpoints")" 1 "init wrote a first checkpoint"
is "$(q "SELECT actor FROM events WHERE kind = 'station.init'")" "officer:$(id -un)" "the session's actor is recorded"

openssl x509 -in "$H/pki/audit.pem" -pubkey -noout > "$TMP/audit.pub"
is "$(q "SELECT lower(hex(key_id)) FROM checkpoints LIMIT 1")" \
	"$(openssl pkey -pubin -in "$TMP/audit.pub" -outform DER | sha256sum | cut -d' ' -f1)" \
	"the checkpoint names the audit certificate's key (SHA-256 of its SPKI)"
run "$STATION" audit verify --home "$H" --key "$TMP/audit.pub"
is "$RC" 0 "the log verifies with the audit certificate's public key"
contains "$OUT" "unsealed: 0" "nothing unsealed after init"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "audit verify --home finds the audit key in the config"
contains "$OUT" "key: the audit certificate $H/pki/audit.pem ([pki] audit_cert)" "verify names the configured key"
run "$STATION" audit verify --home "$H" --key "$H/pki/stamp.pem"
is "$RC" 1 "a certificate of another key does not verify the log"

n=$(events)
run "$STATION" init --home "$H"
is "$RC" 0 "init again on the same station exits 0"
is "$(echo "$OUT" | head -1)" "station DEMO-01: database $DB already initialised; checked" "init again says so"
is "$(q "SELECT count(*) FROM events WHERE kind = 'audit.key'")" 1 "the audit key is recorded once"
is "$(q "SELECT count(*) FROM events")" $((n + 3)) "init again adds only its session"

cp "$H/station.conf" "$TMP/conf.orig"
sed -i 's/^id = DEMO-01$/id = DEMO-02/' "$H/station.conf"
n=$(events)
run "$STATION" init --home "$H"
is "$RC" 2 "init on another station's database exits 2"
err_is "station: $DB: the database belongs to station 'DEMO-01', not 'DEMO-02'" "another station's database message"
cp "$TMP/conf.orig" "$H/station.conf"
is "$(events)" "$n" "nothing recorded for another station"

# ---- issue ----------------------------------------------------------------------
run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-1 -o "$TMP/sn1.pem"
is "$RC" 0 "issue exits 0"
CS=$(openssl x509 -in "$TMP/sn1.pem" -noout -serial | sed 's/^serial=//')
CLAIM=$(q "SELECT claim_id FROM devices WHERE serial = 'SN-1'")
is "$OUT" "issued certificate $CS for device SN-1 (claim ID $CLAIM, key mode engineering) to $TMP/sn1.pem" "issue message"
run openssl verify -CAfile "$ROOT" -untrusted "$SUBCA" "$TMP/sn1.pem"
is "$RC" 0 "the certificate passes openssl verify"
cat "$TMP/sn1.pem" "$SUBCA" > "$TMP/chain.pem"
run certtool --verify --load-ca-certificate "$ROOT" --infile "$TMP/chain.pem"
is "$RC" 0 "GnuTLS certtool verifies the chain too"
contains "$OUT" "Chain verification output: Verified." "certtool: Verified"
is "$(stat -c %a "$TMP/sn1.pem")" 644 "the certificate file is 0644"
is "$(ls -A "$TMP" | grep -c '^\.sn1')" 0 "no temporary left beside it"
is "$(openssl x509 -in "$TMP/sn1.pem" -noout -subject)" \
	"subject=O = Demo Devices, CN = SN-1, serialNumber = SN-1" "subject from the serial, nothing from the CSR"
is "$(openssl x509 -in "$TMP/sn1.pem" -noout -pubkey)" \
	"$(openssl req -in "$TMP/dev.csr" -noout -pubkey)" "the certificate holds the CSR's key"
is "$(q "SELECT state || ' ' || key_mode || ' ' || cert_serial FROM devices WHERE serial = 'SN-1'")" \
	"issued engineering $CS" "device record: issued, engineering, the certificate serial"
if [[ "$CLAIM" =~ ^[0-9A-HJKMNP-TV-Z]{12}$ ]]; then ok "claim ID: 12 Crockford base32 symbols"; else not_ok "claim ID: 12 Crockford base32 symbols ($CLAIM)"; fi
is "$(q "SELECT hex(cert_der) FROM devices WHERE serial = 'SN-1'")" \
	"$(openssl x509 -in "$TMP/sn1.pem" -outform DER | od -An -tx1 -v | tr -d ' \n' | tr a-f A-F)" \
	"the database holds the certificate written"
is "$(q "SELECT kind FROM events WHERE subject = 'SN-1' ORDER BY seq" | tr '\n' ' ')" \
	"device.allocated device.key_ready device.issued " "the device's events"
run "$STATION" audit show --home "$H" --serial SN-1 --kind device.key_ready
contains "$OUT" "csr_nonce=none" "key_ready says the CSR carried no station nonce"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "the log verifies after issue"
contains "$OUT" "unsealed: 0" "issue sealed its session"

run "$STATION" issue --home "$H" --csr "$TMP/dev.der" --serial SN-2 --hardware-id HW-0002
is "$RC" 0 "issue from a DER CSR to stdout exits 0"
echo "$OUT" > "$TMP/sn2.pem"
contains "$ERR" "for device SN-2" "to stdout: the message goes to stderr"
run openssl verify -CAfile "$ROOT" -untrusted "$SUBCA" "$TMP/sn2.pem"
is "$RC" 0 "the stdout certificate passes openssl verify"
contains "$(openssl x509 -in "$TMP/sn2.pem" -noout -ext subjectAltName 2>&1)" "othername" "--hardware-id: HardwareModuleName in the certificate"
is "$(q "SELECT hardware_id FROM devices WHERE serial = 'SN-2'")" "HW-0002" "--hardware-id recorded"

# ---- refusals: exact messages, nothing recorded ---------------------------------
n=$(events)
run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-1 -o "$TMP/again.pem"
is "$RC" 1 "the same serial twice exits 1"
err_is "station: issue: serial SN-1 is already used (device state issued); serials are never reused" "same serial message"
[ -e "$TMP/again.pem" ] && not_ok "no output for a refused serial" || ok "no output for a refused serial"

run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-3 --hardware-id HW-0002
is "$RC" 1 "a live hardware id exits 1"
err_is "station: issue: hardware id HW-0002 is held by device SN-2 (state issued)" "live hardware id message"

run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-3 -o "$TMP/sn3.pem" --pin-file "$TMP/badpin"
is "$RC" 1 "a wrong PIN file exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "wrong PIN message"
[ -e "$TMP/sn3.pem" ] && not_ok "no output after a wrong PIN" || ok "no output after a wrong PIN"
is "$(ls -A "$TMP" | grep -c '^\.sn3')" 0 "no temporary left after a wrong PIN"

chmod 644 "$TMP/badpin"
run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-3 --pin-file "$TMP/badpin"
is "$RC" 1 "a PIN file readable by others exits 1"
err_is "station: PIN file $TMP/badpin is readable or writable by others (mode 0644); refused: chmod 600 $TMP/badpin" "open PIN file message"

run "$STATION" issue --home "$H" --csr "$TMP/none.csr" --serial SN-3
is "$RC" 1 "an unreadable CSR exits 1"
err_is "station: issue: cannot read the CSR $TMP/none.csr: No such file or directory" "unreadable CSR message"

# forged: one bit of the CSR's signature flipped
off=$(( $(stat -c %s "$TMP/dev.der") - 3 ))
b=$(od -An -tu1 -j$off -N1 "$TMP/dev.der" | tr -d ' ')
cp "$TMP/dev.der" "$TMP/forged.der"
printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$TMP/forged.der" bs=1 seek=$off conv=notrunc 2>/dev/null
run "$STATION" issue --home "$H" --csr "$TMP/forged.der" --serial SN-3
is "$RC" 1 "a forged CSR exits 1"
err_is "station: issue: $TMP/forged.der: CSR refused: its signature does not verify (no proof of possession of the key)" "forged CSR message"

echo "not a request" > "$TMP/junk.csr"
run "$STATION" issue --home "$H" --csr "$TMP/junk.csr" --serial SN-3
is "$RC" 1 "a file that is no CSR exits 1"
err_is "station: issue: $TMP/junk.csr: CSR refused: not a DER PKCS#10 request" "no CSR message"

openssl x509 -in "$TMP/sn1.pem" > "$TMP/cert-not-csr.pem"
run "$STATION" issue --home "$H" --csr "$TMP/cert-not-csr.pem" --serial SN-3
is "$RC" 1 "a PEM certificate as CSR exits 1"
err_is "station: issue: $TMP/cert-not-csr.pem: expected a PEM CERTIFICATE REQUEST or a DER request" "PEM of another kind message"

run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-3 -o "$TMP/no/such/dir.pem"
is "$RC" 1 "an unwritable output exits 1"
err_is "station: cannot write $TMP/no/such/dir.pem: No such file or directory" "unwritable output message"

is "$(events)" "$n" "nothing recorded by any refusal"
is "$(q "SELECT count(*) FROM devices WHERE serial = 'SN-3'")" 0 "no device SN-3"

run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial "SN 3"
is "$RC" 2 "a bad serial exits 2"
err_is "station: issue: --serial: expected 1 to 64 of A-Z a-z 0-9 - ., got 'SN 3'" "bad serial message"
run "$STATION" issue --home "$H" --serial SN-3
is "$RC" 2 "no --csr exits 2"
err_is "station: issue: --csr FILE and --serial SERIAL are required" "no --csr message"

run "$STATION" audit verify --home "$H"
is "$RC" 0 "the log still verifies after the refusals"
contains "$OUT" "inventory: 2 devices match their events" "two devices in the inventory"

finish
