"""Small filesystem helpers for the hot path (shutil alone costs ~3 ms of start-up)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


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


def resolve_beneath(root: str, path: str, *, looped: "Callable[[], Exception]",
                    escaped: "Callable[[str], Exception] | None" = None) -> str:
    """``path`` (relative to ``root``) as a host path, every symlink followed without leaving ``root``.

    Two policies, one walk (at most 40 links, then ``looped()`` is raised):
    - a container's root (``escaped`` None): ``..`` stops at the root and an absolute
      link target starts again at the root, as inside a chroot;
    - a build context (``escaped`` given): absolute targets are host paths, and
      whatever leads out of ``root`` raises ``escaped(detail)`` (``detail`` names the
      link, or is empty for a ``..`` above the root).
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            elif escaped is not None:
                raise escaped("")
            continue
        try:
            target = os.readlink(os.path.join(root, *done, part))
        except OSError:
            done.append(part)
            continue
        hops += 1
        if hops > 40:
            raise looped()
        if target.startswith("/"):
            if escaped is not None:
                real = os.path.normpath(target)
                if real != root and not real.startswith(root + "/"):
                    raise escaped(f"{'/'.join(done + [part])} is a symlink to {target}")
                target = os.path.relpath(real, root)
            done = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return os.path.join(root, *done)
