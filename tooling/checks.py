# SPDX-License-Identifier: GPL-2.0
"""NIPA-style checks: small, independent, one verdict line each.
The per-patch builds, sparse and kernel-doc are the sweep's
(tooling/sweep.py).

Series checks look at the series as a whole; patch checks run once per
patch.  Each returns (ok, summary, details).
"""

import os
import re

from .common import TOP, OUT, Error, run, ensure_dir
from .series import COVER

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
    """checkpatch.pl --strict: clean, or only allowlisted types.  The
    tool must have run: a non-zero exit with no problem line, or
    anything on stderr (a missing perl or python module: the SPDX check
    needs python3-ply and python3-git), fails the check."""
    import fnmatch
    p = run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
             "--no-summary", "--terse", series.path(name)],
            cwd=base.repo, capture=True, check=False)
    return checkpatch_verdict(name, p.returncode, p.stdout, p.stderr,
                              _allowlist(), fnmatch.fnmatch)


def checkpatch_verdict(name, rc, stdout, stderr, allow, match):
    """(ok, summary, details) of one checkpatch run."""
    found = re.findall(r"^(\S+?):(\d+): (ERROR|WARNING|CHECK):(\w+): (.*)$",
                       stdout, re.M)
    if stderr.strip():
        return False, "checkpatch did not run cleanly (stderr)", \
            stderr.strip().splitlines()[-5:]
    if rc not in (0, 1) or (rc == 1 and not found):
        return False, f"checkpatch exited {rc} with {len(found)} " \
            f"problem lines: it did not run as expected", \
            (stdout.strip().splitlines() or ["(no output)"])[-5:]
    left = [f"{t}:{ty}: {msg} (line {ln})" for _, ln, t, ty, msg in found
            if not any(match(name, g) and ty == a for g, a in allow)]
    return not left, f"{len(left)} problems" if left else "clean", left


SERIES_CHECKS = [("series_file", series_consistent),
                 ("cover_letter", cover_letter),
                 ("get_maintainer", get_maintainer)]
PATCH_CHECKS = [("subject", subject), ("signoff", signoff),
                ("checkpatch", checkpatch)]


def run_checks(base, series, report):
    """Run every series and patch check (no builds: the per-patch builds
    are the sweep's); @report(scope, check, ok, summary, details)."""
    for cname, fn in SERIES_CHECKS:
        ok, summary, det = fn(series, base)
        report("series", cname, ok, summary, det)
    for i, name in enumerate(series.names, 1):
        for cname, fn in PATCH_CHECKS:
            ok, summary, det = fn(series, base, i, name)
            report(name, cname, ok, summary, det)
