#!/usr/bin/env bash
# batch.stress.sh: batch_take_next killed with SIGKILL at random moments,
# ROUNDS times (default 40), two takers at once: no identity is ever
# handed out twice, every one handed out is recorded, at most one per kill
# is used without being handed out, and the audit log verifies.
. "$(dirname "$0")/../lib/tap.sh"

TOOL=${BATCH_TOOL:-$TOP/${BUILD:-build}/test-tools/batch-tool}
ROUNDS=${ROUNDS:-40}
G="$TMP/gen"; F="$TMP/factory"
for h in "$G" "$F"; do
	"$STATION" pki demo --home "$h" >/dev/null &&
	    "$STATION" init --home "$h" >/dev/null || { echo "Bail out! demo"; exit 1; }
done
"$STATION" order demo --home "$G" >/dev/null
"$STATION" order import --home "$G" "$G/orders/demo-token.order" >/dev/null
cp "$G/pki/export.pem" "$F/pki/batch-signer.pem"
"$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 1000 \
    --threads 2 --for "$F/pki/station-transport.pem" -o "$TMP/b.batch" >/dev/null
run "$STATION" batch import --home "$F" "$TMP/b.batch"
is "$RC" 0 "batch of 1000 imported"
B=DEMO-TOKEN-1.100001
: > "$TMP/handed"
kills=0
for r in $(seq "$ROUNDS"); do
	"$TOOL" "$F" take-many "$B" 1000 >> "$TMP/handed.$r.a" 2>/dev/null &
	a=$!
	"$TOOL" "$F" take-many "$B" 1000 >> "$TMP/handed.$r.b" 2>/dev/null &
	b=$!
	sleep "0.$((RANDOM % 4 + 1))"
	kill -9 "$a" "$b" 2>/dev/null && kills=$((kills + 2))
	wait "$a" "$b" 2>/dev/null
	cat "$TMP/handed.$r.a" "$TMP/handed.$r.b" >> "$TMP/handed"
	used=$(sqlite3 "$F/station.db" "select count(*) from devices where key_mode='batch'")
	[ "$used" -ge 1000 ] && break
done
sort "$TMP/handed" > "$TMP/sorted"
is "$(uniq -d "$TMP/sorted")" "" "no identity handed out twice ($(wc -l < "$TMP/sorted") handed out, $kills kills)"
is "$(comm -23 "$TMP/sorted" <(sqlite3 "$F/station.db" "select serial from devices where key_mode='batch' order by serial"))" "" "every identity handed out is recorded"
used=$(sqlite3 "$F/station.db" "select count(*) from devices where key_mode='batch'")
handed=$(wc -l < "$TMP/sorted")
is "$(( used - handed <= kills ))" 1 "at most one identity per kill used without being handed out ($used used)"
is "$(sqlite3 "$F/station.db" "select count(distinct serial) from devices where key_mode='batch'")" "$used" "one device row per identity"
run "$STATION" audit verify --home "$F"
is "$RC" 0 "the audit log verifies after $kills kills"
finish
