# SPDX-License-Identifier: GPL-2.0
"""The configuration sweep: after every patch, in every Kconfig
combination of test-matrix.yaml's `sweep:` list, compile the objects the
series touches, and fail on a build error or a warning the previous
commit did not have.

Per entry, in its own O= directory under out/build/<base>+sweep/:

  1. at the tip: configure (tinyconfig + the fragments + the entry's
     `config:` lines), check that the final .config has every value
     asked for, and build the whole kernel (`link: true`, the default)
     or only the directories of the series' files (`link: false`); the
     objects that exist then are the ones this configuration compiles;
  2. at the base, then after each patch: check the commit out in the
     sweep's own worktree, reconfigure when a Kconfig file changed (a
     symbol the series adds takes its value as soon as it exists),
     delete those objects and make them again (ccache replays unchanged
     ones with their warnings), and compare the warnings, as a
     multiset, with the previous commit's.

The objects are the .c files the series touches and, for each header it
touches, the .c files that include it directly in the directories of
those .c files (a header included by more than MAX_INCLUDERS of them is
represented by the touched files alone).
"""

import hashlib
import os
import re
import time

from .common import OUT, Error, progress, run, git, ensure_dir
from . import warnings as W

MAX_INCLUDERS = 24
SWEEP_SRC = os.path.abspath(__file__)


class Entry:
    """One `sweep:` entry of test-matrix.yaml."""

    def __init__(self, spec, frag_dir):
        self.spec = spec
        self.name = spec["name"]
        self.arch = spec["arch"]
        self.cross = spec.get("cross", "")
        self.frags = [os.path.join(frag_dir, f + ".config")
                      for f in spec.get("fragments", [])]
        self.config = list(spec.get("config", []))
        self.link = spec.get("link", True)
        self.ci = spec.get("ci", False)
        self.needs = spec.get("needs")

    def describe(self):
        return " + ".join([os.path.basename(f)[:-7] for f in self.frags]
                          + self.config)


def series_files(wt, base_commit):
    """Files the series (base..HEAD of @wt) touches."""
    out = git(wt, "diff", "--name-only", base_commit, "HEAD")
    return [f for f in out.splitlines() if f]


def candidates(wt, files):
    """Objects worth compiling for the series: touched .c files and the
    direct includers of touched headers in the same directories."""
    cfiles = [f for f in files if f.endswith(".c")]
    dirs = sorted({os.path.dirname(f) for f in cfiles})
    objs = {f[:-2] + ".o" for f in cfiles}
    for h in (f for f in files if f.endswith(".h")):
        if h.startswith("include/"):
            pat = r'#\s*include\s*[<"]' + re.escape(h[len("include/"):])
        else:
            pat = r'#\s*include\s*"' + re.escape(os.path.basename(h)) + '"'
        p = git(wt, "grep", "-l", "-E", pat, "--",
                *[d + "/*.c" for d in dirs], check=False)
        inc = [f for f in p.stdout.split() if f.endswith(".c")]
        if len(inc) <= MAX_INCLUDERS:
            objs.update(f[:-2] + ".o" for f in inc)
    return sorted(objs), dirs


class Sweep:
    """Run the sweep entries on the series applied in worktree @wt."""

    def __init__(self, base, wt, commits, names, entries, jobs=None,
                 link_all=False):
        self.base, self.wt = base, wt
        self.commits = commits          # base commit first, then one a patch
        self.names = names              # patch names, one a commit after base
        self.entries = entries
        self.jobs = jobs or max(1, len(os.sched_getaffinity(0)))
        git(wt, "checkout", "-q", "-f", "--detach", commits[-1])
        self.files = series_files(wt, commits[0])
        self.cands, self.dirs = candidates(wt, self.files)
        self._defined = {}
        self.link_all = link_all

    # --- one entry -------------------------------------------------------

    def odir(self, e):
        return ensure_dir(OUT, "build", f"{self.base.name}+sweep", e.name)

    def make(self, e, targets, log, keep_going=False, check=True):
        from .matrix import ccache_cc
        cc = e.cross + "gcc"
        args = ["make", "-C", self.wt, f"O={self.odir(e)}", f"ARCH={e.arch}",
                f"-j{self.jobs}", f"CC={ccache_cc(cc)}",
                f"HOSTCC={ccache_cc('gcc')}"]
        if e.cross:
            args.append(f"CROSS_COMPILE={e.cross}")
        if keep_going:
            args.append("-k")
        return run(args + targets, log=log, check=check)

    def defined(self):
        """Kconfig symbols defined at the checked-out commit."""
        key = git(self.wt, "ls-files", "-s", "--", "*Kconfig*")
        h = hashlib.sha1(key.encode()).hexdigest()
        if h not in self._defined:
            from .matrix import kconfig_symbols
            self._defined[h] = kconfig_symbols(self.wt)
        return self._defined[h]

    def wanted(self, e):
        from .matrix import _fragment_values
        want = _fragment_values(e.frags)
        for line in e.config:
            k, _, v = line.partition("=")
            want[k] = v
        return want

    def configure(self, e, log):
        """(Re)configure when the Kconfig files, the entry or the .config
        changed; return the values asked for that the tree defines but
        the final .config lacks."""
        from .matrix import _config_values
        odir = self.odir(e)
        cfg = os.path.join(odir, ".config")
        h = hashlib.sha256(git(self.wt, "ls-files", "-s", "--",
                               "*Kconfig*").encode())
        for f in e.frags:
            h.update(open(f, "rb").read())
        h.update(repr(sorted(e.spec.items())).encode())
        stamp = os.path.join(odir, ".patchtree-config")
        if os.path.exists(cfg):
            h2 = h.copy()
            h2.update(open(cfg, "rb").read())
            if os.path.exists(stamp) and \
                    open(stamp).read() == h2.hexdigest():
                return []
        gen = os.path.join(odir, "patchtree-sweep.config")
        with open(gen, "w") as f:
            for line in e.config:
                k, _, v = line.partition("=")
                f.write(f"# {k} is not set\n" if v == "n" else line + "\n")
        self.make(e, ["tinyconfig"], log)
        run([os.path.join(self.wt, "scripts/kconfig/merge_config.sh"), "-m",
             "-O", odir, cfg] + e.frags + [gen], cwd=self.wt, log=log,
            env={"ARCH": e.arch, "CROSS_COMPILE": e.cross})
        self.make(e, ["olddefconfig"], log)
        have = _config_values(cfg)
        defined = self.defined()
        bad = [f"{k}={v} (got {have.get(k, 'n')})"
               for k, v in sorted(self.wanted(e).items())
               if k[len("CONFIG_"):] in defined and have.get(k, "n") != v
               and not (v == "n" and k not in have)]
        h.update(open(cfg, "rb").read())
        with open(stamp, "w") as f:
            f.write(h.hexdigest())
        return bad

    def objects(self, e):
        """The candidate objects this configuration compiles: those the
        tip build made, and those whose source failed to compile."""
        odir = self.odir(e)
        return [o for o in self.cands
                if os.path.exists(os.path.join(odir, o))]

    def build_set(self, e, objs, log):
        """Delete and re-make @objs (those whose source exists at this
        commit); return (ok, warnings, error lines)."""
        odir = self.odir(e)
        objs = [o for o in objs
                if os.path.exists(os.path.join(self.wt, o[:-2] + ".c"))]
        for o in objs:
            if os.path.exists(os.path.join(odir, o)):
                os.unlink(os.path.join(odir, o))
        if os.path.exists(log):
            os.unlink(log)
        p = self.make(e, objs, log, keep_going=True, check=False)
        text = open(log, errors="replace").read()
        return p.returncode == 0, W.parse(text), W.errors(text)

    def run_entry(self, e):
        """Sweep one entry.  Return (status, summary, details) with
        status 'pass', 'fail' or 'skip'."""
        odir = self.odir(e)
        log = os.path.join(odir, "sweep.log")
        key = self.key(e)
        okstamp = os.path.join(odir, ".patchtree-sweep-ok")
        if os.path.exists(okstamp) and open(okstamp).read() == key:
            return "pass", "passed before with the same series, " \
                "configuration and tools (cached)", []
        if os.path.exists(okstamp):
            os.unlink(okstamp)
        t0 = time.monotonic()
        if os.path.exists(log):
            os.unlink(log)
        tip = self.commits[-1]
        git(self.wt, "checkout", "-q", "-f", "--detach", tip)
        progress("sweep", f"configure at the tip: {e.describe()}", e.name)
        bad = self.configure(e, log)
        if e.needs:
            from .matrix import _config_values
            k, _, v = e.needs.partition("=")
            if _config_values(os.path.join(odir, ".config")).get(k, "n") \
                    != (v or "y"):
                return "skip", f"this tree cannot set {e.needs} for " \
                    f"{e.arch}", []
        if bad:
            return "fail", "the final .config lacks what the entry asks " \
                "for (a missing dependency?)", bad
        tiplog = os.path.join(odir, "tip.log")
        if os.path.exists(tiplog):
            os.unlink(tiplog)
        link = e.link or self.link_all
        dirs = [d + "/" for d in self.dirs_for(e)]
        what = "vmlinux" if link else " ".join(dirs)
        progress("sweep", f"build at the tip: {what}", e.name)
        p = self.make(e, ["vmlinux"] if link else dirs, tiplog,
                      keep_going=True, check=False)
        tiptext = open(tiplog, errors="replace").read()
        tip_errors = W.errors(tiptext)
        objs = self.objects(e)
        for line in tip_errors:
            m = re.match(r"(\S+?\.c):\d+", line)
            if m:
                o = W._norm(m.group(1))[:-2] + ".o"
                if o in self.cands and o not in objs:
                    objs.append(o)
        if p.returncode and not tip_errors:
            tip_errors = tiptext.splitlines()[-15:]
        progress("sweep", f"{len(objs)} objects: {' '.join(objs)}", e.name)
        # base, then every patch
        prev = None
        failures = []
        for i, commit in enumerate(self.commits):
            name = self.names[i - 1] if i else "base"
            git(self.wt, "checkout", "-q", "-f", "--detach", commit)
            if i and prev is not None and not self.relevant(commit, objs):
                continue
            bad = self.configure(e, log)
            if bad:
                failures.append((name, "configuration lacks " +
                                 ", ".join(bad), []))
                continue
            plog = os.path.join(odir, f"commit-{i:04d}.log")
            ok, warns, errs = self.build_set(e, objs, plog)
            if i == 0:
                if not ok:
                    return "fail", "the base does not build in this " \
                        "configuration", errs
                prev = warns
                continue
            added = W.new(warns, prev)
            progress("sweep", f"[{i}/{len(self.names)}] {name}: "
                     f"{'ok' if ok and not added else 'FAIL'}", e.name)
            if not ok:
                failures.append((name, "does not build", errs or
                                 open(plog, errors="replace")
                                 .read().splitlines()[-15:]))
            elif added:
                failures.append((name, f"{len(added)} new warnings", added))
            prev = warns if ok else prev
        if p.returncode:
            failures.append(("tip", "the full build fails" if link else
                             "the directory build fails", tip_errors))
        else:
            base_w = self.base_warnings(e, objs)
            tip_new = [w for w in W.new(W.parse(tiptext), base_w)
                       if self.concerns_series(w)]
            if tip_new:
                failures.append(("tip", f"{len(tip_new)} warnings in the "
                                 f"series' files", tip_new))
        secs = time.monotonic() - t0
        if failures:
            first = failures[0]
            det = [f"configuration {e.name}: {e.describe()}",
                   f"{first[0]}: {first[1]}"] + \
                [f"  {l}" for l in first[2][:20]] + \
                [f"also {n}: {why}" for n, why, _ in failures[1:]]
            return "fail", f"{first[0]}: {first[1]}"[:70], det
        with open(okstamp, "w") as f:
            f.write(key)
        return "pass", f"{len(self.commits) - 1} patches x {len(objs)} " \
            f"objects, no new warnings{', linked' if link else ''} " \
            f"({secs:.0f}s)", []

    def dirs_for(self, e):
        """The series' directories that entry @e's architecture builds
        (no arch/ directory of another one)."""
        own = {"x86_64": "x86", "i386": "x86"}.get(e.arch, e.arch)
        return [d for d in self.dirs if not d.startswith("arch/")
                or d.split("/")[1] == own]

    def base_warnings(self, e, objs):
        log = os.path.join(self.odir(e), "commit-0000.log")
        if not os.path.exists(log):
            return []
        return W.from_log(log)

    def concerns_series(self, w):
        return any(f in w for f in self.files) or \
            any(o in w for o in self.cands)

    def relevant(self, commit, objs):
        """Whether the patch at @commit can change what @objs compile
        to: it touches one of their sources, a header under include/ or
        in their directories, or a Kconfig file or Makefile there."""
        files = git(self.wt, "diff", "--name-only", f"{commit}~1",
                    commit).splitlines()
        srcs = {o[:-2] + ".c" for o in objs}
        dirs = {os.path.dirname(o) for o in objs}
        for f in files:
            d = os.path.dirname(f)
            if f in srcs or (f.endswith(".h") and
                             (f.startswith("include/") or d in dirs)):
                return True
            if ("Kconfig" in f or "Makefile" in f) and d in dirs:
                return True
        return False

    def key(self, e):
        h = hashlib.sha256()
        h.update(" ".join(self.commits).encode())
        h.update(repr(sorted(e.spec.items())).encode())
        h.update(repr(self.link_all).encode())
        for f in e.frags:
            h.update(open(f, "rb").read())
        for f in (SWEEP_SRC, W.__file__):
            h.update(open(f, "rb").read())
        return h.hexdigest()


def entries(m, frag_dir, names=None, ci_only=False):
    """The sweep entries of the matrix description @m."""
    out = [Entry(s, frag_dir) for s in m.get("sweep", [])]
    if names:
        known = {e.name: e for e in out}
        bad = [n for n in names if n not in known]
        if bad:
            raise Error(f"unknown sweep entr{'ies' if len(bad) > 1 else 'y'}"
                        f" {', '.join(bad)}: choose from "
                        + ", ".join(known))
        return [known[n] for n in names]
    return [e for e in out if e.ci] if ci_only else out


def static_checks(sw, e):
    """sparse (C=2) on the series' objects and kernel-doc on every file
    it touches, in entry @e's configuration: the tip against the base,
    warnings counted as multisets.  Return (ok, summary, details).
    sparse must have run: each object needs its CHECK line."""
    from .common import need
    need("sparse", "perl")
    files = [f for f in sw.files if f.endswith((".c", ".h"))]
    odir = sw.odir(e)
    log = os.path.join(odir, "static.log")

    def one(commit):
        git(sw.wt, "checkout", "-q", "-f", "--detach", commit)
        bad = sw.configure(e, log)
        if bad:
            raise Error(f"sweep {e.name}: .config lacks " + ", ".join(bad))
        out = []
        for f in files:
            if not os.path.exists(os.path.join(sw.wt, f)):
                continue
            p = run(["perl", "scripts/kernel-doc", "-none", f], cwd=sw.wt,
                    capture=True, check=False)
            if "Can't locate" in p.stderr or p.returncode > 1 and \
                    "warning" not in p.stderr:
                raise Error(f"kernel-doc did not run on {f}: "
                            f"{p.stderr.strip()[-200:]}")
            out += [f"kernel-doc {re.sub(r':[0-9]+:', ':', l)}"
                    for l in p.stderr.splitlines() if "warning" in l]
        objs = [o for o in sw.objects(e)
                if os.path.exists(os.path.join(sw.wt, o[:-2] + ".c"))]
        slog = os.path.join(odir, f"sparse-{commit[:12]}.log")
        if os.path.exists(slog):
            os.unlink(slog)
        sw.make(e, ["C=2"] + objs, slog, keep_going=True, check=False)
        text = open(slog, errors="replace").read()
        for o in objs:
            if not re.search(r"^\s+CHECK\s+\S*" + re.escape(o[:-2] + ".c"),
                             text, re.M):
                raise Error(f"sparse did not check {o[:-2]}.c (see {slog})")
        out += [f"sparse {w}" for w in W.parse(text) if w.startswith("cc ")]
        return out, len(objs)

    try:
        after, n = one(sw.commits[-1])
        before, _ = one(sw.commits[0])
    finally:
        git(sw.wt, "checkout", "-q", "-f", "--detach", sw.commits[-1])
    added = W.new(after, before)
    return not added, f"{n} objects, {len(files)} files: {len(after)} " \
        f"warnings, base {len(before)}", added
