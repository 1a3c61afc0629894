#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The patch series and its working tree.

  series.py tree    build/linux: root commit = pristine base, then `git am` of patches/
  series.py export  patches/ = `git format-patch --cover-letter` of build/linux
  series.py base    build/base: the pristine base, unpacked for BASE=1 builds
  series.py status  warn when build/linux and patches/ differ

The round trip `tree` then `export` reproduces patches/ byte for byte: the
root commit is made with a fixed identity and date, patches carry zero
commit ids, and the cover letter's subject and text travel through the
branch description of build/linux (`git branch --edit-description`).
"""

import email
import email.policy
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
PATCHES = TOP / 'patches'
TREE = TOP / 'build' / 'linux'
BASE = TOP / 'build' / 'base'
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
    print(f'series: {msg}', file=sys.stderr)
    sys.exit(1)


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


def patch_files():
    return sorted(p for p in PATCHES.glob('[0-9][0-9][0-9][0-9]-*.patch')
                  if not p.name.startswith('0000-'))


def root_commit():
    return git('rev-list', '--max-parents=0', 'HEAD').splitlines()[-1]


def format_patch(outdir, env=None):
    """git format-patch of the whole series into outdir."""
    root = root_commit()
    git(*FORMAT_PATCH, f'--base={root}', '-o', str(outdir), f'{root}..HEAD', env=env)


def generated_tail(description_probe='probe'):
    """The shortlog, diffstat and base-commit git appends to a cover letter."""
    with tempfile.TemporaryDirectory() as tmp:
        git('config', f'branch.{BRANCH}.description', f'{description_probe}\n\n{description_probe}')
        format_patch(tmp)
        msg = cover_message(Path(tmp) / '0000-cover-letter.patch')
        body = msg.get_content()
        return body[body.index(description_probe) + len(description_probe):]


def cover_message(path):
    with open(path, encoding='utf-8') as f:
        return email.message_from_file(f, policy=email.policy.default)


def import_cover_letter():
    cover = PATCHES / '0000-cover-letter.patch'
    if not cover.exists():
        return
    msg = cover_message(cover)
    subject = re.sub(r'^\[[^\]]*\]\s*', '', str(msg['Subject']))
    body = msg.get_content()
    tail = generated_tail()
    if not body.endswith(tail):
        die(f'{cover.name}: shortlog/diffstat does not match the patches; was it edited by hand?')
    text = body[:-len(tail)]
    git('config', f'branch.{BRANCH}.description', f'{subject}\n\n{text}')


def committer_fallback():
    """git am records a committer: on a machine with no git identity (a fresh
    CI machine), use the base's, rather than fail."""
    res = subprocess.run(['git', 'config', 'user.email'], cwd=TREE, capture_output=True)
    if res.returncode == 0:
        return {}
    return {k: v for k, v in ROOT_IDENTITY.items() if k.startswith('GIT_COMMITTER_')
            and not k.endswith('_DATE')}


def cmd_tree(force=False):
    ensure_base_source()
    if TREE.exists():
        if not force:
            die(f'{TREE} exists (it may hold unexported work); remove it or use FORCE=1')
        subprocess.run(['rm', '-rf', str(TREE)], check=True)
    print(f'series: unpacking {TARBALL.name} {pinned_version()} into {TREE}', flush=True)
    unpack(TREE)
    git('init', '-q', '-b', BRANCH)
    git('config', 'core.autocrlf', 'false')
    git('add', '-A', '-f', '.')
    git('commit', '-q', '--no-verify', '-m',
        f'{PACKAGE} {pinned_version()}\n\nPristine base: Debian package {PACKAGE}={pinned_version()}.',
        env=ROOT_IDENTITY)
    patches = patch_files()
    if patches:
        git('am', '-q', '--whitespace=nowarn', *map(str, patches), capture=False,
            env=committer_fallback())
        import_cover_letter()
    print(f'series: {TREE} = base {root_commit()[:12]} + {len(patches)} patches', flush=True)


def cmd_export():
    if not (TREE / '.git').exists():
        die(f'no {TREE}; run make tree first')
    if git('status', '--porcelain', '--untracked-files=no'):
        die(f'{TREE} has uncommitted changes; commit them first')
    root = root_commit()
    count = int(git('rev-list', '--count', f'{root}..HEAD'))
    for old in PATCHES.glob('*.patch'):
        old.unlink()
    PATCHES.mkdir(exist_ok=True)
    if count == 0:
        print('series: empty series, patches/ holds no patches')
        return
    head = git('log', '-1', '--format=%an%n%ae%n%aD', 'HEAD').splitlines()
    # The cover letter takes its From: and Date: from the committer
    # identity; pin them to the newest patch so the output is reproducible.
    env = {'GIT_COMMITTER_NAME': head[0], 'GIT_COMMITTER_EMAIL': head[1],
           'GIT_COMMITTER_DATE': head[2]}
    format_patch(PATCHES, env=env)
    print(f'series: exported {count} patches to {PATCHES.relative_to(TOP)}/')


def patch_ids(diff_text):
    res = subprocess.run(['git', 'patch-id', '--stable'], input=diff_text,
                         capture_output=True, text=True, cwd=TOP)
    return sorted(line.split()[0] for line in res.stdout.splitlines())


def cmd_status():
    """Warn when build/linux and patches/ hold different series."""
    if not (TREE / '.git').exists():
        return
    tree = git('log', '-p', '--reverse', '--no-merges', f'{root_commit()}..HEAD')
    exported = ''.join(p.read_text() for p in patch_files())
    if patch_ids(tree) != patch_ids(exported):
        print('series: WARNING: build/linux and patches/ differ: testing build/linux '
              '(run make export to save it, or FORCE=1 make tree to reset it)')
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
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'tree':
        cmd_tree(force=os.environ.get('FORCE') == '1')
    elif cmd == 'export':
        cmd_export()
    elif cmd == 'base':
        cmd_base()
    elif cmd == 'status':
        cmd_status()
    else:
        die('usage: series.py tree|export|base|status')


if __name__ == '__main__':
    main()
