#!/usr/bin/env bash
# powercut.stress.sh (make stress): device power cuts during stamp writes
# and commits, through the real host code (flasher_run + the stamp job of
# tools/stamp_tool: info, csr, stage, read back, commit) against
# stampdev-emu devices whose flash persists across emulator runs.
#
# 1. Random cuts (POWERCUT_CUTS, default 520): rounds of POWERCUT_DEVICES
#    (4) devices at once, each with its own cut: powercut@B at a random
#    byte B of the stamp image (two thirds) or commit-cut@N at a random
#    byte N of the commit marker (one third). After every cut:
#    - the host reported that device FAILED (no silent success);
#    - the flash, read back slot by slot with `station inspect` (signature
#      by the trusted signer, hardware id) and the commit-marker bytes of
#      stamp-format/SPEC.md section 4, has exactly one active slot, valid,
#      holding the generation that was active before the cut: a partial
#      or uncommitted stamp is never active;
#    - plugged in again, the device reports that generation (flasher info);
#    - the host retries and commits generation + 1, which flasher info and
#      the flash then show.
#    Prints the counts (cuts, stage / commit cuts, reported, retried,
#    violations) and the seed (POWERCUT_SEED replays a run).
# 2. The sweep (POWERCUT_SWEEP=1, the default here): every 8th byte of the
#    image and every byte of the commit marker, one device at a time.
# tests/flasher/powercut.test.sh (make check) runs part 1 with 16 cuts.
. "$(dirname "$0")/../lib/tap.sh"
EMU=${EMU:-$TOP/${BUILD:-build}/stampdev-emu}
TOOL=${TOOL:-$TOP/${BUILD:-build}/tools/stamp_tool}
STATION=${STATION:-$TOP/${BUILD:-build}/station}
KEY=$TOP/stamp-format/vectors/signer-key.pem
SIGNER=$TOP/stamp-format/vectors/signer.pem
CUTS=${POWERCUT_CUTS:-520}
DEVS=${POWERCUT_DEVICES:-4}
SEED=${POWERCUT_SEED:-$(( $(date +%s) % 32768 ))}
emu() { timeout 120 "$EMU" --state "$1" --trust "$SIGNER" --keygen-ms 0 "${@:2}"; }
cd "$TOP"

# active_slot ST K: "A GEN" / "B GEN": the active slot by the boot rule of
# SPEC.md section 4 (image valid by station inspect, commit marker
# matching it; of two, the higher generation); "none" if no slot
# qualifies; "bad" if a slot with marker bytes fails to verify.
active_slot() {
	local part="$1/dev-$2/stamp.part" hw s skip found="" out gen dig mk want
	hw=$(cat "$1/dev-$2/serial")
	for s in A B; do
		skip=0; [ $s = B ] && skip=1
		dd if="$part" bs=8192 skip=$skip count=1 2>/dev/null > "$TMP/slot"
		mk=$(tail -c 16 "$TMP/slot" | od -An -v -tx1 | tr -d ' \n')
		[ "${mk:0:8}" = 53434f4d ] || continue  # no marker: never active
		head -c 8176 "$TMP/slot" > "$TMP/img"
		# staging erases the whole slot and the device checks the image
		# before it writes a marker: marker bytes over an image that does
		# not verify mean a partial stamp could be taken for active
		out=$("$STATION" inspect "$TMP/img" --json --trust "$SIGNER" --hardware-id "$hw" 2>&1) || { echo "bad"; return; }
		gen=$(echo "$out" | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
		dig=$(echo "$out" | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')
		want=53434f4d$(printf '%08x' "$gen" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')${dig:0:16}
		[ "$mk" = "$want" ] || continue  # torn marker: ignored
		# if both slots qualify, the higher generation is active
		if [ -z "$found" ] || [ "$gen" -gt "${found#* }" ]; then found="$s $gen"; fi
	done
	echo "${found:-none}"
}

random_cuts() {
	local st="$TMP/rand" imglen k n=0 stage=0 commit=0 reported=0 retried=0 bad=0
	local -a gen faults f
	RANDOM=$SEED
	emu "$st" --devices "$DEVS" -- "$TOOL" --signer "$KEY" >/dev/null 2>&1 || { not_ok "random cuts: first stamps"; return; }
	for k in $(seq "$DEVS"); do gen[$k]=1; done
	head -c 8176 "$st/dev-1/stamp.part" > "$TMP/img"
	imglen=$("$STATION" inspect "$TMP/img" --json | sed -n 's/.*"total_length": \([0-9]*\).*/\1/p')
	[ -n "$imglen" ] || { not_ok "random cuts: image length"; return; }
	while [ "$n" -lt "$CUTS" ]; do
		faults=()
		for k in $(seq "$DEVS"); do
			if [ $((RANDOM % 3)) = 0 ]; then
				f[$k]="commit-cut@$((RANDOM % 16))"; commit=$((commit + 1))
			else
				f[$k]="powercut@$((RANDOM % imglen))"; stage=$((stage + 1))
			fi
			faults+=(--fault "$k:${f[$k]}")
		done
		n=$((n + DEVS))
		out=$(emu "$st" --devices "$DEVS" "${faults[@]}" -- "$TOOL" --signer "$KEY" 2>/dev/null)
		for k in $(seq "$DEVS"); do
			hw=$(cat "$st/dev-$k/serial")
			case "$out" in *"1-$k $hw FAILED"*) reported=$((reported + 1)) ;;
			*) bad=$((bad + 1)); echo "# device $k, ${f[$k]}: not reported as failed: $out" ;; esac
			a=$(active_slot "$st" "$k")
			case "$a" in
			"A ${gen[$k]}"|"B ${gen[$k]}") ;;
			*) bad=$((bad + 1)); echo "# device $k, ${f[$k]}: active after the cut: '$a', expected generation ${gen[$k]}" ;;
			esac
		done
		out=$(emu "$st" --devices "$DEVS" -- bash -c "'$TOOL' --info; '$TOOL' --signer '$KEY'; '$TOOL' --info" 2>/dev/null)
		for k in $(seq "$DEVS"); do
			hw=$(cat "$st/dev-$k/serial")
			before=$(echo "$out" | grep -m1 "^1-$k $hw generation" | awk '{print $4}')
			after=$(echo "$out" | grep "^1-$k $hw generation" | tail -1 | awk '{print $4}')
			if [ "$before" != "${gen[$k]}" ]; then
				bad=$((bad + 1)); echo "# device $k, ${f[$k]}: reports generation '$before' after the cut, expected ${gen[$k]}"
			fi
			gen[$k]=$((gen[$k] + 1))
			a=$(active_slot "$st" "$k")
			if echo "$out" | grep -q "^1-$k $hw ok" && [ "$after" = "${gen[$k]}" ] && [ "$a" = "A ${gen[$k]}" -o "$a" = "B ${gen[$k]}" ]; then
				retried=$((retried + 1))
			else
				bad=$((bad + 1)); echo "# device $k, ${f[$k]}: retry: reports '$after', flash '$a', expected ${gen[$k]}"
				gen[$k]=${after:-${gen[$k]}}
			fi
		done
	done
	echo "# power cuts: $n (stage writes $stage, commit markers $commit), reported failed $reported, retried and committed $retried, violations $bad; seed $SEED"
	is "$bad" 0 "$n random power cuts (seed $SEED): no partial stamp ever active, every cut reported, every retry commits"
	is "$reported" "$n" "every cut reported by the host ($reported of $n)"
	is "$retried" "$n" "every cut device retried and committed ($retried of $n)"
}

sweep() {  # sweep FAULT...: one round per fault, one device
	for f in "$@"; do
		st="$TMP/st-$f"
		emu "$st" -- "$TOOL" --signer "$KEY" >/dev/null 2>&1 || { not_ok "$f: first stamp"; continue; }
		run emu "$st" --fault "$f" -- "$TOOL" --signer "$KEY"
		[ "$RC" = 1 ] || { not_ok "$f: the cut run reports failure (rc $RC)"; continue; }
		run emu "$st" -- "$TOOL" --info
		case "$OUT" in *"generation 1 locked 0"*) ;; *) not_ok "$f: generation 1 still active ($OUT)"; continue ;; esac
		run emu "$st" -- "$TOOL" --signer "$KEY"
		[ "$RC" = 0 ] || { not_ok "$f: retry commits ($OUT)"; continue; }
		run emu "$st" -- "$TOOL" --info
		case "$OUT" in *"generation 2 locked 0"*) ok "$f: previous stamp kept, retry commits" ;; *) not_ok "$f: generation 2 after retry ($OUT)" ;; esac
		rm -rf "$st"
	done
}

t0=$SECONDS
random_cuts
echo "# random cuts took $((SECONDS - t0)) s"
if [ "${POWERCUT_SWEEP:-1}" = 1 ]; then
	sweep $(seq -f 'powercut@%g' 0 8 351) powercut@351  # the image is 352 bytes
	sweep $(seq -f 'commit-cut@%g' 0 15)
fi
finish
