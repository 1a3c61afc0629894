# SPDX-License-Identifier: GPL-2.0
"""Read the declarative test plan (harness/plan.cfg) and pick what to run.

One INI section per test, in the spirit of kvm-unit-tests' unittests.cfg:

  [name]
  cmd     = shell command run in the guest (default: the section name)
  timeout = seconds before the guest kills the test (default 60); scaled()
            multiplies it by --scale when the run selects its tests
  groups  = words; `full` entries run only in check-full, `bench` entries
            only in `make bench`
  boot    = extra kernel command line; tests that need one get their own boot
  machine = a QEMU machine of harness/machines/ (default q35); tests on
            another machine get their own boot
  expect  = pass (default) | skip | xfail
  reason  = why, required for skip and xfail: printed with the result
  series  = the series of patches/series.cfg that adds the test: with
            SERIES=NAME it runs only if NAME or a series NAME requires
"""

import configparser
import dataclasses
import fnmatch
import json
import re

EXPECTATIONS = ('pass', 'skip', 'xfail')
NAME = re.compile(r'^[A-Za-z0-9_.+-]+$')
DEFAULT_TIMEOUT = 60
DEFAULT_MACHINE = 'q35'


@dataclasses.dataclass
class Test:
    name: str
    cmd: str
    timeout: int = DEFAULT_TIMEOUT
    groups: tuple = ()
    boot: str = ''
    machine: str = DEFAULT_MACHINE
    expect: str = 'pass'
    reason: str = ''
    series: str = ''


class PlanError(Exception):
    pass


def _entry(name, section):
    unknown = set(section) - {'cmd', 'timeout', 'groups', 'boot', 'machine', 'expect',
                              'reason', 'series'}
    if unknown:
        raise PlanError(f'[{name}]: unknown keys {sorted(unknown)}')
    if not NAME.match(name):
        raise PlanError(f'[{name}]: a test name is letters, digits and _.+- only')
    # A command continued over several lines is one shell line in the guest.
    test = Test(name=name, cmd=' '.join(section.get('cmd', name).splitlines()),
                timeout=int(section.get('timeout', DEFAULT_TIMEOUT)),
                groups=tuple(section.get('groups', '').split()),
                boot=section.get('boot', '').strip(),
                machine=section.get('machine', DEFAULT_MACHINE).strip(),
                expect=section.get('expect', 'pass').strip(),
                reason=' '.join(section.get('reason', '').split()),
                series=section.get('series', '').strip())
    if test.expect not in EXPECTATIONS:
        raise PlanError(f'[{name}]: expect must be one of {EXPECTATIONS}')
    if test.expect != 'pass' and not test.reason:
        raise PlanError(f'[{name}]: expect = {test.expect} needs a reason')
    if test.timeout <= 0:
        raise PlanError(f'[{name}]: timeout must be positive')
    return test


def load(path):
    parser = configparser.ConfigParser(interpolation=None, default_section='__none__')
    parser.optionxform = str
    with open(path, encoding='utf-8') as f:
        parser.read_file(f)
    return [_entry(name, parser[name]) for name in parser.sections()]


def select(tests, mode, pattern='', series=None):
    """The entries a mode runs: check, full (check-full), bench or fuzz; with
    @series (the names of the series in the tree), not the tests of others."""
    def wanted(t):
        if 'bench' in t.groups:
            return mode == 'bench'
        if 'fuzz' in t.groups:
            return mode == 'fuzz'
        if mode == 'fuzz':
            # The leak check after the fuzzers.
            return 'debug' in t.groups
        if mode == 'bench':
            return False
        return mode == 'full' or 'full' not in t.groups
    chosen = [t for t in tests if wanted(t)]
    if series is not None:
        chosen = [t for t in chosen if not t.series or t.series in series]
    if pattern:
        glob = pattern if any(c in pattern for c in '*?[') else f'*{pattern}*'
        chosen = [t for t in chosen if fnmatch.fnmatch(t.name, glob)]
    return chosen


def add_unlisted(tests, binaries, timeout):
    """check-full: every selftest binary the plan does not name, as a pass entry."""
    listed = {t.cmd.split()[0] for t in tests} | {t.name for t in tests}
    extra = [Test(name=b, cmd=b, timeout=timeout, groups=('auto',))
             for b in sorted(binaries) if b not in listed]
    return tests + extra


def fuzzing(tests, seconds, seed):
    """make fuzz: the fuzzers' {seconds} and {seed} filled in, and the run's
    length added to their timeouts (before scaling)."""
    def fill(t):
        if 'fuzz' not in t.groups:
            return t
        return dataclasses.replace(t, cmd=t.cmd.format(seconds=seconds, seed=seed),
                                   timeout=t.timeout + seconds)
    return [fill(t) for t in tests]


def scaled(tests, factor):
    """The tests with every timeout multiplied by factor (--scale: debug
    kernels are slower), at least 1 s.  The only place a timeout is scaled:
    the guest's kill, the host's watchdog and every message use the result."""
    return [dataclasses.replace(t, timeout=max(1, int(t.timeout * factor))) for t in tests]


def save(path, tests, scale):
    """plan.json of a run: the entries it selected, for `runner.py parse`,
    with their timeouts as scaled (and by how much)."""
    path.write_text(json.dumps(
        {'scale': scale, 'tests': [dataclasses.asdict(t) for t in tests]}, indent=1) + '\n')


def load_saved(path):
    """The entries a run's plan.json holds."""
    saved = json.loads(path.read_text())
    return [Test(**{**t, 'groups': tuple(t['groups'])}) for t in saved['tests']]
