# gen_crash_lib.sh: sourced by gen_crash.test.sh and gen_crash.stress.sh.
# `station batch generate` killed with SIGKILL at a random moment, then
# started again (a small batch: its start retires what the killed run
# left, batch_recover.c); after every kill the invariants the officer
# relies on.
#
# Phases, told apart after the kill:
#   before      no batch.started for the killed run (nothing recorded)
#   recording   batch.started, no batch.generated (identities recorded,
#               FILE.partial being written)
#   complete    batch.generated (the run had finished)
# Checked after every restart: `station audit verify`; no serial, claim ID
# or certificate serial twice; no FILE.partial and no file of a batch that
# was not generated; every identity of the order is either in a generated
# batch (issued; the counts of the batch.generated events add up to the
# issued rows) or revoked, nothing else; the killed run's batch, if it was
# not complete, has the event batch.interrupted.
GEN_COUNT=${GEN_COUNT:-5000}
H="$TMP/gen"
F="$TMP/factory"
OUTD="$TMP/out"
SHIM="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
q() { sqlite3 "$H/station.db" "$1"; }

gen_setup() {
	local h
	for h in "$H" "$F"; do
		"$STATION" pki demo --home "$h" >/dev/null &&
		    "$STATION" init --home "$h" >/dev/null || { not_ok "demo station $h"; return 1; }
	done
	mkdir -p "$OUTD"
	printf 'station-order 1\norder_id = GEN-1\nstation_id = DEMO-01\nproduct = DW1\nquantity = 1000000\nserial_first = 200000\nserial_last = 1199999\nkey_mode = token\nclaim_mode = user\nexpires = 2099-12-31T23:59:59Z\n' > "$TMP/gen.txt"
	openssl cms -sign -binary -nodetach -outform DER -in "$TMP/gen.txt" \
	    -signer "$H/pki/order.pem" -inkey "$H/pki/demo-order.key" -out "$TMP/gen.order" &&
	    "$STATION" order import --home "$H" "$TMP/gen.order" >/dev/null ||
	    { not_ok "import a large token order"; return 1; }
	cp "$H/pki/export.pem" "$F/pki/batch-signer.pem"
	# The fault module forwards every call unless told to fail one.
	[ -f "$SHIM" ] && sed -i "s#^module = .*#module = $SHIM#" "$H/station.conf"
	declare -gA COUNT=()
	BAD=0
}

check() {
	if [ "$1" -ne 0 ]; then BAD=$((BAD + 1)); not_ok "kill $K: $2"; fi
}

# generate K COUNT: batch generate of COUNT into $OUTD/K.batch.
generate() {
	"$STATION" batch generate --home "$H" --order GEN-1 --count "$2" \
	    --threads 2 --for "$F/pki/station-transport.pem" -o "$OUTD/$1.batch"
}

# gen_one K TARGET: one run killed, then one restart. TARGET random: at a
# random moment 0-1.5 s after the start; recording: 0-0.6 s after its
# batch.started.
gen_one() {
	local k=$1 pid ms phase before n out rc sum issued i
	K=$k
	before=$(q "SELECT count(*) FROM events WHERE kind = 'batch.started'")
	"$STATION" batch generate --home "$H" --order GEN-1 --count "$GEN_COUNT" \
	    --threads 2 --for "$F/pki/station-transport.pem" -o "$OUTD/k$k.batch" \
	    > "$TMP/k$k.out" 2>&1 &
	pid=$!
	if [ "$2" = recording ]; then
		for i in $(seq 1 500); do
			[ "$(q "SELECT count(*) FROM events WHERE kind = 'batch.started'")" != "$before" ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.01
		done
		ms=$((RANDOM % 600))
	else
		ms=$((RANDOM % 1500))
	fi
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ "$(q "SELECT count(*) FROM events WHERE kind = 'batch.started'")" = "$before" ]; then phase=before
	elif [ "$(q "SELECT kind FROM events WHERE kind LIKE 'batch.%' ORDER BY seq DESC LIMIT 1")" = batch.generated ]; then phase=complete
	else phase=recording; fi
	COUNT[$phase]=$(( ${COUNT[$phase]:-0} + 1 ))

	out=$(generate "r$k" 10 2>&1); rc=$?
	[ "$rc" = 0 ]; check $? "restart after a kill in phase $phase exits 0 (got $rc: $out)"
	if [ "$phase" = recording ]; then
		case "$out" in *"was interrupted"*"voided and their certificates revoked"*) n=0 ;; *) n=1 ;; esac
		check $n "the restart reports the interrupted batch (got: $out)"
		IFS='|' read -r n out <<< "$(q "SELECT seq || '|' || subject FROM events WHERE kind = 'batch.started' ORDER BY seq LIMIT 1 OFFSET $before")"
		[ "$(q "SELECT count(*) FROM events WHERE kind = 'batch.interrupted' AND subject = '$out' AND seq > $n")" = 1 ]
		check $? "the killed batch ($out, started at event $n) has the event batch.interrupted"
	fi
	"$STATION" audit verify --home "$H" > "$TMP/verify.$k" 2>&1
	check $? "audit verify after a kill in phase $phase ($(tail -1 "$TMP/verify.$k"))"
	check "$(q "SELECT count(*) - count(DISTINCT serial) + count(claim_id) - count(DISTINCT claim_id) + count(cert_serial) - count(DISTINCT cert_serial) FROM devices")" \
	    "a serial, claim ID or certificate serial twice (phase $phase)"
	n=$(ls "$OUTD" | grep -c '\.partial$')
	check "$n" "$n partial files left after a kill in phase $phase"
	sum=$("$STATION" audit show --home "$H" --kind batch.generated | grep -o ' count=[0-9]*' | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }')
	issued=$(q "SELECT count(*) FROM devices WHERE order_id = 'GEN-1' AND state = 'issued'")
	[ "${sum:-0}" = "$issued" ]
	check $? "identities issued ($issued) are those of the generated batches ($sum) (phase $phase)"
	check "$(q "SELECT count(*) FROM devices WHERE order_id = 'GEN-1' AND state NOT IN ('issued', 'revoked')")" \
	    "an identity neither issued in a generated batch nor revoked (phase $phase)"
	n=$("$STATION" audit show --home "$H" --kind batch.generated | grep -c " file=$OUTD/")
	[ "$(ls "$OUTD" | grep -c '\.batch$')" = "$n" ]
	check $? "every batch file left is one of a generated batch ($n) (phase $phase)"
	[ "$BAD" -eq 0 ] && rm -f "$TMP/k$k.out" "$TMP/verify.$k"
	return 0
}

# gen_fail: a run whose token fails partway (the 300th certificate
# signature): exit 1, its recorded identities revoked, batch.failed, no
# file; the same invariants as after a kill.
gen_fail() {
	local k=fail
	[ -f "$SHIM" ] || { not_ok "fault module $SHIM (make check builds it)"; return; }
	HSM_SHIM_FAULT=C_Sign:300+:CKR_DEVICE_ERROR run "$STATION" batch generate --home "$H" \
	    --order GEN-1 --count "$GEN_COUNT" --threads 2 \
	    --for "$F/pki/station-transport.pem" -o "$OUTD/fail.batch"
	is "$RC" 1 "a token failing partway: batch generate exits 1"
	contains "$ERR" "recorded before the failure were voided and their certificates revoked; nothing was written to $OUTD/fail.batch" "failure message"
	is "$(q "SELECT kind FROM events WHERE kind LIKE 'batch.%' ORDER BY seq DESC LIMIT 1")" batch.failed "the event batch.failed"
	[ ! -e "$OUTD/fail.batch" ] && [ ! -e "$OUTD/fail.batch.partial" ]; is $? 0 "no batch file, no partial file"
	K=fail
	local bad=$BAD
	"$STATION" audit verify --home "$H" > /dev/null 2>&1; check $? "audit verify after a token failure"
	check "$(q "SELECT count(*) FROM devices WHERE order_id = 'GEN-1' AND state NOT IN ('issued', 'revoked')")" \
	    "an identity neither issued in a generated batch nor revoked after a token failure"
	is "$BAD" "$bad" "after a token failure: audit verifies, every identity not shipped is revoked"
}

# gen_final: the CRL lists every revoked identity; a batch made after the
# kills imports at the factory.
gen_final() {
	local revoked last
	revoked=$(q "SELECT count(*) FROM devices WHERE state = 'revoked'")
	run "$STATION" crl --home "$H" -o "$TMP/crl.pem"
	contains "$OUT" ": $revoked revoked certificate" "the CRL lists the $revoked revoked identities"
	last=$(ls -t "$OUTD"/r*.batch | head -1)
	run "$STATION" batch import --home "$F" "$last"
	is "$RC" 0 "the last batch made after the kills imports at the factory"
}

gen_report() {
	echo "# kills per phase: before ${COUNT[before]:-0} recording ${COUNT[recording]:-0} complete ${COUNT[complete]:-0}"
}
