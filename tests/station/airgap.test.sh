#!/usr/bin/env bash
# airgap.test.sh: the air-gap check inside a network namespace the test
# makes itself: a production station runs with only loopback; refuses,
# with the exact message and recording nothing, while an interface not
# listed in [airgap] factory_interfaces is up or a default route exists;
# runs with [airgap] allow_network = yes and records what it found.
# Needs `ip netns` (root); skipped otherwise.
. "$(dirname "$0")/../lib/tap.sh"

NS="station-airgap-$$"
if ! ip netns add "$NS" 2>/dev/null; then
	echo "1..0 # SKIP ip netns unavailable (needs root and iproute2)"
	exit 0
fi
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
in_ns() { ip netns exec "$NS" "$@"; }

H="$TMP/home"
"$STATION" pki demo --home "$H" >/dev/null || { not_ok "pki demo"; finish; exit 1; }
"$STATION" init --home "$H" >/dev/null || not_ok "init"
sed -i -e 's/^mode = development/mode = production/' \
	-e 's/^pin_file = pin/pin_file = pin\nallow_pin_file = yes/' "$H/station.conf"
cp "$H/station.conf" "$TMP/base.conf"
airgap_conf() { cp "$TMP/base.conf" "$H/station.conf"; printf '\n[airgap]\n%s\n' "$1" >> "$H/station.conf"; }
q() { sqlite3 "$H/station.db" "$1"; }
TAIL="production mode refuses to run on a networked station; take it off the network, or list the factory's own interfaces in [airgap] factory_interfaces (allow_network = yes runs anyway, recorded in the audit log)"

# ---- only loopback ----------------------------------------------------------------------
in_ns ip link set lo up
run in_ns "$STATION" airgap --home "$H"
is "$RC" 0 "airgap: loopback only exits 0"
is "$OUT" "air gap: ok: no default route, no interface up but loopback" "airgap ok message"
run in_ns "$STATION" deny add serial SN-1 --reason test --home "$H"
is "$RC" 0 "production verb runs with loopback only"

# ---- an interface up ---------------------------------------------------------------------
in_ns ip link add net0 type veth peer name fac0
in_ns ip link set net0 up
n=$(q "SELECT count(*) FROM events")
run in_ns "$STATION" airgap --home "$H"
is "$RC" 1 "airgap: an interface up exits 1"
is "$OUT" "air gap: networked: interface net0 is up
(production mode: writing verbs refuse to run)" "airgap networked message"
run in_ns "$STATION" deny add serial SN-2 --reason test --home "$H"
is "$RC" 1 "production verb with an interface up exits 1"
err_is "station: air gap: interface net0 is up: $TAIL" "interface up refusal message"
is "$(q "SELECT count(*) FROM events")" "$n" "a refusal records nothing"
run in_ns "$STATION" export --home "$H" --format jsonl -o "$TMP/x" --pin-file "$TMP/nopin"
is "$RC" 1 "export on a networked station exits 1"
err_is "station: air gap: interface net0 is up: $TAIL" "export is refused before the PIN is read"
run in_ns "$STATION" deny remove serial SN-1 --reason test --home "$H" --pin-file "$TMP/nopin"
is "$RC" 1 "deny remove on a networked station exits 1"
err_is "station: air gap: interface net0 is up: $TAIL" "deny is refused before the PIN is read"

airgap_conf "factory_interfaces = net0, fac0"
in_ns ip link set fac0 up
run in_ns "$STATION" deny add serial SN-2 --reason test --home "$H"
is "$RC" 0 "factory interfaces are allowed"

# ---- a default route ---------------------------------------------------------------------
in_ns ip addr add 10.77.0.1/24 dev net0
in_ns ip addr add 10.77.0.2/24 dev fac0
in_ns ip route add default via 10.77.0.2 dev net0 2>/dev/null ||
	in_ns ip route add default dev net0
run in_ns "$STATION" airgap --home "$H"
is "$RC" 1 "airgap: a default route exits 1"
contains "$OUT" "air gap: networked: a default route exists (via net0)" "airgap default route message"
run in_ns "$STATION" deny add serial SN-3 --reason test --home "$H"
is "$RC" 1 "production verb with a default route exits 1"
err_is "station: air gap: a default route exists (via net0): $TAIL" "default route refusal message"

# ---- allowed by configuration, and recorded ---------------------------------------------
airgap_conf "factory_interfaces = none
allow_network = yes"
run in_ns "$STATION" deny add serial SN-3 --reason test --home "$H"
is "$RC" 0 "allow_network = yes runs anyway"
is "$(q "SELECT count(*) FROM events WHERE kind = 'airgap.overridden'")" 1 "the override is recorded"
run in_ns "$STATION" audit show --home "$H" --kind airgap.overridden
contains "$OUT$ERR" 'found="a default route exists (via net0); interface ' "the record names the default route"
contains "$OUT$ERR" "interface net0 is up" "the record names net0"
contains "$OUT$ERR" "interface fac0 is up" "the record names fac0"

# ---- development mode does not check -------------------------------------------------
cp "$TMP/base.conf" "$H/station.conf"; sed -i 's/^mode = production/mode = development/' "$H/station.conf"
run in_ns "$STATION" deny add serial SN-4 --reason test --home "$H"
is "$RC" 0 "development mode runs networked"
finish
