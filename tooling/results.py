# SPDX-License-Identifier: GPL-2.0
"""One result type for everything a run proves (self-tests, checks,
sweep entries, KUnit cases, matrix rows), rendered once: the summary
table, the machine-readable file (out/results/run.json) and the closing
line `N passed, N failed`.

Statuses: pass, fail, skip, and flaky (a row that passed only on a
second boot after its first one timed out with no series code on any
vCPU: counted with the passes in the closing line, named on the line
before it, never a plain pass).
"""

import datetime
import json
import os

STATUSES = ("pass", "fail", "skip", "flaky")


class Result:
    def __init__(self, step, name, status, summary="", log=None,
                 details=(), secs=None, line=None):
        if status not in STATUSES:
            raise ValueError(f"unknown status {status}")
        self.step, self.name, self.status = step, name, status
        self.line = line        # the series line (None: of no line)
        self.summary, self.log = summary, log
        self.details = list(details)
        self.secs = secs

    def as_dict(self):
        d = {"step": self.step, "line": self.line, "name": self.name,
             "status": self.status, "summary": self.summary}
        if self.log:
            d["log"] = self.log
        if self.details:
            d["details"] = self.details[:50]
        if self.secs is not None:
            d["seconds"] = round(self.secs, 1)
        return d


class Run:
    """The results of one command, in the order they were made."""

    def __init__(self, command, line=None):
        self.command = command
        self.results = []
        self.started = datetime.datetime.now(datetime.timezone.utc)
        # the line the steps now running belong to: every result added
        # carries it (cmd_test sets it before each line's steps)
        self.line = line

    def add(self, step, name, status, summary="", **kw):
        kw.setdefault("line", self.line)
        r = Result(step, name, status, summary, **kw)
        self.results.append(r)
        return r

    def of(self, step, line=False):
        """The results of @step (of the current line unless @line is
        None: of every line)."""
        line = self.line if line is False else line
        return [r for r in self.results if r.step == step and
                (line is None or r.line == line)]

    def counts(self, step=None):
        """Counts of every result, or of @step on the current line."""
        rs = self.results if step is None else self.of(step)
        c = {s: 0 for s in STATUSES}
        for r in rs:
            c[r.status] += 1
        return c

    def steps(self):
        """(step, line) pairs in the order their first result came."""
        seen = []
        for r in self.results:
            if (r.step, r.line) not in seen:
                seen.append((r.step, r.line))
        return seen

    def table(self):
        """The summary table: one line a step of a line."""
        rows = []
        for s, line in self.steps():
            c = {k: 0 for k in STATUSES}
            for r in self.results:
                if (r.step, r.line) == (s, line):
                    c[r.status] += 1
            rows.append((s, line or "-", c["pass"], c["fail"], c["skip"],
                         c["flaky"]))
        return render(rows, ("step", "line", "passed", "failed", "skipped",
                             "flaky"))

    def closing(self):
        """The lines that end the run: flaky ones named, then the count."""
        c = self.counts()
        out = []
        flaky = [r for r in self.results if r.status == "flaky"]
        if flaky:
            out.append(f"flaky: {len(flaky)} ("
                       + "; ".join(" ".join(filter(None, (
                           r.step, r.line, r.name))) + f": {r.summary}"
                                   for r in flaky) + ")")
        line = f"{c['pass'] + c['flaky']} passed, {c['fail']} failed"
        if c["skip"]:
            line += f", {c['skip']} skipped"
        out.append(line)
        return "\n".join(out)

    def write(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        c = self.counts()
        doc = {"command": self.command,
               "started": self.started.isoformat(timespec="seconds"),
               "counts": c,
               "results": [r.as_dict() for r in self.results]}
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
        return path


def render(rows, head):
    """One aligned table, as text."""
    w = [max(len(str(r[i])) for r in list(rows) + [head])
         for i in range(len(head))]
    lines = ["  ".join(str(h).ljust(w[i]) for i, h in enumerate(head)),
             "  ".join("-" * x for x in w)]
    for r in rows:
        lines.append("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(l.rstrip() for l in lines)
