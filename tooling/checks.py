# SPDX-License-Identifier: GPL-2.0
"""NIPA-style checks: small, independent, one verdict line each.
The per-patch builds, sparse and kernel-doc are the sweep's
(tooling/sweep.py).

Series checks look at the series file as a whole, posting checks at
each posting (cover letter, To/Cc, b4 round trip onto the plain base),
patch checks run once per patch.  Each returns (ok, summary, details).
"""

import email.utils
import os
import re

from . import mail
from .common import TOP, OUT, Error, run, ensure_dir, one_line

ALLOW = os.path.join(TOP, "checkpatch-allowlist")
SUBJECT = re.compile(r"^Subject: \[PATCH(?: v\d+)? (\d+)/(\d+)\] "
                     r"([a-z0-9_/.-]+(?:: [a-z0-9_/.-]+)*): (\S.*)$", re.M)


def header(path):
    """The mail header of a patch file, continuation lines unfolded."""
    text = open(path, errors="replace").read()
    return re.sub(r"\n[ \t]+", " ", text.split("\n\n", 1)[0])


def series_consistent(series, base):
    p = series.problems()
    return not p, f"{len(series.names)} patches listed in " \
        f"{len(series.postings)} postings " \
        f"({', '.join(q.name for q in series.postings)})", p


def cover_letter(series, posting, base):
    path = posting.cover
    rel = os.path.relpath(path, series.top)
    if not os.path.exists(path):
        return False, "missing", [rel]
    m = re.search(r"^Subject: \[PATCH(?: v\d+)? 0+/(\d+)\] (\S.*)$",
                  header(path), re.M)
    if not m:
        return False, f"{rel}: subject is not '[PATCH 0/N] ...'", []
    n = int(m.group(1))
    if n != len(posting.names):
        return False, f"{rel} says 0/{n}, posting {posting.name} has " \
            f"{len(posting.names)}", []
    return True, f"[PATCH 0/{n}] {m.group(2)[:50]}", []


def _roles(output):
    """{address: [(role, section)]} of get_maintainer.pl --rolestats."""
    out = {}
    for line in output.splitlines():
        m = re.match(r"(.*?)\s+\((.*)\)$", line.strip())
        if not m:
            continue
        addr = email.utils.parseaddr(m.group(1))[1] or m.group(1)
        for role in re.split(r",(?=(?:[a-z_]+ )?[a-z_]+:)", m.group(2)):
            r, _, section = role.partition(":")
            out.setdefault(addr.lower(), []).append((r.strip(), section))
    return out


def _same_section(named, want):
    """get_maintainer.pl shortens long section names with '...'."""
    if named.endswith("..."):
        return want.startswith(named[:-3])
    return named == want


def get_maintainer(series, posting, base):
    """The posting's To/Cc (b4/<posting>.conf) against get_maintainer.pl,
    run with MAINTAINERS-snippet appended to the base's MAINTAINERS in a
    scratch copy: the snippet's list is in To/Cc and named for every
    patch; To is exactly the maintainers of the config's to-section
    that get_maintainer.pl names; every Cc is named for some patch, or
    listed in the config's patchtree.extra-cc (Cc'd by request)."""
    snippet = os.path.join(TOP, "MAINTAINERS-snippet")
    m = re.search(r"^L:\s*(\S+)", open(snippet).read(), re.M)
    if not m:
        return False, "MAINTAINERS-snippet has no L: line", []
    lst = m.group(1).lower()
    c = mail.contacts(posting)
    rel = os.path.relpath(c["file"], series.top)
    to = {a.lower() for _, a in c["to"]}
    cc = {a.lower() for _, a in c["cc"]}
    bad = []
    if lst not in to | cc:
        bad.append(f"{rel}: To/Cc do not name {lst}, the L: of "
                   f"MAINTAINERS-snippet")
    if to & cc:
        bad.append(f"{rel}: both in To and Cc: {', '.join(sorted(to & cc))}")
    merged = os.path.join(ensure_dir(OUT, "check"), "MAINTAINERS")
    with open(merged, "w") as f:
        f.write(open(os.path.join(base.repo, "MAINTAINERS")).read())
        f.write("\n" + open(snippet).read())
    named = {}
    for name in posting.names:
        p = run(["perl", "scripts/get_maintainer.pl", "--mpath", merged,
                 "--no-git", "--no-git-fallback", "--rolestats",
                 series.path(name)], cwd=base.repo, capture=True, check=False)
        roles = _roles(p.stdout)
        if lst not in roles:
            bad.append(f"{name}: get_maintainer.pl does not name {lst}")
        for a, r in roles.items():
            named.setdefault(a, []).extend(r)
    if c["section"]:
        want = {a for a, rs in named.items()
                if any(r in ("maintainer", "supporter") and
                       _same_section(s, c["section"]) for r, s in rs)}
        if not want:
            bad.append(f"{rel}: get_maintainer.pl names no maintainer of "
                       f"'{c['section']}' for these patches")
        for a in sorted(want - to):
            bad.append(f"{rel}: {a} maintains '{c['section']}' but is "
                       f"not in To")
        for a in sorted(to - want):
            bad.append(f"{rel}: To {a} is no maintainer of "
                       f"'{c['section']}' per get_maintainer.pl")
    else:
        bad.append(f"{rel}: no patchtree.to-section (the MAINTAINERS "
                   f"section whose maintainers are To)")
    extra = {a.lower() for _, a in c["extra_cc"]}
    for a in sorted(extra - cc):
        bad.append(f"{rel}: patchtree.extra-cc {a} is not in Cc")
    for a in sorted(extra & set(named)):
        bad.append(f"{rel}: patchtree.extra-cc {a} is named by "
                   f"get_maintainer.pl: drop it from extra-cc")
    for a in sorted(cc - set(named) - extra):
        bad.append(f"{rel}: Cc {a} is named by get_maintainer.pl for no "
                   f"patch of posting {posting.name} (nor listed in "
                   f"patchtree.extra-cc)")
    return not bad, f"To {len(to)} ({c['section']}), Cc {len(cc)}: as " \
        f"get_maintainer.pl names them" + \
        (f" (+{len(extra)} extra-cc)" if extra else "") + \
        f"; {lst} for all " \
        f"{len(posting.names)}" if not bad else f"{len(bad)} problems", bad


def b4_round_trip(series, posting, base):
    """The posting's mbox through b4 am -m (offline), then git am onto
    the plain base: the posting applies alone."""
    d = ensure_dir(OUT, "check")
    path = mail.mbox(base, posting, os.path.join(d, f"{posting.name}.mbox"))
    got = mail.b4_roundtrip(base, path, os.path.join(d, f"b4-{posting.name}"))
    n = len(posting.names)
    return len(got) == n, f"b4 am + git am onto the plain base: " \
        f"{len(got)}/{n} applied", []


def subject(series, posting, base, i, name):
    m = SUBJECT.search(header(series.path(name)))
    if not m:
        return False, "no '[PATCH n/N] subsystem: summary' subject", []
    n, total = int(m.group(1)), int(m.group(2))
    if (n, total) != (i, len(posting.names)):
        return False, f"numbered {n}/{total}, is {i}/" \
            f"{len(posting.names)} of posting {posting.name}", []
    return True, f"{m.group(3)}: ...", []


def signoff(series, posting, base, i, name):
    ok = re.search(r"^Signed-off-by: .+ <[^>]+@[^>]+>$",
                   open(series.path(name), errors="replace").read(), re.M)
    return bool(ok), "Signed-off-by present" if ok else "no Signed-off-by", []


def _allowlist():
    """(patch glob, TYPE) pairs, each with a written reason."""
    from .common import allowlist_entries
    allow = []
    for n, line in allowlist_entries(ALLOW):
        m = re.match(r"(\S+)\s+([A-Z_]+)\s+#\s*(\S.*)", line)
        if not m:
            raise Error(f"checkpatch-allowlist:{n}: want 'PATCH TYPE "
                        f"# reason'")
        allow.append((m.group(1), m.group(2)))
    return allow


def checkpatch(series, posting, base, i, name):
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


SERIES_CHECKS = [("series_file", series_consistent)]
POSTING_CHECKS = [("cover_letter", cover_letter),
                  ("get_maintainer", get_maintainer),
                  ("b4_round_trip", b4_round_trip)]
PATCH_CHECKS = [("subject", subject), ("signoff", signoff),
                ("checkpatch", checkpatch)]


def _one(fn, *args):
    """(ok, summary, details) of a check; a check that cannot run (a
    missing file, a bad b4 config, b4 failing) fails with one line."""
    try:
        return fn(*args)
    except Error as e:
        lines = str(e).splitlines()
        return False, lines[0], lines[1:]
    except OSError as e:
        return False, one_line(e), []


def run_checks(base, series, report):
    """Run every series, posting and patch check (no builds: the
    per-patch builds are the sweep's); @report(scope, check, ok,
    summary, details)."""
    for cname, fn in SERIES_CHECKS:
        report("series", cname, *_one(fn, series, base))
    for p in series.postings:
        for cname, fn in POSTING_CHECKS:
            report(f"posting {p.name}", cname, *_one(fn, series, p, base))
        for i, name in enumerate(p.names, 1):
            for cname, fn in PATCH_CHECKS:
                report(name, cname, *_one(fn, series, p, base, i, name))
