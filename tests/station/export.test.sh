#!/usr/bin/env bash
# export.test.sh: `station export` and `station export verify` on a demo
# home: the export verifies with openssl cms -verify and with export
# verify; a changed byte, a dropped device line, an added file and a
# replaced manifest are each caught; two successive incremental exports
# meet without gap or overlap (and a wrong --after is caught as one); the
# revoked device is on the CRL and in the export as revoked; the export is
# recorded; refusals are exact.
. "$(dirname "$0")/../lib/tap.sh"

H="$TMP/home"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
ROOT="$H/pki/root.pem"
q() { sqlite3 "$H/station.db" "$1"; }
cmsv() { openssl cms -verify -binary -content "$1/manifest.json" -inform DER \
	-in "$1/manifest.json.p7s" -CAfile "$ROOT" -purpose any -out /dev/null 2>&1; }

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/dev.key" -subj "/CN=x" -out "$TMP/dev.csr" 2>/dev/null
for s in SN-1 SN-2 SN-3; do
	"$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial $s -o "$TMP/$s.pem" >/dev/null ||
		not_ok "issue $s"
done
"$STATION" revoke --home "$H" SN-2 --reason keyCompromise >/dev/null || not_ok "revoke"

# ---- refusals -----------------------------------------------------------------------
run "$STATION" export --home "$H" -o "$TMP/x"
is "$RC" 2 "export without --format exits 2"
err_is "station: export: --format jsonl|csv|aws is required; see 'station export --help'" "missing --format message"
run "$STATION" export --home "$H" --format xml -o "$TMP/x"
is "$RC" 2 "an unknown format exits 2"
err_is "station: export: --format: expected jsonl, csv or aws, got 'xml'" "unknown format message"
run "$STATION" export --home "$H" --format jsonl --after 1 --order O -o "$TMP/x"
is "$RC" 2 "--order with --after exits 2"
run "$STATION" export --home "$H" --format jsonl --after -1 -o "$TMP/x"
is "$RC" 2 "a negative --after exits 2"
err_is "station: export: --after: expected an audit sequence number, got '-1'" "bad --after message"
head=$(($(q 'SELECT max(seq) FROM events') + 1))   # with session.started
run "$STATION" export --home "$H" --format jsonl --after 99999 -o "$TMP/x"
is "$RC" 1 "--after beyond the log exits 1"
err_is "station: export: --after 99999 is beyond the log's last event $head" "--after beyond message"
[ -e "$TMP/x" ] || [ -e "$TMP/x.partial" ] && not_ok "nothing left after a refusal" || ok "nothing left after a refusal"
run "$STATION" export --home "$H" --format jsonl --order NOPE -o "$TMP/x"
is "$RC" 1 "an unknown order exits 1"
err_is "station: export: no order 'NOPE' in the audit log" "unknown order message"
echo "wrong-pin" > "$TMP/badpin"; chmod 600 "$TMP/badpin"
n=$(q "SELECT count(*) FROM events")
run "$STATION" export --home "$H" --format jsonl -o "$TMP/x" --pin-file "$TMP/badpin"
is "$RC" 1 "export with a wrong PIN exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "export wrong PIN message"
is "$(q "SELECT count(*) FROM events")" "$n" "a wrong PIN records nothing"
[ -e "$TMP/x" ] && not_ok "no export after a wrong PIN" || ok "no export after a wrong PIN"

# ---- the first export ------------------------------------------------------------
run "$STATION" export --home "$H" --format csv -o "$TMP/e1"
is "$RC" 0 "export exits 0"
through1=$(q "SELECT max(seq) FROM events WHERE kind = 'session.started'")
contains "$OUT" "export $TMP/e1: events 1 to" "export message"
is "$(ls "$TMP/e1" | tr '\n' ' ')" "audit.pem crl.pem denied.jsonl devices.csv devices.jsonl manifest.json manifest.json.p7s subca.pem " "the export's files"
is "$(cmsv "$TMP/e1")" "CMS Verification successful" "openssl cms -verify accepts the manifest's signature"
run "$STATION" export verify "$TMP/e1" --trust "$ROOT"
is "$RC" 0 "export verify exits 0"
is "$OUT" "export $TMP/e1: verified: station DEMO-01, events 1 to $(sed -n 's/.*"through": \([0-9]*\).*/\1/p' "$TMP/e1/manifest.json"), 3 devices, 2 issued, 1 revoked, CRL number 1" "export verify message"
run "$STATION" export verify "$TMP/e1" --home "$H"
is "$RC" 0 "export verify with the home's root exits 0"
is "$(grep -c . "$TMP/e1/devices.jsonl")" 3 "three device lines"
contains "$(grep '"serial":"SN-2"' "$TMP/e1/devices.jsonl")" '"state":"revoked","reason":"keyCompromise"' "the revoked device is in the export as revoked"
sn2=$(openssl x509 -in "$TMP/SN-2.pem" -noout -serial | cut -d= -f2)
contains "$(openssl crl -in "$TMP/e1/crl.pem" -noout -text)" "Serial Number: $sn2" "the revoked device is on the export's CRL"
run openssl crl -in "$TMP/e1/crl.pem" -CAfile "$TMP/e1/subca.pem" -noout -verify
is "$RC" 0 "openssl accepts the export's CRL"
is "$(cat "$TMP/e1/denied.jsonl" | sed 's/"added":"[^"]*"/"added":T/')" '{"kind":"serial","value":"SN-2","reason":"revoked: keyCompromise","added":T}' "the revoked device's serial is in the export's deny list"
is "$(head -1 "$TMP/e1/devices.csv" | cut -d, -f1-3)" "serial,claim_id,product" "CSV header"
is "$(grep -c . "$TMP/e1/devices.csv")" 4 "CSV: header and three devices"
# No private key and not the PIN (a case-insensitive 'pin' also matched
# random base64 inside certificates now and then).
grep -qF -e 'PRIVATE KEY' -e "$(cat "$H/pin")" "$TMP/e1"/devices.* && not_ok "no secret in the export" || ok "no secret in the export"
is "$(q "SELECT count(*) FROM events WHERE kind = 'export.written'")" 1 "the export is recorded"
is "$(q "SELECT actor FROM events WHERE kind = 'export.written'")" "officer:$(id -un)" "the record names the officer"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "the log verifies after the export"

run "$STATION" export --home "$H" --format jsonl -o "$TMP/e1"
is "$RC" 1 "an existing folder exits 1"
err_is "station: export: $TMP/e1 exists already: each export goes into a new folder" "existing folder message"

# ---- tampering -------------------------------------------------------------------------
t() { rm -rf "$TMP/t"; cp -r "$TMP/e1" "$TMP/t"; }
t; sed -i 's/"state":"revoked"/"state":"issued!"/' "$TMP/t/devices.jsonl"
run "$STATION" export verify "$TMP/t" --trust "$ROOT"
is "$RC" 1 "a changed device line exits 1"
err_is "station: export verify: $TMP/t/devices.jsonl: its SHA-256 is not the manifest's: the file was changed" "changed byte message"
t; printf 'X' | dd of="$TMP/t/crl.pem" bs=1 seek=40 conv=notrunc 2>/dev/null
run "$STATION" export verify "$TMP/t" --trust "$ROOT"
is "$RC" 1 "a changed byte in the CRL exits 1"
t; sed -i '2d' "$TMP/t/devices.jsonl"
run "$STATION" export verify "$TMP/t" --trust "$ROOT"
is "$RC" 1 "a dropped device line exits 1"
contains "$ERR" "devices.jsonl: " "dropped line named"
t; sed -i 's/"devices": 3/"devices": 2/' "$TMP/t/manifest.json"
run "$STATION" export verify "$TMP/t" --trust "$ROOT"
is "$RC" 1 "an edited manifest exits 1"
contains "$ERR" "station: export verify: $TMP/t/manifest.json: the signature does not verify" "edited manifest message"
contains "$(cmsv "$TMP/t")" "Verification failure" "openssl cms -verify refuses the edited manifest too"
t; cp "$TMP/e1/manifest.json" "$TMP/m1"; echo x > "$TMP/t/extra.txt"
run "$STATION" export verify "$TMP/t" --trust "$ROOT"
is "$RC" 1 "an added file exits 1"
err_is "station: export verify: $TMP/t/extra.txt is not in the manifest" "added file message"

# ---- incremental exports -----------------------------------------------------------
"$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-4 -o "$TMP/SN-4.pem" >/dev/null || not_ok "issue SN-4"
# what the bench loop records about a device (details on an event about it)
TOKHASH=$(printf 'token' | sha256sum | cut -d' ' -f1)
"$TOP/build/testbin/station-test-event" "$H/station.db" 0 SN-4 \
	provisioning_token_sha256=$TOKHASH claim_mode=label || not_ok "bench details for SN-4"
run "$STATION" export --home "$H" --format aws -o "$TMP/e2"
is "$RC" 0 "second export exits 0"
is "$(grep -c . "$TMP/e2/devices.jsonl")" 1 "the second export has the new device only"
contains "$(cat "$TMP/e2/devices.jsonl")" '"serial":"SN-4"' "it is SN-4"
contains "$(cat "$TMP/e2/devices.jsonl")" "\"claim_mode\":\"label\",\"provisioning_token_sha256\":\"$TOKHASH\"," "the recorded claim mode and token hash are exported"
contains "$(cat "$TMP/e2/aws-bulk.jsonl")" '{"ThingName":"SN-4","SerialNumber":"SN-4","CertificatePem":"-----BEGIN CERTIFICATE-----\n' "aws: bulk-registration parameters"
contains "$(cat "$TMP/e2/aws-bulk.jsonl")" '"CertificateStatus":"INACTIVE"' "aws: an issued, not yet activated certificate is INACTIVE"
run "$STATION" export verify "$TMP/e2" --trust "$ROOT" --previous "$TMP/e1"
is "$RC" 0 "the second export follows the first"
contains "$OUT" "follows $TMP/e1 (through event" "no gap, no overlap message"
# the replaced manifest: e1's manifest and signature in e2's folder
t; rm -rf "$TMP/t"; cp -r "$TMP/e2" "$TMP/t"; cp "$TMP/e1/manifest.json" "$TMP/e1/manifest.json.p7s" "$TMP/t/"
run "$STATION" export verify "$TMP/t" --trust "$ROOT"
is "$RC" 1 "a manifest replaced by another export's exits 1"
a1=$(sed -n 's/.*"through": \([0-9]*\).*/\1/p' "$TMP/e1/manifest.json")
run "$STATION" export --home "$H" --format jsonl --after $((a1 - 2)) -o "$TMP/e3"
is "$RC" 0 "an export with an earlier --after"
run "$STATION" export verify "$TMP/e3" --trust "$ROOT" --previous "$TMP/e1"
is "$RC" 1 "overlap exits 1"
err_is "station: export verify: overlap: this export starts after event $((a1 - 2)), the previous one ended at event $a1: events $((a1 - 1)) to $a1 are in both" "overlap message"
a2=$(sed -n 's/.*"through": \([0-9]*\).*/\1/p' "$TMP/e2/manifest.json")
run "$STATION" export --home "$H" --format jsonl --after $((a2 + 3)) -o "$TMP/e4"
run "$STATION" export verify "$TMP/e4" --trust "$ROOT" --previous "$TMP/e2"
is "$RC" 1 "gap exits 1"
err_is "station: export verify: gap: this export starts after event $((a2 + 3)), the previous one ended at event $a2: events $((a2 + 1)) to $((a2 + 3)) are in neither" "gap message"

# ---- a root that did not sign ---------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/o.key" \
	-subj "/CN=other root" -days 2 -out "$TMP/other.pem" 2>/dev/null
run "$STATION" export verify "$TMP/e1" --trust "$TMP/other.pem"
is "$RC" 1 "another root exits 1"
contains "$ERR" "the signature does not verify" "another root message"
run "$STATION" export verify "$TMP/e1" --trust "$TMP/nope.pem"
is "$RC" 2 "a missing root file exits 2"
err_is "station: export verify: cannot read the root certificate $TMP/nope.pem" "missing root message"
finish
