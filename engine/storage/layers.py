"""Layer tar streams into directories an overlay mount can use as a lowerdir.

``extract_layer`` unpacks one layer (plain, gzip, bzip2, xz or zstd tar), read
from a stream someone else wrote and so treated as hostile, into a new
directory. Every entry is created relative to directory file descriptors opened
with ``O_NOFOLLOW``, so nothing is ever written through a symlink, and a path
that climbs out of the destination is refused. Docker/OCI whiteouts become
overlayfs whiteouts (0/0 char devices, ``trusted.overlay.opaque``), so the
directory can serve as an overlay lowerdir as is. The work happens in a
temporary directory beside the destination that is renamed at the end: a
failed extraction leaves nothing behind.

Also here, because the image store and the archive reader share them: the
stream helpers (compression sniffing, decompression), ``sha256_hex`` and
``rename_noreplace``. Nothing on the ``podium run`` path imports this module;
heavy modules (tarfile, hashlib, compressors) are still imported inside the
functions that use them.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import ArchiveError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, BinaryIO, Callable, Union

    Source = Union[str, "os.PathLike[str]", BinaryIO]

_CHUNK = 1 << 20
_TAIL = 1 << 17
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def rename_noreplace(src: Path, dst: Path) -> None:
    """rename(2) that fails with FileExistsError instead of replacing ``dst``.

    A plain rename silently replaces an empty directory; two processes unpacking
    the same layer must see the loser fail, so use renameat2(RENAME_NOREPLACE).
    """
    from . import libc

    fn = libc.function("renameat2")
    if fn is None:  # very old libc: check, then rename (callers hold the store lock)
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
        os.rename(src, dst)
        return
    at_fdcwd, rename_noreplace_flag = -100, 1
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace_flag) != 0:
        err = libc.get_errno()
        raise OSError(err, os.strerror(err), str(dst)) if err != errno.EEXIST else \
            FileExistsError(err, os.strerror(err), str(dst))


# ---- input streams ----------------------------------------------------------------


class _Prefixed:
    """A reader that yields bytes already peeked at, then the rest of ``raw``."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        self._prefix, self._raw = prefix, raw

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n is None or n < 0:
                data, self._prefix = self._prefix + self._raw.read(), b""
                return data
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            return data
        return self._raw.read(n)


def _sniff(raw: IO[bytes]) -> tuple[str, _Prefixed]:
    """Detect the compression of ``raw`` by magic bytes without seeking."""
    head = b""
    while len(head) < 6:
        more = raw.read(6 - len(head))
        if not more:
            break
        head += more
    if head.startswith(b"\x1f\x8b"):
        kind = "gzip"
    elif head.startswith(b"\x28\xb5\x2f\xfd"):
        kind = "zstd"
    elif head.startswith(b"BZh"):
        kind = "bzip2"
    elif head.startswith(b"\xfd7zXZ\x00"):
        kind = "xz"
    else:
        kind = "tar"
    return kind, _Prefixed(head, raw)


class _ZstdProcess:
    """zstd decompression through the zstd binary, when the module is missing."""

    def __init__(self, src: _Prefixed) -> None:
        import shutil
        import subprocess
        import threading

        exe = shutil.which("zstd")
        if exe is None:
            raise ArchiveError("zstd-compressed layer, but neither the zstandard module nor "
                               "the zstd program is installed")
        self.proc = subprocess.Popen([exe, "-d", "-c", "-q"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.error: BaseException | None = None

        def feed() -> None:
            assert self.proc.stdin is not None
            try:
                while True:
                    data = src.read(_CHUNK)
                    if not data:
                        break
                    self.proc.stdin.write(data)
            except BaseException as exc:  # reported by read() at EOF
                self.error = exc
            finally:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass

        self.thread = threading.Thread(target=feed, daemon=True)
        self.thread.start()

    def read(self, n: int = -1) -> bytes:
        assert self.proc.stdout is not None
        data = self.proc.stdout.read(n)
        if not data:
            self.thread.join()
            if self.error is not None:
                raise self.error
            if self.proc.wait() != 0:
                raise ArchiveError("zstd stream is corrupt or truncated")
        return data

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join(timeout=5)


def _decompressed(raw: IO[bytes]) -> tuple[Any, Callable[[], None]]:
    kind, src = _sniff(raw)
    if kind == "gzip":
        import gzip

        f: Any = gzip.GzipFile(fileobj=src, mode="rb")  # type: ignore[arg-type]
        return f, f.close
    if kind == "bzip2":
        import bz2

        f = bz2.BZ2File(src)  # type: ignore[arg-type]
        return f, f.close
    if kind == "xz":
        import lzma

        f = lzma.LZMAFile(src)  # type: ignore[arg-type]
        return f, f.close
    if kind == "zstd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            p = _ZstdProcess(src)
            return p, p.close
        f = zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)
        return f, f.close
    return src, lambda: None


class _Tee:
    """Hashes (and optionally copies) the uncompressed tar stream as tarfile reads it.

    It keeps the last bytes read, so that after tarfile stops the block where it
    stopped can be checked to be a real end-of-archive marker: tarfile silently
    ends at a truncated or corrupt header in the middle of an archive.
    """

    def __init__(self, raw: Any, copy: IO[bytes] | None) -> None:
        import hashlib

        self.raw, self.copy = raw, copy
        self.sha = hashlib.sha256()
        self.pos = 0
        self.tail = bytearray()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if data:
            self.sha.update(data)
            self.pos += len(data)
            self.tail += data
            if len(self.tail) > _TAIL:
                del self.tail[: len(self.tail) - _TAIL]
            if self.copy is not None:
                self.copy.write(data)
        return data

    def ended_cleanly_at(self, offset: int) -> bool:
        start = self.pos - len(self.tail)
        if self.pos < offset + 512 or offset < start:
            return False
        block = self.tail[offset - start: offset - start + 512]
        return block.count(0) == 512


# ---- safe extraction --------------------------------------------------------------


def _clean(name: str, what: str) -> list[str]:
    """Lexically normalize a member path; refuse one that climbs above the root."""
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise ArchiveError(f"refusing {what} {name!r}: path escapes the destination")
            parts.pop()
            continue
        parts.append(p)
    return parts


class _Unpacker:
    """Creates tar members under one root directory fd, never following symlinks."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.as_root = os.geteuid() == 0
        self.dirs: list[tuple[list[str], int]] = []
        self.root_member: Any = None
        self._cache: tuple[tuple[str, ...], int] | None = None

    def close(self) -> None:
        self._drop_cache()

    def _drop_cache(self) -> None:
        if self._cache is not None:
            os.close(self._cache[1])
            self._cache = None

    def open_dir(self, parts: list[str], name: str, *, create: bool,
                 missing: str | None = None) -> int:
        """An fd for the directory ``parts`` (a new fd the caller closes)."""
        key = tuple(parts)
        if self._cache is not None and self._cache[0] == key:
            return os.dup(self._cache[1])
        fd = os.dup(self.root_fd)
        try:
            for p in parts:
                try:
                    nfd = os.open(p, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise ArchiveError(missing or f"refusing entry {name!r}: {p!r} does "
                                           "not exist") from None
                    os.mkdir(p, 0o755, dir_fd=fd)
                    nfd = os.open(p, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ArchiveError(
                            f"refusing entry {name!r}: {p!r} is a symlink or not a directory "
                            "(writing through it could escape the destination)") from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        self._drop_cache()
        self._cache = (key, os.dup(fd))
        return fd

    def _clear(self, pfd: int, base: str, *, keep_dir: bool) -> bool:
        """Remove what is at ``base`` before creating a new entry; True if a dir stays."""
        import shutil

        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            self._drop_cache()
            shutil.rmtree(base, dir_fd=pfd)
        else:
            os.unlink(base, dir_fd=pfd)
        return False

    def _owner(self, m: Any, fd: int | None = None, pfd: int = -1, base: str = "") -> None:
        if not self.as_root:
            return
        if fd is not None:
            os.fchown(fd, m.uid, m.gid)
        else:
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)

    @staticmethod
    def _xattrs(m: Any, target: int | str) -> None:
        for key, value in m.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                continue  # whiteouts come as .wh. entries; never trust raw overlay attrs
            try:
                os.setxattr(target, name, value.encode("utf-8", "surrogateescape"))
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP):
                    raise

    @staticmethod
    def _ns(m: Any) -> int:
        return int(m.mtime * 1_000_000_000)

    def member(self, tf: Any, m: Any) -> None:
        parts = _clean(m.name, "entry")
        if not parts:
            if not m.isdir():
                raise ArchiveError(f"refusing entry {m.name!r}: the root must be a directory")
            self.root_member = m
            return
        base = parts[-1]
        pfd = self.open_dir(parts[:-1], m.name, create=True)
        try:
            self._member_in(tf, m, parts, base, pfd)
        finally:
            os.close(pfd)

    def _member_in(self, tf: Any, m: Any, parts: list[str], base: str, pfd: int) -> None:
        if base.startswith(".wh."):
            if base == ".wh..wh..opq":
                os.setxattr(pfd, "trusted.overlay.opaque", b"y")
            elif not base.startswith(".wh..wh."):  # other .wh..wh. names are aufs metadata
                name = base[4:]
                if name in (".", ".."):
                    raise ArchiveError(f"refusing whiteout {m.name!r}")
                self._clear(pfd, name, keep_dir=False)
                os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
                self._owner(m, pfd=pfd, base=name)
            return
        if m.isdir():
            if not self._clear(pfd, base, keep_dir=True):
                os.mkdir(base, 0o700, dir_fd=pfd)
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
            try:
                self._owner(m, fd)
                os.fchmod(fd, m.mode & 0o7777)
                self._xattrs(m, fd)
            finally:
                os.close(fd)
            self.dirs.append((parts, self._ns(m)))
        elif m.isreg():
            self._clear(pfd, base, keep_dir=False)
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=pfd)
            try:
                src = tf.extractfile(m)
                left = m.size
                with open(fd, "wb", closefd=False) as out:
                    while left > 0:
                        data = src.read(min(_CHUNK, left))
                        if not data:
                            raise ArchiveError(f"archive is truncated inside {m.name!r}")
                        out.write(data)
                        left -= len(data)
                self._owner(m, fd)
                os.fchmod(fd, m.mode & 0o7777)
                self._xattrs(m, fd)
                os.utime(fd, ns=(self._ns(m), self._ns(m)))
            finally:
                os.close(fd)
        elif m.issym():
            self._clear(pfd, base, keep_dir=False)
            os.symlink(m.linkname, base, dir_fd=pfd)
            self._owner(m, pfd=pfd, base=base)
            os.utime(base, ns=(self._ns(m), self._ns(m)), dir_fd=pfd, follow_symlinks=False)
        elif m.islnk():
            self._hardlink(m, parts, base, pfd)
        elif m.isfifo() or (m.ischr() and m.devmajor == 0 and m.devminor == 0):
            self._clear(pfd, base, keep_dir=False)
            kind = stat.S_IFIFO if m.isfifo() else stat.S_IFCHR
            os.mknod(base, kind | (m.mode & 0o7777), os.makedev(0, 0), dir_fd=pfd)
            self._owner(m, pfd=pfd, base=base)
            os.chmod(base, m.mode & 0o7777, dir_fd=pfd)
            os.utime(base, ns=(self._ns(m), self._ns(m)), dir_fd=pfd)
        elif m.ischr() or m.isblk():
            raise ArchiveError(f"refusing device node {m.name!r} "
                               f"({m.devmajor}:{m.devminor}): layers may not carry devices")
        else:
            raise ArchiveError(f"refusing entry {m.name!r}: unsupported tar type {m.type!r}")

    def _hardlink(self, m: Any, parts: list[str], base: str, pfd: int) -> None:
        tparts = _clean(m.linkname, f"hard link {m.name!r} to")
        if not tparts:
            raise ArchiveError(f"refusing hard link {m.name!r} to the root directory")
        if tparts == parts:
            return
        missing = (f"refusing hard link {m.name!r}: target {m.linkname!r} does not exist "
                   "(not an earlier entry of this layer)")
        tfd = self.open_dir(tparts[:-1], m.name, create=False, missing=missing)
        try:
            try:
                st = os.stat(tparts[-1], dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise ArchiveError(missing) from None
            if stat.S_ISDIR(st.st_mode):
                raise ArchiveError(f"refusing hard link {m.name!r} to directory {m.linkname!r}")
            self._clear(pfd, base, keep_dir=False)
            os.link(tparts[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)

    def finish(self) -> None:
        """Directory times last (creating children changes them), then the root."""
        for parts, ns in reversed(self.dirs):
            try:
                fd = self.open_dir(parts, "/".join(parts), create=False)
            except (ArchiveError, OSError):
                continue
            try:
                os.utime(fd, ns=(ns, ns))
            finally:
                os.close(fd)
        self._drop_cache()
        m = self.root_member
        if m is None:
            os.fchmod(self.root_fd, 0o755)
            return
        self._owner(m, self.root_fd)
        os.fchmod(self.root_fd, m.mode & 0o7777)
        self._xattrs(m, self.root_fd)
        os.utime(self.root_fd, ns=(self._ns(m), self._ns(m)))


def _unpack(tee: _Tee, root_fd: int) -> None:
    import tarfile

    u = _Unpacker(root_fd)
    try:
        tf = tarfile.open(fileobj=tee, mode="r|", errorlevel=2)  # type: ignore[call-overload]
        for m in tf:
            try:
                u.member(tf, m)
            except ArchiveError:
                raise
            except tarfile.TarError as exc:
                if "end of data" in str(exc):
                    raise ArchiveError(f"archive is truncated inside {m.name!r}") from None
                raise ArchiveError(f"corrupt archive at entry {m.name!r}: {exc}") from None
            except OSError as exc:
                raise ArchiveError(f"cannot extract entry {m.name!r}: {exc.strerror or exc}") from None
        if not tee.ended_cleanly_at(tf.offset):
            raise ArchiveError(f"archive is truncated or corrupt after byte {tf.offset} "
                               "(no end-of-archive marker)")
        u.finish()
    finally:
        u.close()


def extract_layer(src: Source, dest: Path, *, copy_to: Path | None = None) -> tuple[str, int]:
    """Unpack a layer tar stream into the new directory ``dest``.

    Returns ``("sha256:<hex>", size)`` of the *uncompressed* tar stream, its
    diff_id. ``copy_to``, if given, receives that uncompressed stream (the
    blob podium keeps for ``save``). ``dest`` must not exist; the work happens
    in a temporary directory beside it, renamed at the end, so a failure leaves
    neither ``dest``, the temporary directory nor ``copy_to`` behind.
    """
    import shutil
    import tempfile
    import tarfile

    dest = Path(dest)
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, "layer destination exists", str(dest))
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name[:24]}.", suffix=".tmp", dir=dest.parent))
    closers: list[Callable[[], None]] = []
    copy_f: IO[bytes] | None = None
    ok = False
    try:
        if isinstance(src, (str, os.PathLike)):
            try:
                raw: Any = open(src, "rb")
            except OSError as exc:
                raise ArchiveError(f"cannot open layer {os.fspath(src)}: {exc.strerror}") from None
            closers.append(raw.close)
        else:
            raw = src
        if copy_to is not None:
            copy_f = open(copy_to, "xb")
            closers.append(copy_f.close)
        try:
            stream, close_stream = _decompressed(raw)
            closers.insert(0, close_stream)
            tee = _Tee(stream, copy_f)
            root_fd = os.open(tmp, _DIR_FLAGS)
            try:
                _unpack(tee, root_fd)
            finally:
                os.close(root_fd)
            while tee.read(_CHUNK):  # the tar's padding counts for the digest; checks CRCs
                pass
        except ArchiveError:
            raise
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"corrupt or truncated layer archive: {exc}") from None
        except (OSError, ValueError) as exc:  # zlib/lzma/gzip errors are OSError/ValueError kin
            raise ArchiveError(f"cannot read layer archive: {exc}") from None
        except Exception as exc:  # zlib.error, lzma.LZMAError, zstd errors
            if type(exc).__module__ in ("zlib", "_lzma", "lzma", "zstandard", "_bz2"):
                raise ArchiveError(f"corrupt compressed layer: {exc}") from None
            raise
        if copy_f is not None:
            copy_f.flush()
        rename_noreplace(tmp, dest)
        ok = True
        return "sha256:" + tee.sha.hexdigest(), tee.pos
    finally:
        for close in closers:
            try:
                close()
            except Exception:
                pass
        if not ok:
            shutil.rmtree(tmp, ignore_errors=True)
            if copy_f is not None and copy_to is not None:
                try:
                    os.unlink(copy_to)
                except FileNotFoundError:
                    pass
