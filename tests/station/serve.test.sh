#!/usr/bin/env bash
# serve.test.sh: `station serve`, the factory-LAN service, on loopback
# with curl: every endpoint and every refusal with its exact status and
# message; nothing allocated for a refused request; a bounded concurrent
# load (lan-load) in which no identity is given out twice and a device
# asking twice gets the same answer; SIGINT stops it cleanly (lan.stopped,
# a checkpoint) and the audit log verifies. The listen address is checked
# against [lan] interface, and in a network namespace the test makes
# itself (skipped without root) the service runs, in production mode, on
# a factory interface only.
. "$(dirname "$0")/../lib/tap.sh"

LOAD=${LAN_LOAD:-$TOP/${BUILD:-build}/test-tools/lan-load}
H="$TMP/home"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
"$STATION" order demo --home "$H" >/dev/null || not_ok "order demo"
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null ||
	not_ok "order import"
# sign_order ID PRODUCT QTY FIRST KEYMODE [EXPIRES]: a signed order, imported.
sign_order() {
	printf 'station-order 1\norder_id = %s\nstation_id = DEMO-01\nproduct = %s\nquantity = %s\nserial_first = %s\nserial_last = %s\nkey_mode = %s\nclaim_mode = user\nexpires = %s\n' \
	    "$1" "$2" "$3" "$4" "$(($4 + $3 - 1))" "$5" "${6:-2099-12-31T23:59:59Z}" > "$TMP/$1.txt"
	openssl cms -sign -binary -nodetach -outform DER -in "$TMP/$1.txt" \
	    -signer "$H/pki/order.pem" -inkey "$H/pki/demo-order.key" -out "$TMP/$1.order"
	"$STATION" order import --home "$H" "$TMP/$1.order" >/dev/null || not_ok "import $1"
}
sign_order SMALL-1 SM1 1 500 device
sign_order TOKEN-1 TK1 5 600 token
EXPIRES=$(date -u -d '+8 sec' +%Y-%m-%dT%H:%M:%SZ)
sign_order SOON-1 EX1 5 700 device "$EXPIRES"
"$STATION" deny add hardware-id HW-DENIED --reason "stolen at test" --home "$H" >/dev/null ||
	not_ok "deny add"
sed -i 's/^key_types = .*/key_types = p256/' "$H/station.conf"
cp "$H/station.conf" "$TMP/base.conf"
lan_conf() { cp "$TMP/base.conf" "$H/station.conf"; printf '\n[lan]\n%s\n' "$1" >> "$H/station.conf"; }
q() { sqlite3 "$H/station.db" "$1"; }

# ---- the listen address -------------------------------------------------------------------
lan_conf ""
run "$STATION" serve --home "$H" --listen 127.0.0.1:0
is "$RC" 2 "no [lan] interface exits 2"
err_is "station: serve: no [lan] interface is configured; set it to the factory interface the devices are on (listed in [airgap] factory_interfaces too)" "no [lan] interface message"
lan_conf "interface = eth7"
run "$STATION" serve --home "$H" --listen 127.0.0.1:0
is "$RC" 2 "an interface not in factory_interfaces exits 2"
err_is "station: serve: [lan] interface eth7 is not among [airgap] factory_interfaces (none); the LAN service runs only on a factory interface" "not a factory interface message"
lan_conf "interface = lo"
run "$STATION" serve --home "$H" --listen 0.0.0.0:0
is "$RC" 2 "a wildcard address exits 2"
err_is "station: serve: --listen: 0.0.0.0 is not an address of [lan] interface lo; listen on one of its own addresses" "wildcard address message"
run "$STATION" serve --home "$H" --listen localhost:80
is "$RC" 2 "a host name exits 2"
err_is "station: serve: --listen: expected ADDRESS:PORT (an IPv4 address, or an IPv6 address in brackets, and a port 0-65535)" "listen syntax message"
run "$STATION" serve --home "$H"
is "$RC" 2 "no --listen exits 2"

# ---- a running service --------------------------------------------------------------------
# start: serve in the background; $PID, $URL.
start() {
	"$STATION" serve --home "$H" --listen "${1:-127.0.0.1:0}" >"$TMP/serve.out" 2>"$TMP/serve.err" &
	PID=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$TMP/serve.out" 2>/dev/null && break
		sleep 0.1
	done
	URL=$(sed -n 's/.*listening on \(http:[^ ]*\)\/ .*/\1/p' "$TMP/serve.out")
}
stop() { kill -INT "$PID"; wait "$PID"; SRC=$?; }
# call METHOD PATH [BODY [CONTENT-TYPE]]: $CODE, $BODY
call() {
	local args=(-s -o "$TMP/.body" -w '%{http_code}' -X "$1")
	[ $# -ge 3 ] && args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	CODE=$(curl "${args[@]}" "$URL$2"); BODY=$(cat "$TMP/.body")
}
refused() {  # refused STATUS CODE MESSAGE NAME
	is "$CODE" "$1" "$4: status $1"
	is "$BODY" "{\"error\": \"$2\", \"message\": \"$3\"}" "$4: message"
}

lan_conf "interface = lo
client_rate = 100000
client_burst = 100000"
start
contains "$(cat "$TMP/serve.out")" "station serve: station DEMO-01 listening on http://127.0.0.1:" "serve says where it listens"
is "$(q "SELECT count(*) FROM events WHERE kind = 'lan.started'")" 1 "lan.started recorded"

call POST /serialize '{"product": "DW1", "hardware_id": "HW-1"}'
is "$CODE" 200 "serialize: 200"
FIRST=$BODY
contains "$BODY" '"serial": "DW1-DEMO-01-00000001"}' "serialize: the first serial of the block"
[[ "$BODY" =~ ^\{\"id\":\ \"[0-9A-HJKMNP-TV-Z]{12}[0-9A-HJKMNP-TV-Z*~\$=U]\", ]] && ok "serialize: a claim ID" || not_ok "serialize: a claim ID ($BODY)"
call POST /serialize '{"hardware_id": "HW-1", "product": "DW1"}'
is "$BODY" "$FIRST" "serialize: the same device gets the same answer"
call POST /serialize '{"product": "DW1", "hardware_id": "HW-2"}'
contains "$BODY" '"serial": "DW1-DEMO-01-00000002"}' "serialize: the next device the next serial"
is "$(q "SELECT count(*) FROM devices")" 2 "two devices allocated"
is "$(q "SELECT actor FROM events WHERE kind = 'device.allocated' LIMIT 1")" "lan:127.0.0.1" "the client is the actor"

# ---- refusals of /serialize: nothing allocated ----------------------------------------------
call POST /serialize '{"product": "DW1", "hardware_id": "HW-3"'
refused 400 bad_request "bad JSON at byte 40: '}' expected near end of file" "truncated JSON"
call POST /serialize '{"product": "DW1", "hardware_id": "HW-3"} x'
refused 400 bad_request "bad JSON at byte 43: end of file expected near 'x'" "trailing bytes"
call POST /serialize '["DW1", "HW-3"]'
refused 400 bad_request "expected a JSON object" "not an object"
call POST /serialize '{"product": "DW1", "product": "DW2", "hardware_id": "HW-3"}'
refused 400 bad_request "bad JSON at byte 28: duplicate object key near '\\\"product\\\"'" "duplicate key"
call POST /serialize '{"product": "DW1", "hardware_id": "HW-3", "x": 1}'
refused 400 bad_request "unknown field 'x'; expected only product and hardware_id" "unknown field"
call POST /serialize '{"product": "DW1"}'
refused 400 bad_request "missing field 'hardware_id'" "missing field"
call POST /serialize '{"product": 7, "hardware_id": "HW-3"}'
refused 400 bad_request "field 'product' must be a string" "a number for a string"
call POST /serialize '{"product": "DW 1", "hardware_id": "HW-3"}'
refused 400 bad_request "product: expected 1 to 32 of A-Z a-z 0-9 . -" "bad product"
call POST /serialize '{"product": "DW1", "hardware_id": "HW 3"}'
refused 400 bad_request "hardware_id: expected 1 to 64 printable ASCII characters without spaces" "bad hardware id"
call POST /serialize '{"product": "NOPE", "hardware_id": "HW-3"}'
refused 404 unknown_product "station DEMO-01 has no order for product NOPE" "unknown product"
call POST /serialize '{"product": "TK1", "hardware_id": "HW-3"}'
refused 409 no_device_order "order TOKEN-1 for product TK1 is for key mode token; the LAN service serves device-mode orders only" "a token-mode order"
call POST /serialize '{"product": "SM1", "hardware_id": "HW-SM-1"}'
is "$CODE" 200 "the small order's one device"
call POST /serialize '{"product": "SM1", "hardware_id": "HW-SM-2"}'
is "$CODE" 409 "order used up: 409"
contains "$BODY" '{"error": "order_used_up", "message": "order SMALL-1 is used up' "order used up message"
call POST /serialize '{"product": "SM1", "hardware_id": "HW-1"}'
refused 409 hardware_id_taken "hardware id HW-1 is held by device DW1-DEMO-01-00000001 of product DW1, not SM1" "hardware id of another product"
call POST /serialize '{"product": "DW1", "hardware_id": "HW-DENIED"}'
is "$CODE" 403 "denied device: 403"
contains "$BODY" '{"error": "denied", "message": "hardware_id HW-DENIED is on the deny list since ' "denied device message"
contains "$BODY" "(stolen at test): refused; the officer lifts it with 'station deny remove'\"}" "denied device reason"
call POST /serialize '{"product": "DW1", "hardware_id": "HW-3"}' text/plain
refused 415 unsupported_media_type "send the body as Content-Type: application/json" "wrong content type"
call POST /serialize "{\"product\": \"DW1\", \"hardware_id\": \"$(head -c 1100 /dev/zero | tr '\0' A)\"}"
refused 413 too_large "the body of /serialize may be at most 1024 bytes" "too large"
CODE=$(head -c 3000 /dev/zero | tr '\0' A | curl -s -o "$TMP/.body" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @- "$URL/serialize")
BODY=$(cat "$TMP/.body")
refused 413 too_large "the body of /serialize may be at most 1024 bytes" "too large, chunked"
call GET /serialize
refused 405 method_not_allowed "/serialize takes POST only" "GET /serialize"
call POST /nonce '{}'
refused 405 method_not_allowed "/nonce takes GET only" "POST /nonce"
call GET /admin
refused 404 not_found "no such endpoint; the station serves GET /nonce, POST /serialize and POST /sign" "unknown path"
is "$(q "SELECT count(*) FROM devices")" 3 "refused requests allocated nothing"

# ---- nonces and certificates ---------------------------------------------------------------
nonce() { call GET /nonce; NONCE=$(echo "$BODY" | sed -n 's/.*"nonce": "\([0-9a-f]*\)".*/\1/p'); }
# csr KEY NONCE: a PEM CSR carrying the nonce (docs/device-csr.md)
csr() {
	openssl req -new -key "$1" -subj /CN=x \
	    ${2:+-addext "2.25.320604743258182176926776022287882174533=DER:0420$2"}
}
sign_body() { jq -cn --arg h "$1" --arg c "$2" '{hardware_id: $h, csr: $c}'; }
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/k1.pem"
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/k2.pem"
openssl ecparam -name secp384r1 -genkey -noout -out "$TMP/k384.pem"

nonce
is "$CODE" 200 "nonce: 200"
[[ "$BODY" =~ ^\{\"nonce\":\ \"[0-9a-f]{64}\",\ \"expires_in\":\ 60\}$ ]] && ok "nonce: 64 hex digits, 60 s" || not_ok "nonce body ($BODY)"
call POST /sign "$(sign_body HW-1 "$(csr "$TMP/k1.pem" "$NONCE")")"
is "$CODE" 200 "sign: 200"
cp "$TMP/.body" "$TMP/chain.pem"
is "$(grep -c 'BEGIN CERTIFICATE' "$TMP/chain.pem")" 2 "sign: the certificate and the sub-CA's"
run openssl verify -CAfile "$H/pki/root.pem" -untrusted "$TMP/chain.pem" "$TMP/chain.pem"
is "$RC" 0 "sign: the chain verifies to the root"
contains "$(openssl x509 -in "$TMP/chain.pem" -noout -subject)" "CN = DW1-DEMO-01-00000001" "sign: the certificate names the serial"
is "$(openssl x509 -in "$TMP/chain.pem" -noout -pubkey)" "$(openssl ec -in "$TMP/k1.pem" -pubout 2>/dev/null)" "sign: for the CSR's key"
is "$(q "SELECT state FROM devices WHERE hardware_id = 'HW-1'")" issued "sign: device issued"
call POST /sign "$(sign_body HW-1 "$(csr "$TMP/k1.pem" "$NONCE")")"
refused 403 bad_nonce "the CSR's nonce was not given out by this station or was used already; GET /nonce and make a new CSR" "a nonce used twice"
nonce
call POST /sign "$(sign_body HW-1 "$(csr "$TMP/k1.pem" "$NONCE")")"
is "$CODE" 200 "sign again with the same key: 200"
is "$BODY" "$(cat "$TMP/chain.pem")" "sign again: the recorded certificate"
nonce
call POST /sign "$(sign_body HW-1 "$(csr "$TMP/k2.pem" "$NONCE")")"
refused 409 already_issued "device DW1-DEMO-01-00000001 (hardware id HW-1) is in state issued with another key; a device gets one certificate" "another key"
call POST /sign "$(sign_body HW-2 "$(csr "$TMP/k2.pem" 0000000000000000000000000000000000000000000000000000000000000000)")"
refused 403 bad_nonce "the CSR's nonce was not given out by this station or was used already; GET /nonce and make a new CSR" "a nonce never given out"
call POST /sign "$(sign_body HW-2 "$(csr "$TMP/k2.pem")")"
refused 400 bad_csr "the CSR carries no station nonce (extension 2.25.320604743258182176926776022287882174533 with a 32-byte OCTET STRING, docs/device-csr.md); GET /nonce first" "no nonce"
nonce
call POST /sign "$(sign_body HW-2 "$(csr "$TMP/k384.pem" "$NONCE")")"
is "$CODE" 400 "a key type not accepted: 400"
contains "$BODY" '{"error": "bad_csr", "message": "the CSR is refused: ' "key type message"
call POST /sign '{"hardware_id": "HW-2", "csr": "MIIB"}'
refused 400 bad_request "csr: expected one PEM CERTIFICATE REQUEST" "not PEM"
nonce
call POST /sign "$(sign_body HW-NEW "$(csr "$TMP/k2.pem" "$NONCE")")"
refused 409 no_identity "hardware id HW-NEW holds no identity; POST /serialize first" "no identity"
nonce
call POST /sign "$(sign_body HW-DENIED "$(csr "$TMP/k2.pem" "$NONCE")")"
is "$CODE" 403 "sign for a denied device: 403"
contains "$BODY" '{"error": "denied", "message": "hardware_id HW-DENIED is on the deny list' "sign denied message"
call POST /sign "{\"hardware_id\": \"HW-2\", \"csr\": \"$(head -c 17000 /dev/zero | tr '\0' A)\"}"
refused 413 too_large "the body of /sign may be at most 16384 bytes" "sign too large"
is "$(q "SELECT count(*) FROM devices WHERE state = 'issued'")" 1 "refused CSRs issued nothing"

# ---- concurrency: no identity twice ---------------------------------------------------------
PORT=${URL##*:}
run "$LOAD" serialize "$PORT" 32 400 DW1 LOAD "$TMP/load1"
is "$RC" 0 "load: 400 requests from 32 clients all answered 200"
contains "$OUT" "serialize: 400 requests, 32 clients" "load: summary"
is "$(cut -d' ' -f3 "$TMP/load1" | sort -u | wc -l)" 400 "load: 400 distinct claim IDs"
is "$(cut -d' ' -f5 "$TMP/load1" | sort -u | wc -l)" 400 "load: 400 distinct serials"
"$LOAD" serialize "$PORT" 16 200 DW1 TWICE "$TMP/a" >/dev/null & A=$!
"$LOAD" serialize "$PORT" 16 200 DW1 TWICE "$TMP/b" >/dev/null
wait "$A"
is "$(sort "$TMP/a" | md5sum)" "$(sort "$TMP/b" | md5sum)" "load: 200 devices asking twice at once get the same answers"
is "$(sort -u "$TMP/a" | wc -l)" 200 "load: 200 distinct answers"
is "$(q "SELECT count(*) FROM devices")" 603 "load: 600 devices allocated, none twice"
is "$(q "SELECT count(DISTINCT claim_id) || ' ' || count(DISTINCT serial) FROM devices")" "603 603" "database: claim IDs and serials unique"
run "$LOAD" sign "$PORT" 16 100 LOAD "$TMP/load2"
is "$RC" 0 "load: 100 nonce+sign pairs from 16 clients all answered 200"
is "$(q "SELECT count(DISTINCT cert_serial) FROM devices WHERE state = 'issued'")" 101 "load: 101 distinct certificates"

stop
is "$SRC" 0 "SIGINT stops it with exit 0"
contains "$(cat "$TMP/serve.out")" "station serve: stopped: 603 identities allocated, 101 certificates issued," "stop summary"
is "$(q "SELECT count(*) FROM events WHERE kind = 'lan.stopped'")" 1 "lan.stopped recorded"
is "$(q "SELECT max(head_seq) FROM checkpoints")" "$(q "SELECT max(seq) FROM events")" "the last event is sealed by a checkpoint"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "audit verify: intact"
contains "$OUT" "result: INTACT" "audit verify says intact"

# ---- rate limit and nonce lifetime ----------------------------------------------------------
lan_conf "interface = lo
client_rate = 1
client_burst = 2
nonce_lifetime = 5
timeout = 1"
start
nonce
call GET /nonce
call GET /nonce
refused 429 too_many_requests "client 127.0.0.1 sends more than 1 requests a second; retry in 1 s" "too fast"
is "$(curl -s -D - -o /dev/null "$URL/nonce" | tr -d '\r' | grep -i '^Retry-After:')" "Retry-After: 1" "too fast: Retry-After"
call GET /admin
is "$CODE" 429 "too fast: an unknown path counts too"
PORT=${URL##*:}
t0=$(date +%s)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
timeout 20 cat <&3 >/dev/null
exec 3<&-
t=$(( $(date +%s) - t0 ))
[ "$t" -le 4 ] && ok "an idle connection is closed after [lan] timeout (${t} s)" ||
	not_ok "an idle connection is closed after [lan] timeout (${t} s)"
[ "$t" -lt 6 ] && sleep $(( 6 - t ))
call POST /sign "$(sign_body HW-2 "$(csr "$TMP/k2.pem" "$NONCE")")"
refused 403 nonce_expired "the CSR's nonce expired (a nonce is good for 5 s); GET /nonce and make a new CSR" "an expired nonce"
while [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \< "$EXPIRES" ] || [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" = "$EXPIRES" ]; do sleep 0.5; done
call POST /serialize '{"product": "EX1", "hardware_id": "HW-EX"}'
is "$CODE" 409 "an expired order: 409"
contains "$BODY" '{"error": "order_expired", "message": "' "an expired order: message"
is "$(q "SELECT count(*) FROM devices WHERE hardware_id = 'HW-EX'")" 0 "an expired order allocates nothing"
kill -TERM "$PID"; wait "$PID"
is "$?" 0 "SIGTERM stops it with exit 0"
run "$STATION" audit verify --home "$H"
is "$RC" 0 "audit verify after the second run"

# ---- a factory interface in a network namespace, production mode -----------------------------
NS="station-serve-$$"
if ip netns add "$NS" 2>/dev/null; then
	trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
	in_ns() { ip netns exec "$NS" "$@"; }
	in_ns ip link set lo up
	in_ns ip link add fac0 type veth peer name fac1
	in_ns ip addr add 10.77.0.1/24 dev fac0
	in_ns ip addr add 10.77.0.2/24 dev fac1
	in_ns ip link set fac0 up
	in_ns ip link set fac1 up
	sed -i -e 's/^mode = development/mode = production/' \
	    -e 's/^pin_file = pin/pin_file = pin\nallow_pin_file = yes/' "$TMP/base.conf"
	lan_conf "interface = fac0"
	printf '\n[airgap]\nfactory_interfaces = fac0, fac1\n' >> "$H/station.conf"
	run in_ns "$STATION" serve --home "$H" --listen 127.0.0.1:0
	is "$RC" 2 "netns: loopback is not the factory interface"
	err_is "station: serve: --listen: 127.0.0.1 is not an address of [lan] interface fac0; listen on one of its own addresses" "netns: loopback refused"
	ip netns exec "$NS" "$STATION" serve --home "$H" --listen 10.77.0.1:8780 >"$TMP/serve.out" 2>"$TMP/serve.err" &
	PID=$!
	for _ in $(seq 100); do grep -q 'listening on' "$TMP/serve.out" && break; sleep 0.1; done
	contains "$(cat "$TMP/serve.out")" "listening on http://10.77.0.1:8780/ (interface fac0)" "netns: serves on the factory interface in production mode"
	CODE=$(in_ns curl -s -o "$TMP/.body" -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary '{"product": "DW1", "hardware_id": "HW-NS"}' http://10.77.0.1:8780/serialize)
	is "$CODE" 200 "netns: a device on the factory LAN gets its identity"
	stop
	is "$SRC" 0 "netns: stops cleanly"
	printf '\n[airgap]\nfactory_interfaces = none\n' >> "$TMP/base.conf"
	lan_conf "interface = fac0"
	run in_ns "$STATION" serve --home "$H" --listen 10.77.0.1:0
	is "$RC" 2 "netns: fac0 not a factory interface"
else
	ok "# SKIP network namespace: ip netns unavailable (needs root and iproute2)"
fi
finish
