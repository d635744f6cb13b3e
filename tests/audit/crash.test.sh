#!/usr/bin/env bash
# crash.test.sh: the short crash and power-loss runs of make check: 100
# SIGKILLs at random moments (and 30 while creating the database), 100
# power cuts through the VFS shim that drops unsynced writes; nothing
# reported committed may be missing and the log must verify after each
# (tests/audit/crash.c). make stress runs more.
set -u
cd "$(dirname "$0")/../.."
BIN=${BUILD:-build}/testbin/audit-crash
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-crash.XXXXXX"); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/kill" "$T/power"
"$BIN" kill "$T/kill" 100 | sed '/^1\.\./d'
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
# Numbering continues in the second program: rename its TAP lines.
"$BIN" power "$T/power" 100 | sed 's/^ok 1 /ok 3 /; s/^not ok 1 /not ok 3 /; /^1\.\./d'
rc=${PIPESTATUS[0]}
echo "1..3"
exit "$rc"
