#!/usr/bin/env bash
# crl.test.sh: `station revoke` and `station crl` on a demo home: a revoked
# device's certificate is in the CRL (openssl crl -verify, openssl verify
# -crl_check), the CRL number increases and is recorded, refusals are
# exact; with [audit] checkpoint_every = 4 the log is sealed within
# sessions too, and verifies.
. "$(dirname "$0")/../lib/tap.sh"

H="$TMP/home"
DB="$H/station.db"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
printf '\n[audit]\ncheckpoint_every = 4\n' >> "$H/station.conf"
ROOT="$H/pki/root.pem"; SUBCA="$H/pki/subca.pem"
q() { sqlite3 "$DB" "$1"; }
events() { q "SELECT count(*) FROM events"; }

run "$STATION" crl --home "$H" -o "$TMP/crl.pem"
is "$RC" 2 "crl before init exits 2"
err_is "station: no audit database $DB: run 'station init --home $H' first" "crl before init message"
run "$STATION" revoke --home "$H" SN-A --reason keyCompromise
is "$RC" 2 "revoke before init exits 2"

"$STATION" init --home "$H" >/dev/null || not_ok "init"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/dev.key" -subj "/CN=x" -out "$TMP/dev.csr" 2>/dev/null
for s in SN-A SN-B; do
	"$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial $s -o "$TMP/$s.pem" >/dev/null ||
		not_ok "issue $s"
done

# ---- an empty CRL first -----------------------------------------------------------
run "$STATION" crl --home "$H" -o "$TMP/crl1.pem"
is "$RC" 0 "crl with no revoked device exits 0"
is "$OUT" "CRL number 1: 0 revoked certificates, next update in 30 days, written to $TMP/crl1.pem" "crl message"
run openssl crl -in "$TMP/crl1.pem" -CAfile "$SUBCA" -noout -verify
is "$RC" 0 "openssl crl -verify accepts the CRL"
is "$(openssl crl -in "$TMP/crl1.pem" -noout -crlnumber)" "crlNumber=0x01" "CRL number 1"

# ---- revoke -------------------------------------------------------------------------
run "$STATION" revoke --home "$H" SN-A --reason "keyCompromise: key left the line"
is "$RC" 0 "revoke exits 0"
is "$(echo "$OUT" | head -1)" "revoked device SN-A: keyCompromise: key left the line" "revoke message"
is "$(q "SELECT state || '|' || reason FROM devices WHERE serial = 'SN-A'")" \
	"revoked|keyCompromise: key left the line" "SN-A is revoked with its reason"
is "$(q "SELECT actor FROM events WHERE kind = 'device.revoked'")" "officer:$(id -un)" "the revocation names its actor"

n=$(events)
run "$STATION" revoke --home "$H" SN-A --reason superseded
is "$RC" 1 "revoking twice exits 1"
err_is "station: revoke: device SN-A is revoked already (keyCompromise: key left the line)" "revoking twice message"
run "$STATION" revoke --home "$H" SN-Z --reason superseded
is "$RC" 1 "revoking an unknown serial exits 1"
err_is "station: revoke: no device with serial SN-Z" "unknown serial message"
run "$STATION" revoke --home "$H" SN-B --reason "because"
is "$RC" 2 "an unknown reason exits 2"
err_is "station: revoke: --reason: expected one of unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn (optionally followed by ': ' and a note), got 'because'" "unknown reason message"
run "$STATION" revoke --home "$H" SN-B --reason certificateHold
is "$RC" 2 "certificateHold is not an officer's reason"
run "$STATION" revoke --home "$H" SN-B
is "$RC" 2 "revoke without --reason exits 2"
err_is "station: revoke: expected one SERIAL and --reason REASON; see 'station revoke --help'" "revoke usage message"
echo "wrong-pin" > "$TMP/badpin"; chmod 600 "$TMP/badpin"
run "$STATION" revoke --home "$H" SN-B --reason superseded --pin-file "$TMP/badpin"
is "$RC" 1 "revoke with a wrong PIN exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "revoke wrong PIN message"
is "$(q "SELECT state FROM devices WHERE serial = 'SN-B'")" "issued" "SN-B untouched"
is "$(events)" "$n" "no refused revocation recorded anything"

run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-A -o "$TMP/again.pem"
is "$RC" 1 "a revoked device's serial is never issued again"
err_is "station: issue: serial SN-A is already used (device state revoked); serials are never reused" "revoked serial message"

# ---- the CRL with the revoked device -------------------------------------------------
run "$STATION" crl --home "$H" -o "$TMP/crl2.pem" --days 7
is "$RC" 0 "crl exits 0"
is "$OUT" "CRL number 2: 1 revoked certificate, next update in 7 days, written to $TMP/crl2.pem" "crl message, one entry"
is "$(stat -c %a "$TMP/crl2.pem")" 644 "the CRL file is 0644"
run openssl crl -in "$TMP/crl2.pem" -CAfile "$SUBCA" -noout -verify
is "$RC" 0 "openssl crl -verify accepts the new CRL"
is "$(openssl crl -in "$TMP/crl2.pem" -noout -crlnumber)" "crlNumber=0x02" "the CRL number increased"
TEXT=$(openssl crl -in "$TMP/crl2.pem" -noout -text)
SA=$(openssl x509 -in "$TMP/SN-A.pem" -noout -serial | sed 's/^serial=//')
SB=$(openssl x509 -in "$TMP/SN-B.pem" -noout -serial | sed 's/^serial=//')
contains "$TEXT" "Serial Number: $SA" "the revoked certificate is listed"
contains "$TEXT" "Key Compromise" "with its reason code"
case "$TEXT" in *"$SB"*) not_ok "the live certificate is not listed" ;; *) ok "the live certificate is not listed" ;; esac
run openssl verify -crl_check -CAfile "$ROOT" -untrusted "$SUBCA" -CRLfile "$TMP/crl2.pem" "$TMP/SN-A.pem"
is "$RC" 2 "openssl verify -crl_check refuses the revoked certificate"
contains "$OUT$ERR" "certificate revoked" "openssl says: certificate revoked"
run openssl verify -crl_check -CAfile "$ROOT" -untrusted "$SUBCA" -CRLfile "$TMP/crl2.pem" "$TMP/SN-B.pem"
is "$RC" 0 "openssl verify -crl_check accepts the live certificate"

is "$(q "SELECT count(*) FROM events WHERE kind = 'crl.issued'")" 2 "each CRL recorded"
run "$STATION" audit show --home "$H" --kind crl.issued
contains "$OUT" "crl_number=2" "crl.issued records the number"
contains "$OUT" "entries=1" "crl.issued records the entries"

run "$STATION" crl --home "$H"
is "$RC" 2 "crl without -o exits 2"
err_is "station: crl: -o FILE is required" "crl usage message"
run "$STATION" crl --home "$H" -o "$TMP/x.pem" --days 0
is "$RC" 2 "crl --days 0 exits 2"
err_is "station: crl: --days: expected 1 to 3650, got '0'" "crl --days message"
run "$STATION" crl --home "$H" -o "$TMP/x.pem" --pin-file "$TMP/badpin"
is "$RC" 1 "crl with a wrong PIN exits 1"
[ -e "$TMP/x.pem" ] && not_ok "no CRL after a wrong PIN" || ok "no CRL after a wrong PIN"

# ---- sealing ----------------------------------------------------------------------------
sessions=$(q "SELECT count(*) FROM events WHERE kind = 'session.ended'")
cps=$(q "SELECT count(*) FROM checkpoints")
[ "$cps" -gt "$sessions" ] && ok "checkpoint_every = 4 seals within sessions ($cps checkpoints, $sessions sessions)" ||
	not_ok "checkpoint_every = 4 seals within sessions ($cps checkpoints, $sessions sessions)"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "the log verifies with the configured audit certificate"
contains "$OUT" "unsealed: 0" "nothing unsealed"
contains "$OUT" "checkpoints: $cps valid" "every checkpoint's signature holds"

finish
