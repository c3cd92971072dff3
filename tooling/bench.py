# SPDX-License-Identifier: GPL-2.0
"""./patchtree bench: the series against the unpatched base and against
upstream's implementation, side by side in one run (bench.yaml).

A kernel of bench.yaml is a base with nothing on it (plain: true) or
with the series of its line (line: v6.1.y, the default, or mainline;
tooling/lines.py), so the v6.1.y series on 6.1, upstream's 6.12 and the
mainline series on 6.12 are booted in one run.  A row loads the module
of bench.yaml's 'module' (or its own 'module') in the guest."""

import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import time

from . import base as B
from . import lines as L
from . import matrix as M
from . import schema
from . import series as S
from .common import TOP, OUT, Error, progress, run, need, ensure_dir

BENCH_YAML = os.path.join(TOP, "bench.yaml")
RESULTS = os.path.join(OUT, "results", "bench")
# what every boot shares, as in test-matrix.yaml's defaults
BOOT_APPEND = "panic=-1 oops=panic panic_on_warn=1"
# the rows of the mainline series and their plain 6.12 references:
# the same tree with and without the series, the summary's ratios
MAINLINE_PAIRS = (("mainline", "upstream"),
                  ("mainline-tiny", "upstream-tiny"),
                  ("mainline-1m", "upstream-1m"))


def load(path=BENCH_YAML):
    """Read bench.yaml and check it: every key against schema.BENCH,
    then what the keys refer to."""
    cfg = schema.load(path, schema.BENCH)
    names = [r["name"] for r in cfg["rows"]]
    for r in cfg["rows"]:
        if r["kernel"] not in cfg["kernels"]:
            raise Error(f"{schema.where(path, r, 'kernel')}: row "
                        f"{r['name']} names unknown kernel {r['kernel']}")
        mod = r.get("module", cfg.get("module"))
        if mod and not os.path.isfile(os.path.join(TOP, mod, "Kbuild")):
            key = "module" if "module" in r else None
            raise Error(f"{schema.where(path, r if key else cfg, 'module')}"
                        f": {'row ' + r['name'] + ': ' if key else ''}"
                        f"module: no {mod}/Kbuild")
    for node, key in [(cfg, "guest")] + \
            [(c, "guest") for c in cfg["clocks"].values()] + \
            [(r, "guest") for r in cfg["rows"]]:
        if "dmastress.module=" in node.get(key, ""):
            raise Error(f"{schema.where(path, node, key)}: guest: "
                        f"dmastress.module= is bench.py's: name the "
                        f"module's directory in 'module:' instead")
    for p in cfg.get("plot", []):
        if p not in names:
            raise Error(f"{schema.where(path, cfg, 'plot')}: plot names "
                        f"unknown row {p}")
    return cfg


def build_module(build, src):
    """Build the out-of-tree module in @src against @build; return the
    .ko.  The sources are copied, so that @src holds no objects."""
    mdir = ensure_dir(build.odir, "bench-module", os.path.basename(src))
    for f in os.listdir(src):
        if f.endswith(".c") or f.endswith(".h") or f == "Kbuild":
            dst = os.path.join(mdir, f)
            if not os.path.exists(dst) or \
                    open(dst, "rb").read() != open(os.path.join(src, f),
                                                   "rb").read():
                shutil.copyfile(os.path.join(src, f), dst)
    progress("build", f"module {os.path.relpath(src, TOP)}", build.name)
    # 'modules' writes the Module.symvers the external build needs
    run(build.make_args() + ["modules"], log=build.log)
    run(build.make_args() + [f"M={mdir}", "modules"], log=build.log)
    kos = [f for f in os.listdir(mdir) if f.endswith(".ko")]
    if len(kos) != 1:
        raise Error(f"{src}: expected one module, built {kos}; see "
                    f"{build.log}")
    return os.path.join(mdir, kos[0])


def row_module(cfg, row):
    """The module directory (relative to the top) that @row loads, or
    None."""
    return row.get("module", cfg.get("module")) or None


def kernel_tree(k, top=TOP):
    """The tree of one kernel of bench.yaml (@k): its base, and on it
    nothing (plain) or the series of its line.  Returns (base, variant,
    worktree); the worktree is named after the line (base.tag)."""
    line = L.get(k.get("line"))
    base = B.get_base(k["base"], line=line)
    variant = "plain" if k.get("plain") else "series"
    wt = S.apply(base, S.Series(top, line), variant)
    return base, variant, wt


def build_kernels(cfg, rows):
    """Apply and build each kernel that @rows boot, with the modules
    they load."""
    kernels = {}
    for name, k in cfg["kernels"].items():
        mods = []
        for r in rows:
            m = row_module(cfg, r)
            if r["kernel"] == name and m and m not in mods:
                mods.append(m)
        if not any(r["kernel"] == name for r in rows):
            continue
        t0 = time.monotonic()
        base, variant, wt = kernel_tree(k)
        extra = [os.path.join(M.FRAG_DIR, f + ".config")
                 for f in k.get("fragments", [])]
        for f in extra:
            if not os.path.isfile(f):
                raise Error(f"bench.yaml: kernel {name}: no fragment {f}")
        b = M.Build(base, variant, wt, "-".join(
            ["bench", cfg["build"]["arch"]] + k.get("fragments", [])),
            cfg["build"], extra_frags=extra)
        b.name = f"{name} ({base.tag(variant)})"
        # the modules an earlier run built go in at once: relink only
        # if building them again changed them
        old = {}
        for m in mods:
            mdir = os.path.join(b.odir, "bench-module", os.path.basename(m))
            if os.path.isdir(mdir):
                old.update({f: open(os.path.join(mdir, f), "rb").read()
                            for f in os.listdir(mdir) if f.endswith(".ko")})
                b.extra_files += [("/" + f, os.path.join(mdir, f))
                                  for f in os.listdir(mdir)
                                  if f.endswith(".ko")]
        b.build()
        kos = {m: build_module(b, os.path.join(TOP, m)) for m in mods}
        new = {os.path.basename(ko): open(ko, "rb").read()
               for ko in kos.values()}
        if new != old:
            b.extra_files = [("/" + os.path.basename(ko), ko)
                             for ko in kos.values()]
            b.build()
        progress("build", f"ready in {time.monotonic() - t0:.0f}s", name)
        kernels[name] = {"build": b, "desc": base.desc, "tree": wt,
                         "line": None if k.get("plain") else base.line.name,
                         "head": M.git(wt, "rev-parse", "HEAD"),
                         "dynamic": b.config_has("SWIOTLB_DYNAMIC"),
                         "modules": {m: os.path.basename(ko)
                                     for m, ko in kos.items()}}
    return kernels


def _params(text):
    """The words of a guest string, by name (the part before '=')."""
    return [(w.split("=", 1)[0], w) for w in (text or "").split()]


def row_guest(cfg, clock, row, ko=None):
    """(bench-wide guest string, the row's own): the bench-wide one
    without the parameters that the clock or the row set again (the
    guest reads the first of a name), then the clock's, the row's and
    the module to load (@ko, its file name in the initramfs)."""
    own = " ".join(filter(None, [cfg["clocks"][clock].get("guest"),
                                 row.get("guest"),
                                 f"dmastress.module=/{ko}" if ko else ""]))
    names = {n for n, _ in _params(own)}
    common = " ".join(w for n, w in _params(cfg["guest"]) if n not in names)
    return common, own


def _counters(line):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def parse(rdir):
    """The figures of one boot, from its verdict and console."""
    v, trace = {}, []
    verdict = os.path.join(rdir, "verdict.ktap")
    text = open(verdict, errors="replace").read() \
        if os.path.exists(verdict) else ""
    for g, t, mp, um in re.findall(
            r"# bench granule=(\d+) threads=(\d+) map_100ns=(\d+) "
            r"map_sd=\d+ unmap_100ns=(\d+)", text):
        v[f"map+unmap us g{g} t{t}"] = (int(mp) + int(um)) / 10
    for op, bs, kib in re.findall(
            r"# tput op=(\w+) bs=(\d+) mb=\d+ us=\d+ kib_s=(\d+)", text):
        v[f"{op} MiB/s {int(bs) // 1024}K"] = int(kib) / 1024
    m = re.search(r"# memcpy bytes=4096 .* ps_per_copy=(\d+)", text)
    if m:
        v["memcpy 4K ns"] = int(m.group(1)) / 1000
    before = re.search(r"# swiotlb before:(.*)", text)
    after = re.search(r"# swiotlb after:(.*)", text)
    if before and after:
        b, a = _counters(before.group(1)), _counters(after.group(1))
        v["slots at boot"] = b.get("io_tlb_nslabs", 0)
        v["slots at end"] = a.get("io_tlb_nslabs", 0)
        for key, name in (("io_tlb_used_hiwater", "high-water"),
                          ("io_tlb_pools_added", "pools added"),
                          ("io_tlb_transient_pools", "transient pools"),
                          ("io_tlb_pools_freed", "pools freed"),
                          ("io_tlb_bytes_freed", "bytes freed"),
                          ("io_tlb_growth_failures", "growth failures")):
            if key in a:
                v[name] = a[key]
    m = re.search(r"io_tlb_used peaked at (\d+) slots", text)
    if m:
        v["peak used (sampled)"] = int(m.group(1))
    m = re.search(r"# swiotlb return: slots (\d+) at boot, (\d+) after "
                  r"(\d+) ms idle", text)
    if m and m.group(1) == m.group(2):
        v["ms waited for the return"] = int(m.group(3))
    trace = [tuple(int(x) for x in t) for t in
             re.findall(r"# trace (\d+) (\d+) (\d+)", text)]
    # the size at boot: the sampler (SCHED_IDLE) may first sample after
    # the pool grew
    boot = v.get("slots at boot", trace[0][1] if trace else 0)
    if trace and trace[-1][1] != boot:
        v["ms to final size"] = next(t[0] for t in trace
                                     if t[1] == trace[-1][1])
    peak = max((t[1] for t in trace), default=0)
    if trace and peak > boot and trace[-1][1] == boot:
        # grew, then went back: when it peaked, and how long after the
        # last slot in use it was back at its boot size
        top = next(i for i, t in enumerate(trace) if t[1] == peak)
        v["ms to peak size"] = trace[top][0]
        back = next(i for i in range(top, len(trace))
                    if trace[i][1] == boot)
        busy = max((i for i in range(back) if trace[i][2] > 0),
                   default=top)
        v["ms from last use to boot size"] = trace[back][0] - \
            trace[busy][0]
    console = os.path.join(rdir, "console.log")
    if os.path.exists(console):
        log = open(console, errors="replace").read()
        m = re.search(r"iova_burst: (n=.*)", log)
        if m:
            for k, val in _counters(m.group(1)).items():
                v[f"iova {k}"] = val
        m = re.search(r"swiotlb_bench: (one_page_ns=.*)", log)
        if m:
            for k, val in _counters(m.group(1)).items():
                v[f"swiotlb {k}"] = val
    return v, trace


def _fmt(x):
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _median(xs):
    return statistics.median(xs) if xs else None


class Report:
    """The summary: medians, min-max, ratios against the base row."""

    def __init__(self, raw):
        self.raw = raw
        self.rows = [r["name"] for r in raw["cfg"]["rows"]]
        self.base = self.rows[0]

    def values(self, clock, row, key):
        return [rep["v"][key] for rep in self.raw["runs"][clock].get(row, [])
                if key in rep["v"]]

    def keys(self, clock, prefix):
        seen = []
        for row in self.rows:
            for rep in self.raw["runs"][clock].get(row, []):
                for k in rep["v"]:
                    if k.startswith(prefix) and k not in seen:
                        seen.append(k)
        return seen

    def ratio_table(self, clock, keys, better):
        """Base median (min-max), then each row's median ratio to it."""
        out = [f"| {clock} | {self.base} | "
               + " | ".join(self.rows[1:]) + " |",
               "|---" * len(self.rows) + "|---|"]
        for k in keys:
            base = self.values(clock, self.base, k)
            bm = _median(base)
            if not bm:
                continue
            cells = [f"{_fmt(bm)} ({_fmt(min(base))}-{_fmt(max(base))})"]
            for row in self.rows[1:]:
                xs = self.values(clock, row, k)
                if not xs:
                    cells.append("-")
                    continue
                cells.append(f"**{_median(xs) / bm:.3f}** "
                             f"({min(xs) / bm:.3f}-{max(xs) / bm:.3f})")
            out.append(f"| {k} ({better}) | " + " | ".join(cells) + " |")
        return out

    def plain_table(self, clock, keys):
        out = [f"| {clock} | " + " | ".join(self.rows) + " |",
               "|---" * (len(self.rows) + 1) + "|"]
        for k in keys:
            cells = []
            for row in self.rows:
                xs = self.values(clock, row, k)
                cells.append("-" if not xs else _fmt(_median(xs)) if
                             min(xs) == max(xs) else
                             f"{_fmt(_median(xs))} ({_fmt(min(xs))}-"
                             f"{_fmt(max(xs))})")
            if any(c != "-" for c in cells):
                out.append(f"| {k} | " + " | ".join(cells) + " |")
        return out

    def ratio(self, clock, row, other, key):
        a = _median(self.values(clock, row, key))
        b = _median(self.values(clock, other, key))
        return a / b if a and b else None

    def targets(self):
        """README's targets, each stated as met or missed, worst case.
        The icount clock decides (the issue's clock for latency: it
        repeats to 0.1 %); the wall clock's worst case is added for
        information, with the base row's own spread on that clock."""
        lines = []
        judge = "icount" if "icount" in self.raw["runs"] else None

        def spread(clock, prefixes, ref=None):
            s = 0.0
            for k in [k for p in prefixes for k in self.keys(clock, p)]:
                xs = self.values(clock, ref or self.base, k)
                if xs:
                    s = max(s, (max(xs) - min(xs)) / _median(xs))
            return s

        def check(what, pairs, prefixes, limit, higher_better=False):
            # the reference ("the base") is the pairs' other row
            ref = pairs[0][1]
            info = ""
            for clock in self.raw["runs"]:
                if clock == judge:
                    continue
                w = worst_of([clock], pairs, prefixes, higher_better)
                if w:
                    info += (f"; {clock}: worst {w[1]:.3f} ({w[3]}/{w[4]}, "
                             f"{w[5]}), the base's own min-max spans "
                             f"{100 * spread(clock, prefixes, ref):.0f} %")
            worst = worst_of([judge] if judge else list(self.raw["runs"]),
                             pairs, prefixes, higher_better)
            if worst is None:
                lines.append(f"- {what}: not measured")
                return
            _, r, clock, row, other, k = worst
            # "within noise": the reference row's own min-max on that
            # figure (the base row's for ours/base)
            noise = spread(clock, [k], other)
            ok = r >= limit - noise if higher_better else r <= limit + noise
            lines.append(f"- {what}: worst {r:.3f} ({row}/{other}, {clock}, "
                         f"{k}; noise {100 * noise:.1f} %) -> "
                         f"**{'met' if ok else 'missed'}**{info}")

        def worst_of(clocks, pairs, prefixes, higher_better):
            worst = None
            for clock in clocks:
                for row, other in pairs:
                    for k in [k for p in prefixes
                              for k in self.keys(clock, p)]:
                        r = self.ratio(clock, row, other, k)
                        if r is None:
                            continue
                        bad = -r if higher_better else r
                        if worst is None or bad > worst[0]:
                            worst = (bad, r, clock, row, other, k)
            return worst
        rows = set(self.rows)
        if {"ours", self.base} <= rows:
            check("ours/base map+unmap <= 1.00 at the default size",
                  [("ours", self.base)], ["map+unmap"], 1.00)
        if {"ours-tiny", self.base} <= rows:
            check("ours-tiny/base map+unmap <= 1.03 after growth",
                  [("ours-tiny", self.base)], ["map+unmap"], 1.03)
        if {"ours", "ours-tiny", self.base} <= rows:
            check("ours/base throughput >= 0.98",
                  [("ours", self.base), ("ours-tiny", self.base)],
                  ["write MiB/s", "read MiB/s"], 0.98, higher_better=True)
        if {"ours", "upstream", "upstream-fixed", self.base} <= rows:
            worst = None
            for clock in [judge] if judge else self.raw["runs"]:
                for ours, up in (("ours", "upstream"),
                                 ("ours-tiny", "upstream-tiny")):
                    for k in self.keys(clock, "map+unmap"):
                        a = self.ratio(clock, ours, self.base, k)
                        b = self.ratio(clock, up, "upstream-fixed", k)
                        if a and b and (worst is None or a / b > worst[0]):
                            worst = (a / b, a, b, clock, ours, k)
            if worst:
                r, a, b, clock, ours, k = worst
                ok = r <= 1.0 + spread(clock, [k])
                lines.append(
                    f"- ours <= upstream 6.12 on every latency row, each "
                    f"feature against its own tree (ours/base over "
                    f"upstream/upstream-fixed): worst {r:.3f} ({ours}: "
                    f"{a:.3f} vs {b:.3f}, {clock}, {k}) -> "
                    f"**{'met' if ok else 'missed'}**")
        # the mainline series against plain 6.12, the same tree
        if {"mainline", "upstream"} <= rows:
            check("mainline/upstream map+unmap <= 1.00 at the default "
                  "size", [("mainline", "upstream")], ["map+unmap"], 1.00)
        if {"mainline-tiny", "upstream-tiny"} <= rows:
            check("mainline-tiny/upstream-tiny map+unmap <= 1.03 after "
                  "growth (and the return)",
                  [("mainline-tiny", "upstream-tiny")], ["map+unmap"], 1.03)
        if {"mainline", "upstream"} <= rows:
            check("mainline/upstream throughput >= 0.98",
                  [("mainline", "upstream")],
                  ["write MiB/s", "read MiB/s"], 0.98, higher_better=True)
        return lines

    def cost_table(self, clock):
        """What each feature costs against its own tree."""
        pairs = [(a, b) for a, b in (("ours", self.base),
                                     ("ours-tiny", self.base),
                                     ("upstream", "upstream-fixed"),
                                     ("upstream-tiny", "upstream-fixed"))
                 if a in self.rows and b in self.rows]
        if len(pairs) < 3:
            return []
        out = [f"| {clock} | " + " | ".join(f"{a}/{b}" for a, b in pairs)
               + " |", "|---" * (len(pairs) + 1) + "|"]
        for k in self.keys(clock, "map+unmap"):
            cells = []
            for a, b in pairs:
                r = self.ratio(clock, a, b, k)
                cells.append(f"{r:.3f}" if r else "-")
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        return out

    def pairs(self):
        """The (mainline row, its plain 6.12 reference) pairs run."""
        return [(a, b) for a, b in MAINLINE_PAIRS
                if a in self.rows and b in self.rows]

    def pair_table(self, clock, groups):
        """Each pair's median ratio, with the row's min-max over the
        reference's median, for the keys of @groups ([(keys, 'lower is
        better'), ...]); only the pairs that have any of them."""
        def cell(a, b, k):
            xs, bm = self.values(clock, a, k), \
                _median(self.values(clock, b, k))
            return f"**{_median(xs) / bm:.3f}** ({min(xs) / bm:.3f}-" \
                f"{max(xs) / bm:.3f})" if xs and bm else "-"
        pairs = [(a, b) for a, b in self.pairs()
                 if any(cell(a, b, k) != "-" for ks, _ in groups
                        for k in ks)]
        if not pairs:
            return []
        out = [f"| {clock} | " + " | ".join(f"{a}/{b}" for a, b in pairs)
               + " |", "|---" * (len(pairs) + 1) + "|"]
        for keys, better in groups:
            for k in keys:
                cells = [cell(a, b, k) for a, b in pairs]
                if any(c != "-" for c in cells):
                    out.append(f"| {k} ({better}) | " + " | ".join(cells)
                               + " |")
        return out

    def own_table(self, clock, keys):
        """plain_table of only the rows that have any of @keys."""
        rows = [r for r in self.rows
                if any(self.values(clock, r, k) for k in keys)]
        out = [f"| {clock} | " + " | ".join(rows) + " |",
               "|---" * (len(rows) + 1) + "|"]
        for k in keys:
            cells = []
            for row in rows:
                xs = self.values(clock, row, k)
                cells.append("-" if not xs else _fmt(_median(xs)) if
                             min(xs) == max(xs) else
                             f"{_fmt(_median(xs))} ({_fmt(min(xs))}-"
                             f"{_fmt(max(xs))})")
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        return out

    def markdown(self):
        raw, cfg = self.raw, self.raw["cfg"]
        out = [f"# Benchmark: {raw['date']}", "",
               f"Host: {raw['host']}; QEMU: {raw['qemu']}; "
               f"{raw['reps']} rounds, rows alternated "
               f"({' '.join(self.rows)}, then again); every ratio is "
               f"the row's median over the base row's median of the same "
               f"clock, with the row's min-max in parentheses.", ""]
        out += ["## Targets", ""] + self.targets() + [""]
        for clock in raw["runs"]:
            out += [f"## map+unmap latency, dma_map_benchmark, us "
                     f"(clock: {clock})", ""]
            out += self.ratio_table(clock, self.keys(clock, "map+unmap"),
                                    "lower is better") + [""]
            cost = self.cost_table(clock)
            if cost:
                out += [f"Each feature against its own tree (clock: "
                        f"{clock}; medians):", ""] + cost + [""]
            out += [f"## O_DIRECT throughput on virtio-blk, MiB/s "
                    f"(clock: {clock})", ""]
            out += self.ratio_table(clock, self.keys(clock, "write MiB/s")
                                    + self.keys(clock, "read MiB/s"),
                                    "higher is better") + [""]
            pt = self.pair_table(clock, [
                (self.keys(clock, "map+unmap"), "lower is better"),
                (self.keys(clock, "write MiB/s")
                 + self.keys(clock, "read MiB/s"), "higher is better")])
            if pt:
                out += [f"## The mainline series against plain 6.12 "
                        f"(clock: {clock})", "",
                        "Each mainline row over its upstream row (the same "
                        "6.12 tree without the series): median ratio, the "
                        "row's min-max over the reference's median.", ""]
                out += pt + [""]
        out += ["## The floor: one 4 KiB memcpy in the guest", "",
                "A one-page bounce copies twice (map and unmap); the "
                "overhead is map+unmap over those two copies.", ""]
        for clock in raw["runs"]:
            mc = _median(self.values(clock, self.base, "memcpy 4K ns"))
            if not mc:
                continue
            cells = []
            for row in self.rows:
                lat = _median(self.values(clock, row,
                                          "map+unmap us g1 t1"))
                cells.append(f"{lat * 1000 / (2 * mc):.2f}x" if lat else "-")
            out += [f"- {clock}: memcpy {_fmt(mc)} ns; one-page map+unmap "
                    f"= " + ", ".join(f"{r} {c}" for r, c in
                                      zip(self.rows, cells)) + " of it"]
        out += ["", "(Under icount a rep movsb counts one instruction per "
                "byte, so there the copy dominates; the wall clock is the "
                "closer picture.)", ""]
        mem_keys = ["slots at boot", "slots at end", "high-water",
                    "peak used (sampled)", "pools added", "transient pools",
                    "growth failures", "ms to final size", "ms to peak size",
                    "ms from last use to boot size",
                    "ms waited for the return", "pools freed", "bytes freed"]
        for clock in raw["runs"]:
            out += [f"## Bounce memory during the write+verify load "
                    f"(clock: {clock})", ""]
            out += self.plain_table(clock, mem_keys) + [""]
        if os.path.exists(os.path.join(RESULTS, "pool.png")):
            out += ["Pool size and use over the load: `pool.png`.", ""]
        for clock in raw["runs"]:
            keys = self.keys(clock, "swiotlb ")
            if keys:
                out += [f"## Pool lookup, transient pools and the storm "
                        f"(bench/swiotlb, clock: {clock})", "",
                        "ns; sync_ns_N: sync of the oldest of N transient "
                        "pools (one lookup each way), unmap_ns_N: unmap "
                        "of one of them; storm: 4000 one-slot mappings "
                        "with interrupts off from a pool of "
                        "storm_pool_slots, then unmapped.", ""]
                out += self.own_table(clock, keys) + [""]
                pt = self.pair_table(clock, [([k for k in keys
                                                if "_ns" in k],
                                               "lower is better")])
                if pt:
                    out += pt + [""]
        for clock in raw["runs"]:
            keys = self.keys(clock, "iova ")
            if keys:
                out += [f"## IOVA burst (bench/iova, clock: {clock})", ""]
                out += self.plain_table(clock, keys) + [""]
        out += ["## Kernels, boot parameters, QEMU", ""]
        for name, k in raw["kernels"].items():
            line = f" + the {k['line']} series" if k.get("line") else \
                " (plain)" if "line" in k else ""
            out.append(f"- {name}: {k['desc']}{line}, tree {k['tree']} at "
                       f"{k['head'][:12]}; CONFIG_SWIOTLB_DYNAMIC="
                       f"{'y' if k['dynamic'] else 'n (absent)'}")
        out.append(f"- config: tinyconfig + "
                   f"{' + '.join(cfg['build']['fragments'])} "
                   f"(kernel-config-fragments/)")
        out.append(f"- guest: {' '.join(cfg['guest'].split())}")
        mods = {}
        for r in cfg["rows"]:
            if row_module(cfg, r):
                mods.setdefault(row_module(cfg, r), []).append(r["name"])
        if mods:
            out.append("- modules loaded in the guest: " + "; ".join(
                f"{m} ({', '.join(rs)})" for m, rs in mods.items()))
        for clock, cmd in raw["cmds"].items():
            out += ["", f"{clock}:", "", "```"] + cmd + ["```"]
        failed = [(c, r, i + 1, rep["why"])
                  for c, rows in raw["runs"].items()
                  for r, reps in rows.items()
                  for i, rep in enumerate(reps) if not rep["ok"]]
        if failed:
            out += ["", "## Failed boots (their figures are left out)", ""]
            out += [f"- {r} {c} round {i}: {why}" for c, r, i, why in failed]
        return "\n".join(out) + "\n"


def plot(raw, traces):
    """pool.png: slots reserved and in use over the load, per row."""
    rows = [r for r in raw["cfg"].get("plot", []) if traces.get(r)]
    if not rows or not shutil.which("gnuplot"):
        progress("bench", "no plot: gnuplot missing (apt-get install "
                 "gnuplot-nox)" if rows else "no plot: no traces")
        return None
    plots = []
    for r in rows:
        dat = os.path.join(RESULTS, f"trace-{r}.dat")
        with open(dat, "w") as f:
            f.write("# ms slots used\n")
            for t in traces[r]:
                f.write(f"{t[0]} {t[1]} {t[2]}\n")
        plots.append(f"'{dat}' using 1:2 with steps lw 3 "
                     f"title '{r}: slots'")
        # a log scale has no 0: an idle pool is drawn at 1/2 slot
        plots.append(f"'{dat}' using 1:($3 > 0 ? $3 : 0.5) with steps "
                     f"lw 1 title '{r}: used'")
    png = os.path.join(RESULTS, "pool.png")
    plot_cmd = "plot " + ", ".join(plots)
    # a row whose pool went back to its first size after growing: a
    # third panel around that return
    back = []
    for r in rows:
        t = traces[r]
        peak = max(x[1] for x in t)
        if t[-1][1] < peak:
            top = next(i for i, x in enumerate(t) if x[1] == peak)
            back.append((r, next(x[0] for x in t[top:]
                                 if x[1] == t[-1][1])))
    panels = 3 if back else 2
    script = [
        f"set terminal png size 1100,{450 * panels}",
        f"set output '{png}'",
        f"set multiplot layout {panels},1",
        "set xlabel 'guest ms since the load began (icount, round 1)'",
        "set ylabel 'slots (2 KiB each)'", "set logscale y 2",
        "set yrange [0.5:65536]", "set key outside right",
        "set title 'swiotlb slots reserved and in use: the write+verify "
        "load (and any wait for the return)'", plot_cmd,
        "set title 'the first 2 s: the tiny pools grow'",
        "set xrange [0:2000]", plot_cmd]
    if back:
        r, t = back[0]
        script += [f"set title '{r}: the growth goes back once idle'",
                   f"set xrange [{max(0, t - 3000)}:{t + 1000}]", plot_cmd]
    script = "\n".join(script + ["unset multiplot"]) + "\n"
    with open(os.path.join(RESULTS, "pool.gp"), "w") as f:
        f.write(script)
    run(["gnuplot", os.path.join(RESULTS, "pool.gp")])
    return png


def host_facts():
    try:
        q = subprocess.run(["qemu-system-x86_64", "--version"],
                           capture_output=True, text=True).stdout
        qemu = q.splitlines()[0].replace("QEMU emulator version ", "")
    except (OSError, IndexError):
        qemu = "?"
    return (f"{platform.node()}, {os.cpu_count()} CPUs, "
            f"Linux {platform.release()}", qemu)


def write_report(raw, traces):
    ensure_dir(RESULTS)
    plot(raw, traces)
    path = os.path.join(RESULTS, "summary.md")
    text = Report(raw).markdown()
    with open(path, "w") as f:
        f.write(text)
    return path, text


def main(args):
    """Build, boot every row per clock per round, and report."""
    cfg = load()
    raw_path = os.path.join(RESULTS, "raw.json")
    if args.report:
        if not os.path.exists(raw_path):
            raise Error(f"{raw_path}: no earlier run to report on")
        raw = json.load(open(raw_path))
        # the boots' own files are the source: parse them again
        for clock, rows_ in raw["runs"].items():
            for row, reps_ in rows_.items():
                for i, rep in enumerate(reps_, 1):
                    rdir = os.path.join(RESULTS, "runs",
                                        f"{i}-{clock}-{row}")
                    if rep["ok"] and os.path.isdir(rdir):
                        rep["v"] = parse(rdir)[0]
        traces = {r: [tuple(t) for t in ts]
                  for r, ts in raw.get("traces", {}).items()}
        path, text = write_report(raw, traces)
        print(text)
        return 0
    reps = args.reps or cfg["reps"]
    rows = [r for r in cfg["rows"]
            if not args.rows or r["name"] in args.rows]
    want = args.clocks.split(",") if args.clocks else []
    clocks = [c for c in cfg["clocks"] if not want or c in want]
    if not rows or not clocks:
        raise Error("no rows or clocks left: choose from "
                    + ", ".join(r["name"] for r in cfg["rows"]) + " / "
                    + ", ".join(cfg["clocks"]))
    need("qemu-system-x86_64", "timeout")
    t0 = time.monotonic()
    kernels = build_kernels(cfg, rows)
    host, qemu = host_facts()
    raw = {"cfg": dict(cfg, rows=rows),
           "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
           "host": host, "qemu": qemu, "reps": reps,
           "kernels": {n: {k: v for k, v in kb.items() if k != "build"}
                       for n, kb in kernels.items()},
           "runs": {c: {} for c in clocks}, "cmds": {}, "traces": {}}
    if os.path.isdir(RESULTS):
        # keep the last run: it moves aside, named after its start
        old = time.strftime("%Y%m%d-%H%M%S", time.localtime(
            os.path.getmtime(RESULTS)))
        os.rename(RESULTS, f"{RESULTS}-{old}")
        progress("bench", f"the last run moved to {RESULTS}-{old}")
    ensure_dir(RESULTS)
    n, total = 0, reps * len(clocks) * len(rows)
    for rep in range(1, reps + 1):
        for clock in clocks:
            cl = cfg["clocks"][clock]
            for row in rows:
                n += 1
                rdir = os.path.join(RESULTS, "runs", f"{rep}-{clock}-"
                                    f"{row['name']}")
                kern = kernels[row["kernel"]]
                mod = row_module(cfg, row)
                common, own = row_guest(cfg, clock, row,
                                        kern["modules"].get(mod))
                r = {"name": f"{row['name']} {clock} [{n}/{total}, "
                             f"{time.monotonic() - t0:.0f}s]",
                     "qemu": cl["qemu"], "console": "ttyS0",
                     "append": row["append"], "mode": "swiotlb",
                     "guest": own}
                defaults = {"append": BOOT_APPEND, "guest": common,
                            "timeout": cfg.get("timeout", 600)}
                ok, tests, why, secs = M.boot(r, defaults, kern["build"],
                                              rdir)
                v, trace = parse(rdir)
                raw["runs"][clock].setdefault(row["name"], []).append(
                    {"ok": ok, "why": why, "secs": round(secs),
                     "v": v if ok else {}})
                if rep == 1:
                    raw["cmds"].setdefault(clock, []).append(
                        open(os.path.join(rdir, "qemu.cmd")).read().strip())
                    if clock == "icount" and ok:
                        raw["traces"][row["name"]] = trace
        with open(raw_path, "w") as f:
            json.dump(raw, f, indent=1)
    path, text = write_report(raw, raw["traces"])
    print(text)
    print(f"bench: {path} (raw figures: {raw_path}), "
          f"{time.monotonic() - t0:.0f}s")
    bad = sum(not rep["ok"] for rows_ in raw["runs"].values()
              for reps_ in rows_.values() for rep in reps_)
    print(f"bench: {total - bad} boots passed, {bad} failed")
    return 1 if bad else 0
