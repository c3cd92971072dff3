# SPDX-License-Identifier: GPL-2.0
"""The tool's worktrees under out/src/: the one place that creates,
resets and deletes them, and keeps their 'applied' stamps.

out/src/<base>+<variant>           a git worktree of the base repository
out/src/<base>+<variant>.applied   what apply() left in it (a stamp file)

(<variant> carries the line where it is not the default one:
debian-6.12+mainline-series; see base.Base.tag.)

Every function here tolerates what a crash half-way may have left: a
worktree directory without its .git file, a .git file whose repository
is gone, a stamp without its worktree.
"""

import contextlib
import os
import shutil
import time

from .common import OUT, Error, progress, git, ensure_dir

SRC = os.path.join(OUT, "src")


def path(base, variant):
    """Where the worktree of @variant ('series', 'plain', 'edit') of
    @base lives."""
    return os.path.join(SRC, base.tag(variant))


def stamp_path(base, variant):
    return path(base, variant) + ".applied"


def _linked(wt, repo):
    """Is @wt a worktree of @repo that git can still use?"""
    dotgit = os.path.join(wt, ".git")
    if not os.path.isfile(dotgit):
        return False
    with open(dotgit) as f:
        line = f.read().strip()
    if not line.startswith("gitdir: "):
        return False
    gitdir = os.path.realpath(os.path.join(wt, line[len("gitdir: "):]))
    own = os.path.realpath(os.path.join(repo, ".git", "worktrees"))
    return gitdir.startswith(own + os.sep) and os.path.isdir(gitdir)


def _remove(p):
    """Delete @p, a worktree directory or a stamp file, if present."""
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    elif os.path.lexists(p):
        os.unlink(p)


def prune(repo):
    """Forget worktrees of @repo whose directories are gone."""
    if os.path.isdir(os.path.join(repo, ".git")):
        git(repo, "worktree", "prune", check=False)


def ensure(base, variant):
    """Path of the tool's worktree for @variant, created at the base
    commit when missing or left unusable (by a crash, or by a base that
    was re-created).  An unusable 'edit' worktree is moved aside, not
    deleted: it may hold the user's work."""
    wt = path(base, variant)
    if _linked(wt, base.repo):
        return wt
    if os.path.isdir(wt) and os.path.isdir(os.path.join(base.repo, ".git")):
        # out/ was moved: git can mend the links
        git(base.repo, "worktree", "repair", wt, check=False)
        if _linked(wt, base.repo):
            return wt
    if variant == "edit" and os.path.isdir(wt) and os.listdir(wt):
        aside = f"{wt}.broken-{time.strftime('%Y%m%d-%H%M%S')}"
        os.rename(wt, aside)
        progress("worktree", f"{wt} was no usable worktree: moved to {aside}")
    remove(base, variant)
    ensure_dir(SRC)
    git(base.repo, "worktree", "add", "-q", "-f", "--detach", wt,
        base.commit)
    return wt


def remove(base, variant):
    """Delete the worktree of @variant and its stamp."""
    clear_applied(base, variant)
    _remove(path(base, variant))
    prune(base.repo)


def drop_all(name, repo=None):
    """Delete every worktree and stamp of the base called @name (all
    out/src/<name>+*), then let @repo, if it still exists, forget them.
    Directories and stamp files alike; a missing out/src is fine.  An
    edit worktree moved aside (.broken-*) is the user's: it stays."""
    if os.path.isdir(SRC):
        for entry in sorted(os.listdir(SRC)):
            if entry.startswith(name + "+") and ".broken-" not in entry:
                _remove(os.path.join(SRC, entry))
    if repo:
        prune(repo)


def save_edit(name, repo):
    """Before the base repository @repo of @name is deleted (a new
    package version): keep the user's work of its 'edit' worktrees (one
    a line), the commits of each line's edit branch as patches and any
    uncommitted change as a diff, in out/base/<name>.edit-<date>/
    (a subdirectory a line other than the default).  Return that
    directory, or None when there was nothing to keep."""
    from . import lines as L
    if not os.path.isdir(os.path.join(repo, ".git")):
        return None
    dest = None
    for line in L.LINES.values():
        branch = line.edit_branch
        if git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}",
               check=False).returncode != 0:
            continue
        if dest is None:
            dest = f"{repo}.edit-{time.strftime('%Y%m%d-%H%M%S')}"
        out = dest if line.name == L.DEFAULT else \
            os.path.join(dest, line.name)
        ensure_dir(out)
        # --always: the empty commits are the postings' cover letters
        git(repo, "format-patch", "-q", "--always", "-o", out,
            f"base..{branch}")
        wt = os.path.join(SRC, f"{os.path.basename(repo)}+"
                          f"{line.variant('edit')}")
        if _linked(wt, repo):
            diff = git(wt, "diff", "HEAD")
            if diff:
                with open(os.path.join(out, "uncommitted.diff"), "w") as f:
                    f.write(diff + "\n")
    if dest:
        progress("base", f"kept the edit branches of the old {name} in "
                 f"{dest}")
    return dest


@contextlib.contextmanager
def scratch(base, wt):
    """A throw-away detached worktree of @base at @wt (outside out/src,
    e.g. for the b4 round trip), removed on the way out."""
    if os.path.lexists(wt):
        git(base.repo, "worktree", "remove", "--force", wt, check=False)
        _remove(wt)
        prune(base.repo)
    git(base.repo, "worktree", "add", "-q", "--detach", wt, base.commit)
    try:
        yield wt
    finally:
        git(base.repo, "worktree", "remove", "--force", wt, check=False)
        _remove(wt)
        prune(base.repo)


def in_progress(wt):
    """The git operation paused in @wt ('rebase', 'am', ...), or None."""
    gitdir = git(wt, "rev-parse", "--absolute-git-dir")
    if os.path.isfile(os.path.join(gitdir, "rebase-apply", "applying")):
        return "am"
    for d, what in (("rebase-merge", "rebase"), ("rebase-apply", "rebase"),
                    ("CHERRY_PICK_HEAD", "cherry-pick"),
                    ("REVERT_HEAD", "revert"), ("MERGE_HEAD", "merge"),
                    ("BISECT_LOG", "bisect")):
        if os.path.exists(os.path.join(gitdir, d)):
            return what
    return None


def reset_to_base(wt, base):
    """Abort any git am and put the tool's worktree @wt at the base."""
    gitdir = git(wt, "rev-parse", "--absolute-git-dir")
    if os.path.isdir(os.path.join(gitdir, "rebase-apply")):
        git(wt, "am", "--abort", check=False)
    git(wt, "checkout", "-q", "-f", "--detach", base.commit)


def _applied_key(base, series, wt, names):
    return (f"{base.commit} {series.digest()} {len(names)}\n"
            f"{git(wt, 'rev-parse', 'HEAD')}\n")


def is_applied(base, series, variant, names):
    """Does the worktree of @variant hold exactly @names applied, as
    record_applied() noted?"""
    stamp = stamp_path(base, variant)
    if not os.path.isfile(stamp):
        return False
    with open(stamp) as f:
        return f.read() == _applied_key(base, series, path(base, variant),
                                        names)


def record_applied(base, series, variant, names):
    """Note that the worktree of @variant holds @names applied, so that
    the next apply() leaves it (and the builds' mtimes) alone."""
    wt = ensure(base, variant)
    stamp = stamp_path(base, variant)
    tmp = stamp + ".tmp"
    with open(tmp, "w") as f:
        f.write(_applied_key(base, series, wt, names))
    os.replace(tmp, stamp)


def clear_applied(base, variant):
    """Forget what the worktree of @variant holds (before changing it)."""
    _remove(stamp_path(base, variant))


def check_clean(wt, what="worktree"):
    """Raise unless @wt has no uncommitted change and no paused git
    operation."""
    op = in_progress(wt)
    if op:
        raise Error(f"{wt}: a git {op} is in progress in the {what}: "
                    f"finish it (git {op} --continue) or abort it first")
    if git(wt, "status", "--porcelain", "--untracked-files=no"):
        raise Error(f"{wt}: the {what} has uncommitted changes: commit "
                    f"or stash them first")


@contextlib.contextmanager
def lock(base, variant):
    """Hold the worktree of @variant for this process: a second
    patchtree that wants it (two checkouts of one worktree corrupt each
    other's builds) fails at once with one line instead of waiting."""
    import fcntl
    ensure_dir(OUT, "src")
    lf = path(base, variant) + ".lock"
    f = open(lf, "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise Error(f"{path(base, variant)} is in use by another patchtree "
                    f"(lock {lf}): wait for it, or give this one its own "
                    f"PATCHTREE_OUT")
    try:
        yield
    finally:
        f.close()
