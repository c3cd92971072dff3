# SPDX-License-Identifier: GPL-2.0
"""The lines of the series: one series file each, developed on its own
default base.  `--line NAME` picks one for every command; `test` runs
them all.

  v6.1.y     series            patches/swiotlb/, patches/iova/       debian-6.1
  mainline   series.mainline   patches/mainline-swiotlb/, ...-iova/   debian-6.12

A line's worktrees, builds and results are named after the base and the
line (out/src/<base>+<variant> for v6.1.y, out/src/<base>+mainline-
<variant> for mainline), so the two never share one, even on the same
--base.
"""

from .common import Error


class Line:
    def __init__(self, name, series, base):
        self.name = name
        self.series = series        # the series file, relative to the top
        self.base = base            # the default --base

    def variant(self, variant):
        """The worktree/build name of @variant on this line: the
        default line keeps the plain names; 'plain' (the base without
        any series) is the same tree on every line."""
        if self.name == DEFAULT or variant == "plain":
            return variant
        return f"{self.name}-{variant}"

    @property
    def edit_branch(self):
        return "series-edit" if self.name == DEFAULT \
            else f"{self.name}-series-edit"


DEFAULT = "v6.1.y"
LINES = {
    "v6.1.y": Line("v6.1.y", "series", "debian-6.1"),
    "mainline": Line("mainline", "series.mainline", "debian-6.12"),
}
NAMES = tuple(LINES)


def get(name=None):
    """The Line called @name (the default line when None)."""
    name = name or DEFAULT
    if name not in LINES:
        raise Error(f"unknown line '{name}': choose one of "
                    + ", ".join(NAMES))
    return LINES[name]


def of(args):
    """The line that @args (the command line) selects."""
    return get(getattr(args, "line", None))
