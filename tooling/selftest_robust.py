# SPDX-License-Identifier: GPL-2.0
"""Self-tests of the tooling's robustness: base updates, worktrees,
subprocess isolation, export safety, YAML validation, error lines,
QEMU clean-up and the doctor.  Collected by selftest.py (TESTS), run in
its child with a scratch out/ and the same fixture."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def _st():
    from . import selftest
    return selftest


@contextlib.contextmanager
def patched(obj, name, value):
    """Set @obj.@name to @value for the duration of the block."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def environ(**kw):
    """os.environ with @kw set (None: removed) for the block."""
    old = {k: os.environ.get(k) for k in kw}
    for k, v in kw.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def tree_copy(fx, name):
    """A private copy of the fixture's series tree (patches/ + series),
    for tests that export into it."""
    dst = os.path.join(fx.root, name)
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(fx.top, dst)
    from .series import Series
    return Series(dst)


def read_patches(series):
    """{path under patches/: bytes} of every file there."""
    return {os.path.relpath(os.path.join(d, f), series.pdir):
            open(os.path.join(d, f), "rb").read()
            for d, _, fs in os.walk(series.pdir) for f in sorted(fs)}


def edit_copy(fx, name, kernel=None):
    """A private series tree (tree_copy), its patch bytes as they were,
    and an edit worktree of it on the fixture's (or @kernel's) base:
    (base, series, before, worktree)."""
    from .base import get_base
    from .series import _materialize
    b = get_base(kernel or fx.kernel)
    s = tree_copy(fx, name)
    before = read_patches(s)
    return b, s, before, _materialize(b, s, b.worktree("edit"))


# --- 3. subprocesses: stdin, locale, git blind to ~/.gitconfig ----------

@test
def commands_never_read_the_terminal(fx):
    from .common import run
    r, w = os.pipe()            # a stdin that never ends, like a terminal
    saved = os.dup(0)
    os.dup2(r, 0)
    try:
        p = run(["sh", "-c", "read x; echo rc=$?; locale | grep LC_ALL"],
                capture=True, check=False, timeout=10)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, r, w):
            os.close(fd)
    assert "rc=1" in p.stdout, p.stdout
    assert "LC_ALL=C" in p.stdout, p.stdout
    # given input still reaches the command
    assert run(["cat"], capture=True, stdin="hi\n").stdout == "hi\n"


@test
def kernel_scripts_run_the_tools_python(fx):
    from .common import run
    fake = os.path.join(fx.root, "fake-python")
    os.makedirs(fake, exist_ok=True)
    with open(os.path.join(fake, "python3"), "w") as f:
        f.write("#!/bin/sh\necho a-pyenv-shim-without-ply\n")
    os.chmod(os.path.join(fake, "python3"), 0o755)
    with environ(PATH=fake + os.pathsep + os.environ["PATH"]):
        for cmd in (["python3", "-c", "import sys; print(sys.executable)"],
                    ["sh", "-c", "python3 -c 'import sys; "
                     "print(sys.executable)'"]):
            out = run(cmd, capture=True).stdout.strip()
            assert os.path.realpath(out) == \
                os.path.realpath(sys.executable), (cmd, out)


HOSTILE_GITCONFIG = """[diff]
	noprefix = true
	context = 10
	algorithm = patience
[format]
	signOff = true
	numbered = false
[commit]
	gpgsign = true
[gpg]
	program = /bin/false
[core]
	hooksPath = {hooks}
	abbrev = 20
[am]
	threeWay = true
	keepcr = false
"""


@test
def user_gitconfig_cannot_leak_in(fx):
    from .base import get_base
    from .series import apply, export, _materialize
    home = os.path.join(fx.root, "hostile-home")
    hooks = os.path.join(home, "hooks")
    os.makedirs(hooks, exist_ok=True)
    for h in ("applypatch-msg", "pre-applypatch", "post-applypatch",
              "pre-commit", "commit-msg", "post-commit", "post-checkout"):
        with open(os.path.join(hooks, h), "w") as f:
            f.write("#!/bin/sh\necho hostile hook >&2\nexit 1\n")
        os.chmod(os.path.join(hooks, h), 0o755)
    with open(os.path.join(home, ".gitconfig"), "w") as f:
        f.write(HOSTILE_GITCONFIG.format(hooks=hooks))
    s = tree_copy(fx, "tree-hostile")
    before = read_patches(s)
    with environ(HOME=home, XDG_CONFIG_HOME=None):
        b = get_base(fx.kernel)
        wt = apply(b, s, "hostile")
        assert _st().sh(wt, "git", "rev-list", "--count",
                        f"{fx.base}..HEAD") == "3"
        wt = _materialize(b, s, b.worktree("edit"))
        export(b, s, wt)
    after = read_patches(s)
    assert before.keys() == after.keys(), (before.keys(), after.keys())
    for f in before:
        assert before[f] == after[f], f"~/.gitconfig changed {f}"


# --- 8. a failed command quotes its log's errors and tail ---------------

@test
def failed_command_quotes_its_log(fx):
    from .common import run
    log = os.path.join(fx.root, "fail.log")
    with open(log, "w") as f:
        f.write("an earlier command: error: not this one\n")
    script = ("echo start; echo 'kernel/dma/swiotlb.c:12:3: error: "
              "expected ;'; for i in $(seq 1 200); do echo filler $i; done;"
              " echo 'make[2]: *** [Makefile:10: x.o] Error 1'; exit 2")
    err = _st().expect_error(lambda: run(["sh", "-c", script], log=log),
                             "command failed (2)", "swiotlb.c:12:3: error",
                             "Error 1", "filler 200", log)
    assert "filler 100" not in err, "more than the tail"
    assert "not this one" not in err, "quoted an earlier command's error"
    assert len(err.splitlines()) <= 45, len(err.splitlines())


# --- 1. a new Debian package version re-creates the base ----------------

def _fake_tarball(fx, path, version):
    """linux-source-6.1.tar.xz with the fixture's Makefile,
    kernel/dma/swiotlb.c and drivers/iommu/iova.c (so that the fixture's
    series applies)."""
    with tarfile.open(path, "w:xz") as t:
        for f in ("Makefile", "kernel/dma/swiotlb.c",
                  "drivers/iommu/iova.c"):
            t.add(os.path.join(fx.kernel, f), f"linux-source-6.1/{f}")
        extra = os.path.join(fx.root, "VERSION-" + version)
        with open(extra, "w") as g:
            g.write(version + "\n")
        t.add(extra, "linux-source-6.1/DEBIAN-VERSION")


@test
def base_update_recreates_base_and_worktrees(fx):
    from . import base as B
    from .series import apply
    from .common import OUT
    tdir = os.path.join(fx.root, "fake-usr-src")
    os.makedirs(tdir, exist_ok=True)
    tarball = os.path.join(tdir, "linux-source-6.1.tar.xz")
    ver = {"v": "6.1.100-1"}
    src = os.path.join(OUT, "src")
    with patched(B, "_debian_tarball", lambda v: tarball), \
            patched(B, "_pkg_version", lambda pkg: ver["v"]):
        _fake_tarball(fx, tarball, ver["v"])
        b1 = B.get_base("debian-6.1")
        s = fx.series()
        wt = apply(b1, s)
        apply(b1, s, "plain")
        assert os.path.isfile(os.path.join(src, "debian-6.1+series.applied"))
        # unexported work in the edit worktree
        from .series import _materialize
        ewt = _materialize(b1, s, b1.worktree("edit"))
        with open(os.path.join(ewt, "kernel/dma/swiotlb.c"), "a") as f:
            f.write("/* uncommitted */\n")
        # the same version: nothing is re-created
        assert B.get_base("debian-6.1").commit == b1.commit
        # a security update of the package
        ver["v"] = "6.1.101-1"
        _fake_tarball(fx, tarball, ver["v"])
        b2 = B.get_base("debian-6.1")
        assert b2.commit != b1.commit, "the base was not re-created"
        assert not [e for e in os.listdir(src)
                    if e.startswith("debian-6.1+")], os.listdir(src)
        kept = [e for e in os.listdir(os.path.dirname(b2.repo))
                if e.startswith("debian-6.1.edit-")]
        assert len(kept) == 1, kept
        kept = os.path.join(os.path.dirname(b2.repo), kept[0])
        # two cover commits, three patches, the uncommitted diff
        assert len(os.listdir(kept)) == 6, os.listdir(kept)
        assert "uncommitted" in open(os.path.join(kept,
                                                  "uncommitted.diff")).read()
        shutil.rmtree(kept)
        wt = apply(b2, fx.series())
        assert _st().sh(wt, "git", "rev-list", "--count",
                        f"{b2.commit}..HEAD") == "3"
        # an update that crashes half-way (the tarball is broken) ...
        ver["v"] = "6.1.102-1"
        with open(tarball, "wb") as f:
            f.write(b"not a tarball")
        _st().expect_error(lambda: B.get_base("debian-6.1"),
                           "command failed", "tar")
        # ... is redone by the next run, not a crash for ever after
        _fake_tarball(fx, tarball, ver["v"])
        b3 = B.get_base("debian-6.1")
        wt = apply(b3, fx.series())
        assert _st().sh(wt, "git", "rev-list", "--count",
                        f"{b3.commit}..HEAD") == "3"
        assert "6.1.102-1" in open(os.path.join(b3.repo,
                                                "DEBIAN-VERSION")).read()
        wts = _st().sh(b3.repo, "git", "worktree", "list", "--porcelain")
        assert wts.count("worktree ") == 2, wts     # the repo + series


# --- 2. worktrees: one module, and what a crash leaves is repaired ------

@test
def broken_worktrees_are_recreated(fx):
    from .base import get_base
    from . import worktree
    from .series import apply
    b = get_base(fx.kernel)
    wt = apply(b, fx.series(), "broken")
    assert worktree.path(b, "broken") == wt
    # a directory left without its .git file (a crash in worktree add)
    shutil.rmtree(wt)
    os.makedirs(os.path.join(wt, "kernel"))
    wt = apply(b, fx.series(), "broken")
    assert _st().sh(wt, "git", "rev-list", "--count",
                    f"{fx.base}..HEAD") == "3"
    # a .git file whose repository entry is gone
    gitdir = open(os.path.join(wt, ".git")).read().split(": ", 1)[1]
    shutil.rmtree(gitdir.strip())
    wt = apply(b, fx.series(), "broken")
    assert _st().sh(wt, "git", "rev-list", "--count",
                    f"{fx.base}..HEAD") == "3"
    worktree.remove(b, "broken")
    assert not os.path.lexists(wt)
    # an unusable edit worktree may hold work: moved aside, not deleted
    ewt = b.worktree("edit")
    with open(os.path.join(ewt, "wip.txt"), "w") as f:
        f.write("work\n")
    gitdir = open(os.path.join(ewt, ".git")).read().split(": ", 1)[1]
    shutil.rmtree(gitdir.strip())
    assert b.worktree("edit") == ewt
    aside = [e for e in os.listdir(os.path.dirname(ewt))
             if e.startswith(os.path.basename(ewt) + ".broken-")]
    assert len(aside) == 1 and os.path.exists(os.path.join(
        os.path.dirname(ewt), aside[0], "wip.txt")), aside
    assert not os.path.lexists(worktree.stamp_path(b, "broken"))
    # the names checks.py imports from series stay importable
    from . import series
    assert series.am and series.reset_to_base and series.record_applied


# --- 4. export does not depend on git's pack state -----------------------

def _bulk_kernel(fx, n=17000):
    """A clone of the fixture kernel with @n more (loose) objects on a
    side branch: enough that git's automatic abbreviation is 8 digits
    once they are packed, 7 while they are loose."""
    bulk = os.path.join(fx.root, "bulk")
    if os.path.isdir(bulk):
        return bulk
    _st().sh(fx.root, "git", "clone", "-q", "--no-hardlinks", fx.kernel,
             bulk)
    # fast-import writes a pack (fast); unpack-objects makes it loose
    stream = [b"commit refs/heads/bulk\ncommitter T <t@example.org> 0 "
              b"+0000\ndata 5\nbulk\n"]
    for i in range(n):
        d = b"blob %d\n" % i
        stream.append(b"M 100644 inline f%d\ndata %d\n%s" % (i, len(d), d))
    scratch = os.path.join(fx.root, "bulk-import")
    _st().sh(fx.root, "git", "init", "-q", "--bare", scratch)
    subprocess.run(["git", "-C", scratch, "fast-import", "--quiet"],
                   input=b"".join(stream), check=True)
    pack = [f for f in os.listdir(os.path.join(scratch, "objects", "pack"))
            if f.endswith(".pack")][0]
    with open(os.path.join(scratch, "objects", "pack", pack), "rb") as f:
        subprocess.run(["git", "-C", bulk, "unpack-objects", "-q"],
                       stdin=f, check=True)
    commit = _st().sh(scratch, "git", "rev-parse", "refs/heads/bulk")
    _st().sh(bulk, "git", "update-ref", "refs/heads/bulk", commit)
    shutil.rmtree(scratch)
    return bulk


@test
def export_is_the_same_after_a_repack(fx):
    from .base import get_base
    from .series import export, _materialize
    bulk = _bulk_kernel(fx)
    b = get_base(bulk)
    s = tree_copy(fx, "tree-repack")
    wt = _materialize(b, s, b.worktree("edit"))
    export(b, s, wt)
    first = read_patches(s)
    # gc repacks only local objects (-l); repack -a also takes in the
    # ones the --shared clone borrows: 17000 packed objects
    _st().sh(b.repo, "git", "gc", "-q")
    _st().sh(b.repo, "git", "repack", "-adq")
    export(b, s, wt)
    for f, data in read_patches(s).items():
        assert first[f] == data, f"a repack changed {f}"


# --- 5. export: no dirty or paused worktree, no foreign file deleted ----

@test
def export_refuses_dirty_or_paused_worktree(fx):
    from .series import export
    b, s, before, wt = edit_copy(fx, "tree-dirty")
    f = os.path.join(wt, "kernel/dma/swiotlb.c")
    with open(f, "a") as g:
        g.write("/* not committed */\n")
    _st().expect_error(lambda: export(b, s, wt), "uncommitted changes")
    _st().sh(wt, "git", "checkout", "--", ".")
    # a rebase -i paused at an 'edit' line
    env = dict(os.environ, GIT_SEQUENCE_EDITOR="sed -i 1s/^pick/edit/")
    subprocess.run(["git", "-C", wt, "rebase", "-q", "-i", fx.base],
                   env=env, capture_output=True, check=True)
    err = _st().expect_error(lambda: export(b, s, wt), "rebase",
                             "in progress")
    assert len(err.splitlines()) == 1, err
    _st().sh(wt, "git", "rebase", "--abort")
    # a paused am
    p = s.path(s.names[0])
    r = subprocess.run(["git", "-C", wt, "am", "-q", p],
                       capture_output=True)
    assert r.returncode, "the patch applied twice?"
    _st().expect_error(lambda: export(b, s, wt), "am", "in progress")
    _st().sh(wt, "git", "am", "--abort")
    assert read_patches(s) == before, "a refused export wrote patches/"
    export(b, s, wt)
    assert read_patches(s) == before


@test
def export_keeps_files_it_did_not_write(fx):
    from .base import get_base
    from .series import export, _materialize
    b = get_base(fx.kernel)
    s = tree_copy(fx, "tree-wip")
    wt = _materialize(b, s, b.worktree("edit"))
    wip = os.path.join(s.pdir, "swiotlb", "0099-wip-not-in-series.patch")
    with open(wip, "w") as f:
        f.write("my work in progress\n")
    # drop swiotlb's second patch (base, cover, 1, 2, cover, iova 1) and
    # rename the iova patch: both old files go
    _st().sh(wt, "git", "rebase", "-q", "--onto", "HEAD~3", "HEAD~2")
    _st().sh(wt, "git", "commit", "-q", "--amend", "-m",
             "iommu/iova: line five, renamed\n\nWhy.\n\n"
             "Signed-off-by: T <t@example.org>")
    names = export(b, s, wt)
    left = sorted(read_patches(s))
    assert os.path.exists(wip), "export deleted a file it did not write"
    assert fx.names[1] not in left and fx.names[2] not in left, left
    assert names[1] in left and len(left) == 5, left
    # a file of the name export would write, not in the series: refused
    with open(os.path.join(wt, "drivers/iommu/iova.c"), "a") as f:
        f.write("int one_more;\n")
    _st().sh(wt, "git", "commit", "-q", "-a", "-m",
             "iommu/iova: one more\n\nWhy.\n\n"
             "Signed-off-by: T <t@example.org>")
    clash = os.path.join(s.pdir, "iova", "0002-iommu-iova-one-more.patch")
    with open(clash, "w") as f:
        f.write("someone else's\n")
    s = fx.series().__class__(s.top)        # the series export wrote
    _st().expect_error(lambda: export(b, s, wt),
                       "iova/0002-iommu-iova-one-more", "not in the series")
    assert open(clash).read() == "someone else's\n"


# --- 6. YAML: one schema for test-matrix.yaml and bench.yaml -------------

def _yaml_error(fx, loader, text, *words):
    """@loader on a file holding @text fails with one line naming
    the file and @words."""
    path = os.path.join(fx.root, "bad.yaml")
    with open(path, "w") as f:
        f.write(text)
    err = _st().expect_error(lambda: loader(path), "bad.yaml", *words)
    assert len(err.splitlines()) == 1, err
    return err


@test
def matrix_yaml_is_validated(fx):
    from .common import TOP
    from .matrix import load
    real = open(os.path.join(TOP, "test-matrix.yaml")).read()
    rows = [r["name"] for r in load()["rows"]]  # the real one is fine
    xen = rows.index("x86_64-xen") + 1          # rows count from 1
    typo = real.replace("    append: swiotlb=force\n",
                        "    apend: swiotlb=force\n", 1)
    err = _yaml_error(fx, load, typo, "row x86_64", "unknown key 'apend'")
    line = typo.splitlines().index("    apend: swiotlb=force") + 1
    assert f"bad.yaml:{line}:" in err, err
    _yaml_error(fx, load, real.replace("  - name: x86_64-xen\n",
                                       "  - name: x86_64\n"),
                "row x86_64", "duplicate name")
    _yaml_error(fx, load, real.replace("  - name: x86_64-xen\n",
                                       "  - nam: x86_64-xen\n"),
                f"row {xen}", "no 'name'")
    _yaml_error(fx, load, real.replace("timeout: 420", "timeout: 7m"),
                "defaults: timeout", "want an integer", "'7m'")
    _yaml_error(fx, load, real.replace(
        "fragments: [common, arch-x86_64, iommu-x86_64, xen-x86_64]",
        "fragments: common"), "kernel x86_64: fragments",
        "want a list of a string")
    _yaml_error(fx, load, real.replace("    boot: false ",
                                       "    boot: no-way "),
                "row x86_64-xen: boot", "true or false")
    _yaml_error(fx, load, real.replace("kernels:\n", "kernels:\n  x: [\n"),
                "bad.yaml:")                    # malformed
    _yaml_error(fx, load, "", "empty", "defaults, kernels, rows")
    _yaml_error(fx, load, "# only a comment\n", "empty")
    _yaml_error(fx, load, "- a list\n", "want a mapping")
    _yaml_error(fx, load, real.replace("rows:\n", "rowz:\n"),
                "unknown key 'rowz'")
    _yaml_error(fx, load, real + "defaults: {}\n", "duplicate key "
                "'defaults'")
    _yaml_error(fx, load, real.replace("    kernel: arm64\n",
                                       "    kernel: arm65\n", 1),
                "row arm64", "unknown kernel arm65")
    # the row and sweep keys of the proof are checked too
    m = load(os.path.join(TOP, "test-matrix.yaml"))
    assert m["sweep"] and m["rows"], "no sweep entries or rows"
    assert any(r.get("forbid") for r in m["rows"]), "no row forbids"
    first = real.index("  - name: mainline-x86_64-all\n")
    _yaml_error(fx, load, real[:first] + real[first:].replace(
        "    ci: true\n", "    cii: true\n", 1),
        "sweep mainline-x86_64-all", "unknown key 'cii'")


@test
def bench_yaml_is_validated(fx):
    from .common import TOP
    from .bench import load
    real = open(os.path.join(TOP, "bench.yaml")).read()
    load()
    _yaml_error(fx, load, real.replace("{name: ours, kernel: ours,",
                                       "{name: ours, kernl: ours,"),
                "row ours", "unknown key 'kernl'")
    _yaml_error(fx, load, real.replace("{name: ours-tiny,",
                                       "{name: ours,"),
                "row ours", "duplicate name")
    _yaml_error(fx, load, real.replace("reps: 5", "reps: five"),
                "reps", "want an integer")
    _yaml_error(fx, load, real.replace("  wall:\n    qemu:",
                                       "  wall:\n    qemo:"),
                "clock wall", "unknown key 'qemo'")
    _yaml_error(fx, load, real.replace("  base:     {base: debian-6.1, ",
                                       "  base:     {bse: debian-6.1, "),
                "kernel base", "unknown key 'bse'")
    _yaml_error(fx, load, "", "empty")


# --- 7. every error is one line, never a traceback -----------------------

def _patchtree(*args, env=None):
    from .common import TOP
    return subprocess.run([sys.executable, os.path.join(TOP, "patchtree")]
                          + list(args), capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})),
                          stdin=subprocess.DEVNULL, timeout=120)


@test
def errors_are_one_line(fx):
    from .common import run, one_line, Error
    # a program that is not installed: named, with its package
    err = _st().expect_error(lambda: run(["sparse", "--version"],
                                         env={"PATH": "/nonexistent"}),
                             "'sparse' not found", "apt-get install sparse")
    with environ(PATH="/nonexistent"):
        err = _st().expect_error(lambda: run(["sparse", "--version"]),
                                 "'sparse' not found",
                                 "apt-get install sparse")
        try:
            subprocess.run(["sparse"])
        except FileNotFoundError as e:
            assert one_line(e) == err, one_line(e)
    # a missing file (a patch named in series): named
    missing = os.path.join(fx.root, "patches", "0042-gone.patch")
    try:
        open(missing)
    except OSError as e:
        assert one_line(e) == f"{missing}: No such file or directory", \
            one_line(e)
    # a bug: its type, message and place, on one line
    try:
        {}["name"]
    except KeyError as e:
        line = one_line(e)
        assert line.startswith("internal error: KeyError: 'name' (at "
                               "tooling/selftest_robust.py:"), line
    assert one_line(Error("x")) == "x"
    # through patchtree's main(): an Error, an OSError, argparse options
    # after the command
    p = _patchtree("base", "--base", os.path.join(fx.root, "nope"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and \
        "no such directory" in p.stderr, p.stderr
    p = _patchtree("--base", fx.kernel, "mbox", "--dir", "/proc/nope/x")
    assert p.returncode == 2 and "Traceback" not in p.stderr and \
        p.stderr.startswith("error: /proc/nope"), p.stderr
    assert p.stderr.count("\n") == 1, p.stderr


# --- 10. doctor: each missing program, with its Debian package ------------

@test
def doctor_names_missing_tool_and_package(fx):
    from . import doctor
    want = doctor.needs("check")
    bindir = os.path.join(fx.root, "doctor-bin")
    os.makedirs(bindir, exist_ok=True)
    for n in want:
        kind, what = doctor.WHAT.get(n, ("program", n))[:2]
        real = shutil.which(what) if kind == "program" else None
        if real and what != "rsync":
            dst = os.path.join(bindir, what)
            if not os.path.lexists(dst):
                os.symlink(real, dst)
    py = os.path.join(bindir, "python3")      # the scripts' python3
    if not os.path.lexists(py):
        os.symlink(sys.executable, py)
    with environ(PATH=bindir):
        assert "rsync" in [m[0] for m in doctor.missing(want)]
        err = _st().expect_error(lambda: doctor.require("check"),
                                 "rsync (package rsync",
                                 "headers_install", "apt-get install rsync")
        assert len(err.splitlines()) == 1, err
        assert "sparse" not in err, err
        # selftest needs less than check: rsync is not among it
        assert "rsync" not in [m[0] for m in
                               doctor.missing(doctor.needs("selftest"))]
    # a command of the tool, on a PATH without git
    p = _patchtree("--base", fx.kernel, "apply",
                   env={"PATH": "/nonexistent"})
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and \
        "git (package git" in p.stderr, p.stderr


# --- 9. QEMU is killed on every way out ----------------------------------

FAKE_QEMU_SLEEPS = r"""#!/bin/sh
# a guest that never ends, with a helper process of its own
sleep 300 &
echo "$$ $!" > "$(dirname "$0")/pids"
exec sleep 300
"""


def _alive(pid):
    """Is @pid running (not gone, not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pids, secs=5):
    t0 = time.monotonic()
    while any(_alive(p) for p in pids):
        if time.monotonic() - t0 > secs:
            return False
        time.sleep(0.05)
    return True


@test
def qemu_is_killed_on_every_way_out(fx):
    from .matrix import run_qemu
    from .common import on_sigterm, Terminated
    d = os.path.join(fx.root, "sleeps")
    os.makedirs(d, exist_ok=True)
    qemu = os.path.join(d, "qemu")
    with open(qemu, "w") as f:
        f.write(FAKE_QEMU_SLEEPS)
    os.chmod(qemu, 0o755)
    console = os.path.join(d, "console.log")
    pidfile = os.path.join(d, "pids")

    def pids():
        for _ in range(100):
            if os.path.exists(pidfile) and open(pidfile).read().strip():
                return [int(x) for x in open(pidfile).read().split()]
            time.sleep(0.05)
        raise AssertionError("the fake QEMU did not start")

    old = signal.signal(signal.SIGTERM, on_sigterm)
    left = []
    try:
        # SIGTERM while the tool waits for QEMU
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
        try:
            run_qemu([qemu], console, 60, samples=0)
            raise AssertionError("SIGTERM did not reach the wait")
        except Terminated:
            pass
        left = pids()
        assert _gone(left), f"QEMU or its helper survived SIGTERM: {left}"
        # a timeout
        os.unlink(pidfile)
        assert run_qemu([qemu], console, 1, samples=0)[0]
        left = pids()
        assert _gone(left), f"QEMU survived its timeout: {left}"
        # any exception in the wait (here: one raised by a timer signal)
        os.unlink(pidfile)

        def boom(signum, frame):
            raise RuntimeError("boom")
        signal.signal(signal.SIGALRM, boom)
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            run_qemu([qemu], console, 60, samples=0)
        except RuntimeError:
            pass
        left = pids()
        assert _gone(left), f"QEMU survived an exception: {left}"
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        for p in left:                      # never leave them behind
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


@test
def a_trusted_tree_of_another_owner_is_read(fx):
    from . import common
    from .base import get_base
    if os.geteuid() != 0:
        return                                  # needs chown
    tree = os.path.join(fx.root, "others-linux")
    if not os.path.isdir(tree):
        _st().sh(fx.root, "git", "clone", "-q", fx.kernel, tree)
    subprocess.run(["chown", "-R", "nobody", tree], check=True)
    home = os.path.join(fx.root, "trusting-home")
    os.makedirs(home, exist_ok=True)
    try:
        with environ(HOME=home, XDG_CONFIG_HOME=None), \
                patched(common, "_GLOBAL", None):
            open(os.path.join(home, ".gitconfig"), "w").close()
            _st().expect_error(lambda: get_base(tree), "another user",
                               "safe.directory")
        with environ(HOME=home, XDG_CONFIG_HOME=None), \
                patched(common, "_GLOBAL", None):
            with open(os.path.join(home, ".gitconfig"), "w") as f:
                f.write(f"[safe]\n\tdirectory = {tree}\n"
                        f"\tdirectory = {tree}/.git\n")
            b = get_base(tree)
            assert b.commit == fx.base, b.commit
    finally:
        subprocess.run(["chown", "-R", str(os.geteuid()), tree])


@test
def a_bare_mirror_is_a_base(fx):
    from .base import get_base
    mirror = os.path.join(fx.root, "linux-mirror.git")
    if not os.path.isdir(mirror):
        _st().sh(fx.root, "git", "clone", "-q", "--bare", fx.kernel, mirror)
    b = get_base(mirror)
    assert b.commit == fx.base
    from .series import apply
    wt = apply(b, fx.series())
    assert _st().sh(wt, "git", "rev-list", "--count",
                    f"{fx.base}..HEAD") == "3"
