# SPDX-License-Identifier: GPL-2.0
"""Parse the guest's serial console into per-test results.

The guest (harness/guest/init, runtest.c) and the host runner write these
marker lines; everything else on the console is test output or kernel log:

  @@H BOOTED <release>               guest init is up
  @@H BEGIN <name>                   a test starts
  @@H END <name> rc=N signal=N timeout=0|1 ms=N
  @@H DONE                           the list of tests is finished
  @@H EXIT <status>                  `make run CMD=...` finished
  @@HOST BOOT <cmdline>              first line of a saved console: the extra
                                     kernel command line of this boot
  @@HOST HUNG <seconds>              host watchdog killed a guest silent that long
  @@HOST QEMU-EXIT <rc>              QEMU ended before DONE (panic, abort)

The runner saves the raw console of every boot (console-N.log), so a run can
be parsed again later with `runner.py parse`, exactly as it was live.
"""

import dataclasses
import re

MARK = re.compile(r'@@H (BOOTED|BEGIN|END|DONE|EXIT)\b ?(.*)$')
HOST_MARK = re.compile(r'^@@HOST (HUNG|QEMU-EXIT) (\S+)')
END_FIELDS = re.compile(r'^(\S+) rc=(\d+) signal=(\d+) timeout=([01]) ms=(\d+)')
# Kernel lines carry a printk timestamp (CONFIG_PRINTK_TIME); only those can
# hold a splat, so a test that prints "WARNING:" itself cannot fake one.  The
# stamp may follow test output that the kernel's line interrupted.
KERNEL_LINE = re.compile(r'\[\s*\d+\.\d{6}\] ')
SPLAT = re.compile(r'BUG:|WARNING:|Oops|KASAN:|UBSAN:|kmemleak:.*suspected|'
                   r'possible circular locking|possible recursive locking|'
                   r'inconsistent lock state|suspicious RCU usage|Call Trace:|'
                   r'Kernel panic|general protection fault|soft lockup|hung_task')


@dataclasses.dataclass
class Outcome:
    """What the console says about one test."""
    name: str
    rc: int = 0
    signal: int = 0
    timeout: bool = False
    seconds: float = 0.0
    ended: bool = False          # END seen
    host: str = ''               # 'HUNG' or 'QEMU-EXIT' when the boot died in it
    log: list = dataclasses.field(default_factory=list)
    splats: list = dataclasses.field(default_factory=list)


class Console:
    """Feed it console lines of one boot; it collects per-test outcomes."""

    def __init__(self):
        self.booted = False
        self.done = False
        self.exit_status = None
        self.outcomes = []
        self.current = None
        self.outside = Outcome('(outside tests)')
        self.host = ''
        self.release = ''

    def feed(self, line):
        """Take one line; return the Outcome it finished, if any."""
        line = line.rstrip('\r\n')
        host = HOST_MARK.match(line)
        if host:
            return self._boot_died(host.group(1), line)
        mark = MARK.search(line)
        if mark:
            return self._marker(mark.group(1), mark.group(2))
        target = self.current or self.outside
        target.log.append(line)
        if KERNEL_LINE.search(line) and SPLAT.search(line):
            target.splats.append(line)
        return None

    def _marker(self, kind, rest):
        if kind == 'BOOTED':
            self.booted = True
            self.release = rest
        elif kind == 'BEGIN':
            self.current = Outcome(rest.strip())
        elif kind == 'END' and self.current:
            m = END_FIELDS.match(rest)
            if m and m.group(1) == self.current.name:
                done = self.current
                done.rc, done.signal = int(m.group(2)), int(m.group(3))
                done.timeout, done.seconds = m.group(4) == '1', int(m.group(5)) / 1000
                done.ended = True
                self.outcomes.append(done)
                self.current = None
                return done
        elif kind == 'DONE':
            self.done = True
        elif kind == 'EXIT':
            self.exit_status = int(rest) if rest.strip().isdigit() else 1
        return None

    def _boot_died(self, how, line):
        self.host = how
        if not self.current:
            self.outside.log.append(line)
            return None
        dead = self.current
        dead.host = how
        if how == 'HUNG':
            dead.seconds = float(line.split()[2])
        dead.log.append(line)
        self.outcomes.append(dead)
        self.current = None
        return dead


def parse_lines(lines):
    console = Console()
    for line in lines:
        console.feed(line)
    return console
