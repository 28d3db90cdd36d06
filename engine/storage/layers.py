"""Layer tarballs into directories, and image archives into (config, names, layers).

Two jobs that both read tar streams someone else wrote, so both treat them as
hostile:

* ``extract_layer`` unpacks one layer (plain, gzip, bzip2, xz or zstd tar) into a
  new directory. Every entry is created relative to directory file descriptors
  opened with ``O_NOFOLLOW``, so nothing is ever written through a symlink, and
  a path that climbs out of the destination is refused. Docker/OCI whiteouts
  become overlayfs whiteouts (0/0 char devices, ``trusted.overlay.opaque``), so
  the directory can serve as an overlay lowerdir as is. The work happens in a
  temporary directory beside the destination that is renamed at the end: a
  failed extraction leaves nothing behind.
* ``open_image_archive`` / ``read_image_archive`` read ``docker save``-style and
  OCI-layout archives by member offsets (nothing is unpacked to disk), verifying
  each digest the format names; ``write_docker_archive`` and
  ``write_oci_archive`` write archives ``podman load`` accepts.

Heavy modules (tarfile, hashlib, compressors) are imported inside functions:
this package is imported on the ``podium run`` hot path.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Callable, NamedTuple, Union

from ..errors import ArchiveError

_CHUNK = 1 << 20
_TAIL = 1 << 17
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

Source = Union[str, "os.PathLike[str]", BinaryIO]


def sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def rename_noreplace(src: Path, dst: Path) -> None:
    """rename(2) that fails with FileExistsError instead of replacing ``dst``.

    A plain rename silently replaces an empty directory; two processes unpacking
    the same layer must see the loser fail, so use renameat2(RENAME_NOREPLACE).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:  # very old libc: check, then rename (callers hold the store lock)
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
        os.rename(src, dst)
        return
    at_fdcwd, rename_noreplace_flag = -100, 1
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace_flag) != 0:
        err = ctypes.get_errno()
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


# ---- image archives: reading --------------------------------------------------------


class _Section:
    """A read-only view of one member's bytes, read with pread (no shared offset).

    With ``digest`` set it hashes what it hands out and raises ArchiveError when
    the end is reached with the wrong digest, so a consumer that reads to EOF
    (extract_layer always does) verifies the blob as it goes.
    """

    def __init__(self, fd: int, offset: int, size: int, *, digest: str | None = None,
                 label: str = "") -> None:
        self.fd, self.offset, self.size, self.pos = fd, offset, size, 0
        self.digest, self.label = digest, label
        self._sha: Any = None
        if digest:
            import hashlib

            self._sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        if n is None or n < 0 or n > left:
            n = left
        data = os.pread(self.fd, n, self.offset + self.pos) if n else b""
        if len(data) < n:
            raise ArchiveError(f"archive is truncated inside {self.label}")
        self.pos += len(data)
        if self._sha is not None:
            self._sha.update(data)
            if self.pos == self.size:
                got = "sha256:" + self._sha.hexdigest()
                self._sha = None
                if got != self.digest:
                    raise ArchiveError(f"{self.label}: content digest {got} does not match "
                                       f"{self.digest}")
        return data

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Section":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Outer:
    """An outer (uncompressed) image archive indexed by member name."""

    def __init__(self, f: IO[bytes]) -> None:
        import tarfile

        self.f = f
        self.fd = f.fileno()
        size = os.fstat(self.fd).st_size
        self.members: dict[str, Any] = {}
        try:
            with tarfile.open(fileobj=f, mode="r:") as tf:  # type: ignore[call-overload]
                for m in tf:
                    name = "/".join(_clean(m.name, "archive entry"))
                    if m.isreg() and (m.sparse or m.offset_data + m.size > size):
                        raise ArchiveError(f"archive is truncated inside {m.name!r}")
                    self.members[name] = m
        except tarfile.TarError as exc:
            raise ArchiveError(f"not a readable image archive: {exc}") from None

    def close(self) -> None:
        self.f.close()

    def has(self, name: str) -> bool:
        try:
            self._lookup(name)
            return True
        except ArchiveError:
            return False

    def _lookup(self, name: str) -> Any:
        path = "/".join(_clean(name, "archive path"))
        for _ in range(32):
            m = self.members.get(path)
            if m is None:
                raise ArchiveError(f"image archive has no file {name!r}")
            if m.isreg():
                return m
            if m.issym():
                target = m.linkname if m.linkname.startswith("/") else \
                    posixpath.join(posixpath.dirname(path), m.linkname)
                path = "/".join(_clean(target, "archive link"))
            elif m.islnk():
                path = "/".join(_clean(m.linkname, "archive link"))
            else:
                raise ArchiveError(f"image archive member {name!r} is not a file")
        raise ArchiveError(f"image archive member {name!r}: too many levels of links")

    def open(self, name: str, digest: str | None = None) -> _Section:
        m = self._lookup(name)
        return _Section(self.fd, m.offset_data, m.size, digest=digest, label=name)

    def read(self, name: str, digest: str | None = None, limit: int = 64 << 20) -> bytes:
        m = self._lookup(name)
        if m.size > limit:
            raise ArchiveError(f"image archive member {name!r} is implausibly large")
        return self.open(name, digest).read()

    def blob(self, desc: Any) -> str:
        digest = desc.get("digest", "") if isinstance(desc, dict) else ""
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
            raise ArchiveError(f"unsupported or malformed digest {digest!r}")
        return f"blobs/sha256/{hexd}"


@dataclass
class ArchiveLayer:
    """One layer of an archived image; ``open()`` gives its (maybe compressed) tar stream."""

    index: int
    diff_id: str | None
    digest: str | None
    media_type: str | None
    _opener: Callable[[], BinaryIO] = field(repr=False)

    def open(self) -> BinaryIO:
        return self._opener()


@dataclass
class ArchiveImage:
    """An image found in an archive.

    ``names`` are as written in the archive; ``docker_names`` says whether they
    follow Docker's conventions (RepoTags, ``io.containerd.image.name``: a bare
    name means docker.io) or are OCI ``ref.name`` values (Podman treats a bare
    one as localhost/).
    """

    config: bytes
    names: list[str]
    layers: list[ArchiveLayer]
    format: str
    docker_names: bool = True
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return sha256_hex(self.config)


class ImageArchive:
    """An open image archive: ``images`` stay readable until ``close()``."""

    def __init__(self, outer: _Outer, images: list[ArchiveImage], fmt: str) -> None:
        self._outer, self.images, self.format = outer, images, fmt

    def close(self) -> None:
        self._outer.close()

    def __enter__(self) -> "ImageArchive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ArchiveError(f"{what} is not valid JSON: {exc}") from None


def _config_diff_ids(config: bytes, what: str) -> list[str]:
    cfg = _json(config, what)
    ids = (cfg.get("rootfs") or {}).get("diff_ids") if isinstance(cfg, dict) else None
    if not isinstance(ids, list) or not all(isinstance(d, str) for d in ids):
        raise ArchiveError(f"{what} has no rootfs.diff_ids list")
    return ids


def _docker_images(outer: _Outer) -> list[ArchiveImage]:
    manifest = _json(outer.read("manifest.json"), "manifest.json")
    if not isinstance(manifest, list):
        raise ArchiveError("manifest.json is not a list of images")
    images = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError("manifest.json entry without Config")
        cname = entry["Config"]
        stem = posixpath.basename(cname).removesuffix(".json")
        digest = f"sha256:{stem}" if len(stem) == 64 and all(
            c in "0123456789abcdef" for c in stem) else None
        config = outer.read(cname, digest)
        diff_ids = _config_diff_ids(config, cname)
        layer_names = entry.get("Layers") or []
        if len(layer_names) != len(diff_ids):
            raise ArchiveError(f"{cname}: {len(diff_ids)} diff_ids but {len(layer_names)} layers")
        layers = []
        for i, lname in enumerate(layer_names):
            lstem = posixpath.basename(lname).removesuffix(".tar")
            ldigest = f"sha256:{lstem}" if lname.startswith("blobs/sha256/") else None
            if not outer.has(lname):
                raise ArchiveError(f"image archive has no layer {lname!r}")
            layers.append(ArchiveLayer(i, diff_ids[i], ldigest, None,
                                       lambda n=lname, d=ldigest: outer.open(n, d)))  # type: ignore[misc]
        tags = [t for t in entry.get("RepoTags") or [] if isinstance(t, str)]
        images.append(ArchiveImage(config, tags, layers, "docker-archive", True))
    return images


_ARCH = {"x86_64": ("amd64", None), "aarch64": ("arm64", "v8"), "armv7l": ("arm", "v7"),
         "armv6l": ("arm", "v6"), "i686": ("386", None), "i386": ("386", None),
         "ppc64le": ("ppc64le", None), "s390x": ("s390x", None), "riscv64": ("riscv64", None)}


def host_platform() -> tuple[str, str | None]:
    """This host's (architecture, variant) in OCI/Go terms: x86_64 -> amd64."""
    machine = os.uname().machine
    return _ARCH.get(machine, (machine, None))


def _platform_ok(desc: dict[str, Any]) -> bool:
    p = desc.get("platform") or {}
    return p.get("os", "linux") == "linux" and p.get("architecture") in (None, host_platform()[0])


def _oci_images(outer: _Outer) -> list[ArchiveImage]:
    index = _json(outer.read("index.json"), "index.json")
    images = []
    for desc in index.get("manifests") or []:
        ann = desc.get("annotations") or {}
        mt = desc.get("mediaType")
        if mt in (MT_OCI_INDEX, MT_DOCKER_LIST):  # a multi-platform image: take ours
            sub = _json(outer.read(outer.blob(desc), desc["digest"]), desc["digest"])
            subs = sub.get("manifests") or []
            mine = [d for d in subs if _platform_ok(d)] or subs[:1]
            if not mine:
                continue
            desc = mine[0]
        mbytes = outer.read(outer.blob(desc), desc.get("digest"))
        manifest = _json(mbytes, f"manifest {desc.get('digest')}")
        cdesc = manifest.get("config") or {}
        config = outer.read(outer.blob(cdesc), cdesc.get("digest"))
        diff_ids = _config_diff_ids(config, f"config {cdesc.get('digest')}")
        ldescs = manifest.get("layers") or []
        if len(ldescs) != len(diff_ids):
            raise ArchiveError(f"manifest {desc.get('digest')}: {len(ldescs)} layers but "
                               f"{len(diff_ids)} diff_ids")
        layers = []
        for i, ld in enumerate(ldescs):
            bname = outer.blob(ld)
            if not outer.has(bname):
                raise ArchiveError(f"image archive has no blob {ld.get('digest')}")
            layers.append(ArchiveLayer(i, diff_ids[i], ld["digest"], ld.get("mediaType"),
                                       lambda n=bname, d=ld["digest"]: outer.open(n, d)))  # type: ignore[misc]
        if ann.get(CONTAINERD_NAME):
            names, docker = [ann[CONTAINERD_NAME]], True
        elif ann.get(REF_NAME):
            names, docker = [ann[REF_NAME]], False
        else:
            names, docker = [], False
        same = next((im for im in images if im.config == config), None)
        if same is not None and same.docker_names == docker:
            same.names.extend(n for n in names if n not in same.names)
            continue
        images.append(ArchiveImage(config, names, layers, "oci-archive", docker,
                                   dict(manifest.get("annotations") or {})))
    return images


def _spool(src: Any, tmpdir: Path | None) -> IO[bytes]:
    """Copy a stream (decompressing it) into an unlinked temporary file."""
    import shutil
    import tempfile

    stream, close = _decompressed(src)
    out = tempfile.TemporaryFile(dir=tmpdir)
    try:
        shutil.copyfileobj(stream, out, _CHUNK)  # type: ignore[misc]
        out.flush()
        out.seek(0)
    except ArchiveError:
        out.close()
        raise
    except Exception as exc:
        out.close()
        raise ArchiveError(f"cannot read image archive: {exc}") from None
    finally:
        close()
    return out


def open_image_archive(src: Source, *, tmpdir: Path | None = None) -> ImageArchive:
    """Open a docker-archive or oci-archive (file path or stream) for reading.

    Uncompressed files are read in place; streams and compressed files are first
    copied, uncompressed, into an unlinked temporary file in ``tmpdir`` (use the
    store's tmp so big archives stay on the storage filesystem).
    """
    if isinstance(src, (str, os.PathLike)):
        try:
            f: IO[bytes] = open(src, "rb")
        except OSError as exc:
            raise ArchiveError(f"cannot open {os.fspath(src)}: {exc.strerror}") from None
        kind, _ = _sniff(f)
        if kind != "tar":
            f.seek(0)
            try:
                f2 = _spool(f, tmpdir)
            finally:
                f.close()
            f = f2
        else:
            f.seek(0)
    else:
        f = _spool(src, tmpdir)
    try:
        outer = _Outer(f)
        if outer.has("manifest.json"):
            fmt, images = "docker-archive", _docker_images(outer)
        elif outer.has("index.json") and outer.has("oci-layout"):
            fmt, images = "oci-archive", _oci_images(outer)
        else:
            raise ArchiveError("not an image archive: neither manifest.json (docker-archive) "
                               "nor oci-layout and index.json (oci-archive) found")
        if not images:
            raise ArchiveError("image archive contains no images")
    except BaseException:
        f.close()
        raise
    return ImageArchive(outer, images, fmt)


def read_image_archive(src: Source, *, tmpdir: Path | None = None) -> list[ArchiveImage]:
    """The images of an archive; their layers stay readable while the list lives.

    Prefer ``open_image_archive`` (a context manager) to close the file promptly.
    """
    return open_image_archive(src, tmpdir=tmpdir).images


# ---- image archives: writing --------------------------------------------------------


class SaveImage(NamedTuple):
    """One image to write: names as they should appear, config bytes, layer tars."""

    names: list[str]
    config: bytes
    layers: list[Union[Path, str, Callable[[], BinaryIO]]]
    diff_ids: list[str]


def build_manifest(config: bytes, layers: list[tuple[str, int]],
                   annotations: dict[str, str] | None = None) -> bytes:
    """The OCI manifest podium stores and saves for uncompressed layers, canonical bytes."""
    m: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": {"mediaType": MT_OCI_CONFIG, "digest": "sha256:" + sha256_hex(config),
                   "size": len(config)},
        "layers": [{"mediaType": MT_OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }
    if annotations:
        m["annotations"] = annotations
    return json.dumps(m, separators=(",", ":")).encode()


class _Writer:
    """A tar being written to a temporary file beside ``out``, renamed on success."""

    def __init__(self, out: Path) -> None:
        import tarfile
        import tempfile

        self.out = Path(out)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.out.name[:32]}.", suffix=".tmp",
                                   dir=self.out.parent)
        self.tmp = Path(tmp)
        self.f = os.fdopen(fd, "wb")
        self.tf = tarfile.open(fileobj=self.f, mode="w", format=tarfile.PAX_FORMAT)
        self.spools: list[IO[bytes]] = []
        self.added: set[str] = set()

    def _info(self, name: str, size: int, kind: bytes | None = None) -> Any:
        import tarfile

        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = size, 0, 0o444
        if kind is not None:
            ti.type, ti.mode, ti.size = kind, 0o755, 0
        return ti

    def dir(self, name: str) -> None:
        import tarfile

        self.tf.addfile(self._info(name, 0, tarfile.DIRTYPE))

    def bytes(self, name: str, data: bytes) -> None:
        import io

        if name not in self.added:
            self.added.add(name)
            self.tf.addfile(self._info(name, len(data)), io.BytesIO(data))

    def layer(self, name: str, src: Union[Path, str, Callable[[], BinaryIO]]) -> int:
        """Add a layer tar; returns its size (a stream is spooled first to learn it)."""
        import shutil
        import tempfile

        if isinstance(src, (str, os.PathLike)):
            f: Any = open(src, "rb")
        else:
            f = tempfile.TemporaryFile(dir=self.out.parent)
            with src() as s:  # type: ignore[attr-defined]
                shutil.copyfileobj(s, f, _CHUNK)
            f.seek(0)
        with f:
            size = os.fstat(f.fileno()).st_size
            if name not in self.added:
                self.added.add(name)
                self.tf.addfile(self._info(name, size), f)
        return size

    def commit(self) -> None:
        self.tf.close()
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.rename(self.tmp, self.out)

    def abort(self) -> None:
        try:
            self.f.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def write_docker_archive(out_path: Path | str, images: list[SaveImage]) -> None:
    """Write ``docker save``'s format: manifest.json, <config>.json, <diff_id>.tar."""
    w = _Writer(Path(out_path))
    try:
        manifest = []
        for img in map(SaveImage._make, images):
            if len(img.layers) != len(img.diff_ids):
                raise ValueError("layers and diff_ids differ in length")
            cname = sha256_hex(img.config) + ".json"
            w.bytes(cname, img.config)
            lnames = []
            for src, diff_id in zip(img.layers, img.diff_ids):
                lname = diff_id.split(":", 1)[-1] + ".tar"
                w.layer(lname, src)
                lnames.append(lname)
            manifest.append({"Config": cname, "RepoTags": list(img.names), "Layers": lnames})
        w.bytes("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        w.commit()
    except BaseException:
        w.abort()
        raise


def write_oci_archive(out_path: Path | str, images: list[SaveImage]) -> None:
    """Write an OCI image layout as a tar: oci-layout, index.json, blobs/sha256/*.

    Each name gets its own index entry annotated with ``ref.name`` (Podman reads
    one image per name); layers are stored uncompressed, as podium keeps them.
    """
    w = _Writer(Path(out_path))
    try:
        w.bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        w.dir("blobs")
        w.dir("blobs/sha256")
        entries = []
        for img in map(SaveImage._make, images):
            if len(img.layers) != len(img.diff_ids):
                raise ValueError("layers and diff_ids differ in length")
            w.bytes("blobs/sha256/" + sha256_hex(img.config), img.config)
            sizes = []
            for src, diff_id in zip(img.layers, img.diff_ids):
                sizes.append((diff_id, w.layer("blobs/sha256/" + diff_id.split(":", 1)[-1], src)))
            mbytes = build_manifest(img.config, sizes)
            mhex = sha256_hex(mbytes)
            w.bytes("blobs/sha256/" + mhex, mbytes)
            desc: dict[str, Any] = {"mediaType": MT_OCI_MANIFEST, "digest": "sha256:" + mhex,
                                    "size": len(mbytes)}
            for name in img.names or [None]:
                d = dict(desc)
                if name:
                    d["annotations"] = {REF_NAME: name}
                entries.append(d)
        index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": entries}
        w.bytes("index.json", json.dumps(index, separators=(",", ":")).encode())
        w.commit()
    except BaseException:
        w.abort()
        raise
