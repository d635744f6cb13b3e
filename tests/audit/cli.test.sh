#!/usr/bin/env bash
# cli.test.sh: `station audit verify|show|anchor|report` through the real
# binary on real signed databases written by build/testbin/audit-mklog
# (software key): exact exit codes and messages, tampering and rollback
# caught, and the anchor's signature checked independently with the
# openssl CLI.
. "$(dirname "$0")/../lib/tap.sh"
MKLOG="$TOP/${BUILD:-build}/testbin/audit-mklog"
H="$TMP/home"; mkdir -p "$H"
DB="$H/station.db"

"$MKLOG" --db "$DB" --station ST-TEST --key "$TMP/audit.key" --pub "$TMP/audit.pub" \
	--devices 30 --every 20 --unsealed 4 --group 5 >/dev/null || { echo "not ok 1 - audit-mklog"; exit 1; }
printf '[station]\nid = ST-TEST\nmode = development\n[hsm]\ntoken = pkcs11:token=demo\n' > "$H/station.conf"

run "$STATION" audit --help
is "$RC" 0 "audit --help exits 0"
contains "$OUT" "Usage: station audit verify" "audit --help shows usage"
run "$STATION" audit
is "$RC" 2 "audit without a subcommand exits 2"
run "$STATION" audit frob
is "$RC" 2 "unknown subcommand exits 2"
err_is "station: audit: unknown subcommand 'frob'; see 'station audit --help'" "unknown subcommand message"

run "$STATION" audit verify --db "$DB" --key "$TMP/audit.pub"
is "$RC" 0 "verify: intact log exits 0"
contains "$OUT" "result: INTACT" "verify: says INTACT"
contains "$OUT" "unsealed: 4 events after the last checkpoint" "verify: reports the unsealed tail with its length"
contains "$OUT" "devices match their events" "verify: inventory replayed"

run "$STATION" audit verify --home "$H" --key "$TMP/audit.pub"
is "$RC" 0 "verify: --home finds the database through station.conf"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "verify without --key still checks the chain"
contains "$OUT" "key: none given" "verify without --key warns"

run "$STATION" audit verify --home "$H" --db "$DB"
is "$RC" 2 "verify: --home and --db exit 2"
err_is "station: audit: give --home or --db, not both" "verify: --home and --db message"
run "$STATION" audit verify --db "$TMP/none.db" --key "$TMP/audit.pub"
is "$RC" 2 "verify: missing database exits 2"
err_is "station: cannot open $TMP/none.db: no such file (check --db or --home)" "verify: missing database message"
run "$STATION" audit show --db "$TMP/none.db"
is "$RC" 2 "show: missing database exits 2"
err_is "station: cannot open $TMP/none.db: no such file (check --db or --home)" "show: missing database message"
run "$STATION" audit anchor --db "$TMP/none.db" -o "$TMP/a"
is "$RC" 2 "anchor: missing database exits 2"
echo "not a key" > "$TMP/bad.pub"
run "$STATION" audit verify --db "$DB" --key "$TMP/bad.pub"
is "$RC" 2 "verify: bad key exits 2"
err_is "station: audit key: not a PEM public key (expected '-----BEGIN PUBLIC KEY-----')" "verify: bad key message"
run "$STATION" audit verify --db "$DB" stray
is "$RC" 2 "verify: stray argument exits 2"

# The anchor, and an independent check of its signature with openssl.
run "$STATION" audit anchor --db "$DB"
is "$RC" 2 "anchor without -o exits 2"
err_is "station: audit anchor: -o FILE is required" "anchor without -o message"
run "$STATION" audit anchor --db "$DB" -o "$TMP/anchor"
is "$RC" 0 "anchor -o exits 0"
is "$(head -n1 "$TMP/anchor")" "station-audit-anchor 1" "anchor file starts with its magic line"
# The checkpoint bytes as docs/AUDIT.md defines them, built with bash only.
field() { sed -n "s/^$1 //p" "$TMP/anchor"; }
hexbin() { local h=$1; while [ -n "$h" ]; do printf "\\x${h:0:2}"; h=${h:2}; done; }
st=$(field station)
{
	printf 'SACHKPT1'
	hexbin "$(printf '%08x' "${#st}")"
	printf '%s' "$st"
	hexbin "$(printf '%016x%016x' "$(field head-seq)" "$(field event-count)")"
	hexbin "$(field head-hash)"
	hexbin "$(printf '%016x' "$(field time-us)")"
	hexbin "$(field key-id)"
} > "$TMP/msg.bin"
hexbin "$(field signature)" > "$TMP/sig.der"
run openssl dgst -sha256 -verify "$TMP/audit.pub" -signature "$TMP/sig.der" "$TMP/msg.bin"
is "$OUT" "Verified OK" "openssl verifies the checkpoint signature from the documented encoding"
keyid=$(openssl pkey -pubin -in "$TMP/audit.pub" -outform DER | sha256sum | cut -d' ' -f1)
is "$(sed -n 's/^key-id //p' "$TMP/anchor")" "$keyid" "key id is SHA-256 of the SPKI DER"
run "$STATION" audit verify --db "$DB" --key "$TMP/audit.pub" --anchor "$TMP/anchor"
is "$RC" 0 "verify with the anchor exits 0"
contains "$OUT" "anchor: the log still holds event" "verify: anchor checked"
sed 's/^head-seq /head-seq 0/' "$TMP/anchor" > "$TMP/anchor.bad"
run "$STATION" audit verify --db "$DB" --key "$TMP/audit.pub" --anchor "$TMP/anchor.bad"
is "$RC" 2 "verify: malformed anchor exits 2"
err_is "station: $TMP/anchor.bad: 'head-seq': expected a number" "verify: malformed anchor message"

# Rollback: an older copy of the file, against a newer anchor.
cp "$DB" "$TMP/old.db"
"$MKLOG" --db "$DB" --station ST-TEST --key "$TMP/audit.key" --devices 5 --every 20 \
	--first 100 --group 5 >/dev/null
"$STATION" audit anchor --db "$DB" -o "$TMP/anchor2" >/dev/null
run "$STATION" audit verify --db "$TMP/old.db" --key "$TMP/audit.pub" --anchor "$TMP/anchor2"
is "$RC" 1 "verify: rolled-back copy exits 1"
contains "$OUT" "the log was truncated or rolled back" "verify: rollback named"
run "$STATION" audit verify --db "$TMP/old.db" --key "$TMP/audit.pub"
is "$RC" 0 "without the anchor a rollback cannot be seen (why anchors exist)"

# A device row edited behind the log's back.
cp "$DB" "$TMP/edit.db"
sqlite3 "$TMP/edit.db" "UPDATE devices SET state = 'done' WHERE serial = (SELECT serial FROM devices WHERE state = 'failed' LIMIT 1)"
serial=$(sqlite3 "$DB" "SELECT serial FROM devices WHERE state = 'failed' LIMIT 1")
run "$STATION" audit verify --db "$TMP/edit.db" --key "$TMP/audit.pub"
is "$RC" 1 "verify: edited device row exits 1"
contains "$OUT" "result: TAMPERED: device $serial: column state differs from what its events say" "verify: names the device and column"
contains "$OUT" "first bad event: " "verify: names the first bad event"

# Not a database at all, or an empty file: a finding, exit 1.
echo "garbage" > "$TMP/garbage.db"
run "$STATION" audit verify --db "$TMP/garbage.db" --key "$TMP/audit.pub"
is "$RC" 1 "verify: a file that is no database exits 1"
contains "$OUT" "result: TAMPERED: not a readable SQLite database: file is not a database" "verify: not a database message"

# Verifying a station that is writing: one snapshot, no false finding.
cp "$DB" "$TMP/live.db"
"$MKLOG" --db "$TMP/live.db" --station ST-TEST --key "$TMP/audit.key" --devices 40 --every 20 \
	--first 200 >/dev/null &
writer=$!
bad=0
for _ in 1 2 3 4 5 6 7 8; do
	"$STATION" audit verify --db "$TMP/live.db" --key "$TMP/audit.pub" >"$TMP/live.out" 2>&1 ||
		{ bad=$((bad + 1)); sed 's/^/# /' "$TMP/live.out"; }
done
wait "$writer"
is "$bad" 0 "verify while the station writes: no false finding"

# show
n=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE subject = 'SN-00000003'")
run "$STATION" audit show --db "$DB" --serial SN-00000003
is "$RC" 0 "show --serial exits 0"
is "$(echo "$OUT" | wc -l)" "$n" "show --serial lists that device's events"
contains "$OUT" "device.allocated SN-00000003 claim_id=" "show: text line format"
run "$STATION" audit show --db "$DB" --kind 'device.*' --json
is "$RC" 0 "show --json exits 0"
{ printf '['; echo "$OUT" | paste -sd, -; printf ']'; } > "$TMP/all.json"
is "$(sqlite3 :memory: "SELECT json_valid(readfile('$TMP/all.json'))")" 1 "show --json prints valid JSON lines"
is "$(echo "$OUT" | wc -l)" "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind LIKE 'device.%'")" "show --kind prefix filter"
run "$STATION" audit show --db "$DB" --actor op-ben --since 2000-01-01 --until 2000-01-02
is "$OUT" "" "show: time range excludes everything"
run "$STATION" audit show --db "$DB" --since yesterday
is "$RC" 2 "show: bad time exits 2"
err_is "station: audit show: --since: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got 'yesterday'" "show: bad time message"

# report
run "$STATION" audit report --db "$DB" --key "$TMP/audit.pub" --html "$TMP/r.html"
is "$RC" 0 "report exits 0 on an intact log"
r=$(cat "$TMP/r.html")
contains "$r" "<h2>Verification: INTACT</h2>" "report: verification result"
contains "$r" "<svg" "report: inline SVG chart"
contains "$r" "CSR signature invalid" "report: failures by reason"
contains "$r" "<td>ORD-B</td>" "report: per order"
case "$r" in *"<script"*|*"http://"[!w]*|*"src="*) not_ok "report: self-contained, no scripts" ;; *) ok "report: self-contained, no scripts" ;; esac
cp "$DB" "$TMP/xss.db"
sqlite3 "$TMP/xss.db" "DROP TRIGGER events_no_update; UPDATE events SET actor = '<script>alert(1)</script>' WHERE seq = 5"
run "$STATION" audit report --db "$TMP/xss.db" --key "$TMP/audit.pub" --html "$TMP/x.html"
is "$RC" 1 "report on a tampered log exits 1"
x=$(cat "$TMP/x.html")
contains "$x" "Verification: TAMPERED" "report: tampering first"
contains "$x" "&lt;script&gt;" "report: strings from the database are escaped"
run "$STATION" audit report --db "$DB"
is "$RC" 2 "report without --html exits 2"
err_is "station: audit report: --html FILE is required" "report without --html message"

finish
