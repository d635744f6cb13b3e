#!/usr/bin/env bash
# tamper.stress.sh: 20000 random mutations, fresh seed (make stress).
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-tamper.XXXXXX"); trap 'rm -rf "$T"' EXIT
"${BUILD:-build}/testbin/audit-tamper" "$T" 20000 "$(date +%s)"
