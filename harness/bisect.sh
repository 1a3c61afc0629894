#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bisect: build the kernel (test config) and the KVM and VFIO selftests
# after every patch of the series, so that each one is known to build.  One
# work tree, checked out patch by patch, keeps the builds incremental.
# With SERIES=NAME: the patches of its own tree (build/series/NAME), that is
# the series it requires, then its own.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/${SERIES:+series/}${SERIES:-linux}
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
# The test kernel's configuration as it is now (configs/ may have changed
# since the last bisect); olddefconfig adapts it to each patch.  FROM=n
# starts at patch n, when the earlier ones are known to build.
python3 "$top/harness/kbuild.py" config patched test
cmp -s "$top/build/out/patched-test/.config" "$out/.config" ||
	cp "$top/build/out/patched-test/.config" "$out/.config"
n=0
total=$(echo "$commits" | wc -l)
for c in $commits; do
	n=$((n + 1))
	[ "$n" -ge "${FROM:-1}" ] || continue
	git -C "$wt" checkout -q --detach "$c"
	echo "bisect: [$n/$total] $(git -C "$wt" log -1 --format='%h %s')"
	make -s -C "$wt" O="$out" -j"$(nproc)" CC="ccache gcc" olddefconfig bzImage headers ||
		{ echo "bisect: the kernel does not build after patch $n"; exit 1; }
	make -s -C "$wt/tools/testing/selftests/kvm" -j"$(nproc)" CC="ccache gcc" \
		OUTPUT="$out/selftests" KHDR_INCLUDES="-isystem $out/usr/include" ||
		{ echo "bisect: the KVM selftests do not build after patch $n"; exit 1; }
	if [ -f "$wt/tools/testing/selftests/vfio/Makefile" ]; then
		make -s -C "$wt/tools/testing/selftests/vfio" -j"$(nproc)" CC="ccache gcc" \
			OUTPUT="$out/selftests-vfio" KHDR_INCLUDES="-isystem $out/usr/include" ||
			{ echo "bisect: the VFIO selftests do not build after patch $n"; exit 1; }
	fi
done
if [ "${FROM:-1}" -gt 1 ]; then
	echo "bisect: patches ${FROM}-$total build"
else
	echo "bisect: all $total patches build"
fi
