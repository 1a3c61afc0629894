#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make harness-selftest: the harness checks itself.

First the console parser and the verdicts on canned console text (no boot),
then a live run of harness/selftest.cfg in QEMU: a test that loops forever,
one that hangs the whole guest, one that panics it and one during which the
kernel prints a backtrace must each be reported as failed, with their own
status, and the tests after them must still run.  The live run scales every
timeout (--scale, as DEBUG=1 does): the looping test must be killed at its
scaled timeout and say so, and the hung guest be given up at it plus the
host's grace.
"""

import base64
import contextlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import console as con  # noqa: E402
import coverage  # noqa: E402
import kbuild  # noqa: E402
import plan as planlib  # noqa: E402
import qemu  # noqa: E402
import runner  # noqa: E402
import verdict  # noqa: E402
from machines import MACHINES  # noqa: E402

TOP = HERE.parent


class HarnessTest(unittest.TestCase):
    def parse(self, text):
        return con.parse_lines(text.splitlines())

    def test_end_fields(self):
        c = self.parse('@@H BOOTED 6.12\n@@H BEGIN a\nout\n@@H END a rc=3 signal=0 timeout=0 ms=1500\n')
        (a,) = c.outcomes
        self.assertEqual((a.name, a.rc, a.seconds, a.ended), ('a', 3, 1.5, True))
        self.assertEqual(a.log, ['out'])

    def test_splat_only_on_kernel_lines(self):
        c = self.parse('@@H BEGIN a\nWARNING: printed by the test\n'
                       '[   12.345678] WARNING: CPU: 1 PID: 9 at arch/x86/kvm/mmu/mmu.c:1\n'
                       '@@H END a rc=0 signal=0 timeout=0 ms=1\n')
        self.assertEqual(len(c.outcomes[0].splats), 1)

    def test_splat_fails_a_passing_test(self):
        t = planlib.Test('a', 'a')
        o = con.Outcome('a', ended=True, splats=['[    1.000000] BUG: KASAN: use-after-free'])
        self.assertEqual(verdict.verdict(t, o)[0], 'FAIL')

    def test_splat_outside_tests(self):
        c = self.parse('[    0.500000] Oops: 0000 [#1] SMP\n@@H BOOTED x\n')
        self.assertTrue(c.outside.splats)

    def test_host_marks_end_the_running_test(self):
        for mark, status in (('@@HOST HUNG 40', 'HUNG'), ('@@HOST QEMU-EXIT 0', 'CRASH')):
            c = self.parse(f'@@H BEGIN a\n{mark}\n')
            self.assertEqual(verdict.verdict(planlib.Test('a', 'a'), c.outcomes[0])[0], status)

    def test_expectations(self):
        xfail = planlib.Test('a', 'a', expect='xfail', reason='r')
        self.assertEqual(verdict.verdict(xfail, con.Outcome('a', rc=1))[0], 'XFAIL')
        self.assertEqual(verdict.verdict(xfail, con.Outcome('a', rc=0))[0], 'XPASS')
        self.assertEqual(verdict.verdict(planlib.Test('a', 'a'), con.Outcome('a', rc=4))[0],
                         'SKIP')

    def test_lost_config_options_are_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            frag, dotconfig = Path(tmp, 'frag'), Path(tmp, '.config')
            frag.write_text('CONFIG_KVM=y\nCONFIG_NO_SUCH_OPTION=y\n# CONFIG_DEBUG_FS is not set\n')
            dotconfig.write_text('CONFIG_KVM=y\nCONFIG_DEBUG_FS=y\n')
            lost = kbuild.missing_options([frag], dotconfig)
        self.assertEqual(lost, [('CONFIG_NO_SUCH_OPTION', 'y', 'n'), ('CONFIG_DEBUG_FS', 'n', 'y')])

    def test_modes_select_their_entries(self):
        tests = [planlib.Test('a', 'a'), planlib.Test('slow', 's', groups=('full',)),
                 planlib.Test('bench_x', 'b', groups=('bench',))]
        names = {m: [t.name for t in planlib.select(tests, m)] for m in ('check', 'full', 'bench')}
        self.assertEqual(names, {'check': ['a'], 'full': ['a', 'slow'], 'bench': ['bench_x']})
        self.assertEqual([t.name for t in planlib.select(tests, 'full', 'sl')], ['slow'])

    def test_fuzz_mode_runs_fuzzers_then_the_leak_check(self):
        tests = [planlib.Test('a', 'a'), planlib.Test('leaks', 'l', groups=('debug',)),
                 planlib.Test('fz', 'f -s {seed} -d {seconds}', timeout=100, groups=('fuzz',))]
        self.assertEqual([t.name for t in planlib.select(tests, 'check')], ['a', 'leaks'])
        chosen = planlib.fuzzing(planlib.select(tests, 'fuzz'), 600, '7')
        self.assertEqual([(t.name, t.cmd, t.timeout) for t in chosen],
                         [('leaks', 'l', 60), ('fz', 'f -s 7 -d 600', 700)])

    def test_full_mode_adds_only_unlisted_selftests(self):
        tests = [planlib.Test('a', 'a -x'), planlib.Test('a-variant', 'a -y')]
        full = planlib.add_unlisted(tests, ['a', 'b'], 120)
        self.assertEqual([t.name for t in full], ['a', 'a-variant', 'b'])
        self.assertEqual([t.name for t in planlib.select(full, 'full', 'b')], ['b'])

    def test_series_selects_its_own_tests(self):
        # SERIES=kvm-lbr: upstream tests and kvm-lbr's run, kvm-gmp's do not
        # exist in that tree; without SERIES every test runs.
        tests = [planlib.Test('upstream', 'upstream'),
                 planlib.Test('lbr', 'lbr', series='kvm-lbr'),
                 planlib.Test('gmp', 'gmp', series='kvm-gmp')]
        names = lambda chosen: [t.name for t in chosen]
        self.assertEqual(names(planlib.select(tests, 'check', '', ['kvm-lbr'])),
                         ['upstream', 'lbr'])
        self.assertEqual(names(planlib.select(tests, 'check')), ['upstream', 'lbr', 'gmp'])

    def test_scaled_timeout_is_the_same_everywhere(self):
        # SCALE=4 on a 120 s test: the guest kills it at 480 s, the host
        # watches it for 480 s plus the grace, and its result says 480 s.
        (t,) = planlib.scaled([planlib.Test('a', 'a', timeout=120)], 4)
        self.assertEqual(t.timeout, 480)
        self.assertEqual(runner.check_job([t], {})['tests'], 'a\t480\ta\n')
        self.assertEqual(runner.Watchdog([t], 4).budget(con.Outcome('a')),
                         480 + runner.HOST_GRACE)
        c = self.parse('@@H BOOTED x\n@@H BEGIN a\n@@H END a rc=0 signal=9 timeout=1 ms=480012\n')
        self.assertEqual(verdict.verdict(t, c.outcomes[0]),
                         ('TIMEOUT', 'killed after its 480 s timeout'))

    def test_plan_joins_continued_commands(self):
        self.assertEqual(planlib._entry('a', {'cmd': 'x &&\n  y'}).cmd, 'x &&   y')

    def test_plan_rejects_xfail_without_reason(self):
        with self.assertRaises(planlib.PlanError):
            planlib._entry('a', {'expect': 'xfail'})


    def test_each_machine_and_command_line_gets_its_own_boot(self):
        tests = [planlib._entry('a', {}), planlib._entry('b', {'machine': 'q35-edu-default-mask'}),
                 planlib._entry('c', {'boot': 'x=1'}), planlib._entry('d', {})]
        groups = runner.boot_groups(tests)
        self.assertEqual([[t.name for t in g] for g in groups.values()],
                         [['a', 'd'], ['b'], ['c']])
        for machine, _ in groups:
            self.assertEqual(qemu.load_machine(machine).name, machine)

    def test_soak_table_names_flaky_and_failing_tests(self):
        runs = [{'a': 'PASS', 'b': 'PASS', 'c': 'SKIP', 'd': 'FAIL'},
                {'a': 'PASS', 'b': 'TIMEOUT', 'c': 'SKIP', 'd': 'FAIL'},
                {'a': 'PASS', 'c': 'SKIP', 'd': 'CRASH'}]
        rows = {line.split()[0]: line for line in
                runner.flakiness_text(runs).splitlines()[2:]}
        self.assertTrue(rows['a'].endswith('stable'))
        self.assertIn('FLAKY: run 2 TIMEOUT, run 3 NOT RUN', rows['b'])
        self.assertEqual(rows['c'].split()[1:5], ['0', '0', '3', 'stable'])
        self.assertIn('always fails: CRASH, FAIL', rows['d'])

    def test_plan_names_only_known_machines(self):
        for t in planlib.load(TOP / 'harness/plan.cfg'):
            self.assertIn(t.machine, MACHINES, t.name)


# `gcov --json-format --stdout` of a kernel object, cut down: its own .c
# (named relative to the build directory, as kbuild compiles with O=), an
# inline header of the tree, and a generated header outside it.
SAVED_GCOV = {
    'format_version': '1', 'gcc_version': '12.2.0',
    'current_working_directory': '/build/out/patched-gcov',
    'data_file': '/tmp/coverage-x/console-1/arch/x86/kvm/x86.gcda',
    'files': [
        {'file': '../../linux/arch/x86/kvm/x86.c', 'functions': [], 'lines': [
            {'line_number': 10, 'count': 4, 'unexecuted_block': False, 'branches': []},
            {'line_number': 11, 'count': 0, 'unexecuted_block': True, 'branches': []},
            {'line_number': 11, 'count': 2, 'unexecuted_block': False, 'branches': []}]},
        {'file': '/build/linux/include/linux/kvm_host.h', 'functions': [], 'lines': [
            {'line_number': 7, 'count': 0, 'unexecuted_block': True, 'branches': []}]},
        {'file': './arch/x86/include/generated/asm/rwonce.h', 'functions': [], 'lines': [
            {'line_number': 1, 'count': 9, 'unexecuted_block': False, 'branches': []}]}]}

# `git blame --porcelain` of three lines: a base line, then two lines of one
# commit (the second header of a group carries no line count).
SAVED_BLAME = (
    'a' * 40 + ' 1 1 1\nauthor base\nfilename x.c\n\tint base;\n'
    + 'b' * 40 + ' 5 2 2\nauthor series\nsummary KVM: add\nfilename x.c\n\tif (allones)\n'
    + 'b' * 40 + ' 6 3\n\t\treturn 0;\n')


class SavedRunTest(unittest.TestCase):
    """Real consoles of past runs (harness/test_data/*/: console-N.log, the
    plan.json they ran, expected.json), parsed again: the verdicts must not
    change when the parser or the verdict rules do.  Saved runs: a base
    kernel failing and skipping the VFIO fuzzers, a debug kernel's noisy
    console around a passing test, and the live self-test's timeout, hang,
    crash, splat and known-failure verdicts."""

    DATA = HERE / 'test_data'

    def replay(self, case):
        with tempfile.TemporaryDirectory() as tmp, \
                contextlib.redirect_stdout(io.StringIO()):
            out = Path(tmp)
            results = runner.Results(out, planlib.load_saved(case / 'plan.json'))
            for log in sorted(case.glob('console-*.log'), key=runner.boot_number):
                runner.replay(log, results)
            results.finish_unrun()
            results.summary()
            got = json.loads((out / 'results.json').read_text())
        return [{k: r[k] for k in ('name', 'status', 'detail')} for r in got]

    def test_saved_runs(self):
        cases = sorted(p for p in self.DATA.iterdir() if p.is_dir())
        self.assertTrue(cases)
        for case in cases:
            with self.subTest(case=case.name):
                want = json.loads((case / 'expected.json').read_text())
                self.assertEqual(self.replay(case), want)


class CoverageTest(unittest.TestCase):
    """harness/coverage.py on saved gcov and blame output (no boot, no gcov)."""

    def test_gcov_lines_of_the_tree_only(self):
        counts = coverage.gcov_lines(SAVED_GCOV, '/build/linux')
        self.assertEqual(counts, {('arch/x86/kvm/x86.c', 10): 4, ('arch/x86/kvm/x86.c', 11): 2,
                                  ('include/linux/kvm_host.h', 7): 0})

    def test_console_gives_back_the_gcda(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode='w:gz') as tar:
            for name, data in (('./build/out/patched-gcov/virt/kvm/gmp.gcda', b'gcda'),
                               ('./build/out/patched-gcov/virt/kvm/gmp.gcno', b'x')):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        text = base64.encodebytes(buf.getvalue()).decode().splitlines()
        # A kernel line inside the dump is not base64 and is skipped.
        console = ['@@H BEGIN gcov-dump', '@@GCOV BEGIN', text[0],
                   '[   12.000001] kvm: a late message', *text[1:], '@@GCOV END',
                   '@@GCOV BEGIN', 'AAAA', '@@GCOV END', '@@GCOV BEGIN', 'A', '@@GCOV END']
        good, truncated, damaged = coverage.console_blobs(console)
        self.assertEqual(coverage.gcda_members(good),
                         {'build/out/patched-gcov/virt/kvm/gmp.gcda': b'gcda'})
        self.assertIsNone(coverage.gcda_members(truncated))
        self.assertIsNone(damaged)

    def test_gcda_found_under_another_build_path(self):
        with tempfile.TemporaryDirectory() as objtree:
            Path(objtree, 'virt/kvm').mkdir(parents=True)
            Path(objtree, 'virt/kvm/gmp.gcno').touch()
            self.assertEqual(coverage.object_of('ci/clone/build/out/patched-gcov/virt/kvm/gmp.gcda',
                                                Path(objtree)), Path('virt/kvm/gmp'))
            self.assertIsNone(coverage.object_of('x/lib/other.gcda', Path(objtree)))

    def test_blame_names_each_line(self):
        self.assertEqual(coverage.parse_blame(SAVED_BLAME),
                         {1: ('a' * 40, 'int base;'), 2: ('b' * 40, 'if (allones)'),
                          3: ('b' * 40, '\treturn 0;')})

    def test_series_figures_and_unreached_ranges(self):
        # x.c: 1-3 and 6 added, 3 is blank; 9 reached between 6 and 10.
        added = {('x.c', n): ('s', f'line {n}') for n in (1, 2, 3, 6, 10)}
        added[('y.c', 1)] = ('s', 'not built')
        added[('x.c', 4)] = ('t', 'reached')
        executable = {('x.c', n) for n in (1, 2, 4, 6, 9, 10)}
        reached = {('x.c', 4), ('x.c', 9)}
        report = coverage.series_report(added, executable, reached, {'x.c'})
        s = report['s']
        self.assertEqual((s['executable'], s['reached'], s['percent']), (4, 0, 0.0))
        self.assertEqual([(r['first'], r['last']) for r in s['unreached']], [(1, 2), (6, 6), (10, 10)])
        self.assertEqual(s['not_profiled'], {'y.c': 1})
        self.assertEqual(s['files'], {'x.c': [0, 4]})
        self.assertEqual((report['t']['reached'], report['t']['percent']), (1, 100.0))
        text = coverage.report_text(report, ['s', 't', 'u'], [])
        self.assertIn('s: 4 added executable lines, 0 reached (0.0%)\n  x.c: 0/4\n'
                      '  x.c:1-2:\n        1: line 1\n', text)
        self.assertIn('u: adds no kernel code', text)


EXPECTED = {
    'passes': 'PASS', 'fails': 'FAIL', 'skips_with_reason': 'SKIP', 'kernel_splat': 'FAIL',
    'loops_forever': 'TIMEOUT', 'after_loop': 'PASS',
    'hangs_guest': 'HUNG', 'after_hang': 'PASS',
    'crashes_guest': 'CRASH', 'after_crash': 'PASS',
    'known_failure_fails': 'XFAIL', 'known_failure_passes': 'XPASS',
    'declared_skip': 'SKIP',
}
SCALE = 2   # the live run's --scale: every timeout doubled


def scaled_limits(got):
    """The looping test was killed at its scaled timeout and says that one;
    the hung guest was given up at that timeout plus the host's grace."""
    limit = {t.name: t.timeout * SCALE for t in planlib.load(HERE / 'selftest.cfg')}
    bad = []
    loop = got.get('loops_forever', {})
    if (loop.get('detail') != f'killed after its {limit["loops_forever"]} s timeout'
            or not limit['loops_forever'] <= loop.get('seconds', 0) < limit['loops_forever'] + 2):
        bad.append(f'loops_forever: killed after {loop.get("seconds")} s, said '
                   f'"{loop.get("detail")}"; its timeout is {limit["loops_forever"]} s')
    budget = limit['hangs_guest'] + runner.HOST_GRACE
    hang = got.get('hangs_guest', {})
    if not budget <= hang.get('seconds', 0) < budget + 2:
        bad.append(f'hangs_guest: the host gave up after {hang.get("seconds")} s, '
                   f'not at its {budget} s (timeout + grace)')
    return bad


def live_run():
    # The run is meant to fail; its lines are shown indented so that its
    # closing line is not taken for the verdict of whatever runs this.
    res = subprocess.run([sys.executable, str(HERE / 'runner.py'), 'check',
                          '--plan', str(HERE / 'selftest.cfg'), '--results', 'harness-selftest',
                          '--scale', str(SCALE)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(''.join(f'    | {line}\n' for line in res.stdout.splitlines()), end='')
    outdir = TOP / 'build/results/harness-selftest'
    got = {r['name']: r for r in json.loads((outdir / 'results.json').read_text())}
    bad = [f'{name}: expected {want}, got {got.get(name, {}).get("status", "nothing")}'
           for name, want in EXPECTED.items() if got.get(name, {}).get('status') != want]
    if 'needs a feature' not in got.get('skips_with_reason', {}).get('detail', ''):
        bad.append('skips_with_reason: the skip reason was not reported')
    if 'kernel splat' not in got.get('kernel_splat', {}).get('detail', ''):
        bad.append('kernel_splat: not failed for the splat')
    bad += scaled_limits(got)
    if res.returncode != 1:
        bad.append(f'runner exit status {res.returncode}, expected 1 (tests failed)')
    # Re-parsing the saved consoles must give the same verdicts.
    live_json = (outdir / 'results.json').read_text()
    reparsed = subprocess.run([sys.executable, str(HERE / 'runner.py'), 'parse', str(outdir)],
                              capture_output=True, text=True)
    again = {r['name']: r['status']
             for r in json.loads((outdir / 'reparsed/results.json').read_text())}
    if again != {n: r['status'] for n, r in got.items()} or reparsed.returncode != 1:
        bad.append('runner.py parse of the saved consoles disagrees with the live run')
    if (outdir / 'results.json').read_text() != live_json:
        bad.append('runner.py parse overwrote the live run\'s results')
    # ... and print the same lines, but for the live run's "# ..." progress
    # and where its files went.
    live_lines = [line.replace('harness-selftest/', 'harness-selftest/reparsed/')
                  if line.startswith('Logs: ') else line
                  for line in res.stdout.splitlines() if not line.startswith('# ')]
    if reparsed.stdout.splitlines() != live_lines:
        said = reparsed.stderr.strip().splitlines()
        bad.append('runner.py parse printed other lines than the live run'
                   + (f' ({said[-1]})' if said else ''))
    return bad


def main():
    load = unittest.defaultTestLoader.loadTestsFromTestCase
    suite = unittest.TestSuite([load(HarnessTest), load(SavedRunTest),
                                load(CoverageTest)])
    if not unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful():
        return 1
    bad = live_run()
    for line in bad:
        print(f'harness-selftest: {line}')
    print(f'harness-selftest: {"FAILED" if bad else "ok"}: '
          f'{len(EXPECTED) - len(bad)} of {len(EXPECTED)} verdicts as expected')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
