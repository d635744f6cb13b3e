#!/usr/bin/env bash
# token.test.sh: keys made in the token and delivered sealed, re-wrapping
# inside the token, SECRET records, the host key mode, and every PKCS#11
# fault the test shim injects, with exact messages. Results are checked
# with the openssl CLI and the mbedTLS reference verifier (a firmware-style
# second implementation), the shim's call log with awk.
. "$(dirname "$0")/../lib/tap.sh"
TOOL="$TOP/${BUILD:-build}/test-tools/hsm-tool"
SHIM="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
REFV="$TOP/${BUILD:-build}/tools/stamp-refverify"
H="$TMP/home"
LOG="$TMP/calls.log"

alt() {
	local d="$TMP/$1"; shift
	mkdir -p "$d"
	sed -e "s#= pki/#= $H/pki/#; s#^pin_file = pin#pin_file = $H/pin#" \
	    -e "s#^softhsm_conf = softhsm2.conf#softhsm_conf = $H/softhsm2.conf#" \
	    "$H/station.conf" > "$d/station.conf"
	for e in "$@"; do sed -i "$e" "$d/station.conf"; done
	echo "$d"
}
hexof() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }
# unseal SEALED KEY.pem TYPE(u16le hex) OUT: the device side of SPEC.md
# section 2 with the openssl CLI alone.
unseal() {
	local e t z ctx kek
	e=$(head -c 65 "$1" | hexof)
	t=$(openssl pkey -in "$2" -pubout -outform DER | tail -c 65 | hexof)
	printf '3059301306072a8648ce3d020106082a8648ce3d030107034200%s' "$e" | unhex | openssl pkey -pubin -inform DER -out "$TMP/eph.pub"
	z=$(openssl pkeyutl -derive -inkey "$2" -peerkey "$TMP/eph.pub" | hexof)
	ctx=$(printf '%s%s%s' "$e" "$t" "$3" | unhex | sha256sum | cut -c1-32)
	kek=$({ printf 'STAMP-SECRET-KEK'; printf '%s' "$ctx" | unhex; } | openssl enc -aes-256-ecb -nopad -K "$z" | hexof)
	tail -c +66 "$1" | openssl enc -d -id-aes256-wrap-pad -K "$kek" -iv A65959A6 -out "$4" 2>/dev/null
}
# leaks: key objects made (GenerateKeyPair/DeriveKey/UnwrapKey) and never
# destroyed, per the call log (object handles are unique per process run;
# the log is emptied before each run that is checked).
leaks() {
	awk '/-> CKR_OK/ && /^C_(GenerateKeyPair|DeriveKey|UnwrapKey) / {
		for (i = 1; i <= NF; i++) if ($i ~ /^(pub|priv|key)=[0-9]+$/) { split($i, a, "="); made[a[2]] = 1 } }
		/^C_DestroyObject .*-> CKR_OK/ { for (i = 1; i <= NF; i++) if ($i ~ /^obj=/) { split($i, a, "="); delete made[a[2]] } }
		END { n = 0; for (k in made) n++; print n }' "$LOG"
}
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

"$STATION" pki demo --home "$H" >/dev/null || { echo "Bail out! pki demo"; exit 1; }
newkey "$TMP/t.key"; openssl pkey -in "$TMP/t.key" -pubout -out "$TMP/t.pub"
openssl x509 -in "$H/pki/stamp.pem" -pubkey -noout > "$TMP/stamp.pub"
S=$(alt shim "s#^module = .*#module = $SHIM#")

# --- a complete stamp: token key mode + host-sealed secrets, through the shim -
run env HSM_SHIM_LOG="$LOG" "$TOOL" "$S" stamp "$TMP/t.pub" SN-1 HW-1 "$TMP/st.bin" "$TMP/c.der"
is "$RC" 0 "stamp with a token-made device key and sealed secrets"
POP=$(printf '%s\n' "$OUT" | sed -n 's/^pop //p'); TOK=$(printf '%s\n' "$OUT" | sed -n 's/^token //p')
CLAIM=$(printf '%s\n' "$OUT" | sed -n 's/^claim //p')
run "$REFV" --trust "$TMP/stamp.pub" --device-key "$TMP/t.key" --hardware-id HW-1 "$TMP/st.bin"
is "$RC" 0 "the mbedTLS reference verifier accepts the stamp and opens every secret"
contains "$OUT" "secret 48 3 $CLAIM" "mbedTLS opens the claim id"
contains "$OUT" " 15 $POP" "mbedTLS opens the proof-of-possession secret"
contains "$OUT" " 18 $TOK" "mbedTLS opens the provisioning token"
printf '%s\n' "$OUT" | sed -n 's/^secret [0-9]* 14 //p' | unhex > "$TMP/dk.p8"
openssl x509 -inform DER -in "$TMP/c.der" -out "$TMP/c.pem"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/c.pem"
is "$OUT" "$TMP/c.pem: OK" "openssl verify: the device certificate"
run openssl pkey -inform DER -in "$TMP/dk.p8" -pubout
is "$OUT" "$(openssl x509 -in "$TMP/c.pem" -pubkey -noout)" "mbedTLS-unwrapped device key = the certificate's key"
run "$STATION" inspect "$TMP/st.bin" --trust "$H/pki/stamp.pem" --hardware-id HW-1 --device-key "$TMP/t.key"
is "$RC" 0 "station inspect (OpenSSL) opens the stamp too"

# the call log: made as session objects, wrapped, nothing in the clear, all destroyed
KG=$(grep -c '^C_GenerateKeyPair .*mech=CKM_EC_KEY_PAIR_GEN.*-> CKR_OK' "$LOG")
is "$KG" 2 "call log: two C_GenerateKeyPair (device key, ephemeral key)"
contains "$(grep '^C_GenerateKeyPair' "$LOG" | head -1)" "priv{CKA_TOKEN=0 CKA_PRIVATE=1 CKA_SENSITIVE=1 CKA_EXTRACTABLE=1 CKA_SIGN=0 CKA_DERIVE=0}" "device key: session object, sensitive, extractable only to be wrapped"
contains "$(grep '^C_GenerateKeyPair' "$LOG" | head -1)" "pub{CKA_TOKEN=0" "device public key: session object"
contains "$(grep '^C_WrapKey' "$LOG")" "mech=CKM_AES_KEY_WRAP_PAD" "call log: C_WrapKey with AES key wrap with padding"
contains "$(grep '^C_WrapKey' "$LOG")" "-> CKR_OK" "C_WrapKey succeeded"
is "$(grep -c '^C_DeriveKey .*mech=CKM_ECDH1_DERIVE.*CKA_EXTRACTABLE=0.*-> CKR_OK' "$LOG")" 1 "Z: ECDH into a non-extractable key"
is "$(grep -c '^C_DeriveKey .*mech=CKM_AES_ECB_ENCRYPT_DATA.*CKA_WRAP=1.*CKA_EXTRACTABLE=0.*-> CKR_OK' "$LOG")" 1 "KEK: AES-ECB derivation, wrap only, non-extractable"
is "$(grep -E 'class=CKO_(PRIVATE|SECRET)_KEY.*CKA_VALUE=[0-9]' "$LOG" | grep -c 'CKR_OK')" 0 "no private or secret key value ever read out (no successful CKA_VALUE)"
# every object made is destroyed: handles from GenerateKeyPair/DeriveKey
leaks=$(leaks)
is "$leaks" 0 "every key object made is destroyed (call log)"

run "$TOOL" "$H" token-stress 100 2
is "$OUT" "200 token-mode keys and re-wraps, 0 failed" "2 threads: 200 token-mode keys and re-wraps, each opened and checked against its public key"

# --- re-wrapping: a key sealed to the station, opened and sealed again in the token
newkey "$TMP/dev.key"
run "$TOOL" "$H" station-seal "$H/pki/station-transport.pem" "$TMP/dev.key" "$TMP/in.bin"
is "$RC" 0 "a batch generator seals a device key to the station transport key"
unseal "$TMP/in.bin" "$TMP/t.key" 0e00 "$TMP/x.p8"
is "$?" 1 "a key sealed to the station does not open with a device key"
: > "$LOG"
run env HSM_SHIM_LOG="$LOG" "$TOOL" "$S" rewrap "$TMP/in.bin" "$TMP/t.pub" "$TMP/out.bin"
is "$RC" 0 "re-wrap inside the token"
unseal "$TMP/out.bin" "$TMP/t.key" 0e00 "$TMP/re.p8"
is "$?" 0 "the device opens the re-wrapped key (openssl CLI)"
run openssl pkey -inform DER -in "$TMP/re.p8" -pubout
is "$OUT" "$(openssl pkey -in "$TMP/dev.key" -pubout)" "re-wrapped key = the batch's device key"
contains "$(grep '^C_UnwrapKey' "$LOG")" "mech=CKM_AES_KEY_WRAP_PAD" "call log: C_UnwrapKey"
contains "$(grep '^C_UnwrapKey' "$LOG")" "CKA_TOKEN=0 CKA_PRIVATE=1 CKA_SENSITIVE=1 CKA_EXTRACTABLE=1" "unwrapped into a sensitive session object"
contains "$(grep '^C_DeriveKey' "$LOG" | head -2 | tail -1)" "CKA_UNWRAP=1" "station-side KEK may only unwrap"
is "$(grep -E 'class=CKO_(PRIVATE|SECRET)_KEY.*CKA_VALUE=[0-9]' "$LOG" | grep -c 'CKR_OK')" 0 "re-wrap: no key value read out"
run "$TOOL" "$H" issue-key "$TMP/dev.key" SN-B1 HW-B1 "$TMP/dev.pem"
run "$TOOL" "$H" rewrap "$TMP/in.bin" "$TMP/t.pub" "$TMP/out2.bin" "$TMP/dev.pem"
is "$RC" 0 "re-wrap checked against the batch's certificate (the token signs a challenge with the unwrapped key)"
run "$TOOL" "$H" rewrap "$TMP/in.bin" "$TMP/t.pub" "$TMP/out3.bin" "$TMP/c.pem"
is "$RC" 1 "re-wrap against another device's certificate refused"
err_is "hsm-tool: re-wrap: the sealed device key does not belong to the public key of its certificate (a batch mix-up?); nothing was written" "batch mix-up message"
[ -e "$TMP/out3.bin" ]; is "$?" 1 "no output for a mixed-up key"
run "$TOOL" "$H" station-seal "$H/pki/stamp.pem" "$TMP/dev.key" "$TMP/wrong.bin"
run "$TOOL" "$H" rewrap "$TMP/wrong.bin" "$TMP/t.pub" "$TMP/o2.bin"
is "$RC" 1 "a key sealed to another station key is refused"
err_is "hsm-tool: token 'station-demo': re-wrap: the sealed device key does not open with this station's transport key (CKR_GENERAL_ERROR): it was sealed to another key or is damaged; nothing was written" "re-wrap: wrong recipient message"
head -c 70 "$TMP/in.bin" > "$TMP/short.bin"
run "$TOOL" "$H" rewrap "$TMP/short.bin" "$TMP/t.pub" "$TMP/o2.bin"
err_is "hsm-tool: re-wrap: the sealed device key is not a sealed value (65-byte point, then 8k bytes, k >= 2; 70 bytes)" "re-wrap: malformed input message"
[ -e "$TMP/o2.bin" ]; is "$?" 1 "no output from a failed re-wrap"

# --- host key mode: development only, audited by the caller ----------------
run "$TOOL" "$H" host-key "$TMP/t.pub" "$TMP/hk.bin"
is "$RC" 0 "host key mode on a development station"
contains "$OUT" "host key mode (development only): the device private key was generated in host memory, not in the token" "host key mode: the note for the audit log"
FP=$(printf '%s\n' "$OUT" | sed -n 's/^fingerprint //p')
unseal "$TMP/hk.bin" "$TMP/t.key" 0e00 "$TMP/hk.p8"
is "$(openssl pkey -inform DER -in "$TMP/hk.p8" -pubout -outform DER | sha256sum | cut -c1-64)" "$FP" "host key: sealed to the device, fingerprint = SHA-256 of its public key"
P=$(alt prod 's/^mode = development/mode = production/' 's/^pin_file = \(.*\)/pin_file = \1\nallow_pin_file = yes/')
run "$TOOL" "$P" host-key "$TMP/t.pub" "$TMP/hk2.bin"
is "$RC" 1 "host key mode refused in production"
err_is "hsm-tool: host key mode is for development stations only ([station] mode = development); use the token or device key mode" "host key mode refusal message"

# --- faults, each with its message and no output ----------------------------
D=$(printf '%064d' 7)
fault() { run env HSM_SHIM_FAULT="$1" HSM_SHIM_LOG="$LOG" "${@:2}"; }
fault C_Sign:1:CKR_DEVICE_REMOVED "$TOOL" "$S" sign stamp "$D" "$TMP/f1.sig"
is "$RC" 1 "token removed during a signature"
err_is "hsm-tool: token 'station-demo': signing with key 'stamp': the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "C_Sign CKR_DEVICE_REMOVED message"
[ -e "$TMP/f1.sig" ]; is "$?" 1 "no signature written"
fault C_Sign:2:CKR_DEVICE_REMOVED "$TOOL" "$S" stamp "$TMP/t.pub" SN-2 HW-2 "$TMP/f2.bin" "$TMP/f2.der"
is "$RC" 1 "token removed at the 2nd signature (the stamp's, after the certificate's)"
err_is "hsm-tool: token 'station-demo': signing with key 'stamp': the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "stamp signature: removed token message"
[ -e "$TMP/f2.bin" ]; is "$?" 1 "no stamp written"
fault C_Sign:1:CKR_DEVICE_REMOVED "$TOOL" "$S" issue-key "$TMP/t.pub" SN-3 HW-3 "$TMP/f3.pem"
err_is "hsm-tool: token 'station-demo': signing the certificate of device SN-3 with key 'subca': the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "certificate signature: removed token message"
[ -e "$TMP/f3.pem" ]; is "$?" 1 "no certificate written"
: > "$LOG"
fault C_Sign:1+:CKR_SESSION_HANDLE_INVALID "$TOOL" "$S" sign stamp "$D" "$TMP/f4.sig"
err_is "hsm-tool: token 'station-demo': signing with key 'stamp': the token's session was lost (CKR_SESSION_HANDLE_INVALID); nothing was written; the security officer restarts the station and logs in again (a PIN is never retried automatically)" "lost signing session message"
is "$(grep -c '^C_Login' "$LOG")" 1 "a lost session never triggers a second login"
: > "$LOG"
fault C_Login:1:CKR_PIN_INCORRECT "$STATION" pki check --home "$S"
is "$RC" 1 "C_Login CKR_PIN_INCORRECT exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "wrong PIN message"
is "$(grep -c '^C_Login' "$LOG")" 1 "the wrong PIN is tried once"
fault C_Login:1:CKR_PIN_LOCKED "$STATION" pki check --home "$S"
err_is "station: token 'station-demo': the user PIN is locked; the security officer must unlock it with the SO PIN" "locked PIN message"
fault C_Login:1:CKR_DEVICE_REMOVED "$STATION" pki check --home "$S"
err_is "station: token 'station-demo': login: the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "token removed at login: message"
fault C_Sign:1:CKR_DEVICE_REMOVED "$TOOL" "$S" crl "$TMP/f-crl.pem" 1
err_is "hsm-tool: token 'station-demo': signing the CRL: the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "CRL signature: removed token message"
[ -e "$TMP/f-crl.pem" ]; is "$?" 1 "no CRL written"
fault C_GenerateRandom:1+:CKR_DEVICE_ERROR "$TOOL" "$S" issue-key "$TMP/t.pub" SN-4 HW-4 "$TMP/f4.pem"
err_is "hsm-tool: token 'station-demo': random numbers from the token: the token reported a device error (CKR_DEVICE_ERROR); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "token RNG failure (certificate serial): message"
fault C_GenerateKeyPair:1:CKR_DEVICE_ERROR "$TOOL" "$S" stamp "$TMP/t.pub" SN-5 HW-5 "$TMP/f5.bin" "$TMP/f5.der"
is "$RC" 1 "C_GenerateKeyPair failing"
err_is "hsm-tool: token 'station-demo': token key mode: cannot generate the device key: the token reported a device error (CKR_DEVICE_ERROR); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "C_GenerateKeyPair failure message"
[ -e "$TMP/f5.bin" ] || [ -e "$TMP/f5.der" ]; is "$?" 1 "no stamp, no certificate"
: > "$LOG"
fault C_GenerateKeyPair:1:CKR_SESSION_HANDLE_INVALID "$TOOL" "$S" stamp "$TMP/t.pub" SN-6 HW-6 "$TMP/f6.bin" "$TMP/f6.der"
is "$RC" 0 "a session lost during token key generation is reopened"
run "$REFV" --trust "$TMP/stamp.pub" --device-key "$TMP/t.key" --hardware-id HW-6 "$TMP/f6.bin"
is "$RC" 0 "the stamp made after the reopened session verifies (mbedTLS)"
is "$(grep -c '^C_Login' "$LOG")" 1 "reopening the session did not log in again"
fault C_GenerateKeyPair:1+:CKR_SESSION_HANDLE_INVALID "$TOOL" "$S" stamp "$TMP/t.pub" SN-7 HW-7 "$TMP/f7.bin" "$TMP/f7.der"
err_is "hsm-tool: token 'station-demo': token key mode: cannot generate the device key: the token's session was lost (CKR_SESSION_HANDLE_INVALID); nothing was written; the security officer restarts the station and logs in again (a PIN is never retried automatically)" "session lost twice: message"
: > "$LOG"
fault C_WrapKey:1:CKR_DEVICE_REMOVED "$TOOL" "$S" stamp "$TMP/t.pub" SN-8 HW-8 "$TMP/f8.bin" "$TMP/f8.der"
err_is "hsm-tool: token 'station-demo': token key mode: cannot wrap the device key: the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "C_WrapKey failure message"
leaks=$(leaks)
is "$leaks" 0 "after a failed wrap every object made is destroyed"
: > "$LOG"
fault C_DeriveKey:1:CKR_FUNCTION_FAILED "$TOOL" "$S" stamp "$TMP/t.pub" SN-9 HW-9 "$TMP/f9.bin" "$TMP/f9.der"
err_is "hsm-tool: token 'station-demo': token key mode: cannot derive the shared secret with the transport key (ECDH): the operation failed (CKR_FUNCTION_FAILED); nothing was written; if it happens again, check the token with 'station pki check'" "C_DeriveKey failure message"
is "$(leaks)" 0 "after a failed ECDH every object made is destroyed"
: > "$LOG"
fault C_DeriveKey:2:CKR_DEVICE_MEMORY "$TOOL" "$S" rewrap "$TMP/in.bin" "$TMP/t.pub" "$TMP/f10.bin"
err_is "hsm-tool: token 'station-demo': re-wrap: cannot derive the key-encryption key: the token is out of memory (CKR_DEVICE_MEMORY); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "re-wrap: KEK derivation failure message"
is "$(leaks)" 0 "after a failed re-wrap KEK every object made is destroyed"
: > "$LOG"
fault C_UnwrapKey:1:CKR_DEVICE_REMOVED "$TOOL" "$S" rewrap "$TMP/in.bin" "$TMP/t.pub" "$TMP/f11.bin"
err_is "hsm-tool: token 'station-demo': re-wrap: cannot unwrap the device key: the token was removed (CKR_DEVICE_REMOVED); nothing was written; reconnect the token, then the security officer restarts the station and logs in again" "C_UnwrapKey failure message"
[ -e "$TMP/f10.bin" ] || [ -e "$TMP/f11.bin" ]; is "$?" 1 "no re-wrap output after a fault"
is "$(leaks)" 0 "after a failed unwrap every object made is destroyed"

finish
