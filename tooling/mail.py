# SPDX-License-Identifier: GPL-2.0
"""Sending a posting: its To/Cc (b4/<posting>.conf), its threaded mbox
(optionally signed by the poster), and the b4 round trip that proves
the mbox applies alone onto the base."""

import email.utils
import os
import re

from . import worktree
from .common import Error, git, run, ensure_dir

# RFC 2606: no one receives mail at .invalid; the tree's own identity
# (dma-series@lists.invalid) is such a placeholder
PLACEHOLDER = re.compile(r"@[^\s>]*\.invalid>?\s*$", re.I)


def b4conf(posting):
    return os.path.join(posting.series.top, "b4", f"{posting.name}.conf")


def _config(path, key):
    """@key of the git-config file @path (b4 reads it so), or None."""
    p = run(["git", "config", "-f", path, "--get", key], capture=True,
            check=False, cwd=os.sep)
    if p.returncode == 1:
        return None
    if p.returncode:
        raise Error(f"{path}: " + (p.stderr.strip().splitlines() or
                                   ["git config failed"])[-1])
    return p.stdout.strip()


def contacts(posting):
    """{'to': [(name, addr)], 'cc': [...], 'section': str, 'extra_cc':
    [...], 'file': path} of @posting: b4.send-series-to,
    b4.send-series-cc, patchtree.to-section (the MAINTAINERS section
    whose maintainers are its To:) and patchtree.extra-cc (Cc'd on
    purpose though MAINTAINERS names them for none of these files) of
    b4/<posting>.conf."""
    path = b4conf(posting)
    if not os.path.isfile(path):
        raise Error(f"{path}: missing (the b4 settings and To/Cc of "
                    f"posting {posting.name})")
    out = {"file": path}
    for k, key in (("to", "b4.send-series-to"), ("cc", "b4.send-series-cc")):
        v = _config(path, key)
        out[k] = [a for a in email.utils.getaddresses([v or ""]) if a[1]]
        if not out[k]:
            raise Error(f"{path}: no {key} addresses")
    out["section"] = _config(path, "patchtree.to-section")
    # Cc'd by request (the people of the discussion a posting answers),
    # whom MAINTAINERS does not name: the check wants each in Cc
    out["extra_cc"] = [a for a in email.utils.getaddresses(
        [_config(path, "patchtree.extra-cc") or ""]) if a[1]]
    return out


def addresses(pairs):
    return ", ".join(email.utils.formataddr(a, charset="utf-8")
                     for a in pairs)


def parse_sender(text):
    """'Name <addr>' of --from, checked."""
    name, addr = email.utils.parseaddr(text)
    if not name or "<" not in text or "@" not in addr or \
            PLACEHOLDER.search(addr + ">"):
        raise Error(f"--from '{text}': want 'Your Name <you@example.org>' "
                    f"(a real address; .invalid is the tree's placeholder)")
    return name, addr


def _signoff(subject, msg, sender):
    """The commit message @msg (without its subject) with @sender's
    Signed-off-by last, by git interpret-trailers."""
    p = run(["git", "interpret-trailers", "--if-exists",
             "addIfDifferentNeighbor", "--trailer",
             f"Signed-off-by: {sender[0]} <{sender[1]}>"],
            stdin=subject + "\n\n" + msg, capture=True, cwd=os.sep)
    return p.stdout.split("\n", 1)[1].lstrip("\n")


def resign(head, body, sender, patch):
    """One message signed by @sender: a From: with a placeholder address
    becomes @sender (a real author's From: stays: git am keeps them as
    author); in a patch, placeholder Signed-off-by lines go and
    @sender's Signed-off-by ends the trailers."""
    m = re.search(r"^From: (.*(?:\n[ \t].*)*)$", head, re.M)
    if m and PLACEHOLDER.search(email.utils.parseaddr(
            re.sub(r"\n[ \t]+", " ", m.group(1)))[1] + ">"):
        head = head[:m.start(1)] + \
            email.utils.formataddr(sender, charset="utf-8") + \
            head[m.end(1):]
    if patch:
        msg, sep, rest = ("\n" + body).partition("\n---\n")
        msg = "\n".join(line for line in msg[1:].split("\n")
                        if not (line.startswith("Signed-off-by:") and
                                PLACEHOLDER.search(line)))
        subj = re.search(r"^Subject: (.*)$", head, re.M)
        body = _signoff(subj.group(1) if subj else "patch", msg, sender) \
            + sep.lstrip("\n") + rest
    if not (head + body).isascii() and \
            not re.search(r"^Content-Type:", head, re.M | re.I):
        head += "\nMIME-Version: 1.0\nContent-Type: text/plain; " \
                "charset=UTF-8\nContent-Transfer-Encoding: 8bit"
    return head, body


def mbox(base, posting, path, sender=None):
    """One mbox of @posting: its cover letter and patches, threaded to
    the cover by Message-Id/In-Reply-To/References, every message with
    the posting's To:/Cc:; with @sender ('Name <addr>'), signed by
    them (resign())."""
    series = posting.series
    series.validate()
    who = parse_sender(sender) if sender else None
    c = contacts(posting)
    files = [posting.cover] + [series.path(n) for n in posting.names]
    tag = posting.digest()
    cover_id = f"<{tag}.0@patchtree.invalid>"
    out = []
    for i, f in enumerate(files):
        text = open(f, encoding="utf-8", errors="surrogateescape").read()
        head, sep, body = text.partition("\n\n")
        head = re.sub(r"^(Message-Id|In-Reply-To|References|To|Cc):.*\n"
                      r"(?:[ \t].*\n)*", "", head + "\n",
                      flags=re.M | re.I).rstrip("\n")
        if who:
            head, body = resign(head, body, who, patch=i > 0)
        # one line a header: b4 0.12's 'am -m' reads a local mbox with
        # the compat32 parser and fails on a folded Subject
        head = re.sub(r"\n[ \t]+", " ", head)
        hdrs = [f"To: {addresses(c['to'])}", f"Cc: {addresses(c['cc'])}",
                f"Message-Id: <{tag}.{i}@patchtree.invalid>"]
        if i:
            hdrs += [f"In-Reply-To: {cover_id}", f"References: {cover_id}"]
        if "base-commit:" not in body and i == 0:
            body = body.rstrip("\n") + f"\n\nbase-commit: {base.commit}\n"
        if not head.startswith("From "):
            head = "From 0000000000000000000000000000000000000000 " \
                   "Mon Sep 17 00:00:00 2001\n" + head
        out.append(head + "\n" + "\n".join(hdrs) + sep + body.rstrip("\n")
                   + "\n\n")
    ensure_dir(os.path.dirname(os.path.abspath(path)))
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(out))
    return path


def b4_roundtrip(base, mbox_path, workdir):
    """b4 am -m the mbox offline and git am the result onto the plain
    base in the tool's worktree 'post'; return one line per commit
    applied: 'author<TAB>Signed-off-by values'."""
    ensure_dir(workdir)
    with worktree.lock(base, "post"):
        wt = base.worktree("post")
        worktree.reset_to_base(wt, base)
        bdir = ensure_dir(workdir, "b4")
        name = os.path.splitext(os.path.basename(mbox_path))[0]
        mbx = os.path.join(bdir, f"{name}.mbx")
        if os.path.exists(mbx):
            os.unlink(mbx)
        run(["b4", "-n", "am", "-m", mbox_path, "-o", bdir, "-n", name],
            cwd=wt, capture=True,
            env={"XDG_CACHE_HOME": ensure_dir(workdir, "cache"),
                 "XDG_DATA_HOME": ensure_dir(workdir, "data")})
        if not os.path.exists(mbx):
            raise Error(f"b4 am wrote no {mbx}")
        try:
            p = git(wt, "am", "-q", mbx, check=False)
            if p.returncode != 0:
                raise Error(f"git am of b4's output ({mbx}) onto the base "
                            f"failed: " + " ".join((p.stdout + p.stderr)
                                                   .split())[:300])
            log = git(wt, "log", "--reverse", "--format=%an <%ae>%x09"
                      "%(trailers:key=Signed-off-by,valueonly,separator=;)",
                      f"{base.commit}..HEAD")
        finally:
            worktree.reset_to_base(wt, base)
        return log.splitlines()
