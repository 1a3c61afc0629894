#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel test robot's checks, on the .c files a series changes:
#
#   robots.sh sparse TREE OUT   sparse (C=2) on each changed file the test
#                               config builds; OUT is TREE's configured
#                               build directory (make lint's W=1 one)
#   robots.sh cocci TREE        every scripts/coccinelle script, report mode,
#                               one spatch per core
#
# A finding counts only if the base version of the file does not have it
# too (compared without line numbers): the base is a work tree of the root
# commit of its own, build/lint-base, built in build/out/lint-base.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

# One coccinelle script in report mode over the files, in DIR; each finding
# is prefixed with the script's name, so that the base pass can rerun only
# the scripts that found something.
cocci_script() {
	s=$1 dir=$2
	shift 2
	opts=$(sed -n 's|^// *Options: *||p' "$s" | head -1)
	# shellcheck disable=SC2086
	(cd "$dir" && spatch -D report --no-show-diff --very-quiet $opts \
		--cocci-file "$s" -I arch/x86/include -I include \
		-I arch/x86/include/uapi -I include/uapi \
		--include include/linux/kconfig.h "$@" 2>/dev/null) |
		sed "s|^|${s##*/scripts/coccinelle/} |" || true
}

if [ "${1:-}" = cocci-script ]; then	# one xargs worker of run_cocci
	shift
	cocci_script "$@"
	exit 0
fi

usage() {
	echo "usage: robots.sh sparse TREE OUT | cocci TREE" >&2
	exit 2
}
[ $# -ge 2 ] || usage
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

# A finding without its line and column numbers, including the ones some
# coccinelle messages name ("... bound on line 1953 ..."), so that code the
# series only moved does not count as new.
unnumbered() {
	sed -E -e 's/:[0-9]+(:[0-9]+(-[0-9]+)?)?:/:/' -e 's/ line [0-9]+/ line N/g' | sort -u
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

# The scripts (relative to scripts/coccinelle/) over the files, in DIR, one
# spatch per core: the scripts are independent, and one pass over all of
# them takes minutes.
cocci_files() {
	cdir=$1 cscripts=$2
	shift 2
	printf '%s\n' $cscripts | sed "s|^|$cdir/scripts/coccinelle/|" |
		xargs -r -P "$(nproc)" -I{} sh "$top/harness/robots.sh" cocci-script {} "$cdir" "$@" |
		sed "s|$cdir/||" | unnumbered
}

run_cocci() {
	tmp=$(mktemp -d)
	scripts=$(cd "$tree/scripts/coccinelle" && ls */*.cocci */*/*.cocci 2>/dev/null)
	# shellcheck disable=SC2086
	cocci_files "$tree" "$scripts" $files > "$tmp/after"
	# The base can only explain a finding of a script that found something,
	# in a file the base has.
	hits=$(cut -d' ' -f1 "$tmp/after" | sort -u)
	olds=""
	for f in $files; do
		in_base "$f" && olds="$olds $f"
	done
	: > "$tmp/before"
	# shellcheck disable=SC2086
	[ -z "$olds" ] || [ -z "$hits" ] || cocci_files "$base" "$hits" $olds > "$tmp/before"
	new=0
	comm -13 "$tmp/before" "$tmp/after" | grep . && new=1
	echo "lint: coccicheck: $(echo "$scripts" | wc -l) scripts on $(echo $files | wc -w) changed files," \
		"$(wc -l < "$tmp/after") findings, $(comm -13 "$tmp/before" "$tmp/after" | grep -c . || true) not in the base"
	rm -rf "$tmp"
	return "$new"
}

case $check in
sparse) run_sparse "$(cd "$3" && pwd)" ;;
cocci) run_cocci ;;
*) usage ;;
esac
