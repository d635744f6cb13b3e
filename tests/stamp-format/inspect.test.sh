#!/usr/bin/env bash
# inspect.test.sh: `station inspect` and the mbedTLS reference verifier over
# every committed vector (stamp-format/vectors/expected.txt): exact exit
# codes and messages, every prefix of a valid stamp rejected, secrets opened
# the same by both, binding, usage errors, and the signature checked once
# more by the openssl CLI.
. "$(dirname "$0")/../lib/tap.sh"

V="$TOP/stamp-format/vectors"
REF="$TOP/${BUILD:-build}/tools/stamp-refverify"
TRUST="$V/signer.pem"

# Every vector: inspect and the reference verifier agree with expected.txt.
while read -r name code off reason; do
	case "$name" in '#'*|'') continue ;; esac
	f="$V/$name"
	run "$STATION" inspect --trust "$TRUST" "$f"
	if [ "$code" = 0 ]; then
		is "$RC" 0 "inspect $name: exit 0"
		contains "$OUT" "signature  verified with --trust" "inspect $name: signature verified"
	else
		is "$RC" 1 "inspect $name: exit 1"
		err_is "station: $f: invalid stamp: $reason at offset $off ($(printf '0x%x' "$off"))" \
		    "inspect $name: reason and offset"
	fi
	run "$REF" --trust "$TRUST" --device-key "$V/device-transport-key.pem" \
	    --allow-development "$f"
	if [ "$code" = 0 ]; then
		is "$RC $(echo "$OUT" | head -1 | cut -d' ' -f1)" "0 valid" "refverify $name: valid"
	else
		is "$RC $OUT" "1 invalid $code $off $reason" "refverify $name: same reason and offset"
	fi
done < "$V/expected.txt"

# Certificate as trust anchor; a certificate of another key.
run "$STATION" inspect --trust "$V/signer-cert.pem" "$V/valid-full.bin"
is "$RC" 0 "--trust CERT: valid"
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TMP/k.pem" -subj "/CN=other" -out "$TMP/other.pem" 2>/dev/null
run "$STATION" inspect --trust "$TMP/other.pem" "$V/valid-full.bin"
is "$RC" 1 "--trust another key: exit 1"
err_is "station: $V/valid-full.bin: invalid stamp: bad signature at offset 1640 (0x668)" \
    "--trust another key: message"

# Without --trust the signature is reported as not checked.
run "$STATION" inspect "$V/invalid-signature.bin"
is "$RC" 0 "no --trust: structure and digest only"
contains "$OUT" "signature  NOT CHECKED (no --trust)" "no --trust: says so"

# Every proper prefix of a valid stamp is rejected by the CLI.
len=$(stat -c %s "$V/valid-minimal.bin")
accepted=0
for n in $(seq 0 $((len - 1))); do
	head -c "$n" "$V/valid-minimal.bin" > "$TMP/prefix.bin"
	"$STATION" inspect --trust "$TRUST" "$TMP/prefix.bin" >/dev/null 2>&1
	[ $? -eq 1 ] || accepted=$((accepted + 1))
done
is "$accepted" 0 "all $len prefixes of valid-minimal.bin exit 1"

# Binding.
run "$STATION" inspect --trust "$TRUST" --hardware-id STM32-5A3F00112233 "$V/valid-full.bin"
is "$RC" 0 "--hardware-id of the device: valid"
contains "$OUT" "binding    hardware id matches" "--hardware-id: binding reported"
run "$STATION" inspect --trust "$TRUST" --hardware-id STM32-5A3F00112234 "$V/valid-full.bin"
is "$RC" 1 "--hardware-id of another device: exit 1"
err_is "station: $V/valid-full.bin: invalid stamp: hardware id mismatch at offset 32 (0x20)" \
    "--hardware-id of another device: message"
run "$STATION" inspect --hardware-id hex:48572d303030312d54455354 "$V/valid-minimal.bin"
is "$RC" 0 "--hardware-id hex: form"
run "$REF" --trust "$TRUST" --hardware-id STM32-5A3F00112234 "$V/valid-full.bin"
is "$RC $OUT" "1 invalid 18 32 hardware id mismatch" "refverify: binding"

# Development stamps: inspect says so; the reference verifier refuses
# them unless allowed, as production firmware does.
run "$STATION" inspect --trust "$TRUST" "$V/valid-development.bin"
contains "$OUT" "DEVELOPMENT (plaintext secrets allowed)" "inspect: development stamp flagged"
run "$REF" --trust "$TRUST" "$V/valid-development.bin"
is "$RC $OUT" "1 invalid 19 16 development stamp refused" "refverify: development refused by default"

# Secrets: shown only as length without the key; both open them the same.
run "$STATION" inspect --trust "$TRUST" "$V/valid-full.bin"
contains "$OUT" "claim_id           0x0003 critical secret(sealed) 97 bytes" "sealed secret shown as length"
case "$OUT" in *CLM-7QK2*) not_ok "no plaintext without --device-key" ;; *) ok "no plaintext without --device-key" ;; esac
run "$STATION" inspect --json --trust "$TRUST" --device-key "$V/device-transport-key.pem" "$V/valid-full.bin"
is "$RC" 0 "--device-key: valid"
ours=$(echo "$OUT" | grep '"secret": "opened"' |
    sed -E 's/.*"offset": ([0-9]+),.*"value_hex": "([0-9a-f]*)".*/\1 \2/')
run "$REF" --trust "$TRUST" --device-key "$V/device-transport-key.pem" "$V/valid-full.bin"
theirs=$(echo "$OUT" | grep '^secret ' | awk '{print $2, $4}')
is "$(echo "$ours" | wc -l)" 4 "--device-key: four secrets opened"
is "$ours" "$theirs" "inspect and refverify open the same plaintexts"
contains "$ours" "$(printf 'CLM-7QK2-9XPA-44RM' | od -An -tx1 | tr -d ' \n')" "claim id opened"
run "$STATION" inspect --trust "$TRUST" --device-key "$V/signer-key.pem" "$V/valid-full.bin"
is "$RC" 1 "--device-key of another device: exit 1"
err_is "station: $V/valid-full.bin: invalid stamp: secret does not decrypt at offset 149 (0x95)" \
    "--device-key of another device: message"
is "$OUT" "" "--device-key of another device: nothing printed"

# JSON of an invalid stamp.
run "$STATION" inspect --json "$V/invalid-duplicate.bin"
is "$OUT" "{\"file\": \"$V/invalid-duplicate.bin\", \"valid\": false, \"error\": {\"code\": 10, \"reason\": \"duplicate record\", \"offset\": 68}}" "--json invalid"

# The openssl CLI checks the signature of valid-full.bin on its own:
# digest over [0, integrity record), r||s converted to DER.
f="$V/valid-full.bin"
io=$("$STATION" inspect "$f" | sed -nE 's/^  @([0-9]+) +integrity .*/\1/p')
head -c "$io" "$f" > "$TMP/signed.bin"
r=$(od -An -tx1 -v -j $((io + 40 + 8 + 36)) -N 32 "$f" | tr -d ' \n')
s=$(od -An -tx1 -v -j $((io + 40 + 8 + 68)) -N 32 "$f" | tr -d ' \n')
der_int() {  # minimal DER INTEGER of a 32-byte big-endian hex value
	local h=$1
	while [ "${h:0:2}" = 00 ] && [ ${#h} -gt 2 ]; do h=${h:2}; done
	case "${h:0:1}" in [89a-f]) h="00$h" ;; esac
	printf '02%02x%s' $((${#h} / 2)) "$h"
}
body="$(der_int "$r")$(der_int "$s")"
hex=$(printf "30%02x%s" $((${#body} / 2)) "$body")
printf "$(echo "$hex" | sed "s/../\\\\x&/g")" > "$TMP/sig.der"
run openssl dgst -sha256 -verify "$TRUST" -signature "$TMP/sig.der" "$TMP/signed.bin"
is "$RC $OUT" "0 Verified OK" "openssl CLI verifies the stamp signature"
run openssl dgst -sha256 -verify "$TRUST" -signature "$TMP/sig.der" "$V/valid-minimal.bin"
is "$RC" 1 "openssl CLI refuses it over other bytes"

# USB profile messages (dfu-util uploads) are recognised by their magic.
for m in info:"info message" keygen:"keygen request" commit:"commit request" \
    attest:"attestation request" info-attested:"info message"; do
	run "$STATION" inspect "$V/msg-${m%%:*}.bin"
	is "$RC" 0 "inspect msg-${m%%:*}.bin: exit 0"
	contains "$OUT" "valid ${m#*:}, format 1.0" "inspect msg-${m%%:*}.bin: kind"
done
run "$STATION" inspect "$V/msg-info.bin"
contains "$OUT" "attestation  verified by the attestation certificate's key" "info: attestation verified"
contains "$OUT" "@80    transport_key      0x0005 critical 65 bytes: 04" "info: transport key shown"
cp "$V/msg-info.bin" "$TMP/info.bin"
printf 'X' | dd of="$TMP/info.bin" bs=1 seek=41 conv=notrunc 2>/dev/null
run "$STATION" inspect "$TMP/info.bin"
is "$RC" 1 "info with a changed byte: exit 1"
err_is "station: $TMP/info.bin: invalid info message: bad signature at offset 552 (0x228)" \
    "info with a changed byte: attestation refused"
head -c 100 "$V/msg-keygen.bin" > "$TMP/kg.bin"
run "$STATION" inspect --json "$TMP/kg.bin"
is "$RC" 1 "truncated keygen request: exit 1"
is "$OUT" "{\"file\": \"$TMP/kg.bin\", \"valid\": false, \"kind\": \"keygen request\", \"error\": {\"code\": 1, \"reason\": \"truncated\", \"offset\": 100}}" \
    "truncated keygen request: JSON"
run "$STATION" inspect --hardware-id HW-0001-TEST "$V/msg-commit.bin"
is "$RC" 0 "commit request for this device"
run "$STATION" inspect --hardware-id HW-0002-TEST "$V/msg-commit.bin"
is "$RC" 1 "commit request for another device: exit 1"
err_is "station: $V/msg-commit.bin: invalid commit request: hardware id mismatch at offset 20 (0x14)" \
    "commit request for another device: message"
run "$STATION" inspect --trust "$TRUST" "$V/msg-commit.bin"
is "$RC" 2 "--trust with a message: exit 2"
err_is "station: inspect: $V/msg-commit.bin is a USB commit request; --trust and --device-key apply to stamps only" \
    "--trust with a message: message"

# The generator still rebuilds the same set of vectors with the same
# reasons (offsets inside valid-full.bin move with DER signature lengths).
mkdir -p "$TMP/gen"
cp "$V"/*.pem "$TMP/gen/"
run "$TOP/${BUILD:-build}/tools/gen_vectors" "$TMP/gen"
is "$RC" 0 "gen_vectors rebuilds the vectors"
is "$(awk '!/^#/ {print $1, $2}' "$TMP/gen/expected.txt")" \
    "$(awk '!/^#/ {print $1, $2}' "$V/expected.txt")" "gen_vectors: same files, same reasons"

run "$STATION" inspect "$V/msg-info-attested.bin" --roots "$V/signer-cert.pem"
is "$RC" 0 "the attested info vector verifies against its root"
contains "$OUT" "attestation  verified: chain 'CN=TEST-ONLY attestation' to vendor root 'CN=TEST-ONLY stamp signer' (nonce not checked)" "attested info: chain and root"
contains "$OUT" "attested_key       0x000d 32 bytes: " "attested info: the key hash is shown"

# Usage errors.
run "$STATION" inspect --help
is "$RC" 0 "--help exits 0"
contains "$OUT" "Usage: station inspect FILE" "--help shows usage"
run "$STATION" inspect
is "$RC" 2 "no FILE exits 2"
err_is "station: inspect: expected a stamp FILE; see 'station inspect --help'" "no FILE message"
run "$STATION" inspect a b
is "$RC" 2 "two files exit 2"
err_is "station: inspect: unexpected argument 'b'" "two files message"
run "$STATION" inspect --bogus "$V/valid-full.bin"
is "$RC" 2 "unknown option exits 2"
run "$STATION" inspect "$TMP/none.bin"
is "$RC" 2 "missing file exits 2"
err_is "station: cannot read $TMP/none.bin: No such file or directory" "missing file message"
run "$STATION" inspect --trust "$TMP/none.pem" "$V/valid-full.bin"
is "$RC" 2 "missing trust file exits 2"
err_is "station: inspect: --trust: cannot read $TMP/none.pem: No such file or directory" "missing trust message"
run "$STATION" inspect --trust "$V/valid-full.bin" "$V/valid-full.bin"
is "$RC" 2 "trust not PEM exits 2"
err_is "station: inspect: --trust: $V/valid-full.bin: expected a PEM certificate or public key" "trust not PEM message"
openssl genpkey -algorithm ed25519 -out "$TMP/ed.pem" 2>/dev/null
openssl pkey -in "$TMP/ed.pem" -pubout -out "$TMP/ed.pub" 2>/dev/null
run "$STATION" inspect --trust "$TMP/ed.pub" "$V/valid-full.bin"
is "$RC" 2 "trust not P-256 exits 2"
err_is "station: inspect: --trust: $TMP/ed.pub: expected a P-256 (prime256v1) key" "trust not P-256 message"
run "$STATION" inspect --device-key "$TRUST" "$V/valid-full.bin"
is "$RC" 2 "device key not private exits 2"
err_is "station: inspect: --device-key: $TRUST: expected a PEM private key" "device key message"
run "$STATION" inspect --hardware-id "" "$V/valid-full.bin"
is "$RC" 2 "empty hardware id exits 2"
err_is "station: inspect: --hardware-id: expected 1 to 64 characters, or hex:HEX of 1 to 64 bytes, got ''" "empty hardware id message"
run "$STATION" inspect --hardware-id hex:4g "$V/valid-full.bin"
is "$RC" 2 "bad hex hardware id exits 2"
head -c 1048577 /dev/zero > "$TMP/big.bin"
run "$STATION" inspect "$TMP/big.bin"
is "$RC" 2 "oversize file exits 2"
err_is "station: $TMP/big.bin: larger than 1048576 bytes; expected a stamp image" "oversize message"

finish
