#!/usr/bin/env bash
# powercut.test.sh (make check): the random power cuts of
# powercut.stress.sh, short: 16 cuts (4 rounds of 4 devices; ~10 s idle, ~25 s on a loaded
# machine), no sweep.
# POWERCUT_SEED replays a run.
POWERCUT_CUTS=${POWERCUT_CUTS:-16} POWERCUT_SWEEP=0 \
    exec bash "$(dirname "$0")/powercut.stress.sh"
