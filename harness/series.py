#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The patch series and their working tree.

  series.py tree          build/linux: root commit = pristine base, then `git am`
                          of every series in patches/, in patches/series.cfg order
  series.py export        patches/<series>/ = `git format-patch --cover-letter` of
                          each series on its prerequisites alone
  series.py checkout NAME build/series/NAME: a work tree of that series on its
                          prerequisites, for SERIES=NAME builds
  series.py base          build/base: the pristine base, unpacked for BASE=1 builds
  series.py status        warn when build/linux and patches/ differ

patches/ holds one folder per series (patches/series.cfg says which, in what
order, how many patches each owns and what each applies on).  build/linux's
branch `series` is the integration tree: all of them, applied in that order;
it is where one works.  Each series' own branch (`kvm-lbr`, ...) is derived
from it: the series' commits cherry-picked onto its prerequisites alone,
which is what its folder is exported from, so that every folder applies
with `git am` on the pristine base, or on its prerequisites alone.

The round trip `tree` then `export` reproduces patches/ byte for byte: the
root commit is made with a fixed identity and date, patches carry zero
commit ids, and each cover letter's subject and text travel through the
description of its series' branch (`git branch --edit-description NAME`).
"""

import argparse
import configparser
import email
import email.policy
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
PATCHES = TOP / 'patches'
SERIES_CFG = PATCHES / 'series.cfg'
TREE = TOP / 'build' / 'linux'
BASE = TOP / 'build' / 'base'
# Scratch work tree in which the series' branches are derived.
DERIVE = TOP / 'build' / 'derive'
# One work tree per series for SERIES=NAME builds.
SERIES_TREES = TOP / 'build' / 'series'
# What build/linux's `series` and patches/ were at the last tree or export.
STAMP = TOP / 'build' / 'series.stamp'
PACKAGE = 'linux-source-6.12'
TARBALL = Path('/usr/src/linux-source-6.12.tar.xz')
BRANCH = 'series'

# Every root commit made from the same base version has the same id.
ROOT_IDENTITY = {
    'GIT_AUTHOR_NAME': 'Debian kernel source', 'GIT_AUTHOR_EMAIL': 'base@invalid',
    'GIT_COMMITTER_NAME': 'Debian kernel source', 'GIT_COMMITTER_EMAIL': 'base@invalid',
    'GIT_AUTHOR_DATE': '2000-01-01T00:00:00Z', 'GIT_COMMITTER_DATE': '2000-01-01T00:00:00Z',
}
# No Message-Id/In-Reply-To (they hash commit ids and the time; send-email
# adds its own) and a fixed abbreviation, which git otherwise sizes from the
# repository's object count.
FORMAT_PATCH = ['-c', 'core.abbrev=12', 'format-patch', '--cover-letter',
                '--cover-from-description=auto', '--zero-commit', '--no-signature',
                '--no-thread']


def die(msg):
    """Stop: the step could not be done (exit status 2, as for every harness
    tool that could not do its job)."""
    print(f'series: {msg}', file=sys.stderr)
    sys.exit(2)


def git(*args, cwd=TREE, env=None, capture=True):
    full_env = dict(os.environ, **(env or {}))
    res = subprocess.run(['git', *args], cwd=cwd, env=full_env, text=True,
                         stdout=subprocess.PIPE if capture else None)
    if res.returncode:
        die(f'git {" ".join(args)} failed in {cwd}')
    return res.stdout.strip() if capture else ''


def pinned_version():
    return (TOP / 'BASE_VERSION').read_text().strip()


def installed_version():
    res = subprocess.run(['dpkg-query', '-W', '-f=${Version}', PACKAGE],
                         capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def ensure_base_source():
    """Install the pinned linux-source package, or say why we cannot."""
    want = pinned_version()
    have = installed_version()
    if have == want and TARBALL.exists():
        return
    apt = f'apt-get install -y {PACKAGE}={want}'
    if os.geteuid() != 0:
        die(f'{PACKAGE} {have or "(not installed)"} installed, BASE_VERSION pins {want}.\n'
            f'  run as root: apt-get update && {apt}')
    print(f'series: installing {PACKAGE}={want} (have {have or "none"})', flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    if subprocess.run(apt.split(), env=env).returncode:
        subprocess.run(['apt-get', 'update', '-q'], env=env)
        if subprocess.run(apt.split(), env=env).returncode:
            die(f'cannot install {PACKAGE}={want}; the base is pinned in BASE_VERSION')
    if installed_version() != want:
        die(f'{PACKAGE} is {installed_version()} after install, BASE_VERSION pins {want}')


def unpack(dest):
    dest.mkdir(parents=True)
    subprocess.run(['tar', '-xJf', str(TARBALL), '-C', str(dest), '--strip-components=1'],
                   check=True)


class Series:
    """One series of patches/series.cfg: its folder and its place in `series`."""

    def __init__(self, name, section, first):
        self.name = name
        self.tree = section.get('tree', '')
        self.requires = section.get('requires', '').split()
        self.count = section.getint('patches')
        self.first = first              # index of its first commit in `series`
        self.folder = PATCHES / name

    def patch_files(self):
        return sorted(p for p in self.folder.glob('[0-9][0-9][0-9][0-9]-*.patch')
                      if not p.name.startswith('0000-'))


def load_series():
    """The series in integration order, each knowing its slice of `series`."""
    if not SERIES_CFG.exists():
        die(f'no {SERIES_CFG.relative_to(TOP)}')
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(SERIES_CFG)
    series, first = [], 0
    for name in cfg.sections():
        s = Series(name, cfg[name], first)
        for req in s.requires:
            if req not in [e.name for e in series]:
                die(f'{SERIES_CFG.name}: {name} requires {req}, which must come before it')
        series.append(s)
        first += s.count
    return series


def prerequisites(series, s):
    """Every series @s applies on, transitively, in integration order."""
    names, todo = set(), list(s.requires)
    while todo:
        name = todo.pop()
        if name not in names:
            names.add(name)
            todo += next(e for e in series if e.name == name).requires
    return [e for e in series if e.name in names]


def series_in_tree(name):
    """The names of the series in NAME's own tree: NAME and what it requires."""
    series = load_series()
    s = next((e for e in series if e.name == name), None)
    if not s:
        die(f'no series {name!r}; {SERIES_CFG.name} has: {" ".join(e.name for e in series)}')
    return [p.name for p in prerequisites(series, s)] + [name]


def root_commit():
    return git('rev-list', '--max-parents=0', BRANCH).splitlines()[-1]


def integration_commits(series):
    """The commits of `series`, oldest first; they must be what series.cfg counts."""
    commits = git('rev-list', '--reverse', f'{root_commit()}..{BRANCH}').split()
    want = sum(s.count for s in series)
    if len(commits) != want:
        die(f'{BRANCH} has {len(commits)} commits, {SERIES_CFG.name} counts {want}: '
            'set `patches` of the series you added to or removed from')
    return commits


def own_commits(commits, s):
    return commits[s.first:s.first + s.count]


def derive_tree():
    """The scratch work tree in which series branches are made."""
    if not (DERIVE / '.git').exists():
        subprocess.run(['rm', '-rf', str(DERIVE)], check=True)
        git('worktree', 'prune')
        git('worktree', 'add', '-q', '--detach', str(DERIVE), root_commit())
    return DERIVE


def cherry_pick(wt, commits):
    """Apply @commits on the work tree's HEAD; fast-forward where they sit on it."""
    if not commits:
        return
    res = subprocess.run(['git', 'cherry-pick', '--ff', *commits],
                         cwd=wt, env=dict(os.environ, **committer_fallback()),
                         capture_output=True, text=True)
    if res.returncode:
        failed = git('log', '-1', '--format=%h %s', 'CHERRY_PICK_HEAD', cwd=wt)
        subprocess.run(['git', 'cherry-pick', '--abort'], cwd=wt, capture_output=True)
        die(f'{failed} does not apply on its series\' prerequisites alone: '
            f'declare the series it needs in {SERIES_CFG.name}')


def derive(series, s, commits):
    """Make branch @s.name: @s's commits on its prerequisites alone.  Returns
    the commit its own patches start from.  One derivation at a time: an
    export and a SERIES= check may run side by side."""
    with open(TOP / 'build' / 'derive.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return derive_locked(series, s, commits)


def derive_locked(series, s, commits):
    wt = derive_tree()
    git('checkout', '-q', '--detach', root_commit(), cwd=wt)
    for pre in prerequisites(series, s):
        cherry_pick(wt, own_commits(commits, pre))
    upstream = git('rev-parse', 'HEAD', cwd=wt)
    cherry_pick(wt, own_commits(commits, s))
    git('update-ref', f'refs/heads/{s.name}', git('rev-parse', 'HEAD', cwd=wt))
    return upstream


def format_patch(s, upstream, outdir, env=None):
    """git format-patch of series @s, prerequisites named by patch id."""
    git(*FORMAT_PATCH, f'--base={root_commit()}', '-o', str(outdir),
        f'{upstream}..{s.name}', env=env)


def generated_tail(s, upstream, description_probe='probe'):
    """The shortlog, diffstat and base lines git appends to a cover letter."""
    key = f'branch.{s.name}.description'
    with tempfile.TemporaryDirectory() as tmp:
        git('config', key, f'{description_probe}\n\n{description_probe}')
        format_patch(s, upstream, tmp)
        msg = cover_message(Path(tmp) / '0000-cover-letter.patch')
        body = msg.get_content()
        return body[body.index(description_probe) + len(description_probe):]


def cover_message(path):
    with open(path, encoding='utf-8') as f:
        return email.message_from_file(f, policy=email.policy.default)


def import_cover_letter(s, upstream):
    cover = s.folder / '0000-cover-letter.patch'
    if not cover.exists():
        return
    msg = cover_message(cover)
    subject = re.sub(r'^\[[^\]]*\]\s*', '', str(msg['Subject']))
    body = msg.get_content()
    tail = generated_tail(s, upstream)
    if not body.endswith(tail):
        die(f'{s.name}/{cover.name}: shortlog/diffstat does not match the patches; '
            'was it edited by hand?')
    git('config', f'branch.{s.name}.description', f'{subject}\n\n{body[:-len(tail)]}')


def committer_fallback():
    """git am records a committer: on a machine with no git identity (a fresh
    CI machine), use the base's, rather than fail."""
    res = subprocess.run(['git', 'config', 'user.email'], cwd=TREE, capture_output=True)
    if res.returncode == 0:
        return {}
    return {k: v for k, v in ROOT_IDENTITY.items() if k.startswith('GIT_COMMITTER_')
            and not k.endswith('_DATE')}


def patches_digest():
    h = hashlib.sha256()
    for f in sorted(PATCHES.rglob('*')):
        if f.is_file():
            h.update(str(f.relative_to(PATCHES)).encode() + b'\0' + f.read_bytes())
    return h.hexdigest()


def write_stamp():
    STAMP.write_text(f'{git("rev-parse", BRANCH)} {patches_digest()}\n')


def cmd_tree(force=False):
    ensure_base_source()
    if TREE.exists():
        if not force:
            die(f'{TREE} exists (it may hold unexported work); remove it or use FORCE=1')
        subprocess.run(['rm', '-rf', str(TREE), str(DERIVE), str(SERIES_TREES)], check=True)
    series = load_series()
    print(f'series: unpacking {TARBALL.name} {pinned_version()} into {TREE}', flush=True)
    unpack(TREE)
    git('init', '-q', '-b', BRANCH)
    git('config', 'core.autocrlf', 'false')
    git('add', '-A', '-f', '.')
    git('commit', '-q', '--no-verify', '-m',
        f'{PACKAGE} {pinned_version()}\n\nPristine base: Debian package {PACKAGE}={pinned_version()}.',
        env=ROOT_IDENTITY)
    for s in series:
        patches = s.patch_files()
        if len(patches) != s.count:
            die(f'{s.folder.name}/ holds {len(patches)} patches, {SERIES_CFG.name} counts {s.count}')
        # -3: a series made on its prerequisites alone meets, in the
        # integration tree, the context of the series before it.
        git('am', '-q', '-3', '--whitespace=nowarn', *map(str, patches), capture=False,
            env=committer_fallback())
    commits = integration_commits(series)
    for s in series:
        import_cover_letter(s, derive(series, s, commits))
    write_stamp()
    print(f'series: {TREE} = base {root_commit()[:12]} + '
          + ' + '.join(f'{s.name} ({s.count})' for s in series), flush=True)


def write_index(series):
    """patches/README.md: what each series is, its tree and what it needs."""
    lines = [
        '# The series',
        '',
        'Generated by `make export` from [`series.cfg`](series.cfg), which lists them',
        'in the order the integration tree applies them.  Each folder is',
        '`git format-patch --cover-letter` output that applies with `git am` on the',
        'pristine base (`base-commit:`), after the series it requires',
        '(`prerequisite-patch-id:`).',
        '',
        '| series | patches | tree | requires | subject |',
        '|---|---|---|---|---|',
    ]
    for s in series:
        cover = cover_message(s.folder / '0000-cover-letter.patch')
        subject = re.sub(r'^\[[^\]]*\]\s*', '', str(cover['Subject']))
        requires = ', '.join(f'[{r}]({r}/)' for r in s.requires) or 'the base'
        lines.append(f'| [{s.name}]({s.name}/) | {s.count} | {s.tree} | {requires} | {subject} |')
    (PATCHES / 'README.md').write_text('\n'.join(lines) + '\n')


def cmd_export():
    if not (TREE / '.git').exists():
        die(f'no {TREE}; run make tree first')
    if git('status', '--porcelain', '--untracked-files=no'):
        die(f'{TREE} has uncommitted changes; commit them first')
    series = load_series()
    commits = integration_commits(series)
    for s in series:
        upstream = derive(series, s, commits)
        for old in s.folder.glob('*.patch'):
            old.unlink()
        s.folder.mkdir(parents=True, exist_ok=True)
        head = git('log', '-1', '--format=%an%n%ae%n%aD', s.name).splitlines()
        # The cover letter takes its From: and Date: from the committer
        # identity; pin them to the newest patch so the output is reproducible.
        env = {'GIT_COMMITTER_NAME': head[0], 'GIT_COMMITTER_EMAIL': head[1],
               'GIT_COMMITTER_DATE': head[2]}
        format_patch(s, upstream, s.folder, env=env)
        print(f'series: exported {s.name}: {s.count} patches to '
              f'{s.folder.relative_to(TOP)}/', flush=True)
    write_index(series)
    write_stamp()


def cmd_checkout(name):
    """build/series/NAME at branch NAME, made afresh from `series`."""
    series_in_tree(name)
    series = load_series()
    s = next(e for e in series if e.name == name)
    derive(series, s, integration_commits(series))
    wt = SERIES_TREES / name
    if not (wt / '.git').exists():
        git('worktree', 'prune')
        git('worktree', 'add', '-q', '--detach', str(wt), name)
    else:
        git('checkout', '-q', '--detach', name, cwd=wt)
    print(f'series: {wt.relative_to(TOP)} = {name} on '
          + (' + '.join(p.name for p in prerequisites(series, s)) or 'the base'), flush=True)


def cmd_status():
    """Warn when build/linux and patches/ changed since the last tree or export."""
    if not (TREE / '.git').exists():
        return
    stamp = STAMP.read_text().split() if STAMP.exists() else ['', '']
    if stamp[0] != git('rev-parse', BRANCH):
        print(f'series: WARNING: build/linux has commits that are not in patches/: testing '
              'build/linux (make export saves them)')
    elif stamp[1] != patches_digest():
        print('series: WARNING: patches/ changed since build/linux was made from it: testing '
              'build/linux (FORCE=1 make tree remakes it)')
    if git('status', '--porcelain', '--untracked-files=no'):
        print('series: note: build/linux has uncommitted changes; they are built and tested')


def cmd_base():
    ensure_base_source()
    stamp = BASE / '.base-version'
    if stamp.exists() and stamp.read_text().strip() == pinned_version():
        return
    if BASE.exists():
        subprocess.run(['rm', '-rf', str(BASE)], check=True)
    print(f'series: unpacking the pristine base into {BASE}', flush=True)
    unpack(BASE)
    stamp.write_text(pinned_version() + '\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='command', required=True)
    sub.add_parser('tree').set_defaults(
        run=lambda a: cmd_tree(force=os.environ.get('FORCE') == '1'))
    sub.add_parser('export').set_defaults(run=lambda a: cmd_export())
    sub.add_parser('base').set_defaults(run=lambda a: cmd_base())
    sub.add_parser('status').set_defaults(run=lambda a: cmd_status())
    p = sub.add_parser('checkout')
    p.add_argument('name')
    p.set_defaults(run=lambda a: cmd_checkout(a.name))
    args = ap.parse_args()
    args.run(args)


if __name__ == '__main__':
    main()
