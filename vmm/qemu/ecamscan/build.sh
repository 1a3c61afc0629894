#!/bin/sh
# Build the ecamscan multiboot guest: build.sh OUTPUT.elf
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
out=$1
tmp=$(mktemp -d)
gcc -m32 -O2 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables \
    -nostdlib -c "$HERE/ecamscan.c" -o "$tmp/ecamscan.o"
gcc -m32 -c "$HERE/start.S" -o "$tmp/start.o"
ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T "$HERE/ecamscan.ld" -o "$out" "$tmp/start.o" "$tmp/ecamscan.o"
rm -rf "$tmp"
