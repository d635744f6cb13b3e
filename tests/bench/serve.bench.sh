#!/usr/bin/env bash
# serve.bench.sh: requests per second of `station serve` for each endpoint
# on loopback (lan-load: 8 keep-alive clients, a fixed number of requests):
# POST /serialize next to the same allocations without HTTP (order-tool,
# the bench loop's calls) in the same run; GET /nonce; GET /nonce + POST
# /sign pairs (the client makes a P-256 key and CSR for each).
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
rate() { sed 's/.*, \([0-9]*\)\/s,.*/\1/'; }
ser=$("$LOAD" serialize "$PORT" 8 400 DW1 BENCH | rate)
non=$("$LOAD" nonce "$PORT" 8 5000 | rate)
sig=$("$LOAD" sign "$PORT" 8 400 BENCH | rate)
kill -INT "$PID"; wait "$PID"; PID=
# the same allocations without HTTP, on the server's own home
"$STATION" order import --home "$H" "$H/orders/demo-host.order" >/dev/null
line=$(ORDER_TOOL_TIMES=1 "$TOOL" allocate "$H" DEMO-HOST-1 200 2>&1 >/dev/null)
per=$(echo "$line" | sed 's/.*order check \([0-9.]*\), allocate \([0-9.]*\), token count \([0-9.]*\)$/\1 \2 \3/' |
	awk '{ printf "%.0f", 1000 / ($1 + $2 + $3) }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo "| LAN POST /serialize, 8 clients, 400 devices | $ser/s | order-tool allocation without HTTP: $per/s | $(ratio "$ser" "$per") |"
echo "| LAN GET /nonce, 8 clients, 5000 requests | $non/s | | target >= 1000/s |"
echo "| LAN GET /nonce + POST /sign pairs (client makes key and CSR), 8 clients, 400 devices | $sig/s | | target >= 100/s |"
