# SPDX-License-Identifier: GPL-2.0
"""A QEMU machine as data: what harness/machines/ describes and harness/qemu.py
turns into a command line."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Machine:
    name: str
    binary: str
    machine: str
    smp: int
    memory: str
    accel: dict
    objects: list
    devices: list
    cmdline: list
