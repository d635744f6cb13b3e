# crash_lib.sh: sourced by crash.test.sh and crash.stress.sh. `station run`
# killed with SIGKILL while one emulated device is in a chosen phase, then
# restarted; after every kill the invariants a security officer relies on.
#
# Phases, told apart after the kill by the device's record (sqlite3) and
# the device's own flash (stampdev-emu's DIR/dev-1/stamp.part, slot A: a
# fresh device stages there; its last 16 bytes are the commit marker):
#   allocated   record allocated or key_ready
#   issued      record issued, nothing programmed yet
#   dfu         record issued, stamp bytes programmed (not yet `written`)
#   written     record written, no commit marker
#   committed   record written, commit marker programmed (not yet `done`)
#   (before: no record yet; done: the run had finished the device)
# To make each phase last, the device is slow (--keygen-ms, slow@MS: every
# DFU block and manifestation busy) and so is the token (the PKCS#11 shim,
# HSM_SHIM_DELAY=C_Sign:MS: the certificate and the stamp signatures). The
# driver waits until the device is in the target phase, then kills at a
# random moment in it; some kills are at a fully random moment instead.
#
# Right after every kill, before any restart: a device whose commit marker
# is programmed has a `written` (or `done`) record (any other state is
# reported as an unexpected phase and fails).
# After every kill the station is started again without the delays on the
# same device: its recovery runs and the device gets stamped. Checked:
# `station audit verify`; no serial, claim ID or certificate serial twice;
# nothing left in flight; every certificate of a device not written, done
# or unconfirmed is revoked; the device has one `done` record, and its
# active stamp verifies (`station inspect`) and carries that serial.
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
SHIM="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
H="$TMP/home"
DB="$H/station.db"
KEYGEN_MS=${KEYGEN_MS:-300}
SLOW_MS=${SLOW_MS:-100}
SIGN_MS=${SIGN_MS:-200}
PHASES="allocated issued dfu written committed"
q() { sqlite3 "$DB" "$1"; }

crash_setup() {
	[ -f "$SHIM" ] || { not_ok "fault module $SHIM (make check builds it)"; return 1; }
	"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; return 1; }
	sed -i "s#^module = .*#module = $SHIM#" "$H/station.conf"
	"$STATION" init --home "$H" >/dev/null || { not_ok "init"; return 1; }
	printf 'station-order 1\norder_id = CRASH-1\nstation_id = DEMO-01\nproduct = DW1\nquantity = 100000\nserial_first = 100000\nserial_last = 199999\nkey_mode = device\nclaim_mode = user\nexpires = 2099-12-31T23:59:59Z\n' > "$TMP/crash.txt"
	openssl cms -sign -binary -nodetach -outform DER -in "$TMP/crash.txt" \
	    -signer "$H/pki/order.pem" -inkey "$H/pki/demo-order.key" -out "$TMP/crash.order" &&
	    "$STATION" order import --home "$H" "$TMP/crash.order" >/dev/null ||
	    { not_ok "import a large order"; return 1; }
	coproc SQ { sqlite3 -batch "$DB" 2>&1; }
	declare -gA COUNT=()
	BAD=0
}

# phase_of DIR: the phase of the device in DIR (see above). One sqlite3
# kept running (a process per poll is too slow on a loaded machine) reads
# the record and the flash (readfile) in one query.
phase_of() {
	local hw="" f="$1/dev-1/stamp.part" row st first marker
	[ -s "$1/dev-1/serial" ] && read -r hw < "$1/dev-1/serial"
	[ -n "$hw" ] || { echo before; return; }
	echo "SELECT coalesce((SELECT state FROM devices WHERE hardware_id = '$hw' ORDER BY created_us DESC LIMIT 1), '') || '|' || coalesce(hex(substr(readfile('$f'), 1, 1)), '') || '|' || coalesce(hex(substr(readfile('$f'), 8177, 16)), '');" >&"${SQ[1]}"
	read -r row <&"${SQ[0]}"
	IFS='|' read -r st first marker <<< "$row"
	marker=${marker//F/}
	case "$st" in
	'') echo before ;;
	allocated|key_ready) echo allocated ;;
	issued) if [ -n "$marker" ]; then echo active-but-issued
		elif [ "${first:-FF}" = FF ]; then echo issued; else echo dfu; fi ;;
	written) if [ -z "$marker" ]; then echo written; else echo committed; fi ;;
	*) echo "$st" ;;
	esac
}

# check I MSG: one invariant; only failures are reported one by one.
check() {
	if [ "$1" -ne 0 ]; then BAD=$((BAD + 1)); not_ok "kill $K: $2"; fi
}

# crash_one K TARGET: one run killed in phase TARGET (or "random").
crash_one() {
	local dir="$TMP/d$1" pidf="$TMP/d$1.pid" spid="" i phase hw sn out rc
	K=$1
	HSM_SHIM_DELAY=C_Sign:$SIGN_MS timeout 60 "$EMU" --state "$dir" \
	    --trust "$H/pki/stamp.pem" --keygen-ms "$KEYGEN_MS" --fault "slow@$SLOW_MS" \
	    --devices 1 -- bash -c 'echo $$ > "$0"; exec "$1" run --home "$2" --order CRASH-1 --count 1' \
	    "$pidf" "$STATION" "$H" > "$dir.out" 2>&1 &
	local emu=$!
	for i in $(seq 1 500); do [ -s "$pidf" ] && break; sleep 0.01; done
	spid=$(cat "$pidf" 2>/dev/null)
	if [ "$2" = random ]; then
		sleep "0.$(printf %03d $((RANDOM % 1000)))"; sleep "$((RANDOM % 3))"
	else
		for i in $(seq 1 1000); do
			[ "$(phase_of "$dir")" = "$2" ] && break
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.005
		done
		sleep "0.0$(printf %02d $((RANDOM % 40)))"
	fi
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	wait "$emu" 2>/dev/null
	phase=$(phase_of "$dir")
	COUNT[$phase]=$(( ${COUNT[$phase]:-0} + 1 ))
	# Before the restart: an active stamp has a written record (the
	# device was fresh, so any other state means a stamp without one).
	case " before $PHASES done " in *" $phase "*) i=0 ;; *) i=1 ;; esac
	check $i "after the kill, before recovery: device in an unexpected state '$phase'"

	# Restart on the same device, no delays: recovery, then the device.
	out=$(timeout 60 "$EMU" --state "$dir" --trust "$H/pki/stamp.pem" --keygen-ms 10 \
	    --devices 1 -- "$STATION" run --home "$H" --order CRASH-1 --idle-exit 1 2>&1)
	rc=$?
	echo "$out" > "$dir.restart"
	[ "$rc" -le 1 ]; check $? "restart after a kill in phase $phase exits 0 or 1 (got $rc)"
	"$STATION" audit verify --home "$H" > "$dir.verify" 2>&1; check $? "audit verify after a kill in phase $phase"
	check "$(q "SELECT count(*) - count(DISTINCT serial) + count(claim_id) - count(DISTINCT claim_id) + count(cert_serial) - count(DISTINCT cert_serial) FROM devices")" \
	    "a serial, claim ID or certificate serial twice (phase $phase)"
	check "$(q "SELECT count(*) FROM devices WHERE state IN ('allocated', 'key_ready', 'issued', 'written', 'unconfirmed')")" \
	    "a device left in flight after recovery (phase $phase)"
	check "$(q "SELECT count(*) FROM devices WHERE cert_der IS NOT NULL AND state NOT IN ('written', 'done', 'unconfirmed', 'revoked')")" \
	    "a certificate that never reached a device is not revoked (phase $phase)"
	hw=$(cat "$dir/dev-1/serial")
	sn=$(q "SELECT group_concat(serial) FROM devices WHERE hardware_id = '$hw' AND state = 'done'")
	[ -n "$sn" ] && [ "${sn#*,}" = "$sn" ]; check $? "the device has one done record after a kill in phase $phase (got '$sn')"
	dd if="$dir/dev-1/stamp.part" bs=8192 count=1 2>/dev/null | head -c 8176 > "$dir.img"
	"$STATION" inspect "$dir.img" --trust "$H/pki/stamp.pem" --hardware-id "$hw" \
	    --device-key "$dir/dev-1/transport.key" > "$dir.inspect" 2>&1 &&
	    grep -q "\"$sn\"" "$dir.inspect"
	check $? "the device's active stamp verifies and carries its done serial $sn (phase $phase)"
	[ -n "$(od -An -tx1 -j 8176 -N16 "$dir/dev-1/stamp.part" | tr -d ' \nf')" ]
	check $? "the device's stamp is committed (phase $phase)"
	[ "$BAD" -eq 0 ] && rm -rf "$dir" "$dir".*
	return 0
}

# crash_report: the counts per phase, one line.
crash_report() {
	local p line="kills per phase:"
	for p in before $PHASES done; do line="$line $p ${COUNT[$p]:-0}"; done
	for p in "${!COUNT[@]}"; do
		case " before $PHASES done " in *" $p "*) ;; *) line="$line $p ${COUNT[$p]}" ;; esac
	done
	echo "# $line"
}
