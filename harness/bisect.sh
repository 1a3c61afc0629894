#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bisect: build the kernel (test config) and the KVM selftests after
# every patch of the series, so that each one is known to build.  One work
# tree, checked out patch by patch, keeps the builds incremental.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
wt=$top/build/bisect
out=$top/build/out/bisect
root=$(git -C "$tree" rev-list --max-parents=0 HEAD)
commits=$(git -C "$tree" rev-list --reverse "$root..HEAD")
if [ -z "$commits" ]; then
	echo "bisect: the series is empty: nothing to build"
	exit 0
fi
[ -d "$wt" ] || git -C "$tree" worktree add -q --detach "$wt" "$root"
mkdir -p "$out"
if [ ! -f "$out/.config" ]; then
	cp "$top/build/out/patched-test/.config" "$out/.config" 2>/dev/null ||
		{ python3 "$top/harness/kbuild.py" config patched test &&
		  cp "$top/build/out/patched-test/.config" "$out/.config"; }
fi
n=0
total=$(echo "$commits" | wc -l)
for c in $commits; do
	n=$((n + 1))
	git -C "$wt" checkout -q --detach "$c"
	echo "bisect: [$n/$total] $(git -C "$wt" log -1 --format='%h %s')"
	make -s -C "$wt" O="$out" -j"$(nproc)" CC="ccache gcc" olddefconfig bzImage headers ||
		{ echo "bisect: the kernel does not build after patch $n"; exit 1; }
	make -s -C "$wt/tools/testing/selftests/kvm" -j"$(nproc)" CC="ccache gcc" \
		OUTPUT="$out/selftests" KHDR_INCLUDES="-isystem $out/usr/include" ||
		{ echo "bisect: the KVM selftests do not build after patch $n"; exit 1; }
done
echo "bisect: all $total patches build"
