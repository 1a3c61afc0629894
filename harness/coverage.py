#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make coverage: which lines the series add to the kernel the test plan reaches.

  coverage.py report [--src patched] [--results DIR] [--out DIR]

Reads the gcov counters a `--kind gcov` run left in the consoles of its
boots (console-N.log: base64 of a tar.gz of /sys/kernel/debug/gcov, see
GCOV_DUMP in runner.py), runs gcov on them against the .gcno files of the
coverage kernel (build/out/<src>-gcov), and intersects the executable lines
with the lines each series of patches/series.cfg adds or changes, as `git
blame` of the tree attributes them to the series' commits.  Prints, per
series, the added executable lines, how many ran, and the ones that did
not, grouped into ranges; writes the same to OUT/coverage.txt and
OUT/coverage.json.  Stdlib only; the parsing functions are unit-tested on
saved gcov and blame output (harness/selftest.py).
"""

import argparse
import base64
import binascii
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kbuild  # noqa: E402
import series as serieslib  # noqa: E402

TOP = HERE.parent
MARK = '@@GCOV'      # runner.GCOV_MARK; not imported, runner pulls in QEMU's side
BASE64_LINE = re.compile(r'^[A-Za-z0-9+/=]+$')
BLAME_HEADER = re.compile(r'^([0-9a-f]{40}) \d+ (\d+)(?: \d+)?$')
UNCOMMITTED = '0' * 40
# Lines the report attributes: code the kernel compiles, not the selftests.
CODE_SUFFIXES = ('.c', '.h')


def shown(path):
    return path.relative_to(TOP) if path.is_relative_to(TOP) else path


def log(msg):
    print(f'coverage: {msg}', flush=True)


# ---------------------------------------------------------------------------
# Out of the console: the tar.gz of .gcda files each boot printed.

def console_blobs(lines):
    """The gcov archives in one console, decoded; a damaged one (a kernel line
    inside it, a boot that died while printing) gives None in its place."""
    blobs, chunk = [], None
    for line in lines:
        line = line.rstrip('\r\n')
        if line == f'{MARK} BEGIN':
            chunk = []
        elif line == f'{MARK} END' and chunk is not None:
            try:
                blobs.append(base64.b64decode(''.join(chunk), validate=True))
            except (binascii.Error, ValueError):
                blobs.append(None)
            chunk = None
        elif chunk is not None and BASE64_LINE.match(line):
            chunk.append(line)
    return blobs


def gcda_members(blob):
    """{path in the guest's debugfs: .gcda bytes}; None if the archive is bad."""
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode='r:gz') as tar:
            return {os.path.normpath(m.name): tar.extractfile(m).read()
                    for m in tar.getmembers() if m.isfile() and m.name.endswith('.gcda')}
    except (tarfile.TarError, OSError, EOFError):
        return None


def object_of(guest_path, objtree):
    """The object a debugfs .gcda belongs to, relative to the build directory:
    debugfs names it by the absolute build path it was compiled at, which
    need not be this checkout's, so the shortest tail with a .gcno wins."""
    parts = Path(guest_path).with_suffix('.gcno').parts
    for i in range(len(parts) - 1, -1, -1):
        rel = Path(*parts[i:])
        if (objtree / rel).exists():
            return rel.with_suffix('')
    return None


# ---------------------------------------------------------------------------
# gcov: per source line, executable or not, and how often it ran.

def gcov_lines(doc, tree):
    """{(file relative to tree, line): count} of one `gcov --json-format`
    document; files outside the tree (generated headers) are left out."""
    cwd = doc.get('current_working_directory', '')
    tree = os.path.realpath(tree)
    counts = {}
    for f in doc.get('files', []):
        path = os.path.realpath(os.path.join(cwd, f['file']))
        if not path.startswith(tree + os.sep):
            continue
        rel = os.path.relpath(path, tree)
        for ln in f.get('lines', []):
            key = (rel, ln['line_number'])
            counts[key] = counts.get(key, 0) + ln['count']
    return counts


def run_gcov(objtree, obj, gcda_bytes, work):
    """gcov's JSON for object OBJ (relative to objtree) with GCDA_BYTES as its
    counters, or none (every line then counts 0: the executable lines)."""
    base = work / obj
    base.parent.mkdir(parents=True, exist_ok=True)
    gcno = base.with_suffix('.gcno')
    if not gcno.exists():
        gcno.symlink_to(objtree / obj.with_suffix('.gcno'))
    gcda = base.with_suffix('.gcda')
    if gcda_bytes is None:
        gcda.unlink(missing_ok=True)
    else:
        gcda.write_bytes(gcda_bytes)
    res = subprocess.run(['gcov', '--json-format', '--stdout', str(gcda)], cwd=work,
                         capture_output=True, text=True)
    if res.returncode or not res.stdout.strip():
        raise RuntimeError(f'gcov {gcda}: {res.stderr.strip()}')
    return json.loads(res.stdout)


def merge(into, counts):
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


# ---------------------------------------------------------------------------
# Which series added each line: git blame of the tree that was built.

def parse_blame(text):
    """{line: (commit, source text)} of `git blame --porcelain` output."""
    lines, current = {}, None
    for raw in text.splitlines():
        if raw.startswith('\t'):
            if current:
                lines[current[1]] = (current[0], raw[1:])
            current = None
            continue
        m = BLAME_HEADER.match(raw)
        if m:
            current = (m.group(1), int(m.group(2)))
    return lines


def series_commits(tree):
    """{commit: series} for the integration tree, by series.cfg's counts."""
    series = serieslib.load_series()
    commits = serieslib.integration_commits(series)
    return {c: s.name for s in series for c in serieslib.own_commits(commits, s)}


def changed_files(tree, root):
    out = subprocess.run(['git', '-C', str(tree), 'diff', '--name-only', root, '--',
                          *[f'*{s}' for s in CODE_SUFFIXES], ':!tools/', ':!scripts/'],
                         capture_output=True, text=True, check=True).stdout.split()
    return [f for f in out if (tree / f).exists()]


def added_lines(tree, owner):
    """{(file, line): (series, text)} of every line of the work tree that a
    series' commit (or no commit yet) last touched."""
    added = {}
    for f in changed_files(tree, kbuild.series_root(tree)):
        text = subprocess.run(['git', '-C', str(tree), 'blame', '--porcelain', '--', f],
                              capture_output=True, text=True, check=True).stdout
        for line, (commit, src) in parse_blame(text).items():
            name = owner.get(commit, '(uncommitted)' if commit == UNCOMMITTED else None)
            if name:
                added[(f, line)] = (name, src)
    return added


# ---------------------------------------------------------------------------
# The report.

def ranges(numbers, executable):
    """Group sorted unreached line numbers into runs with no other executable
    line between them (blank lines and comments do not break a run)."""
    runs = []
    for n in numbers:
        if runs and not any(runs[-1][-1] < e < n for e in executable):
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def series_report(added, executable, reached, built):
    """{series: figures and unreached ranges}.  executable/reached: sets of
    (file, line); built: files the coverage kernel profiled."""
    out = {}
    for (f, line), (name, src) in sorted(added.items()):
        s = out.setdefault(name, {'executable': 0, 'reached': 0, 'files': {}, 'unreached': {},
                                  'not_profiled': {}})
        if f not in built:
            if f.endswith('.c'):
                s['not_profiled'][f] = s['not_profiled'].get(f, 0) + 1
            continue
        if (f, line) not in executable:
            continue
        s['executable'] += 1
        per_file = s['files'].setdefault(f, [0, 0])     # reached, executable
        per_file[1] += 1
        if (f, line) in reached:
            s['reached'] += 1
            per_file[0] += 1
        else:
            s['unreached'].setdefault(f, []).append(line)
    for s in out.values():
        s['percent'] = round(100.0 * s['reached'] / s['executable'], 1) if s['executable'] else None
        s['unreached'] = [
            {'file': f, 'first': run[0], 'last': run[-1],
             'lines': [{'line': n, 'text': added[(f, n)][1]} for n in run]}
            for f, nums in sorted(s['unreached'].items())
            for run in ranges(nums, sorted(ln for ff, ln in executable if ff == f))]
    return out


def report_text(report, order, notes):
    out = []
    for name in order + sorted(set(report) - set(order)):
        if name not in report:
            out.append(f'{name}: adds no kernel code')
            continue
        s = report[name]
        pct = f'{s["percent"]:.1f}%' if s['percent'] is not None else 'n/a'
        out.append(f'{name}: {s["executable"]} added executable lines, '
                   f'{s["reached"]} reached ({pct})')
        # Per file first: code that cannot run here (SEV under TCG) shows as a
        # whole file at 0 before its lines are listed.
        out += [f'  {f}: {r}/{e}' for f, (r, e) in sorted(s['files'].items())]
        for r in s['unreached']:
            where = f'{r["first"]}' if r['first'] == r['last'] else f'{r["first"]}-{r["last"]}'
            out.append(f'  {r["file"]}:{where}:')
            out += [f'    {ln["line"]:5}: {ln["text"].strip()}' for ln in r['lines']]
        for f, n in sorted(s['not_profiled'].items()):
            out.append(f'  not in the coverage kernel: {f} ({n} added line{"s" if n > 1 else ""})')
    return '\n'.join(out + notes) + '\n'


def summary_lines(report, order):
    return [f'{n}: {report[n]["reached"]}/{report[n]["executable"]} '
            f'({report[n]["percent"] if report[n]["percent"] is not None else "n/a"}%)'
            for n in order if n in report]


# ---------------------------------------------------------------------------
# The command.

def collect(results, objtree, tree, work):
    """Executable lines of every profiled object, the lines the boots reached,
    and notes on boots whose counters did not come back."""
    executable, reached, notes = {}, set(), []
    gcnos = sorted(p.relative_to(objtree).with_suffix('') for p in objtree.rglob('*.gcno'))
    for obj in gcnos:
        merge(executable, gcov_lines(run_gcov(objtree, obj, None, work / 'zero'), tree))
    consoles = sorted(results.glob('console-*.log'), key=lambda p: int(p.stem.split('-')[1]))
    for console in consoles:
        blobs = console_blobs(console.read_text(errors='replace').splitlines())
        members = gcda_members(blobs[-1]) if blobs and blobs[-1] else None
        if members is None:
            notes.append(f'# {console.name}: no gcov data (the boot ended before its dump, '
                         'or the dump was damaged): its tests are not counted')
            continue
        for guest_path, data in sorted(members.items()):
            obj = object_of(guest_path, objtree)
            if obj is None:
                continue
            counts = gcov_lines(run_gcov(objtree, obj, data, work / console.stem), tree)
            reached |= {k for k, n in counts.items() if n > 0}
    return set(executable), reached, {f for f, _ in executable} | profiled_sources(gcnos), notes


def profiled_sources(gcnos):
    return {str(o) + '.c' for o in gcnos}


def cmd_report(args):
    objtree = kbuild.kernel_dir(args.src, 'gcov')
    tree = kbuild.source_dir(args.src)
    results = Path(args.results or TOP / 'build/results' / f'{args.src}-gcov')
    outdir = Path(args.out)
    if not any(objtree.rglob('*.gcno')):
        log(f'no .gcno in {objtree}: build the coverage kernel first (make coverage)')
        return 2
    with tempfile.TemporaryDirectory(prefix='coverage-') as tmp:
        executable, reached, built, notes = collect(results, objtree, tree, Path(tmp))
    added = added_lines(tree, series_commits(tree))
    stamp = objtree / kbuild.GCOV_TREE_STAMP
    if not stamp.exists() or stamp.read_text() != kbuild.gcov_tree_digest(tree):
        notes.append(f'# WARNING: {shown(tree)} changed since {shown(objtree)} was built: '
                     'line numbers may not match (make coverage builds again)')
    report = series_report(added, executable, reached, built)
    order = [s.name for s in serieslib.load_series()]
    tests = json.loads((results / 'results.json').read_text()) if (results / 'results.json').exists() else []
    notes = [f'# {len(tests)} tests ({sum(t["status"] == "PASS" for t in tests)} passed) '
             f'in {shown(results)}'] + notes
    text = report_text(report, order, notes)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / 'coverage.txt').write_text(text)
    (outdir / 'coverage.json').write_text(json.dumps(
        {'results': str(results), 'tests': [t['name'] for t in tests], 'notes': notes,
         'series': report}, indent=1) + '\n')
    print(text, end='')
    print('\n'.join(summary_lines(report, order)))
    log(f'{shown(outdir)}/coverage.txt, coverage.json')
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='command', required=True)
    rep = sub.add_parser('report')
    rep.add_argument('--src', default='patched', choices=('patched',),
                     help='the integration tree: git blame gives its lines to series by series.cfg')
    rep.add_argument('--results', default='', help='the gcov run (default build/results/SRC-gcov)')
    rep.add_argument('--out', default=str(TOP / 'build/results/coverage'))
    args = ap.parse_args()
    return cmd_report(args)


if __name__ == '__main__':
    sys.exit(main())
