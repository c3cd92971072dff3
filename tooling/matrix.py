# SPDX-License-Identifier: GPL-2.0
"""Build and boot the rows of test-matrix.yaml."""

import bisect
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import schema
from .common import TOP, OUT, Error, progress, run, git, need, ensure_dir
from . import warnings as W

FRAG_DIR = os.path.join(TOP, "kernel-config-fragments")
GUEST_SRC = os.path.join(TOP, "guest", "dmastress.c")

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


def select_rows(m, names):
    """The rows named in @names (all rows when empty)."""
    if not names:
        return m["rows"]
    known = {r["name"]: r for r in m["rows"]}
    bad = [n for n in names if n not in known]
    if bad:
        raise Error(f"unknown row(s) {', '.join(bad)}: choose from "
                    + ", ".join(known))
    return [known[n] for n in names]


def _fragment_values(paths):
    """CONFIG_X -> value requested by the fragments (last one wins)."""
    want = {}
    for p in paths:
        for line in open(p):
            line = line.strip()
            m = re.match(r"(CONFIG_\w+)=(.*)", line)
            if m:
                want[m.group(1)] = m.group(2)
            m = re.match(r"# (CONFIG_\w+) is not set", line)
            if m:
                want[m.group(1)] = "n"
    return want


def _config_values(path):
    have = {}
    for line in open(path):
        m = re.match(r"(CONFIG_\w+)=(.*)", line.strip())
        if m:
            have[m.group(1)] = m.group(2)
    return have


def kconfig_symbols(src):
    """The Kconfig symbols defined in the checked-out tree @src."""
    out = git(src, "grep", "-h", "-E", r"^\s*(menu)?config\s+[A-Za-z0-9_]+",
              "--", "*Kconfig*", check=False).stdout
    return {line.split()[1] for line in out.splitlines()
            if len(line.split()) > 1}


class Build:
    """One kernel of the matrix in its own O= directory."""

    def __init__(self, base, variant, src, name, spec, extra_frags=()):
        self.base, self.src, self.name, self.spec = base, src, name, spec
        self.arch = spec["arch"]
        self.cross = spec.get("cross", "")
        self.frags = [os.path.join(FRAG_DIR, f + ".config")
                      for f in spec["fragments"]] + list(extra_frags)
        self.tag = f"{base.name}+{variant}"
        # on the series every value asked for must hold; without it a
        # symbol the series adds is not asked for
        self.strict = variant != "plain"
        self.odir = ensure_dir(OUT, "build", self.tag, name)
        self.log = os.path.join(self.odir, "build.log")
        self.image = os.path.join(self.odir, spec["image"])
        self.bootable = bool(spec.get("guest_cc"))
        # (path in the guest, file here): more for the initramfs
        self.extra_files = []

    def make_args(self):
        cc = self.cross + "gcc"
        need(cc)
        args = ["make", "-C", self.src, f"O={self.odir}", f"ARCH={self.arch}",
                f"-j{os.cpu_count() or 2}"]
        if self.cross:
            args.append(f"CROSS_COMPILE={self.cross}")
        args += [f"CC={ccache_cc(cc)}", f"HOSTCC={ccache_cc('gcc')}"]
        return args

    def configure(self):
        """tinyconfig + merge_config.sh of the fragments, then check that
        the final .config has what they and 'require' asked for."""
        # Reconfigure when a fragment or a Kconfig file changed, not on
        # every commit: the per-patch builds would redo it each time.
        h = hashlib.sha256(git(self.src, "ls-files", "-s", "--",
                               "*Kconfig*").encode())
        for f in self.frags:
            h.update(open(f, "rb").read())
        h.update(repr(self.spec).encode())
        h.update(self.spec_file().encode())
        stamp = os.path.join(self.odir, ".patchtree-config")
        cfg = os.path.join(self.odir, ".config")
        # ...and when the .config is not the one this step wrote (an
        # edit by hand, or a build of another tree in this O=).
        if os.path.exists(stamp) and os.path.exists(cfg):
            h2 = h.copy()
            h2.update(open(cfg, "rb").read())
            if open(stamp).read() == h2.hexdigest():
                return False
        progress("config", " + ".join(os.path.basename(f)[:-7]
                                      for f in self.frags), self.name)
        frags = list(self.frags)
        if self.bootable:
            gen = os.path.join(self.odir, "patchtree-initramfs.config")
            with open(gen, "w") as f:
                f.write(f'CONFIG_INITRAMFS_SOURCE="{self.spec_file()}"\n')
            frags.append(gen)
        run(self.make_args() + ["tinyconfig"], log=self.log)
        run([os.path.join(self.src, "scripts/kconfig/merge_config.sh"),
             "-m", "-O", self.odir, os.path.join(self.odir, ".config")]
            + frags, cwd=self.src, log=self.log,
            env={"ARCH": self.arch, "CROSS_COMPILE": self.cross})
        run(self.make_args() + ["olddefconfig"], log=self.log)
        want = _fragment_values(self.frags)
        for req in self.spec.get("require", []):
            k, _, v = req.partition("=")
            want[k] = v
        have = _config_values(os.path.join(self.odir, ".config"))
        # A symbol this tree does not define (SWIOTLB_DYNAMIC on the
        # unpatched base) cannot be asked for there (--plain); on the
        # series every value must hold.
        defined = kconfig_symbols(self.src)
        missing = [f"{k}={v} (got {have.get(k, 'n')})"
                   for k, v in sorted(want.items())
                   if have.get(k, "n") != v
                   and (self.strict or k[7:] in defined)
                   and not (v == "n" and k not in have)]
        if missing:
            raise Error(f"{self.name}: the final .config lacks what the "
                        f"fragments ask for (a missing dependency?):\n  "
                        + "\n  ".join(missing))
        h.update(open(cfg, "rb").read())
        with open(stamp, "w") as f:
            f.write(h.hexdigest())
        return True

    def missing_feature(self):
        """The 'needs' symbol when this tree's Kconfig lacks it."""
        sym = self.spec.get("needs")
        if sym and git(self.src, "grep", "-q", f"^config {sym}$", "--",
                       "*Kconfig*", check=False).returncode != 0:
            return sym
        return None

    def config_has(self, sym):
        cfg = os.path.join(self.odir, ".config")
        return os.path.exists(cfg) and \
            _config_values(cfg).get(f"CONFIG_{sym}") == "y"

    def spec_file(self):
        # in guest/: v6.12's build removed it from the top of O=
        return os.path.join(self.odir, "guest", "initramfs.spec")

    def build_guest(self, reconfigured):
        """The guest program, static with nolibc, and its cpio spec."""
        gdir = ensure_dir(self.odir, "guest")
        hdr = os.path.join(gdir, "usr")
        if reconfigured or not os.path.isdir(hdr):
            run(self.make_args() + ["headers_install",
                                    f"INSTALL_HDR_PATH={hdr}"], log=self.log)
        cc = self.spec["guest_cc"]
        need(cc)
        nolibc = os.path.join(self.src, "tools/include/nolibc")
        tmp = os.path.join(gdir, "init.new")
        run([cc, "-static", "-nostdlib", "-Os", "-Wall",
             "-fno-asynchronous-unwind-tables", "-fno-stack-protector",
             "-isystem", nolibc, "-isystem", os.path.join(hdr, "include"),
             "-include", os.path.join(nolibc, "nolibc.h")]
            + shlex.split(self.spec.get("guest_cflags", ""))
            + ["-o", tmp, GUEST_SRC, "-lgcc"], log=self.log)
        init = os.path.join(gdir, "init")
        # Replace only when it changed, or the kernel relinks every run.
        if not os.path.exists(init) or \
                open(init, "rb").read() != open(tmp, "rb").read():
            os.replace(tmp, init)
        else:
            os.unlink(tmp)
        spec = ("dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n"
                "dir /proc 0755 0 0\ndir /sys 0755 0 0\n"
                f"file /init {init} 0755 0 0\n")
        for dest, src in self.extra_files:
            spec += f"file {dest} {src} 0644 0 0\n"
        if not os.path.exists(self.spec_file()) or \
                open(self.spec_file()).read() != spec:
            with open(self.spec_file(), "w") as f:
                f.write(spec)

    def build(self, target=None):
        """Configure if needed, build the guest, make the image.
        Return the compiler warnings of this (incremental) build."""
        need("make", "bc", "flex", "bison", "perl")
        if os.path.exists(self.log):
            os.unlink(self.log)
        t0 = time.monotonic()
        reconf = self.configure()
        if self.bootable:
            self.build_guest(reconf)
        progress("build", f"make {target or os.path.basename(self.image)}",
                 self.name)
        tgt = target or ("vmlinux" if self.spec["image"] == "vmlinux"
                         else os.path.basename(self.image))
        run(self.make_args() + [tgt], log=self.log)
        progress("build", f"done in {time.monotonic() - t0:.0f}s", self.name)
        return W.from_log(self.log)


def ccache_cc(cc):
    return f"ccache {cc}" if shutil.which("ccache") else cc


def qemu_cmd(row, defaults, build, rdir):
    """The QEMU command line of a row, with what every row shares."""
    disk = os.path.join(rdir, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(128 << 20)
    verdict = os.path.join(rdir, "verdict.ktap")
    if "dynamic" in row and build.config_has("SWIOTLB_DYNAMIC"):
        row = dict(row, **row["dynamic"])
    append = " ".join(filter(None, [
        f"console={row['console']}", defaults.get("append", ""),
        row.get("append", ""), defaults.get("guest", ""),
        f"dmastress.mode={row['mode']}", row.get("guest", "")]))
    cmd = shlex.split(row["qemu"]) + [
        "-m", str(row.get("memory", defaults.get("memory", "1G"))),
        "-display", "none", "-serial", "stdio",
        "-no-reboot", "-nic", "none",
        "-kernel", build.image, "-append", append,
        "-drive", f"file={disk},if=none,id=d0,format=raw",
        "-device",
        "virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on",
        "-device", "virtio-serial-pci",
        "-chardev", f"file,id=verdict,path={verdict}",
        "-device", "virtserialport,chardev=verdict,name=verdict",
        "-device", "pci-testdev"]
    return cmd, verdict


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
    why = ""
    if timed_out:
        where = resolve_pcs(pcs, os.path.join(build.odir, "System.map"))
        with open(console, "a") as f:
            # a line of its own, even after a console cut mid-line
            f.write(f"\npatchtree: timeout after {tmo}s; guest PC sampled "
                    f"{len(pcs)} times: {where}\n")
    # a bad console line wins over the timeout it may have led to: a
    # guest that stalled, splatted and then hung is never booted again
    if bad_lines:
        why = f"console: {bad_lines[0][:100]}"
    elif timed_out:
        why = f"timeout after {tmo}s"
    elif bad:
        why = f"console: {bad_lines[0][:100]}"
    elif bad:
        why = "failed: " + ", ".join(bad)
    elif not passed or planned is None or ok != planned:
        why = "no complete verdict"
    progress("boot", f"{'PASS' if not why else 'FAIL ' + why} "
             f"({tests} tests, {secs:.0f}s)", row["name"])
    if why:
        show_tail(console, row["name"])
    return not why, tests, why, secs


def run_qemu(cmd, console, tmo, samples=8):
    """Run QEMU with its output appended to @console, for at most @tmo
    seconds.  On timeout, ask its monitor for the CPU registers @samples
    times before killing it, so that a hung guest says where it hangs.
    QEMU runs in its own process group, which is killed on every way
    out: the end, a timeout, an exception, Ctrl-C or SIGTERM.
    Return (timed out?, the program counters read)."""
    mdir = tempfile.mkdtemp(prefix="patchtree-mon.")
    sock = os.path.join(mdir, "monitor")
    cmd = cmd + ["-monitor", f"unix:{sock},server=on,wait=off"]
    pcs = []
    p = None
    try:
        with open(console, "a") as f:
            f.write(f"$ {shlex.join(cmd)}\n")
            f.flush()
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL,
                                 start_new_session=True)
            try:
                p.wait(timeout=tmo)
                return False, pcs
            except subprocess.TimeoutExpired:
                pass
            pcs = monitor_pcs(sock, samples)
            return True, pcs
    finally:
        if p is not None:
            kill_group(p)
        shutil.rmtree(mdir, ignore_errors=True)


def kill_group(p):
    """SIGKILL the process group that @p (started with
    start_new_session) leads, whatever is left of it, and reap @p."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    p.wait()


PC_RE = re.compile(r"\b(?:RIP|PC|pc)=(?:0x)?([0-9a-fA-F]{8,16})\b")


def monitor_pcs(sock, samples):
    """The program counters of every vCPU, @samples times, read from the
    human monitor at @sock 0.2 s apart (`info registers -a`; an empty
    list if it does not answer)."""
    pcs = []
    try:
        with socket.socket(socket.AF_UNIX) as m:
            m.settimeout(5)
            m.connect(sock)
            for _ in range(samples):
                time.sleep(0.2)
                m.sendall(b"info registers -a\n")
                out = b""
                # the answer ends with the next prompt
                while not PC_RE.search(out.decode(errors="replace")) or \
                        not out.rstrip().endswith(b"(qemu)"):
                    chunk = m.recv(65536)
                    if not chunk:
                        return pcs
                    out += chunk
                pcs += [int(x, 16) for x in
                        PC_RE.findall(out.decode(errors="replace"))]
    except OSError:
        pass
    return pcs


def resolve_pcs(pcs, system_map):
    """'symbol+0xoff (count), ...' for @pcs, from the kernel's
    System.map; raw addresses where it has none."""
    if not pcs:
        return "no answer from the QEMU monitor"
    syms = []
    if os.path.exists(system_map):
        for line in open(system_map):
            addr, kind, name = line.split()[:3]
            if kind in "tTwW":
                syms.append((int(addr, 16), name))
        syms.sort()
    counts = {}
    for pc in pcs:
        i = bisect.bisect_right(syms, (pc, "\xff")) - 1
        if i >= 0:
            where = f"{syms[i][1]}+{pc - syms[i][0]:#x}"
        elif syms:
            where = "user space"
        else:
            where = f"{pc:#x}"
        counts[where] = counts.get(where, 0) + 1
    return ", ".join(f"{w} (x{n})" if n > 1 else w
                     for w, n in counts.items())


def show_tail(console, name, lines=40):
    """Print the end of a failed boot's console, for logs kept elsewhere
    (CI keeps only what was printed)."""
    with open(console, errors="replace") as f:
        tail = f.read().splitlines()[-lines:]
    print(f"--- last {len(tail)} console lines of {name} ({console})")
    for line in tail:
        print(f"  | {line}")
    print(f"--- end of {name}", flush=True)
