#!/usr/bin/env bash
# pki.test.sh: the demo PKI, the start-up check, device certificates, CSR
# intake, the CRL, role signatures and the key ceremony, against SoftHSM,
# every result checked with the openssl CLI and GnuTLS's certtool; and the
# failures (PIN, token, key, certificate) with their exact messages.
# One demo token per run (token keygen is slow).
. "$(dirname "$0")/../lib/tap.sh"
TOOL="$TOP/${BUILD:-build}/test-tools/hsm-tool"
SHIM="$TOP/${BUILD:-build}/test-tools/pkcs11-shim.so"
H="$TMP/home"
NONCE_OID=2.25.320604743258182176926776022287882174533
HWTYPE=2.25.206475652591324897905571479869996001814

# alt NAME SED...: a home sharing the demo's token, its station.conf edited.
alt() {
	local d="$TMP/$1"; shift
	mkdir -p "$d"
	sed -e "s#= pki/#= $H/pki/#; s#^pin_file = pin#pin_file = $H/pin#" \
	    -e "s#^softhsm_conf = softhsm2.conf#softhsm_conf = $H/softhsm2.conf#" \
	    "$H/station.conf" > "$d/station.conf"
	for e in "$@"; do sed -i "$e" "$d/station.conf"; done
	echo "$d"
}
field() { openssl x509 -in "$1" -noout "${@:2}" 2>&1; }
ext() { openssl x509 -in "$1" -noout -ext "$2" 2>&1 | tail -n +2 | sed 's/^ *//'; }

# --- the demo home -------------------------------------------------------
run "$STATION" pki demo --home "$H"
is "$RC" 0 "pki demo exits 0"
contains "$OUT" "Demo station home: $H" "pki demo names the home"
is "$(stat -c %a "$H/pin")" 600 "PIN file is 0600"
is "$(stat -c %a "$H/pki/demo-root.key")" 600 "demo root key is 0600"
is "$(stat -c %a "$H")" 700 "home is 0700"
PIN=$(cat "$H/pin")
case "$OUT$ERR" in *"$PIN"*) not_ok "the PIN is never printed" ;; *) ok "the PIN is never printed" ;; esac
is "${#PIN}" 24 "the PIN is 24 random characters"
contains "$(cat "$H/station.conf")" "mode = development" "demo config is development mode"

run "$STATION" pki demo --home "$H"
is "$RC" 1 "pki demo refuses an existing home"
err_is "station: $H already exists and is not empty; refusing to overwrite a station home (choose a new folder)" "refusal message"

run "$STATION" pki demo --home "$TMP/failed" --module /nonexistent/module.so
is "$RC" 1 "pki demo with a module that does not load fails"
err_is "station: pki demo: cannot load PKCS#11 module /nonexistent/module.so: No such file or directory (check [hsm] module)" "module message"
[ -e "$TMP/failed" ]; is "$?" 1 "a failed pki demo leaves nothing behind"
run "$STATION" pki
is "$RC" 2 "pki without an action exits 2"
run "$STATION" pki frobnicate
is "$RC" 2 "unknown pki action exits 2"
err_is "station: pki: unknown action 'frobnicate'; see 'station pki --help'" "unknown pki action message"
run "$STATION" pki check --home "$H" extra
err_is "station: pki check: unexpected argument 'extra'" "stray argument message"
run "$STATION" pki install --home "$H"
err_is "station: pki install: --cert FILE is required" "install needs --cert"
run "$STATION" --help
contains "$OUT" "pki          The station's PKI: demo, check, csr, install" "--help lists pki"

run "$STATION" pki check --home "$H"
is "$RC" 0 "pki check passes on the demo home"
contains "$OUT" "ok: sub-CA key and $H/pki/subca.pem, chain to $H/pki/root.pem" "check: sub-CA"
contains "$OUT" "ok: stamp-signing key 'stamp' and $H/pki/stamp.pem" "check: stamp key"
contains "$OUT" "ok: audit-checkpoint key 'audit'" "check: audit key"
contains "$OUT" "ok: export-signing key 'export'" "check: export key"
openssl verify -CAfile "$H/pki/root.pem" "$H/pki/subca.pem" >/dev/null 2>&1
is "$?" 0 "openssl: sub-CA verifies to the root"
is "$(ext "$H/pki/subca.pem" basicConstraints)" "CA:TRUE, pathlen:0" "sub-CA pathlen 0"

# --- device certificate from a public key, field by field -----------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/d1.key" 2>/dev/null
openssl pkey -in "$TMP/d1.key" -pubout -out "$TMP/d1.pub"
before=$(date +%s)
run "$TOOL" "$H" issue-key "$TMP/d1.pub" SN-0001 HW-0001-abc "$TMP/d1.pem"
after=$(date +%s)
is "$RC" 0 "issue a P-256 device certificate"
C="$TMP/d1.pem"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$C"
is "$OUT" "$C: OK" "openssl verify: device certificate"
run certtool --verify --load-ca-certificate "$H/pki/root.pem" --infile <(cat "$C" "$H/pki/subca.pem")
contains "$OUT" "Chain verification output: Verified." "certtool (GnuTLS) verifies the chain"
is "$(field "$C" -subject)" "subject=O = Demo Devices, CN = SN-0001, serialNumber = SN-0001" "subject: O, CN and serialNumber = device serial"
is "$(field "$C" -issuer)" "issuer=$(field "$H/pki/subca.pem" -subject | sed 's/^subject=//')" "issuer is the sub-CA"
is "$(field "$C" -enddate)" "notAfter=Dec 31 23:59:59 9999 GMT" "notAfter 99991231235959Z"
openssl asn1parse -in "$C" | grep -q 'GENERALIZEDTIME   :99991231235959Z'
is "$?" 0 "notAfter is a GeneralizedTime"
nb=$(date -d "$(field "$C" -startdate | sed 's/notBefore=//')" +%s)
if [ "$nb" -ge $((before - 300)) ] && [ "$nb" -le $((after - 300)) ]; then ok "notBefore = now - 300 s"; else not_ok "notBefore = now - 300 s (got $nb, issued between $before and $after)"; fi
serial=$(field "$C" -serial | sed 's/serial=//')
if [ "${#serial}" -ge 30 ] && [ "${#serial}" -le 32 ]; then ok "serial: 128 random bits"; else not_ok "serial: 128 random bits ($serial)"; fi
openssl asn1parse -in "$C" | sed -n 5p | grep -q 'INTEGER *:[0-7]\|INTEGER *:[0-9A-F]\{32\}'
is "$?" 0 "serial is positive"
is "$(ext "$C" basicConstraints)" "CA:FALSE" "basicConstraints CA:FALSE"
contains "$(openssl x509 -in "$C" -noout -ext basicConstraints)" "critical" "basicConstraints critical"
is "$(ext "$C" keyUsage)" "Digital Signature, Key Agreement" "keyUsage digitalSignature, keyAgreement (EC)"
contains "$(openssl x509 -in "$C" -noout -ext keyUsage)" "critical" "keyUsage critical"
is "$(ext "$C" extendedKeyUsage)" "TLS Web Client Authentication" "extendedKeyUsage clientAuth"
is "$(ext "$C" authorityKeyIdentifier)" "$(ext "$H/pki/subca.pem" subjectKeyIdentifier)" "authority key id = sub-CA key id"
openssl req -x509 -new -key "$TMP/d1.key" -subj /CN=ref -addext subjectKeyIdentifier=hash -out "$TMP/ref.pem" 2>/dev/null
is "$(ext "$C" subjectKeyIdentifier)" "$(ext "$TMP/ref.pem" subjectKeyIdentifier)" "subject key id = SHA-1 of the key (as openssl computes it)"
san=$(openssl asn1parse -in "$C" -strparse "$(openssl asn1parse -in "$C" | grep -A1 'X509v3 Subject Alternative Name' | tail -1 | cut -d: -f1)" 2>&1)
contains "$san" "OBJECT            :1.3.6.1.5.5.7.8.4" "SAN otherName id-on-hardwareModuleName"
contains "$san" "OBJECT            :$HWTYPE" "HardwareModuleName hwType"
contains "$san" "OCTET STRING      :HW-0001-abc" "HardwareModuleName hwSerialNum = hardware id"
is "$(cmp <(field "$C" -pubkey) "$TMP/d1.pub" && echo same)" same "certificate holds the device's key"

for kt in "EC -pkeyopt ec_paramgen_curve:P-384" "ED25519"; do
	openssl genpkey -algorithm $kt -out "$TMP/k.key" 2>/dev/null
	run "$TOOL" "$H" issue-key "$TMP/k.key" SN-K HW-K "$TMP/k.pem"
	is "$RC" 0 "issue for ${kt%% *} ${kt##*:}"
	run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/k.pem"
	is "$OUT" "$TMP/k.pem: OK" "openssl verify: ${kt##*:} device certificate"
done
is "$(ext "$TMP/k.pem" keyUsage)" "Digital Signature" "Ed25519: keyUsage digitalSignature only"

A=$(alt p256only 's/^key_types = .*/key_types = p256/')
run "$TOOL" "$A" issue-key "$TMP/k.key" SN-K HW-K "$TMP/k2.pem"
is "$RC" 1 "key type not configured: refused"
err_is "hsm-tool: device SN-K: Ed25519 keys are not accepted (see [device] key_types)" "key type message"
run "$TOOL" "$H" issue-key "$TMP/d1.pub" 'SN 1' HW "$TMP/x.pem"
err_is "hsm-tool: device serial 'SN 1': expected 1 to 64 of A-Z a-z 0-9 - ." "bad device serial refused"

# --- CSR intake ------------------------------------------------------------
N=$(openssl rand -hex 32)
csr() {  # csr KEY NONCEHEX OUT [extra req args]
	local k=$1 n=$2 o=$3; shift 3
	openssl req -new -key "$k" -subj "/CN=claim-secret-must-not-appear" \
	    ${n:+-addext "$NONCE_OID=DER:0420$n"} "$@" -outform DER -out "$o" 2>/dev/null
}
csr "$TMP/d1.key" "$N" "$TMP/good.csr"
run "$TOOL" "$H" issue-csr "$TMP/good.csr" "$N" SN-0002 HW-2 "$TMP/c.der"
is "$RC" 0 "issue from a CSR with the fresh nonce"
openssl x509 -inform DER -in "$TMP/c.der" -out "$TMP/c.pem"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/c.pem"
is "$OUT" "$TMP/c.pem: OK" "openssl verify: certificate from the CSR"
is "$(field "$TMP/c.pem" -subject)" "subject=O = Demo Devices, CN = SN-0002, serialNumber = SN-0002" "nothing taken from the CSR subject"
case "$(openssl x509 -in "$TMP/c.pem" -noout -text)" in *"$NONCE_OID"*|*claim-secret*) not_ok "no CSR extension copied" ;; *) ok "no CSR extension copied" ;; esac

run "$TOP/${BUILD:-build}/test-tools/mbedtls-csr" "$N" "$TMP/mbed.csr"
is "$RC" 0 "mbedTLS writes a CSR with the nonce extension"
run "$TOOL" "$H" issue-csr "$TMP/mbed.csr" "$N" SN-0003 HW-3 "$TMP/m.der"
is "$RC" 0 "issue from the mbedTLS CSR"
openssl x509 -inform DER -in "$TMP/m.der" -out "$TMP/m.pem"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/m.pem"
is "$OUT" "$TMP/m.pem: OK" "openssl verify: certificate from the mbedTLS CSR"
run "$TOOL" "$H" issue-csr "$TMP/good.csr" "$(openssl rand -hex 32)" SN-3 HW "$TMP/x.der"
is "$RC" 1 "stale nonce refused"
err_is "hsm-tool: CSR refused: its nonce is not the one this station just sent (stale or replayed CSR)" "stale nonce message"
csr "$TMP/d1.key" "" "$TMP/bad-nonce.csr" -addext "$NONCE_OID=DER:0500"
run "$TOOL" "$H" issue-csr "$TMP/bad-nonce.csr" "$N" SN-3 HW "$TMP/x.der"
err_is "hsm-tool: CSR refused: the nonce extension is not a DER OCTET STRING" "malformed nonce message"
csr "$TMP/d1.key" "" "$TMP/nonce-less.csr"
run "$TOOL" "$H" issue-csr "$TMP/nonce-less.csr" "$N" SN-3 HW "$TMP/x.der"
err_is "hsm-tool: CSR refused: no station nonce (extension $NONCE_OID in extensionRequest)" "missing nonce message"
cp "$TMP/good.csr" "$TMP/forged.csr"
printf '\x00' | dd of="$TMP/forged.csr" bs=1 seek=$(( $(stat -c %s "$TMP/good.csr") - 5 )) conv=notrunc 2>/dev/null
run "$TOOL" "$H" issue-csr "$TMP/forged.csr" "$N" SN-3 HW "$TMP/x.der"
is "$RC" 1 "forged CSR refused"
err_is "hsm-tool: CSR refused: its signature does not verify (no proof of possession of the key)" "forged CSR message"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$TMP/p521.key" 2>/dev/null
csr "$TMP/p521.key" "$N" "$TMP/p521.csr"
run "$TOOL" "$H" issue-csr "$TMP/p521.csr" "$N" SN-3 HW "$TMP/x.der"
err_is "hsm-tool: CSR refused: the key's algorithm or curve is not supported (accepted: P-256, P-384, Ed25519)" "unsupported curve message"
head -c 5000 /dev/urandom > "$TMP/big.csr"
run "$TOOL" "$H" issue-csr "$TMP/big.csr" "$N" SN-3 HW "$TMP/x.der"
err_is "hsm-tool: CSR refused: 5000 bytes, more than the 4096 accepted" "oversized CSR message"

# --- CRL --------------------------------------------------------------------
s1=$(field "$C" -serial | sed 's/serial=//')
run "$TOOL" "$H" crl "$TMP/crl.pem" 42 "$s1:1" 0a0b:-1
is "$RC" 0 "CRL made"
run openssl crl -in "$TMP/crl.pem" -CAfile "$H/pki/subca.pem" -noout -verify
is "$ERR" "verify OK" "openssl crl -verify: signed by the sub-CA"
crltext=$(openssl crl -in "$TMP/crl.pem" -noout -text)
contains "$crltext" "Version 2" "CRL v2"
contains "$crltext" "X509v3 CRL Number: 
                42" "CRL number"
contains "$crltext" "Serial Number: $s1" "revoked serial listed"
contains "$crltext" "Key Compromise" "reason code"
contains "$crltext" "Authority Key Identifier: 
                $(ext "$H/pki/subca.pem" subjectKeyIdentifier)" "CRL authority key id = sub-CA key id"
cat "$H/pki/root.pem" "$H/pki/subca.pem" > "$TMP/chain.pem"
run openssl verify -crl_check -CRLfile "$TMP/crl.pem" -CAfile "$TMP/chain.pem" "$C"
contains "$OUT$ERR" "certificate revoked" "openssl: the revoked device fails -crl_check"
run openssl verify -crl_check -CRLfile "$TMP/crl.pem" -CAfile "$TMP/chain.pem" "$TMP/c.pem"
is "$OUT" "$TMP/c.pem: OK" "openssl: a device not on the CRL passes -crl_check"

# --- role signatures and the token RNG ---------------------------------------
printf 'stamp image bytes' > "$TMP/msg"
D=$(sha256sum "$TMP/msg" | cut -c1-64)
for role in stamp audit export; do
	run "$TOOL" "$H" sign $role "$D" "$TMP/$role.sig"
	is "$RC" 0 "hsm_sign with the $role key"
	openssl x509 -in "$H/pki/$role.pem" -pubkey -noout > "$TMP/$role.pub"
	run openssl dgst -sha256 -verify "$TMP/$role.pub" -signature "$TMP/$role.sig" "$TMP/msg"
	is "$OUT" "Verified OK" "openssl verifies the $role signature with its certificate"
done
r1=$("$TOOL" "$H" random 32); r2=$("$TOOL" "$H" random 32)
if [ "${#r1}" = 64 ] && [ "$r1" != "$r2" ]; then ok "token RNG"; else not_ok "token RNG"; fi

# --- token key mode: device key made in the token, wrapped to the device ------
# The device side done here with the openssl CLI from SPEC.md section 2.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/transport.key" 2>/dev/null
openssl pkey -in "$TMP/transport.key" -pubout -out "$TMP/transport.pub"
run "$TOOL" "$H" seal "$TMP/transport.pub" SN-0200 HW-200 "$TMP/sealed.bin" "$TMP/t.der"
is "$RC" 0 "token key mode: key made and wrapped in the token, certificate issued"
openssl x509 -inform DER -in "$TMP/t.der" -out "$TMP/t.pem"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/t.pem"
is "$OUT" "$TMP/t.pem: OK" "openssl verify: certificate of the token-made key"
hexof() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }   # hex on stdin -> bytes
E=$(head -c 65 "$TMP/sealed.bin" | hexof)
T=$(openssl pkey -pubin -in "$TMP/transport.pub" -outform DER | tail -c 65 | hexof)
printf '3059301306072a8648ce3d020106082a8648ce3d030107034200%s' "$E" | unhex | openssl pkey -pubin -inform DER -out "$TMP/eph.pub"
Z=$(openssl pkeyutl -derive -inkey "$TMP/transport.key" -peerkey "$TMP/eph.pub" | hexof)
CTX=$(printf '%s%s0e00' "$E" "$T" | unhex | sha256sum | cut -c1-32)
KEK=$({ printf 'STAMP-SECRET-KEK'; printf '%s' "$CTX" | unhex; } | openssl enc -aes-256-ecb -nopad -K "$Z" | hexof)
tail -c +66 "$TMP/sealed.bin" | openssl enc -d -id-aes256-wrap-pad -K "$KEK" -iv A65959A6 -out "$TMP/dev.p8" 2>"$TMP/unwrap.err"
is "$?" 0 "the device unwraps it (ECDH, AES-ECB KDF, RFC 5649) with the openssl CLI"
run openssl pkey -inform DER -in "$TMP/dev.p8" -pubout
is "$OUT" "$(field "$TMP/t.pem" -pubkey)" "the unwrapped private key belongs to the certificate"
run "$TOOL" "$H" seal "$H/pki/root.pem" SN-0201 HW "$TMP/x.bin" "$TMP/x.der"
err_is "hsm-tool: cannot read the transport key" "transport key must be a P-256 public key"

# --- PIN, token, key and certificate failures ---------------------------------
printf 'wrong-pin\n' > "$TMP/wrong"; chmod 600 "$TMP/wrong"; cp -p "$TMP/wrong" "$TMP/wrong-0600"
run "$STATION" pki check --home "$H" --pin-file "$TMP/wrong"
is "$RC" 1 "wrong PIN exits 1"
err_is "station: token 'station-demo': wrong PIN (not retried: each wrong PIN uses up one of the token's retries)" "wrong PIN message, once"
chmod 644 "$TMP/wrong"
run "$STATION" pki check --home "$H" --pin-file "$TMP/wrong"
err_is "station: PIN file $TMP/wrong is readable or writable by others (mode 0644); refused: chmod 600 $TMP/wrong" "readable PIN file refused"
A=$(alt prod 's/^mode = development/mode = production/' '/^pin_file/d')
run "$STATION" pki check --home "$A" --pin-file "$H/pin"
err_is "station: PIN file refused in production mode: the security officer types the PIN (or set [hsm] allow_pin_file = yes)" "production refuses --pin-file"
run "$STATION" pki check --home "$A"
err_is "station: no terminal to ask for the PIN of 'pkcs11:token=station-demo' (development: --pin-file FILE or [hsm] pin_file)" "production without a terminal: no PIN"
A=$(alt shim "s#^module = .*#module = $SHIM#")
run env HSM_SHIM="count:$TMP/logins" "$STATION" pki check --home "$A" --pin-file "$TMP/wrong-0600"
is "$RC" 1 "wrong PIN through the counting shim"
is "$(cat "$TMP/logins")" "C_Login" "a wrong PIN is tried exactly once, never retried"
run env HSM_SHIM=locked "$STATION" pki check --home "$A"
is "$RC" 1 "locked PIN exits 1"
err_is "station: token 'station-demo': the user PIN is locked; the security officer must unlock it with the SO PIN" "locked PIN message"
: > "$TMP/logins"
run env HSM_SHIM=flagged "$STATION" pki check --home "$A"
err_is "station: token 'station-demo': the user PIN is locked; the security officer must unlock it with the SO PIN" "PIN flagged locked by the token: same message"
run env HSM_SHIM="count:$TMP/logins" "$STATION" pki check --home "$A"
is "$RC" 0 "through the shim with the right PIN: check passes"
A=$(alt notoken 's#^token = .*#token = pkcs11:token=no-such-token#')
run "$STATION" pki check --home "$A"
err_is "station: no token matches 'pkcs11:token=no-such-token' in /usr/lib/softhsm/libsofthsm2.so (is the token plugged in and initialised? check [hsm] token)" "missing token message"
A=$(alt pinuri 's#^token = .*#token = pkcs11:token=station-demo?pin-value=1234#')
run "$STATION" pki check --home "$A"
err_is "station: PKCS#11 URI 'pkcs11:token=station-demo?pin-value=1234' carries a PIN; remove pin-value/pin-source (the PIN comes from the TTY or [hsm] pin_file)" "PIN inside a URI refused"
A=$(alt nokey 's#^subca_key = .*#subca_key = pkcs11:object=no-such-key#')
run "$STATION" pki check --home "$A"
is "$RC" 1 "missing key exits 1"
contains "$ERR" "station: sub-CA: token 'station-demo' has no private key matching 'pkcs11:object=no-such-key' (check the key's URI in station.conf)" "missing key label message"
A=$(alt keyuri 's#^subca_key = .*#subca_key = pkcs11:token=station-demo;object=subca;type=private#')
run "$STATION" pki check --home "$A"
is "$RC" 0 "key URI with token, object and type attributes"
A=$(alt othertok 's#^subca_key = .*#subca_key = pkcs11:token=other;object=subca#')
run "$STATION" pki check --home "$A"
contains "$ERR" "station: sub-CA: key 'pkcs11:token=other;object=subca' names another token than 'station-demo'" "key URI on another token refused"
A=$(alt nolabel 's#^subca_key = .*#subca_key = pkcs11:type=private#')
run "$STATION" pki check --home "$A"
contains "$ERR" "station: sub-CA: key 'pkcs11:type=private': name the key with object= or id=" "key URI without object or id refused"
A=$(alt mismatch "s#^subca_cert = .*#subca_cert = $H/pki/stamp.pem#")
run "$STATION" pki check --home "$A"
contains "$ERR" "station: sub-CA: $H/pki/stamp.pem does not belong to the token key 'subca' (its public key differs)" "cert/key mismatch message"
A=$(alt notca "s#^subca_key = .*#subca_key = pkcs11:object=stamp#" "s#^subca_cert = .*#subca_cert = $H/pki/stamp.pem#")
run "$STATION" pki check --home "$A"
contains "$ERR" "station: sub-CA: $H/pki/stamp.pem is not a CA certificate (basicConstraints CA:TRUE is missing)" "end-entity cert as sub-CA refused"
A=$(alt badroot "s#^root_cert = .*#root_cert = $H/pki/order.pem#")
run "$STATION" pki check --home "$A"
contains "$ERR" "station: sub-CA: $H/pki/subca.pem does not verify to the root $H/pki/order.pem: unable to get local issuer certificate" "wrong root message"

# the PIN typed on a terminal (no echo), as the officer does in production
A=$(alt tty 's/^mode = development/mode = production/' '/^pin_file/d')
# The PIN is typed only once the prompt is there (echo is off by then).
mkfifo "$TMP/tty.in"
script -qec "'$STATION' pki check --home '$A'" /dev/null < "$TMP/tty.in" > "$TMP/tty.out" 2>&1 &
tty_pid=$!
exec 7>"$TMP/tty.in"
for _ in $(seq 300); do grep -q "PIN for" "$TMP/tty.out" && break; sleep 0.1; done
printf '%s\n' "$PIN" >&7
exec 7>&-
wait "$tty_pid"
is "$?" 0 "PIN from the terminal: check passes in production mode"
contains "$(cat "$TMP/tty.out")" "PIN for pkcs11:token=station-demo: " "terminal prompt names the token"
case "$(cat "$TMP/tty.out")" in *"$PIN"*) not_ok "the typed PIN is not echoed" ;; *) ok "the typed PIN is not echoed" ;; esac

# --- the configuration keys of the PKI and the device profile --------------
A=$(alt badtypes 's/^key_types = .*/key_types = p256, rsa/')
run "$STATION" config --home "$A" --quiet
err_is "station: $A/station.conf:29: [device] key_types: expected a comma list of p256, p384, ed25519, got 'p256, rsa'" "bad key_types message"
A=$(alt badoid '$a hardware_type = 1.3..6')
run "$STATION" config --home "$A" --quiet
err_is "station: $A/station.conf:31: [device] hardware_type: expected a dotted OID such as 1.3.6.1.4.1.99999.1, got '1.3..6'" "bad hardware_type message"
A=$(alt bakuri 's#^subca_key = .*#subca_key = object=subca#')
run "$STATION" config --home "$A" --quiet
err_is "station: $A/station.conf:15: [pki] subca_key: expected a PKCS#11 URI starting with 'pkcs11:', got 'object=subca'" "bad key URI message"
run "$STATION" pki csr --home "$H" --label ../x -o "$TMP/x.csr"
is "$RC" 2 "bad ceremony label exits 2"
err_is "station: pki csr: --label: expected 1 to 32 of A-Z a-z 0-9 . _ - (not starting with .), got '../x'" "bad ceremony label message"

# --- key ceremony: a new sub-CA key in the token, signed by the openssl CLI ----
mkdir -p "$TMP/rootca"; : > "$TMP/rootca/index.txt"
cat > "$TMP/rootca/ca.cnf" <<EOF
[ca]
default_ca = root
[root]
database = $TMP/rootca/index.txt
new_certs_dir = $TMP/rootca
serial = $TMP/rootca/serial
certificate = $H/pki/root.pem
private_key = $H/pki/demo-root.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
organizationName = optional
commonName = supplied
[subca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
echo 1000 > "$TMP/rootca/serial"
rootsign() {  # rootsign CSR OUT [openssl ca date args]
	local in=$1 out=$2; shift 2
	openssl ca -batch -config "$TMP/rootca/ca.cnf" -extensions subca -notext \
	    -in "$in" -out "$out" "$@" 2>"$TMP/rootca/err"
}
run "$STATION" pki csr --home "$H" --label subca-2 -o "$TMP/subca-2.csr"
is "$RC" 0 "pki csr: new sub-CA key in the token"
contains "$OUT" "new sub-CA key 'subca-2' (P-256) in token 'station-demo'; request in $TMP/subca-2.csr" "pki csr message"
run openssl req -in "$TMP/subca-2.csr" -noout -verify
contains "$OUT$ERR" "verify OK" "the CSR is signed by the token key"
run "$STATION" pki csr --home "$H" --label subca-2 -o "$TMP/again.csr"
err_is "station: pki csr: token 'station-demo' already has a key labelled 'subca-2'" "pki csr refuses a label in use"
rootsign "$TMP/subca-2.csr" "$TMP/subca-2.pem" -days 365
is "$?" 0 "openssl ca (the offline root) signs the request"
run "$STATION" pki install --home "$H" --cert "$TMP/subca-2.pem"
is "$RC" 1 "install against the old key: mismatch"
err_is "station: pki install: $TMP/subca-2.pem does not belong to the token key 'subca' (its public key differs)" "install mismatch message"
run "$STATION" pki install --home "$H" --cert "$TMP/subca-2.pem" --key pkcs11:object=subca-2
is "$RC" 0 "pki install: the new sub-CA certificate"
contains "$OUT" "installed $H/pki/subca-2.pem for sub-CA key 'subca-2'; to issue with it, set in station.conf:" "install names the next step"
cmp -s "$TMP/subca-2.pem" "$H/pki/subca-2.pem"
is "$?" 0 "installed beside the first sub-CA"

# roll-in: the second sub-CA issues; the first one's devices still verify
R=$(alt roll "s#^subca_key = .*#subca_key = pkcs11:object=subca-2#" "s#^subca_cert = .*#subca_cert = $H/pki/subca-2.pem#")
run "$TOOL" "$R" issue-key "$TMP/d1.pub" SN-0100 HW-100 "$TMP/d100.pem"
is "$RC" 0 "issue with the rolled-in sub-CA"
cat "$H/pki/subca.pem" "$H/pki/subca-2.pem" > "$TMP/subcas.pem"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$TMP/subcas.pem" "$TMP/d100.pem" "$C"
is "$OUT" "$TMP/d100.pem: OK
$C: OK" "old and new devices verify with both sub-CAs"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca.pem" "$TMP/d100.pem"
is "$RC" 2 "the new device does not verify under the old sub-CA"

# a P-384 sub-CA: SHA-384 signatures on device certificates and CRLs
run "$STATION" pki csr --home "$H" --label subca-384 --curve p384 -o "$TMP/s384.csr"
contains "$OUT" "new sub-CA key 'subca-384' (P-384)" "pki csr --curve p384"
rootsign "$TMP/s384.csr" "$TMP/s384.pem" -days 365
run "$STATION" pki install --home "$H" --cert "$TMP/s384.pem" --key pkcs11:object=subca-384
is "$RC" 0 "install the P-384 sub-CA"
R=$(alt roll384 "s#^subca_key = .*#subca_key = pkcs11:object=subca-384#" "s#^subca_cert = .*#subca_cert = $H/pki/subca-384.pem#")
run "$TOOL" "$R" issue-key "$TMP/d1.pub" SN-0384 HW-384 "$TMP/d384.pem"
is "$RC" 0 "issue with the P-384 sub-CA"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$H/pki/subca-384.pem" "$TMP/d384.pem"
is "$OUT" "$TMP/d384.pem: OK" "openssl verify: P-384 sub-CA chain"
contains "$(field "$TMP/d384.pem" -text)" "Signature Algorithm: ecdsa-with-SHA384" "P-384 sub-CA signs with SHA-384"
run "$TOOL" "$R" crl "$TMP/crl384.pem" 1 0102:0
run openssl crl -in "$TMP/crl384.pem" -CAfile "$H/pki/subca-384.pem" -noout -verify
is "$ERR" "verify OK" "CRL of the P-384 sub-CA verifies"

# an expired sub-CA certificate is refused at start-up and at install
run "$STATION" pki csr --home "$H" --label subca-old -o "$TMP/old.csr"
rootsign "$TMP/old.csr" "$TMP/old.pem" -startdate 20200101000000Z -enddate 20210101000000Z
run "$STATION" pki install --home "$H" --cert "$TMP/old.pem" --key pkcs11:object=subca-old
is "$RC" 1 "install refuses an expired sub-CA"
err_is "station: pki install: $TMP/old.pem expired on Jan  1 00:00:00 2021 GMT" "expired sub-CA message"
A=$(alt expired "s#^subca_key = .*#subca_key = pkcs11:object=subca-old#" "s#^subca_cert = .*#subca_cert = $TMP/old.pem#")
run "$STATION" pki check --home "$A"
contains "$ERR" "station: sub-CA: $TMP/old.pem expired on Jan  1 00:00:00 2021 GMT" "start-up check: expired sub-CA"

finish
