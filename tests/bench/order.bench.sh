#!/usr/bin/env bash
# order.bench.sh: the station-side cost of order bookkeeping per device
# (order-tool: the bench loop's calls without USB or certificates), each
# next to the database allocation of the same devices in the same run:
# the order check (stored order parsed, token count read), and the token
# count update (SoftHSM: a new CKO_DATA object, the old one destroyed).
set -eu
TOOL=$PWD/${BUILD:-build}/test-tools/order-tool
H=$(mktemp -d)/home; trap 'rm -rf "$(dirname "$H")"' EXIT
"$STATION" pki demo --home "$H" >/dev/null
"$STATION" order demo --home "$H" >/dev/null
"$STATION" order import --home "$H" "$H/orders/demo-device.order" >/dev/null
line=$(ORDER_TOOL_TIMES=1 "$TOOL" allocate "$H" DEMO-DEVICE-1 200 2>&1 >/dev/null)
# "per device, ms: order check A, allocate B, token count C"
check=$(echo "$line" | sed 's/.*order check \([0-9.]*\),.*/\1/')
alloc=$(echo "$line" | sed 's/.*allocate \([0-9.]*\),.*/\1/')
token=$(echo "$line" | sed 's/.*token count \([0-9.]*\)$/\1/')
echo "BENCH order.check $check ms order.allocate order check per device (stored order parsed, token count read), 200 devices"
echo "BENCH order.allocate $alloc ms - database allocation per device"
echo "BENCH order.token_count $token ms order.allocate token count update per device (SoftHSM), 200 devices"
