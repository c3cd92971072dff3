# SPDX-License-Identifier: GPL-2.0
"""One kernel of the matrix in its own O= directory: configure
(tinyconfig + merge_config.sh of the fragments, every value checked),
the guest, the image."""

import hashlib
import os
import shutil
import time

from .common import TOP, OUT, Error, progress, run, git, need, ensure_dir
from .kconfig import _fragment_values, _config_values, kconfig_symbols
from . import warnings as W

FRAG_DIR = os.path.join(TOP, "kernel-config-fragments")


class Build:
    """One kernel of the matrix in its own O= directory."""

    def __init__(self, base, variant, src, name, spec, extra_frags=()):
        self.base, self.src, self.name, self.spec = base, src, name, spec
        self.arch = spec["arch"]
        self.cross = spec.get("cross", "")
        self.frags = [os.path.join(FRAG_DIR, f + ".config")
                      for f in spec["fragments"]] + list(extra_frags)
        self.tag = base.tag(variant)
        # on the series every value asked for must hold; without it a
        # symbol the series adds is not asked for
        self.strict = variant != "plain"
        self.odir = ensure_dir(OUT, "build", self.tag, name)
        self.log = os.path.join(self.odir, "build.log")
        self.image = os.path.join(self.odir, spec["image"])
        self.bootable = bool(spec.get("guest_cc"))
        # (path in the guest, file here): more for the initramfs
        self.extra_files = []

    def make_args(self):
        cc = self.cross + "gcc"
        need(cc)
        args = ["make", "-C", self.src, f"O={self.odir}", f"ARCH={self.arch}",
                f"-j{os.cpu_count() or 2}"]
        if self.cross:
            args.append(f"CROSS_COMPILE={self.cross}")
        args += [f"CC={ccache_cc(cc)}", f"HOSTCC={ccache_cc('gcc')}"]
        return args

    def configure(self):
        """tinyconfig + merge_config.sh of the fragments, then check that
        the final .config has what they and 'require' asked for."""
        # Reconfigure when a fragment or a Kconfig file changed, not on
        # every commit: the per-patch builds would redo it each time.
        h = hashlib.sha256(git(self.src, "ls-files", "-s", "--",
                               "*Kconfig*").encode())
        for f in self.frags:
            h.update(open(f, "rb").read())
        h.update(repr(self.spec).encode())
        h.update(self.spec_file().encode())
        stamp = os.path.join(self.odir, ".patchtree-config")
        cfg = os.path.join(self.odir, ".config")
        # ...and when the .config is not the one this step wrote (an
        # edit by hand, or a build of another tree in this O=).
        if os.path.exists(stamp) and os.path.exists(cfg):
            h2 = h.copy()
            h2.update(open(cfg, "rb").read())
            if open(stamp).read() == h2.hexdigest():
                return False
        progress("config", " + ".join(os.path.basename(f)[:-7]
                                      for f in self.frags), self.name)
        frags = list(self.frags)
        if self.bootable:
            gen = os.path.join(self.odir, "patchtree-initramfs.config")
            with open(gen, "w") as f:
                f.write(f'CONFIG_INITRAMFS_SOURCE="{self.spec_file()}"\n')
            frags.append(gen)
        run(self.make_args() + ["tinyconfig"], log=self.log)
        run([os.path.join(self.src, "scripts/kconfig/merge_config.sh"),
             "-m", "-O", self.odir, os.path.join(self.odir, ".config")]
            + frags, cwd=self.src, log=self.log,
            env={"ARCH": self.arch, "CROSS_COMPILE": self.cross})
        run(self.make_args() + ["olddefconfig"], log=self.log)
        want = _fragment_values(self.frags)
        for req in self.spec.get("require", []):
            k, _, v = req.partition("=")
            want[k] = v
        have = _config_values(os.path.join(self.odir, ".config"))
        # A symbol this tree does not define (SWIOTLB_DYNAMIC on the
        # unpatched base) cannot be asked for there (--plain); on the
        # series every value must hold.
        defined = kconfig_symbols(self.src)
        missing = [f"{k}={v} (got {have.get(k, 'n')})"
                   for k, v in sorted(want.items())
                   if have.get(k, "n") != v
                   and (self.strict or k[7:] in defined)
                   and not (v == "n" and k not in have)]
        if missing:
            raise Error(f"{self.name}: the final .config lacks what the "
                        f"fragments ask for (a missing dependency?):\n  "
                        + "\n  ".join(missing))
        h.update(open(cfg, "rb").read())
        with open(stamp, "w") as f:
            f.write(h.hexdigest())
        return True

    def missing_feature(self):
        """The 'needs' symbol when this tree's Kconfig lacks it."""
        sym = self.spec.get("needs")
        if sym and git(self.src, "grep", "-q", f"^config {sym}$", "--",
                       "*Kconfig*", check=False).returncode != 0:
            return sym
        return None

    def config_has(self, sym):
        cfg = os.path.join(self.odir, ".config")
        return os.path.exists(cfg) and \
            _config_values(cfg).get(f"CONFIG_{sym}") == "y"

    def spec_file(self):
        # in guest/: v6.12's build removed it from the top of O=
        return os.path.join(self.odir, "guest", "initramfs.spec")

    def build_guest(self, reconfigured):
        """The guest program and its cpio spec (tooling/guest.py)."""
        from .guest import build_guest
        build_guest(self, reconfigured)

    def build(self, target=None):
        """Configure if needed, build the guest, make the image.
        Return the compiler warnings of this (incremental) build."""
        need("make", "bc", "flex", "bison", "perl")
        if os.path.exists(self.log):
            os.unlink(self.log)
        t0 = time.monotonic()
        reconf = self.configure()
        if self.bootable:
            self.build_guest(reconf)
        progress("build", f"make {target or os.path.basename(self.image)}",
                 self.name)
        tgt = target or ("vmlinux" if self.spec["image"] == "vmlinux"
                         else os.path.basename(self.image))
        run(self.make_args() + [tgt], log=self.log)
        progress("build", f"done in {time.monotonic() - t0:.0f}s", self.name)
        return W.from_log(self.log)


def ccache_cc(cc):
    return f"ccache {cc}" if shutil.which("ccache") else cc
