#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the kernel in QEMU and run the test plan, or one command, or a shell.

  runner.py check [options]       run the plan; per-test lines, KTAP, logs
  runner.py parse RESULTS_DIR     parse a finished run's saved consoles again,
                                  into RESULTS_DIR/reparsed/ (or --out DIR)
  runner.py run [--cmd CMD]       interactive shell, or one command whose
                                  exit status becomes ours

Exit status of check and parse: 0 when no test failed (skips and known
failures allowed), 1 when one did, 2 when the harness itself could not run.
"""

# The runner boots, watches the console and sequences the boots.  What an
# outcome means is harness/verdict.py's; the lines and files the verdicts go
# to are harness/results.py's (as kunit_tool keeps kunit_parser and
# kunit_json apart from kunit_kernel).

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import console as con  # noqa: E402
import kbuild  # noqa: E402
import plan as planlib  # noqa: E402
import qemu  # noqa: E402
import series as serieslib  # noqa: E402
from results import Results, flakiness_text  # noqa: E402

TOP = Path(__file__).resolve().parent.parent
OUT = TOP / 'build' / 'out'
RESULTS = TOP / 'build' / 'results'
BOOT_TIMEOUT = 120      # QEMU start to guest init, seconds
BETWEEN_TIMEOUT = 60    # one test's END to the next BEGIN
HOST_GRACE = 30         # beyond a test's own timeout before the host steps in


class HarnessError(Exception):
    pass


# ---------------------------------------------------------------------------
# Boots: one QEMU per group of tests that share a command line.

def write_job(files):
    """A cpio holding harness/<name> for each file, appended to the initramfs."""
    tmp = Path(tempfile.mkdtemp(prefix='harness-job-'))
    (tmp / 'harness').mkdir()
    for name, text in files.items():
        (tmp / 'harness' / name).write_text(text)
    listing = ''.join(f'harness/{n}\n' for n in files)
    job = tmp / 'job.cpio'
    with open(job, 'wb') as f:
        subprocess.run(['cpio', '-o', '-H', 'newc', '--owner=0:0', '--quiet'],
                       cwd=tmp, input=listing.encode(), stdout=f, check=True)
    return tmp, job


def boot_initrd(base_cpio, job_files, dest):
    tmp, job = write_job(job_files)
    with open(dest, 'wb') as out:
        for part in (base_cpio, job):
            with open(part, 'rb') as f:
                shutil.copyfileobj(f, out, 1 << 20)
    shutil.rmtree(tmp)


class Guest:
    """A booted kernel: the kernel image, its initramfs and the QEMU machine."""

    def __init__(self, src, kind, accel):
        self.kind = kind
        self.kernel = OUT / f'{src}-{kind}' / 'arch/x86/boot/bzImage'
        self.initramfs = kbuild.initramfs_path(src)
        # Selftest name -> path under /selftests in the initramfs.
        self.binaries = {Path(rel).name: rel for rel in
                         kbuild.test_binaries(kbuild.selftest_src(src))}
        for path in (self.kernel, self.initramfs):
            if not path.exists():
                raise HarnessError(f'{path} missing: build it first (make kernel)')
        self.accel = qemu.pick_accel(accel)

    def command(self, initrd, cmdline='', machine=planlib.DEFAULT_MACHINE,
                interactive=False):
        return qemu.command(machine_named(machine), self.accel, self.kernel, initrd,
                            cmdline.split(), interactive)


def machine_named(name):
    """The machine of harness/machines/ called @name, its QEMU installed."""
    try:
        m = qemu.load_machine(name)
    except KeyError:
        raise HarnessError(f'no machine {name!r} in harness/machines/') from None
    if not shutil.which(m.binary):
        raise HarnessError(f'{m.binary} not found (apt-get install qemu-system-x86)')
    return m


class Watchdog:
    """How long the guest may stay silent: until init is up, while a test
    runs (its own timeout plus a grace), and between tests.  The boot and
    the gap are scaled by --scale for slow debug kernels; a test's own
    timeout comes scaled already (select_tests)."""

    def __init__(self, tests, scale, gap=BETWEEN_TIMEOUT):
        self.boot = BOOT_TIMEOUT * scale
        self.gap = gap * scale
        self.seconds = {t.name: t.timeout for t in tests}

    def budget(self, running):
        return self.seconds.get(running.name, self.gap) + HOST_GRACE if running else self.gap


def watch(proc, console, watchdog, raw, echo=False):
    """Read the console until QEMU ends, yielding each finished Outcome; kill
    QEMU when the guest stays silent past the watchdog's budget."""
    fd = proc.stdout.fileno()
    armed = time.monotonic()
    deadline = armed + watchdog.boot
    pending = b''
    state = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            proc.wait()
            yield from feed(console, raw, f'@@HOST HUNG {time.monotonic() - armed:.1f}')
            return
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b'\n')
        for data in lines:
            line = data.decode('utf-8', 'replace')
            yield from feed(console, raw, line)
            if echo and console.booted and not line.startswith('@@H'):
                print(line, flush=True)
            # Re-arm on every marker: init up, a test begins, a test ends.
            now_state = (console.booted, console.current, len(console.outcomes))
            if console.booted and now_state != state:
                state = now_state
                armed = time.monotonic()
                deadline = armed + watchdog.budget(console.current)
    proc.wait()
    if not console.done and console.exit_status is None:
        yield from feed(console, raw, f'@@HOST QEMU-EXIT {proc.returncode}')


def feed(console, raw, line):
    raw.write(line + '\n')
    outcome = console.feed(line)
    if outcome:
        yield outcome


def boot_groups(tests):
    """The tests by the boot they need: machine and extra command line."""
    groups = {}
    for t in tests:
        groups.setdefault((t.machine, t.boot), []).append(t)
    return groups


def guest_path(cmd, binaries):
    """Name selftests by absolute path: the KVM selftest library reads its own
    ELF file through argv[0] (lib/elf.c), relative to the working directory."""
    return ' '.join(f'/selftests/{binaries[w]}' if w in binaries else w
                    for w in cmd.split(' '))


def check_job(tests, binaries):
    """The job files of a check boot: /harness/tests, as guest/init reads it."""
    return {'job': 'MODE=check\n',
            'tests': ''.join(f'{t.name}\t{t.timeout}\t{guest_path(t.cmd, binaries)}\n'
                             for t in tests)}


# ---------------------------------------------------------------------------
# make coverage: a gcov kernel's counters leave the guest the way everything
# else does, on the console.  After a boot's tests one more job line copies
# the .gcda files out of debugfs (they report size 0, so tar cannot read them
# in place), and prints them as base64 of a tar.gz between GCOV_MARK lines,
# kernel messages muted so that none splits a line; harness/coverage.py reads
# them back from console-N.log.  The plan does not hold the entry, so the
# results ignore it.

GCOV_MARK = '@@GCOV'
GCOV_DUMP = planlib.Test(
    name='gcov-dump', timeout=300,
    cmd="read lvl rest < /proc/sys/kernel/printk; dmesg -n 1; "
        "cd /sys/kernel/debug/gcov && find . -name '*.gcda' | "
        "while read f; do mkdir -p \"/tmp/gcov/${f%/*}\" && cat \"$f\" > \"/tmp/gcov/$f\"; done; "
        f"echo {GCOV_MARK} BEGIN; tar -C /tmp/gcov -cz . | base64; echo {GCOV_MARK} END; "
        "rm -rf /tmp/gcov; dmesg -n $lvl")


def job_tests(guest, tests):
    """The job's tests: the plan's, and the gcov dump last on a gcov kernel."""
    return tests + [GCOV_DUMP] if guest.kind == 'gcov' else tests


def run_boot(guest, tests, watchdog, results, outdir, boot_no):
    """One boot over `tests`; returns the names it finished."""
    initrd = outdir / 'boot.cpio'
    boot_initrd(guest.initramfs, check_job(job_tests(guest, tests), guest.binaries), initrd)
    cmdline, machine = tests[0].boot, tests[0].machine
    print(f'# boot {boot_no}: {len(tests)} tests'
          f'{", machine: " + machine if machine != planlib.DEFAULT_MACHINE else ""}'
          f'{", cmdline: " + cmdline if cmdline else ""} ({guest.accel})', flush=True)
    console = con.Console()
    finished = []
    with open(outdir / f'console-{boot_no}.log', 'w', buffering=1) as raw:
        raw.write(f'@@HOST BOOT {cmdline}\n')
        proc = qemu.spawn(guest.command(initrd, cmdline, machine))
        for outcome in watch(proc, console, watchdog, raw):
            results.record(outcome)
            finished.append(outcome.name)
    initrd.unlink()
    results.kernel_outside_tests(console.outside, boot_no)
    return finished, console.booted


def run_plan(guest, tests, watchdog, results, outdir):
    boot_no = 0
    for group in boot_groups([t for t in tests if t.expect != 'skip']).values():
        pending = list(group)
        while pending:
            boot_no += 1
            finished, booted = run_boot(guest, pending, watchdog, results, outdir, boot_no)
            if not booted or not finished:
                break   # the guest cannot get through even one test: stop
            pending = [t for t in pending if t.name not in finished]


# ---------------------------------------------------------------------------
# Commands: check, parse, run.

def results_dir(src, kind, name):
    outdir = RESULTS / (name or f'{src}-{kind}')
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    return outdir


def select_tests(args):
    """The plan entries this run runs, each with its timeout scaled once:
    from here on every test carries the timeout it really has."""
    tests = planlib.load(args.plan)
    if args.mode == 'full':
        binaries = kbuild.test_binaries(kbuild.selftest_src(args.src))
        tests = planlib.add_unlisted(tests, [Path(b).name for b in binaries],
                                     args.auto_timeout)
    chosen = planlib.select(tests, args.mode, args.pattern, series_in(args.src))
    if args.mode == 'fuzz':
        chosen = planlib.fuzzing(chosen, args.seconds, args.seed)
    return planlib.scaled(chosen, args.scale)


def series_in(src):
    """The series a tree holds: all (None) but for one series' own tree."""
    if src in ('patched', 'base'):
        return None
    return serieslib.series_in_tree(src)


def cmd_check(args):
    tests = select_tests(args)
    if not tests:
        print(f'no test in {args.plan} matches mode={args.mode} T={args.pattern!r}')
        print('0 passed, 0 failed, 0 skipped')
        return 0
    guest = Guest(args.src, args.kind, args.accel)
    for name in {t.machine for t in tests}:
        machine_named(name)     # before the first boot, not in the middle
    if args.repeat > 1:
        return soak(guest, tests, args)
    outdir = results_dir(args.src, args.kind, args.results)
    return check_once(guest, tests, args, outdir).summary()


def check_once(guest, tests, args, outdir):
    """One run of @tests into @outdir; its Results, summary not yet written."""
    planlib.save(outdir / 'plan.json', tests, args.scale)
    print(f'# {len(tests)} tests on {args.src}-{args.kind} kernel, '
          f'results in {outdir.relative_to(TOP)}', flush=True)
    results = Results(outdir, tests, show_output=args.mode in ('bench', 'fuzz'))
    run_plan(guest, tests, Watchdog(job_tests(guest, tests), args.scale), results, outdir)
    results.finish_unrun()
    return results


def soak(guest, tests, args):
    """make soak: the plan --repeat times in a row, each run in run-N/ of
    the results directory, then how each test ended across the runs
    (flakiness.txt).  Exit status 1 if any run failed a test."""
    top = results_dir(args.src, args.kind, args.results or f'{args.src}-{args.kind}-soak')
    runs, status = [], 0
    for i in range(1, args.repeat + 1):
        print(f'# soak: run {i} of {args.repeat}', flush=True)
        outdir = top / f'run-{i}'
        outdir.mkdir()
        results = check_once(guest, tests, args, outdir)
        status |= results.summary()
        runs.append(results.statuses())
    table = flakiness_text(runs)
    (top / 'flakiness.txt').write_text(table)
    print(table, end='')
    return status


def boot_number(console_log):
    """N of a saved console-N.log."""
    return int(console_log.stem.split('-')[1])


def replay(console_log, results):
    """Feed one saved console to `results`, as it came in live."""
    console = con.Console()
    for line in console_log.read_text(errors='replace').splitlines():
        outcome = console.feed(line)
        if outcome:
            results.record(outcome)
    results.kernel_outside_tests(console.outside, boot_number(console_log))


def cmd_parse(args):
    """Parse a run's saved consoles again, into --out (default RESULTS_DIR/
    reparsed/): the run's own logs and results stay as the run left them."""
    # Absolute, but not resolved: a build/ that is a symlink stays under TOP.
    rundir = Path(os.path.abspath(args.dir))
    outdir = Path(os.path.abspath(args.out)) if args.out else rundir / 'reparsed'
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    results = Results(outdir, planlib.load_saved(rundir / 'plan.json'))
    for console_log in sorted(rundir.glob('console-*.log'), key=boot_number):
        replay(console_log, results)
    results.finish_unrun()
    return results.summary()


def cmd_run(args):
    guest = Guest(args.src, args.kind, args.accel)
    outdir = RESULTS / 'run'
    outdir.mkdir(parents=True, exist_ok=True)
    initrd = outdir / 'boot.cpio'
    if not args.cmd:
        boot_initrd(guest.initramfs, {'job': 'MODE=shell\n'}, initrd)
        print('# QEMU console: Ctrl-A X quits, Ctrl-A C switches to the monitor', flush=True)
        return subprocess.call(guest.command(initrd, args.boot, args.machine,
                                             interactive=True))
    boot_initrd(guest.initramfs, {'job': 'MODE=exec\n', 'cmd': guest_path(args.cmd, guest.binaries) + '\n'}, initrd)
    console = con.Console()
    # No test runs in exec mode: the gap budget bounds the whole command.
    watchdog = Watchdog([], args.scale, gap=args.cmd_timeout)
    with open(outdir / 'console.log', 'w', buffering=1) as raw:
        proc = qemu.spawn(guest.command(initrd, args.boot, args.machine))
        for _ in watch(proc, console, watchdog, raw, echo=True):
            pass
    if console.exit_status is None:
        tail = (outdir / 'console.log').read_text(errors='replace').splitlines()[-15:]
        print('\n'.join(tail), file=sys.stderr)
        print(f'runner: the guest ended without an exit status '
              f'({console.host or "no @@H EXIT"}); console: {outdir / "console.log"}',
              file=sys.stderr)
        return 2
    if console.exit_status:
        print(f'runner: the command exited with status {console.exit_status}', file=sys.stderr)
    return console.exit_status


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='command', required=True)
    for name in ('check', 'run'):
        p = sub.add_parser(name)
        p.add_argument('--src', default='patched',
                       help='patched, base, or a series of patches/series.cfg')
        p.add_argument('--kind', default='test', choices=('test', 'debug', 'gcov'))
        p.add_argument('--accel', default=os.environ.get('ACCEL') or None,
                       choices=('tcg', 'kvm', None))
        p.add_argument('--scale', type=float, default=1.0,
                       help='multiply every timeout (debug kernels are slower)')
    check = sub.choices['check']
    check.add_argument('--plan', default=str(TOP / 'harness/plan.cfg'))
    check.add_argument('--mode', default='check', choices=('check', 'full', 'bench', 'fuzz'))
    check.add_argument('--seconds', type=int, default=300, help='fuzz: how long each fuzzer runs')
    check.add_argument('--seed', default='1', help='fuzz: the seed every fuzzer starts from')
    check.add_argument('--pattern', default=os.environ.get('T', ''))
    check.add_argument('--results', default='', help='results directory name')
    check.add_argument('--repeat', type=int, default=1,
                       help='run the plan this many times (make soak) and tabulate')
    check.add_argument('--auto-timeout', type=int, default=120,
                       help='timeout of the selftests check-full adds unlisted')
    run = sub.choices['run']
    run.add_argument('--cmd', default=os.environ.get('CMD', ''))
    run.add_argument('--boot', default=os.environ.get('BOOT', ''),
                     help='extra kernel command line, e.g. kvm_amd.npt=0')
    run.add_argument('--machine', default=os.environ.get('MACHINE') or planlib.DEFAULT_MACHINE,
                     help='a machine of harness/machines/')
    run.add_argument('--cmd-timeout', type=int, default=3600)
    parse = sub.add_parser('parse')
    parse.add_argument('dir')
    parse.add_argument('--out', default='',
                       help='where the results go (default: DIR/reparsed)')
    args = ap.parse_args()
    try:
        return {'check': cmd_check, 'parse': cmd_parse, 'run': cmd_run}[args.command](args)
    except (HarnessError, planlib.PlanError, OSError) as e:
        print(f'runner: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
