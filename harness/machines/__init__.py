# SPDX-License-Identifier: GPL-2.0
"""The machines a plan entry may name (`machine = NAME`), by name."""

from machines import q35

MACHINES = {m.name: m for m in (q35.MACHINE, q35.EDU_DEFAULT_MASK)}
