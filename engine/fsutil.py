"""Small filesystem helpers for the hot path (shutil alone costs ~3 ms of start-up)."""

from __future__ import annotations

import os


def rmtree(path: str | os.PathLike[str], *, _dev: int | None = None) -> None:
    """Remove a directory tree without following symlinks or crossing into other mounts.

    A container directory holds its root filesystem's mount point: should an
    unmount ever have failed, removing it must not descend into the image's
    layers, so directories on another device are left alone (and so is their
    parent, whose rmdir then fails quietly).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if _dev is None:
        _dev = st.st_dev
    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        return
    if st.st_dev != _dev:
        return
    for e in os.scandir(path):
        try:
            if e.is_dir(follow_symlinks=False):
                rmtree(e.path, _dev=_dev)
            else:
                os.unlink(e.path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except (FileNotFoundError, OSError):
        pass


def remove_path(path: str) -> None:
    """Remove whatever is at ``path`` (a file, a link, a whole tree); errors are raised."""
    import shutil
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def copy_file(src: str, dst: str, *, follow_symlinks: bool = False) -> None:
    """Copy a regular file's bytes in the kernel (sendfile) into a new ``dst`` (mode 0600:
    the caller sets mode and owner); ``dst`` must not exist and is never followed."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fin = os.open(src, flags)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            left = os.fstat(fin).st_size
            while left > 0:
                n = os.sendfile(fout, fin, None, min(left, 1 << 30))
                if n == 0:
                    break
                left -= n
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def write_all(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd`` (os.write may take part); a reader that went away ends it."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]
