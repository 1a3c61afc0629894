#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Test and measure the patched QEMU (build/vmm/qemu-system-x86_64).

KVM exists here only inside a guest: the host's QEMU (TCG, EPYC with SVM and
NPT, q35, 4 GiB, as harness/machines/q35.py) boots the patched kernel with an
initramfs of our own (the "outer" guest) that holds a stock and a patched
QEMU; each of them boots, with KVM, a "nested" guest: the same kernel with a
tiny initramfs that lists its PCI functions and powers off.  For each run the
outer guest reports KVM's per-VM exit counters (debugfs) and the ECAM
accesses that reached QEMU (its memory_region_ops_read/write trace events).

  nested.py tcg                 host-only checks, TCG, patched QEMU + monitor
  nested.py nested [-n N] [VARIANT...]
                                nested runs; prints a table (see VARIANTS)

Everything is built under build/vmm/ (initramfs trees, cpio archives, logs).
Standard library only.
"""

import argparse
import os
import re
import shutil
import socket
import stat
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
VMM = Path(os.environ.get('VMM_DIR', TOP / 'build' / 'vmm'))
KERNEL = Path(os.environ.get('KERNEL', TOP / 'build/out/patched-test/arch/x86/boot/bzImage'))
PATCHED = VMM / 'qemu-system-x86_64'
STOCK = Path('/usr/bin/qemu-system-x86_64')
HOST_QEMU = os.environ.get('HOST_QEMU', 'qemu-system-x86_64')
BUSYBOX = Path('/bin/busybox')
FIRMWARE = ['bios-256k.bin', 'kvmvapic.bin', 'linuxboot_dma.bin', 'linuxboot.bin',
            'multiboot_dma.bin', 'multiboot.bin', 'OVMF.fd']
FIRMWARE_DIRS = ['/usr/share/qemu', '/usr/share/seabios']

# The nested guest's devices: like the harness's machine, a device behind a
# root port and an empty root port, on top of q35's built-in functions.
NESTED_DEVICES = ['-device', 'pcie-root-port,id=rp1,chassis=1,slot=1',
                  '-device', 'edu,bus=rp1',
                  '-device', 'pcie-root-port,id=rp2,chassis=2,slot=2']

# name: (binary in the outer guest, extra QEMU args, extra nested cmdline,
#        payload: linux = bzImage + inner initramfs, ecamscan = ecamscan/)
VARIANTS = {
    'stock': ('/stock/qemu-system-x86_64', '', '', 'linux'),
    'patched': ('/patched/qemu-system-x86_64', '', '', 'linux'),
    'patched-off': ('/patched/qemu-system-x86_64',
                    '-global q35-pcihost.x-mmcfg-allones=off', '', 'linux'),
    'stock-lastbus0': ('/stock/qemu-system-x86_64', '', 'pci=lastbus=0', 'linux'),
    # Linux on x86 reads config space below offset 256 through conf1 (port
    # 0xcf8), and SeaBIOS enumerates through it too, so neither probes
    # absent functions through ECAM.  ecamscan (a multiboot guest) does, as
    # ECAM-only firmware and guests do: all 65536 functions once.
    'stock-ecamscan': ('/stock/qemu-system-x86_64', '', '', 'ecamscan'),
    'patched-ecamscan': ('/patched/qemu-system-x86_64', '', '', 'ecamscan'),
    'patched-off-ecamscan': ('/patched/qemu-system-x86_64',
                             '-global q35-pcihost.x-mmcfg-allones=off', '', 'ecamscan'),
    # OVMF probes through ECAM too, but booting it nested makes the host's
    # QEMU 7.2 (TCG) fail an assertion (tcg_handle_interrupt) on this machine.
    'stock-ovmf': ('/stock/qemu-system-x86_64', '-bios /fw/OVMF.fd', '', 'linux'),
    'patched-ovmf': ('/patched/qemu-system-x86_64', '-bios /fw/OVMF.fd', '', 'linux'),
}

# What every init here starts with: busybox's applets, /proc and /sys.
INIT_START = r'''#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
'''

INNER_INIT = INIT_START + r'''echo "NESTED-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
for d in /sys/bus/pci/devices/*; do
    echo "PCIDEV ${d##*/} $(cat $d/vendor):$(cat $d/device) class=$(cat $d/class)"
done
# Extended config space (offset 0x100 and up) goes through ECAM even with conf1.
echo "CFG 0000:00:01.0 @0x100: $(dd if=/sys/bus/pci/devices/0000:00:01.0/config bs=4 skip=64 count=1 2>/dev/null | xxd -p)"
case " $(cat /proc/cmdline) " in
*" vmmtest=pciexbar "*)
    # q35 PCIEXBAR (MCH config 0x60): shrink to 64 MiB, move, disable.
    cfg=/sys/bus/pci/devices/0000:00:00.0/config
    pxb() { echo "PCIEXBAR now: $(dd if=$cfg bs=4 skip=24 count=1 2>/dev/null | xxd -p)"; }
    echo "PCIEXBAR before: $(dd if=$cfg bs=4 skip=24 count=1 2>/dev/null | xxd -p)"
    sleep 100   # the host hot-plugs meanwhile
    echo "STEP 1 64MiB at 0xb0000000"
    printf '\005\000\000\260' | dd of=$cfg bs=4 seek=24 count=1 conv=notrunc; pxb; sleep 15
    echo "STEP 2 64MiB at 0xc0000000"
    printf '\005\000\000\300' | dd of=$cfg bs=4 seek=24 count=1 conv=notrunc; pxb; sleep 15
    echo "STEP 3 disabled"
    printf '\004\000\000\300' | dd of=$cfg bs=4 seek=24 count=1 conv=notrunc; pxb; sleep 15
    echo "STEP 4 256MiB at 0xb0000000"
    printf '\001\000\000\260' | dd of=$cfg bs=4 seek=24 count=1 conv=notrunc; pxb; sleep 15
    echo "STEPS-DONE"
    sleep 1000 ;;
esac
echo NESTED-DONE
# Give the outer guest time to read KVM's counters while the VM still exists.
sleep 2
echo o > /proc/sysrq-trigger
sleep 10
'''

OUTER_INIT = INIT_START + r'''mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp
echo "OUTER-INIT kvm_amd.nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null) kvm=$(ls /dev/kvm 2>&1)"
now() { cut -d' ' -f1 /proc/uptime; }
N=$(cat /runs.n)
i=0
while [ $i -lt $N ]; do
  i=$((i + 1))
  while IFS='|' read -r name bin qextra gappend payload; do
    [ -n "$name" ] || continue
    rm -f /tmp/con /tmp/trace
    t0=$(now)
    set -- $bin -accel kvm -machine q35 -cpu host -smp 1 -m 512M -nodefaults \
        -display none -no-reboot -L /fw -serial file:/tmp/con \
        -trace memory_region_ops_read -trace memory_region_ops_write \
        -trace kvm_set_user_memory -D /tmp/trace $NESTED_DEVICES $qextra
    if [ "$payload" = ecamscan ]; then
      "$@" -kernel /ecamscan.elf -device isa-debug-exit,iobase=0xf4,iosize=4 > /tmp/qemu.out 2>&1 &
    else
      "$@" -kernel /bzImage -initrd /inner.cpio \
        -append "console=ttyS0 panic=-1 quiet rdinit=/init $gappend" > /tmp/qemu.out 2>&1 &
    fi
    pid=$!
    tinit=
    exits=; mmio=; io=
    while kill -0 $pid 2>/dev/null; do
      if awk -v a=$t0 -v b=$(now) 'BEGIN { exit !(b - a > 300) }'; then
        echo "TIMEOUT variant=$name run=$i"; kill -9 $pid; break
      fi
      if [ -z "$tinit" ] && grep -q NESTED-INIT /tmp/con 2>/dev/null; then
        tinit=$(awk -v a=$t0 -v b=$(now) 'BEGIN { printf "%.2f", b - a }')
      fi
      if grep -q NESTED-DONE /tmp/con 2>/dev/null; then
        d=$(ls -d /sys/kernel/debug/kvm/${pid}-* 2>/dev/null | head -1)
        exits=$(cat $d/exits); mmio=$(cat $d/mmio_exits); io=$(cat $d/io_exits)
        break
      fi
      usleep 100000
    done
    wait $pid
    rc=$?
    ttotal=$(awk -v a=$t0 -v b=$(now) 'BEGIN { printf "%.2f", b - a }')
    emul_r=$(grep -c "memory_region_ops_read.*name 'pcie-mmcfg-mmio'" /tmp/trace)
    emul_w=$(grep -c "memory_region_ops_write.*name 'pcie-mmcfg-mmio'" /tmp/trace)
    ones=$(grep -c "name 'pcie-mmcfg-allones'" /tmp/trace)
    aslots=$(grep "kvm_set_user_memory" /tmp/trace | grep -c "flags=0x8 ")
    scan=$(grep -o 'tsc_cycles=[0-9]*' /tmp/con | cut -d= -f2)
    echo "RESULT variant=$name run=$i rc=$rc t_init=$tinit t_total=$ttotal exits=$exits mmio_exits=$mmio io_exits=$io ecam_emul_reads=$emul_r ecam_emul_writes=$emul_w ecam_allones_exits=$ones allones_slot_ops=$aslots scan_tsc=${scan:-}"
    if [ $i = 1 ]; then
      sed "s/^/CON[$name] /" /tmp/con | tr -d '\r' | grep -v "^CON\[$name\] $"
      sed "s/^/QEMU[$name] /" /tmp/qemu.out
      grep -o "memory_region_ops_[a-z]* .*name '[^']*'" /tmp/trace | sed "s/^memory_region_ops_\([a-z]*\) .*name /\1 /" | sort | uniq -c | sed "s/^/MMIO[$name] /"
      grep "name 'pcie-mmcfg" /tmp/trace | sed "s/ addr 0x/ addr 0x000/; s/.*ops_\([a-z]*\) .* addr 0x\([0-9a-f]*\)[0-9a-f][0-9a-f][0-9a-f] value.*/\1 page 0x\2/" | sort | uniq -c | sort -rn | head -12 | sed "s/^/ECAMPAGE[$name] /"
      grep kvm_set_user_memory /tmp/trace | grep "flags=0x8 " | head -40 | sed "s/^/SLOT[$name] /"
    fi
  done < /runs
done
echo OUTER-DONE
echo o > /proc/sysrq-trigger
sleep 10
'''


# --- cpio (newc) ------------------------------------------------------------

class Cpio:
    def __init__(self):
        self.out = bytearray()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b'', rdev=(0, 0)):
        name_b = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08x' % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
            len(name_b), 0))
        self.ino += 1
        self.out += hdr.encode() + name_b
        self.out += b'\0' * (-len(self.out) % 4)
        self.out += data
        self.out += b'\0' * (-len(self.out) % 4)

    def dir(self, name):
        name = name.strip('/')
        if not name or name in self.dirs:
            return
        self.dir(os.path.dirname(name))
        self.dirs.add(name)
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        name = name.strip('/')
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def copy(self, name, src):
        """Copy src (symlinks resolved) into the archive as name."""
        src = Path(src).resolve()
        mode = 0o755 if os.access(src, os.X_OK) else 0o644
        self.file(name, src.read_bytes(), mode)

    def node(self, name, major, minor):
        name = name.strip('/')
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def bytes(self):
        self._entry('TRAILER!!!', 0)
        return bytes(self.out) + b'\0' * (-len(self.out) % 512)


def base_tree(init):
    c = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'etc'):
        c.dir(d)
    c.node('dev/console', 5, 1)
    c.node('dev/null', 1, 3)
    c.copy('bin/busybox', BUSYBOX)
    c.file('init', init.encode(), 0o755)
    return c


def libs_of(binary):
    out = subprocess.run(['ldd', str(binary)], capture_output=True, text=True,
                         check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r'(/\S+) \(0x', line)
        if m:
            libs.append(m.group(1))
    return libs


def build_inner():
    data = base_tree(INNER_INIT).bytes()
    (VMM / 'inner.cpio').write_bytes(data)
    return VMM / 'inner.cpio'


def build_outer(runs, n):
    inner = build_inner()
    init = OUTER_INIT.replace('$NESTED_DEVICES', ' '.join(NESTED_DEVICES))
    c = base_tree(init)
    libs = set()
    for prefix, binary in (('stock', STOCK), ('patched', PATCHED)):
        c.copy(f'{prefix}/qemu-system-x86_64', binary)
        libs.update(libs_of(binary))
    for lib in sorted(libs):
        c.copy(lib, lib)
        # Debian's /lib is a symlink to /usr/lib: be found through both.
        if lib.startswith('/lib'):
            c.copy('/usr' + lib, lib)
    for fw in FIRMWARE:
        for d in FIRMWARE_DIRS:
            if Path(d, fw).exists():
                c.copy(f'fw/{fw}', Path(d, fw))
                break
    c.copy('bzImage', KERNEL)
    c.copy('inner.cpio', inner)
    elf = VMM / 'ecamscan.elf'
    subprocess.run(['sh', str(Path(__file__).resolve().parent / 'ecamscan' / 'build.sh'), str(elf)],
                   check=True)
    c.copy('ecamscan.elf', elf)
    c.file('runs', ''.join(f'{r}|{"|".join(VARIANTS[r])}\n' for r in runs).encode())
    c.file('runs.n', f'{n}\n'.encode())
    path = VMM / 'outer.cpio'
    path.write_bytes(c.bytes())
    return path


# --- host side ---------------------------------------------------------------

def outer_command(initrd):
    return [HOST_QEMU, '-machine', 'q35', '-smp', '2', '-m', '4G',
            '-accel', 'tcg,thread=' + os.environ.get('OUTER_TCG_THREAD', 'multi'),
            '-cpu', 'EPYC,+svm,+npt',
            '-kernel', str(KERNEL), '-initrd', str(initrd),
            '-append', 'console=ttyS0 panic=-1 oops=panic quiet rdinit=/init',
            '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio']


def run_nested(args):
    for v in args.variants:
        if v not in VARIANTS:
            sys.exit(f'unknown variant {v}; known: {", ".join(VARIANTS)}')
    initrd = build_outer(args.variants, args.n)
    log = VMM / f'nested-{time.strftime("%Y%m%d-%H%M%S")}.log'
    print(f'outer initramfs {initrd} ({initrd.stat().st_size >> 20} MiB), log {log}',
          flush=True)
    t0 = time.time()
    with open(log, 'wb') as f:
        p = subprocess.Popen(outer_command(initrd), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = t0 + args.timeout
        for line in p.stdout:
            f.write(line)
            f.flush()
            s = line.decode(errors='replace').rstrip()
            if s.startswith(('RESULT', 'OUTER-INIT', 'OUTER-DONE')) or args.verbose:
                print(f'[{time.time() - t0:6.0f}s] {s}', flush=True)
            if time.time() > deadline:
                print('timeout', flush=True)
                p.kill()
                break
        p.wait()
    print(f'outer guest ran {time.time() - t0:.0f} s', flush=True)
    report(log)


def parse_results(log):
    results = []
    for line in Path(log).read_text(errors='replace').splitlines():
        if line.startswith('RESULT '):
            results.append(dict(kv.split('=', 1) for kv in line.split()[1:]))
    return results


def report(log):
    results = parse_results(log)
    text = Path(log).read_text(errors='replace')
    devs = {}
    for m in re.finditer(r'^CON\[(\S+)\] (PCIDEV .*|CFG .*)$', text, re.M):
        devs.setdefault(m.group(1), []).append(m.group(2).strip())
    # compare "bus:dev.fn vendor:device" whichever payload printed it
    def norm(lines):
        out = []
        for x in lines:
            m = re.match(r'PCIDEV (?:0000:)?(\S+) (0x\w+:0x\w+)', x)
            if m:
                out.append(m.group(1) + ' ' + m.group(2))
        return out
    names = list(dict.fromkeys(r['variant'] for r in results))
    keys = ['t_init', 't_total', 'exits', 'mmio_exits', 'io_exits',
            'ecam_emul_reads', 'ecam_emul_writes', 'ecam_allones_exits',
            'allones_slot_ops', 'scan_tsc']
    print('\nmedians over runs (t_* in seconds of the outer guest):')
    print('| variant | runs | ' + ' | '.join(keys) + ' |')
    print('|' + '---|' * (len(keys) + 2))
    for n in names:
        rs = [r for r in results if r['variant'] == n]
        cells = []
        for k in keys:
            vals = [float(r[k]) for r in rs if r.get(k) not in (None, '')]
            if not vals:
                cells.append('-')
                continue
            med = statistics.median(vals)
            cells.append(f'{med:.2f}' if k.startswith('t_') else f'{med:.0f}')
        print(f'| {n} | {len(rs)} | ' + ' | '.join(cells) + ' |')
    if devs:
        print('\nnested guest PCI functions per variant (first run):')
        ref = None
        for n, d in devs.items():
            d = norm(d)
            same = '' if ref is None else (' (same as ' + names[0] + ')' if d == ref else ' (DIFFERENT)')
            ref = d if ref is None else ref
            print(f'  {n}: {len(d)} functions{same}')
        for x in next(iter(devs.values())):
            print('    ' + x)


# --- TCG checks on the host with the monitor ---------------------------------

def monitor(path, cmd, wait=1.0, raw=False):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(0.3)

    def drain():
        d = b''
        try:
            while True:
                x = s.recv(1 << 20)
                if not x:
                    break
                d += x
        except OSError:
            pass
        return d.decode(errors='replace')
    time.sleep(0.2)
    drain()
    s.sendall((cmd + '\n').encode())
    time.sleep(wait)
    out = drain()
    s.close()
    if raw:
        return out
    # drop readline's echo
    return '\n'.join(l for l in out.splitlines() if '\x1b' not in l and not l.startswith('(qemu)'))


def ecam_view(path):
    lines = monitor(path, 'info mtree -f', 2.5).splitlines()
    # the first flat view is the system address space
    out, seen = [], False
    for l in lines:
        if l.startswith('FlatView'):
            if seen:
                break
        if 'pcie-mmcfg' in l:
            seen = True
            out.append(l.strip())
    return out


def xp(path, addr):
    for _ in range(3):
        out = monitor(path, f'xp /1wx {addr:#x}', 0.7, raw=True)
        m = re.search(r'%016x: (0x[0-9a-f]+)' % addr, out)
        if m:
            return m.group(1)
    return out.strip()


def run_tcg(args):
    inner = build_inner()
    sock = str(VMM / 'tcg-mon.sock')
    con = VMM / 'tcg-console.log'
    if os.path.exists(sock):
        os.unlink(sock)
    cmd = [str(PATCHED), '-accel', 'tcg', '-machine', 'q35', '-m', '1G', '-nodefaults',
           '-display', 'none', '-serial', f'file:{con}',
           '-monitor', f'unix:{sock},server=on,wait=off',
           '-kernel', str(KERNEL), '-initrd', str(inner),
           '-append', 'console=ttyS0 panic=-1 quiet rdinit=/init vmmtest=pciexbar',
           '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
           *NESTED_DEVICES]
    print(' '.join(cmd))
    p = subprocess.Popen(cmd)
    ok = True

    def wait_for(pattern, timeout=180):
        t = time.time()
        while time.time() - t < timeout:
            if con.exists() and pattern in con.read_text(errors='replace'):
                return True
            time.sleep(0.5)
        return False

    def check(label, cond):
        nonlocal ok
        ok &= bool(cond)
        print(f'{"PASS" if cond else "FAIL"}: {label}')

    try:
        check('guest reached init', wait_for('NESTED-INIT'))
        time.sleep(1)
        view = first_view = ecam_view(sock)
        print('ECAM flat view at boot:\n  ' + '\n  '.join(view))
        check('holes are all-ones regions', any('allones' in l for l in view))
        check('00:00.0 reads MCH 8086:29c0', xp(sock, 0xb0000000) == '0x29c08086')
        check('00:01.0 reads root port 1b36:000c', xp(sock, 0xb0008000) == '0x000c1b36')
        check('01:00.0 (behind rp1) reads edu 1234:11e8', xp(sock, 0xb0100000) == '0x11e81234')
        check('00:03.0 (absent) reads all ones', xp(sock, 0xb0018000) == '0xffffffff')
        check('02:00.0 (empty rp2) reads all ones', xp(sock, 0xb0200000) == '0xffffffff')
        # Hot-plug and unplug in the empty root port rp2 (bus 2).  Native
        # PCIe hotplug (ACPI hotplug off): the slot is powered off, the guest
        # has no hotplug driver, so QEMU unplugs without asking it; the
        # unpowered device's config reads ~0 in the emulation too, so what is
        # checked is which pages are emulated and which are all-ones slots.
        def page(view, addr):
            for l in view:
                a, b = l.split()[0].split('-')
                if int(a, 16) <= addr <= int(b, 16):
                    return 'allones' if 'allones' in l else 'emulated'
            return None
        for fn, dev_id in ((0, 'hp1'), (1, 'hp2')):
            addr = 0xb0200000 + fn * 0x1000
            monitor(sock, f'device_add edu,bus=rp2,addr=00.{fn},id={dev_id}', 1.5)
            v = ecam_view(sock)
            check(f'device_add 02:00.{fn}: its page is emulated', page(v, addr) == 'emulated')
            check(f'device_add 02:00.{fn}: next page still all-ones', page(v, addr + 0x1000) == 'allones')
            monitor(sock, f'device_del {dev_id}', 1.5)
            check(f'device_del 02:00.{fn}: device gone', dev_id not in monitor(sock, 'info qtree', 1.5))
            v = ecam_view(sock)
            check(f'device_del 02:00.{fn}: its page is all-ones again', page(v, addr) == 'allones')
            check(f'device_del 02:00.{fn}: reads all ones', xp(sock, addr) == '0xffffffff')
            check(f'device_del 02:00.{fn}: layout back to the boot one', v == first_view)
        monitor(sock, 'device_add edu,bus=rp2,id=hp1', 1.5)
        # PCIEXBAR steps driven by the guest
        for step, base, expect in ((1, 0xb0000000, '64M'), (2, 0xc0000000, '64M'),
                                   (3, None, 'off'), (4, 0xb0000000, '256M')):
            check(f'guest PCIEXBAR step {step}', wait_for(f'STEP {step}'))
            time.sleep(2)
            view = ecam_view(sock)
            print(f'ECAM flat view, step {step}:\n  ' + '\n  '.join(view[:3] + ['...'] + view[-2:]))
            if base is None:
                check('disabled: no ECAM in the flat view', not view)
                continue
            end = base + (64 << 20 if expect == '64M' else 256 << 20) - 1
            check(f'window at {base:#x}-{end:#x}',
                  view and view[0].startswith(f'{base:016x}') and view[-1].split()[0].endswith(f'-{end:016x}'))
            check(f'00:00.0 at new base reads MCH', xp(sock, base) == '0x29c08086')
            check(f'02:00.0 (hot-plugged) at new base is emulated', page(view, base + 0x200000) == 'emulated')
            check(f'03:00.0 (absent) at new base reads all ones', xp(sock, base + 0x300000) == '0xffffffff')
        # reset: bridges lose their bus numbers, firmware and guest redo them
        monitor(sock, 'device_del hp1', 1.5)
        boot_view = first_view
        monitor(sock, 'system_reset')
        t = time.time()
        while con.read_text(errors='replace').count('PCIEXBAR before') < 2 and time.time() - t < 180:
            time.sleep(0.5)
        view = ecam_view(sock)
        print('ECAM flat view after system_reset and reboot:\n  ' + '\n  '.join(view))
        check('after reset and reboot: same ECAM layout as at first boot', view == boot_view)
    finally:
        p.kill()
        p.wait()
    print('TCG checks:', 'all passed' if ok else 'FAILED')
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('tcg')
    n = sub.add_parser('nested')
    n.add_argument('-n', type=int, default=1, help='boots per variant')
    n.add_argument('--timeout', type=int, default=3000)
    n.add_argument('-v', '--verbose', action='store_true')
    n.add_argument('variants', nargs='*', default=['stock', 'patched'])
    r = sub.add_parser('report')
    r.add_argument('log')
    args = ap.parse_args()
    if args.cmd == 'tcg':
        return run_tcg(args)
    if args.cmd == 'report':
        return report(args.log)
    return run_nested(args)


if __name__ == '__main__':
    sys.exit(main())
