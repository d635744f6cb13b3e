#!/usr/bin/env bash
# run_batch.test.sh: `station run --batch ID`, the bench loop handing out
# the identities of an imported batch, end to end: a batch generated at
# one demo home (the generator), imported at another (the factory),
# stamped through the emulated devices (stampdev-emu on umockdev); each
# stamp checked with `station inspect` (signed by the factory's stamp key,
# bound to the hardware id, the re-wrapped key opens with the device's
# transport key), each certificate with `openssl verify` against the
# generator's root; `batch status` counts; an identity taken but never
# stamped and a run killed with SIGKILL: recovery voids (never revokes)
# and reports them, no identity is used twice; `station run` at the
# generator leaves its batch rows alone; both audit logs verify.
. "$(dirname "$0")/../lib/tap.sh"

EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
TOOL=${BATCH_TOOL:-$TOP/${BUILD:-build}/test-tools/batch-tool}
G="$TMP/gen"; F="$TMP/factory"
qg() { sqlite3 "$G/station.db" "$1"; }
qf() { sqlite3 "$F/station.db" "$1"; }
emu() { timeout 120 "$EMU" --state "$ST" --trust "$1/pki/stamp.pem" --keygen-ms 10 "${@:2}"; }
slot_a() {  # slot_a DEV OUT: the image part of slot A of device DEV
	dd if="$ST/dev-$1/stamp.part" bs=8192 count=1 2>/dev/null | head -c 8176 > "$2"
}

for h in "$G" "$F"; do
	"$STATION" pki demo --home "$h" >/dev/null &&
	    "$STATION" init --home "$h" >/dev/null || { echo "Bail out! demo $h"; exit 1; }
done
"$STATION" order demo --home "$G" >/dev/null
"$STATION" order import --home "$G" "$G/orders/demo-token.order" >/dev/null || not_ok "order import"
cp "$G/pki/export.pem" "$F/pki/batch-signer.pem"
"$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 10 \
    --for "$F/pki/station-transport.pem" -o "$TMP/b.batch" >/dev/null || not_ok "generate"
"$STATION" batch import --home "$F" "$TMP/b.batch" >/dev/null || not_ok "import"
B=DEMO-TOKEN-1.100001

# --- usage, before the PIN
run "$STATION" run --home "$F" --batch NOPE.1 --count 1
is "$RC" 1 "an unknown batch: exit 1"
err_is "station: run: batch NOPE.1 was not imported here ('station batch status' lists the imported batches)" "unknown batch message"
run "$STATION" run --home "$F" --batch "$B" --order X
is "$RC" 2 "--batch with --order: exit 2"

# --- two devices stamped from the batch
ST="$TMP/s1"
run emu "$F" --devices 2 -- "$STATION" run --home "$F" --batch "$B" --count 2
is "$RC" 0 "batch run: two devices stamped, exit 0"
is "$(echo "$OUT" | grep -c '^PASS  port 1-[12] ')" 2 "two PASS lines"
contains "$OUT" "ready: batch $B (order DEMO-TOKEN-1, DW1, 0 of 10 identities used)" "ready line names the batch"
contains "$OUT" "[batch $B 2/10, PASS 2 FAIL 0]" "result lines count the batch's identities"
contains "$OUT" "; batch $B: 2 of 10 used" "end line counts the batch's identities"
is "$(qf "SELECT count(*) FROM devices WHERE key_mode = 'batch' AND state = 'done'")" 2 "two batch devices done"
is "$(qf "SELECT count(*) FROM devices WHERE key_mode = 'batch' AND order_id IS NOT NULL AND order_id != ''")" 0 "factory rows carry no order of this station"
cmp -s "$F/batches/$B.ca.pem" "$G/pki/subca.pem"
is "$?" 0 "the kept chain is the generator's sub-CA"
for k in 1 2; do
	hw=$(cat "$ST/dev-$k/serial")
	sn=$(qf "SELECT serial FROM devices WHERE hardware_id = '$hw'")
	case "$sn" in DW1-DEMO-01-001000[01][0-9]) ok "device $k: batch serial $sn" ;; *) not_ok "device $k: serial '$sn'" ;; esac
	slot_a $k "$TMP/s$k.img"
	run "$STATION" inspect "$TMP/s$k.img" --trust "$F/pki/stamp.pem" --hardware-id "$hw" --device-key "$ST/dev-$k/transport.key"
	is "$RC" 0 "device $k: stamp valid, signed here, bound, secrets open"
	contains "$OUT" "\"$sn\"" "device $k: stamp carries $sn"
	contains "$OUT" "wrapped_device_key 0x000e critical secret(opened)" "device $k: the re-wrapped key opens on the device"
	qf "SELECT hex(cert_der) FROM devices WHERE serial = '$sn'" | xxd -r -p |
	    openssl x509 -inform DER -out "$TMP/c$k.pem"
	run openssl verify -CAfile "$G/pki/root.pem" -untrusted "$F/batches/$B.ca.pem" "$TMP/c$k.pem"
	is "$RC" 0 "device $k: certificate verifies to the generator's root"
	run openssl verify -CAfile "$F/pki/root.pem" -untrusted "$F/pki/subca.pem" "$TMP/c$k.pem"
	[ "$RC" -ne 0 ] && ok "device $k: not a certificate of the factory's sub-CA" || not_ok "device $k: verifies to the factory's root"
done
run "$STATION" batch status --home "$F" "$B"
is "$RC" 0 "batch status exits 0"
contains "$OUT" "$B" "status names the batch"
is "$(echo "$OUT" | grep "$B" | awk '{print $3, $4, $5}')" "10 2 0" "status: count 10, used 2, failed 0"

# --- an identity taken but never stamped (what a crash right after
# batch_take_next leaves), then a run killed mid-stamp
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/t.key" 2>/dev/null
openssl ec -in "$TMP/t.key" -pubout -out "$TMP/t.pub" 2>/dev/null
run "$TOOL" "$F" take "$B" hw-crashed "$TMP/t.pub" "$TMP/t.sealed" "$TMP/t.der"
is "$RC" 0 "an identity taken and not stamped"
lost=$(echo "$OUT" | awk '{print $2}')
lostcs=$(echo "$OUT" | awk '{print $4}')
is "$(qf "SELECT state FROM devices WHERE serial = '$lost'")" issued "it is left issued"
ST="$TMP/s2"
run emu "$F" --devices 1 -- "$STATION" run --home "$F" --batch "$B" --count 1
is "$RC" 0 "the next run stamps"
contains "$OUT" "recovered $lost: batch $B identity taken but never stamped, now voided; its certificate $lostcs was issued by the batch's station: report it there for revocation ('station batch revoke')" "recovery voids and reports the taken identity"
# (stdout of a killed run is lost in its buffer: each check is on the
# database and on the run after it)
ST="$TMP/kill"
emu "$F" --devices 1 --fault slow@300 -- timeout -s KILL 0.8 "$STATION" run --home "$F" --batch "$B" >/dev/null 2>&1
hw=$(cat "$ST/dev-1/serial")
killed=$(qf "SELECT serial || ' ' || state FROM devices WHERE hardware_id = '$hw'")
ST="$TMP/s3"
run emu "$F" --devices 1 -- "$STATION" run --home "$F" --batch "$B" --count 1
is "$RC" 0 "after the kill: the next run stamps"
case "$killed" in
*" issued") contains "$OUT" "recovered ${killed% issued}: batch $B identity taken but never stamped, now voided" "the killed run's identity is voided and reported" ;;
*" written") contains "$OUT" "recovered ${killed% written}: was written" "the killed run's identity: unconfirmed for the officer" ;;
*) ok "the killed run left: '$killed'" ;;
esac
is "$(qf "SELECT state FROM devices WHERE serial = '$lost'")" voided "the taken identity is voided"
is "$(qf "SELECT count(*) FROM devices WHERE state = 'revoked'")" 0 "no batch identity revoked at the factory"
is "$(qf "SELECT count(*) FROM devices WHERE state IN ('allocated', 'key_ready', 'issued', 'written')")" 0 "nothing left in flight"
unused=$(qf "SELECT count(*) FROM events WHERE kind = 'batch.unused' AND subject = 'batch:$B'")
case "$unused" in [12]) ok "batch.unused recorded ($unused)" ;; *) not_ok "batch.unused count '$unused'" ;; esac
taken=$(qf "SELECT count(*) FROM events WHERE kind = 'batch.taken' AND subject = 'batch:$B'")
is "$(qf "SELECT count(*) FROM devices WHERE key_mode = 'batch'")" "$taken" "each identity taken once: one device per batch.taken"
is "$(qf "SELECT count(DISTINCT serial) FROM devices WHERE key_mode = 'batch'")" "$taken" "no serial twice"
is "$(qf "SELECT count(DISTINCT cert_serial) FROM devices WHERE key_mode = 'batch'")" "$taken" "no certificate twice"
run "$STATION" batch status --home "$F" "$B"
is "$(echo "$OUT" | grep "$B" | awk '{print $4}')" "$taken" "status: used = identities taken"

# --- a stamp that is not written: failed, not revoked, reported
ST="$TMP/cut"
run emu "$F" --devices 1 --fault powercut@300 -- "$STATION" run --home "$F" --batch "$B" --idle-exit 1
is "$RC" 1 "power cut during the stamp: exit 1"
contains "$OUT" "the stamp was not written (" "power cut: the operator is told why"
hw=$(cat "$ST/dev-1/serial")
cut=$(qf "SELECT serial FROM devices WHERE hardware_id = '$hw'")
is "$(qf "SELECT state FROM devices WHERE serial = '$cut'")" failed "power cut: the batch identity is failed"
is "$(qf "SELECT group_concat(kind) FROM events WHERE subject = '$cut'")" "device.allocated,device.key_ready,device.issued,device.failed" "power cut: never revoked here"
is "$(qf "SELECT count(*) FROM events WHERE kind = 'batch.unused' AND subject = 'batch:$B' AND instr(details, '$cut') > 0")" 1 "power cut: reported as batch.unused"
taken=$(qf "SELECT count(*) FROM events WHERE kind = 'batch.taken' AND subject = 'batch:$B'")

# --- run until the batch is used up: the run stops on it
ST="$TMP/s4"
left=$((10 - taken))
run emu "$F" --devices $((left + 1)) -- "$STATION" run --home "$F" --batch "$B" --parallel 1
is "$RC" 1 "batch used up: the run stops, exit 1"
contains "$OUT" "STOP: batch $B has no identities left" "used-up message"
is "$(qf "SELECT count(*) FROM devices WHERE key_mode = 'batch'")" 10 "all ten identities used, none twice"
run "$STATION" run --home "$F" --batch "$B"
is "$RC" 1 "a used-up batch: refused at start, exit 1"
err_is "station: run: batch $B has no identities left (10 of 10 used)" "used-up batch message"

# --- at the generator, `station run` leaves the batch rows alone
before=$(qg "SELECT count(*) FROM devices WHERE key_mode = 'batch' AND state = 'issued'")
is "$before" 10 "generator: ten batch identities issued"
ST="$TMP/g1"
run emu "$G" --devices 1 -- "$STATION" run --home "$G" --order DEMO-TOKEN-1 --count 1
is "$RC" 0 "generator: a token-mode run stamps"
is "$(echo "$OUT" | grep -c '^recovered')" 0 "generator: nothing recovered"
is "$(qg "SELECT count(*) FROM devices WHERE key_mode = 'batch' AND state = 'issued'")" 10 "generator: batch rows untouched"
is "$(qg "SELECT count(*) FROM devices WHERE state = 'revoked'")" 0 "generator: nothing revoked"

run "$STATION" export --home "$F" --format jsonl -o "$TMP/fexp"
is "$RC" 0 "the factory exports its batch devices"
run "$STATION" export verify --home "$F" "$TMP/fexp"
is "$RC" 0 "the export verifies (voided batch identities are not on this station's CRL)"
[ "$RC" -eq 0 ] || echo "$OUT$ERR" | sed 's/^/# /'

for h in "$G" "$F"; do
	run "$STATION" audit verify --home "$h"
	is "$RC" 0 "audit verify $(basename "$h")"
	contains "$OUT" "result: INTACT" "audit log intact at $(basename "$h")"
done
finish
