# SPDX-License-Identifier: GPL-2.0
"""Shared helpers: paths, errors, progress lines, subprocess wrappers."""

import os
import re
import shutil
import subprocess
import sys
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

# Every command runs in the C locale (git's and gcc's messages are parsed)
# and with git blind to the user's and the system's configuration, so that
# ~/.gitconfig (diff.noprefix, format.signOff, commit.gpgsign, hooks...)
# cannot change a commit, an 'am' or a format-patch.
ENV = {
    "LC_ALL": "C",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# ...and what the repositories' own configuration could still turn on.
GIT_OPTS = ["-c", f"core.hooksPath={os.devnull}",
            "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]

# Debian package that provides each tool we call, for the error message.
PACKAGE_OF = {
    "git": "git", "make": "make", "gcc": "gcc", "bc": "bc",
    "flex": "flex", "bison": "bison", "ccache": "ccache",
    "sparse": "sparse", "b4": "b4", "perl": "perl", "cpio": "cpio",
    "rsync": "rsync", "tar": "tar", "xz": "xz-utils",
    "dpkg-query": "dpkg", "apt-get": "apt", "timeout": "coreutils",
    "gnuplot": "gnuplot-nox", "python3": "python3",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "arm-linux-gnueabihf-gcc": "gcc-arm-linux-gnueabihf",
    "mips64el-linux-gnuabi64-gcc": "gcc-mips64el-linux-gnuabi64",
    "mipsel-linux-gnu-gcc": "gcc-mipsel-linux-gnu",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-system-aarch64": "qemu-system-arm",
    "qemu-system-mips64el": "qemu-system-mips",
}

_T0 = time.monotonic()


class Error(Exception):
    """A failure with a message meant for the user; no traceback."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the tool was (patchtree installs the
    handler), so that every finally: block runs (QEMU is killed).  A
    KeyboardInterrupt: 'except Exception' does not swallow it."""


def on_sigterm(signum, frame):
    raise Terminated()


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
            raise missing_tool(t)


def missing_tool(tool):
    """The one-line Error for a program that is not installed."""
    return Error(f"required tool '{tool}' not found: install it with "
                 f"'apt-get install {PACKAGE_OF.get(tool, tool)}'")


def python_dir():
    """A directory whose one entry, python3, is the interpreter that runs
    the tool.  It comes first in every command's PATH, so that the
    kernel's Python scripts (kunit.py, checkpatch's spdxcheck.py) run
    with the tool's Python and its Debian modules (python3-ply,
    python3-git), not with whatever python3 is first in the user's PATH
    (a pyenv shim, a venv: without ply, checkpatch's SPDX check silently
    passes)."""
    d = os.path.join(OUT, ".python")
    link = os.path.join(d, "python3")
    if os.path.realpath(link) != os.path.realpath(sys.executable):
        os.makedirs(d, exist_ok=True)
        tmp = f"{link}.{os.getpid()}"
        os.symlink(sys.executable, tmp)
        os.replace(tmp, link)
    return d


def run(cmd, cwd=None, env=None, log=None, check=True, capture=False,
        timeout=None, stdin=None):
    """Run @cmd (a list), its stdin /dev/null unless @stdin (text) is
    given, in ENV, with the tool's python3 first in PATH.  With @log, stdout+stderr are appended to that file;
    with @capture, returned as text.  Raise Error when @check and the
    command fails, naming the command and quoting the log's errors."""
    full_env = dict(os.environ, **ENV)
    full_env["GIT_CONFIG_GLOBAL"] = git_global_config()
    if env:
        full_env.update(env)
    full_env["PATH"] = python_dir() + os.pathsep + full_env.get("PATH", "")
    kw = dict(cwd=cwd, env=full_env, timeout=timeout)
    if stdin is not None:
        kw["input"] = stdin
        kw["text"] = True
    else:
        kw["stdin"] = subprocess.DEVNULL
    start = 0
    try:
        if log:
            with open(log, "a") as f:
                f.write(f"$ {' '.join(cmd)}\n")
                f.flush()
                start = f.tell()
                p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                                   **kw)
        elif capture:
            kw["text"] = True
            p = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, **kw)
        else:
            p = subprocess.run(cmd, **kw)
    except FileNotFoundError as e:
        if cwd and not os.path.isdir(cwd):
            raise Error(f"{cwd}: no such directory (to run {cmd[0]} in)")
        if e.filename in (cmd[0], None) and \
                shutil.which(cmd[0], path=full_env.get("PATH")) is None:
            raise missing_tool(cmd[0])
        raise
    if check and p.returncode != 0:
        msg = f"command failed ({p.returncode}): {' '.join(cmd)}"
        if log:
            msg += "".join(f"\n  | {line}" for line in log_excerpt(log, start))
            msg += f"\n  see {log}"
        elif capture:
            msg += "\n" + (p.stderr or p.stdout or "").strip()[-2000:]
        raise Error(msg)
    return p


# Lines of a build log that say why it failed.
LOG_ERROR = re.compile(r"error:|Error [0-9]|undefined reference|"
                       r"No rule to make target|not found", re.I)


def log_excerpt(log, start=0, tail=25, limit=40):
    """The error lines of @log (from byte @start: this command's part),
    then its last @tail lines; at most @limit lines in all."""
    try:
        with open(log, "rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    last = lines[-tail:]
    first = len(lines) - len(last)
    errors = [x for x in lines[:first] if LOG_ERROR.search(x)]
    errors = errors[:max(limit - len(last) - 1, 0)]
    if errors:
        errors.append("...")
    return [x[:300] for x in (errors + last)[-limit:]]


def one_line(exc):
    """@exc as one line for the user, never a traceback: an Error's own
    message, a file error with its file name, a missing program with its
    Debian package, anything else with its type and where it was raised."""
    if isinstance(exc, Error):
        return str(exc)
    name = getattr(exc, "filename", None)
    if isinstance(exc, FileNotFoundError) and isinstance(name, str) and \
            "/" not in name and not os.path.exists(name) and \
            shutil.which(name) is None:
        return str(missing_tool(name))      # a program run directly
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    if type(exc).__module__.startswith("yaml"):
        return f"YAML: {' '.join(str(exc).split())}"
    if isinstance(exc, subprocess.CalledProcessError):
        cmd = exc.cmd if isinstance(exc.cmd, str) else " ".join(exc.cmd)
        return f"command failed ({exc.returncode}): {cmd}"
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"timed out after {exc.timeout:.0f}s: {exc.cmd}"
    where = ""
    tb = exc.__traceback__
    while tb and tb.tb_next:
        tb = tb.tb_next
    if tb:
        where = f" (at {os.path.relpath(tb.tb_frame.f_code.co_filename, TOP)}" \
                f":{tb.tb_lineno})"
    text = " ".join(str(exc).split()) or "no message"
    return f"internal error: {type(exc).__name__}: {text}{where}"


_GLOBAL = None


def git_global_config():
    """GIT_CONFIG_GLOBAL for every command: /dev/null, or, when the user
    trusts trees of other owners (safe.directory, the one setting of
    theirs git keeps seeing), a file of those entries alone."""
    global _GLOBAL
    if _GLOBAL is None:
        _GLOBAL = os.devnull
        try:
            p = subprocess.run(["git", "config", "--get-all",
                                "safe.directory"], cwd="/",
                               stdin=subprocess.DEVNULL,
                               capture_output=True, text=True)
        except OSError:
            return _GLOBAL
        dirs = p.stdout.splitlines()
        if dirs:
            path = os.path.join(OUT, ".gitconfig")
            os.makedirs(OUT, exist_ok=True)
            with open(path, "w") as f:
                f.write("[safe]\n" + "".join(
                    '\tdirectory = "%s"\n' % d.replace("\\", "\\\\")
                    .replace('"', '\\"') for d in dirs))
            _GLOBAL = path
    return _GLOBAL


def git(tree, *args, check=True, env=None):
    """Run git in @tree, blind to the user's configuration (ENV,
    GIT_OPTS, git_global_config()), and return its stripped stdout."""
    e = dict(IDENTITY)
    if env:
        e.update(env)
    p = run(["git"] + GIT_OPTS + ["-C", tree] + list(args), capture=True,
            check=check, env=e)
    return p.stdout.strip() if check else p


def ensure_dir(*parts):
    d = os.path.join(*parts)
    os.makedirs(d, exist_ok=True)
    return d


def allowlist_entries(path):
    """(line number, line) of each entry of an allowlist file: every
    line but blank ones and '#' comments; none if the file is absent."""
    if not os.path.exists(path):
        return
    for n, line in enumerate(open(path), 1):
        if line.strip() and not line.startswith("#"):
            yield n, line.rstrip("\n")
