#!/usr/bin/env bash
# run_hsm.test.sh: the token failing during `station run` (the PKCS#11
# shim, HSM_SHIM_FAULT=FUNCTION:N:CKR): the Nth call of each function the
# bench makes for a device (key pair in the token, derivation and wrap of
# the device key, certificate and stamp signatures, random numbers) fails
# with CKR_DEVICE_ERROR. Each time: exit 1, the token named and the run
# stopped, no record left half-way (nothing allocated, issued or written;
# a certificate made is revoked), the audit log verifies; then the same
# device, the fault gone (the officer fixed the token), is stamped.
. "$(dirname "$0")/../lib/tap.sh"
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
SHIM="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
H="$TMP/home"
DB="$H/station.db"
q() { sqlite3 "$DB" "$1"; }
[ -f "$SHIM" ] || { not_ok "fault module $SHIM (make check builds it)"; finish; exit 1; }
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
sed -i "s#^module = .*#module = $SHIM#" "$H/station.conf"
"$STATION" init --home "$H" >/dev/null || not_ok "init"
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null || not_ok "import device order"
"$STATION" order import --home "$H" "$H/orders/demo-token.order" >/dev/null || not_ok "import token order"

# fault ORDER FUNCTION:N: one device, the Nth call of FUNCTION fails;
# then the same device again without the fault.
fault() {
	local st="$TMP/${2//:/-}-$1" hw
	run env HSM_SHIM_FAULT="$2:CKR_DEVICE_ERROR" timeout 60 "$EMU" --state "$st" \
	    --trust "$H/pki/stamp.pem" --keygen-ms 10 --devices 1 -- \
	    "$STATION" run --home "$H" --order "$1" --idle-exit 1
	echo "$OUT" | grep -E "^(FAIL|STOP)" | sed "s/^/# /"
	is "$RC" 1 "$1 $2: exit 1"
	contains "$OUT" "token 'station-demo'" "$1 $2: the token is named"
	contains "$OUT" "STOP: the token failed" "$1 $2: the run stops"
	hw=$(cat "$st/dev-1/serial")
	is "$(q "SELECT count(*) FROM devices WHERE state IN ('allocated', 'key_ready', 'issued', 'written', 'unconfirmed')")" 0 "$1 $2: no record left half-way"
	is "$(q "SELECT count(*) FROM devices WHERE cert_der IS NOT NULL AND state NOT IN ('done', 'revoked')")" 0 "$1 $2: a certificate made for the device is revoked"
	run "$STATION" audit verify --home "$H"
	is "$RC" 0 "$1 $2: audit log verifies"
	run timeout 60 "$EMU" --state "$st" --trust "$H/pki/stamp.pem" --keygen-ms 10 \
	    --devices 1 -- "$STATION" run --home "$H" --order "$1" --idle-exit 1
	is "$RC" 0 "$1 $2: fault gone: the run stamps the device"
	is "$(q "SELECT count(*) FROM devices WHERE hardware_id = '$hw' AND state = 'done'")" 1 "$1 $2: the device done"
}
fault DEMO-DEVICE-1 C_GenerateRandom:2
fault DEMO-DEVICE-1 C_Sign:3
fault DEMO-TOKEN-1 C_GenerateKeyPair:1
fault DEMO-TOKEN-1 C_DeriveKey:2
fault DEMO-TOKEN-1 C_WrapKey:1
fault DEMO-TOKEN-1 C_Sign:2
fault DEMO-TOKEN-1 C_Sign:3
run "$STATION" audit verify --home "$H"
contains "$OUT" "result: INTACT" "audit log intact at the end"
finish
