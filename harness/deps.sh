#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the harness needs, or say how to.
# The kernel source itself is pinned in BASE_VERSION and installed by
# harness/series.py (apt-get install linux-source-6.12=VERSION).
set -eu

# python3-ply and python3-git: checkpatch's SPDX check (scripts/spdxcheck.py);
# sparse and coccinelle: make lint's C=2 and coccicheck, as the robots run.
# make coverage needs no package of its own: gcov comes with build-essential's gcc.
PACKAGES="build-essential flex bison bc libelf-dev libssl-dev cpio kmod dwarves
ccache python3 xz-utils busybox-static qemu-system-x86 git rsync python3-ply
python3-git sparse coccinelle"

missing=""
for pkg in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q $missing
