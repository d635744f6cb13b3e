#!/usr/bin/env bash
# secrets.test.sh: every verb on main, end to end on a demo home, then a
# scan of everything they left and showed for the secrets they handled:
# the PIN, private keys (PEM body and raw scalar of the demo software keys,
# of a device key from a CSR, of a device key made in the token and of the
# emulated device's transport key), the proof-of-possession secret and the
# provisioning token sealed into a token-mode stamp.
#
# Scanned: every step's stdout and stderr, every file of the home (but the
# PIN file, the demo software keys and the SoftHSM store, which hold them
# by design), the database as bytes (with its WAL) and as `sqlite3 .dump`
# (every audit event), the export, the CRL, labels (ZPL spool, PNG), the
# stamp and certificates written, and the command line and environment of
# every process that logged in to the token, taken while it held the
# login: the token module is tests/hsm/shim.c, whose HSM_SHIM_STOP stops
# the process right after C_Login and reports prctl(PR_GET_DUMPABLE) and
# RLIMIT_CORE from inside it (core dumps must be off in any process that
# holds the PIN). Forms searched: the raw bytes, hex (either case) and
# base64. Also file modes: secrets 0600, folders holding them 0700.
#
# `station run` goes through the emulated devices (device and token key
# mode, a PoP secret): the secrets it sealed are opened from each device's
# stamp with the device's transport key (the emulator's state, not
# scanned) and looked for. A batch is generated at a second station (also
# scanned) for this one, imported and identities taken; the taken keys are
# opened with the receiving device's key. `station serve` answers a
# serialize, a nonce and a sign, then stops on SIGINT. A new verb is one
# more `step` line below.
. "$(dirname "$0")/../lib/tap.sh"
B=$TOP/${BUILD:-build}
SHIM=$B/test-tools/pkcs11-shim.so
HSM_TOOL=$B/test-tools/hsm-tool
ORDER_TOOL=$B/test-tools/order-tool
REFV=$B/tools/stamp-refverify
BATCH_TOOL=$B/test-tools/batch-tool
EMU=${EMU:-$B/stampdev-emu}
H="$TMP/home"           # the station home
G="$TMP/gen"            # a second station that generates a batch for it
ART="$TMP/artefacts"    # what the steps left and printed: all of it scanned
SECRETS="$TMP/secrets"  # "NAME hex|text VALUE" per line: the scan's oracle
STOPS="$TMP/stops"      # HSM_SHIM_STOP lines: PID DUMPABLE CORE_SOFT CORE_HARD
mkdir -p "$ART/proc"
: > "$SECRETS"; : > "$STOPS"
hexof() { od -An -v -tx1 | tr -d ' \n'; }
secret_hex() { echo "$1 hex $2" >> "$SECRETS"; }
secret_text() { echo "$1 text $2" >> "$SECRETS"; }
scalar_of() {  # scalar_of KEY [DER]: the private scalar of a key, hex
	openssl pkey ${2:+-inform DER} -in "$1" -text -noout 2>/dev/null |
	    awk '/^priv:/ {on = 1; next} /^[a-zA-Z]/ {on = 0} on' | tr -d ' :\n'
}
pem_body() { grep -v '^-----' "$1" | head -1; }  # first base64 line of a PEM

# step NAME CMD...: run CMD (stdout, stderr into $ART), continuing every
# process that stops after logging in to the token once its command line,
# environment and limits are copied; "NAME exits 0".
seen=0
step() {
	local name=$1 slug pid line rc
	shift
	slug=$(echo "$name" | tr -c 'A-Za-z0-9\n' '-')
	HSM_SHIM_STOP="$STOPS" "$@" > "$ART/$slug.out" 2> "$ART/$slug.err" &
	pid=$!
	while :; do
		while [ "$(wc -l < "$STOPS")" -gt "$seen" ]; do
			seen=$((seen + 1))
			line=$(sed -n "${seen}p" "$STOPS"); line=${line%% *}
			# wait until it has stopped, then copy, then let it go on
			for _ in $(seq 200); do
				[ "$(awk '{print $3}' "/proc/$line/stat" 2>/dev/null)" = T ] && break
				sleep 0.01
			done
			tr '\0' '\n' < "/proc/$line/cmdline" > "$ART/proc/$slug-$line.cmdline"
			tr '\0' '\n' < "/proc/$line/environ" > "$ART/proc/$slug-$line.environ"
			grep '^Max core file size' "/proc/$line/limits" > "$TMP/limits-$slug-$line"
			echo "$name" >> "$TMP/stopped-steps"
			kill -CONT "$line"
		done
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	wait "$pid"; rc=$?
	is "$rc" 0 "$name exits 0"
	[ "$rc" = 0 ] || sed 's/^/# /' "$ART/$slug.err"
}

# core dumps allowed by the shell, so that the station must turn them off
ulimit -c unlimited 2>/dev/null || ulimit -S -c "$(ulimit -H -c)"

# --- the secrets made outside the station, for the scan -----------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TMP/dev.key" -subj "/CN=secrets-scan" -out "$TMP/dev.csr" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/transport.key" 2>/dev/null
openssl pkey -in "$TMP/transport.key" -pubout -out "$TMP/transport.pub"
secret_hex "device key from the CSR (scalar)" "$(scalar_of "$TMP/dev.key")"
secret_text "device key from the CSR (PEM)" "$(pem_body "$TMP/dev.key")"
secret_hex "device transport key (scalar)" "$(scalar_of "$TMP/transport.key")"

# --- every verb on main, end to end ------------------------------------------
step "pki demo" "$STATION" pki demo --home "$H"
secret_text "PIN" "$(cat "$H/pin")"
secret_hex "PIN (bytes)" "$(hexof < "$H/pin")"
for k in "$H"/pki/*.key; do
	secret_hex "${k##*/} (scalar)" "$(scalar_of "$k")"
	secret_text "${k##*/} (PEM)" "$(pem_body "$k")"
done
sed -i "s#^module = .*#module = $SHIM#" "$H/station.conf"
cat >> "$H/station.conf" <<EOF

[label]
printer = $ART/printer
EOF
: > "$ART/printer"
step "init" "$STATION" init --home "$H"
step "order demo" "$STATION" order demo --home "$H"
step "order import" "$STATION" order import --home "$H" "$H/orders/demo-device.order"
step "issue" "$STATION" issue --home "$H" --csr "$TMP/dev.csr" --serial SN-S1 --hardware-id HW-S1 -o "$ART/SN-S1.pem"
step "devices to done with labels (order-tool)" "$ORDER_TOOL" allocate "$H" DEMO-DEVICE-1 2 done
first=$(head -1 "$ART/devices-to-done-with-labels--order-tool-.out" | cut -d' ' -f1)
step "label reprint" "$STATION" label --home "$H" --actor op-1 --reason "secrets scan" "$first"
step "deny add" "$STATION" deny add --home "$H" hardware-id HW-S9 --reason "secrets scan"
step "deny remove" "$STATION" deny remove --home "$H" hardware-id HW-S9 --reason "secrets scan"
step "revoke" "$STATION" revoke --home "$H" SN-S1 --reason superseded
step "crl" "$STATION" crl --home "$H" -o "$ART/crl.pem"
step "token key mode stamp (hsm-tool)" "$HSM_TOOL" "$H" stamp "$TMP/transport.pub" SN-T1 HW-T1 "$ART/token.stamp" "$ART/token.der"
step "export" "$STATION" export --home "$H" --format csv -o "$ART/export"
step "audit verify" "$STATION" audit verify --home "$H"
step "order status" "$STATION" order status --home "$H" --token

# station run through the emulated devices (as run.test.sh), device and
# token key mode, a PoP secret sealed too; the emulator's state (the
# devices' own keys) is outside the scanned folders
emu() {  # emu STATE -- CMD...
	local st=$1
	shift
	timeout 120 "$EMU" --state "$st" --trust "$H/pki/stamp.pem" --keygen-ms 10 "$@"
}
printf '\n[stamp]\npop_secret = yes\n' >> "$H/station.conf"
step "run, device key mode" emu "$TMP/emu-dev" --devices 2 -- "$STATION" run --home "$H" --order DEMO-DEVICE-1 --count 2 --operator op-1
step "order import (token)" "$STATION" order import --home "$H" "$H/orders/demo-token.order"
step "run, token key mode" emu "$TMP/emu-tok" --devices 2 -- "$STATION" run --home "$H" --order DEMO-TOKEN-1 --count 2 --operator op-1

# batches: generated at a second station (the secure room) for this one,
# imported here, identities taken (batch-tool: the bench loop's call)
step "generator: pki demo" "$STATION" pki demo --home "$G"
secret_text "generator PIN" "$(cat "$G/pin")"
for k in "$G"/pki/*.key; do
	secret_hex "generator ${k##*/} (scalar)" "$(scalar_of "$k")"
done
sed -i "s#^module = .*#module = $SHIM#" "$G/station.conf"
step "generator: init" "$STATION" init --home "$G"
printf 'station-order 1\norder_id = SCAN-B1\nstation_id = DEMO-01\nproduct = SB1\nquantity = 10\nserial_first = 900001\nserial_last = 900010\nkey_mode = token\nclaim_mode = user\nexpires = 2099-12-31T23:59:59Z\n' > "$TMP/scan-b1.txt"
openssl cms -sign -binary -nodetach -outform DER -in "$TMP/scan-b1.txt" \
    -signer "$G/pki/order.pem" -inkey "$G/pki/demo-order.key" -out "$TMP/scan-b1.order"
step "generator: order import" "$STATION" order import --home "$G" "$TMP/scan-b1.order"
step "batch generate" "$STATION" batch generate --home "$G" --order SCAN-B1 --count 4 --threads 2 --for "$H/pki/station-transport.pem" -o "$ART/scan.batch"
cp "$G/pki/export.pem" "$H/pki/batch-signer.pem"
step "batch import" "$STATION" batch import --home "$H" "$ART/scan.batch"
bid=$(sed -n 's/^batch \([^ ]*\) imported.*/\1/p' "$ART/batch-import.out")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/bdev.key" 2>/dev/null
openssl pkey -in "$TMP/bdev.key" -pubout -out "$TMP/bdev.pub"
secret_hex "device key receiving a batch identity (scalar)" "$(scalar_of "$TMP/bdev.key")"
for i in 1 2; do
	step "batch take $i (batch-tool)" "$BATCH_TOOL" "$H" take "$bid" "HW-B$i" "$TMP/bdev.pub" "$ART/taken-$i.sealed" "$ART/taken-$i.der"
done
step "batch status" "$STATION" batch status --home "$H"

# station serve: serialize, nonce, sign over loopback, then Ctrl-C
printf '\n[lan]\ninterface = lo\n' >> "$H/station.conf"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/lan.key" 2>/dev/null
secret_hex "LAN device key (scalar)" "$(scalar_of "$TMP/lan.key")"
serve_session() {
	local pid url nonce
	"$STATION" serve --home "$H" --listen 127.0.0.1:0 > "$ART/serve.out" 2> "$ART/serve.err" &
	pid=$!
	for _ in $(seq 150); do
		grep -q 'listening on' "$ART/serve.out" 2>/dev/null && break
		sleep 0.1
	done
	url=$(sed -n 's/.*listening on \(http:[^ ]*\)\/ .*/\1/p' "$ART/serve.out")
	curl -sf -H 'Content-Type: application/json' --data-binary \
	    '{"product": "DW1", "hardware_id": "HW-L1"}' "$url/serialize" > "$ART/lan-serialize.json" &&
	curl -sf "$url/nonce" > "$ART/lan-nonce.json" &&
	nonce=$(sed -n 's/.*"nonce": "\([0-9a-f]*\)".*/\1/p' "$ART/lan-nonce.json") &&
	openssl req -new -key "$TMP/lan.key" -subj /CN=x \
	    -addext "2.25.320604743258182176926776022287882174533=DER:0420$nonce" > "$TMP/lan.csr" &&
	jq -cn --arg c "$(cat "$TMP/lan.csr")" '{hardware_id: "HW-L1", csr: $c}' |
	    curl -sf -H 'Content-Type: application/json' --data-binary @- "$url/sign" > "$ART/lan-sign.pem"
	local rc=$?
	kill -INT "$pid"; wait "$pid" || rc=1
	return $rc
}
step "serve (serialize, nonce, sign)" serve_session

# The test tool prints the secrets it sealed (that is its job): the oracle,
# moved out of the scanned artefacts. The device key made in the token is
# opened by the reference verifier with the transport key.
mv "$ART/token-key-mode-stamp--hsm-tool-.out" "$TMP/sealed.txt"
for s in pop token; do
	v=$(sed -n "s/^$s //p" "$TMP/sealed.txt")
	[ -n "$v" ] || not_ok "hsm-tool printed the $s it sealed"
	secret_hex "$s (sealed into the token-mode stamp)" "$v"
done
openssl x509 -in "$H/pki/stamp.pem" -pubkey -noout > "$TMP/stamp.pub"
"$REFV" --trust "$TMP/stamp.pub" --device-key "$TMP/transport.key" --hardware-id HW-T1 "$ART/token.stamp" > "$TMP/opened.txt"
sed -n 's/^secret [0-9]* 14 //p' "$TMP/opened.txt" | xxd -r -p > "$TMP/token-device.p8"
secret_hex "device key made in the token (scalar)" "$(scalar_of "$TMP/token-device.p8" der)"
# the secrets `station run` sealed into the emulated devices' stamps,
# opened with each device's transport key (the emulator's state)
for st in "$TMP/emu-dev" "$TMP/emu-tok"; do
	for k in 1 2; do
		secret_hex "${st##*/} device $k transport key (scalar)" "$(scalar_of "$st/dev-$k/transport.key")"
		dd if="$st/dev-$k/stamp.part" bs=8192 count=1 2>/dev/null | head -c 8176 > "$ART/${st##*/}-$k.stamp"
		"$REFV" --trust "$TMP/stamp.pub" --device-key "$st/dev-$k/transport.key" \
		    --hardware-id "$(cat "$st/dev-$k/serial")" "$ART/${st##*/}-$k.stamp" > "$TMP/opened-${st##*/}-$k.txt" ||
		    not_ok "${st##*/} device $k: the stamp opens with its transport key"
		for t in 15 18; do
			v=$(sed -n "s/^secret [0-9]* $t //p" "$TMP/opened-${st##*/}-$k.txt")
			[ -n "$v" ] || { not_ok "${st##*/} device $k: secret type $t in the stamp"; continue; }
			secret_hex "${st##*/} device $k secret type $t (pop 15, token 18)" "$v"
		done
	done
done
sed -n 's/^secret [0-9]* 14 //p' "$TMP/opened-emu-tok-1.txt" | xxd -r -p > "$TMP/run-token-device.p8"
secret_hex "device key made in the token by station run (scalar)" "$(scalar_of "$TMP/run-token-device.p8" der)"
# the batch identity's device key, re-wrapped to the device (stamp-format
# SPEC.md section 2, record type 0x000E), opened with the openssl CLI
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }
unseal() {  # unseal SEALED KEY.pem OUT
	local e t z ctx kek
	e=$(head -c 65 "$1" | hexof)
	t=$(openssl pkey -in "$2" -pubout -outform DER | tail -c 65 | hexof)
	printf '3059301306072a8648ce3d020106082a8648ce3d030107034200%s' "$e" | unhex | openssl pkey -pubin -inform DER -out "$TMP/eph.pub"
	z=$(openssl pkeyutl -derive -inkey "$2" -peerkey "$TMP/eph.pub" | hexof)
	ctx=$(printf '%s%s0e00' "$e" "$t" | unhex | sha256sum | cut -c1-32)
	kek=$({ printf 'STAMP-SECRET-KEK'; printf '%s' "$ctx" | unhex; } | openssl enc -aes-256-ecb -nopad -K "$z" | hexof)
	tail -c +66 "$1" | openssl enc -d -id-aes256-wrap-pad -K "$kek" -iv A65959A6 -out "$3.pad" 2>/dev/null || return 1
	head -c $(( $(od -An -j1 -N1 -tu1 "$3.pad") + 2 )) "$3.pad" > "$3"
}
for i in 1 2; do
	unseal "$ART/taken-$i.sealed" "$TMP/bdev.key" "$TMP/taken-$i.p8" || not_ok "batch identity $i opens with the device key"
	secret_hex "batch identity $i device key (scalar)" "$(scalar_of "$TMP/taken-$i.p8" der)"
done

sqlite3 "$H/station.db" .dump > "$ART/station.db.dump"
sqlite3 "$G/station.db" .dump > "$ART/gen.db.dump"
contains "$(cat "$ART/station.db.dump")" "label.reprinted" "the database dump holds the audit events"

# --- the scan ----------------------------------------------------------------
# patterns: for each secret, the forms a leak could take in a text file;
# raw bytes are found in each file's hex dump.
: > "$TMP/text-patterns"; : > "$TMP/hex-patterns"
while read -r line; do
	value=${line##* }; rest=${line% *}; kind=${rest##* }; name=${rest% *}
	case "$kind" in hex|text) ;; *) not_ok "secret '$rest' obtained"; continue ;; esac
	if [ "$kind" = hex ]; then
		{ echo "$value"; echo "$value" | xxd -r -p | base64 -w0; echo; } >> "$TMP/text-patterns"
		echo "$value" >> "$TMP/hex-patterns"
	else
		printf '%s\n' "$value" >> "$TMP/text-patterns"
	fi
done < "$SECRETS"
echo "# $(wc -l < "$SECRETS") secrets looked for: $(sed 's/ [^ ]* [^ ]*$//' "$SECRETS" | paste -sd, -)"

scan() {  # scan FILE...: prints "FILE: SECRET NAME" per leak
	local f
	for f in "$@"; do
		if grep -aqiFf "$TMP/text-patterns" "$f" ||
		    hexof < "$f" | grep -qiFf "$TMP/hex-patterns"; then
			echo "$f: $(which_secret "$f")"
		fi
	done
}
which_secret() {  # which_secret FILE: the names of the secrets in FILE
	local name kind value rest h
	h=$(hexof < "$1")
	while read -r line; do
		value=${line##* }; rest=${line% *}; kind=${rest##* }; name=${rest% *}
		case "$kind" in
		hex) { grep -aqiF "$value" "$1" || grep -qiF "$value" <<< "$h" ||
		    grep -aqF "$(echo "$value" | xxd -r -p | base64 -w0)" "$1"; } && echo -n "$name; " ;;
		text) grep -aqF -- "$value" "$1" && echo -n "$name; " ;;
		esac
	done < "$SECRETS"
}

# the scan finds what it looks for (a planted PIN, raw key bytes, base64)
cp "$H/pin" "$TMP/planted-1"
scalar_of "$TMP/dev.key" | xxd -r -p > "$TMP/planted-2"
sed -n 's/^pop //p' "$TMP/sealed.txt" | xxd -r -p | base64 > "$TMP/planted-3"
is "$(scan "$TMP/planted-1" "$TMP/planted-2" "$TMP/planted-3" | wc -l)" 3 "the scan finds a planted PIN, raw key bytes and a base64 secret"

mapfile -t files < <(find "$ART" "$H" "$G" -type f \
    ! -path "$H/tokens/*" ! -path "$H/pin" ! -path "$H/pki/demo-root.key" \
    ! -path "$H/pki/demo-order.key" ! -path "$G/tokens/*" ! -path "$G/pin" \
    ! -path "$G/pki/demo-root.key" ! -path "$G/pki/demo-order.key" | sort)
leaks=$(scan "${files[@]}")
is "$leaks" "" "no secret in ${#files[@]} files: logs, database and its dump, export, CRL, labels, spool, stamp, certificates, command lines and environments"
contains "$(printf '%s\n' "${files[@]}")" "$ART/export/manifest.json" "the export was scanned"
contains "$(printf '%s\n' "${files[@]}")" "$H/labels/spool/$first.zpl" "the label spool was scanned"
contains "$(printf '%s\n' "${files[@]}")" "$H/station.db" "the database file was scanned"
contains "$(printf '%s\n' "${files[@]}")" "$ART/scan.batch" "the batch file was scanned"
contains "$(printf '%s\n' "${files[@]}")" "$G/station.db" "the generator's database was scanned"
contains "$(printf '%s\n' "${files[@]}")" "$ART/emu-tok-1.stamp" "the stamps station run wrote were scanned"

# --- processes holding the PIN ---------------------------------------------
steps=$(sort -u "$TMP/stopped-steps" 2>/dev/null | wc -l)
[ "$steps" -ge 10 ] && ok "$steps steps were seen holding the token login" || not_ok "only $steps steps seen holding the token login"
bad=$(awk '$2 != 0 || $3 != 0 || $4 != 0' "$STOPS")
is "$bad" "" "core dumps off in every process holding the login ($(wc -l < "$STOPS") processes: not dumpable, RLIMIT_CORE 0)"
is "$(cat "$TMP"/limits-* | awk '$5 != 0 || $6 != 0' )" "" "/proc/PID/limits agrees: core file size 0"
is "$(ls "$ART"/proc/*.environ | wc -l)" "$(wc -l < "$STOPS")" "command line and environment taken of each"

# --- file modes ----------------------------------------------------------------
mode() { stat -c %a "$1"; }
is "$(mode "$H")" 700 "the home is 0700"
for f in pin station.conf softhsm2.conf pki/demo-root.key pki/demo-order.key; do
	is "$(mode "$H/$f")" 600 "$f is 0600"
done
is "$(mode "$H/tokens")" 700 "the token store is 0700"
is "$(find "$H/tokens" -perm /077 | head -3)" "" "nothing in the token store is open to group or others"
is "$(mode "$H/pki")" 700 "pki/ is 0700"
# the database holds claim IDs; SQLite gives -wal and -shm its mode
for f in "$H"/station.db*; do
	is "$(mode "$f")" 600 "${f##*/} is 0600"
done
# labels and exports carry claim IDs (claim secrets): owner only
for d in "$H/labels/spool" "$H/labels/png" "$ART/export"; do
	is "$(mode "$d")" 700 "${d#$TMP/} is 0700"
	is "$(find "$d" -type f ! -perm 600 | head -3)" "" "the files in ${d#$TMP/} are 0600"
done
finish
