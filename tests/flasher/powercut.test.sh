#!/usr/bin/env bash
# powercut.test.sh (make check): the random power cuts of
# powercut.stress.sh, short: 24 cuts (6 rounds of 4 devices), no sweep.
# POWERCUT_SEED replays a run.
POWERCUT_CUTS=${POWERCUT_CUTS:-24} POWERCUT_SWEEP=0 \
    exec bash "$(dirname "$0")/powercut.stress.sh"
