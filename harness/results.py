# SPDX-License-Identifier: GPL-2.0
"""Results of a run: a line per test as it finishes, its log, then KTAP,
JSON and the closing lines.

The runner hands every finished Outcome (harness/console.py) to Results,
which gives it its verdict (harness/verdict.py) and writes, in the run's
results directory:

  logs/<test>.log   command, status, detail, kernel splats, then the console
  results.ktap      KTAP v1, with # SKIP / # XFAIL directives
  results.json      one record per test (name, status, seconds, detail)

A soak (make soak) runs the plan several times, each run in a directory of
its own, and flakiness_text() tabulates how each test ended across them.
"""

import json
from pathlib import Path

import console as con
import plan as planlib
import verdict

TOP = Path(__file__).resolve().parent.parent


def result_line(record):
    """The line printed as a test finishes: status, name, seconds and why."""
    suffix = f'  {record["detail"]}' if record['detail'] else ''
    return f'{record["status"]:<7} {record["name"]} ({record["seconds"]:.1f} s){suffix}'


def test_output(outcome):
    """What the test printed, without the kernel's lines (benchmark tables)."""
    return '\n'.join(line for line in outcome.log if not con.KERNEL_LINE.search(line))


def log_text(test, outcome, status, detail):
    lines = [f'# test: {test.name}', f'# cmd: {test.cmd}', f'# status: {status}']
    if detail:
        lines.append(f'# detail: {detail}')
    if outcome:
        lines += [f'# kernel splat: {s}' for s in outcome.splats]
        lines += outcome.log
    return '\n'.join(lines) + '\n'


def ktap_text(records):
    out = ['KTAP version 1', f'1..{len(records)}']
    for i, r in enumerate(records, 1):
        if r['detail']:
            out.append(f'# {r["name"]}: {r["status"]}: {r["detail"]}')
        ok = 'not ok' if r['status'] in verdict.FAILING else 'ok'
        directive = {'SKIP': f' # SKIP {r["detail"]}',
                     'XFAIL': f' # XFAIL {r["detail"]}'}.get(r['status'], '')
        out.append(f'{ok} {i} {r["name"]}{directive}')
    return '\n'.join(out) + '\n'


def json_text(records):
    return json.dumps(records, indent=1) + '\n'


def count(records):
    """Status -> how many records have it, for every status."""
    return {s: sum(r['status'] == s for r in records) for s in verdict.STATUSES}


def failed(counts):
    return sum(counts[s] for s in verdict.FAILING)


def totals_line(counts):
    return (f'Totals: pass:{counts["PASS"]} fail:{counts["FAIL"]} '
            f'timeout:{counts["TIMEOUT"]} hung:{counts["HUNG"]} crash:{counts["CRASH"]} '
            f'xfail:{counts["XFAIL"]} xpass:{counts["XPASS"]} skip:{counts["SKIP"]}')


def shown(path):
    """path relative to the project's top when it is under it."""
    return path.relative_to(TOP) if path.is_relative_to(TOP) else path


def files_line(outdir):
    return f'Logs: {shown(outdir)}/logs/, KTAP: {shown(outdir)}/results.ktap'


def closing_line(counts):
    # Known failures count as skipped: they are neither proven to work nor a
    # regression.
    return (f'{counts["PASS"]} passed, {failed(counts)} failed, '
            f'{counts["SKIP"] + counts["XFAIL"]} skipped')


def flakiness_text(runs):
    """The soak's table: for each test, how many of the @runs (each a dict
    of test name -> status) it passed and failed, and how; flaky when it did
    both."""
    names = sorted({n for run in runs for n in run})
    out = [f'# {len(runs)} runs', f'{"test":<44} {"pass":>4} {"fail":>4} {"skip":>4}  verdict']
    for name in names:
        got = [run.get(name, 'NOT RUN') for run in runs]
        passes = got.count('PASS')
        fails = [g for g in got if g in verdict.FAILING or g == 'NOT RUN']
        skips = len(got) - passes - len(fails)
        if fails and passes:
            word = 'FLAKY: ' + ', '.join(f'run {i + 1} {g}' for i, g in enumerate(got)
                                         if g in fails)
        elif fails:
            word = 'always fails: ' + ', '.join(sorted(set(fails)))
        else:
            word = 'stable'
        out.append(f'{name:<44} {passes:>4} {len(fails):>4} {skips:>4}  {word}')
    return '\n'.join(out) + '\n'


class Results:
    """The verdicts of one run, in plan order, and the files they go to."""

    def __init__(self, outdir, tests, show_output=False):
        self.outdir = outdir
        self.tests = tests
        self.show_output = show_output   # benchmarks: their tables are the point
        self.by_name = {t.name: t for t in tests}
        self.records = {}
        (outdir / 'logs').mkdir(parents=True, exist_ok=True)
        for test in tests:
            if test.expect == 'skip':
                self._finish(test, None)

    def record(self, outcome):
        """Take a finished Outcome; one the plan does not hold, or a second
        one for the same test, is ignored."""
        test = self.by_name.get(outcome.name) if outcome else None
        if test is None or test.name in self.records:
            return
        self._finish(test, outcome)

    def finish_unrun(self):
        for test in self.tests:
            if test.name not in self.records:
                self._finish(test, None)

    def kernel_outside_tests(self, outside, boot_no):
        """A splat while no test ran fails the run on its own line."""
        if outside.splats:
            name = f'kernel-outside-tests-boot{boot_no}'
            test = planlib.Test(name=name, cmd='(boot and between tests)')
            self.tests.append(test)
            self.by_name[name] = test
            self._finish(test, outside)

    def statuses(self):
        """Test name -> the status it ended with, for every test recorded."""
        return {name: r['status'] for name, r in self.records.items()}

    def summary(self):
        """Write KTAP and JSON, print the closing lines; the exit status."""
        records = [self.records[t.name] for t in self.tests if t.name in self.records]
        counts = count(records)
        (self.outdir / 'results.ktap').write_text(ktap_text(records))
        (self.outdir / 'results.json').write_text(json_text(records))
        print(totals_line(counts))
        print(files_line(self.outdir))
        print(closing_line(counts))
        return 1 if failed(counts) else 0

    def _finish(self, test, outcome):
        status, detail = verdict.verdict(test, outcome)
        record = {'name': test.name, 'status': status,
                  'seconds': outcome.seconds if outcome else 0.0, 'detail': detail}
        self.records[test.name] = record
        (self.outdir / 'logs' / f'{test.name}.log').write_text(
            log_text(test, outcome, status, detail))
        if self.show_output and outcome:
            print(test_output(outcome))
        print(result_line(record), flush=True)
