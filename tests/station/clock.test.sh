#!/usr/bin/env bash
# clock.test.sh: a writing verb refuses to run while the station's clock
# reads earlier than the newest time in its audit log (here: an event
# dated an hour ahead, written by the test-only station-test-event), with
# the officer's message; nothing is recorded; read-only verbs still run.
. "$(dirname "$0")/../lib/tap.sh"
EVENT="$TOP/build/testbin/station-test-event"

H="$TMP/home"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
q() { sqlite3 "$H/station.db" "$1"; }
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/dev.key" -subj "/CN=x" -out "$TMP/dev.csr" 2>/dev/null

run "$STATION" deny add serial SN-0 --reason test --home "$H"
is "$RC" 0 "with the clock right, deny add runs"

"$EVENT" "$H/station.db" 3600 clock || not_ok "an event an hour ahead"
seq=$(q "SELECT max(seq) FROM events")
newest=$(date -u -d "@$(( $(q "SELECT max(time_us) FROM events") / 1000000 ))" +%Y-%m-%dT%H:%M:%SZ)
n=$(q "SELECT count(*) FROM events")
msg_tail="earlier than the audit log's newest time $newest (event $seq): the clock was set back or has drifted; the security officer sets it right against a trusted time source before anything is stamped or issued"

run "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-1 -o "$TMP/sn1.pem"
is "$RC" 1 "issue with the clock behind the log exits 1"
is "$(echo "$ERR" | sed 's/reads [0-9T:Z-]*,/reads NOW,/')" "station: clock: the station's clock reads NOW, $msg_tail" "issue: the clock message"
[ -e "$TMP/sn1.pem" ] && not_ok "no certificate with the clock behind" || ok "no certificate with the clock behind"
run "$STATION" deny add serial SN-2 --reason test --home "$H"
is "$RC" 1 "deny add with the clock behind the log exits 1"
contains "$ERR" "$msg_tail" "deny add: the clock message"
run "$STATION" export --home "$H" --format jsonl -o "$TMP/x"
is "$RC" 1 "export with the clock behind the log exits 1"
is "$(q "SELECT count(*) FROM events")" "$n" "nothing is recorded with the clock behind"
run "$STATION" deny list --home "$H"
is "$RC" 0 "read-only verbs still run"
finish
