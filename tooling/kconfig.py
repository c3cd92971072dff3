# SPDX-License-Identifier: GPL-2.0
"""Kconfig values: what fragments ask for, what a .config holds, which
symbols a tree defines."""

import re

from .common import git

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
