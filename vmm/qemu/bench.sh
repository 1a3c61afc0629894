#!/bin/sh
# Boot the nested guest N times with each QEMU variant, in one run of the
# outer guest, and print a table of KVM exits, ECAM accesses that reached QEMU
# and boot times (medians).  See nested.py for the variants.
#
#   N=5 vmm/qemu/bench.sh [VARIANT...]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
N=${N:-5}
[ $# -gt 0 ] || set -- stock patched patched-off stock-lastbus0 stock-ecamscan patched-ecamscan patched-off-ecamscan
out=$TOP/build/vmm/bench-$(date +%Y%m%d-%H%M%S).txt
mkdir -p "$TOP/build/vmm"
python3 "$HERE/nested.py" nested -n "$N" "$@" | tee "$out"
echo "table saved in $out"
