# SPDX-License-Identifier: GPL-2.0
"""The tooling's own tests, on a small fake kernel tree made here.

Run as 'patchtree selftest': it re-runs this module in a child process
whose out/ is a scratch directory, so the tests never touch real work.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
import time

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main(args=None, lines=None):
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="patchtree-selftest-") as tmp:
        env = dict(os.environ, PATCHTREE_OUT=os.path.join(tmp, "out"),
                   PATCHTREE_SCRATCH=tmp)
        p = subprocess.Popen([sys.executable, "-B", "-m", "tooling.selftest"],
                             cwd=top, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        counts = (0, 1)
        for line in p.stdout:
            print(line, end="", flush=True)
            if lines is not None:
                lines.append(line.rstrip("\n"))
            m = re.match(r"selftest: (\d+) passed, (\d+) failed", line)
            if m:
                counts = (int(m.group(1)), int(m.group(2)))
        if p.wait() and not counts[1]:
            counts = (counts[0], 1)
    return counts


# --- everything below runs in the child ---------------------------------

def sh(cwd, *cmd, check=True):
    from .common import IDENTITY
    p = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, **IDENTITY))
    if check and p.returncode:
        raise AssertionError(f"{cmd}: {p.stderr}")
    return p.stdout.strip()


LONG = ("iommu/iova: change line five of the allocator, with a subject "
        "long enough that format-patch folds it")


class Fixture:
    """A fake kernel git tree and a series tree of two postings on it:
    'swiotlb' (two patches) and 'iova' (one patch, with a folded
    subject), each with its cover letter and b4 config."""

    def __init__(self, root):
        self.root = root
        self.kernel = os.path.join(root, "linux")
        for d in ("kernel/dma", "drivers/iommu"):
            os.makedirs(os.path.join(self.kernel, d))
        with open(os.path.join(self.kernel, "Makefile"), "w") as f:
            f.write("VERSION = 6\nPATCHLEVEL = 1\n")
        with open(os.path.join(self.kernel, "kernel/dma/swiotlb.c"), "w") as f:
            f.write("".join(f"int line{i};\n" for i in range(40)))
        with open(os.path.join(self.kernel, "drivers/iommu/iova.c"), "w") as f:
            f.write("".join(f"int iova{i};\n" for i in range(10)))
        sh(self.kernel, "git", "init", "-q", "-b", "master")
        sh(self.kernel, "git", "add", "-A")
        sh(self.kernel, "git", "commit", "-q", "-m", "base")
        self.base = sh(self.kernel, "git", "rev-parse", "HEAD")
        work = os.path.join(root, "work")
        sh(root, "git", "clone", "-q", self.kernel, work)
        self.top = os.path.join(root, "tree")
        for posting, edits in (
                ("swiotlb", [("kernel/dma/swiotlb.c", 3,
                              "swiotlb: change line three"),
                             ("kernel/dma/swiotlb.c", 20,
                              "swiotlb: change line twenty")]),
                ("iova", [("drivers/iommu/iova.c", 5, LONG)])):
            sh(work, "git", "checkout", "-q", "-b", posting, self.base)
            for i, (path, ln, subj) in enumerate(edits):
                src = os.path.join(work, path)
                lines = open(src).read().splitlines(True)
                lines[ln] = f"long {posting}{ln}; /* patch {i + 1} */\n"
                open(src, "w").write("".join(lines))
                sh(work, "git", "commit", "-q", "-a", "-m",
                   f"{subj}\n\nWhy: a test.\n\n"
                   f"Signed-off-by: T <t@example.org>")
            sh(work, "git", "config", f"branch.{posting}.description",
               f"{posting}: test posting\n\nA cover letter body.\n")
            self.format(work, posting)
        self.names = [f"swiotlb/{n}" for n in self.listing("swiotlb")] + \
            [f"iova/{n}" for n in self.listing("iova")]
        with open(os.path.join(self.top, "series"), "w") as f:
            f.write("# banner\n# posting: swiotlb\n" +
                    "\n".join(self.names[:2]) + "\n# second\n"
                    "# posting: iova\n" + self.names[2] + "\n")
        os.makedirs(os.path.join(self.top, "b4"))
        for posting in ("swiotlb", "iova"):
            with open(os.path.join(self.top, "b4", f"{posting}.conf"),
                      "w") as f:
                f.write(f"[b4]\n  send-series-to = A Maintainer "
                        f"<{posting}@example.org>\n  send-series-cc = "
                        f"list@example.org\n[patchtree]\n  to-section = "
                        f"{posting.upper()}\n")

    def format(self, work, posting):
        from .series import format_patches
        pdir = os.path.join(self.top, "patches", posting)
        os.makedirs(pdir)
        format_patches(work, self.base, posting, pdir)

    def listing(self, posting):
        return sorted(n for n in os.listdir(os.path.join(
            self.top, "patches", posting)) if n[:4] != "0000")

    def series(self):
        from .series import Series
        return Series(self.top)


def expect_error(fn, *words):
    from .common import Error
    try:
        fn()
    except Error as e:
        for w in words:
            assert w in str(e), f"error lacks '{w}': {e}"
        return str(e)
    raise AssertionError(f"no error (wanted one naming {words})")


@test
def series_catches_missing_patch(fx):
    s = fx.series()
    os.rename(s.path(fx.names[1]), s.path(fx.names[1]) + ".off")
    try:
        expect_error(s.validate, fx.names[1], "does not exist")
    finally:
        os.rename(s.path(fx.names[1]) + ".off", s.path(fx.names[1]))


@test
def series_catches_unlisted_patch(fx):
    s = fx.series()
    extra = os.path.join(s.pdir, "swiotlb", "0009-stray.patch")
    shutil.copy(s.path(fx.names[0]), extra)
    try:
        expect_error(s.validate, "0009-stray.patch", "not listed")
    finally:
        os.unlink(extra)


@test
def series_catches_duplicate(fx):
    s = fx.series()
    orig = open(s.file).read()
    open(s.file, "w").write(orig.replace(fx.names[0] + "\n",
                                         fx.names[0] + "\n" + fx.names[0] +
                                         "\n"))
    try:
        expect_error(fx.series().validate, "listed twice")
    finally:
        open(s.file, "w").write(orig)


@test
def bad_base_path(fx):
    from .base import get_base
    expect_error(lambda: get_base(os.path.join(fx.root, "nope")),
                 "no such directory")
    plain = os.path.join(fx.root, "plain-dir")
    os.makedirs(plain, exist_ok=True)
    expect_error(lambda: get_base(plain), "not a git repository")
    expect_error(lambda: get_base("debian-5.10"), "unknown Debian base")


@test
def missing_ref(fx):
    from .base import get_base
    expect_error(lambda: get_base(fx.kernel, "no-such-ref"),
                 "has no ref 'no-such-ref'")


@test
def dirty_user_tree_is_refused_and_untouched(fx):
    from .base import get_base
    f = os.path.join(fx.kernel, "kernel/dma/swiotlb.c")
    orig = open(f).read()
    open(f, "a").write("/* user's work */\n")
    try:
        expect_error(lambda: get_base(fx.kernel), "uncommitted changes")
        assert open(f).read().endswith("/* user's work */\n")
        assert sh(fx.kernel, "git", "rev-parse", "HEAD") == fx.base
    finally:
        open(f, "w").write(orig)


@test
def apply_series_and_noop_reapply(fx):
    from .base import get_base
    from .series import apply
    b = get_base(fx.kernel)
    wt = apply(b, fx.series())
    assert sh(wt, "git", "rev-list", "--count", f"{fx.base}..HEAD") == "3"
    head = sh(wt, "git", "rev-parse", "HEAD")
    mtime = os.stat(os.path.join(wt, "kernel/dma/swiotlb.c")).st_mtime_ns
    apply(b, fx.series())
    assert sh(wt, "git", "rev-parse", "HEAD") == head
    assert os.stat(os.path.join(wt, "kernel/dma/swiotlb.c")).st_mtime_ns \
        == mtime, "re-apply of an unchanged series touched the tree"
    # the user's tree was only read
    assert sh(fx.kernel, "git", "status", "--porcelain") == ""
    assert sh(fx.kernel, "git", "rev-parse", "HEAD") == fx.base


@test
def failing_patch_names_patch_file_hunk(fx):
    from .base import get_base
    from .series import apply
    s = fx.series()
    p = s.path(fx.names[1])
    orig = open(p).read()
    open(p, "w").write(orig.replace("-int line20;", "-int line20_x;"))
    try:
        b = get_base(fx.kernel)
        err = expect_error(lambda: apply(b, fx.series()), fx.names[1],
                           "kernel/dma/swiotlb.c", "hunk at line")
        wt = b.worktree("series")
        assert sh(wt, "git", "rev-parse", "HEAD") == fx.base, \
            "half-applied series left behind"
        assert sh(wt, "git", "status", "--porcelain") == "", err
        assert not os.path.isdir(os.path.join(
            sh(wt, "git", "rev-parse", "--git-dir"), "rebase-apply"))
    finally:
        open(p, "w").write(orig)


def _tree_files(top):
    pdir = os.path.join(top, "patches")
    return {os.path.relpath(os.path.join(d, f), pdir):
            open(os.path.join(d, f), "rb").read()
            for d, _, fs in os.walk(pdir) for f in fs}


@test
def export_of_unchanged_branch_changes_no_byte(fx):
    from .base import get_base
    from .series import edit, export, split_branch
    b = get_base(fx.kernel)
    before = _tree_files(fx.top)
    series_before = open(os.path.join(fx.top, "series"), "rb").read()
    wt = edit(b, fx.series())
    # per posting an empty cover commit, then its patches
    groups = split_branch(wt, b, fx.series())
    assert [(p.name, len(c)) for p, _, c in groups] == \
        [("swiotlb", 2), ("iova", 1)], groups
    assert sh(wt, "git", "log", "-1", "--format=%s", groups[1][1]) == \
        "iova: test posting"
    export(b, fx.series(), wt)
    after = _tree_files(fx.top)
    assert before.keys() == after.keys(), (before.keys(), after.keys())
    for f in before:
        assert before[f] == after[f], f"export changed {f}"
    assert open(os.path.join(fx.top, "series"), "rb").read() == \
        series_before, "export changed the series file"
    # a real edit shows up in the export, in its posting's directory
    sh(wt, "git", "commit", "-q", "--amend", "-m",
       "iommu/iova: line five differently\n\nWhy.\n\n"
       "Signed-off-by: T <t@example.org>")
    names = export(b, fx.series(), wt)
    assert names[2].startswith("iova/0001-iommu-iova-line-five-differently")
    text = open(os.path.join(fx.top, "series")).read()
    assert names[2] in text and fx.names[2] not in text, text
    assert "# second\n# posting: iova\n" in text, text
    assert not os.path.exists(os.path.join(fx.top, "patches", fx.names[2]))
    # put the fixture back for the tests after this one
    for f in _tree_files(fx.top):
        os.unlink(os.path.join(fx.top, "patches", f))
    for f, data in before.items():
        open(os.path.join(fx.top, "patches", f), "wb").write(data)
    open(os.path.join(fx.top, "series"), "wb").write(series_before)


@test
def export_writes_each_posting_numbered_alone(fx):
    from .checks import cover_letter, subject
    s = fx.series()
    for p, n in zip(s.postings, (2, 1)):
        ok, summary, _ = cover_letter(s, p, None)
        assert ok and summary.startswith(f"[PATCH 0/{n}] {p.name}: test "
                                         f"posting"), summary
        for i, name in enumerate(p.names, 1):
            ok, summary, _ = subject(s, p, None, i, name)
            assert ok, (name, summary)
    # the iova patch was formatted against the base alone
    text = open(s.path(fx.names[2])).read()
    assert "[PATCH] " not in text and "base-commit" not in text, text[:300]
    cover = open(s.postings[1].cover).read()
    assert f"base-commit: {fx.base}" in cover, cover


@test
def posting_markers_are_parsed(fx):
    s = fx.series()
    assert [(p.name, p.line, p.names) for p in s.postings] == \
        [("swiotlb", 2, fx.names[:2]), ("iova", 6, fx.names[2:])], \
        [(p.name, p.line, p.names) for p in s.postings]
    assert s.names == fx.names
    assert s.path(fx.names[2]) == os.path.join(fx.top, "patches",
                                               fx.names[2])
    assert s.posting("iova").cover.endswith("patches/iova/"
                                            "0000-cover-letter.patch")
    expect_error(lambda: s.posting("nope"), "no posting 'nope'",
                 "swiotlb, iova")


@test
def bad_posting_marker_is_one_line(fx):
    from .series import Series
    top = os.path.join(fx.root, "bad-series")
    os.makedirs(top, exist_ok=True)
    f = os.path.join(top, "series")
    ok = "# posting: swiotlb\nswiotlb/0001-a.patch\n"
    for text, line, words in (
            ("#posting swiotlb\nswiotlb/0001-a.patch\n", 1,
             ["bad posting marker '#posting swiotlb'", "# posting: NAME"]),
            ("# Posting: swiotlb\n", 1, ["bad posting marker"]),
            ("# posting: Two Words\n", 1, ["bad posting marker"]),
            ("# posting:swiotlb\n", 1, ["bad posting marker"]),
            ("swiotlb/0001-a.patch\n" + ok, 1, ["comes before the first"]),
            (ok + "iova/0001-b.patch\n", 3,
             ["is in posting 'swiotlb' (line 1)", "want 'swiotlb/FILE'"]),
            (ok + "0002-flat.patch\n", 3, ["want 'swiotlb/FILE'"]),
            (ok + "# posting: swiotlb\nswiotlb/0002-b.patch\n", 3,
             ["posting 'swiotlb' again (first at line 1)"]),
            (ok + "# posting: iova\n", 3, ["posting 'iova' lists no "
                                           "patches"]),
            ("# only comments\n", None, ["no '# posting: NAME' line"])):
        open(f, "w").write(text)
        where = f"{f}:{line}: " if line else f"{f}: "
        err = expect_error(lambda: Series(top), where, *words)
        assert len(err.splitlines()) == 1, err
    # an ordinary comment that mentions postings is no marker
    open(f, "w").write("# postings follow\n# the posting: below\n" + ok)
    assert [p.name for p in Series(top).postings] == ["swiotlb"]


@test
def export_refuses_a_posting_that_needs_another(fx):
    from .series import export
    from .selftest_robust import edit_copy, read_patches
    b, s, before, wt = edit_copy(fx, "tree-dependent")
    # an iova patch on a line that only the swiotlb posting has
    f = os.path.join(wt, "kernel/dma/swiotlb.c")
    text = open(f).read()
    assert "long swiotlb3;" in text, text
    open(f, "w").write(text.replace("long swiotlb3;", "long swiotlb3_iova;"))
    sh(wt, "git", "commit", "-q", "-a", "-m", "iommu/iova: needs swiotlb"
       "\n\nWhy.\n\nSigned-off-by: T <t@example.org>")
    err = expect_error(lambda: export(b, s, wt), "posting iova does not "
                       "apply to the base alone", "iommu/iova: needs "
                       "swiotlb", "kernel/dma/swiotlb.c")
    assert len(err.splitlines()) == 1, err
    assert read_patches(s) == before, "a refused export wrote patches/"
    # a branch whose cover commits do not match the series' postings
    sh(wt, "git", "reset", "-q", "--hard", f"{fx.base}")
    sh(wt, "git", "commit", "-q", "--allow-empty", "-m", "only cover")
    expect_error(lambda: export(b, s, wt), "1 empty commits",
                 "2 postings (swiotlb, iova)")


@test
def mbox_per_posting(fx):
    from .base import get_base
    from .mail import mbox
    b = get_base(fx.kernel)
    s = fx.series()
    for p, n in zip(s.postings, (2, 1)):
        path = mbox(b, p, os.path.join(fx.root, f"{p.name}.mbox"))
        text = open(path).read()
        subjects = re.findall(r"^Subject: (.*)$", text, re.M)
        assert subjects[0].startswith(f"[PATCH 0/{n}] {p.name}: "), subjects
        assert [x.split("]")[0] for x in subjects[1:]] == \
            [f"[PATCH {i}/{n}" for i in range(1, n + 1)], subjects
        assert text.count("In-Reply-To: <") == n, "patches not threaded"
        assert text.count(f"\nTo: A Maintainer <{p.name}@example.org>\n"
                          ) == n + 1, text[:600]
        assert text.count("\nCc: list@example.org\n") == n + 1
    # the folded subject is one line in the mbox (b4 am -m needs that)
    assert "Subject: [PATCH 1/1] " + LONG + "\n" in text, text[:600]
    # a posting without its b4 config
    os.rename(os.path.join(fx.top, "b4", "iova.conf"),
              os.path.join(fx.top, "b4", "iova.off"))
    try:
        expect_error(lambda: mbox(b, s.postings[1],
                                  os.path.join(fx.root, "x.mbox")),
                     "b4/iova.conf: missing")
    finally:
        os.rename(os.path.join(fx.top, "b4", "iova.off"),
                  os.path.join(fx.top, "b4", "iova.conf"))


@test
def edit_refuses_to_discard_work(fx):
    from .base import get_base
    from .series import edit
    b = get_base(fx.kernel)
    wt = b.worktree("edit")
    open(os.path.join(wt, "kernel/dma/swiotlb.c"), "a").write("/* wip */\n")
    try:
        expect_error(lambda: edit(b, fx.series()), "already holds work")
    finally:
        sh(wt, "git", "checkout", "--", ".")


@test
def b4_round_trip(fx):
    """Each posting's mbox through b4 am -m and git am onto the plain
    base: the iova posting applies alone, without swiotlb's patches."""
    from .base import get_base
    from .mail import mbox, b4_roundtrip
    from .common import need
    need("b4")
    b = get_base(fx.kernel)
    for p in fx.series().postings:
        path = mbox(b, p, os.path.join(fx.root, f"{p.name}.mbox"))
        got = b4_roundtrip(b, path, os.path.join(fx.root, "b4-" + p.name))
        assert len(got) == len(p.names), (p.name, got)
    # the iova commit sits right on the base
    wt = b.worktree("post")
    assert sh(wt, "git", "rev-parse", "HEAD") == fx.base


@test
def mbox_signed_by_the_poster(fx):
    """--from: the tree's placeholder From: and Signed-off-by: become
    the poster's; a real Signed-off-by stays, the poster's comes last."""
    from .base import get_base
    from .mail import mbox, b4_roundtrip
    from .selftest_robust import tree_copy
    from .common import need
    need("b4")
    b = get_base(fx.kernel)
    s = tree_copy(fx, "tree-resign")
    p1 = s.path(fx.names[0])
    text = open(p1).read()
    open(p1, "w").write(text.replace(
        "Signed-off-by: T <t@example.org>",
        "Signed-off-by: dma-series tree <dma-series@lists.invalid>"))
    me = "J\u00f6rg Poster <jp@example.org>"
    path = mbox(b, s.postings[0], os.path.join(fx.root, "signed.mbox"),
                sender=me)
    text = open(path).read()
    assert ".invalid>" not in text.replace("patchtree.invalid>", ""), text
    got = b4_roundtrip(b, path, os.path.join(fx.root, "b4-signed"))
    assert got == [f"{me}\t{me}", f"{me}\tT <t@example.org>;{me}"], got
    expect_error(lambda: mbox(b, s.postings[0], path, sender="me"),
                 "--from 'me'", "Your Name <you@example.org>")
    expect_error(lambda: mbox(b, s.postings[0], path,
                              sender="X <x@lists.invalid>"), "placeholder")


@test
def get_maintainer_roles_are_parsed(fx):
    from .checks import _roles, _same_section
    out = _roles(
        "Christoph Hellwig <hch@lst.de> (supporter:DMA MAPPING HELPERS)\n"
        "Robin Murphy <robin.murphy@arm.com> (maintainer:IOMMU DMA-API "
        "LAYER,reviewer:IOMMU SUBSYSTEM)\n"
        "Greg KH <gregkh@linuxfoundation.org> (supporter:DRIVER CORE, "
        "KOBJECTS, DEBUGFS AND SYSFS)\n"
        "iommu@lists.linux.dev (open list:IOMMU SUBSYSTEM)\n")
    assert out["hch@lst.de"] == [("supporter", "DMA MAPPING HELPERS")]
    assert out["robin.murphy@arm.com"] == [
        ("maintainer", "IOMMU DMA-API LAYER"),
        ("reviewer", "IOMMU SUBSYSTEM")], out
    assert out["gregkh@linuxfoundation.org"] == [
        ("supporter", "DRIVER CORE, KOBJECTS, DEBUGFS AND SYSFS")], out
    assert out["iommu@lists.linux.dev"] == [("open list", "IOMMU SUBSYSTEM")]
    assert _same_section("DMA BOUNCE BUFFERS AND IOVA CACHING (dynamic sw...",
                         "DMA BOUNCE BUFFERS AND IOVA CACHING (dynamic "
                         "swiotlb, flexible IOVA depot)")


@test
def verdict_parser_and_console_scan(fx):
    from .matrix import parse_ktap, BAD_CONSOLE
    d = os.path.join(fx.root, "ktap")
    os.makedirs(d, exist_ok=True)
    good = os.path.join(d, "good")
    open(good, "w").write("KTAP version 1\n1..2\nok 1 a\nok 2 b\n"
                          "# dmastress: PASS (0 of 2 failed)\n")
    assert parse_ktap(good) == (2, 2, [], True)
    bad = os.path.join(d, "bad")
    open(bad, "w").write("KTAP version 1\n1..2\nok 1 a\n"
                         "not ok 2 write_verify # a reader failed\n")
    assert parse_ktap(bad)[2] == ["write_verify"]
    assert parse_ktap(os.path.join(d, "missing"))[3] is False
    for line in ("BUG: KASAN: use-after-free in swiotlb_tbl_map_single",
                 "WARNING: CPU: 0 PID: 1 at kernel/dma/swiotlb.c:99",
                 "BUG: sleeping function called from invalid context",
                 "WARNING: possible circular locking dependency detected"):
        assert BAD_CONSOLE.search(line), line
    assert not BAD_CONSOLE.search("software IO TLB: mapped [mem 0x1000]")
    assert BAD_CONSOLE.search("[    2.5]     not ok 3 swiotlb_test_growth")
    assert not BAD_CONSOLE.search("[    2.5]     ok 3 swiotlb_test_growth")


FAKE_QEMU = r"""#!/usr/bin/python3
# a guest that hangs: answers the monitor, never exits
import socket, sys, time
arg = sys.argv[sys.argv.index("-monitor") + 1]
path = arg.split(":", 1)[1].split(",")[0]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(1)
print("Run /init as init process", flush=True)
c, _ = srv.accept()
c.sendall(b"QEMU 7.2.0 monitor\r\n(qemu) ")
while c.recv(4096):
    c.sendall(b"info registers\r\npc=0xffffffff80201018 HI=0x0\r\n(qemu) ")
time.sleep(60)
"""


@test
def hung_guest_is_located(fx):
    from .matrix import run_qemu, resolve_pcs
    d = os.path.join(fx.root, "hung")
    os.makedirs(d, exist_ok=True)
    qemu = os.path.join(d, "qemu")
    open(qemu, "w").write(FAKE_QEMU)
    os.chmod(qemu, 0o755)
    smap = os.path.join(d, "System.map")
    open(smap, "w").write("ffffffff80201000 T swiotlb_map\n"
                          "ffffffff80202000 t swiotlb_release_slots\n")
    console = os.path.join(d, "console.log")
    t0 = time.monotonic()
    timed_out, pcs = run_qemu([qemu], console, 1, samples=3)
    assert timed_out and time.monotonic() - t0 < 20
    assert pcs == [0xffffffff80201018] * 3, pcs
    assert resolve_pcs(pcs, smap) == "swiotlb_map+0x18 (x3)"
    assert resolve_pcs([0x400000], smap) == "user space"
    assert resolve_pcs([], smap).startswith("no answer")
    assert "Run /init" in open(console).read()
    # a guest that exits in time is not sampled
    assert run_qemu(["true"], console, 5) == (False, [])


@test
def matrix_description_is_checked(fx):
    from .matrix import load
    m = load()
    assert any(not r.get("boot", True) for r in m["rows"])
    bad = os.path.join(fx.root, "bad-matrix.yaml")
    open(bad, "w").write("defaults: {}\nkernels: {}\nrows:\n"
                         "  - name: x\n    kernel: nope\n")
    expect_error(lambda: load(bad), "unknown kernel")


def _bench_boot(fx, name, ktap, console):
    """A boot's result directory for bench.parse(): its verdict and
    console."""
    d = os.path.join(fx.root, name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "verdict.ktap"), "w").write(ktap)
    open(os.path.join(d, "console.log"), "w").write(console)
    return d


@test
def bench_parse_and_ratios(fx):
    from . import bench
    d = _bench_boot(fx, "bench-run",
        "# swiotlb before: io_tlb_nslabs=128 io_tlb_used=0\n"
        "# trace 0 128 0\n# trace 7 128 120\n# trace 9 640 187\n"
        "# trace 30 640 0\n"
        "# bench granule=1 threads=1 map_100ns=446 map_sd=4 "
        "unmap_100ns=426 unmap_sd=5\n"
        "# tput op=read bs=4096 mb=16 us=1000000 kib_s=16384\n"
        "# memcpy bytes=4096 loops=10 us=10 ps_per_copy=1000000\n"
        "# swiotlb after: io_tlb_nslabs=640 io_tlb_used_hiwater=187 "
        "io_tlb_pools_added=1 io_tlb_transient_pools=2\n",
        "[ 1.0] iova_burst: n=12954 slow_frees=8636 reclaim_ms=0\n")
    v, trace = bench.parse(d)
    assert v["map+unmap us g1 t1"] == 87.2, v
    assert v["read MiB/s 4K"] == 16 and v["memcpy 4K ns"] == 1000, v
    assert (v["slots at boot"], v["slots at end"], v["pools added"],
            v["transient pools"], v["ms to final size"]) == \
        (128, 640, 1, 2, 9), v
    assert v["iova slow_frees"] == 8636 and len(trace) == 4, v

    def runs(lat, tput):
        return [{"ok": True, "why": "", "v": {"map+unmap us g1 t1": x,
                                               "read MiB/s 4K": tput}}
                for x in lat]
    raw = {"cfg": {"rows": [{"name": n} for n in
                            ("base", "ours", "ours-tiny", "upstream-fixed",
                             "upstream")]},
           "runs": {"icount": {"base": runs([100, 101, 99], 50),
                               "ours": runs([100, 100, 100], 50),
                               "ours-tiny": runs([104, 104, 105], 48),
                               "upstream-fixed": runs([50, 50, 50], 60),
                               "upstream": runs([51, 51, 51], 60)}}}
    rep = bench.Report(raw)
    assert rep.ratio("icount", "ours", "base", "map+unmap us g1 t1") == 1.0
    lines = rep.targets()
    text = "\n".join(lines)

    def verdict(start):
        line = next(x for x in lines if x.startswith("- " + start))
        return line.split("**")[1]
    assert "<= 1.00 at the default size: worst 1.000" in text and \
        verdict("ours/base map") == "met", text
    # 1.04 > 1.03, but within the base's own 2 % spread: noise, met
    assert "after growth: worst 1.040" in text and \
        verdict("ours-tiny") == "met", text
    assert "throughput >= 0.98: worst 0.960" in text and \
        verdict("ours/base through") == "missed", text
    # upstream is twice as fast, but its feature costs 2 %, ours 0 %
    assert "upstream-fixed): worst 0.980 (ours: 1.000 vs 1.020" in text, text
    table = "\n".join(rep.ratio_table("icount", ["map+unmap us g1 t1"],
                                       "lower"))
    assert "**1.040** (1.040-1.050)" in table, table


@test
def bench_parse_and_ratios_of_the_mainline_rows(fx):
    from . import bench
    # grew to 256 slots under the load, back at 128 after it, traced
    d = _bench_boot(fx, "bench-run-mainline",
        "# swiotlb before: io_tlb_nslabs=128 io_tlb_used=0\n"
        "# trace 0 128 0\n# trace 5 256 130\n# trace 40 256 0\n"
        "# swiotlb return: slots 128 at boot, 128 after 1200 ms idle "
        "(idle_ms 1000), pools freed 1, bytes freed 262144\n"
        "# trace 300 256 0\n# trace 1340 128 0\n# trace 1400 128 0\n"
        "# swiotlb after: io_tlb_nslabs=128 io_tlb_pools_freed=1\n",
        "[ 2.0] swiotlb_bench: one_page_ns=2500 storm_pool_slots=512 "
        "storm_ns=150000000 sync_ns_1=300 sync_ns_1000=9000\n")
    v, trace = bench.parse(d)
    assert (v["ms to peak size"], v["ms from last use to boot size"],
            v["ms waited for the return"], v["pools freed"]) == \
        (5, 1335, 1200, 1), v
    assert "ms to final size" not in v and len(trace) == 6, v
    assert (v["swiotlb sync_ns_1000"], v["swiotlb storm_pool_slots"]) == \
        (9000, 512), v

    def runs(**kw):
        return [{"ok": True, "why": "", "v": {"map+unmap us g1 t1": x,
                                              "swiotlb sync_ns_1000": y}}
                for x, y in zip(kw["lat"], kw["sync"])]
    rows = ("upstream", "upstream-1m", "mainline", "mainline-1m")
    raw = {"cfg": {"rows": [{"name": n} for n in rows]},
           "runs": {"icount": {
               "upstream": runs(lat=[50, 51, 49], sync=[0, 0, 0]),
               "mainline": runs(lat=[50.4, 50.4, 50.4], sync=[0, 0, 0]),
               "upstream-1m": runs(lat=[52, 52, 52], sync=[9000] * 3),
               "mainline-1m": runs(lat=[52, 52, 52], sync=[450] * 3)}}}
    rep = bench.Report(raw)
    text = "\n".join(rep.targets())
    # 1.008 > 1.00, but within upstream's own 4 % spread: met
    assert "mainline/upstream map+unmap <= 1.00 at the default size: " \
        "worst 1.008 (mainline/upstream" in text and "**met**" in text, text
    table = "\n".join(rep.pair_table("icount", [(["swiotlb sync_ns_1000"],
                                                  "lower")]))
    assert "mainline-1m/upstream-1m" in table and "**0.050**" in table and \
        "mainline/upstream" not in table, table


def child():
    from . import selftest_proof, selftest_lines
    TESTS.extend(selftest_proof.TESTS)
    TESTS.extend(selftest_lines.TESTS)
    root = os.environ["PATCHTREE_SCRATCH"]
    fx = Fixture(os.path.join(root, "fixture"))
    passed = failed = 0
    print("KTAP version 1\n1..%d" % len(TESTS))
    for i, t in enumerate(TESTS, 1):
        try:
            t(fx)
            print(f"ok {i} {t.__name__}")
            passed += 1
        except Exception as e:
            print(f"not ok {i} {t.__name__} # {type(e).__name__}: {e}")
            traceback.print_exc(limit=3, file=sys.stdout)
            failed += 1
    print(f"selftest: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    from . import selftest_robust       # more @test functions
    TESTS += selftest_robust.TESTS
    sys.exit(child())
