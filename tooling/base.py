# SPDX-License-Identifier: GPL-2.0
"""Base trees: a Debian linux-source package or a user's kernel git tree.

Every tree this module creates lives under out/base/ and belongs to the
tool.  A user's tree is only read: it is cloned with --shared, never
checked out, reset or cleaned.
"""

import os
import re
import shutil

from . import worktree
from . import lines as L
from .common import OUT, IDENTITY, Error, progress, run, git, need, \
    ensure_dir

# Fixed date for the base commit, so that the same package version gives
# the same commit id on every machine (b4 and the cover letter's
# base-commit: trailer depend on it).
BASE_DATE = "2000-01-01T00:00:00+0000"

DEBIAN_BASES = ("6.1", "6.12")
DEFAULT_BASE = "debian-6.1"


class Base:
    """A prepared base: a git repository owned by the tool, with a
    branch 'base' at the commit the series applies to."""

    def __init__(self, name, repo, commit, desc, line=None):
        self.name = name
        self.repo = repo
        self.commit = commit
        self.desc = desc
        self.line = line or L.get()     # the line this base is used for

    def tag(self, variant):
        """'<base>+<variant>', the name of the worktree, build and
        result directories of @variant ('series', 'plain', 'edit',
        'sweep', 'kunit') on this base and line (lines.Line.variant)."""
        return f"{self.name}+{self.line.variant(variant)}"

    @property
    def edit_branch(self):
        return self.line.edit_branch

    def worktree(self, variant):
        """Path of the tool's worktree for @variant ('series', 'plain',
        'edit'), created at the base commit when missing."""
        return worktree.ensure(self, variant)


def _own(repo):
    """Settings of a repository the tool owns: commits made by hand in
    its worktrees carry the project identity, and git never repacks in
    the middle of a run."""
    git(repo, "config", "gc.auto", "0")
    git(repo, "config", "user.name", IDENTITY["GIT_AUTHOR_NAME"])
    git(repo, "config", "user.email", IDENTITY["GIT_AUTHOR_EMAIL"])


def _debian_tarball(ver):
    return f"/usr/src/linux-source-{ver}.tar.xz"


def _pkg_version(pkg):
    p = run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture=True,
            check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def _install_package(pkg):
    if os.geteuid() != 0:
        raise Error(f"base package {pkg} is not installed: run "
                    f"'apt-get install {pkg}' as root")
    progress("base", f"apt-get install {pkg}")
    run(["apt-get", "install", "-y", "--no-install-recommends", pkg],
        env={"DEBIAN_FRONTEND": "noninteractive"}, capture=True)


def _remove(p):
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    elif os.path.lexists(p):
        os.unlink(p)


def _unpack(ver, pkg, version, dest):
    """Unpack the tarball of @pkg into @dest and commit it there as the
    base commit (branch 'base')."""
    tarball = _debian_tarball(ver)
    tmp = dest + ".unpack"
    _remove(tmp)
    os.makedirs(tmp)
    run(["tar", "-xf", tarball, "-C", tmp])
    top = os.path.join(tmp, pkg)
    if not os.path.isfile(os.path.join(top, "Makefile")):
        raise Error(f"{tarball} does not hold {pkg}/Makefile")
    os.rename(top, dest)
    os.rmdir(tmp)
    progress("base", f"committing {pkg} as the base commit")
    env = {"GIT_AUTHOR_DATE": BASE_DATE, "GIT_COMMITTER_DATE": BASE_DATE}
    git(dest, "init", "-q", "-b", "base")
    _own(dest)
    # Debian's tarball ignores everything at the top level ('/*' in its
    # .gitignore), so the tree is added with -f.
    git(dest, "add", "-f", "-A", ".")
    git(dest, "commit", "-q", "--no-verify", "-m",
        f"Debian {pkg} {version}\n\nUnpacked from {tarball}.", env=env)


def debian_base(ver):
    """Unpack Debian's linux-source-@ver once into out/base/ as a git
    repository with one commit; re-create it, and drop its worktrees
    and their stamps, when the package version changes.

    The stamp says the repository is complete: it is deleted first and
    written last, and every step in between starts from whatever an
    interrupted run left, so a crash never leaves a state that fails
    again."""
    pkg = f"linux-source-{ver}"
    name = f"debian-{ver}"
    if not os.path.exists(_debian_tarball(ver)):
        _install_package(pkg)
    version = _pkg_version(pkg) or "unknown"
    repo = os.path.join(OUT, "base", name)
    stamp = repo + ".stamp"
    if os.path.isfile(stamp) and open(stamp).read().strip() == version \
            and os.path.isdir(os.path.join(repo, ".git")):
        commit = git(repo, "rev-parse", "base")
        return Base(name, repo, commit, f"Debian {pkg} {version}")

    progress("base", f"unpacking {pkg} {version} (once per version)")
    _remove(stamp)
    worktree.save_edit(name, repo)
    worktree.drop_all(name, repo)
    _remove(repo)
    ensure_dir(OUT, "base")
    tmp = repo + ".tmp"
    _remove(tmp)
    _unpack(ver, pkg, version, tmp)
    os.rename(tmp, repo)
    commit = git(repo, "rev-parse", "HEAD")
    with open(stamp + ".tmp", "w") as f:
        f.write(version + "\n")
    os.replace(stamp + ".tmp", stamp)
    return Base(name, repo, commit, f"Debian {pkg} {version}")


def user_base(path, ref=None):
    """Clone a user's kernel git tree (or a bare mirror) at @ref
    (default HEAD) with --shared into out/base/.  The user's tree is
    only read."""
    need("git")
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise Error(f"base tree {path}: no such directory")
    p = git(path, "rev-parse", "--is-bare-repository", check=False)
    if "dubious ownership" in p.stderr:
        raise Error(f"base tree {path} belongs to another user: git "
                    f"reads (and clones) it only after 'git config "
                    f"--global --add safe.directory' of {path} and of "
                    f"{path}/.git")
    if p.returncode != 0:
        raise Error(f"base tree {path} is not a git repository "
                    f"(give a kernel git tree, or omit --base for "
                    f"Debian's linux-source-6.1)")
    bare = p.stdout.strip() == "true"
    if not bare and git(path, "status", "--porcelain",
                        "--untracked-files=no"):
        raise Error(f"base tree {path} has uncommitted changes: commit or "
                    f"stash them first (the tool never touches your work "
                    f"tree, and would not test your changes)")
    want = ref or "HEAD"
    p = git(path, "rev-parse", "--verify", "-q", want + "^{commit}",
            check=False)
    if p.returncode != 0:
        raise Error(f"base tree {path} has no ref '{want}'")
    commit = p.stdout.strip()
    if git(path, "cat-file", "-e", f"{commit}:kernel/dma/swiotlb.c",
           check=False).returncode != 0:
        raise Error(f"base tree {path} at {want} is not a kernel tree "
                    f"(no kernel/dma/swiotlb.c)")
    label = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(path))
    name = f"git-{label}-{commit[:12]}"
    repo = os.path.join(OUT, "base", name)
    if not os.path.isdir(os.path.join(repo, ".git")):
        progress("base", f"cloning {path} at {want} (--shared)")
        ensure_dir(OUT, "base")
        git(OUT, "clone", "-q", "--shared", "--no-checkout", path, repo)
        _own(repo)
        git(repo, "checkout", "-q", "-B", "base", commit)
    return Base(name, repo, commit, f"{path} at {want} ({commit[:12]})")


def get_base(spec=None, ref=None, line=None):
    """Resolve a --base argument for @line (a lines.Line or its name;
    the default line when None): None for the line's default base,
    'debian-6.1' / 'debian-6.12' for Debian's packages, else a path to
    a kernel git tree."""
    line = line if isinstance(line, L.Line) else L.get(line)
    spec = spec or line.base
    m = re.fullmatch(r"debian-(\d+\.\d+)", spec)
    if m:
        if m.group(1) not in DEBIAN_BASES:
            raise Error(f"unknown Debian base '{spec}': choose one of "
                        + ", ".join("debian-" + v for v in DEBIAN_BASES))
        if ref:
            raise Error("--ref applies only to a git tree given by path")
        need("tar", "git")
        b = debian_base(m.group(1))
    else:
        b = user_base(spec, ref)
    b.line = line
    return b
