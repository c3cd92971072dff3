# SPDX-License-Identifier: GPL-2.0
"""Warnings and errors in build logs: what a patch may not add.

One matcher for every producer the kernel build has: gcc and clang
(`file:line:col: warning:`), objtool (`x.o: warning: objtool: ...`),
modpost (`WARNING: modpost: ...`, section mismatches), the linker
(`ld: warning: ...`, `ld: x.o: warning: ...`), Kconfig (`WARNING: unmet
direct dependencies detected for X`, `.config:N:warning: ...`) and
sparse (its lines look like the compiler's).  Line and column numbers
are dropped, so that code moving around does not make a warning new;
the result is a list, compared as a multiset: a second instance of an
old warning is new.
"""

import collections
import re

# (label, regex); the first group, when there is one, is the text kept.
_WARN = [
    ("objtool", re.compile(r"^(\S+?): warning: objtool: (.*)$")),
    ("modpost", re.compile(r"^WARNING: modpost: (.*)$")),
    ("kconfig", re.compile(r"^WARNING: (unmet direct dependencies .*)$")),
    ("kconfig", re.compile(r"^(\S*Kconfig\S*|\.config):\d+:\s*warning: "
                           r"(.*)$")),
    ("ld", re.compile(r"^(?:\S*-)?ld(?:\.bfd)?: (?:(\S+): )?warning: (.*)$")),
    ("cc", re.compile(r"^(\S+?):\d+:(?:\d+:)? warning: (.*)$")),
]
_ERR = re.compile(r"^(?:\S+?:\d+:(?:\d+:)? (?:fatal )?error: .*|"
                  r"\S*ld(?:\.bfd)?: .*(?:undefined reference|"
                  r"multiple definition).*|"
                  r"ERROR: modpost: .*|"
                  r"make\[\d+\]: \*\*\* No rule to make target .*)$")
# Kconfig's override notices come from merge_config/tinyconfig, not from
# the patches: they are not warnings of the build.
_IGNORE = re.compile(r"warning: override: |"
                     r"warning: (?:ignoring|unknown) (?:unsupported )?"
                     r"character")


def _norm(path):
    """A path relative to the tree: strip an absolute source prefix up to
    a kernel top-level directory, and ./ prefixes."""
    m = re.search(r"(?:^|/)((?:arch|block|certs|crypto|drivers|fs|include|"
                  r"init|io_uring|ipc|kernel|lib|mm|net|samples|scripts|"
                  r"security|sound|tools|usr|virt)/.*)$", path)
    return m.group(1) if m else path.lstrip("./")


def parse(text):
    """All warnings in @text, normalised, in order (a list)."""
    out = []
    for line in text.splitlines():
        line = line.rstrip()
        if _IGNORE.search(line):
            continue
        for label, rx in _WARN:
            m = rx.match(line)
            if not m:
                continue
            g = [x for x in m.groups() if x is not None]
            if len(g) == 2:
                out.append(f"{label} {_norm(g[0])}: {g[1].strip()}")
            else:
                out.append(f"{label} {g[0].strip()}")
            break
    return out


def errors(text, limit=20):
    """The error lines of a build log (compiler, linker, modpost, make),
    at most @limit of them."""
    out = [l.rstrip() for l in text.splitlines() if _ERR.match(l.rstrip())]
    return out[:limit]


def new(after, before):
    """Warnings in @after beyond those in @before, counted as multisets."""
    left = collections.Counter(before)
    out = []
    for w in after:
        if left[w]:
            left[w] -= 1
        else:
            out.append(w)
    return out


def from_log(path):
    with open(path, errors="replace") as f:
        return parse(f.read())
