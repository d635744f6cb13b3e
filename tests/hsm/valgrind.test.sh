#!/usr/bin/env bash
# valgrind.test.sh: the token's life cycle under valgrind (memcheck): demo
# creation, the start-up check, issuance, CRL, a role signature, the
# ceremony's CSR, a token key mode stamp, a re-wrap and a wrong PIN; no memory errors, no definite leaks,
# and no crash at exit (the libp11/module shutdown order).
. "$(dirname "$0")/../lib/tap.sh"
TOOL="$TOP/${BUILD:-build}/test-tools/hsm-tool"
V="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
H="$TMP/home"

vg() {  # vg NAME WANT_RC CMD...
	local name=$1 want=$2; shift 2
	run $V "$@"
	is "$RC" "$want" "valgrind clean: $name"
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/d.key" 2>/dev/null
vg "pki demo" 0 "$STATION" pki demo --home "$H"
vg "pki check" 0 "$STATION" pki check --home "$H"
vg "issue" 0 "$TOOL" "$H" issue-key "$TMP/d.key" SN-1 HW-1 "$TMP/d.pem"
vg "crl" 0 "$TOOL" "$H" crl "$TMP/crl.pem" 1 0102:1
vg "hsm_sign" 0 "$TOOL" "$H" sign audit "$(printf %064d 1)" "$TMP/sig"
vg "pki csr" 0 "$STATION" pki csr --home "$H" --label subca-2 -o "$TMP/s.csr"
openssl pkey -in "$TMP/d.key" -pubout -out "$TMP/t.pub"
vg "token key mode stamp" 0 "$TOOL" "$H" stamp "$TMP/t.pub" SN-2 HW-2 "$TMP/st.bin" "$TMP/c.der"
"$TOOL" "$H" station-seal "$H/pki/station-transport.pem" "$TMP/d.key" "$TMP/in.bin"
vg "re-wrap" 0 "$TOOL" "$H" rewrap "$TMP/in.bin" "$TMP/t.pub" "$TMP/out.bin"
printf 'wrong\n' > "$TMP/pin"; chmod 600 "$TMP/pin"
vg "wrong PIN" 1 "$STATION" pki check --home "$H" --pin-file "$TMP/pin"
finish
