#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel test robot's checks, on the .c files a series changes:
#
#   robots.sh sparse TREE OUT   sparse (C=2) on each changed file the test
#                               config builds; OUT is TREE's configured
#                               build directory (make lint's W=1 one)
#   robots.sh cocci TREE        every scripts/coccinelle script, report mode
#
# A finding counts only if the base version of the file does not have it
# too (compared without line numbers): the base is a work tree of the root
# commit of its own, build/lint-base, built in build/out/lint-base.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
check=$1
tree=$(cd "$2" && pwd)	# absolute: make -C runs in it, O= is taken from there
base=$top/build/lint-base
bout=$top/build/out/lint-base
root=$(git -C "$tree" rev-list --max-parents=0 HEAD)
files=$(git -C "$tree" diff --name-only --diff-filter=d "$root" HEAD |
	grep -E '^(arch|drivers|virt|mm|kernel|samples)/.*\.c$' || true)
[ -n "$files" ] || exit 0

[ -e "$base/.git" ] || git -C "$tree" worktree add -q --detach "$base" "$root"
git -C "$base" checkout -q --detach "$root"

# A finding without its line and column numbers.
unnumbered() {
	sed -E 's/:[0-9]+(:[0-9]+(-[0-9]+)?)?:/:/' | sort -u
}

in_base() {
	git -C "$tree" cat-file -e "$root:$1" 2>/dev/null
}

# sparse's warnings for FILE in TREE, built in OUT, with paths relative to
# TREE so that the base's and the series' compare.
sparse_file() {
	make -s -C "$1" O="$2" CC="ccache gcc" C=2 "${3%.c}.o" 2>&1 |
		grep -E ': (warning|error):' | sed "s|$1/||" | unnumbered || true
}

run_sparse() {
	out=$1
	mkdir -p "$bout"
	cp "$out/.config" "$bout/.config"
	make -s -C "$base" O="$bout" CC="ccache gcc" olddefconfig
	n=0 new=0
	for f in $files; do
		[ -f "$out/${f%.c}.o" ] || continue	# not in the test config
		n=$((n + 1))
		sparse_file "$tree" "$out" "$f" > "$bout/after"
		: > "$bout/before"
		if in_base "$f"; then
			sparse_file "$base" "$bout" "$f" > "$bout/before"
		fi
		if comm -13 "$bout/before" "$bout/after" | grep .; then
			new=1
		fi
	done
	echo "lint: sparse on $n changed files: $([ "$new" = 0 ] && echo 'nothing new' || echo 'new warnings above')"
	return "$new"
}

# Every coccinelle script in report mode over the files, in DIR.
cocci_files() {
	dir=$1
	shift
	for s in "$dir"/scripts/coccinelle/*/*.cocci "$dir"/scripts/coccinelle/*/*/*.cocci; do
		opts=$(sed -n 's|^// *Options: *||p' "$s" | head -1)
		# shellcheck disable=SC2086
		(cd "$dir" && spatch -D report --no-show-diff --very-quiet $opts \
			--cocci-file "$s" -I arch/x86/include -I include \
			-I arch/x86/include/uapi -I include/uapi \
			--include include/linux/kconfig.h "$@" 2>/dev/null) || true
	done | sed "s|$dir/||" | unnumbered
}

run_cocci() {
	tmp=$(mktemp -d)
	# shellcheck disable=SC2086
	cocci_files "$tree" $files > "$tmp/after"
	olds=""
	for f in $files; do
		in_base "$f" && olds="$olds $f"
	done
	# shellcheck disable=SC2086
	[ -z "$olds" ] || cocci_files "$base" $olds > "$tmp/before"
	touch "$tmp/before"
	new=0
	comm -13 "$tmp/before" "$tmp/after" | grep . && new=1
	echo "coccicheck: $(echo $files | wc -w) changed files, $(wc -l < "$tmp/after") findings," \
		"$(comm -13 "$tmp/before" "$tmp/after" | grep -c . || true) not in the base"
	rm -rf "$tmp"
	return "$new"
}

case $check in
sparse) run_sparse "$(cd "$3" && pwd)" ;;
cocci) run_cocci ;;
*) echo "usage: robots.sh sparse TREE OUT | cocci TREE" >&2; exit 2 ;;
esac
