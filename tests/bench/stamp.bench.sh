#!/usr/bin/env bash
# stamp.bench.sh: the stamp reader's cost next to the SHA-256 it has to do
# anyway (same run, build/tools/bench_stamp), and its code size for a
# Cortex-M4 (arm-none-eabi-gcc -Os -mthumb -mcpu=cortex-m4), without the
# builder (stamp_build.c), the strings and any crypto (callbacks).
set -eu
BUILD=${BUILD:-build}
"$BUILD/tools/bench_stamp"

# Size: the reader is everything in stamp.c built with -DSTAMP_NO_STRINGS
# except the two secret-opening functions, reported on their own. There is no libc for arm-none-eabi here: a three-line
# <string.h> declares memcpy/memset/memcmp, which are libc, not counted.
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\nint memcmp(const void *, const void *, size_t);\n' > "$T/string.h"
arm-none-eabi-gcc -ffreestanding -isystem "$T" -Os -mthumb -mcpu=cortex-m4 \
    -std=c11 -Wall -Wextra -Wconversion -Werror -ffunction-sections \
    -DSTAMP_NO_STRINGS -c -o "$T/stamp.o" stamp-format/stamp.c
reader=0; secret=0
while read -r _ size kind name; do
	case "$kind" in t|T) ;; *) continue ;; esac
	case "$name" in
	stamp_secret_*) secret=$((secret + 0x$size)) ;;
	*) reader=$((reader + 0x$size)) ;;
	esac
done < <(arm-none-eabi-nm -S "$T/stamp.o")
[ "$reader" -lt 2048 ] && verdict="under the" || verdict="OVER the"
echo "BENCH stamp.code_size $reader B - stamp reader .text, Cortex-M4 -Os -mthumb (image + info/keygen/commit readers, no crypto, no builder)"
echo "NOTE stamp.code_size $verdict 2048 B target; secret opening (stamp_secret_open + _context) adds $secret B"
