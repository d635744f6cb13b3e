#!/usr/bin/env bash
# tamper.test.sh: 1000 random mutations of a real signed log by an attacker
# who recomputes the hash chain (tests/audit/tamper.c); every mutation of a
# sealed event, a checkpoint or the inventory must be caught.
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-tamper.XXXXXX"); trap 'rm -rf "$T"' EXIT
"${BUILD:-build}/testbin/audit-tamper" "$T" 1000 "$(date +%s)"
