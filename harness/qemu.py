# SPDX-License-Identifier: GPL-2.0
"""Boot a kernel in QEMU from a machine description (harness/machines/)."""

import fcntl
import os
import subprocess
from pathlib import Path

from machines import MACHINES

KVM_GET_API_VERSION = 0xAE00


def load_machine(name):
    """The machine called @name in harness/machines/, or KeyError."""
    return MACHINES[name]


def host_can_nest():
    """True if /dev/kvm works and the host's KVM offers nested virtualization."""
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError:
        return False
    finally:
        os.close(fd)
    for vendor in ('kvm_intel', 'kvm_amd'):
        param = Path(f'/sys/module/{vendor}/parameters/nested')
        if param.exists() and param.read_text().strip() in ('Y', '1'):
            return True
    return False


def pick_accel(requested):
    """ACCEL=tcg|kvm forces one; by default KVM where it can run nested guests."""
    if requested:
        return requested
    return 'kvm' if host_can_nest() else 'tcg'


def command(machine, accel, kernel, initrd, extra_cmdline=(), interactive=False):
    cmd = [machine.binary, '-machine', machine.machine, '-smp', str(machine.smp),
           '-m', machine.memory, *machine.accel[accel],
           '-kernel', str(kernel), '-initrd', str(initrd),
           '-append', ' '.join([*machine.cmdline, *extra_cmdline]),
           '-nographic', '-no-reboot', '-nodefaults', '-serial',
           'mon:stdio' if interactive else 'stdio']
    for obj in machine.objects:
        cmd += ['-object', obj]
    for dev in machine.devices:
        cmd += ['-device', dev]
    return cmd


def spawn(cmd):
    """Start QEMU with its console on a pipe, merged with its own messages."""
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, bufsize=0)
