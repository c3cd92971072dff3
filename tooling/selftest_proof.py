# SPDX-License-Identifier: GPL-2.0
"""Self-tests of the proof itself: each feeds a broken or missing tool,
or a bad console, and expects a failure.  Collected by selftest.child().
"""

import os

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def warnings_know_every_producer(fx):
    from . import warnings as W
    log = "\n".join([
        "kernel/dma/swiotlb.c:12:3: warning: unused variable 'x' "
        "[-Wunused-variable]",
        "/src/linux/kernel/dma/swiotlb.c:99:1: warning: unused variable "
        "'x' [-Wunused-variable]",
        "vmlinux.o: warning: objtool: swiotlb_map+0x12: call without frame",
        "WARNING: modpost: vmlinux.o: section mismatch in reference: "
        "swiotlb_init (section: .text) -> memblock_alloc (section: "
        ".init.text)",
        "ld: warning: creating DT_TEXTREL in a PIE",
        "aarch64-linux-gnu-ld: kernel/dma/swiotlb.o: warning: relocation "
        "in read-only section",
        "WARNING: unmet direct dependencies detected for SWIOTLB_XEN",
        ".config:1310:warning: override: UNWINDER_GUESS changes choice "
        "state",
        "  CC      kernel/dma/swiotlb.o",
    ])
    w = W.parse(log, "/src/linux")
    kinds = [x.split()[0] for x in w]
    assert kinds == ["cc", "cc", "objtool", "modpost", "ld", "ld",
                     "kconfig"], w
    # absolute and relative paths are the same warning, line numbers
    # dropped: a second instance of an old warning is new
    assert w[0] == w[1], w
    assert W.new(w[:2], w[:1]) == [w[1]]
    assert W.new(w[:1], w[:2]) == []
    errs = W.errors("kernel/dma/swiotlb.c:1690:37: error: 'struct "
                    "io_tlb_mem' has no member named 'peak_used'\n"
                    "ld: vmlinux.o: in function `f': undefined reference "
                    "to `g'\n  CC x.o\n")
    assert len(errs) == 2, errs


@test
def checkpatch_that_did_not_run_fails(fx):
    from .checks import checkpatch_verdict
    import fnmatch
    ok, summary, _ = checkpatch_verdict("p", 0, "", "", [], fnmatch.fnmatch)
    assert ok and summary == "clean"
    # a bad option or a missing perl module: rc 1, nothing on stdout
    ok, summary, _ = checkpatch_verdict("p", 1, "", "Unknown option: x\n",
                                        [], fnmatch.fnmatch)
    assert not ok, summary
    ok, summary, _ = checkpatch_verdict("p", 1, "", "", [],
                                        fnmatch.fnmatch)
    assert not ok and "did not run" in summary, summary
    # SPDX check without python3-ply: a traceback on stderr, rc 0
    ok, summary, _ = checkpatch_verdict(
        "p", 0, "", "ModuleNotFoundError: No module named 'ply'\n", [],
        fnmatch.fnmatch)
    assert not ok, summary
    line = "p:10: WARNING:LONG_LINE: line length of 81 exceeds 80 columns"
    ok, summary, det = checkpatch_verdict("p", 1, line + "\n", "", [],
                                          fnmatch.fnmatch)
    assert not ok and det, summary
    ok, summary, det = checkpatch_verdict("p", 1, line + "\n", "",
                                          [("p", "LONG_LINE")],
                                          fnmatch.fnmatch)
    assert ok, summary


@test
def missing_sparse_fails_the_static_checks(fx):
    from .common import Error
    from . import sweep as SW

    class Fake:
        files = ["kernel/dma/swiotlb.c"]
    old = os.environ["PATH"]
    os.environ["PATH"] = "/nonexistent"
    try:
        SW.static_checks(Fake(), None)
    except Error as e:
        assert "sparse" in str(e), e
    else:
        raise AssertionError("static checks ran without sparse")
    finally:
        os.environ["PATH"] = old


@test
def console_fails_on_stalls_lockups_and_forbidden_lines(fx):
    from .matrix import console_verdict
    bad = ["rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
           "rcu: INFO: rcu_preempt self-detected stall on CPU",
           "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [init:1]",
           "INFO: task kworker/0:1:12 blocked for more than 30 seconds.",
           "kernel BUG at kernel/dma/swiotlb.c:700!",
           "general protection fault, probably for non-canonical address",
           "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1"]
    for line in bad:
        assert console_verdict([line]), line
    full = "swiotlb buffer is full (sz: 4096 bytes), total 128 (slots)"
    assert not console_verdict([full])
    assert console_verdict([full], ["swiotlb buffer is full"])
    assert not console_verdict(["[ 1.0] virtio_blk virtio0: [vda] 262144 "
                                "512-byte logical blocks"])


@test
def a_command_line_the_machine_cut_fails_the_boot(fx):
    # loongson3-virt, 2026-12-02: the tail with dmastress.bench=0 was lost
    from .verdict import cmdline_cut
    append = ("console=ttyS0 swiotlb=128,force swiotlb.idle_ms=1000 "
              "dmastress.mode=swiotlb dmastress.bench=0")
    cut = ["[    0.000000] Kernel command line: console=ttyS0 "
           "swiotlb=128,force swiotlb.idle_ms=1000 dmastress.mode=swiotlb "
           "dmastress.be"]
    why = cmdline_cut(cut, append)
    assert why and "cut off" in why and "dmastress.be" in why, why
    whole = [cut[0][:-len("dmastress.be")] + "dmastress.bench=0"]
    assert cmdline_cut(whole, append) is None
    # a kernel that prints no such line (or an empty -append) is no verdict
    assert cmdline_cut(["Linux version 6.12"], append) is None
    assert cmdline_cut(cut, "") is None


@test
def a_built_in_suite_must_report_ok(fx):
    from .verdict import kunit_not_run
    con = ["[    2.10] KTAP version 1",
           "[    2.10]     ok 1 swiotlb_map_one_slot",
           "[    2.11] ok 1 swiotlb",
           "[    2.30]         ok 3 iova_rcache_depot",
           "[    2.40] # iova_rcache: pass:3 fail:0 skip:0 total:3"]
    assert kunit_not_run(con, ["swiotlb"]) == []
    # a nested case of that name, a summary line: neither is the suite
    why = kunit_not_run(con, ["swiotlb", "iova_rcache"])
    assert why == ["KUnit suite iova_rcache built in but never reported "
                   "ok"], why
    assert kunit_not_run(["ok 1 swiotlb"], ["swiotlb"]) == []
    # KTAP allows a dash before the name (v6.1 and 6.12 write none)
    assert kunit_not_run(["[ 3.2] ok 2 - iova"], ["iova"]) == []
    assert kunit_not_run(["[ 2.1] not ok 1 swiotlb"], ["swiotlb"])


@test
def a_hang_in_series_code_is_not_retried(fx):
    from .matrix import in_series_code
    assert in_series_code("swiotlb_find_slots+0x40 (x7), user space")
    assert in_series_code("__swiotlb_find_pool+0x1c (x8)")
    assert in_series_code("iova_magazine_free_pfns+0x10")
    assert in_series_code("no answer from the QEMU monitor")
    assert in_series_code("")
    assert not in_series_code("default_idle+0x10 (x6), user space (x2)")


@test
def flaky_is_never_a_plain_pass(fx):
    from . import results as R
    run = R.Run("test")
    run.add("matrix", "x86_64", "pass")
    run.add("matrix", "mips64el", "flaky", "boot 2 passed after a timeout")
    run.add("sweep", "i386", "skip")
    run.add("kunit", "swiotlb.map", "fail")
    text = run.closing()
    assert text.splitlines()[-1] == "2 passed, 1 failed, 1 skipped", text
    assert text.splitlines()[0].startswith("flaky: 1 (matrix mips64el"), text
    path = run.write(os.path.join(os.environ["PATCHTREE_OUT"], "run.json"))
    import json
    doc = json.load(open(path))
    assert [r["status"] for r in doc["results"]] == \
        ["pass", "flaky", "skip", "fail"], doc
    assert "flaky" in run.table()


@test
def kunit_json_gives_every_case(fx):
    from .commands import kunit_cases
    doc = {"name": "", "sub_groups": [
        {"name": "swiotlb", "test_cases": [
            {"name": "map_unmap", "status": "PASS"},
            {"name": "search_ends", "status": "FAIL"}]},
        {"name": "iova", "test_cases": [
            {"name": "reclaim", "status": "SKIP"},
            {"name": "crash", "status": "ERROR"}]}]}
    assert kunit_cases(doc) == [("swiotlb.map_unmap", "pass"),
                                ("swiotlb.search_ends", "fail"),
                                ("iova.reclaim", "skip"),
                                ("iova.crash", "fail")], kunit_cases(doc)


@test
def kunit_directives_group_suites_by_arch(fx):
    """kunit/*/.kunitconfig comments choose the architecture and kernel
    command line; one run per architecture, x86_64 first; a bad one is
    one line naming the file and line."""
    from . import commands as C
    from .common import Error
    d = os.path.join(fx.root, "kunit-top", "kunit")
    for name, text in (("swiotlb", "# patchtree-kernel-args: swiotlb=force"
                        "\nCONFIG_KUNIT=y\n"),
                       ("iova", "CONFIG_KUNIT=y\n"),
                       ("swiotlb-arm64-64k", "# patchtree-arch: arm64\n"
                        "# patchtree-kernel-args: swiotlb=force\n"),
                       ("bad", "CONFIG_KUNIT=y\n# patchtree-arch: sparc\n"),
                       ("typo", "# patchtree-archs: arm64\n")):
        os.makedirs(os.path.join(d, name))
        with open(os.path.join(d, name, ".kunitconfig"), "w") as f:
            f.write(text)
    old = C.M.TOP
    C.M.TOP = os.path.dirname(d)
    try:
        g = C.kunit_groups(["swiotlb-arm64-64k", "swiotlb", "iova"])
        assert g == [("x86_64", "swiotlb=force", ["swiotlb", "iova"]),
                     ("arm64", "swiotlb=force", ["swiotlb-arm64-64k"])], g
        for name, want in (("bad", "bad/.kunitconfig:2: patchtree-arch"),
                           ("typo", "typo/.kunitconfig:1: unknown")):
            try:
                C.kunit_groups([name])
            except Error as e:
                assert want in str(e), e
            else:
                raise AssertionError(f"{name}: no error")
    finally:
        C.M.TOP = old


@test
def kunit_ci_directive_leaves_a_suite_to_kunit(fx):
    """`# patchtree-ci: false` is read as a boolean; anything else is one
    line naming the file and line."""
    from . import commands as C
    from .selftest import expect_error
    d = os.path.join(fx.root, "kunit-ci")
    os.makedirs(d)
    for name, text in (("off", "# patchtree-ci: false\nCONFIG_KUNIT=y\n"),
                       ("on", "CONFIG_KUNIT=y\n"),
                       ("bad", "CONFIG_KUNIT=y\n# patchtree-ci: no\n")):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    assert C.kunit_directives(os.path.join(d, "off"))["ci"] is False
    assert C.kunit_directives(os.path.join(d, "on"))["ci"] is True
    expect_error(lambda: C.kunit_directives(os.path.join(d, "bad")),
                 "bad:2: patchtree-ci")


@test
def sparse_allowlist_needs_a_reason_and_matches_whole_lines(fx):
    """Only a line an entry's glob matches in full is allowed, and the
    reason goes with it; an entry without a reason is an error."""
    from . import sweep as SW
    from .selftest import expect_error
    p = os.path.join(fx.root, "sparse-allowlist")
    with open(p, "w") as f:
        f.write("# comment\n\nsparse include/linux/rbtree.h: error: "
                "incompatible types * # rb_link_node_rcu()\n")
    allow = SW.static_allowlist(p)
    new, ok = SW.allowed_static(
        ["sparse include/linux/rbtree.h: error: incompatible types in "
         "comparison expression (different address spaces):",
         "sparse kernel/dma/swiotlb.c: error: incompatible types in "
         "comparison expression (different address spaces):"], allow)
    assert new == ["sparse kernel/dma/swiotlb.c: error: incompatible "
                   "types in comparison expression (different address "
                   "spaces):"], new
    assert len(ok) == 1 and ok[0].endswith("(allowed: rb_link_node_rcu())")
    with open(p, "a") as f:
        f.write("sparse kernel/dma/swiotlb.c: *\n")
    expect_error(lambda: SW.static_allowlist(p), "sparse-allowlist:4:")


@test
def sweep_objects_follow_the_series(fx):
    """The sweep's objects: those linked that are built from a touched
    .c file or depend on a touched header (a header most objects depend
    on is represented by the touched files)."""
    from . import sweep as SW
    linked = ["kernel/dma/swiotlb.o", "kernel/dma/direct.o",
              "kernel/dma/pool.o", "mm/filemap.o"] + \
        [f"fs/f{i}.o" for i in range(SW.MAX_DEPENDENTS + 1)]
    deps = {"kernel/dma/swiotlb.o": {"/w/include/linux/swiotlb.h"},
            "kernel/dma/direct.o": {"/w/kernel/dma/direct.h",
                                    "/w/include/linux/swiotlb.h",
                                    "/w/include/linux/device.h"},
            "kernel/dma/pool.o": {"/w/include/linux/device.h"},
            "mm/filemap.o": {"/w/include/linux/device.h"}}
    for i in range(SW.MAX_DEPENDENTS + 1):
        deps[f"fs/f{i}.o"] = {"/w/include/linux/device.h"}
    objs = SW.select_objects(linked, deps, [
        "kernel/dma/swiotlb.c", "include/linux/swiotlb.h",
        "include/linux/device.h", "Documentation/x.rst"], "/w/")
    assert objs == ["kernel/dma/direct.o", "kernel/dma/swiotlb.o"], objs
    # nothing linked from the series: nothing to compile (the entry
    # then fails rather than passing on no object)
    assert SW.select_objects(["mm/filemap.o"], {}, ["kernel/dma/x.c"]) \
        == []


@test
def warnings_are_relative_to_the_tree(fx):
    from . import warnings as W
    w = W.parse("/w/kernel/dma/swiotlb.c:3:1: warning: x\n"
                "kernel/dma/swiotlb.c:9:1: warning: x\n"
                "vmlinux.o: warning: objtool: swiotlb_map+0x1a: y\n"
                "vmlinux.o: warning: objtool: swiotlb_map+0x2b: y\n", "/w")
    assert w[0] == w[1] == "cc kernel/dma/swiotlb.c: x", w
    assert w[2] == w[3], w
    assert W.norm(".config") == ".config"


@test
def verdict_decides_every_way_a_boot_ends(fx):
    from .verdict import decide
    ok = dict(timed_out=False, bad_lines=[], planned=5, ok=5, bad=[],
              passed=True, tmo=420)
    assert decide(**ok) == ""
    for change, want in [
            (dict(bad_lines=["WARNING: CPU: 0 PID: 1"]), "console: WARNING"),
            (dict(timed_out=True), "timeout after 420s"),
            (dict(timed_out=True, bad_lines=["rcu: INFO: rcu_sched "
                                             "detected stalls"]),
             "console: rcu"),
            (dict(bad=["write_verify"], ok=4), "failed: write_verify"),
            (dict(passed=False), "no complete verdict"),
            (dict(planned=None), "no complete verdict"),
            (dict(ok=4), "no complete verdict")]:
        why = decide(**dict(ok, **change))
        assert why.startswith(want), (change, why)


@test
def a_worktree_is_held_by_one_patchtree(fx):
    from .common import Error
    from . import worktree as WT

    class B:
        name = "lock-test"

        def tag(self, variant):
            return f"{self.name}+{variant}"
    with WT.lock(B(), "sweep"):
        try:
            with WT.lock(B(), "sweep"):
                pass
        except Error as e:
            assert "in use by another patchtree" in str(e), e
        else:
            raise AssertionError("a second lock was granted")
    with WT.lock(B(), "sweep"):
        pass                                    # released after use
