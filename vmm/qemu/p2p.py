#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Peer-to-peer DMA through stock QEMU 7.2 + vfio-pci on the patched
(vfio-strict-pfnmap) and the base kernel.

The host's QEMU (TCG, q35, EPYC+svm+npt, intel-iommu, edu and ivshmem-plain
behind root ports, as harness/machines/q35.py) boots KERNEL with an initramfs
of our own (build/vmm/p2p/outer-<name>.cpio).  Its init binds edu (1234:11e8)
and ivshmem (1af4:1110) to plain vfio-pci (driver_override + drivers_probe)
and runs the host's stock /usr/bin/qemu-system-x86_64 (copied with its ldd
libraries) with -accel kvm and both devices assigned.  The nested guest (same
bzImage, busybox initramfs) runs p2p/p2p.c: edu DMA into and out of
ivshmem's BAR2 with decode on, off, on again.  Results come back on the
serial console as "P2P step=... dir=... landed=..." lines.

The host QEMU traces vtd_dmar_fault (-D build/vmm/p2p/vtd-<name>.log): an
edu DMA that the outer guest's IOMMU refuses shows there as a fault.

  p2p.py [patched|base ...]      default: patched base
  p2p.py report LOG

Kernels: patched = build/out/patched-test, base = build/out/base-test (a copy
of each is taken first, so a rebuild meanwhile does not mix kernels).
"""

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nested  # noqa: E402  (Cpio, base_tree, libs_of, STOCK, FIRMWARE...)

TOP = nested.TOP
OUT = nested.VMM / 'p2p'
KERNELS = {
    'patched': TOP / 'build/out/patched-test/arch/x86/boot/bzImage',
    'base': TOP / 'build/out/base-test/arch/x86/boot/bzImage',
}
SRC = Path(__file__).resolve().parent / 'p2p' / 'p2p.c'

INNER_INIT = nested.INIT_START + r'''echo "NESTED-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
edu=; ivs=
for d in /sys/bus/pci/devices/*; do
    id="$(cat $d/vendor):$(cat $d/device)"
    drv=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)
    echo "PCIDEV ${d##*/} $id driver=${drv:-none}"
    case $id in
    0x1234:0x11e8) edu=${d##*/} ;;
    0x1af4:0x1110) ivs=${d##*/} ;;
    esac
done
for b in $edu $ivs; do
    echo "RESOURCE $b"; head -3 /sys/bus/pci/devices/$b/resource
done
if [ -n "$edu" ] && [ -n "$ivs" ]; then
    /p2p $edu $ivs
else
    echo "P2P-ERROR nested guest sees edu=$edu ivshmem=$ivs"
fi
echo NESTED-DONE
echo o > /proc/sysrq-trigger
sleep 10
'''

OUTER_INIT = nested.INIT_START + r'''mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
echo "OUTER-INIT kernel=$(uname -r) kvm=$(ls /dev/kvm 2>&1) cmdline=$(cat /proc/cmdline)"
bind() {   # vendor:device -> prints the BDF
  for d in /sys/bus/pci/devices/*; do
    [ "$(cat $d/vendor):$(cat $d/device)" = "$1" ] || continue
    b=${d##*/}
    [ -e $d/driver ] && echo $b > $d/driver/unbind
    echo vfio-pci > $d/driver_override
    echo $b > /sys/bus/pci/drivers_probe
    echo "OUTER-BIND $1 $b driver=$(basename $(readlink $d/driver)) group=$(basename $(readlink $d/iommu_group))" >&2
    echo $b
    return
  done
}
EDU=$(bind 0x1234:0x11e8)
IVS=$(bind 0x1af4:0x1110)
echo "OUTER-VFIO $(ls /dev/vfio | tr '\n' ' ')"
echo "OUTER-CMD /stock/qemu-system-x86_64 -accel kvm -machine q35 -cpu host -smp 1 -m 512M -nodefaults -display none -no-reboot -L /fw -serial file:/tmp/con -trace vfio_listener_region_add_ram -trace vfio_listener_region_del -trace vfio_pci_write_config -D /tmp/trace -device vfio-pci,host=$EDU -device vfio-pci,host=$IVS -kernel /bzImage -initrd /inner.cpio -append 'console=ttyS0 panic=-1 quiet rdinit=/init'"
/stock/qemu-system-x86_64 -accel kvm -machine q35 -cpu host -smp 1 -m 512M \
  -nodefaults -display none -no-reboot -L /fw -serial file:/tmp/con \
  -trace vfio_listener_region_add_ram -trace vfio_listener_region_del \
  -trace vfio_pci_write_config -D /tmp/trace \
  -device vfio-pci,host=$EDU -device vfio-pci,host=$IVS \
  -kernel /bzImage -initrd /inner.cpio \
  -append 'console=ttyS0 panic=-1 quiet rdinit=/init' > /tmp/qemu.out 2>&1 &
pid=$!
t=0
while kill -0 $pid 2>/dev/null; do
  sleep 1; t=$((t + 1))
  if [ $t -gt 900 ]; then echo "OUTER-TIMEOUT nested QEMU killed after 900 s"; kill -9 $pid; break; fi
done
wait $pid
echo "OUTER-QEMU-RC $?"
tr -d '\r' < /tmp/con | sed 's/^/CON /'
sed 's/^/QEMU /' /tmp/qemu.out
# the nested QEMU's own IOMMU map/unmap of guest RAM and BAR mmaps, and its
# PCI_COMMAND writes (decode on/off) in order
grep -E 'vfio_listener_region_(add_ram|del) |vfio_pci_write_config .*@0x4,' /tmp/trace | sed 's/^[0-9]*@[0-9.]*://; s/^/QTRACE /'
dmesg | grep -iE 'vfio|dmar|type1|revok' | grep -v 'DMAR: \[DMA\|DRHD: handling' | tail -20 | sed 's/^/KMSG /'
echo "KMSG-DMAR-FAULTS $(dmesg | grep -c 'DMAR: \[DMA')"
dmesg | grep 'DMAR: \[DMA' | sed 's/^/KMSG /'
echo OUTER-DONE
echo o > /proc/sysrq-trigger
sleep 10
'''


def build_outer(name, kernel):
    OUT.mkdir(parents=True, exist_ok=True)
    p2p = OUT / 'p2p'
    subprocess.run(['gcc', '-O2', '-static', '-Wall', '-o', str(p2p), str(SRC)], check=True)
    inner = nested.base_tree(INNER_INIT)
    inner.copy('p2p', p2p)
    (OUT / 'inner.cpio').write_bytes(inner.bytes())
    c = nested.base_tree(OUTER_INIT)
    c.copy('stock/qemu-system-x86_64', nested.STOCK)
    for lib in sorted(set(nested.libs_of(nested.STOCK))):
        c.copy(lib, lib)
        if lib.startswith('/lib'):
            c.copy('/usr' + lib, lib)
    for fw in nested.FIRMWARE:
        for d in nested.FIRMWARE_DIRS:
            if Path(d, fw).exists():
                c.copy(f'fw/{fw}', Path(d, fw))
                break
    c.copy('bzImage', kernel)
    c.copy('inner.cpio', OUT / 'inner.cpio')
    path = OUT / f'outer-{name}.cpio'
    path.write_bytes(c.bytes())
    return path


def outer_command(kernel, initrd, trace):
    return [nested.HOST_QEMU, '-machine', 'q35', '-smp', '2', '-m', '4G',
            '-accel', 'tcg,thread=multi', '-cpu', 'EPYC,+svm,+npt',
            '-object', 'memory-backend-ram,id=ivshmem-mem,size=1M,share=on',
            '-device', 'intel-iommu,aw-bits=48,intremap=on',
            '-device', 'pcie-root-port,id=rp2,chassis=2,slot=2',
            '-device', 'edu,dma_mask=0xffffffffffffffff,bus=rp2',
            '-device', 'pcie-root-port,id=rp1,chassis=1,slot=1',
            '-device', 'ivshmem-plain,memdev=ivshmem-mem,bus=rp1',
            '-trace', 'vtd_dmar_fault', '-D', str(trace),
            '-kernel', str(kernel), '-initrd', str(initrd),
            '-append', 'console=ttyS0 panic=-1 oops=panic intel_iommu=on quiet rdinit=/init',
            '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio']


def run_one(name, timeout):
    kernel = OUT / f'{name}-bzImage'
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KERNELS[name], kernel)
    initrd = build_outer(name, kernel)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    log = OUT / f'p2p-{name}-{stamp}.log'
    trace = OUT / f'vtd-{name}-{stamp}.log'
    cmd = outer_command(kernel, initrd, trace)
    print(f'[{name}] ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    with open(log, 'wb') as f:
        f.write(('HOST-CMD ' + ' '.join(cmd) + '\n').encode())
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        for line in p.stdout:
            f.write(line)
            f.flush()
            s = line.decode(errors='replace').rstrip()
            if re.match(r'(CON )?(P2P|OUTER|NESTED|QEMU |QTRACE|PCIDEV|KMSG)', s) or 'Kernel panic' in s:
                print(f'[{name} {time.time() - t0:5.0f}s] {s}', flush=True)
            if time.time() - t0 > timeout:
                print(f'[{name}] timeout after {timeout} s', flush=True)
                p.kill()
                break
        p.wait()
    print(f'[{name}] outer guest ran {time.time() - t0:.0f} s; log {log}; vtd trace {trace}',
          flush=True)
    return log


def parse(log):
    text = Path(log).read_text(errors='replace')
    res = {}
    for m in re.finditer(r'^CON P2P step=(\S+) dir=(\S+) landed=(\S+)', text, re.M):
        res[(m.group(1), m.group(2))] = m.group(3)
    return res


def faults(log):
    m = re.search(r'p2p-(\w+)-(\d+-\d+)\.log$', str(log))
    if not m:
        return None
    t = OUT / f'vtd-{m.group(1)}-{m.group(2)}.log'
    if not t.exists():
        return None
    return [l for l in t.read_text(errors='replace').splitlines() if 'vtd_dmar_fault' in l]


def report(logs):
    steps = [('before', 'bar2->edu'), ('before', 'edu->bar2'),
             ('decode-off', 'edu->bar2'), ('decode-off', 'bar2->edu'),
             ('decode-on', 'bar2->edu'), ('decode-on', 'edu->bar2')]
    print('\n| kernel | ' + ' | '.join(f'{s} {d}' for s, d in steps) + ' | vtd faults |')
    print('|' + '---|' * (len(steps) + 2))
    for name, log in logs:
        r = parse(log)
        f = faults(log)
        print(f'| {name} | ' + ' | '.join(r.get(k, '?') for k in steps) +
              f' | {len(f) if f is not None else "?"} |')
    for name, log in logs:
        f = faults(log) or []
        for l in f[:6]:
            print(f'  {name}: {l}')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('kernels', nargs='*', default=['patched', 'base'])
    ap.add_argument('--timeout', type=int, default=1500)
    args = ap.parse_args()
    if args.kernels[:1] == ['report']:
        report([(re.search(r'p2p-(\w+)-', l).group(1), l) for l in args.kernels[1:]])
        return 0
    logs = []
    for k in args.kernels:
        if k not in KERNELS:
            sys.exit(f'unknown kernel {k}; known: {", ".join(KERNELS)}')
        logs.append((k, run_one(k, args.timeout)))
    report(logs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
