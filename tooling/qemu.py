# SPDX-License-Identifier: GPL-2.0
"""QEMU: a row's command line, running it with a timeout in its own
process group, and reading where a hung guest is from its monitor."""

import bisect
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

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
