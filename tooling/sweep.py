# SPDX-License-Identifier: GPL-2.0
"""The configuration sweep: after every patch, in every Kconfig
combination of test-matrix.yaml's `sweep:` list, compile the objects the
series touches, and fail on a build error or a warning the previous
commit did not have.

Per entry, in its own O= directory under out/build/<base>+sweep/
(<base>+mainline-sweep/ for the mainline line's entries, `line:`):

  1. at the tip: configure (tinyconfig + the fragments + the entry's
     `config:` lines), check that the final .config has every value
     asked for (every symbol must exist there), and link the whole
     kernel.  The objects of the entry are those linked into vmlinux
     (`ar t vmlinux.a`) that the series can change: built from a .c
     file it touches, or depending (their .cmd file) on a header it
     touches; a header that more than MAX_DEPENDENTS objects depend on
     (device.h) is represented by the touched .c files alone;
  2. at the base, then after each patch: check the commit out in the
     sweep's own worktree, reconfigure when a Kconfig file changed (a
     symbol the series adds takes its value as soon as it exists; one
     it has not added yet is not asked for), delete those objects and
     make them again (ccache replays unchanged ones with their
     warnings), and compare the warnings, as a multiset, with the
     previous commit's; Kconfig's warnings are compared between
     configure runs.  Link-time warnings of the tip (objtool, modpost,
     ld) that name the series' code fail the entry.
"""

import hashlib
import os
import re
import time

from .common import OUT, TOP, Error, progress, run, git, ensure_dir
from . import lines as L
from . import warnings as W

MAX_DEPENDENTS = 40
SWEEP_SRC = os.path.abspath(__file__)


class Entry:
    """One `sweep:` entry of test-matrix.yaml."""

    def __init__(self, spec, frag_dir, where="test-matrix.yaml"):
        for key in ("name", "arch"):
            if not spec.get(key):
                raise Error(f"{where}: sweep entry {spec.get('name', '?')}"
                            f" lacks '{key}'")
        self.spec = spec
        self.name = spec["name"]
        self.arch = spec["arch"]
        self.cross = spec.get("cross", "")
        self.frags = [os.path.join(frag_dir, f + ".config")
                      for f in spec.get("fragments", [])]
        for f in self.frags:
            if not os.path.isfile(f):
                raise Error(f"{where}: sweep entry {self.name}: no fragment "
                            f"kernel-config-fragments/{os.path.basename(f)}")
        self.config = list(spec.get("config", []))
        for line in self.config:
            if not re.fullmatch(r"CONFIG_\w+=\S+", line):
                raise Error(f"{where}: sweep entry {self.name}: config "
                            f"line '{line}' is not CONFIG_X=value")
        self.ci = spec.get("ci", False)
        self.needs = spec.get("needs")
        self.line = spec.get("line", L.DEFAULT)

    def describe(self):
        return " + ".join([os.path.basename(f)[:-7] for f in self.frags]
                          + self.config)


def series_files(wt, base_commit):
    """Files the series (base..HEAD of @wt) touches."""
    out = git(wt, "diff", "--name-only", base_commit, "HEAD")
    return [f for f in out.splitlines() if f]


def touched(files):
    """(.c files, headers, directories of the .c files) of @files."""
    cfiles = {f for f in files if f.endswith(".c")}
    headers = {f for f in files if f.endswith(".h")}
    return cfiles, headers, {os.path.dirname(f) for f in cfiles}


def cmd_deps(odir, obj):
    """The files an object was built from, by its .cmd file."""
    d, b = os.path.split(obj)
    path = os.path.join(odir, d, f".{b}.cmd")
    if not os.path.exists(path):
        return set()
    text = open(path, errors="replace").read()
    m = re.search(r"^deps_\S+ := (.*?)^\S+: \$\(deps_", text, re.M | re.S)
    if not m:
        return set()
    out = set()
    for tok in m.group(1).replace("\\\n", " ").split():
        if tok.startswith("$(wildcard") or tok.endswith(")"):
            continue
        out.add(tok)
    return out


def select_objects(linked, deps, files, src_prefix=""):
    """The objects of @linked (with @deps: object -> its files) that
    the touched @files can change."""
    cfiles, headers, _ = touched(files)
    objs = {o for o in linked if o[:-2] + ".c" in cfiles}
    for h in headers:
        full = {src_prefix + h, h}
        users = {o for o in linked if deps.get(o, set()) & full}
        if len(users) > MAX_DEPENDENTS:
            # everything includes it: the touched files stand for it
            users = {o for o in users if o[:-2] + ".c" in cfiles}
        objs |= users
    return sorted(objs)


class Sweep:
    """Run the sweep entries on the series applied in worktree @wt."""

    def __init__(self, base, wt, commits, names, entries, jobs=None):
        self.base, self.wt = base, wt
        self.commits = commits          # base commit first, then one a patch
        self.names = names              # patch names, one a commit after base
        self.entries = entries
        self.jobs = jobs or max(1, len(os.sched_getaffinity(0)))
        git(wt, "checkout", "-q", "-f", "--detach", commits[-1])
        self.files = series_files(wt, commits[0])
        self._defined = {}
        self.objects_of = {}

    # --- one entry -------------------------------------------------------

    def odir(self, e):
        return ensure_dir(OUT, "build", self.base.tag("sweep"), e.name)

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

    def configure(self, e, log, tip=False):
        """(Re)configure when the Kconfig files, the entry or the .config
        changed.  Return (values asked for that the final .config
        lacks, Kconfig warnings of this configure run or None when it
        did not run).  At the tip every symbol asked for must exist;
        before it, a symbol the tree does not define yet is skipped."""
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
                return [], None
        if os.path.exists(stamp):
            os.unlink(stamp)
        gen = os.path.join(odir, "patchtree-sweep.config")
        with open(gen, "w") as f:
            for line in e.config:
                k, _, v = line.partition("=")
                f.write(f"# {k} is not set\n" if v == "n" else line + "\n")
        clog = os.path.join(odir, "configure.log")
        if os.path.exists(clog):
            os.unlink(clog)
        self.make(e, ["tinyconfig"], clog)
        run([os.path.join(self.wt, "scripts/kconfig/merge_config.sh"), "-m",
             "-O", odir, cfg] + e.frags + [gen], cwd=self.wt, log=clog,
            env={"ARCH": e.arch, "CROSS_COMPILE": e.cross})
        self.make(e, ["olddefconfig"], clog)
        text = open(clog, errors="replace").read()
        with open(log, "a") as f:
            f.write(text)
        kwarn = [w for w in W.parse(text) if w.startswith("kconfig ")]
        have = _config_values(cfg)
        defined = self.defined()
        bad = [f"{k}={v} (got {have.get(k, 'n')})"
               for k, v in sorted(self.wanted(e).items())
               if (tip or k[len("CONFIG_"):] in defined)
               and have.get(k, "n") != v
               and not (v == "n" and k not in have)]
        if tip:
            bad += [f"{k}: no such symbol in this tree"
                    for k in sorted(self.wanted(e))
                    if k[len("CONFIG_"):] not in defined]
        if not bad:
            h.update(open(cfg, "rb").read())
            with open(stamp, "w") as f:
                f.write(h.hexdigest())
        return bad, kwarn

    def linked(self, e):
        """Objects linked into the tip's vmlinux (thin archive)."""
        a = os.path.join(self.odir(e), "vmlinux.a")
        if not os.path.exists(a):
            return []
        # a thin archive's names are printed relative to ar's cwd
        odir = self.odir(e)
        p = run([e.cross + "ar", "t", a], capture=True, cwd=odir)
        return [W.norm(o, odir) for o in p.stdout.split()
                if o.endswith(".o")]

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
        warns = [w for w in W.parse(text, self.wt)
                 if not w.startswith("kconfig ")]
        return p.returncode == 0, warns, W.errors(text)

    def run_entry(self, e):
        """Sweep one entry.  Return (status, summary, details) with
        status 'pass', 'fail' or 'skip'."""
        from .matrix import _config_values
        odir = self.odir(e)
        log = os.path.join(odir, "sweep.log")
        key = self.key(e)
        okstamp = os.path.join(odir, ".patchtree-sweep-ok")
        objlist = os.path.join(odir, "objects.txt")
        if os.path.exists(okstamp) and open(okstamp).read() == key and \
                os.path.exists(objlist):
            self.objects_of[e.name] = open(objlist).read().split()
            return "pass", "passed before with the same series, " \
                "configuration, tooling and compilers (cached)", []
        if os.path.exists(okstamp):
            os.unlink(okstamp)
        t0 = time.monotonic()
        if os.path.exists(log):
            os.unlink(log)
        tip = self.commits[-1]
        git(self.wt, "checkout", "-q", "-f", "--detach", tip)
        progress("sweep", f"configure at the tip: {e.describe()}", e.name)
        bad, _ = self.configure(e, log, tip=True)
        if e.needs:
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
        # no stale objects of another configuration count as linked
        for a in ("vmlinux.a", "vmlinux"):
            if os.path.exists(os.path.join(odir, a)):
                os.unlink(os.path.join(odir, a))
        progress("sweep", "link at the tip: vmlinux", e.name)
        p = self.make(e, ["vmlinux"], tiplog, keep_going=True, check=False)
        tiptext = open(tiplog, errors="replace").read()
        tip_errors = W.errors(tiptext)
        linked = self.linked(e) if p.returncode == 0 else \
            self.built_objects(e)
        deps = {o: cmd_deps(odir, o) for o in linked}
        objs = select_objects(linked, deps, self.files, self.wt + "/")
        for line in tip_errors:
            m = re.match(r"(\S+?\.c):\d+", line)
            if m:
                o = W.norm(m.group(1), self.wt)[:-2] + ".o"
                if o not in objs and o[:-2] + ".c" in self.files:
                    objs.append(o)
        if p.returncode and not tip_errors:
            tip_errors = tiptext.splitlines()[-15:]
        if not objs:
            return "fail", "no object of this configuration is built " \
                "from the series' files: the entry proves nothing", []
        progress("sweep", f"{len(objs)} objects: {' '.join(objs)}", e.name)
        self.objects_of[e.name] = objs
        with open(os.path.join(odir, "objects.txt"), "w") as f:
            f.write("\n".join(objs) + "\n")
        # base, then every patch
        prev = None
        kprev = None
        failures = []
        for i, commit in enumerate(self.commits):
            name = self.names[i - 1] if i else "base"
            git(self.wt, "checkout", "-q", "-f", "--detach", commit)
            if i and prev is not None and not self.relevant(commit, objs):
                continue
            bad, kwarn = self.configure(e, log)
            if bad:
                failures.append((name, "configuration lacks " +
                                 ", ".join(bad), []))
                continue
            if kwarn is not None:
                if kprev is not None and W.new(kwarn, kprev):
                    failures.append((name, "new Kconfig warnings",
                                     W.new(kwarn, kprev)))
                kprev = kwarn
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
            failures.append(("tip", "the full build fails", tip_errors))
        else:
            tip_new = [w for w in W.parse(tiptext, self.wt)
                       if not w.startswith(("cc ", "kconfig "))
                       and self.concerns_series(w)]
            if tip_new:
                failures.append(("tip", f"{len(tip_new)} link-time "
                                 f"warnings in the series' code", tip_new))
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
            f"objects, no new warnings, linked ({secs:.0f}s)", []

    def built_objects(self, e):
        """Objects with a .cmd file in the O= directory (when the tip
        did not link: the best guess of what it builds)."""
        odir = self.odir(e)
        out = []
        for d, _, fs in os.walk(odir):
            rel = os.path.relpath(d, odir)
            if rel.startswith(("scripts", "tools", "usr", ".")) and \
                    rel != ".":
                continue
            for f in fs:
                if f.startswith(".") and f.endswith(".o.cmd"):
                    out.append(os.path.normpath(os.path.join(rel, f[1:-4])))
        return out

    def concerns_series(self, w):
        from .matrix import SERIES_CODE
        return any(f in w for f in self.files) or \
            bool(SERIES_CODE.search(w))

    def relevant(self, commit, objs):
        """Whether the patch at @commit can change what @objs compile
        to, or the configuration: it touches one of their sources, a
        header, a Kconfig file, or a Makefile in their directories."""
        files = git(self.wt, "diff", "--name-only", f"{commit}~1",
                    commit).splitlines()
        srcs = {o[:-2] + ".c" for o in objs}
        dirs = {os.path.dirname(o) for o in objs}
        for f in files:
            if f in srcs or f.endswith(".h") or "Kconfig" in f:
                return True
            if "Makefile" in f and os.path.dirname(f) in dirs:
                return True
        return False

    def key(self, e):
        """What a cached pass depends on: the commits, the entry and its
        fragments, the tooling that ran it and the compilers."""
        h = hashlib.sha256()
        h.update(" ".join(self.commits).encode())
        h.update(repr(sorted(e.spec.items())).encode())
        for f in e.frags:
            h.update(open(f, "rb").read())
        here = os.path.dirname(SWEEP_SRC)
        for f in ("sweep.py", "warnings.py", "matrix.py", "common.py"):
            h.update(open(os.path.join(here, f), "rb").read())
        for tool in (e.cross + "gcc", e.cross + "ld", "gcc", "ccache"):
            p = run([tool, "--version"], capture=True, check=False)
            h.update(p.stdout.encode())
        return h.hexdigest()


def entries(m, frag_dir, names=None, ci_only=False, line=L.DEFAULT):
    """The sweep entries of @line in the matrix description @m (those
    of @names: naming an entry of another line is an error)."""
    every = [Entry(s, frag_dir) for s in m.get("sweep", [])]
    out = [e for e in every if e.line == line]
    if names:
        known = {e.name: e for e in out}
        other = {e.name: e.line for e in every if e.line != line}
        for n in names:
            if n in other:
                raise Error(f"sweep entry {n} is of line {other[n]}: add "
                            f"--line {other[n]}")
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
        bad, _ = sw.configure(e, log, tip=commit == sw.commits[-1])
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
                    for l in p.stderr.splitlines()
                    if re.search(r"\b(warning|error)\b", l, re.I)]
        objs = [o for o in sw.objects_of[e.name]
                if os.path.exists(os.path.join(sw.wt, o[:-2] + ".c"))]
        slog = os.path.join(odir, f"sparse-{commit[:12]}.log")
        if os.path.exists(slog):
            os.unlink(slog)
        for o in objs:
            if os.path.exists(os.path.join(odir, o)):
                os.unlink(os.path.join(odir, o))
        p = sw.make(e, ["C=2"] + objs, slog, keep_going=True, check=False)
        text = open(slog, errors="replace").read()
        if p.returncode:
            raise Error(f"make C=2 failed at {commit[:12]}: "
                        + "; ".join(W.errors(text)[:3]) + f" (see {slog})")
        for o in objs:
            if not re.search(r"^\s+CHECK\s+\S*" + re.escape(o[:-2] + ".c"),
                             text, re.M):
                raise Error(f"sparse did not check {o[:-2]}.c (see {slog})")
        out += [f"sparse {w}" for w in W.parse(text, sw.wt)
                if w.startswith("cc ")]
        out += [f"sparse {re.sub(r':[0-9]+:[0-9]+:', ':', l)}"
                for l in W.errors(text, limit=200)]
        return out, len(objs)

    try:
        after, n = one(sw.commits[-1])
        before, _ = one(sw.commits[0])
    finally:
        git(sw.wt, "checkout", "-q", "-f", "--detach", sw.commits[-1])
    prefix = sw.wt.rstrip("/") + "/"
    added = [w.replace(prefix, "") for w in W.new(after, before)]
    new, allowed = allowed_static(added, static_allowlist())
    return not new, f"{n} objects, {len(files)} files: {len(after)} " \
        f"warnings, base {len(before)}" + \
        (f", {len(allowed)} allowed (sparse-allowlist)" if allowed
         else ""), new + allowed


STATIC_ALLOW = os.path.join(TOP, "sparse-allowlist")


def static_allowlist(path=STATIC_ALLOW):
    """[(glob, reason)] of the sparse/kernel-doc lines we accept: each
    entry a glob on the line as the sweep prints it (tree-relative, no
    line numbers), ` # ` and the reason.  No reason is one line of
    error naming the file and line."""
    from .common import allowlist_entries
    out = []
    for n, line in allowlist_entries(path):
        glob, sep, why = line.partition(" # ")
        if not sep or not why.strip() or not glob.strip():
            raise Error(f"{os.path.basename(path)}:{n}: want 'LINE-GLOB "
                        "# reason'")
        out.append((glob.strip(), why.strip()))
    return out


def allowed_static(added, allow):
    """(new, allowed): the lines of @added no entry of @allow matches,
    and those it does, each followed by its reason."""
    import fnmatch
    new, ok = [], []
    for w in added:
        why = next((r for g, r in allow if fnmatch.fnmatchcase(w, g)),
                   None)
        if why is None:
            new.append(w)
        else:
            ok.append(f"{w} (allowed: {why})")
    return new, ok
