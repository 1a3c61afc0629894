#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make lint: the checks a maintainer runs before applying the series.
#  1. scripts/checkpatch.pl --strict on every patch in patches/: 0 errors,
#     0 warnings, 0 checks, except the types listed with a reason in
#     harness/checkpatch.exceptions.
#  2. A W=1 build of every directory the series touches (in the test config).
#  3. scripts/kernel-doc -Wall on every changed .c/.h file.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
out=$top/build/out/patched-test
status=0

patches=$(ls "$top"/patches/[0-9]*.patch 2>/dev/null | grep -v '/0000-' || true)
if [ -z "$patches" ]; then
	echo "lint: the series is empty: nothing to check"
	exit 0
fi

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
dirs=$(printf '%s\n' "$changed" | grep -E '^(arch|drivers|virt|mm|kernel)/.*\.c$' |
	xargs -r -n1 dirname | sort -u)
if [ -n "$dirs" ]; then
	echo "lint: W=1 build of:" $dirs
	python3 "$top/harness/kbuild.py" config patched test
	for d in $dirs; do
		make -s -C "$tree" O="$out" -j"$(nproc)" W=1 "$d/" 2>&1 |
			tee "$out/lint-w1.log" | grep -E 'warning:|error:' && status=1
	done
fi

files=$(printf '%s\n' "$changed" | grep -E '\.(c|h)$' | grep -v '^tools/' || true)
if [ -n "$files" ]; then
	echo "lint: kernel-doc -Wall on" $(echo "$files" | wc -w) "files"
	for f in $files; do
		(cd "$tree" && ./scripts/kernel-doc -none -Wall "$f") 2>&1 | grep . && status=1
	done
fi
[ "$status" = 0 ] && echo "lint: clean"
exit "$status"
