#!/usr/bin/env bash
# token.stress.sh (make stress): 20,000 device keys made in the token and
# sealed on 2 threads, each opened with stamp.c and the transport key and
# checked against the public key that was certified; each then sealed to the
# station transport key, re-wrapped in the token and opened again.
. "$(dirname "$0")/../lib/tap.sh"
TOOL="$TOP/${BUILD:-build}/test-tools/hsm-tool"
"$STATION" pki demo --home "$TMP/home" >/dev/null || { echo "Bail out! pki demo"; exit 1; }
run "$TOOL" "$TMP/home" token-stress 10000 2
is "$OUT" "20000 token-mode keys and re-wraps, 0 failed" "20,000 token-mode keys and re-wraps on 2 threads, all verified"
finish
