# SPDX-License-Identifier: GPL-2.0
"""Self-tests of the series lines (tooling/lines.py): the series file
and worktrees a line selects, the `line:` key of test-matrix.yaml, the
kunit directive, run.json.  Collected by selftest.child()."""

import argparse
import json
import os
import shutil

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def _mainline(fx):
    """A series.mainline beside the fixture's series: one posting
    'mainline-swiotlb' holding a copy of the swiotlb posting's first
    patch.  Returns a function that removes it again."""
    pdir = os.path.join(fx.top, "patches", "mainline-swiotlb")
    os.makedirs(pdir)
    src = os.path.join(fx.top, "patches", "swiotlb")
    for f in ("0000-cover-letter.patch", os.path.basename(fx.names[0])):
        shutil.copy(os.path.join(src, f), pdir)
    sfile = os.path.join(fx.top, "series.mainline")
    with open(sfile, "w") as f:
        f.write("# the mainline line\n# posting: mainline-swiotlb\n"
                f"mainline-swiotlb/{os.path.basename(fx.names[0])}\n")

    def undo():
        shutil.rmtree(pdir)
        os.unlink(sfile)
    return undo


@test
def a_line_picks_its_series_file_and_worktrees(fx):
    from .base import get_base
    from .series import Series, apply
    undo = _mainline(fx)
    try:
        old = Series(fx.top)
        new = Series(fx.top, "mainline")
        assert [p.name for p in old.postings] == ["swiotlb", "iova"]
        assert [p.name for p in new.postings] == ["mainline-swiotlb"]
        # each line's check leaves the other's posting directories alone
        assert not old.problems(), old.problems()
        assert not new.problems(), new.problems()
        b1 = get_base(fx.kernel)
        b2 = get_base(fx.kernel, line="mainline")
        assert b1.repo == b2.repo and b1.commit == b2.commit
        # the same --base, two lines: two worktrees, two edit branches
        w1, w2 = apply(b1, old), apply(b2, new)
        assert w1 != w2 and w2.endswith("+mainline-series"), (w1, w2)
        assert b1.tag("plain") == b2.tag("plain")
        assert b1.edit_branch != b2.edit_branch
        from .selftest import sh
        assert sh(w1, "git", "rev-list", "--count", f"{fx.base}..HEAD") \
            == "3"
        assert sh(w2, "git", "rev-list", "--count", f"{fx.base}..HEAD") \
            == "1"
    finally:
        undo()


@test
def a_missing_series_mainline_is_one_line(fx):
    from .series import Series
    from .selftest import expect_error
    err = expect_error(lambda: Series(fx.top, "mainline"),
                       "series.mainline", "missing", "line mainline")
    assert "\n" not in err, err
    expect_error(lambda: Series(fx.top, "v7"), "unknown line 'v7'")


@test
def a_posting_dir_of_no_line_is_reported(fx):
    from .series import Series
    d = os.path.join(fx.top, "patches", "mainline-iova")
    os.makedirs(d)
    shutil.copy(os.path.join(fx.top, "patches", fx.names[2]), d)
    try:
        p = Series(fx.top).problems()
        assert any("patches/mainline-iova/" in x and "series.mainline" in x
                   for x in p), p
    finally:
        shutil.rmtree(d)


@test
def a_bad_line_key_names_file_line_and_key(fx):
    from .matrix import load
    from .selftest import expect_error
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(top, "test-matrix.yaml")).read()
    bad = os.path.join(fx.root, "bad-line.yaml")
    for old in ("  - name: mainline-x86_64\n    line: mainline\n",
                "  - name: mainline-x86_64-all\n    line: mainline\n"):
        assert old in text, old
        with open(bad, "w") as f:
            f.write(text.replace(old, old.replace("mainline\n",
                                                  "v6.2\n")))
        n = text[:text.index(old)].count("\n") + 2
        err = expect_error(lambda: load(bad), f"bad-line.yaml:{n}:",
                           "line: want one of v6.1.y, mainline",
                           "'v6.2'")
        assert "\n" not in err, err


@test
def rows_and_sweep_entries_belong_to_their_line(fx):
    from .matrix import load, select_rows
    from .selftest import expect_error
    from . import sweep as SW
    from .build import FRAG_DIR
    m = load()
    old = [r["name"] for r in select_rows(m, [])]
    new = [r["name"] for r in select_rows(m, [], "mainline")]
    assert "x86_64" in old and "mainline-x86_64" not in old, old
    assert set(new) >= {"mainline-x86_64", "mainline-x86_64-iommu",
                        "mainline-arm64", "mainline-arm64-iommu",
                        "mainline-mips64el"}, new
    expect_error(lambda: select_rows(m, ["mainline-x86_64"]),
                 "row mainline-x86_64 is of line mainline",
                 "--line mainline")
    ents = SW.entries(m, FRAG_DIR, ci_only=True, line="mainline")
    assert ents and all(e.line == "mainline" for e in ents), ents
    cfg = " ".join(c for e in SW.entries(m, FRAG_DIR, line="mainline")
                   for c in e.config)
    assert "CONFIG_DEBUG_FS=n" in cfg and "CONFIG_SWIOTLB_DYNAMIC=n" in cfg
    expect_error(lambda: SW.entries(m, FRAG_DIR, ["x86_64-all"],
                                    line="mainline"),
                 "x86_64-all is of line v6.1.y")


@test
def kunit_line_directive(fx):
    from .commands import kunit_directives
    from .selftest import expect_error
    kc = os.path.join(fx.root, "kunitconfig-line")
    with open(kc, "w") as f:
        f.write("# patchtree-line: mainline\nCONFIG_KUNIT=y\n")
    assert kunit_directives(kc)["line"] == "mainline"
    with open(kc, "w") as f:
        f.write("CONFIG_KUNIT=y\n")
    assert kunit_directives(kc)["line"] == "v6.1.y"
    with open(kc, "w") as f:
        f.write("CONFIG_KUNIT=y\n# patchtree-line: v6.2\n")
    expect_error(lambda: kunit_directives(kc), "kunitconfig-line:2:",
                 "patchtree-line: 'v6.2'")


@test
def run_json_names_the_line_of_every_result(fx):
    from . import results as R
    run = R.Run("test")
    run.add("selftest", "a", "pass")
    for line in ("v6.1.y", "mainline"):
        run.line = line
        run.add("check", "series_file", "pass")
        run.add("matrix", "row", "fail" if line == "mainline" else "pass")
    run.line = None
    path = run.write(os.path.join(fx.root, "lines-run.json"))
    doc = json.load(open(path))
    assert [r["line"] for r in doc["results"]] == \
        [None, "v6.1.y", "v6.1.y", "mainline", "mainline"], doc
    table = run.table()
    assert "line" in table.splitlines()[0], table
    assert sum("mainline" in x for x in table.splitlines()) == 2, table
    assert run.closing() == "4 passed, 1 failed", run.closing()


@test
def test_runs_every_line_unless_told(fx):
    from .commands import test_lines
    from .selftest import expect_error
    a = argparse.Namespace(line=None, base=None, ref=None, rows=[])
    assert test_lines(a) == ["v6.1.y", "mainline"]
    a.rows = ["mainline-arm64"]
    assert test_lines(a) == ["mainline"]
    a.rows, a.line = [], "mainline"
    assert test_lines(a) == ["mainline"]
    a.line, a.base = None, "/some/linux"
    expect_error(lambda: test_lines(a), "--line")


@test
def extra_cc_is_read_from_the_b4_config(fx):
    from .mail import contacts
    s = fx.series()
    conf = os.path.join(fx.top, "b4", "iova.conf")
    orig = open(conf).read()
    with open(conf, "a") as f:
        f.write("  extra-cc = Someone <someone@example.org>\n")
    try:
        c = contacts(s.posting("iova"))
        assert c["extra_cc"] == [("Someone", "someone@example.org")], c
    finally:
        open(conf, "w").write(orig)


@test
def bench_kernels_take_their_line(fx):
    from . import bench
    from .selftest import expect_error, sh
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(top, "bench.yaml")).read()
    cfg = bench.load()
    assert cfg["kernels"]["mainline"] == {"base": "debian-6.12",
                                          "line": "mainline"}, cfg
    assert "mainline-tiny" in cfg["plot"], cfg["plot"]
    bad = os.path.join(fx.root, "bad-bench.yaml")
    old = "  mainline: {base: debian-6.12, line: mainline}\n"
    assert old in text, old
    for new, words in (
            (old.replace("line: mainline", "line: v6.2"),
             ["kernel mainline: line: want one of v6.1.y, mainline",
              "'v6.2'"]),
            (old.replace("line: mainline", "lines: mainline"),
             ["kernel mainline", "unknown key 'lines'"])):
        with open(bad, "w") as f:
            f.write(text.replace(old, new))
        n = text[:text.index(old)].count("\n") + 1
        err = expect_error(lambda: bench.load(bad),
                           f"bad-bench.yaml:{n}:", *words)
        assert "\n" not in err, err
    with open(bad, "w") as f:
        f.write(text.replace("dmastress.memcpy=1\n",
                             "dmastress.memcpy=1 dmastress.module=/x.ko\n"))
    expect_error(lambda: bench.load(bad), "bad-bench.yaml:", "guest",
                 "dmastress.module=", "'module:'")
    # a row's guest parameter replaces the bench-wide one; the module
    # goes last
    row = next(r for r in cfg["rows"] if r["name"] == "mainline-1m")
    assert bench.row_module(cfg, row) == "bench/swiotlb"
    common, own = bench.row_guest(dict(cfg, guest="dmastress.trace=1 "
                                       "dmastress.memcpy=1"), "icount",
                                  dict(row, guest="dmastress.memcpy=0"),
                                  "swiotlb_bench.ko")
    assert (common, own) == ("dmastress.trace=1", "dmastress.threads=1 "
                             "dmastress.memcpy=0 "
                             "dmastress.module=/swiotlb_bench.ko"), own
    # the line picks the series file and the worktree; no line: v6.1.y
    undo = _mainline(fx)
    try:
        for k, tail, n in (({"base": fx.kernel, "line": "mainline"},
                            "+mainline-series", "1"),
                           ({"base": fx.kernel}, "+series", "3"),
                           ({"base": fx.kernel, "plain": True}, "+plain",
                            "0")):
            base, variant, wt = bench.kernel_tree(k, fx.top)
            assert wt.endswith(tail), (k, wt)
            assert sh(wt, "git", "rev-list", "--count",
                      f"{fx.base}..HEAD") == n, (k, wt)
    finally:
        undo()
