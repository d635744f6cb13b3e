#!/usr/bin/env bash
# attest.test.sh: chip-vendor device attestation (station/attest.h,
# stamp-format/SPEC.md 5.5) through attest-tool, which checks every
# attached device as the bench does, against stampdev-emu under umockdev:
# the [attestation] configuration and its refusals; genuine devices pass,
# in device key mode with their new key bound; every emulator fault
# (bad signature, replayed nonce, unknown root, expired certificate, no
# attestation, another key) refused with its exact reason when required,
# recorded and let through when not; required_products; a given chain
# with an intermediate (openssl CLI); the audit events device.attestation,
# which `station audit verify` replays; the exchange done by dfu-util, the
# answer checked by `station inspect --roots`.
. "$(dirname "$0")/../lib/tap.sh"
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
TOOL=${ATTEST_TOOL:-$TOP/${BUILD:-build}/test-tools/attest-tool}
H="$TMP/home"; CA="$TMP/ca"; ST="$TMP/state"
mkdir -p "$H"
conf() {  # conf [ATTESTATION LINES...]: station.conf of the test home
	{
		printf '[station]\nid = attest-test\nmode = development\n'
		printf '[hsm]\ntoken = pkcs11:token=none\n'
		printf '[audit]\ndatabase = %s\n' "$TMP/a.db"
		printf '[attestation]\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "$H/station.conf"
}
emu() { timeout 60 "$EMU" --state "$ST" --keygen-ms 10 "$@"; }
tool() { "$TOOL" "$H" "$@"; }

# ---- configuration ------------------------------------------------------
conf "required = yes"
run "$TOOL" "$H"
is "$RC" 2 "required without roots exits 2"
err_is "attest-tool: $H/station.conf: [attestation] required = yes needs [attestation] roots (the vendor root certificates to check devices against)" "required without roots message"
conf "required_products = P1"
run "$TOOL" "$H"
is "$RC" 2 "required_products without roots exits 2"
err_is "attest-tool: $H/station.conf: [attestation] required_products needs [attestation] roots (the vendor root certificates to check devices against)" "required_products without roots message"
conf "roots = vendors.pem"
run "$TOOL" "$H"
is "$RC" 1 "unreadable roots exit 1"
err_is "attest-tool: [attestation] roots $H/vendors.pem: cannot read it (a PEM bundle of the chip vendors' root certificates)" "unreadable roots message"
echo "not a certificate" > "$H/vendors.pem"
run "$TOOL" "$H"
is "$RC" 1 "roots without a certificate exit 1"
err_is "attest-tool: [attestation] roots $H/vendors.pem holds no PEM certificate" "empty roots message"
run "$STATION" config --home "$H"
contains "$OUT" "[attestation]
roots = $H/vendors.pem
required = no
required_products = none" "station config prints [attestation]"

# ---- emulator options ---------------------------------------------------
run "$EMU" --attest-chain "$TMP/x.pem" -- true
is "$RC" 2 "emu --attest-chain without --attest-key exits 2"
err_is "stampdev-emu: give either --attest-ca DIR or both --attest-chain PEM and --attest-key PEM" "emu attest options message"
run "$EMU" --fault attest-forged@1 -- true
is "$RC" 2 "emu unknown attest fault exits 2"
run "$EMU" --state "$ST" --attest-ca "$CA" -- true
is "$RC" 0 "emu --attest-ca makes the vendor root"
is "$(stat -c %a "$CA/vendor-ca.key")" "600" "the vendor root key is 0600"
run openssl verify -CAfile "$CA/vendor-ca.pem" "$ST/dev-1/attest.pem"
is "$RC" 0 "openssl verifies the device's attestation certificate"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other.key" \
    -subj "/O=Other Vendor/CN=Other root" -days 30 -out "$H/other.pem" 2>/dev/null

run emu --attest-ca "$CA" -- "$STATION" devices --stamp
contains "$OUT" "stamp: none, unlocked, attestation chain of 1 (not checked here)" "station devices --stamp shows the attestation chain"

# ---- genuine devices ----------------------------------------------------
conf "roots = $CA/vendor-ca.pem" "required = yes"
run emu --devices 2 --attest-ca "$CA" -- "$TOOL" "$H" --bind --db "$TMP/a.db" --product P1
is "$RC" 0 "two genuine devices pass, with their keys bound"
S1=$(cat "$ST/dev-1/serial"); S2=$(cat "$ST/dev-2/serial")
LEAF="CN=$S1 attestation,O=stampdev-emu TEST-ONLY chip vendor"
ROOT="CN=TEST-ONLY attestation root,O=stampdev-emu TEST-ONLY chip vendor"
contains "$OUT" "1-1 $S1 pass required=yes key_bound=no
  chain: $LEAF
  root: $ROOT
1-1 $S1 pass required=yes key_bound=yes" "1-1: attested before allocation, then with its new key"
contains "$OUT" "1-2 $S2 pass required=yes key_bound=yes" "1-2 attested with its key"
contains "$OUT" "1-2 $S2 ok" "1-2 goes on"
run "$STATION" audit show --home "$H" --kind device.attestation
contains "$OUT" "test device.attestation $S1 chain=\"$LEAF\" key_bound=yes product=P1 required=yes result=pass root=\"$ROOT\"" "audit: device.attestation pass with the chain and root"
is "$(echo "$OUT" | grep -c device.attestation)" "4" "audit: one event per attestation"
run "$STATION" audit verify --db "$TMP/a.db"
is "$RC" 0 "audit verify replays the attestation events"
contains "$OUT" "inventory: 0 devices match their events" "attestation allocates nothing"

# ---- every fault refused with its reason when required --------------------
refused() {  # refused FAULT REASON [TOOL ARGS]
	local fault=$1 reason=$2; shift 2
	run emu --attest-ca "$CA" --fault "attest-$fault@1" -- "$TOOL" "$H" --db "$TMP/a.db" "$@"
	is "$RC" 1 "$fault: refused (exit 1)"
	contains "$OUT" "1-1 $S1 REFUSED: $reason" "$fault: the reason"
}
refused bad-sig "attestation signature does not verify with the key of '$LEAF' (a forged or corrupted answer)"
refused wrong-nonce "attestation is signed over another nonce than the one this station sent (a replayed answer)"
refused unknown-root "attestation chain of '$LEAF' does not lead to a configured vendor root ([attestation] roots): issuer '$ROOT' unknown"
refused expired "attestation certificate '$LEAF' has expired (notAfter $(date -u -d yesterday +%Y-%m-%d)"
refused none "device offers no attestation"
refused other-key "attestation covers another key than the one in the device's CSR" --bind
run "$STATION" audit show --home "$H" --kind device.attestation
contains "$OUT" "test device.attestation $S1 chain=\"$LEAF\" key_bound=no reason=\"attestation is signed over another nonce than the one this station sent (a replayed answer)\" required=yes result=fail root=\"$ROOT\"" "audit: a failed attestation with its reason"
contains "$OUT" "test device.attestation $S1 key_bound=no reason=\"device offers no attestation\" required=yes result=none" "audit: a device without attestation"
run "$STATION" audit verify --db "$TMP/a.db"
contains "$OUT" "inventory: 0 devices match their events" "nothing allocated for refused devices"

# ---- dfu-util as an independent client; station inspect --roots ----------
NONCE='\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f'
printf "SATQ\x01\x00\x0c\x00\x4c\x00\x00\x00\x01\x00\x01\x00\x0e\x00\x00\x00%s\x00\x00\x02\x00\x01\x00\x20\x00\x00\x00$NONCE" "$S1" > "$TMP/satq.bin"
run "$STATION" inspect "$TMP/satq.bin"
is "$RC" 0 "a hand-made attestation request reads"
contains "$OUT" "valid attestation request, format 1.0, 76 bytes" "inspect names the attestation request"
run emu --attest-ca "$CA" -- sh -c "timeout 20 dfu-util -d 1209:0001 -a info -D '$TMP/satq.bin' && timeout 20 dfu-util -d 1209:0001 -a info -U '$TMP/answer.bin'"
is "$RC" 0 "dfu-util: attestation request down, answer up"
run "$STATION" inspect "$TMP/answer.bin" --roots "$CA/vendor-ca.pem" --hardware-id "$S1"
is "$RC" 0 "inspect --roots: the answer verifies"
contains "$OUT" "attestation  verified: chain '$LEAF' to vendor root '$ROOT' (nonce not checked)" "inspect --roots names chain and root"
contains "$OUT" "attestation_nonce  0x000c 32 bytes: 000102030405060708090a0b0c0d0e0f" "the answer carries the request's nonce"
run "$STATION" inspect "$TMP/answer.bin" --roots "$H/other.pem"
is "$RC" 1 "inspect --roots with another vendor's root: invalid"
err_is "station: $TMP/answer.bin: attestation refused: attestation chain of '$LEAF' does not lead to a configured vendor root ([attestation] roots): issuer '$ROOT' unknown" "inspect --roots refusal message"
run emu --attest-ca "$CA" --fault attest-none@1 -- timeout 20 dfu-util -d 1209:0001 -a info -D "$TMP/satq.bin"
is "$([ "$RC" -ne 0 ] && echo refused)" "refused" "a device without attestation refuses the request"

# ---- not required: recorded, let through ----------------------------------
conf "roots = $CA/vendor-ca.pem"
run emu --attest-ca "$CA" --fault attest-none@1 -- "$TOOL" "$H"
is "$RC" 0 "not required: a device without attestation goes on"
contains "$OUT" "1-1 $S1 none required=no key_bound=no
  reason: device offers no attestation
1-1 $S1 ok" "not required: outcome none, ok"
run emu --attest-ca "$CA" --fault attest-bad-sig@1 -- "$TOOL" "$H"
is "$RC" 0 "not required: a failed attestation is recorded, not refused"
contains "$OUT" "1-1 $S1 fail required=no" "not required: outcome fail"

# ---- required_products --------------------------------------------------
conf "roots = $CA/vendor-ca.pem" "required_products = P1, P2"
run emu --attest-ca "$CA" --fault attest-none@1 -- "$TOOL" "$H" --product P2
is "$RC" 1 "a listed product requires attestation"
contains "$OUT" "1-1 $S1 REFUSED: device offers no attestation" "listed product: refused"
run emu --attest-ca "$CA" --fault attest-none@1 -- "$TOOL" "$H" --product P3
is "$RC" 0 "an unlisted product does not"

# ---- a given chain with an intermediate (openssl CLI) ---------------------
ossl_ca() {  # ossl_ca NAME ISSUER EXT: key NAME.key, certificate NAME.pem
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$TMP/$1.key" -subj "/O=Test Vendor/CN=$1" -out "$TMP/$1.csr" 2>/dev/null
	printf '%s\n' "$3" > "$TMP/$1.ext"
	openssl x509 -req -in "$TMP/$1.csr" -CA "$2.pem" -CAkey "$2.key" -days 30 \
	    -extfile "$TMP/$1.ext" -out "$TMP/$1.pem" 2>/dev/null
}
ossl_ca inter "$CA/vendor-ca" "basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign"
ossl_ca leaf "$TMP/inter" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature"
cat "$TMP/leaf.pem" "$TMP/inter.pem" > "$TMP/chain.pem"
conf "roots = $CA/vendor-ca.pem" "required = yes"
run emu --attest-chain "$TMP/chain.pem" --attest-key "$TMP/leaf.key" -- "$TOOL" "$H" --bind
is "$RC" 0 "a given chain through an intermediate passes"
contains "$OUT" "1-1 $S1 pass required=yes key_bound=yes
  chain: CN=leaf,O=Test Vendor
  root: $ROOT" "given chain: leaf and vendor root named"
cat "$TMP/inter.pem" "$CA/vendor-ca.pem" > "$H/two.pem"
conf "roots = two.pem" "required = yes"
run emu --attest-chain "$TMP/leaf.pem" --attest-key "$TMP/leaf.key" -- "$TOOL" "$H"
is "$RC" 0 "a bundle of several roots: the leaf's issuer is one of them"
conf "roots = other.pem" "required = yes"
run emu --attest-chain "$TMP/chain.pem" --attest-key "$TMP/leaf.key" -- "$TOOL" "$H"
is "$RC" 1 "a chain to a root that is not configured is refused"
contains "$OUT" "REFUSED: attestation chain of 'CN=leaf,O=Test Vendor' does not lead to a configured vendor root ([attestation] roots): issuer '$ROOT' unknown" "unconfigured root: the reason"
finish
