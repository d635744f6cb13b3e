#!/usr/bin/env bash
# install.test.sh: `make install` honours PREFIX and DESTDIR: the programs
# in DESTDIR/PREFIX/bin (0755, runnable), README and docs/ in the doc
# folder, the stamp format's SPEC.md and test vectors beside them; nothing
# outside DESTDIR.
. "$(dirname "$0")/../lib/tap.sh"
D="$TMP/pkg"
run make -C "$TOP" --no-print-directory BUILD="${BUILD:-build}" install PREFIX=/usr DESTDIR="$D"
is "$RC" 0 "make install PREFIX=/usr DESTDIR=… exits 0"
for p in station stampdev-emu; do
	is "$(stat -c %a "$D/usr/bin/$p" 2>/dev/null)" 755 "$p installed in PREFIX/bin, mode 0755"
done
run "$D/usr/bin/station" --help
is "$RC" 0 "the installed station runs (--help)"
DOC="$D/usr/share/doc/station"
n=0
for f in README.md $(cd "$TOP" && ls docs/*.md | sed 's|docs/||'); do
	[ -f "$DOC/$f" ] || { n=$((n + 1)); echo "# missing: $DOC/$f"; }
done
is "$n" 0 "README.md and every docs/*.md in PREFIX/share/doc/station"
[ -f "$DOC/stamp-format/SPEC.md" ]; is $? 0 "the stamp format's SPEC.md installed"
is "$(ls "$DOC/stamp-format/vectors" | wc -l)" "$(ls "$TOP/stamp-format/vectors" | wc -l)" "the stamp test vectors installed"
is "$(find "$D" -mindepth 1 -maxdepth 1 | sed "s|$D/||")" usr "nothing outside DESTDIR/PREFIX"
finish
