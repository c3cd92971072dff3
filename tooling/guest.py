# SPDX-License-Identifier: GPL-2.0
"""The guest: guest/dmastress.c built static against the tree's nolibc,
and the gen_init_cpio spec that makes it the kernel's initramfs."""

import os
import shlex

from .common import TOP, run, need, ensure_dir

GUEST_SRC = os.path.join(TOP, "guest", "dmastress.c")


def build_guest(build, reconfigured):
    """The guest program of kernel @build (a build.Build), static with
    nolibc, and its cpio spec."""
    gdir = ensure_dir(build.odir, "guest")
    hdr = os.path.join(gdir, "usr")
    if reconfigured or not os.path.isdir(hdr):
        run(build.make_args() + ["headers_install",
                                f"INSTALL_HDR_PATH={hdr}"], log=build.log)
    cc = build.spec["guest_cc"]
    need(cc)
    nolibc = os.path.join(build.src, "tools/include/nolibc")
    tmp = os.path.join(gdir, "init.new")
    run([cc, "-static", "-nostdlib", "-Os", "-Wall",
         "-fno-asynchronous-unwind-tables", "-fno-stack-protector",
         "-isystem", nolibc, "-isystem", os.path.join(hdr, "include"),
         "-include", os.path.join(nolibc, "nolibc.h")]
        + shlex.split(build.spec.get("guest_cflags", ""))
        + ["-o", tmp, GUEST_SRC, "-lgcc"], log=build.log)
    init = os.path.join(gdir, "init")
    # Replace only when it changed, or the kernel relinks every run.
    if not os.path.exists(init) or \
            open(init, "rb").read() != open(tmp, "rb").read():
        os.replace(tmp, init)
    else:
        os.unlink(tmp)
    spec = ("dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n"
            "dir /proc 0755 0 0\ndir /sys 0755 0 0\n"
            f"file /init {init} 0755 0 0\n")
    for dest, src in build.extra_files:
        spec += f"file {dest} {src} 0644 0 0\n"
    if not os.path.exists(build.spec_file()) or \
            open(build.spec_file()).read() != spec:
        with open(build.spec_file(), "w") as f:
            f.write(spec)

