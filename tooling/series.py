# SPDX-License-Identifier: GPL-2.0
"""The series: its postings (parsed from the series file), apply it
with git am, and edit/export it as one branch (mail.py writes each
posting's mbox)."""

import glob
import hashlib
import os
import re
import shutil

from . import worktree
from . import lines as L
from .common import TOP, OUT, Error, progress, git, ensure_dir
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


# A posting marker: one line '# posting: NAME' before the patches of
# each posting (one cover letter, one mbox, one b4 round trip; its files
# are patches/NAME/).  A comment that begins with the word 'posting' is
# taken as a marker and must have exactly this form.
MARKER = re.compile(r"#\s*posting\b", re.I)
MARKER_OK = re.compile(r"# posting: ([a-z0-9][a-z0-9_-]*)$")
ENTRY = re.compile(r"([^/\s]+)/([^/\s]+)$")


class Posting:
    """One posting of the series: its marker line and its patches."""

    def __init__(self, series, name, line):
        self.series = series
        self.name = name
        self.line = line        # line number of its marker
        self.entries = []       # (line number, 'NAME/FILE')

    @property
    def names(self):
        return [e[1] for e in self.entries]

    @property
    def dir(self):
        return os.path.join(self.series.pdir, self.name)

    @property
    def cover(self):
        return os.path.join(self.dir, COVER)

    def digest(self):
        """Hash of the cover letter and every patch of the posting."""
        h = hashlib.sha256()
        for f in [self.cover] + [self.series.path(n) for n in self.names]:
            h.update(open(f, "rb").read())
        return h.hexdigest()[:16]


class Series:
    """The series file of a line (lines.py: `series`, `series.mainline`)
    and the patch directory, as read from disk.  A malformed series
    file (a bad marker, a patch outside its posting's directory) raises
    one Error naming the file and line."""

    def __init__(self, top=TOP, line=None):
        self.top = top
        self.line = line if isinstance(line, L.Line) else L.get(line)
        self.pdir = os.path.join(top, "patches")
        self.file = os.path.join(top, self.line.series)
        self.fname = self.line.series   # as messages name it
        self.lines = []         # raw lines, comments included
        self.entries = []       # (line number, 'POSTING/FILE')
        self.postings = []      # Posting, in series order
        if not os.path.exists(self.file):
            raise Error(f"{self.file}: missing (the series file of line "
                        f"{self.line.name}: one patch name per line)")
        with open(self.file) as f:
            self.lines = f.read().splitlines()
        for n, line in enumerate(self.lines, 1):
            self._parse(n, line)
        if not self.postings:
            raise Error(f"{self.file}: no '# posting: NAME' line (each "
                        f"posting's patches follow its marker)")
        for p in self.postings:
            if not p.entries:
                raise Error(f"{self.file}:{p.line}: posting '{p.name}' "
                            f"lists no patches")

    def _parse(self, n, line):
        where = f"{self.file}:{n}"
        if MARKER.match(line.strip()):
            m = MARKER_OK.match(line.rstrip())
            if not m:
                raise Error(f"{where}: bad posting marker '{line.strip()}'"
                            f": want '# posting: NAME' (NAME of a-z, 0-9, "
                            f"'-', '_')")
            old = next((p for p in self.postings
                        if p.name == m.group(1)), None)
            if old:
                raise Error(f"{where}: posting '{old.name}' again (first "
                            f"at line {old.line})")
            self.postings.append(Posting(self, m.group(1), n))
            return
        name = line.split("#", 1)[0].strip()
        if not name:
            return
        if not self.postings:
            raise Error(f"{where}: '{name}' comes before the first "
                        f"'# posting: NAME' line")
        p = self.postings[-1]
        m = ENTRY.match(name)
        if not m or m.group(1) != p.name:
            raise Error(f"{where}: '{name}' is in posting '{p.name}' (line "
                        f"{p.line}): want '{p.name}/FILE'")
        p.entries.append((n, name))
        self.entries.append((n, name))

    @property
    def names(self):
        """Every patch, in apply order (posting after posting)."""
        return [e[1] for e in self.entries]

    def path(self, name):
        return os.path.join(self.pdir, name)

    def posting(self, name):
        p = next((p for p in self.postings if p.name == name), None)
        if p is None:
            raise Error(f"no posting '{name}' in {self.file} (it has: "
                        f"{', '.join(q.name for q in self.postings)})")
        return p

    def other_postings(self):
        """{posting: series file} of the other lines' series files (read
        for their markers alone: their own errors are theirs)."""
        out = {}
        for line in L.LINES.values():
            f = os.path.join(self.top, line.series)
            if line.name == self.line.name or not os.path.isfile(f):
                continue
            for text in open(f, errors="replace").read().splitlines():
                m = MARKER_OK.match(text.rstrip())
                if m:
                    out.setdefault(m.group(1), line.series)
        return out

    def problems(self):
        """Series file vs patches/: every listed patch exists and is
        listed once, every posting has its cover letter, every patch on
        disk is listed (by this line's series file, or it is in the
        directory of a posting of another line's)."""
        out = []
        seen = set()
        sf = self.fname
        for n, name in self.entries:
            if not os.path.isfile(self.path(name)):
                out.append(f"{sf}:{n}: '{name}' is listed but "
                           f"patches/{name} does not exist")
            if name in seen:
                out.append(f"{sf}:{n}: '{name}' is listed twice")
            seen.add(name)
        names = {p.name for p in self.postings}
        others = self.other_postings()
        for p in self.postings:
            if p.name in others:
                out.append(f"{sf}:{p.line}: posting '{p.name}' is also a "
                           f"posting of {others[p.name]} (a posting "
                           f"belongs to one line)")
        for f in sorted(glob.glob(os.path.join(self.pdir, "*.patch")) +
                        glob.glob(os.path.join(self.pdir, "*", "*.patch"))):
            rel = os.path.relpath(f, self.pdir)
            d, b = os.path.split(rel)
            if not d:
                out.append(f"patches/{rel}: outside the postings' "
                           f"directories (patches/POSTING/)")
            elif d in others and d not in names:
                continue        # the other line checks its own
            elif d not in names:
                known = ", ".join(L.LINES[x].series for x in L.NAMES)
                out.append(f"patches/{rel}: patches/{d}/ is no posting "
                           f"of {sf} (no '# posting: {d}' line) nor of "
                           f"any line's series file ({known})")
            elif b != COVER and rel not in seen:
                out.append(f"patches/{rel}: on disk but not listed in "
                           f"{sf}")
        for p in self.postings:
            if not os.path.isfile(p.cover):
                out.append(f"patches/{p.name}/{COVER}: missing (the "
                           f"cover letter of posting {p.name})")
        return out

    def validate(self):
        p = self.problems()
        if p:
            raise Error(f"{self.fname} is inconsistent:\n  "
                        + "\n  ".join(p))

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


def cover_text(path):
    """Subject and body of a cover letter file: the message of its
    posting's cover commit on the edit branch."""
    text = open(path).read()
    head, _, body = text.partition("\n\n")
    subj = re.search(r"^Subject: (?:\[[^]]*\] )?(.*(?:\n [^\n]*)*)", head,
                     re.M)
    subject = re.sub(r"\n\s+", " ", subj.group(1)) if subj else "series"
    # The body ends where format-patch's shortlog starts.
    body = re.split(r"\n[^\n]+ \(\d+\):\n", "\n" + body)[0].strip("\n")
    body = re.split(r"\n--- \n|\nbase-commit: ", "\n" + body + "\n")[0]
    return subject + "\n\n" + body.strip("\n") + "\n"


def edit(base, series):
    """Materialize the series as branch 'series-edit' (for the mainline
    line 'mainline-series-edit': base.edit_branch) in the tool's 'edit'
    worktree, for git rebase -i: per posting, an empty commit whose
    message is its cover letter, then one commit per patch."""
    wt = base.worktree("edit")
    br = base.edit_branch
    status = git(wt, "status", "--porcelain", "--untracked-files=no")
    head = git(wt, "rev-parse", "HEAD")
    if status or (head != base.commit and
                  git(wt, "symbolic-ref", "-q", "HEAD", check=False)
                  .stdout.strip() == f"refs/heads/{br}"):
        raise Error(f"{wt} already holds work on branch {br}: run "
                    f"'export' to keep it, or 'edit --force' to start over")
    return _materialize(base, series, wt)


def _materialize(base, series, wt):
    series.validate()
    reset_to_base(wt, base)
    git(wt, "checkout", "-q", "-B", base.edit_branch, base.commit)
    # the single cover of the flat layout lived here; now each posting's
    # cover is its empty commit
    git(wt, "config", "--unset", f"branch.{base.edit_branch}.description",
        check=False)
    msg = os.path.join(ensure_dir(OUT, "edit.tmp"), "cover")
    for p in series.postings:
        with open(msg, "w") as f:
            f.write(cover_text(p.cover))
        git(wt, "commit", "-q", "--allow-empty", "--cleanup=verbatim",
            "-F", msg)
        _am_all(base, series, wt, p.names, "edit")
    shutil.rmtree(os.path.dirname(msg))
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


def split_branch(wt, base, series, branch=None):
    """[(posting, cover commit, [patch commits])] of @branch (the line's
    edit branch): each posting starts at an empty commit (its cover
    letter), the k-th empty commit begins the k-th posting of the
    series file."""
    branch = branch or base.edit_branch
    log = git(wt, "log", "--reverse", "--format=%H %T %P",
              f"{base.commit}..{branch}")
    trees = {base.commit: git(wt, "rev-parse", f"{base.commit}^{{tree}}")}
    groups = []
    for line in log.splitlines():
        h, tree, *parents = line.split()
        what = f"{branch}: commit {h[:12]} " \
            f"'{git(wt, 'log', '-1', '--format=%s', h)}'"
        if len(parents) != 1 or parents[0] not in trees:
            raise Error(f"{what} is a merge or not on the base: the branch "
                        f"must be a line of commits on {base.commit[:12]}")
        trees[h] = tree
        if tree == trees[parents[0]]:
            groups.append((h, []))
        elif not groups:
            raise Error(f"{what} comes before the first empty commit (the "
                        f"cover letter that starts each posting)")
        else:
            groups[-1][1].append(h)
    want = [p.name for p in series.postings]
    if len(groups) != len(want):
        raise Error(f"{branch} has {len(groups)} empty commits (cover "
                    f"letters), series {len(want)} postings "
                    f"({', '.join(want)}): each posting starts with its "
                    f"cover commit")
    for p, (h, commits) in zip(series.postings, groups):
        if not commits:
            raise Error(f"{branch}: posting {p.name} (cover {h[:12]}) has "
                        f"no patch")
    return [(p, h, c) for p, (h, c) in zip(series.postings, groups)]


def _onto_base(base, wt, name, commits):
    """Cherry-pick @commits one by one onto the base in the tool's
    worktree @wt: the posting as its maintainer will apply it, alone on
    the base.  A conflict names the posting, the commit and the files."""
    reset_to_base(wt, base)
    for c in commits:
        p = git(wt, "cherry-pick", c, check=False)
        if p.returncode:
            files = git(wt, "diff", "--name-only", "--diff-filter=U",
                        check=False).stdout.split()
            subj = git(wt, "log", "-1", "--format=%s", c)
            git(wt, "cherry-pick", "--abort", check=False)
            reset_to_base(wt, base)
            raise Error(f"posting {name} does not apply to the base alone: "
                        f"'{subj}' conflicts in "
                        f"{', '.join(files) or '(see git cherry-pick)'}")


def _format_postings(base, wt, groups, tmp):
    """Each posting rebased onto the base (worktree 'post') and
    formatted into @tmp/<posting>/, its cover letter from its cover
    commit.  Nothing in patches/ is written here."""
    post = base.worktree("post")
    branch = "patchtree-export"
    for p, cover, commits in groups:
        _onto_base(base, post, p.name, commits)
        git(post, "branch", "-f", branch, "HEAD")
        git(post, "config", f"branch.{branch}.description",
            git(wt, "log", "-1", "--format=%B", cover))
        try:
            format_patches(post, base.commit, branch,
                           ensure_dir(tmp, p.name))
        finally:
            git(post, "branch", "-D", branch, check=False)
        reset_to_base(post, base)
    return {p.name: sorted(os.listdir(os.path.join(tmp, p.name)))
            for p, _, _ in groups}


def export(base, series, wt):
    """Write the commits base..<edit branch> of @wt back to
    patches/<posting>/ and rewrite the patch names in the series file,
    keeping its comments and markers at the same positions.  Each
    posting is formatted as applied alone onto the base.  Refuses an
    edit worktree with uncommitted changes or a paused rebase/am;
    removes only patches that the series listed, never a file it did
    not write.  Returns the names written, in series order."""
    worktree.check_clean(wt, "edit worktree")
    groups = split_branch(wt, base, series)
    tmp = os.path.join(OUT, "export.tmp")
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    with worktree.lock(base, "post"):
        made = _format_postings(base, wt, groups, tmp)
    listed = set(series.names)
    for p in series.postings:
        for f in made[p.name]:
            rel = f"{p.name}/{f}"
            dst = series.path(rel)
            if f != COVER and rel not in listed and os.path.exists(dst) \
                    and open(dst, "rb").read() != \
                    open(os.path.join(tmp, rel), "rb").read():
                raise Error(f"patches/{rel} is not in the series and "
                            f"differs from the patch export would write "
                            f"there: move it away first")
    for p in series.postings:
        ensure_dir(p.dir)
        for f in sorted(glob.glob(os.path.join(p.dir, "*.patch"))):
            b = os.path.basename(f)
            if b in made[p.name]:
                continue
            if f"{p.name}/{b}" in listed:
                os.unlink(f)
            else:
                progress("export", f"kept patches/{p.name}/{b}: not in "
                         f"the series and not written by this export")
        for f in made[p.name]:
            dst = os.path.join(p.dir, f)
            data = open(os.path.join(tmp, p.name, f), "rb").read()
            if not os.path.exists(dst) or open(dst, "rb").read() != data:
                with open(dst, "wb") as g:
                    g.write(data)
    shutil.rmtree(tmp)
    lines = list(series.lines)
    # from the last posting to the first: an insertion or deletion only
    # moves the lines of postings already rewritten
    for p in reversed(series.postings):
        names = [f"{p.name}/{f}" for f in made[p.name] if f != COVER]
        idx = [n - 1 for n, _ in p.entries]
        last = idx[-1]
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
    return [f"{p.name}/{f}" for p in series.postings
            for f in made[p.name] if f != COVER]
