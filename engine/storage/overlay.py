"""Image layers + a container's upper dir -> one mounted root filesystem.

The normal path is one mount(2) call (through ``libc``, bound on first use): no
``mount`` process, no heavy imports, no mountinfo scan, because every ``podium
run`` pays for this. Where overlayfs is
unavailable (no module, nested overlay, some container hosts) the layers are
copied into the merged directory once, lowest first, honouring whiteouts and
opaque directories exactly as overlayfs would have.

Layer directories come from ``layers.extract_layer``: deletions are already
overlay whiteouts (0/0 char devices) and ``trusted.overlay.opaque=y``.
"""

from __future__ import annotations

import errno
import os
import stat

from ..errors import StoreError
from ..fsutil import copy_file, remove_path
from . import libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

PAGE = 4096
MNT_DETACH = 2
MS_NODEV = 4  # as Podman mounts container roots: device nodes in an image never open
OPAQUE = "trusted.overlay.opaque"
_FALLBACK_ERRNOS = (errno.EINVAL, errno.ENODEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP)


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space, ...)."""
    if "\\" not in field:
        return field
    out, i = bytearray(), 0
    raw = field.encode()
    while i < len(raw):
        if raw[i] == 0x5C and i + 3 < len(raw) and raw[i + 1:i + 4].isdigit():
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def is_mounted(path: Path | str) -> bool:
    """Whether ``path`` is a mount point in this mount namespace."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split(" ", 5)
                if len(fields) > 4 and _unescape(fields[4]) == target:
                    return True
    except FileNotFoundError:  # no /proc: ask the kernel the slow way
        return os.path.ismount(target)
    return False


def _mount_point(path: str) -> bool:
    """Whether something is mounted on ``path``, by the device number: overlay (and
    any other file system) has its own, unlike a plain directory. Two stat calls
    instead of reading mountinfo; only a bind mount from the parent's own file
    system would go unseen, and podium never puts one on a rootfs."""
    try:
        return os.lstat(path).st_dev != os.lstat(os.path.dirname(path) or ".").st_dev
    except FileNotFoundError:
        return False


def _copy_marker(merged: str) -> str:
    return merged + ".copied"


class TooLong(StoreError):
    """The lowerdir list does not fit in mount(2)'s one page of options."""


def overlay_options(lowers: list[Path], upper: Path | str, work: Path | str) -> bytes:
    """The mount data string; refuses what overlayfs cannot parse or take."""
    for p in (*lowers, upper, work):
        if "," in str(p) or ":" in str(p):
            raise StoreError(f"cannot use {p} in an overlay mount: path contains ',' or ':'")
    opts = (f"lowerdir={':'.join(str(p) for p in lowers)},upperdir={upper},workdir={work}"
            ).encode()
    if len(opts) >= PAGE:
        raise TooLong(f"image has too many layers for one overlay mount ({len(lowers)} "
                      f"layers: the mount options are {len(opts)} bytes, the kernel "
                      f"limit is {PAGE - 1}); flatten the image")
    return opts


def _mount_fsconfig(lowers: list[Path], upper: str, work: str, merged: str) -> int:
    """Mount with the new mount API, one ``lowerdir+`` per layer (Linux >= 6.8): no
    page limit on the layer list. Returns 0 or an errno (ENOSYS: no such API)."""
    fsopen, fsconfig, fsmount, move_mount = (
        libc.function(f) for f in ("fsopen", "fsconfig", "fsmount", "move_mount"))
    if None in (fsopen, fsconfig, fsmount, move_mount):
        return errno.ENOSYS
    set_string, cmd_create, cloexec, attr_nodev, empty_path, at_fdcwd = 1, 6, 1, 4, 4, -100
    fd = fsopen(b"overlay", cloexec)
    if fd < 0:
        return libc.get_errno()
    mfd = -1
    try:
        for key, value in [*((b"lowerdir+", p) for p in lowers),
                           (b"upperdir", upper), (b"workdir", work)]:
            if fsconfig(fd, set_string, key, os.fsencode(value), 0) != 0:
                return libc.get_errno()
        if fsconfig(fd, cmd_create, None, None, 0) != 0:
            return libc.get_errno()
        mfd = fsmount(fd, cloexec, attr_nodev)
        if mfd < 0:
            return libc.get_errno()
        if move_mount(mfd, b"", at_fdcwd, os.fsencode(merged), empty_path) != 0:
            return libc.get_errno()
        return 0
    finally:
        os.close(fd)
        if mfd >= 0:
            os.close(mfd)


def mount_rootfs(lowers: list[Path], upper: Path | str, work: Path | str, merged: Path | str,
                 *, method: str = "auto") -> str:
    """Mount ``lowers`` (top first) + ``upper`` on ``merged``; returns "overlay" or "copy".

    ``method`` "auto" tries overlayfs and falls back to copying when the kernel
    refuses it (EINVAL, ENODEV, EPERM, ...); "overlay" never falls back; "copy"
    always copies. Mounting an already mounted or already copied rootfs is a no-op.
    """
    merged, upper, work = (os.fspath(p).rstrip("/") or "/" for p in (merged, upper, work))
    if method not in ("auto", "overlay", "copy"):
        raise ValueError(f"unknown rootfs method {method!r}")
    if os.path.exists(_copy_marker(merged)):
        return "copy"
    if _mount_point(merged):
        return "overlay"
    os.makedirs(merged, exist_ok=True)
    if method != "copy" and lowers:
        opts: bytes | None = None
        too_long: TooLong | None = None
        try:
            opts = overlay_options(lowers, upper, work)
        except TooLong as exc:
            too_long = exc
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        if opts is None:  # too many layers for mount(2): one fsconfig call per layer
            err = _mount_fsconfig(lowers, upper, work, merged)
            if err == 0:
                return "overlay"
            raise StoreError(f"{too_long} (and this kernel cannot take the layers one by "
                             f"one: {os.strerror(err)})")
        if libc.function("mount")(b"overlay", os.fsencode(merged), b"overlay", MS_NODEV,
                                  opts) == 0:
            return "overlay"
        err = libc.get_errno()
        if method == "overlay" or err not in _FALLBACK_ERRNOS:
            raise StoreError(f"cannot mount overlay on {merged}: {os.strerror(err)}")
    copy_layers(lowers, merged)
    os.close(os.open(_copy_marker(merged), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
    return "copy"


def unmount_rootfs(merged: Path | str) -> None:
    """Unmount a rootfs (lazily if busy); a no-op when it is not mounted."""
    merged = os.fspath(merged).rstrip("/") or "/"
    if not _mount_point(merged) and not is_mounted(merged):
        return  # without loading libc's bindings
    umount2 = libc.function("umount2")
    target = os.fsencode(merged)
    for _ in range(8):  # stacked mounts: peel them all, until "not a mount point"
        if umount2(target, 0) == 0:
            continue
        err = libc.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return
        if err == errno.EBUSY and umount2(target, MNT_DETACH) == 0:
            continue
        raise StoreError(f"cannot unmount {merged}: {os.strerror(err)}")


# ---- copy fallback ------------------------------------------------------------------


def _clear_dir(path: str) -> None:
    for name in os.listdir(path):
        remove_path(os.path.join(path, name))


def _meta(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    try:
        for name in os.listxattr(src, follow_symlinks=False):
            if not name.startswith("trusted.overlay."):
                os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False),
                            follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            raise
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _apply(src: str, dst: str, links: dict[tuple[int, int], str]) -> None:
    """Lay one layer directory ``src`` over ``dst``, overlayfs-style.

    ``dst`` is always a real directory here (a symlink in its place was replaced
    first), so nothing is ever written through a symlink.
    """
    dirs = []
    with os.scandir(src) as it:
        for entry in it:
            s, d = entry.path, os.path.join(dst, entry.name)
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if stat.S_ISCHR(mode) and st.st_rdev == 0:  # whiteout: delete below
                remove_path(d)
                continue
            if stat.S_ISDIR(mode):
                try:
                    dst_is_dir = stat.S_ISDIR(os.lstat(d).st_mode)
                except FileNotFoundError:
                    dst_is_dir = None
                if dst_is_dir is False:
                    os.unlink(d)
                if not dst_is_dir:
                    os.mkdir(d, 0o700)
                else:
                    try:
                        if os.getxattr(s, OPAQUE, follow_symlinks=False) == b"y":
                            _clear_dir(d)
                    except OSError:
                        pass
                _apply(s, d, links)
                dirs.append((s, d, st))
                continue
            remove_path(d)
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                os.link(links[key], d, follow_symlinks=False)
                continue
            if stat.S_ISREG(mode):
                copy_file(s, d)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(s), d)
            else:
                os.mknod(d, mode, st.st_rdev)
            _meta(s, d, st)
            if st.st_nlink > 1:
                links[key] = d
    for s, d, st in dirs:
        _meta(s, d, st)


def copy_layers(lowers: list[Path], merged: Path | str) -> None:
    """Copy layers (top first, as for overlay) into ``merged``, lowest first.

    A half-done earlier copy (no marker) is wiped first, so the result never
    mixes two attempts.
    """
    os.makedirs(merged, exist_ok=True)
    _clear_dir(str(merged))
    for layer in reversed(lowers):
        _apply(str(layer), str(merged), {})
        _meta(str(layer), str(merged), os.lstat(layer))
