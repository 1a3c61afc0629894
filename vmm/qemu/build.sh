#!/bin/sh
# Build Debian 12's QEMU 7.2 (the version /usr/bin/qemu-system-x86_64 comes
# from) with the patches in this directory applied, for x86_64-softmmu only.
#
#   vmm/qemu/build.sh            fetch, patch, configure, build (incremental)
#   vmm/qemu/build.sh export     regenerate vmm/qemu/*.patch from the git tree
#
# Everything it makes is under build/vmm/: src/ (apt-get source, made a git
# tree whose root commit is Debian's tree), obj/ (the meson build directory),
# ccache/ and the binary build/vmm/qemu-system-x86_64.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
VMM=${VMM_DIR:-$TOP/build/vmm}
VERSION=${QEMU_DEB_VERSION:-1:7.2+dfsg-7+deb12u18}
UPSTREAM=$(echo "$VERSION" | sed 's/^[0-9]*://; s/-[^-]*$//')      # 7.2+dfsg
SRC=$VMM/src/qemu-$UPSTREAM
OBJ=$VMM/obj
BASE_TAG=debian/$(echo "$VERSION" | tr ':~' '%_')
BRANCH=vmm
JOBS=${JOBS:-2}
export CCACHE_DIR=${CCACHE_DIR:-$VMM/ccache}

say() { printf 'vmm/qemu: %s\n' "$*" >&2; }

CONFIGURE_ARGS="--target-list=x86_64-softmmu
--without-default-features
--enable-system --disable-user --disable-tools
--enable-kvm --enable-tcg --enable-fdt=system
--disable-docs --disable-werror --disable-debug-info
--disable-install-blobs
--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu"

git_src() { git -C "$SRC" -c user.name="${VMM_GIT_NAME:-Seed 11d55f7c maintainers}" -c user.email="${VMM_GIT_EMAIL:-maintainers@users.noreply.b-seed-11d55f7c.example}" "$@"; }

patches_sum() { cat "$HERE"/*.patch 2>/dev/null | sha256sum | cut -d' ' -f1; }

# --- deb-src ---------------------------------------------------------------
ensure_deb_src() {
    if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
       && apt-cache showsrc qemu 2>/dev/null | grep -qx "Version: $VERSION"; then
        return 0
    fi
    src=/etc/apt/sources.list.d/debian.sources
    line=$(sed -n 's/^Types: deb$/Types: deb-src/p; /^URIs:/p; /^Suites:/p; /^Components:/p; /^Signed-By:/p; /^$/p' "$src" 2>/dev/null || true)
    if [ "$(id -u)" != 0 ]; then
        say "no deb-src entry for qemu $VERSION; as root, add this as /etc/apt/sources.list.d/debian-src.sources and rerun:"
        printf '%s\n' "$line"
        exit 1
    fi
    say "adding /etc/apt/sources.list.d/debian-src.sources"
    printf '%s\n' "$line" > /etc/apt/sources.list.d/debian-src.sources
    apt-get update -q
}

# --- the few packages a minimal configure needs -------------------------------
ensure_deps() {
    need=
    for p in gcc make ninja-build meson pkg-config python3 libglib2.0-dev \
             libpixman-1-dev libfdt-dev zlib1g-dev flex bison ccache git dpkg-dev \
             seabios ipxe-qemu qemu-system-data; do
        dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
    done
    [ -z "$need" ] && return 0
    if [ "$(id -u)" != 0 ]; then say "missing packages:$need (apt-get install them as root)"; exit 1; fi
    say "installing$need"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
}

# --- source tree as git, root commit = Debian's tree --------------------------
ensure_src() {
    if [ ! -d "$SRC" ]; then
        ensure_deb_src
        mkdir -p "$VMM/src"
        (cd "$VMM/src" && apt-get source -q "qemu=$VERSION")
    fi
    if [ ! -d "$SRC/.git" ]; then
        git -C "$SRC" init -q
        printf '/.pc/\n' >> "$SRC/.git/info/exclude"
        git_src add -A -f .
        git_src rm -r -q --cached .pc >/dev/null 2>&1 || true
        git_src commit -q -m "Debian qemu $VERSION (debian/patches applied)"
        git_src tag "$BASE_TAG"
        git_src branch -M "$BRANCH"
    fi
}

apply_patches() {
    sum=$(patches_sum)
    if [ "$(cat "$SRC/.git/vmm-patches.sum" 2>/dev/null)" = "$sum" ]; then
        return 0
    fi
    say "applying $(ls "$HERE"/*.patch 2>/dev/null | grep -vc 0000-cover-letter) patches on $BASE_TAG"
    git_src am --abort >/dev/null 2>&1 || true
    git_src checkout -q -B "$BRANCH" "$BASE_TAG"
    for p in "$HERE"/*.patch; do
        case $p in */0000-cover-letter.patch|*'*.patch') continue ;; esac
        git_src am -q --keep-cr "$p"
    done
    echo "$sum" > "$SRC/.git/vmm-patches.sum"
}

configure() {
    args=$(printf '%s\n' "$CONFIGURE_ARGS" | tr '\n' ' ')
    stamp="$args ccache-v1"     # bump when the way configure is run changes
    if [ -f "$OBJ/build.ninja" ] && [ "$(cat "$OBJ/.vmm-configure" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    rm -rf "$OBJ"; mkdir -p "$OBJ"
    # QEMU's configure writes the compiler into meson's native file, so meson
    # does not add ccache by itself: name it in --cc/--cxx.
    (cd "$OBJ" && "$SRC/configure" --cc="ccache gcc" --cxx="ccache g++" $args)
    echo "$stamp" > "$OBJ/.vmm-configure"
}

build() {
    start=$(date +%s)
    ninja -C "$OBJ" -j"$JOBS" qemu-system-x86_64
    end=$(date +%s)
    cp -f "$OBJ/qemu-system-x86_64" "$VMM/qemu-system-x86_64.new"
    mv -f "$VMM/qemu-system-x86_64.new" "$VMM/qemu-system-x86_64"
    say "built $VMM/qemu-system-x86_64 (ninja: $((end - start)) s)"
}

export_patches() {
    [ -d "$SRC/.git" ] || { say "no git tree at $SRC"; exit 1; }
    rm -f "$HERE"/*.patch
    git_src format-patch -q --cover-letter --no-signature --zero-commit \
        --base="$BASE_TAG" -o "$HERE" "$BASE_TAG..$BRANCH"
    # Keep the hand-written cover letter text (vmm/qemu/cover-letter.txt:
    # first line subject, then the body) instead of the *** placeholders.
    if [ -f "$HERE/cover-letter.txt" ]; then
        python3 - "$HERE/0000-cover-letter.patch" "$HERE/cover-letter.txt" <<'PY'
import sys
path, text = sys.argv[1], open(sys.argv[2]).read()
subject, _, body = text.partition('\n')
s = open(path).read()
s = s.replace('*** SUBJECT HERE ***', subject.strip())
s = s.replace('*** BLURB HERE ***', body.strip('\n'))
open(path, 'w').write(s)
PY
    fi
    patches_sum > "$SRC/.git/vmm-patches.sum"
    say "exported $(ls "$HERE"/*.patch | wc -l) files to $HERE"
}

case ${1:-build} in
    build)  ensure_deps; ensure_src; apply_patches; configure; build ;;
    export) export_patches ;;
    src)    ensure_deps; ensure_src; apply_patches ;;
    *) echo "usage: $0 [build|export|src]" >&2; exit 2 ;;
esac
