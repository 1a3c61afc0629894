#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make lint: the checks a maintainer runs before applying the series.
# With SERIES=NAME, that series' patches and its own tree (build/series/NAME).
#  1. scripts/checkpatch.pl --strict on every patch in patches/: 0 errors,
#     0 warnings, 0 checks, except the types listed with a reason in
#     harness/checkpatch.exceptions; and a maintainer for every added file.
#  2. A W=1 build of every directory the series touches (test config, in a
#     build directory of its own so the normal build is not redone).
#  3. sparse (C=2) on every changed .c file the test config builds: warnings
#     the base version of the file does not have (harness/robots.sh).
#  4. scripts/kernel-doc -Wall on every changed .c/.h file: warnings the base
#     version of the file does not have.
#  5. coccicheck: every scripts/coccinelle script in report mode on the
#     changed .c files, findings the base version lacks (harness/robots.sh);
#     the slowest step, a few minutes on two cores.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=${SERIES:-patched}
if [ -n "${SERIES:-}" ]; then
	tree=$top/build/series/$SERIES
	patches=$(ls "$top/patches/$SERIES"/[0-9]*.patch 2>/dev/null | grep -v '/0000-' || true)
else
	tree=$top/build/linux
	patches=$(ls "$top"/patches/*/[0-9]*.patch 2>/dev/null | grep -v '/0000-' || true)
fi
out=$top/build/out/lint${SERIES:+-$SERIES}
status=0

if [ -z "$patches" ]; then
	echo "lint: the series is empty: nothing to check"
	exit 0
fi

# checkpatch runs scripts/spdxcheck.py with the first python3 on PATH; make
# that Debian's, which has the python3-ply and python3-git deps.sh installs
# (a pyenv or venv python3 first on PATH would not).
PATH=/usr/bin:$PATH

ignore=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/harness/checkpatch.exceptions" |
	awk '{print $1}' | paste -sd, -)
echo "lint: checkpatch --strict${ignore:+ (exceptions: $ignore)}"
for p in $patches; do
	if ! (cd "$tree" && ./scripts/checkpatch.pl --strict --quiet --show-types \
		${ignore:+--ignore "$ignore"} "$p"); then
		status=1
	fi
done

root=$(git -C "$tree" rev-list --max-parents=0 HEAD)
changed=$(git -C "$tree" diff --name-only --diff-filter=d "$root" HEAD)

# checkpatch's FILE_PATH_CHANGES only asks; answer it: every file the series
# adds must have a maintainer in MAINTAINERS (as patched by the series).
added=$(git -C "$tree" diff --name-only --diff-filter=A "$root" HEAD)
for f in $added; do
	m=$(cd "$tree" && ./scripts/get_maintainer.pl --no-git --no-git-fallback \
		--m --no-l --no-r --no-rolestats -f "$f" 2>/dev/null || true)
	if [ -z "$m" ]; then
		echo "lint: $f: no maintainer in MAINTAINERS" >&2
		status=1
	fi
done
dirs=$(printf '%s\n' "$changed" | grep -E '^(arch|drivers|virt|mm|kernel|samples)/.*\.c$' |
	xargs -r -n1 dirname | sort -u)
if [ -n "$dirs" ]; then
	echo "lint: W=1 build of:" $dirs
	python3 "$top/harness/kbuild.py" config "$src" test
	mkdir -p "$out"
	cp "$top/build/out/$src-test/.config" "$out/.config"
	make -s -C "$tree" O="$out" CC="ccache gcc" olddefconfig
	: > "$out/w1.log"
	for d in $dirs; do
		make -s -C "$tree" O="$out" -j"$(nproc)" CC="ccache gcc" W=1 "$d/" 2>&1 |
			tee -a "$out/w1.log" | grep -E 'warning:|error:' && status=1
	done
	sh "$top/harness/robots.sh" sparse "$tree" "$out" || status=1
fi

# kernel-doc warnings of a file, without line numbers, so that the base and
# the patched version of a file can be compared.
kdoc() {
	"$tree/scripts/kernel-doc" -none -Wall "$1" 2>&1 | sed 's/:[0-9]*: /: /' | sort -u
}
files=$(printf '%s\n' "$changed" | grep -E '\.(c|h)$' | grep -v '^tools/' || true)
if [ -n "$files" ]; then
	echo "lint: kernel-doc -Wall on" $(echo "$files" | wc -w) "files"
	tmp=$(mktemp -d)
	for f in $files; do
		git -C "$tree" show "$root:$f" > "$tmp/base.${f##*.}" 2>/dev/null ||
			: > "$tmp/base.${f##*.}"
		kdoc "$tmp/base.${f##*.}" | sed "s|$tmp/base.${f##*.}|$f|" > "$tmp/before"
		(cd "$tree" && kdoc "$f") > "$tmp/after"
		comm -13 "$tmp/before" "$tmp/after" | grep . && status=1
	done
	rm -rf "$tmp"
fi
sh "$top/harness/robots.sh" cocci "$tree" || status=1
[ "$status" = 0 ] && echo "lint: clean"
exit "$status"
