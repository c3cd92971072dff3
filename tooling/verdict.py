# SPDX-License-Identifier: GPL-2.0
"""The verdict of a boot: the guest's KTAP, the console's bad lines,
the timeout and where the guest hung, decided in one place."""

import os
import re

# Console lines that fail a boot whatever the guest says: warnings,
# oopses, KASAN/UBSAN/lockdep/atomic-sleep reports, kmemleak, a failed
# KUnit case, and every kind of hang the kernel detects (RCU stalls,
# soft and hard lockups, hung tasks) so that a stall fails at once
# instead of ending in a timeout.
BAD_CONSOLE = re.compile(
    r"WARNING:|BUG:|Oops|Kernel panic|KASAN|UBSAN|kernel BUG at|"
    r"general protection fault|"
    r"sleeping function called|possible (circular|recursive) locking|"
    r"inconsistent lock state|DEBUG_LOCKS_WARN_ON|"
    r"turning off the locking correctness validator|"
    r"INFO: task .* blocked|suspected memory leak|Unable to handle|"
    r"rcu: INFO: .*detected stalls|rcu_.*self-detected stall|"
    r"detected stalls on CPUs|soft lockup|hard LOCKUP|"
    r"watchdog: Watchdog detected|"
    r"\bnot ok \d+ ")

# Functions of the code the series touches: a hung guest whose vCPUs sit
# here is our bug, never a stall of the emulator to retry.
SERIES_CODE = re.compile(r"swiotlb|io_tlb|iova|rcache|magazine|iommu|"
                         r"\bdma_|_dma_|dma_direct")


def console_verdict(lines, forbid=()):
    """The console lines that fail a boot: BAD_CONSOLE, and a row's own
    `forbid:` patterns (e.g. 'swiotlb buffer is full' where the
    allocator can grow)."""
    extra = [re.compile(f) for f in forbid]
    return [l.strip() for l in lines
            if BAD_CONSOLE.search(l) or any(x.search(l) for x in extra)]


def cmdline_cut(lines, append):
    """A console line saying that the machine cut the kernel command
    line, or None.  Some machines pass only so many bytes (loongson3-virt
    about 238): the options past that never reach the kernel and the
    guest, and a row would silently run without them.  The kernel prints
    the line it got; the last word given with -append must be in it."""
    words = append.split()
    if not words:
        return None
    for line in lines:
        i = line.find("Kernel command line: ")
        if i < 0:
            continue
        got = line[i + len("Kernel command line: "):].split()
        if words[-1] not in got:
            return (f"kernel command line cut off by the machine after "
                    f"{len(' '.join(got))} of {len(append)} bytes "
                    f"(lost from {got[-1] if got else '?'!r} on)")
        return None
    return None


def kunit_not_run(lines, suites):
    """A line for each KUnit suite of @suites that the console does not
    report as passed.  A kernel with a suite built in runs it at boot
    and prints the suite's own result at top level ('ok 2 swiotlb'; KTAP
    allows 'ok 2 - swiotlb' too); a
    suite that was never registered (a Kconfig symbol that did not take,
    a suite renamed) prints nothing, and a scan for 'not ok' alone would
    pass such a boot without having run it."""
    seen = set()
    for line in lines:
        m = re.search(r"(?:^|\]\s)ok \d+ (?:- )?(\S+)\s*$", line)
        if m:
            seen.add(m.group(1))
    return [f"KUnit suite {s} built in but never reported ok"
            for s in suites if s not in seen]


def last_pc_report(console):
    """What the timeout's PC samples named, from the console log."""
    where = ""
    if os.path.exists(console):
        for line in open(console, errors="replace"):
            if line.startswith("patchtree: timeout after"):
                where = line.split(":", 2)[-1].strip()
    return where


def in_series_code(where):
    """Whether a PC report names series code, or names nothing: with no
    answer from the monitor we cannot tell, so no retry either."""
    return not where or "no answer" in where or \
        bool(SERIES_CODE.search(where))


def parse_ktap(path):
    """(planned, ok, failed names, passed?) from the guest's verdict."""
    planned, ok, bad, verdict = None, 0, [], False
    if not os.path.exists(path):
        return planned, ok, ["no verdict"], False
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"1\.\.(\d+)$", line)
        if m:
            planned = int(m.group(1))
        elif re.match(r"ok \d+ ", line):
            ok += 1
        elif re.match(r"not ok \d+ ", line):
            bad.append(line.split(" ", 3)[3].split(" #")[0])
        elif line.startswith("# dmastress: PASS"):
            verdict = True
    return planned, ok, bad, verdict


def decide(timed_out, bad_lines, planned, ok, bad, passed, tmo):
    """Why a boot failed ('' when it passed).  A bad console line wins
    over the timeout it may have led to (a guest that stalled, splatted
    and then hung is never booted again); a timeout wins over the tests
    it cut short; every planned test must have passed, with the guest's
    final PASS line."""
    if bad_lines:
        return f"console: {bad_lines[0][:100]}"
    if timed_out:
        return f"timeout after {tmo}s"
    if bad:
        return "failed: " + ", ".join(bad)
    if not passed or planned is None or ok != planned:
        return "no complete verdict"
    return ""


def show_tail(console, name, lines=40):
    """Print the end of a failed boot's console, for logs kept elsewhere
    (CI keeps only what was printed)."""
    with open(console, errors="replace") as f:
        tail = f.read().splitlines()[-lines:]
    print(f"--- last {len(tail)} console lines of {name} ({console})")
    for line in tail:
        print(f"  | {line}")
    print(f"--- end of {name}", flush=True)
