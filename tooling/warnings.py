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

# (label, regex); the groups are (file, text) or (text,).
_WARN = [
    ("objtool", re.compile(r"^(\S+?): warning: objtool: (.*)$")),
    ("modpost", re.compile(r"^WARNING: modpost: (.*)$")),
    ("kconfig", re.compile(r"^WARNING: (unmet direct dependencies .*)$")),
    ("kconfig", re.compile(r"^(\S*Kconfig\S*|\.config):\d+:\s*warning: "
                           r"(.*)$")),
    ("ld", re.compile(r"^(?:\S*-)?ld(?:\.bfd|\.lld)?: (?:(\S+): )?"
                      r"warning: (.*)$")),
    ("cc", re.compile(r"^(?:\S*-)?(?:gcc|cc1|clang): warning: (.*)$")),
    ("cc", re.compile(r"^(\S+?):\d+:(?:\d+:)? warning: (.*)$")),
]
_ERR = re.compile(r"^(?:\S+?:\d+:(?:\d+:)? (?:fatal )?error: .*|"
                  r"(?:\S*-)?(?:gcc|cc1|clang|as): (?:fatal )?error: .*|"
                  r"\S+?: Error: .*|"
                  r"\S+?: error: objtool: .*|"
                  r".*: undefined reference to .*|"
                  r".*: multiple definition of .*|"
                  r"ERROR: modpost: .*|"
                  r"\S*Kconfig\S*:\d+: syntax error.*|"
                  r"fixdep: error .*|"
                  r"make(?:\[\d+\])?: \*\*\* (?:No rule to make target "
                  r".*|\[.*\] (?:Error|Killed|Terminated).*))$")
# Kconfig's override notices come from merge_config/tinyconfig, not from
# the patches: they are not warnings of the build.
_IGNORE = re.compile(r"warning: override: ")
# Offsets in a function move with any code change: not part of a warning.
_OFFSET = re.compile(r"\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?")


def norm(path, prefix=None):
    """@path relative to the tree: without the tree's own @prefix (the
    worktree, for out-of-tree builds) or a leading ./"""
    if prefix and path.startswith(prefix.rstrip("/") + "/"):
        path = path[len(prefix.rstrip("/")) + 1:]
    return re.sub(r"^(?:\./)+", "", path)


def parse(text, prefix=None):
    """All warnings in @text, normalised, in order (a list): no line or
    column numbers, no offsets, paths relative to @prefix."""
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
            text_ = _OFFSET.sub("", g[-1].strip())
            if len(g) == 2:
                out.append(f"{label} {norm(g[0], prefix)}: {text_}")
            else:
                out.append(f"{label} {text_}")
            break
    return out


def errors(text, limit=20):
    """The error lines of a build log (compiler, assembler, linker,
    objtool, modpost, Kconfig, make), at most @limit of them."""
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


def from_log(path, prefix=None):
    with open(path, errors="replace") as f:
        return parse(f.read(), prefix)
