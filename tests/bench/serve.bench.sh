#!/usr/bin/env bash
# serve.bench.sh: requests per second of `station serve` for each endpoint
# on loopback (lan-load: 8 keep-alive clients, a fixed number of requests):
# POST /serialize next to the same allocations without HTTP (order-tool,
# the bench loop's calls) in the same run; GET /nonce; GET /nonce + POST
# /sign pairs (the client makes a P-256 key and CSR for each). Fewer
# nonces than the table holds (4096): past that GET /nonce answers 503.
# Printed as BENCH/NOTE lines for tests/bench/run.
set -eu
LOAD=$PWD/${BUILD:-build}/test-tools/lan-load
TOOL=$PWD/${BUILD:-build}/test-tools/order-tool
D=$(mktemp -d); H=$D/home
PID=
trap '[ -n "$PID" ] && kill -INT "$PID" 2>/dev/null; wait; rm -rf "$D"' EXIT
"$STATION" pki demo --home "$H" >/dev/null
"$STATION" init --home "$H" >/dev/null
"$STATION" order demo --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null
printf '\n[lan]\ninterface = lo\nclient_rate = 1000000\nclient_burst = 1000000\n' >> "$H/station.conf"
"$STATION" serve --home "$H" --listen 127.0.0.1:0 >"$D/out" 2>/dev/null &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$D/out" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\)\/.*/\1/p' "$D/out")
# load ARGS...: the rate of a run in which every request was answered 200
load() {
	local line
	line=$("$LOAD" "$@") || { echo "lan-load $*: $line" >&2; return 1; }
	echo "$line" | sed 's/.*, \([0-9]*\)\/s,.*/\1/'
}
ser=$(load serialize "$PORT" 8 200 DW1 BENCH)
non=$(load nonce "$PORT" 8 3000)
sig=$(load sign "$PORT" 8 200 BENCH)
kill -INT "$PID"; wait "$PID"; PID=
# the same allocations without HTTP, on the server's own home
"$STATION" order import --home "$H" "$H/orders/demo-host.order" >/dev/null
line=$(ORDER_TOOL_TIMES=1 "$TOOL" allocate "$H" DEMO-HOST-1 100 2>&1 >/dev/null)
per=$(echo "$line" | sed 's/.*order check \([0-9.]*\), allocate \([0-9.]*\), token count \([0-9.]*\)$/\1 \2 \3/' |
	awk '{ printf "%.0f", 1000 / ($1 + $2 + $3) }')
echo "BENCH serve.requests $ser /s serve.alloc_bare LAN POST /serialize (\`station serve\` on loopback), 8 keep-alive clients, 200 devices"
echo "BENCH serve.alloc_bare $per /s - the same allocations without HTTP (order-tool: order check, allocate, token count), 100 devices"
echo "BENCH serve.nonce $non /s - LAN GET /nonce, 8 clients, 3000 requests"
echo "NOTE serve.nonce target >= 1000/s"
echo "BENCH serve.sign $sig /s - LAN GET /nonce + POST /sign pairs (the client makes key and CSR), 8 clients, 200 devices"
echo "NOTE serve.sign target >= 50/s"
