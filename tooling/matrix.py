# SPDX-License-Identifier: GPL-2.0
"""The rows of test-matrix.yaml: the description, and one boot of a row
through the stages (build.py, guest.py, qemu.py, verdict.py)."""

import os
import shlex
import time

from . import schema
from . import lines as L
# The stages' names stay reachable as matrix.X for the callers (bench,
# commands, self-tests).
__all__ = ["TOP", "Error", "progress", "run", "git", "need", "ensure_dir",
           "_fragment_values", "_config_values", "kconfig_symbols",
           "Build", "ccache_cc", "FRAG_DIR", "GUEST_SRC", "qemu_cmd",
           "run_qemu", "kill_group", "monitor_pcs", "resolve_pcs", "PC_RE",
           "BAD_CONSOLE", "SERIES_CODE", "console_verdict",
           "last_pc_report", "in_series_code", "parse_ktap", "decide",
           "kunit_not_run",
           "show_tail", "load", "select_rows", "boot"]
from .common import TOP, Error, progress, run, git, need, ensure_dir
from .kconfig import (_fragment_values, _config_values,
                      kconfig_symbols)
from .build import Build, ccache_cc, FRAG_DIR
from .guest import GUEST_SRC
from .qemu import (qemu_cmd, run_qemu, kill_group, monitor_pcs,
                   resolve_pcs, PC_RE)
from .verdict import (BAD_CONSOLE, SERIES_CODE, console_verdict,
                      cmdline_cut,
                      last_pc_report, in_series_code, parse_ktap, decide,
                      kunit_not_run,
                      show_tail)


def load(path=os.path.join(TOP, "test-matrix.yaml")):
    """Read the matrix description and check it: every key against
    schema.MATRIX, then what the keys refer to."""
    m = schema.load(path, schema.MATRIX)
    for kname, k in m["kernels"].items():
        for frag in k["fragments"]:
            if not os.path.isfile(os.path.join(FRAG_DIR, frag + ".config")):
                raise Error(f"{schema.where(path, k, 'fragments')}: kernel "
                            f"{kname}: no fragment "
                            f"kernel-config-fragments/{frag}.config")
    for r in m["rows"]:
        if r["kernel"] not in m["kernels"]:
            raise Error(f"{schema.where(path, r, 'kernel')}: row "
                        f"{r['name']} names unknown kernel {r['kernel']}")
        if r.get("boot", True):
            for key in ("qemu", "console", "mode"):
                if key not in r:
                    raise Error(f"{schema.where(path, r)}: row {r['name']} "
                                f"lacks '{key}' (or say 'boot: false')")
    return m


def row_line(r):
    """The line a row (or sweep entry) belongs to: its `line:` key."""
    return r.get("line", L.DEFAULT)


def select_rows(m, names, line=L.DEFAULT):
    """The rows of @line named in @names (all of its rows when empty);
    a row of another line is an error naming it."""
    mine = [r for r in m["rows"] if row_line(r) == line]
    if not names:
        return mine
    known = {r["name"]: r for r in mine}
    other = {r["name"]: row_line(r) for r in m["rows"]}
    for n in names:
        if n not in known and n in other:
            raise Error(f"row {n} is of line {other[n]}: add --line "
                        f"{other[n]}")
    bad = [n for n in names if n not in known]
    if bad:
        raise Error(f"unknown row(s) {', '.join(bad)}: choose from "
                    + ", ".join(known))
    return [known[n] for n in names]


def boot(row, defaults, build, rdir):
    """Boot one row; return (passed, tests column, reason)."""
    qemu = shlex.split(row["qemu"])[0]
    need(qemu)
    ensure_dir(rdir)
    for f in ("verdict.ktap", "console.log"):
        if os.path.exists(os.path.join(rdir, f)):
            os.unlink(os.path.join(rdir, f))
    cmd, verdict = qemu_cmd(row, defaults, build, rdir)
    tmo = int(row.get("timeout", defaults.get("timeout", 300)))
    with open(os.path.join(rdir, "qemu.cmd"), "w") as f:
        f.write(shlex.join(cmd) + "\n")
    console = os.path.join(rdir, "console.log")
    progress("boot", f"{qemu} (timeout {tmo}s)", row["name"])
    t0 = time.monotonic()
    timed_out, pcs = run_qemu(cmd, console, tmo)
    secs = time.monotonic() - t0
    os.unlink(os.path.join(rdir, "disk.img"))
    planned, ok, bad, passed = parse_ktap(verdict)
    tests = f"{ok}/{planned if planned is not None else '?'}"
    eff = dict(row, **row["dynamic"]) if "dynamic" in row and \
        build.config_has("SWIOTLB_DYNAMIC") else row
    bad_lines = console_verdict(open(console, errors="replace"),
                                eff.get("forbid", ()))
    # every suite the kernel has built in must have run and passed
    bad_lines += kunit_not_run(
        open(console, errors="replace"),
        [suite for suite, sym in build.spec.get("kunit", {}).items()
         if build.config_has(sym)])
    if "-append" in cmd:
        cut = cmdline_cut(open(console, errors="replace"),
                          cmd[cmd.index("-append") + 1])
        if cut:
            bad_lines.append(cut)
    if timed_out:
        where = resolve_pcs(pcs, os.path.join(build.odir, "System.map"))
        with open(console, "a") as f:
            # a line of its own, even after a console cut mid-line
            f.write(f"\npatchtree: timeout after {tmo}s; guest PC sampled "
                    f"{len(pcs)} times: {where}\n")
    why = decide(timed_out, bad_lines, planned, ok, bad, passed, tmo)
    progress("boot", f"{'PASS' if not why else 'FAIL ' + why} "
             f"({tests} tests, {secs:.0f}s)", row["name"])
    if why:
        show_tail(console, row["name"])
    return not why, tests, why, secs
