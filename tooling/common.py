# SPDX-License-Identifier: GPL-2.0
"""Shared helpers: paths, errors, progress lines, subprocess wrappers."""

import os
import shutil
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get("PATCHTREE_OUT", os.path.join(TOP, "out"))

# The identity that commits in the trees this tool creates.  Patches keep
# their own From:/Signed-off-by:; this only names the committer.
IDENTITY = {
    "GIT_AUTHOR_NAME": "dma-series tree",
    "GIT_AUTHOR_EMAIL": "dma-series@lists.invalid",
    "GIT_COMMITTER_NAME": "dma-series tree",
    "GIT_COMMITTER_EMAIL": "dma-series@lists.invalid",
}

# Debian package that provides each tool we call, for the error message.
PACKAGE_OF = {
    "git": "git", "make": "make", "gcc": "gcc", "bc": "bc",
    "flex": "flex", "bison": "bison", "ccache": "ccache",
    "sparse": "sparse", "b4": "b4", "perl": "perl", "cpio": "cpio",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "mips64el-linux-gnuabi64-gcc": "gcc-mips64el-linux-gnuabi64",
    "mipsel-linux-gnu-gcc": "gcc-mipsel-linux-gnu",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-system-aarch64": "qemu-system-arm",
    "qemu-system-mips64el": "qemu-system-mips",
}

_T0 = time.monotonic()


class Error(Exception):
    """A failure with a message meant for the user; no traceback."""


def progress(step, what, row=None):
    """Print one progress line: elapsed time, step, row, message."""
    el = time.monotonic() - _T0
    tag = f"[{int(el) // 60:3d}:{int(el) % 60:02d}] {step:<8}"
    if row:
        tag += f" {row:<14}"
    print(f"{tag} {what}", flush=True)


def need(*tools):
    """Fail with an install hint if any of @tools is not on PATH."""
    for t in tools:
        if shutil.which(t) is None:
            pkg = PACKAGE_OF.get(t, t)
            raise Error(f"required tool '{t}' not found: "
                        f"install it with 'apt-get install {pkg}'")


def run(cmd, cwd=None, env=None, log=None, check=True, capture=False,
        timeout=None, stdin=None):
    """Run @cmd (a list).  With @log, stdout+stderr are appended to that
    file; with @capture, returned as text.  Raise Error when @check and the
    command fails, naming the command and the log."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    kw = dict(cwd=cwd, env=full_env, timeout=timeout)
    if stdin is not None:
        kw["input"] = stdin
        kw["text"] = True
    if log:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n")
            f.flush()
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
    elif capture:
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, **kw)
    else:
        p = subprocess.run(cmd, **kw)
    if check and p.returncode != 0:
        msg = f"command failed ({p.returncode}): {' '.join(cmd)}"
        if log:
            msg += f"\n  see {log}"
        elif capture:
            msg += "\n" + (p.stderr or p.stdout or "").strip()[-2000:]
        raise Error(msg)
    return p


def git(tree, *args, check=True, env=None):
    """Run git in @tree and return its stripped stdout."""
    e = dict(IDENTITY)
    if env:
        e.update(env)
    p = run(["git", "-C", tree] + list(args), capture=True, check=check,
            env=e)
    return p.stdout.strip() if check else p


def ensure_dir(*parts):
    d = os.path.join(*parts)
    os.makedirs(d, exist_ok=True)
    return d

