#!/usr/bin/env bash
# issue.stress.sh: 2 x 50,000 device certificates issued at once on two
# threads through SoftHSM, every one decoded and verified against the
# sub-CA key, no two serials alike; then a sample verified by the openssl
# CLI and GnuTLS, one process each (start-up, check, shutdown every time).
. "$(dirname "$0")/../lib/tap.sh"
TOOL="$TOP/${BUILD:-build}/test-tools/hsm-tool"
H="$TMP/home"
"$STATION" pki demo --home "$H" >/dev/null

run "$TOOL" "$H" stress 50000 2
is "$RC" 0 "100,000 certificates on 2 threads: all verify"
is "$OUT" "100000 issued, 0 failed, 0 duplicate serials" "no failures, serials unique"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/d.key" 2>/dev/null
fails=0
for i in $(seq 200); do
	"$TOOL" "$H" issue-key "$TMP/d.key" "SN-$i" "HW-$i" "$TMP/c.pem" >/dev/null 2>&1 || fails=$((fails + 1))
	openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/c.pem" >/dev/null 2>&1 || fails=$((fails + 1))
	certtool --verify --load-ca-certificate "$H/pki/root.pem" --infile <(cat "$TMP/c.pem" "$H/pki/subca.pem") 2>/dev/null | grep -q "Chain verification output: Verified" || fails=$((fails + 1))
done
is "$fails" 0 "200 separate issuances verified by openssl and certtool"
finish
