# tests/lib/tap.sh: a small TAP library for integration scripts.
#
#   . "$(dirname "$0")/../lib/tap.sh"
#   run station config --home "$H"     # captures $OUT and $ERR, sets $RC
#   is "$RC" 2 "config: missing file exits 2"
#   err_is "station: ..." "config: missing file message"
#   contains "$OUT" "id = ST-1" "config: prints id"
#   finish                              # plan line; exit 1 on any failure
#
# $STATION is the station binary; $TMP a scratch folder removed at exit.
set -u
_n=0; _fail=0
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATION=${STATION:-$TOP/build/station}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/station-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok()     { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() { _n=$((_n + 1)); _fail=$((_fail + 1)); echo "not ok $_n - $1"; }

# run CMD...: run it, keep stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	"$@" >"$TMP/.out" 2>"$TMP/.err" </dev/null
	RC=$?
	OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		not_ok "$3"; printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
		[ -n "${ERR:-}" ] && printf '#   stderr: %s\n' "$ERR"
	fi
}
# err_is WANT NAME: stderr is exactly WANT
err_is() { is "$ERR" "$1" "$2"; }
# contains HAYSTACK NEEDLE NAME
contains() {
	case "$1" in *"$2"*) ok "$3" ;; *)
		not_ok "$3"; printf '#   missing: %s\n#   in: %s\n' "$2" "$1" | head -20 ;;
	esac
}
finish() {
	echo "1..$_n"
	[ "$_fail" -eq 0 ]
}
