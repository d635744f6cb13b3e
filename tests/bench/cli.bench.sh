#!/usr/bin/env bash
# cli.bench.sh: start-up cost of the station program (process + config
# load), next to starting /bin/true, in the same run.
set -eu
H=$(mktemp -d); trap 'rm -rf "$H"' EXIT
printf '[station]\nid = BENCH\nmode = development\n[hsm]\ntoken = pkcs11:token=bench\n' > "$H/station.conf"
N=300
rate() {  # rate CMD...: runs per second of CMD over N runs
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq $N); do "$@" >/dev/null; done
	t1=$(date +%s%N)
	echo $(( N * 1000000000 / (t1 - t0) ))
}
ours=$(rate "$STATION" config --home "$H" --quiet)
base=$(rate /bin/true)
echo "BENCH cli.config $ours runs/s cli.true \`station config\` (start + parse station.conf)"
echo "BENCH cli.true $base runs/s - /bin/true"
