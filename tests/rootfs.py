"""Build busybox-static root filesystem tarballs for tests, benches and the demo.

No registry is reachable here, so every image podium's tests use starts as a
tarball made from Debian's busybox-static: /bin/busybox, one symlink per applet,
/etc/passwd and /etc/group, and the usual empty directories.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path

BUSYBOX = "/bin/busybox"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "www:x:33:33:www:/var/www:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\nwww:x:33:\nusers:x:100:www\nnogroup:x:65534:\n"


def applets() -> list[str]:
    out = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def write_rootfs_tar(dest: str | os.PathLike[str], *, extra: dict[str, bytes] | None = None) -> Path:
    """Write a busybox root filesystem as an uncompressed tar at ``dest``; returns its path."""
    dest = Path(dest)
    now = int(time.time())

    def add_dir(tf: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE
        ti.mode = mode
        ti.mtime = now
        tf.addfile(ti)

    def add_file(tf: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = mode
        ti.mtime = now
        tf.addfile(ti, io.BytesIO(data))

    with tarfile.open(dest, "w") as tf:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "var", "var/www",
                  "proc", "sys", "dev", "run"):
            add_dir(tf, d)
        add_dir(tf, "tmp", 0o1777)
        with open(BUSYBOX, "rb") as f:
            add_file(tf, "bin/busybox", f.read(), 0o755)
        for path in applets():
            rel = path.lstrip("/")
            if rel == "bin/busybox":
                continue
            ti = tarfile.TarInfo(rel)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "/bin/busybox"
            ti.mtime = now
            tf.addfile(ti)
        add_file(tf, "etc/passwd", PASSWD.encode())
        add_file(tf, "etc/group", GROUP.encode())
        for name, data in (extra or {}).items():
            add_file(tf, name.lstrip("/"), data, 0o755 if name.endswith(".sh") else 0o644)
    return dest


if __name__ == "__main__":
    import sys

    extra = {}
    for arg in sys.argv[2:]:
        name, _, text = arg.partition("=")
        extra[name] = text.encode() + b"\n"
    print(write_rootfs_tar(sys.argv[1], extra=extra))
