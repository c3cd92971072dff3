# SPDX-License-Identifier: GPL-2.0
"""The series: parse it, apply it with git am, export it back, and
write one threaded mbox for b4."""

import glob
import hashlib
import os
import re

from . import worktree
from .common import TOP, OUT, Error, progress, git, run, ensure_dir
# Re-exported: checks.py (and others) import these from here.
from .worktree import reset_to_base, record_applied  # noqa: F401

COVER = "0000-cover-letter.patch"

# The one set of format-patch options used by 'export'.  They make the
# output a function of the commits alone: no commit ids (--zero-commit),
# no git version (--no-signature), a fixed diffstat width, and fixed
# index abbreviations, diff algorithm and context (git's automatic
# abbreviation grows with the number of *packed* objects: a gc or a
# --shared clone would rewrite every index line; review F9).
FORMAT_PATCH = ["format-patch", "--zero-commit", "--no-signature",
                "--abbrev=12", "--diff-algorithm=myers", "-U3",
                "--cover-letter", "--cover-from-description=subject",
                "--numbered", "--stat=72", "--stat-graph-width=20",
                "--subject-prefix=PATCH", "--filename-max-length=64",
                "--no-renames", "--encode-email-headers"]


class Series:
    """The series file and the patch directory, as read from disk."""

    def __init__(self, top=TOP):
        self.top = top
        self.pdir = os.path.join(top, "patches")
        self.file = os.path.join(top, "series")
        self.lines = []         # raw lines, comments included
        self.entries = []       # (line number, patch name)
        if not os.path.exists(self.file):
            raise Error(f"{self.file}: missing (one patch name per line)")
        with open(self.file) as f:
            self.lines = f.read().splitlines()
        for n, line in enumerate(self.lines, 1):
            name = line.split("#", 1)[0].strip()
            if name:
                self.entries.append((n, name))

    @property
    def names(self):
        return [e[1] for e in self.entries]

    def path(self, name):
        return os.path.join(self.pdir, os.path.basename(name))

    def problems(self):
        """Series file vs patches/: every listed patch exists and is
        listed once, every patch on disk is listed."""
        out = []
        seen = set()
        for n, name in self.entries:
            if not os.path.isfile(self.path(name)):
                out.append(f"series:{n}: '{name}' is listed but "
                           f"patches/{os.path.basename(name)} does not exist")
            if name in seen:
                out.append(f"series:{n}: '{name}' is listed twice")
            seen.add(name)
        listed = {os.path.basename(x) for x in seen}
        for f in sorted(glob.glob(os.path.join(self.pdir, "*.patch"))):
            b = os.path.basename(f)
            if b != COVER and b not in listed:
                out.append(f"patches/{b}: on disk but not listed in series")
        if not os.path.isfile(os.path.join(self.pdir, COVER)):
            out.append(f"patches/{COVER}: missing")
        return out

    def validate(self):
        p = self.problems()
        if p:
            raise Error("series is inconsistent:\n  " + "\n  ".join(p))

    def digest(self):
        """Hash of the series file and every listed patch."""
        h = hashlib.sha256()
        h.update(open(self.file, "rb").read())
        for name in self.names:
            h.update(open(self.path(name), "rb").read())
        return h.hexdigest()[:16]


def _am_failure(out, name):
    """Turn git am's output into 'patch, file, hunk' for the user."""
    files = re.findall(r"error: patch failed: (\S+):(\d+)", out)
    missing = re.findall(r"error: (\S+): (does not exist in index|"
                         r"No such file or directory|already exists)", out)
    corrupt = re.search(r"(corrupt patch at line \d+|"
                        r"Patch is empty[^\n]*)", out)
    what = []
    for f, line in files:
        what.append(f"{f}: hunk at line {line} does not apply")
    for f, why in missing:
        what.append(f"{f}: {why}")
    if corrupt:
        what.append(corrupt.group(1))
    if not what:
        what.append(out.strip().splitlines()[-1] if out.strip()
                    else "git am failed")
    return f"patch {name} does not apply:\n  " + "\n  ".join(what)


def am(wt, patch, name):
    """git am one patch onto @wt; on failure undo it and raise."""
    p = git(wt, "am", "-q", "--keep-cr", "--committer-date-is-author-date",
            patch, check=False)
    if p.returncode != 0:
        git(wt, "am", "--abort", check=False)
        raise Error(_am_failure(p.stdout + p.stderr, name))


def _am_all(base, series, wt, names, step):
    """git am @names one by one onto @wt (at the base); on a failure put
    @wt back at the base and raise, nothing half-applied."""
    for i, name in enumerate(names, 1):
        progress(step, f"[{i}/{len(names)}] {name}", base.name)
        try:
            am(wt, series.path(name), name)
        except Error:
            reset_to_base(wt, base)
            raise


def apply(base, series, variant="series", upto=None):
    """Apply the series (or its first @upto patches) in the tool's
    worktree for @variant.  Re-applies only when something changed.
    On failure the worktree is left at the base, nothing half-applied."""
    series.validate()
    wt = base.worktree(variant)
    names = series.names if upto is None else series.names[:upto]
    if variant == "plain":
        names = []
    if worktree.is_applied(base, series, variant, names):
        return wt
    worktree.clear_applied(base, variant)
    reset_to_base(wt, base)
    _am_all(base, series, wt, names, "apply")
    record_applied(base, series, variant, names)
    return wt


def _cover_text(series):
    """Subject and body of the cover letter, for the branch description."""
    text = open(os.path.join(series.pdir, COVER)).read()
    head, _, body = text.partition("\n\n")
    subj = re.search(r"^Subject: (?:\[[^]]*\] )?(.*(?:\n [^\n]*)*)", head,
                     re.M)
    subject = re.sub(r"\n\s+", " ", subj.group(1)) if subj else "series"
    # The body ends where format-patch's shortlog starts.
    body = re.split(r"\n[^\n]+ \(\d+\):\n", "\n" + body)[0].strip("\n")
    body = re.split(r"\n--- \n|\nbase-commit: ", "\n" + body + "\n")[0]
    return subject + "\n\n" + body.strip("\n") + "\n"


def edit(base, series):
    """Materialize the series as branch 'series-edit' (one commit per
    patch) in the tool's 'edit' worktree, for git rebase -i."""
    wt = base.worktree("edit")
    status = git(wt, "status", "--porcelain", "--untracked-files=no")
    head = git(wt, "rev-parse", "HEAD")
    if status or (head != base.commit and
                  git(wt, "symbolic-ref", "-q", "HEAD", check=False)
                  .stdout.strip() == "refs/heads/series-edit"):
        raise Error(f"{wt} already holds work on branch series-edit: run "
                    f"'export' to keep it, or 'edit --force' to start over")
    return _materialize(base, series, wt)


def _materialize(base, series, wt):
    series.validate()
    reset_to_base(wt, base)
    git(wt, "checkout", "-q", "-B", "series-edit", base.commit)
    _am_all(base, series, wt, series.names, "edit")
    git(wt, "config", "branch.series-edit.description", _cover_text(series))
    return wt


def format_patches(wt, base_commit, tip, outdir):
    """format-patch base_commit..tip into @outdir with FORMAT_PATCH.
    The cover letter's Date: would be 'now'; it gets the tip's author
    date instead, so that the same commits give the same bytes."""
    git(wt, *FORMAT_PATCH, f"--base={base_commit}", "-o", outdir,
        f"{base_commit}..{tip}")
    date = git(wt, "log", "-1", "--format=%aD", tip)
    cover = os.path.join(outdir, COVER)
    if os.path.exists(cover):
        text = open(cover).read()
        text = re.sub(r"^Date: .*$", f"Date: {date}", text, count=1,
                      flags=re.M)
        with open(cover, "w") as f:
            f.write(text)


def export(base, series, wt):
    """Write the commits base..series-edit of @wt back to patches/ and
    rewrite the patch names in the series file, keeping its comments
    at the same positions.  Refuses an edit worktree with uncommitted
    changes or a paused rebase/am; removes only patches that the series
    listed, never a file it did not write."""
    worktree.check_clean(wt, "edit worktree")
    n = int(git(wt, "rev-list", "--count", f"{base.commit}..series-edit"))
    if n == 0:
        raise Error(f"{wt}: branch series-edit has no commits on the base")
    tmp = ensure_dir(OUT, "export.tmp")
    for f in glob.glob(os.path.join(tmp, "*")):
        os.unlink(f)
    format_patches(wt, base.commit, "series-edit", tmp)
    made = sorted(os.listdir(tmp))
    listed = {os.path.basename(x) for x in series.names} | {COVER}
    for f in made:
        dst = os.path.join(series.pdir, f)
        if f not in listed and os.path.exists(dst) and \
                open(dst, "rb").read() != \
                open(os.path.join(tmp, f), "rb").read():
            raise Error(f"patches/{f} is not in the series and differs "
                        f"from the patch export would write there: move "
                        f"it away first")
    for f in sorted(glob.glob(os.path.join(series.pdir, "*.patch"))):
        b = os.path.basename(f)
        if b in made:
            continue
        if b in listed:
            os.unlink(f)
        else:
            progress("export", f"kept patches/{b}: not in the series and "
                     f"not written by this export")
    for f in made:
        dst = os.path.join(series.pdir, f)
        data = open(os.path.join(tmp, f), "rb").read()
        if not os.path.exists(dst) or open(dst, "rb").read() != data:
            with open(dst, "wb") as g:
                g.write(data)
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    names = [f for f in made if f != COVER]
    lines = list(series.lines)
    idx = [n - 1 for n, _ in series.entries]
    # New patches go right after the last listed one, not after a
    # banner that closes the file.
    last = idx[-1] if idx else len(lines) - 1
    for k, name in enumerate(names):
        if k < len(idx):
            lines[idx[k]] = name
        else:
            last += 1
            lines.insert(last, name)
    for k in reversed(idx[len(names):]):
        del lines[k]
    text = "\n".join(lines) + "\n"
    if open(series.file).read() != text:
        with open(series.file, "w") as f:
            f.write(text)
    return names


def mbox(base, series, path):
    """One mbox with the cover letter and every patch, threaded to the
    cover letter by Message-Id/In-Reply-To/References headers."""
    series.validate()
    files = [os.path.join(series.pdir, COVER)] + \
        [series.path(n) for n in series.names]
    tag = series.digest()
    cover_id = f"<{tag}.0@patchtree.invalid>"
    out = []
    for i, f in enumerate(files):
        text = open(f, encoding="utf-8", errors="surrogateescape").read()
        head, sep, body = text.partition("\n\n")
        head = re.sub(r"^(Message-Id|In-Reply-To|References):.*\n"
                      r"(?:[ \t].*\n)*", "", head + "\n",
                      flags=re.M | re.I).rstrip("\n")
        hdrs = [f"Message-Id: <{tag}.{i}@patchtree.invalid>"]
        if i:
            hdrs += [f"In-Reply-To: {cover_id}", f"References: {cover_id}"]
        if "base-commit:" not in body and i == 0:
            body = body.rstrip("\n") + f"\n\nbase-commit: {base.commit}\n"
        if not head.startswith("From "):
            head = "From 0000000000000000000000000000000000000000 " \
                   "Mon Sep 17 00:00:00 2001\n" + head
        out.append(head + "\n" + "\n".join(hdrs) + sep + body.rstrip("\n")
                   + "\n\n")
    ensure_dir(os.path.dirname(path))
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(out))
    return path


def b4_roundtrip(base, mbox_path, workdir):
    """b4 am -m the mbox offline and git am the result onto the base in
    a scratch worktree; return the number of patches applied."""
    ensure_dir(workdir)
    with worktree.scratch(base, os.path.join(workdir, "tree")) as wt:
        bdir = ensure_dir(workdir, "b4")
        run(["b4", "-n", "am", "-m", mbox_path, "-o", bdir, "-n", "series"],
            cwd=wt, capture=True,
            env={"XDG_CACHE_HOME": ensure_dir(workdir, "cache"),
                 "XDG_DATA_HOME": ensure_dir(workdir, "data")})
        mbx = os.path.join(bdir, "series.mbx")
        if not os.path.exists(mbx):
            raise Error(f"b4 am wrote no {mbx}")
        p = git(wt, "am", "-q", mbx, check=False)
        if p.returncode != 0:
            raise Error("git am of b4's output failed:\n" + p.stdout + p.stderr)
        return int(git(wt, "rev-list", "--count", f"{base.commit}..HEAD"))
