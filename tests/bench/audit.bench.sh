#!/usr/bin/env bash
# audit.bench.sh: audit log figures (tests/audit/bench.c): events/s with
# one durable commit each and in groups of 100, chain verification rate on
# 1,000,000 events (target 500,000/s on one core), checkpoint signature
# checks, database bytes per stamped device; each next to a bare-SQLite or
# raw-size baseline from the same run.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
make -s "$BUILD/testbin/audit-bench" >&2
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-bench.XXXXXX"); trap 'rm -rf "$T"' EXIT
"$BUILD/testbin/audit-bench" "$T" "${AUDIT_BENCH_EVENTS:-1000000}"
