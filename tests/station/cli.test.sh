#!/usr/bin/env bash
# cli.test.sh: the CLI frame and config errors, through the real binary:
# exact messages and exit codes.
. "$(dirname "$0")/../lib/tap.sh"

H="$TMP/home"; mkdir -p "$H"

run "$STATION" --help
is "$RC" 0 "--help exits 0"
contains "$OUT" "config       Check station.conf" "--help lists the verbs"

run "$STATION"
is "$RC" 2 "no verb exits 2"

run "$STATION" frobnicate
is "$RC" 2 "unknown verb exits 2"
err_is "station: unknown verb 'frobnicate'; see 'station --help'" "unknown verb message"

run "$STATION" config --help
is "$RC" 0 "config --help exits 0"
contains "$OUT" "Usage: station config" "config --help shows usage"

run "$STATION" config --bogus
is "$RC" 2 "unknown option exits 2"

run env -u STATION_HOME "$STATION" config
is "$RC" 2 "no home exits 2"
err_is "station: no station home: pass --home DIR or set STATION_HOME" "no home message"

run "$STATION" config --home "$H"
is "$RC" 2 "missing station.conf exits 2"
err_is "station: cannot read $H/station.conf: No such file or directory (create a demo home with 'station pki demo --home DIR', or check --home)" "missing file message"

printf '[station]\nid = ST-1\nmode = development\n[hsm]\ntoken = pkcs11:token=demo\n[audit]\ncheckpoint_every = lots\n' > "$H/station.conf"
run "$STATION" config --home "$H"
is "$RC" 2 "wrong type exits 2"
err_is "station: $H/station.conf:7: [audit] checkpoint_every: expected an integer from 1 to 1000000, got 'lots'" "wrong type message"

printf '[station]\nid = ST-1\ncolour = blue\n' > "$H/station.conf"
run "$STATION" config --home "$H"
is "$RC" 2 "unknown key exits 2"
err_is "station: $H/station.conf:3: [station] unknown key 'colour'" "unknown key message"

printf '[station]\nid = ST-1\nmode = sometimes\n' > "$H/station.conf"
run "$STATION" config --home "$H"
is "$RC" 2 "bad value exits 2"
err_is "station: $H/station.conf:3: [station] mode: expected development or production, got 'sometimes'" "bad value message"

printf '[station]\nid = ST-1\x00\n' > "$H/station.conf"
run "$STATION" config --home "$H"
is "$RC" 2 "binary file exits 2"
err_is "station: $H/station.conf: contains a NUL byte; expected a text file" "binary file message"

printf '[station]\nid = ST-1\nmode = development\n[hsm]\ntoken = pkcs11:token=demo\n' > "$H/station.conf"
run "$STATION" config --home "$H"
is "$RC" 0 "valid config exits 0"
contains "$OUT" "database = $H/station.db" "relative paths resolved against the home"

run env STATION_HOME="$H" "$STATION" config --quiet
is "$RC" 0 "STATION_HOME is the default home"
is "$OUT" "" "--quiet prints nothing"

run "$STATION" config --home "$H" extra
is "$RC" 2 "stray argument exits 2"
err_is "station: config: unexpected argument 'extra'" "stray argument message"

finish
