#!/usr/bin/env bash
# crash.stress.sh: the long crash and power-loss runs (make stress): 1000
# SIGKILLs and 1000 power cuts.
set -u
cd "$(dirname "$0")/../.."
BIN=${BUILD:-build}/testbin/audit-crash
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-crash.XXXXXX"); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/kill" "$T/power"
"$BIN" kill "$T/kill" 1000 | sed '/^1\.\./d'
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
"$BIN" power "$T/power" 1000 | sed 's/^ok 1 /ok 3 /; s/^not ok 1 /not ok 3 /; /^1\.\./d'
rc=${PIPESTATUS[0]}
echo "1..3"
exit "$rc"
