#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Configure and build the kernel, the selftests and the initramfs.

Each step is its own subcommand, in the manner of kunit_tool:

  kbuild.py config    SRC KIND   tinyconfig + configs/<fragments>, olddefconfig, validate
  kbuild.py kernel    SRC KIND   config, then bzImage (incremental, through ccache)
  kbuild.py selftests SRC        uapi headers and the static KVM selftests of SRC
  kbuild.py initramfs [SRC]      busybox, guest helpers and SRC's selftests

SRC is `patched` (build/linux, every series), `base` (build/base) or the name
of one series (build/series/NAME, made by `series.py checkout NAME`); KIND is
`test`, `debug` or `gcov` (make coverage: gcov on the series' directories).  The base kernel runs the patched tree's selftests, so a
new test shows how the base fails it; a series' kernel runs its own tree's
(kbuild.py initramfs SRC).  Everything is written under build/out/.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
HARNESS = TOP / 'harness'
OUT = TOP / 'build' / 'out'
SOURCES = {'patched': TOP / 'build' / 'linux', 'base': TOP / 'build' / 'base'}
SERIES_TREES = TOP / 'build' / 'series'
FRAGMENTS = {'test': ['test.config'], 'debug': ['test.config', 'debug.config'],
             'gcov': ['test.config', 'gcov.config']}
JOBS = str(os.cpu_count() or 2)
# Selftest directories built into the initramfs, where the tree has them
# (vfio/ comes with the series).
SELFTEST_TARGETS = ('kvm', 'vfio')
CONFIG_RE = re.compile(r'^(CONFIG_\w+)=(.*)$|^# (CONFIG_\w+) is not set$')


def log(msg):
    print(f'kbuild: {msg}', flush=True)


def die(msg):
    """Stop: the build could not be done (exit status 2, as for every
    harness tool that could not do its job)."""
    print(f'kbuild: {msg}', file=sys.stderr)
    sys.exit(2)


def run(cmd, **kw):
    res = subprocess.run(cmd, **kw)
    if res.returncode:
        die(f'failed ({res.returncode}): {" ".join(map(str, cmd))}')
    return res


def source_dir(src):
    """The tree SRC names: patched, base, or a series' own work tree."""
    return SOURCES.get(src, SERIES_TREES / src)


def selftest_src(src):
    """Whose selftests a kernel runs: the base runs the patched tree's."""
    return 'patched' if src == 'base' else src


def initramfs_path(src):
    name = selftest_src(src)
    return OUT / ('initramfs.cpio' if name == 'patched' else f'initramfs-{name}.cpio')


def kernel_dir(src, kind):
    return OUT / f'{src}-{kind}'


def make_vars():
    cc = 'ccache gcc' if shutil.which('ccache') else 'gcc'
    return [f'CC={cc}', f'HOSTCC={cc}']


def kmake(src, outdir, *targets, quiet=True):
    cmd = ['make', '-C', str(source_dir(src)), f'O={outdir}', f'-j{JOBS}', *make_vars(), *targets]
    if quiet:
        cmd.insert(1, '-s')
    run(cmd)


def read_config(path):
    """Map each CONFIG_ name in a fragment or .config to its value ('n' if unset)."""
    options = {}
    for line in Path(path).read_text().splitlines():
        m = CONFIG_RE.match(line.strip())
        if m:
            options[m.group(1) or m.group(3)] = m.group(2) if m.group(1) else 'n'
    return options


def kconfig_defines(src, name):
    """Whether some Kconfig file of SRC's tree defines option NAME (CONFIG_FOO)."""
    name = name.removeprefix('CONFIG_')
    return subprocess.run(['grep', '-rqE', '--include=Kconfig*', rf'^\s*(menu)?config {name}\s*$',
                           str(source_dir(src))]).returncode == 0


def missing_options(fragments, dotconfig, src='patched'):
    """Options a fragment asks for that olddefconfig did not keep: (name, want, got).

    The base tree, and a series' own tree, lack the options other series
    add (the edu sample, say): those are not requested of them."""
    have = read_config(dotconfig)
    lost = []
    for frag in fragments:
        for name, want in read_config(frag).items():
            got = have.get(name, 'n')
            if got != want and (src == 'patched' or kconfig_defines(src, name)):
                lost.append((name, want, got))
    return lost


def fragment_paths(kind):
    return [TOP / 'configs' / f for f in FRAGMENTS[kind]]


def config_stamp(src, kind):
    h = hashlib.sha256()
    for frag in fragment_paths(kind):
        h.update(frag.read_bytes())
    h.update((TOP / 'BASE_VERSION').read_bytes())
    return h.hexdigest()


def cmd_config(src, kind):
    outdir = kernel_dir(src, kind)
    stamp = outdir / '.harness-config'
    want = config_stamp(src, kind)
    if stamp.exists() and stamp.read_text() == want and (outdir / '.config').exists():
        return
    log(f'configuring {outdir.relative_to(TOP)}: tinyconfig + {" ".join(FRAGMENTS[kind])}')
    outdir.mkdir(parents=True, exist_ok=True)
    kmake(src, outdir, 'tinyconfig')
    run([str(source_dir(src) / 'scripts/kconfig/merge_config.sh'), '-m', '-O', str(outdir),
         str(outdir / '.config'), *map(str, fragment_paths(kind))],
        stdout=subprocess.DEVNULL)
    kmake(src, outdir, 'olddefconfig')
    lost = missing_options(fragment_paths(kind), outdir / '.config', src)
    if lost:
        for name, want, got in lost:
            print(f'kbuild: {name}={want} requested, .config has {name}={got}', file=sys.stderr)
        die(f'{len(lost)} requested options did not survive olddefconfig '
            '(missing dependency or misspelt name)')
    stamp.write_text(want)


def cmd_kernel(src, kind):
    cmd_config(src, kind)
    outdir = kernel_dir(src, kind)
    log(f'building {outdir.relative_to(TOP)}/arch/x86/boot/bzImage')
    if kind != 'gcov':
        kmake(src, outdir, 'bzImage')
        return
    sources = gcov_sources(src)
    make_vars_gcov, ambiguous = gcov_make_vars(src, sources)
    for s in ambiguous:
        log(f'gcov: not profiling {s}: another object of the tree has its name')
    kmake(src, outdir, 'bzImage', *make_vars_gcov)
    check_instrumented(outdir, [s for s in sources if s not in ambiguous])
    (outdir / GCOV_TREE_STAMP).write_text(gcov_tree_digest(source_dir(src)))


# ---------------------------------------------------------------------------
# The gcov kind (make coverage).  Kbuild profiles an object when
# GCOV_PROFILE_<stem>.o is y, <stem> being the object's path relative to the
# directory whose Makefile builds it (scripts/Makefile.lib, target-stem).  A
# command-line variable reaches every sub-make, so the kernel tree stays
# untouched; a name that matches no object does nothing.

GCOV_TREE_STAMP = '.harness-gcov-tree'


def gcov_tree_digest(tree):
    """What the coverage kernel was built from: the series' kernel code, as a
    diff from the base, so that a report on a tree changed since can say so."""
    diff = subprocess.run(['git', '-C', str(tree), 'diff', series_root(tree), '--',
                           '*.c', '*.h', ':!tools/', ':!scripts/'],
                          capture_output=True, check=True).stdout
    return hashlib.sha256(diff).hexdigest()


def series_root(tree):
    """The pristine base commit: the root of every tree series.py makes."""
    return subprocess.run(['git', '-C', str(tree), 'rev-list', '--max-parents=0', 'HEAD'],
                          capture_output=True, text=True, check=True).stdout.split()[0]


def gcov_sources(src):
    """The kernel .c files the series change (committed or not: make check
    tests the work tree), relative to the tree: all the report reads."""
    tree = source_dir(src)
    changed = subprocess.run(['git', '-C', str(tree), 'diff', '--name-only', series_root(tree),
                              '--', '*.c', ':!tools/', ':!scripts/'],
                             capture_output=True, text=True, check=True).stdout.split()
    return [f for f in changed if (tree / f).exists()]


def has_makefile(tree, d):
    return (tree / d / 'Makefile').exists() or (tree / d / 'Kbuild').exists()


def gcov_stems(tree, source, make_dirs):
    """The target-stems SOURCE's object may be built under: relative to its
    nearest directory with a Makefile, and, for a directory without one
    (virt/kvm, which arch/x86/kvm/Makefile builds as ../../../virt/kvm/),
    relative to every other profiled directory that has one."""
    stem = Path(source).with_suffix('')
    stems = {owner_stem(tree, source)}
    if not has_makefile(tree, stem.parent):
        stems |= {os.path.relpath(stem, d) for d in make_dirs}
    return stems


def owner_stem(tree, source):
    """SOURCE's stem relative to its nearest directory with a Makefile: the
    target-stem kbuild gives its object in the usual case."""
    stem = Path(source).with_suffix('')
    owner = next(p for p in stem.parents if has_makefile(tree, p) or p == Path('.'))
    return os.path.relpath(stem, owner)


def stem_collides(tree, stem, source, files):
    """Whether another object of the tree has STEM: GCOV_PROFILE_main.o would
    also profile arch/x86/boot/main.o, which cannot link gcov."""
    if stem.startswith('..'):
        return False
    return any(f != source and Path(f).with_suffix('').as_posix().endswith(stem)
               and owner_stem(tree, f) == stem for f in files)


def gcov_make_vars(src, sources):
    """GCOV_PROFILE_<stem>.o=y for every stem of SOURCES no other file shares;
    returns (make variables, sources left unprofiled because of that)."""
    tree = source_dir(src)
    files = subprocess.run(['git', '-C', str(tree), 'ls-files', '*.c', '*.S'],
                           capture_output=True, text=True, check=True).stdout.split()
    make_dirs = sorted({str(Path(s).parent) for s in sources
                        if has_makefile(tree, Path(s).parent)})
    stems, ambiguous = set(), []
    for s in sources:
        mine = gcov_stems(tree, s, make_dirs)
        if any(stem_collides(tree, st, s, files) for st in mine):
            ambiguous.append(s)
        else:
            stems |= mine
    return [f'GCOV_PROFILE_{stem}.o=y' for stem in sorted(stems)], ambiguous


def check_instrumented(outdir, sources):
    """Every profiled source that was compiled must have its .gcno: a stem
    rule that missed would make its lines look unreached."""
    built = [s for s in sources if (outdir / s).with_suffix('.o').exists()]
    missed = [s for s in built if not (outdir / s).with_suffix('.gcno').exists()]
    for s in missed:
        print(f'kbuild: {s} was compiled without gcov', file=sys.stderr)
    if missed or not built:
        die(f'gcov: {len(missed)} of {len(built)} compiled sources not profiled')
    log(f'gcov: {len(built)} compiled sources profiled')


def selftests_dir(src):
    return OUT / f'{src}-selftests'


def cmd_selftests(src):
    out = selftests_dir(src)
    hdr = out / 'headers'
    log(f'building the static selftests of {src} into {out.relative_to(TOP)}')
    run(['make', '-s', '-C', str(source_dir(src)), f'O={hdr}', 'headers'])
    selftests = source_dir(src) / 'tools/testing/selftests'
    for target in SELFTEST_TARGETS:
        if not (selftests / target / 'Makefile').exists():
            continue
        run(['make', '-s', '-C', str(selftests / target), f'-j{JOBS}', *make_vars(),
             f'OUTPUT={out / target}', f'KHDR_INCLUDES=-isystem {hdr}/usr/include',
             'LDFLAGS=-static -pthread -no-pie', 'all'])


def guest_helpers(out):
    """Compile the guest-side C helpers (harness/guest/*.c), statically."""
    out.mkdir(parents=True, exist_ok=True)
    for c in sorted((HARNESS / 'guest').glob('*.c')):
        binary = out / c.stem
        if not binary.exists() or binary.stat().st_mtime < c.stat().st_mtime:
            run(['gcc', '-static', '-O2', '-Wall', '-Werror', '-o', str(binary), str(c)])
    return out


def test_binaries(src):
    """The executables a selftest build produced: {relative path: file}."""
    found = {}
    for target in SELFTEST_TARGETS:
        root = selftests_dir(src) / target
        for p in sorted(root.rglob('*')):
            if p.is_file() and os.access(p, os.X_OK) and p.suffix not in ('.o', '.d', '.sh'):
                found[f'{target}/{p.relative_to(root)}'] = p
    return found


def cmd_initramfs(src='patched'):
    stage = OUT / 'initramfs'
    cpio = initramfs_path(src)
    busybox = shutil.which('busybox') or '/bin/busybox'
    if not Path(busybox).exists():
        die('busybox not found (apt-get install busybox-static)')
    if stage.exists():
        shutil.rmtree(stage)
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'harness', 'selftests'):
        (stage / d).mkdir(parents=True)
    shutil.copy2(busybox, stage / 'bin/busybox')
    shutil.copy2(HARNESS / 'guest/init', stage / 'init')
    helpers = guest_helpers(OUT / 'guest-helpers')
    scripts = [p for p in (HARNESS / 'guest').iterdir() if p.suffix != '.c' and p.name != 'init']
    for h in [*helpers.iterdir(), *scripts]:
        shutil.copy2(h, stage / 'harness' / h.name)
    binaries = test_binaries(selftest_src(src))
    for rel, path in binaries.items():
        dest = stage / 'selftests' / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Stripped: the initramfs is unpacked by an emulated CPU on every boot.
        run(['strip', '-o', str(dest), str(path)])
    listing = subprocess.run('find . -print0 | LC_ALL=C sort -z', shell=True, cwd=stage,
                             capture_output=True, check=True).stdout
    with open(cpio, 'wb') as f:
        run(['cpio', '--null', '-o', '-H', 'newc', '--owner=0:0', '--quiet'],
            cwd=stage, input=listing, stdout=f)
    log(f'{cpio.relative_to(TOP)}: {cpio.stat().st_size >> 20} MiB, '
        f'{len(binaries)} test binaries')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='command', required=True)
    for name, fn in (('config', cmd_config), ('kernel', cmd_kernel)):
        p = sub.add_parser(name)
        p.add_argument('src')
        p.add_argument('kind', choices=list(FRAGMENTS))
        p.set_defaults(run=lambda a, fn=fn: fn(a.src, a.kind))
    p = sub.add_parser('selftests')
    p.add_argument('src')
    p.set_defaults(run=lambda a: cmd_selftests(a.src))
    p = sub.add_parser('initramfs')
    p.add_argument('src', nargs='?', default='patched')
    p.set_defaults(run=lambda a: cmd_initramfs(a.src))
    args = ap.parse_args()
    if not source_dir(args.src).exists():
        die(f'SRC is patched, base or a series checked out in build/series/ '
            f'(no {source_dir(args.src).relative_to(TOP)})')
    args.run(args)


if __name__ == '__main__':
    main()
