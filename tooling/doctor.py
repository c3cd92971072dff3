# SPDX-License-Identifier: GPL-2.0
"""./patchtree doctor: is everything the tool runs installed?

Every command calls require() first, which checks only what that
command uses (NEEDS) and fails with one line naming each missing piece
and the Debian package that provides it.  It is cheap: PATH lookups,
file tests, module lookups.

To add a requirement: one line in WHAT (how to test it, its package),
then its name in NEEDS under the commands that use it; 'name?' there
means the command runs without it (a warning line, not an error).
"""

import importlib.util
import os
import shutil
import sys

from .common import PACKAGE_OF, Error

# name -> (kind, what to test, Debian package, why)
#   kind 'program': shutil.which(what); 'header': any of the files
#   exists; 'module': the tool's Python has it (the kernel's Python
#   scripts run with the same one: common.python_dir()).
WHAT = {
    "git": ("program", "git", None, "every tree"),
    "tar": ("program", "tar", None, "unpacking Debian's linux-source"),
    "xz": ("program", "xz", None, "linux-source-*.tar.xz"),
    "dpkg-query": ("program", "dpkg-query", None, "the base's version"),
    "make": ("program", "make", None, "kernel builds"),
    "gcc": ("program", "gcc", None, "kernel builds, the x86_64 guest"),
    "bc": ("program", "bc", None, "kernel builds"),
    "bison": ("program", "bison", None, "kernel builds (Kconfig)"),
    "flex": ("program", "flex", None, "kernel builds (Kconfig)"),
    "perl": ("program", "perl", None, "kernel builds, checkpatch"),
    "rsync": ("program", "rsync", None, "6.1's make headers_install"),
    "cpio": ("program", "cpio", None, "kernel builds (kheaders)"),
    "ccache": ("program", "ccache", None, "faster rebuilds (optional)"),
    "sparse": ("program", "sparse", None, "the sparse check (C=2)"),
    "b4": ("program", "b4", None, "the b4 round trip"),
    "timeout": ("program", "timeout", None, "bench"),
    "gnuplot": ("program", "gnuplot", None, "bench's pool.png (optional)"),
    "libssl-dev": ("header", ("/usr/include/openssl/ssl.h",), "libssl-dev",
                   "kernel builds (certs, sign-file)"),
    "libelf-dev": ("header", ("/usr/include/libelf.h",
                              "/usr/include/gelf.h"), "libelf-dev",
                   "kernel builds (objtool)"),
    "yaml": ("module", "yaml", "python3-yaml", "test-matrix.yaml"),
    "ply": ("module", "ply", "python3-ply",
            "checkpatch's SPDX check (else it silently passes)"),
    "gitpython": ("module", "git", "python3-git",
                  "checkpatch's SPDX check (else it silently passes)"),
}

# never required (the tool works without them, slower or without a plot)
OPTIONAL = {"ccache", "gnuplot"}

_BASE = ["git", "tar", "xz", "dpkg-query"]
_BUILD = _BASE + ["make", "gcc", "bc", "bison", "flex", "perl", "rsync",
                  "cpio", "libssl-dev", "libelf-dev", "yaml", "ccache"]
_CHECK = _BUILD + ["sparse", "ply", "gitpython"]

# command -> what it needs ('name?': only some of it needs that); rows
# add their compilers and QEMU binaries (row_needs)
NEEDS = {
    "doctor": [],
    "selftest": ["git", "tar?", "xz?", "b4?", "yaml?"],
    "base": _BASE,
    "apply": _BASE,
    "mbox": _BASE,
    "edit": _BASE,
    "export": _BASE,
    "check": _CHECK + ["b4"],
    "kunit": _BUILD + ["qemu-system-x86_64"],
    "build": _BUILD,
    "boot": _BUILD,
    "matrix": _CHECK + ["b4"],
    "sweep": _CHECK,
    "test": _CHECK + ["b4", "qemu-system-x86_64"],
    "bench": _BUILD + ["timeout", "gnuplot", "qemu-system-x86_64"],
}
BOOTS = {"boot", "matrix", "test"}       # rows are booted, not only built
SWEEPS = {"sweep", "check", "matrix", "test"}   # run sweep entries
ROWS = {"build", "boot", "matrix", "test"}


def package(name):
    kind, what, pkg, _ = WHAT.get(name, ("program", name, None, ""))
    return pkg or PACKAGE_OF.get(what, what)


def missing(names):
    """[(name, package, why)] of @names that are not installed."""
    out = []
    for n in dict.fromkeys(x.rstrip("?") for x in names):
        kind, what, _, why = WHAT.get(n, ("program", n, None, "a row"))
        if kind == "program":
            ok = shutil.which(what) is not None
        elif kind == "header":
            ok = any(os.path.exists(f) for f in what)
        else:
            ok = importlib.util.find_spec(what) is not None
        if not ok:
            out.append((n, package(n), why))
    return out


def _lines(args, cmd=None):
    """The lines a command runs: --line, or every line for `test`."""
    from . import lines as L
    if getattr(args, "line", None):
        return [args.line]
    return list(L.NAMES) if cmd == "test" else [L.DEFAULT]


def row_needs(args, boot, cmd=None):
    """The compilers (and, when @boot, the QEMU binaries) of the rows
    that @args selects."""
    from . import matrix
    m = matrix.load()
    out = []
    want = getattr(args, "rows", None) or []
    rows = [r for r in m["rows"] if matrix.row_line(r) in _lines(args, cmd)
            and (not want or r["name"] in want)]
    for r in rows:
        k = m["kernels"][r["kernel"]]
        out.append(k.get("cross", "") + "gcc")
        if k.get("guest_cc"):
            out.append(k["guest_cc"])
        if boot and r.get("boot", True) and r.get("qemu"):
            out.append(r["qemu"].split()[0])
    return out


def sweep_needs(args, cmd=None):
    """The cross compilers of the sweep entries @args selects."""
    from . import matrix
    m = matrix.load()
    want = getattr(args, "entries", None) or []
    return [e.get("cross", "") + "gcc" for e in m.get("sweep", [])
            if (not want or e["name"] in want)
            and matrix.row_line(e) in _lines(args, cmd)]


# kunit.py's QEMU binary of each architecture a suite may name
KUNIT_QEMU = {"x86_64": "qemu-system-x86_64", "arm64": "qemu-system-aarch64"}
KUNITS = {"kunit", "test"}


def kunit_needs(args=None, cmd=None):
    """The compilers and QEMU binaries of the architectures that the
    kunit/*/.kunitconfig files of the lines run name
    (`# patchtree-arch:`)."""
    from . import commands
    top = os.path.join(commands.M.TOP, "kunit")
    out = []
    for d in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        kc = os.path.join(top, d, ".kunitconfig")
        if os.path.isfile(kc):
            d = commands.kunit_directives(kc)
            if d["line"] not in _lines(args, cmd):
                continue
            arch = d["arch"]
            out += [commands.KUNIT_ARCHES[arch] + "gcc", KUNIT_QEMU[arch]]
    return out


def needs(cmd, args=None):
    """What command @cmd needs, with the given @args (rows, --base)."""
    names = list(NEEDS.get(cmd, []))
    if args is not None and getattr(args, "base", None) and \
            not args.base.startswith("debian-"):
        names = [n for n in names if n not in ("tar", "xz", "dpkg-query")]
    if cmd in ROWS and args is not None:
        names += row_needs(args, cmd in BOOTS, cmd)
    if cmd in SWEEPS and args is not None and \
            not getattr(args, "no_build", False):
        names += sweep_needs(args, cmd)
    if cmd in KUNITS:
        names += [n for n in kunit_needs(args, cmd) if n not in names]
    return names


def require(cmd, args=None):
    """Fail with one line naming every missing requirement of @cmd and
    its Debian package; for the optional ones, print a warning line."""
    want = needs(cmd, args)
    soft = OPTIONAL | {n[:-1] for n in want if n.endswith("?")}
    gone = missing(want)
    for n, p, why in gone:
        if n in soft and n not in OPTIONAL:
            print(f"warning: {n} is missing (package {p}: {why})",
                  file=sys.stderr)
    gone = [m for m in gone if m[0] not in soft]
    if gone:
        raise Error(f"'{cmd}' needs what is not installed: "
                    + "; ".join(f"{n} (package {p}: {why})"
                                for n, p, why in gone)
                    + _install_line(gone))


def _install_line(gone):
    return " -- apt-get install " + " ".join(sorted({m[1] for m in gone}))


def report(args=None):
    """./patchtree doctor: every requirement of every command, and what
    is missing; return the number of required ones missing."""
    every = list(WHAT)
    from . import matrix
    try:
        m = matrix.load()
        for k in m["kernels"].values():
            every += [k.get("cross", "") + "gcc", k.get("guest_cc")]
        every += [r["qemu"].split()[0] for r in m["rows"] if r.get("qemu")]
        every += [e.get("cross", "") + "gcc" for e in m.get("sweep", [])]
    except Error as e:
        print(f"doctor: {e}")
    every = [n for n in dict.fromkeys(every) if n]
    gone = {m[0]: m for m in missing(every)}
    bad = 0
    for n in every:
        p = package(n)
        state = "ok"
        if n in gone:
            state = "optional, missing" if n in OPTIONAL else "MISSING"
            bad += n not in OPTIONAL
        print(f"  {n:<30} {p:<30} {state}")
    print(f"python3 (the tool's, also for the kernel's scripts): "
          f"{sys.executable}")
    need = [m for n, m in gone.items() if n not in OPTIONAL]
    if need:
        print(f"doctor: {bad} missing{_install_line(need)}")
    else:
        print("doctor: everything is installed")
    return bad
