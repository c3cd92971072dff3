# SPDX-License-Identifier: GPL-2.0
"""The commands of ./patchtree.  Each step records its results in one
results.Run; `test` renders the table, out/results/run.json and the
closing line from it."""

import os
import re
import sys
import time

from . import base as B
from . import series as S
from . import matrix as M
from . import checks as C
from . import results as R
from . import lines as L
from .common import OUT, Error, progress, ensure_dir, git, one_line

RUN_JSON = os.path.join(OUT, "results", "run.json")


def table(rows, head):
    print("\n" + R.render(rows, head))


def variant(args):
    return "plain" if args.plain else "series"


def line_of(args):
    return L.of(args)


def get_base(args):
    """The base of the line @args selects (--base, or the line's own)."""
    return B.get_base(args.base, args.ref, line_of(args))


def prepared(args):
    line = line_of(args)
    return B.get_base(args.base, args.ref, line), S.Series(line=line)


def _counts(run, step):
    c = run.counts(step)
    return c["pass"] + c["flaky"], c["fail"]


# --- small commands -------------------------------------------------------

def cmd_base(args):
    base = get_base(args)
    print(f"{base.name}: {base.desc}\n  repo   {base.repo}\n"
          f"  commit {base.commit}\n  line   {base.line.name} "
          f"({base.line.series})")
    return 0


def cmd_apply(args):
    base, series = prepared(args)
    wt = S.apply(base, series, variant(args))
    n = 0 if args.plain else len(series.names)
    print(f"{n} patches of line {base.line.name} applied on {base.desc}\n"
          f"  tree {wt}")
    return 0


def cmd_mbox(args):
    """One mbox a posting (all, or those named), out/results/<posting>.mbox
    (or --dir), each with its To/Cc; --from signs them as the poster."""
    from . import mail
    base, series = prepared(args)
    posts = [series.posting(n) for n in args.postings] or series.postings
    outdir = args.dir or os.path.join(OUT, "results")
    for p in posts:
        path = mail.mbox(base, p, os.path.join(outdir, f"{p.name}.mbox"),
                         sender=args.sender)
        c = mail.contacts(p)
        print(f"{path}\n  {len(p.names)} patches + cover; To: "
              f"{mail.addresses(c['to'])}\n  Cc: {mail.addresses(c['cc'])}")
    if not args.sender:
        print("From: is the tree's placeholder identity: sign as yourself "
              "with --from 'Your Name <you@example.org>'")
    print(f"send one with: git send-email {outdir}/POSTING.mbox "
          f"(its To/Cc are in it)")
    return 0


def cmd_edit(args):
    base, series = prepared(args)
    wt = base.worktree("edit")
    wt = S._materialize(base, series, wt) if args.force \
        else S.edit(base, series)
    print(f"branch {base.edit_branch} in {wt}: per posting "
          f"({', '.join(p.name for p in series.postings)}) an empty cover "
          f"commit, then its patches ({len(series.names)} in all).\n"
          f"  cd {wt} && git rebase -i {base.commit[:12]}\n"
          f"then: ./patchtree export"
          + ("" if base.line.name == L.DEFAULT else
             f" --line {base.line.name}"))
    return 0


def cmd_export(args):
    base, series = prepared(args)
    names = S.export(base, series, base.worktree("edit"))
    per = ", ".join(f"{p.name} {sum(n.startswith(p.name + '/') for n in names)}"
                    for p in series.postings)
    print(f"exported {len(names)} patches ({per}) to patches/ and "
          f"{series.fname}")
    return 0


def cmd_selftest(args):
    from . import selftest
    passed, failed = selftest.main(args)
    return 1 if failed else 0


def cmd_bench(args):
    from . import bench
    return bench.main(args)


# --- check ------------------------------------------------------------------

def check_step(args, run):
    """Series and patch checks (no builds)."""
    base, series = prepared(args)
    rows = []

    def report(scope, check, ok, summary, details):
        rows.append((scope[:44], check, "ok" if ok else "FAIL", summary))
        run.add("check", f"{scope} {check}", "pass" if ok else "fail",
                summary, details=details)
        progress("check", f"{'ok  ' if ok else 'FAIL'} {check}: {summary}",
                 scope[:14])
        for d in details[:20]:
            print(f"           {d}")
    C.run_checks(base, series, report)
    table(rows, ("patch", "check", "result", "summary"))
    p, f = _counts(run, "check")
    print(f"\nchecks: {p} passed, {f} failed")
    return p, f


def cmd_check(args):
    run = R.Run("check", line_of(args).name)
    check_step(args, run)
    if not args.no_build:
        sweep_step(args, run, ci_only=True)
    return finish(run)


# --- sweep ------------------------------------------------------------------

def sweep_step(args, run, ci_only=True):
    """The configuration sweep (tooling/sweep.py), then sparse and
    kernel-doc in the first entry's configuration."""
    from . import sweep as SW
    m = M.load()
    names = getattr(args, "entries", None)
    line = line_of(args).name
    ents = SW.entries(m, M.FRAG_DIR, names,
                      ci_only=ci_only and not getattr(args, "all", False),
                      line=line)
    if not ents:
        run.add("sweep", "entries", "fail", f"test-matrix.yaml has no "
                f"sweep entries of line {line} to run")
        return 0, 1
    base, series = prepared(args)
    from . import worktree as WT
    with WT.lock(base, "sweep"):
        return _sweep_locked(args, run, ents, names, base, series)


def _sweep_locked(args, run, ents, names, base, series):
    from . import sweep as SW
    wt = S.apply(base, series, "sweep")
    commits = [base.commit] + git(wt, "rev-list", "--reverse",
                                  f"{base.commit}..HEAD").split()
    if len(commits) != len(series.names) + 1:
        raise Error(f"sweep worktree {wt} holds {len(commits) - 1} commits, "
                    f"the series {len(series.names)} patches")
    sw = SW.Sweep(base, wt, commits, series.names, ents)
    rows = []
    try:
        for e in ents:
            t0 = time.monotonic()
            progress("sweep", f"--- {e.describe()}", e.name)
            try:
                status, summary, det = sw.run_entry(e)
            except Error as ex:
                status, summary, det = "fail", str(ex).splitlines()[0], \
                    str(ex).splitlines()[1:]
            rows.append((e.name, status, summary))
            run.add("sweep", e.name, status, summary, details=det,
                    log=os.path.join(sw.odir(e)),
                    secs=time.monotonic() - t0)
            progress("sweep", f"{status}: {summary}", e.name)
            for d in det[:40]:
                print(f"           {d}")
        if not names:
            passed = {r.name for r in run.of("sweep") if r.status == "pass"}
            first = next((e for e in ents if e.name in passed
                          and e.arch == "x86_64"), None)
            if first:
                progress("sweep", "sparse and kernel-doc, tip vs base",
                         first.name)
                try:
                    ok, summary, det = SW.static_checks(sw, first)
                except Error as ex:
                    ok, summary, det = False, str(ex), []
                name = f"sparse+kernel-doc ({first.name})"
            else:
                ok, summary, det = False, "not run: no x86_64 entry " \
                    "passed", []
                name = "sparse+kernel-doc"
            rows.append((name, "pass" if ok else "fail", summary))
            run.add("sweep", name, "pass" if ok else "fail", summary,
                    details=det)
            for d in det[:40]:
                print(f"           {d}")
    finally:
        git(wt, "checkout", "-q", "-f", "--detach", commits[-1])
    table(rows, ("configuration", "result", "summary"))
    c = run.counts("sweep")
    print(f"\nsweep: {c['pass']} passed, {c['fail']} failed, "
          f"{c['skip']} skipped")
    return c["pass"], c["fail"]


def cmd_sweep(args):
    run = R.Run("sweep", line_of(args).name)
    sweep_step(args, run, ci_only=False)
    return finish(run)


# --- kunit ------------------------------------------------------------------

# kunit.py architectures the tool can build for, and their compilers.
KUNIT_ARCHES = {"x86_64": "", "arm64": "aarch64-linux-gnu-"}


def kunit_directives(path):
    """The `# patchtree-KEY: VALUE` comment lines of a .kunitconfig
    (kunit.py ignores comments): arch (default x86_64), kernel-args
    (joined), line (default v6.1.y) and ci (true by default; false: CI's
    `test` leaves the suite to `./patchtree kunit`).  An unknown key,
    arch, line or ci value is one line naming the file."""
    out = {"arch": "x86_64", "kernel-args": [], "line": L.DEFAULT,
           "ci": True}
    for n, line in enumerate(open(path), 1):
        m = re.match(r"#\s*patchtree-([a-z-]+):\s*(.*?)\s*$", line)
        if not m:
            continue
        key, val = m.groups()
        if key == "arch":
            if val not in KUNIT_ARCHES:
                raise Error(f"{path}:{n}: patchtree-arch: {val!r} is not "
                            f"one of {', '.join(sorted(KUNIT_ARCHES))}")
            out["arch"] = val
        elif key == "kernel-args":
            out["kernel-args"].append(val)
        elif key == "line":
            if val not in L.LINES:
                raise Error(f"{path}:{n}: patchtree-line: {val!r} is not "
                            f"one of {', '.join(L.NAMES)}")
            out["line"] = val
        elif key == "ci":
            if val not in ("true", "false"):
                raise Error(f"{path}:{n}: patchtree-ci: {val!r} is not "
                            "true or false")
            out["ci"] = val == "true"
        else:
            raise Error(f"{path}:{n}: unknown directive patchtree-{key} "
                        f"(arch, kernel-args, line, ci)")
    return out


def kunit_groups(suites):
    """Suites grouped into kunit.py runs, one kernel per architecture
    (x86_64 first); a run's command line joins its suites' kernel-args.
    Returns [(arch, kernel_args, [suite, ...])]."""
    groups = {}
    for sname in suites:
        kc = os.path.join(M.TOP, "kunit", sname, ".kunitconfig")
        if not os.path.isfile(kc):
            raise Error(f"kunit/{sname}/.kunitconfig: no such suite")
        d = kunit_directives(kc)
        names, kargs = groups.setdefault(d["arch"], ([], []))
        names.append(sname)
        kargs += [a for a in d["kernel-args"] if a not in kargs]
    return [(arch, " ".join(groups[arch][1]), groups[arch][0])
            for arch in sorted(groups, key=lambda a: (a != "x86_64", a))]


def kunit_step(args, run, ci_only=False):
    """kunit.py run with every kunit/SUITE/.kunitconfig on the patched
    tree: one kernel per architecture (`# patchtree-arch:` in the
    .kunitconfig, x86_64 by default) booted with the suites'
    `# patchtree-kernel-args:`; one result a case, from kunit.py's JSON.
    @ci_only (CI's `test`): not the suites marked `# patchtree-ci: false`,
    each of them a skip that says which command runs it."""
    base, series = prepared(args)
    line = base.line.name
    suites = kunit_suites(line, getattr(args, "suites", None))
    if ci_only:
        top = os.path.join(M.TOP, "kunit")
        off = [d for d in suites if not kunit_directives(
            os.path.join(top, d, ".kunitconfig"))["ci"]]
        for d in off:
            run.add("kunit", d, "skip", "not in CI (patchtree-ci: false):"
                    f" ./patchtree kunit --line {line} {d}")
        suites = [d for d in suites if d not in off]
        if off and not suites:
            return _counts(run, "kunit")
    if not suites:
        run.add("kunit", "suites", "fail", f"no suites of line {line} in "
                f"kunit/ (a '# patchtree-line: {line}' .kunitconfig)")
        return 0, 1
    groups = kunit_groups(suites)
    wt = S.apply(base, series, variant(args))
    for arch, kargs, names in groups:
        _kunit_run(base, wt, run, arch, kargs, names)
    return _counts(run, "kunit")


def kunit_suites(line, names=None):
    """The suites (directories of kunit/) of @line, or those of @names;
    naming a suite of another line is one line of error."""
    top = os.path.join(M.TOP, "kunit")
    every = sorted(d for d in os.listdir(top)
                   if os.path.isfile(os.path.join(top, d, ".kunitconfig")))
    if not names:
        return [d for d in every if kunit_directives(
            os.path.join(top, d, ".kunitconfig"))["line"] == line]
    for d in names:
        kc = os.path.join(top, d, ".kunitconfig")
        if not os.path.isfile(kc):
            raise Error(f"kunit/{d}/.kunitconfig: no such suite (line "
                        f"{line} has: " + ", ".join(kunit_suites(line))
                        + ")")
        other = kunit_directives(kc)["line"]
        if other != line:
            raise Error(f"kunit/{d} is a suite of line {other}: add "
                        f"--line {other}")
    return list(names)


def _kunit_run(base, wt, run, arch, kargs, suites):
    """One kunit.py run: build, boot, parse, and the kernel log check."""
    import json
    label = "" if arch == "x86_64" else f"{arch}:"
    kv = "kunit" if arch == "x86_64" else f"kunit-{arch}"
    bdir = ensure_dir(OUT, "build", base.tag(kv))
    # kunit.json, kunit-arm64.json; mainline-kunit.json, ...
    rname = base.line.variant(kv)
    jpath = os.path.join(ensure_dir(OUT, "results"), f"{rname}.json")
    if os.path.exists(jpath):
        os.unlink(jpath)
    cross = KUNIT_ARCHES[arch]
    cmd = ["python3", "tools/testing/kunit/kunit.py", "run",
           f"--arch={arch}", "--jobs", str(len(os.sched_getaffinity(0))),
           f"--build_dir={bdir}", "--qemu_args=-smp 2", "--timeout=900",
           f"--json={jpath}",
           "--make_options", f"CC={M.ccache_cc(cross + 'gcc')}"]
    if cross:
        cmd.append(f"--cross_compile={cross}")
    if kargs:
        cmd += ["--kernel_args", kargs]
    for sname in suites:
        cmd.append("--kunitconfig=" +
                   os.path.join(M.TOP, "kunit", sname, ".kunitconfig"))
    progress("kunit", " + ".join(suites) + (f" ({kargs})" if kargs else ""),
             arch)
    log = os.path.join(ensure_dir(OUT, "results"), f"{rname}.log")
    open(log, "w").close()      # this run's figures only
    p = M.run(cmd, cwd=wt, log=log, check=False)
    text = open(log, errors="replace").read()
    print("\n".join(l for l in text.splitlines()
                    if re.search(r"\[(PASSED|FAILED|SKIPPED|CRASHED)\]|"
                                 r"Testing complete", l)))
    cases = []
    if os.path.exists(jpath):
        try:
            cases = kunit_cases(json.load(open(jpath)))
        except ValueError:
            cases = []
    for name, status in cases:
        run.add("kunit", label + name, status, log=log)
    # kunit.py passes a run whose kernel warned, splatted or stalled
    tlog = os.path.join(bdir, "test.log")
    if os.path.exists(tlog):
        bad = M.console_verdict(
            [l for l in open(tlog, errors="replace")
             if not re.search(r"\bnot ok \d+ ", l)])
        run.add("kunit", f"{label}kernel log", "fail" if bad else "pass",
                f"{len(bad)} bad lines in {tlog}" if bad else
                "no warning, splat or stall", details=bad[:20], log=tlog)
    else:
        run.add("kunit", f"{label}kernel log", "fail", f"no {tlog}")
    for sname in suites:
        # a directory is named after its suite, or SUITE-variant; a
        # line's own suites may be prefixed LINE- (mainline-swiotlb)
        suite = sname
        if suite.startswith(base.line.name + "-"):
            suite = suite[len(base.line.name) + 1:]
        suite = suite.split("-")[0]
        mine = [st for n, st in cases if re.search(
            rf"(^|\.){re.escape(suite)}[^.]*\.", n)]
        if not any(st != "skip" for st in mine):
            run.add("kunit", f"{label}suite {sname}", "fail",
                    f"kunit/{sname}: {len(mine)} cases ran, none passed "
                    f"or failed (all skipped, or the suite is missing)")
    if p.returncode or not cases:
        tail = text.strip().splitlines()[-15:]
        run.add("kunit", f"{label}kunit.py", "fail",
                f"kunit.py exited {p.returncode}, {len(cases)} cases "
                f"reported", log=log, details=tail)
        print(f"kunit: failed, see {log}")
        for l in tail:
            print(f"  | {l}")


def kunit_cases(doc):
    """(suite.case, status) of kunit.py's --json output (KernelCI-like:
    test_cases or sub_groups, nested)."""
    out = []

    def walk(node, prefix):
        name = node.get("name", "")
        full = f"{prefix}.{name}" if prefix and name else (name or prefix)
        for sub in node.get("sub_groups", []) or []:
            walk(sub, full)
        for c in node.get("test_cases", []) or []:
            st = str(c.get("status", "")).upper()
            status = {"PASS": "pass", "SKIP": "skip"}.get(st, "fail")
            out.append((f"{full}.{c.get('name')}", status))
    walk(doc, "")
    return out


def cmd_kunit(args):
    run = R.Run("kunit", line_of(args).name)
    kunit_step(args, run)
    return finish(run)


# --- matrix -----------------------------------------------------------------

def matrix_step(args, run, names, boot=True, ci_only=False):
    """Apply, then build each kernel once and boot its rows (@ci_only:
    the rows without `ci: false`; the others are reported skipped)."""
    base = get_base(args)
    from . import worktree as WT
    with WT.lock(base, variant(args)):
        return _matrix_locked(args, run, names, boot, ci_only)


def _matrix_locked(args, run, names, boot, ci_only):
    m = M.load()
    rows = M.select_rows(m, names, line_of(args).name)
    if ci_only and not names:
        for r in rows:
            if r.get("ci", True) is False:
                run.add("matrix", r["name"], "skip", "not in CI: "
                        "./patchtree matrix (or boot ROW) runs it")
        rows = [r for r in rows if r.get("ci", True) is not False]
    base, series = prepared(args)
    v = variant(args)
    results = []
    try:
        wt = S.apply(base, series, v)
        applied = f"{0 if args.plain else len(series.names)} ok"
    except Error as e:
        print(f"error: {e}", file=sys.stderr)
        for r in rows:
            results.append((r["name"], "FAIL", "-", "-", "-", "-"))
            run.add("matrix", r["name"], "fail", "the series does not "
                    "apply", details=str(e).splitlines())
        table(results, ("row", "apply", "build", "boot", "tests", "time"))
        return _counts(run, "matrix")
    builds, built = {}, {}
    rdir = ensure_dir(OUT, "results", base.tag(v))
    for r in rows:
        t0 = time.monotonic()
        k = r["kernel"]
        if k not in builds:
            builds[k] = M.Build(base, v, wt, k, m["kernels"][k])
            sym = builds[k].missing_feature()
            if sym and v != "plain":
                # the series adds it: a tree with the series but without
                # the symbol is a broken series, not a row to skip
                built[k] = "FAIL"
                print(f"error: {k}: the tree with the series has no "
                      f"{sym}", file=sys.stderr)
            elif sym:
                built[k] = f"n/a (no {sym})"
                progress("build", f"skipped: the tree has no {sym}", k)
            else:
                try:
                    builds[k].build()
                    built[k] = "ok"
                except Error as e:
                    print(f"error: {e}", file=sys.stderr)
                    built[k] = "FAIL"
        status, bstat, tests = built[k], "-", "-"
        res = "pass"
        if status.startswith("n/a"):
            res = "skip"
        elif status == "FAIL":
            res = "fail"
        elif boot and r.get("boot", True):
            res, bstat, tests = boot_row(r, m["defaults"], builds[k],
                                         os.path.join(rdir, r["name"]))
        elif r.get("boot", True) is False:
            bstat = "n/a (compile only)"
        secs = time.monotonic() - t0
        results.append((r["name"], applied, status, bstat, tests,
                        f"{secs:.0f}s"))
        run.add("matrix", r["name"], res, f"build {status}, boot {bstat}, "
                f"tests {tests}", secs=secs,
                log=os.path.join(rdir, r["name"]))
    table(results, ("row", "apply", "build", "boot", "tests", "time"))
    print(f"\nlogs: {rdir}/<row>/ and {OUT}/build/{base.tag(v)}/"
          f"<kernel>/build.log")
    c = run.counts("matrix")
    print(f"matrix: {c['pass']} passed, {c['flaky']} flaky, {c['fail']} "
          f"failed, {c['skip']} skipped")
    return _counts(run, "matrix")


def boot_row(row, defaults, build, rdir):
    """Boot a row.  A guest that timed out is booted once more only when
    none of the program counters sampled at the timeout lies in code the
    series touches (M.SERIES_CODE): that is a stall of the emulator, not
    a hang of ours.  A row that passed so is 'flaky', never a pass.
    Return (status, boot column, tests column)."""
    retries = int(row.get("timeout_retries",
                          defaults.get("timeout_retries", 0)))
    for attempt in range(retries + 1):
        ok, tests, why, _ = M.boot(row, defaults, build, rdir)
        if ok or not why.startswith("timeout") or attempt == retries:
            break
        where = M.last_pc_report(os.path.join(rdir, "console.log"))
        if M.in_series_code(where):
            why += f" in series code: {where}"
            break
        kept = os.path.join(rdir, f"console.timeout-{attempt + 1}.log")
        os.replace(os.path.join(rdir, "console.log"), kept)
        progress("boot", f"booting again: the guest hung outside the "
                 f"series' code ({where}; kept {kept})", row["name"])
    if not ok:
        return "fail", f"FAIL ({why})"[:80], tests
    if attempt == 0:
        return "pass", "ok", tests
    return "flaky", f"FLAKY (boot {attempt + 1}; {attempt} timed out)", tests


def cmd_build(args):
    run = R.Run("build", line_of(args).name)
    matrix_step(args, run, args.rows, boot=False)
    return finish(run)


def cmd_boot(args):
    run = R.Run("boot", line_of(args).name)
    matrix_step(args, run, args.rows, boot=True)
    return finish(run)


def cmd_matrix(args):
    run = R.Run("matrix", line_of(args).name)
    if not args.plain:
        check_step(args, run)
        sweep_step(args, run, ci_only=False)
    matrix_step(args, run, args.rows, boot=True)
    return finish(run)


# --- test -------------------------------------------------------------------

def selftest_step(args, run):
    from . import selftest
    lines = []
    passed, failed = selftest.main(args, lines=lines)
    seen = 0
    for line in lines:
        mm = re.match(r"(not )?ok \d+ (\S+)(?: # (.*))?$", line)
        if mm:
            seen += 1
            run.add("selftest", mm.group(2),
                    "fail" if mm.group(1) else "pass", mm.group(3) or "")
    if seen != passed + failed or failed and not run.counts(
            "selftest")["fail"]:
        run.add("selftest", "runner", "fail",
                f"{seen} results read, the runner said {passed} passed, "
                f"{failed} failed")
    return _counts(run, "selftest")




def finish(run):
    """Render @run: the table, out/results/run.json, the closing line;
    return the exit status (1 on any failure, or when nothing ran)."""
    print("\n" + run.table())
    path = run.write(RUN_JSON)
    print(f"\nresults: {path}")
    print(run.closing())
    return 1 if run.counts()["fail"] or not run.results else 0


def test_lines(args):
    """The lines `test` runs: the one --line names, else every line (on
    its own base; with --base PATH the line must be named), or those
    of the rows named."""
    if getattr(args, "line", None):
        return [args.line]
    if args.base or args.ref:
        raise Error("test runs every line, each on its own base (" +
                    ", ".join(f"{n} on {L.LINES[n].base}" for n in L.NAMES)
                    + "): with --base, name the line (--line " +
                    "|".join(L.NAMES) + ")")
    if args.rows:
        m = M.load()
        of = {r["name"]: M.row_line(r) for r in m["rows"]}
        bad = [n for n in args.rows if n not in of]
        if bad:
            raise Error(f"unknown row(s) {', '.join(bad)}: choose from "
                        + ", ".join(of))
        return [n for n in L.NAMES if n in {of[r] for r in args.rows}]
    return list(L.NAMES)


def cmd_test(args):
    """The CI entry: self-tests, then per line (v6.1.y, mainline) the
    series checks, the sweep's CI entries, KUnit and the matrix; one
    table, one run.json (every result with its line), one closing
    'N passed, N failed' line."""
    import argparse
    t0 = time.monotonic()
    run = R.Run("test")
    lines = test_lines(args)

    def step(name, fn):
        progress("test", f"--- {name}" +
                 (f" (line {run.line})" if run.line else ""))
        try:
            fn()
        except Error as e:
            print(f"error: {e}", file=sys.stderr)
            run.add(name, "step", "fail", str(e).splitlines()[0],
                    details=str(e).splitlines()[1:])
        except Exception as e:         # never lose the closing line
            print(f"error: {one_line(e)}", file=sys.stderr)
            run.add(name, "step", "fail", one_line(e))
    step("selftest", lambda: selftest_step(args, run))
    times = []
    for line in lines:
        t1 = time.monotonic()
        run.line = line
        la = argparse.Namespace(**vars(args))
        la.line = line
        if args.rows and not args.line:
            # the rows named that are of this line (test_lines: some are)
            of = {r["name"]: M.row_line(r) for r in M.load()["rows"]}
            la.rows = [n for n in args.rows if of[n] == line]
        if not args.plain:
            step("check", lambda: check_step(la, run))
            step("sweep", lambda: sweep_step(la, run, ci_only=True))
            step("kunit", lambda: kunit_step(la, run, ci_only=True))
        step("matrix", lambda: matrix_step(la, run, la.rows, boot=True,
                                           ci_only=True))
        times.append(f"{line} {time.monotonic() - t1:.0f}s")
    run.line = None
    print(f"\ntotal time {time.monotonic() - t0:.0f}s ("
          + ", ".join(times) + ")")
    return finish(run)
