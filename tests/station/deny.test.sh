#!/usr/bin/env bash
# deny.test.sh: `station deny add|remove|list` on a demo home: each change
# asks for the officer's PIN (a wrong one changes nothing) and is recorded;
# list needs none; refusals are exact; `station revoke` denies the
# device's serial, which then shows in the list, the CRL and the export.
. "$(dirname "$0")/../lib/tap.sh"

H="$TMP/home"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
q() { sqlite3 "$H/station.db" "$1"; }

run "$STATION" deny list --home "$H"
is "$RC" 2 "deny list before init exits 2"
err_is "station: no audit database $H/station.db: run 'station init --home $H' first" "before init message"
"$STATION" init --home "$H" >/dev/null || not_ok "init"

run "$STATION" deny list --home "$H"
is "$RC" 0 "an empty deny list exits 0"
err_is "deny list is empty" "empty list message"

# ---- usage ------------------------------------------------------------------------------
run "$STATION" deny --home "$H"
is "$RC" 2 "deny without action exits 2"
err_is "station: deny: expected add, remove or list; see 'station deny --help'" "no action message"
run "$STATION" deny block serial X --reason r --home "$H"
is "$RC" 2 "an unknown action exits 2"
err_is "station: deny: unknown action 'block': expected add, remove or list" "unknown action message"
run "$STATION" deny add mac 00:11 --reason r --home "$H"
is "$RC" 2 "an unknown kind exits 2"
err_is "station: deny add: KIND: expected hardware-id, serial or claim-id, got 'mac'" "unknown kind message"
run "$STATION" deny add serial X --home "$H"
is "$RC" 2 "add without --reason exits 2"
err_is "station: deny add: expected KIND VALUE --reason TEXT; see 'station deny --help'" "no reason message"

# ---- the PIN ----------------------------------------------------------------------------
echo "wrong-pin" > "$TMP/badpin"; chmod 600 "$TMP/badpin"
n=$(q "SELECT count(*) FROM events")
run "$STATION" deny add hardware-id HW-0001 --reason "stolen batch" --home "$H" --pin-file "$TMP/badpin"
is "$RC" 1 "deny add with a wrong PIN exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "deny add wrong PIN message"
is "$(q "SELECT count(*) FROM events")" "$n" "a wrong PIN records nothing"
is "$(q "SELECT count(*) FROM deny_list")" 0 "a wrong PIN denies nothing"

# ---- add, list, remove --------------------------------------------------------------
run "$STATION" deny add hardware-id HW-0001 --reason "stolen batch" --home "$H"
is "$RC" 0 "deny add exits 0"
is "$OUT" "denied hardware_id HW-0001: stolen batch" "deny add message"
is "$(q "SELECT actor FROM events WHERE kind = 'deny.added'")" "officer:$(id -un)" "deny.added names the officer"
run "$STATION" deny add hwid HW-0001 --reason again --home "$H"
is "$RC" 1 "denying twice exits 1"
err_is "station: deny: hardware_id HW-0001 is denied already (stolen batch)" "denying twice message"
"$STATION" deny add claim-id CLAIM-9 --reason "label copied" --home "$H" >/dev/null || not_ok "deny add claim"
run "$STATION" deny list --home "$H"
is "$RC" 0 "deny list exits 0"
is "$(echo "$OUT" | cut -f1,2,4 | tr '\t' '|' | tr '\n' ' ')" "claim_id|CLAIM-9|label copied hardware_id|HW-0001|stolen batch " "deny list shows both"
run "$STATION" deny remove hardware-id HW-0001 --reason "batch found" --home "$H" --pin-file "$TMP/badpin"
is "$RC" 1 "deny remove with a wrong PIN exits 1"
is "$(q "SELECT count(*) FROM deny_list")" 2 "still denied after a wrong PIN"
run "$STATION" deny remove hardware-id HW-0001 --reason "batch found" --home "$H"
is "$RC" 0 "deny remove exits 0"
is "$OUT" "lifted the denial of hardware_id HW-0001: batch found" "deny remove message"
run "$STATION" deny remove hardware-id HW-0001 --reason again --home "$H"
is "$RC" 1 "removing what is not denied exits 1"
err_is "station: deny: hardware_id HW-0001 is not on the deny list" "not denied message"
is "$(q "SELECT count(*) FROM events WHERE kind IN ('deny.added', 'deny.removed')")" 3 "each change is an event"

# ---- revoke denies ----------------------------------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/dev.key" -subj "/CN=x" -out "$TMP/dev.csr" 2>/dev/null
"$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-R -o "$TMP/r.pem" >/dev/null || not_ok "issue"
run "$STATION" revoke --home "$H" SN-R --reason superseded
is "$RC" 0 "revoke exits 0"
is "$(echo "$OUT" | sed -n 2p)" "denied: its serial and hardware id (station deny list)" "revoke says it denied"
contains "$("$STATION" deny list --home "$H" 2>&1)" "serial	SN-R	" "the revoked serial is on the deny list"
is "$(q "SELECT reason FROM deny_list WHERE value = 'SN-R'")" "revoked: superseded" "with the revocation's reason"
"$STATION" export --home "$H" --format jsonl -o "$TMP/x" >/dev/null || not_ok "export"
contains "$(cat "$TMP/x/denied.jsonl")" '"kind":"serial","value":"SN-R"' "the denial is in the export"
contains "$(cat "$TMP/x/denied.jsonl")" '"kind":"claim_id","value":"CLAIM-9"' "the officer's denial is in the export"
contains "$(openssl crl -in "$TMP/x/crl.pem" -noout -text)" "Serial Number: $(openssl x509 -in "$TMP/r.pem" -noout -serial | cut -d= -f2)" "the revocation is on the export's CRL"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "the log verifies (the deny list replays)"
finish
