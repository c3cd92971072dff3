# SPDX-License-Identifier: GPL-2.0
"""NIPA-style checks: small, independent, one verdict line each.

Series checks look at the series as a whole; patch checks run once per
patch.  Each returns (ok, summary, details).
"""

import os
import re

from .common import TOP, OUT, Error, progress, run, git, ensure_dir
from .series import COVER, am, reset_to_base, record_applied
from .matrix import warnings

ALLOW = os.path.join(TOP, "checkpatch-allowlist")
SUBJECT = re.compile(r"^Subject: \[PATCH(?: v\d+)? (\d+)/(\d+)\] "
                     r"([a-z0-9_/.-]+(?:: [a-z0-9_/.-]+)*): (\S.*)$", re.M)


def header(path):
    """The mail header of a patch file, continuation lines unfolded."""
    text = open(path, errors="replace").read()
    return re.sub(r"\n[ \t]+", " ", text.split("\n\n", 1)[0])


def series_consistent(series, base):
    p = series.problems()
    return not p, f"{len(series.names)} patches listed", p


def cover_letter(series, base):
    path = os.path.join(series.pdir, COVER)
    if not os.path.exists(path):
        return False, "missing", [f"patches/{COVER}"]
    m = re.search(r"^Subject: \[PATCH(?: v\d+)? 0+/(\d+)\] (\S.*)$",
                  header(path), re.M)
    if not m:
        return False, "subject is not '[PATCH 0/N] ...'", []
    n = int(m.group(1))
    if n != len(series.names):
        return False, f"says 0/{n}, series has {len(series.names)}", []
    return True, f"[PATCH 0/{n}] {m.group(2)[:50]}", []


def get_maintainer(series, base):
    """get_maintainer.pl, with MAINTAINERS-snippet appended to the base's
    MAINTAINERS in a scratch copy, names the list for every patch."""
    snippet = os.path.join(TOP, "MAINTAINERS-snippet")
    m = re.search(r"^L:\s*(\S+)", open(snippet).read(), re.M)
    if not m:
        return False, "MAINTAINERS-snippet has no L: line", []
    lst = m.group(1)
    b4 = re.search(r"^\s*send-series-to\s*=\s*(.*)$",
                   open(os.path.join(TOP, "b4.conf")).read(), re.M)
    if not b4 or lst not in b4.group(1):
        return False, f"b4.conf send-series-to does not name {lst}", []
    if not series.names:
        return True, f"b4.conf and snippet agree on {lst}; no patches", []
    merged = os.path.join(ensure_dir(OUT, "check"), "MAINTAINERS")
    with open(merged, "w") as f:
        f.write(open(os.path.join(base.repo, "MAINTAINERS")).read())
        f.write("\n" + open(snippet).read())
    bad = []
    for name in series.names:
        p = run(["perl", "scripts/get_maintainer.pl", "--mpath", merged,
                 "--no-git", "--no-git-fallback", "--no-rolestats",
                 series.path(name)], cwd=base.repo, capture=True, check=False)
        if lst not in p.stdout:
            bad.append(f"{name}: get_maintainer.pl does not name {lst}")
    return not bad, f"{lst} named for {len(series.names) - len(bad)}/" \
        f"{len(series.names)}", bad


def subject(series, base, i, name):
    m = SUBJECT.search(header(series.path(name)))
    if not m:
        return False, "no '[PATCH n/N] subsystem: summary' subject", []
    n, total = int(m.group(1)), int(m.group(2))
    if (n, total) != (i, len(series.names)):
        return False, f"numbered {n}/{total}, is {i}/{len(series.names)}", []
    return True, f"{m.group(3)}: ...", []


def signoff(series, base, i, name):
    ok = re.search(r"^Signed-off-by: .+ <[^>]+@[^>]+>$",
                   open(series.path(name), errors="replace").read(), re.M)
    return bool(ok), "Signed-off-by present" if ok else "no Signed-off-by", []


def _allowlist():
    """(patch glob, TYPE) pairs, each with a written reason."""
    allow = []
    if not os.path.exists(ALLOW):
        return allow
    for n, line in enumerate(open(ALLOW), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r"(\S+)\s+([A-Z_]+)\s+#\s*(\S.*)", line)
        if not m:
            raise Error(f"checkpatch-allowlist:{n}: want 'PATCH TYPE "
                        f"# reason'")
        allow.append((m.group(1), m.group(2)))
    return allow


def checkpatch(series, base, i, name):
    import fnmatch
    p = run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
             "--no-summary", "--terse", series.path(name)],
            cwd=base.repo, capture=True, check=False)
    found = re.findall(r"^(\S+?):(\d+): (ERROR|WARNING|CHECK):(\w+): (.*)$",
                       p.stdout, re.M)
    allow = _allowlist()
    left = [f"{t}:{ty}: {msg} (line {ln})" for _, ln, t, ty, msg in found
            if not any(fnmatch.fnmatch(name, g) and ty == a
                       for g, a in allow)]
    return not left, f"{len(left)} problems" if left else "clean", left


class Bisect:
    """Per-patch x86_64 build with warnings not increased, then sparse
    and kernel-doc on the touched files against the base."""

    def __init__(self, base, series, build):
        self.base, self.series, self.build = base, series, build
        self.seen = None
        self.touched = set()

    def base_build(self):
        reset_to_base(self.build.src, self.base)
        ref = os.path.join(self.build.odir, "warnings-base.txt")
        fresh = not os.path.exists(os.path.join(self.build.odir, "vmlinux"))
        w = self.build.build()
        if fresh or not os.path.exists(ref):
            with open(ref, "w") as f:
                f.write("\n".join(w) + "\n")
        self.seen = set(open(ref).read().split("\n")) | set(w)

    def patch_build(self, series, base, i, name):
        wt = self.build.src
        am(wt, series.path(name), name)
        files = git(wt, "diff", "--name-only", "HEAD~1", "HEAD").split("\n")
        self.touched.update(f for f in files if f)
        w = self.build.build()
        new = [x for x in w if x not in self.seen]
        self.seen.update(w)
        return not new, f"{len(new)} new warnings" if new else \
            "builds, no new warnings", new

    def _sparse_kdoc(self, files):
        """Warnings of sparse (C=2) and kernel-doc on @files, now."""
        out = []
        wt = self.build.src
        for f in sorted(files):
            if not os.path.exists(os.path.join(wt, f)):
                continue
            if f.endswith((".c", ".h")):
                p = run(["perl", "scripts/kernel-doc", "-none", f], cwd=wt,
                        capture=True, check=False)
                out += [f"kernel-doc {re.sub(r':[0-9]+:', ':', l)}"
                        for l in p.stderr.splitlines() if "warning" in l]
            # sparse only what this config builds: a file that is
            # #included by another (a KUnit suite) is no object of its own
            obj = f[:-2] + ".o"
            if f.endswith(".c") and os.path.exists(
                    os.path.join(self.build.odir, obj)):
                log = os.path.join(self.build.odir, "sparse.log")
                if os.path.exists(log):
                    os.unlink(log)
                run(self.build.make_args() + ["C=2", obj], log=log,
                    check=False)
                out += [f"sparse {x}" for x in warnings(log)]
        return out

    def sparse_kdoc(self):
        """Compare the touched files' warnings: final tree vs base."""
        if not self.touched:
            return True, "no files touched", []
        after = self._sparse_kdoc(self.touched)
        head = git(self.build.src, "rev-parse", "HEAD")
        git(self.build.src, "checkout", "-q", "--detach", self.base.commit)
        try:
            before = self._sparse_kdoc(self.touched)
        finally:
            git(self.build.src, "checkout", "-q", "--detach", head)
        new = list(after)
        for x in before:
            if x in new:
                new.remove(x)
        return not new, f"{len(after)} warnings, base {len(before)}", new


SERIES_CHECKS = [("series_file", series_consistent),
                 ("cover_letter", cover_letter),
                 ("get_maintainer", get_maintainer)]
PATCH_CHECKS = [("subject", subject), ("signoff", signoff),
                ("checkpatch", checkpatch)]


def run_checks(base, series, build, report):
    """Run every check; @report(scope, check, ok, summary, details)."""
    for cname, fn in SERIES_CHECKS:
        ok, summary, det = fn(series, base)
        report("series", cname, ok, summary, det)
    bis = Bisect(base, series, build) if build else None
    if bis:
        bis.base_build()
        report("series", "base_build", True, "base builds", [])
    for i, name in enumerate(series.names, 1):
        for cname, fn in PATCH_CHECKS:
            ok, summary, det = fn(series, base, i, name)
            report(name, cname, ok, summary, det)
        if bis:
            progress("check", f"[{i}/{len(series.names)}] build {name}")
            try:
                ok, summary, det = bis.patch_build(series, base, i, name)
            except Error as e:
                ok, summary, det = False, "does not build or apply", \
                    str(e).splitlines()
                report(name, "build_x86_64", ok, summary, det)
                break
            report(name, "build_x86_64", ok, summary, det)
    if bis:
        ok, summary, det = bis.sparse_kdoc()
        report("series", "sparse_kernel_doc", ok, summary, det)
        if git(build.src, "rev-list", "--count",
               f"{base.commit}..HEAD") == str(len(series.names)):
            record_applied(base, series, "series", series.names)
