#!/usr/bin/env bash
# batch.test.sh: pre-generated batches through the real binary, between
# two demo stations: a generator (secure room) and a factory station.
# The file inspected with `openssl cms`; import refusals (another station,
# tampered, foreign signer, replayed) with exact messages and exit codes;
# batch_take_next through batch-tool (the bench loop's call): the key
# re-wrapped to a device opens with the device's key (openssl CLI alone)
# and is the certificate's; never twice, also after SIGKILL; void at the
# factory and revoke at the generator; both audit logs still verify.
. "$(dirname "$0")/../lib/tap.sh"

TOOL=${BATCH_TOOL:-$TOP/${BUILD:-build}/test-tools/batch-tool}
G="$TMP/gen"; F="$TMP/factory"; O="$TMP/other"
for h in "$G" "$F" "$O"; do
	"$STATION" pki demo --home "$h" >/dev/null &&
	    "$STATION" init --home "$h" >/dev/null || { echo "Bail out! demo $h"; exit 1; }
done
"$STATION" order demo --home "$G" >/dev/null
"$STATION" order import --home "$G" "$G/orders/demo-token.order" >/dev/null
"$STATION" order import --home "$G" "$G/orders/demo-device.order" >/dev/null
cp "$G/pki/export.pem" "$F/pki/batch-signer.pem"
cp "$G/pki/export.pem" "$O/pki/batch-signer.pem"

# --- generate ------------------------------------------------------------
run "$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 150 \
    --threads 2 --for "$F/pki/station-transport.pem" -o "$TMP/b.batch"
is "$RC" 0 "generate exits 0"
contains "$OUT" "batch DEMO-TOKEN-1.100001: 150 identities, DW1-DEMO-01-00100001 .. DW1-DEMO-01-00100150, written to $TMP/b.batch (" "generate summary"
is "$(stat -c %a "$TMP/b.batch")" 600 "batch file mode 0600"
is "$(sqlite3 "$G/station.db" "select count(*) from devices where key_mode='batch' and state='issued'")" 150 "every identity recorded issued at the generator"
run openssl cms -cmsout -print -inform DER -in "$TMP/b.batch"
is "$RC" 0 "openssl cms reads the batch file"
contains "$OUT" "contentType: pkcs7-envelopedData" "an EnvelopedData"
contains "$OUT" "d.kari:" "key agreement recipient (ECDH)"
contains "$OUT" "dhSinglePass-stdDH-sha256kdf-scheme" "X9.63 KDF with SHA-256"
contains "$OUT" "d.issuerAndSerialNumber:" "the recipient named by issuer and serial"
tserial=$(openssl x509 -in "$F/pki/station-transport.pem" -noout -serial | sed 's/serial=0*//')
is "$(openssl asn1parse -inform DER -in "$TMP/b.batch" 2>/dev/null | grep -c "INTEGER *:0*$tserial$")" 1 "addressed to the factory's transport certificate (its serial)"
contains "$OUT" "aes-256-cbc" "content encrypted with AES-256-CBC"

run "$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 5 -o "$TMP/x.batch"
is "$RC" 2 "generate without --for: exit 2"
err_is "station: batch generate: --for CERT is required; see 'station batch --help'" "missing --for message"
run "$STATION" batch generate --home "$G" --order DEMO-DEVICE-1 --count 5 --for "$F/pki/station-transport.pem" -o "$TMP/x.batch"
is "$RC" 1 "device-mode order refused"
err_is "station: batch generate: order DEMO-DEVICE-1 has key_mode device; a batch needs an order with key_mode token (its keys are made in this token)" "key mode message"
run "$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 5000 --for "$F/pki/station-transport.pem" -o "$TMP/x.batch"
is "$RC" 1 "more than the order has left refused"
err_is "station: batch generate: order DEMO-TOKEN-1 has 850 identities left, 5000 asked for" "order room message"
run "$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 5 --for "$F/pki/export.pem" -o "$TMP/x.batch"
is "$RC" 2 "a signing certificate as --for refused"
err_is "station: batch generate: --for $F/pki/export.pem: not a transport certificate (keyUsage must be keyAgreement only)" "not a transport certificate message"
run "$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 5 --for "$F/pki/station-transport.pem" -o "$TMP/b.batch"
is "$RC" 1 "an existing file is not overwritten"
err_is "station: batch generate: $TMP/b.batch exists already: each batch goes into a new file" "existing file message"
is "$(sqlite3 "$G/station.db" "select count(*) from devices where key_mode='batch'")" 150 "refusals allocated nothing"

# --- import refusals -----------------------------------------------------
run "$STATION" batch import --home "$O" "$TMP/b.batch"
is "$RC" 1 "import at another station refused"
err_is "station: batch import: $TMP/b.batch is not addressed to this station: no recipient is its transport certificate ([pki] transport_cert)" "wrong station message"
# flip FILE OFFSET: invert the bits of one byte.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
size=$(stat -c %s "$TMP/b.batch")
# The streamed envelope ends in its last cipher block as a 16-byte chunk
# (04 10 ...) and ten end-of-contents octets; the byte before that chunk
# is the last of the block before, which CBC XORs into the padding length.
is "$(tail -c 28 "$TMP/b.batch" | head -c 2 | od -An -tx1 | tr -d ' ')" "0410" "the envelope's last chunk is one cipher block"
cp "$TMP/b.batch" "$TMP/tail.batch"
flip "$TMP/tail.batch" $((size - 29))
run "$STATION" batch import --home "$F" "$TMP/tail.batch"
is "$RC" 1 "tampered end of ciphertext refused"
err_is "station: batch import: the batch is damaged or tampered: it does not decrypt with this station's transport key" "tampered ciphertext message"
cp "$TMP/b.batch" "$TMP/mid.batch"
flip "$TMP/mid.batch" $((size / 2))
run "$STATION" batch import --home "$F" "$TMP/mid.batch"
is "$RC" 1 "tampered middle refused"
contains "$ERR" "station: batch import: $TMP/mid.batch is damaged or tampered: item " "tampered middle message"
# A batch signed by a key the factory does not trust (a second generator).
G2="$TMP/gen2"
"$STATION" pki demo --home "$G2" >/dev/null; "$STATION" init --home "$G2" >/dev/null
"$STATION" order demo --home "$G2" >/dev/null
"$STATION" order import --home "$G2" "$G2/orders/demo-token.order" >/dev/null
"$STATION" batch generate --home "$G2" --order DEMO-TOKEN-1 --count 3 --for "$F/pki/station-transport.pem" -o "$TMP/foreign.batch" >/dev/null
run "$STATION" batch import --home "$F" "$TMP/foreign.batch"
is "$RC" 1 "foreign signer refused"
err_is "station: batch import: bad signature: the manifest does not verify with a signer chaining to [pki] batch_cert" "foreign signer message"
run "$STATION" batch import --home "$F" "$TMP/nonexistent.batch"
is "$RC" 1 "missing file: exit 1"
ls "$F/batches/" > "$TMP/left"
is "$(cat "$TMP/left")" "" "refused imports leave nothing in HOME/batches"

# --- import, replay, status ------------------------------------------------
run "$STATION" batch import --home "$F" "$TMP/b.batch"
is "$RC" 0 "import exits 0"
is "$OUT" "batch DEMO-TOKEN-1.100001 imported: 150 identities of order DEMO-TOKEN-1 (DW1) from station DEMO-01" "import summary"
is "$(openssl x509 -in "$F/batches/DEMO-TOKEN-1.100001.ca.pem" -noout -fingerprint)" "$(openssl x509 -in "$G/pki/subca.pem" -noout -fingerprint)" "the issuing sub-CA kept beside the identities"
run "$STATION" batch import --home "$F" "$TMP/b.batch"
is "$RC" 1 "replayed import refused"
err_is "station: batch import: batch DEMO-TOKEN-1.100001 was imported before; a batch is imported only once" "replay message"
run "$STATION" batch status --home "$F"
is "$RC" 0 "status exits 0"
contains "$OUT" "DEMO-TOKEN-1.100001          DEMO-TOKEN-1            150          0          0          0        150" "status: all left"
run "$STATION" batch status --home "$F" NOPE
is "$RC" 1 "status of an unknown batch: exit 1"
err_is "station: batch status: no such batch was imported here" "unknown batch message"

# --- take: the key re-wrapped to a device ----------------------------------
hexof() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }
# unseal SEALED KEY.pem OUT: stamp-format/SPEC.md section 2, device side,
# record type WRAPPED_DEVICE_KEY (0x000E), with the openssl CLI alone.
unseal() {
	local e t z ctx kek
	e=$(head -c 65 "$1" | hexof)
	t=$(openssl pkey -in "$2" -pubout -outform DER | tail -c 65 | hexof)
	printf '3059301306072a8648ce3d020106082a8648ce3d030107034200%s' "$e" | unhex | openssl pkey -pubin -inform DER -out "$TMP/eph.pub"
	z=$(openssl pkeyutl -derive -inkey "$2" -peerkey "$TMP/eph.pub" | hexof)
	ctx=$(printf '%s%s0e00' "$e" "$t" | unhex | sha256sum | cut -c1-32)
	kek=$({ printf 'STAMP-SECRET-KEK'; printf '%s' "$ctx" | unhex; } | openssl enc -aes-256-ecb -nopad -K "$z" | hexof)
	tail -c +66 "$1" | openssl enc -d -id-aes256-wrap-pad -K "$kek" -iv A65959A6 -out "$3.pad" 2>/dev/null || return 1
	# The token pads the PKCS#8 with zeros: keep the DER's own length.
	head -c $(( $(od -An -j1 -N1 -tu1 "$3.pad") + 2 )) "$3.pad" > "$3"
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/dev.key" 2>/dev/null
openssl pkey -in "$TMP/dev.key" -pubout -out "$TMP/dev.pub"
run "$TOOL" "$F" take DEMO-TOKEN-1.100001 hw-one "$TMP/dev.pub" "$TMP/s.bin" "$TMP/c.der"
is "$RC" 0 "take exits 0"
contains "$OUT" "0 DW1-DEMO-01-00100001 " "the first identity first"
cserial=$(openssl x509 -inform DER -in "$TMP/c.der" -noout -serial | sed 's/serial=//')
is "${OUT##* }" "$cserial" "its certificate serial"
unseal "$TMP/s.bin" "$TMP/dev.key" "$TMP/k.p8"
is "$(openssl pkey -inform DER -in "$TMP/k.p8" -pubout 2>/dev/null)" "$(openssl x509 -inform DER -in "$TMP/c.der" -pubkey -noout)" "the re-wrapped key opens with the device key and is the certificate's"
openssl x509 -inform DER -in "$TMP/c.der" -out "$TMP/c.pem"
run openssl verify -CAfile "$G/pki/root.pem" -untrusted "$G/pki/subca.pem" "$TMP/c.pem"
is "$RC" 0 "the certificate chains to the generator's root"
is "$(sqlite3 "$F/station.db" "select state||' '||key_mode||' '||hardware_id from devices where serial='DW1-DEMO-01-00100001'")" "issued batch hw-one" "recorded at the factory: issued, key mode batch, hardware id"
run "$TOOL" "$F" take DEMO-TOKEN-1.100001 hw-one "$TMP/dev.pub" "$TMP/s2.bin" "$TMP/c2.der"
is "$RC" 1 "a hardware id that has an identity gets no second one"
err_is "batch-tool: identity DW1-DEMO-01-00100002: hardware id 'hw-one' already belongs to device DW1-DEMO-01-00100001 (issued)" "hardware id message"

# --- never twice, also after SIGKILL --------------------------------------
"$TOOL" "$F" take-many DEMO-TOKEN-1.100001 120 > "$TMP/taken1" 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ "$(wc -l < "$TMP/taken1")" -ge 10 ] && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
n1=$(wc -l < "$TMP/taken1")
run "$TOOL" "$F" take-many DEMO-TOKEN-1.100001 200
is "$RC" 3 "after the kill: taken until none is left (exit 3)"
err_is "batch-tool: batch DEMO-TOKEN-1.100001 has no identities left (150 used)" "none left message"
printf '%s\n' "$OUT" > "$TMP/taken2"
{ echo DW1-DEMO-01-00100001; cat "$TMP/taken1" "$TMP/taken2"; } | sort > "$TMP/all"
is "$(uniq -d "$TMP/all")" "" "no identity handed out twice (killed after $n1)"
used=$(sqlite3 "$F/station.db" "select count(*) from devices where key_mode='batch'")
is "$used" 150 "every identity used exactly once in the database"
handed=$(wc -l < "$TMP/all")
is "$(( 150 - handed <= 1 ))" 1 "at most the one in flight at the kill was used without being handed out ($handed handed out)"
is "$(comm -23 "$TMP/all" <(sqlite3 "$F/station.db" "select serial from devices where key_mode='batch' order by serial"))" "" "every serial handed out is recorded"
run "$STATION" batch status --home "$F" DEMO-TOKEN-1.100001
contains "$OUT" "DEMO-TOKEN-1.100001          DEMO-TOKEN-1            150        150          0          0          0" "status: all used"

# --- void at the factory, revoke at the generator ---------------------------
"$STATION" batch generate --home "$G" --order DEMO-TOKEN-1 --count 10 --for "$F/pki/station-transport.pem" -o "$TMP/b2.batch" >/dev/null
"$STATION" batch import --home "$F" "$TMP/b2.batch" >/dev/null
"$TOOL" "$F" take-many DEMO-TOKEN-1.100151 3 >/dev/null
run "$STATION" batch void --home "$F" DEMO-TOKEN-1.100151 -o "$TMP/void.list"
is "$RC" 0 "void exits 0"
is "$OUT" "batch DEMO-TOKEN-1.100151: 7 unused identities voided; certificate serials for the issuing station in $TMP/void.list" "void summary"
is "$(head -1 "$TMP/void.list")" "station-batch-void 1 DEMO-TOKEN-1.100151" "void list header"
is "$(grep -c . "$TMP/void.list")" 8 "void list: seven certificates"
run "$STATION" batch status --home "$F" DEMO-TOKEN-1.100151
contains "$OUT" "DEMO-TOKEN-1.100151          DEMO-TOKEN-1             10          3          0          7          0" "status after void"
run "$TOOL" "$F" take DEMO-TOKEN-1.100151 hw-late "$TMP/dev.pub" "$TMP/s3.bin" "$TMP/c3.der"
is "$RC" 3 "nothing taken after void"
err_is "batch-tool: batch DEMO-TOKEN-1.100151 has no identities left (3 used, the rest voided)" "voided batch message"
run "$STATION" batch void --home "$F" DEMO-TOKEN-1.100151
is "$RC" 1 "a second void refused"
err_is "station: batch void: batch DEMO-TOKEN-1.100151 was voided before" "second void message"
run "$STATION" batch revoke --home "$G" DEMO-TOKEN-1.100151 "$TMP/void.list"
is "$RC" 0 "revoke at the generator exits 0"
is "$OUT" "batch DEMO-TOKEN-1.100151: 7 certificates revoked; next: 'station crl'" "revoke summary"
is "$(sqlite3 "$G/station.db" "select count(*) from devices where state='revoked'")" 7 "revoked at the generator"
run "$STATION" crl --home "$G" -o "$TMP/g.crl"
is "$(openssl crl -in "$TMP/g.crl" -noout -text | grep -c 'Serial Number')" 7 "the generator's CRL lists them"

run "$STATION" export --home "$F" --format jsonl -o "$TMP/fexp"
is "$RC" 0 "the factory exports its batch devices (certificates of another sub-CA)"
run "$STATION" export verify --home "$F" "$TMP/fexp"
is "$RC" 0 "and the export verifies"
contains "$OUT" "160 devices, 153 issued, 7 voided" "export counts: taken identities issued, leftovers voided"
run "$STATION" audit verify --home "$F"
is "$RC" 0 "factory audit log verifies"
run "$STATION" audit verify --home "$G"
is "$RC" 0 "generator audit log verifies"
finish
