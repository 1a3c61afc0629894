# SPDX-License-Identifier: GPL-2.0
"""Verdicts: from what the console said about a test to its result.

raw_status() reads the Outcome alone (harness/console.py); verdict() then
applies the kernel splats seen during the test and the plan's expectation
(harness/plan.py: expect = pass | skip | xfail).  Each returns
(status, detail), the status one of STATUSES.
"""

import re

import console as con

STATUSES = ('PASS', 'FAIL', 'TIMEOUT', 'HUNG', 'CRASH', 'XPASS', 'XFAIL', 'SKIP')
FAILING = ('FAIL', 'TIMEOUT', 'HUNG', 'CRASH', 'XPASS')
KSFT_SKIP = 4
SKIP_LINE = re.compile(r'(?:#\s*SKIP|\bSKIP\b:?|Requirement not met|[Ss]kipping)\s*(.*)')


def skip_reason(outcome):
    """The last line of the test's own output that says why it skipped."""
    for line in reversed(outcome.log):
        m = SKIP_LINE.search(line)
        if m and not con.KERNEL_LINE.search(line):
            return line.strip()
    return 'exit status 4 (KSFT_SKIP), no reason printed'


def raw_status(test, outcome):
    """(status, detail) from the outcome alone, before the plan's expectation."""
    if outcome is None:
        return 'FAIL', 'not run: the guest did not boot or died before this test'
    if outcome.host == 'HUNG':
        return 'HUNG', 'the guest stopped responding; the host watchdog killed QEMU'
    if outcome.host == 'QEMU-EXIT':
        return 'CRASH', 'QEMU ended during the test (kernel panic or device abort)'
    if outcome.timeout:
        return 'TIMEOUT', f'killed after its {test.timeout} s timeout'
    if outcome.signal:
        return 'FAIL', f'killed by signal {outcome.signal}'
    if outcome.rc == KSFT_SKIP:
        return 'SKIP', skip_reason(outcome)
    if outcome.rc:
        return 'FAIL', f'exit status {outcome.rc}'
    return 'PASS', ''


def verdict(test, outcome):
    """(status, detail) of `test`, whose console gave `outcome` (None: not run)."""
    if test.expect == 'skip':
        return 'SKIP', test.reason
    status, detail = raw_status(test, outcome)
    if outcome and outcome.splats and status in ('PASS', 'SKIP'):
        status, detail = 'FAIL', f'kernel splat: {outcome.splats[0].strip()}'
    if test.expect == 'xfail':
        if status == 'PASS':
            return 'XPASS', f'known failure passed; update the plan ({test.reason})'
        if status in FAILING:
            return 'XFAIL', f'{test.reason} [{status}: {detail}]'
    return status, detail
