"""COPY and ADD: sources (the build context, or another stage's root) -> files in a rootfs.

Two passes. ``collect`` resolves the source words (wildcards, directories,
the ignore file) into a list of ``Entry`` values and their content digest,
which is what the layer cache keys a COPY on; nothing is written. ``apply``
then lays the entries out under the destination inside a mounted root
filesystem.

The context is a trust boundary: a source that climbs out of it (``../x``) or
a symlink on its path that points outside it (``ln -s /etc secrets``) is a
ConfigError, never read. Symlinks *inside* a copied directory are copied as
symlinks, as Docker does. Paths inside an image's root filesystem (the
destination, ``COPY --from``) are resolved within that root, as if chrooted:
an absolute symlink there means the image's path, never the host's.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass

from ..errors import ConfigError
from ..fsutil import copy_file, remove_path, resolve_beneath
from ..runtime.users import resolve_in_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

    from .ignore import Matcher

_WILDCARD = "*?["


@dataclass
class Entry:
    """One thing to create: ``rel`` is relative to the destination."""

    rel: str                  # "" for the destination itself (a single file source)
    host: str                 # where to read it
    st: os.stat_result
    archive: bool = False     # ADD: a local tar archive, unpacked at rel


@dataclass
class Source:
    word: str                 # as written, for messages
    host: str                 # the resolved host path
    is_dir: bool
    rel: str                  # relative to its root: what the ignore file sees
    name: str = ""            # the name as written (a symlink's, not its target's)


class Outside(ConfigError):
    pass


def resolve_in_context(context: str, rel: str, word: str) -> str:
    """``rel`` inside ``context`` with every symlink followed; Outside if it leaves."""
    def outside(detail: str) -> Exception:
        if not detail:
            return Outside(f"COPY source {word!r} is outside the build context {context}: "
                           "only files in the context can be copied")
        return Outside(f"COPY source {word!r} is outside the build context: {detail}")
    return resolve_beneath(os.path.realpath(context), rel, escaped=outside, looped=lambda: ConfigError(
        f"COPY source {word!r}: too many levels of symbolic links"))


def _expand(root: str, pattern: str, matcher: Matcher | None) -> list[str]:
    """Wildcard source -> matching relative paths (``*`` never crosses ``/``; dotfiles match)."""
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    found = [""]
    for part in parts:
        nxt = []
        for base in found:
            host = os.path.join(root, base) if base else root
            if not any(c in part for c in _WILDCARD):
                nxt.append(f"{base}/{part}" if base else part)
                continue
            try:
                names = sorted(os.listdir(host))
            except (NotADirectoryError, FileNotFoundError):
                continue
            nxt += [f"{base}/{n}" if base else n for n in names if fnmatch.fnmatchcase(n, part)]
        found = nxt
    return [f for f in found if os.path.lexists(os.path.join(root, f))
            and not (matcher and matcher.excluded(f))]


def sources(root: str, words: list[str], *, matcher: Matcher | None, context: bool,
            what: str) -> list[Source]:
    """Source words -> resolved sources. ``context`` means "refuse escapes"; otherwise
    ``root`` is an image's rootfs and paths resolve inside it."""
    out: list[Source] = []
    for word in words:
        if word.startswith(("http://", "https://", "git@", "git://")):
            raise ConfigError(f"{what} {word!r}: remote sources are not supported (podium builds "
                              "without network access): download it into the context and COPY it")
        clean = posixpath.normpath(word) if word else "."
        if context and not word.startswith("/") and (clean == ".." or clean.startswith("../")):
            raise Outside(f"{what} source {word!r} is outside the build context {root}: only "
                          "files in the context can be copied")
        clean = clean.lstrip("/") or "."
        if any(c in clean for c in _WILDCARD):
            rels = _expand(root, clean, matcher)
            if not rels:
                raise ConfigError(f"{what} {word!r}: no file in the "
                                  f"{'build context' if context else 'source image'} matches")
        else:
            rels = [clean]
        for rel in rels:
            host = (resolve_in_context(root, rel, word) if context
                    else resolve_in_root(root, rel))
            rrel = os.path.relpath(host, os.path.realpath(root) if context else root)
            rrel = "" if rrel == "." else rrel
            if not os.path.lexists(host) or (matcher and rrel and (
                    matcher.excluded(rrel) and not (os.path.isdir(host)
                                                    and matcher.may_include_below(rrel)))):
                hint = (" (or it is excluded by .containerignore/.dockerignore)"
                        if matcher and matcher.patterns else "")
                raise ConfigError(f"{what} {word!r}: no such file or directory in the "
                                  f"{'build context' if context else 'source image'}{hint}")
            out.append(Source(word, host, os.path.isdir(host), rrel, posixpath.basename(rel)))
    return out


def _walk(src: Source, matcher: Matcher | None) -> Iterator[tuple[str, str, os.stat_result]]:
    def rec(host: str, rel: str, crel: str) -> Iterator[tuple[str, str, os.stat_result]]:
        for name in sorted(os.listdir(host)):
            h = os.path.join(host, name)
            r = f"{rel}/{name}" if rel else name
            c = f"{crel}/{name}" if crel else name
            st = os.lstat(h)
            isdir = stat.S_ISDIR(st.st_mode)
            if matcher is not None and matcher.excluded(c):
                if isdir and matcher.may_include_below(c):
                    yield from _included_below(h, r, c)
                continue
            yield r, h, st
            if isdir:
                yield from rec(h, r, c)

    def _included_below(host: str, rel: str, crel: str) -> Iterator[tuple[str, str, os.stat_result]]:
        inner = list(rec(host, rel, crel))
        if inner:  # the directory is there for the files re-included below it
            yield rel, host, os.lstat(host)
            yield from inner

    yield from rec(src.host, "", src.rel)


def collect(srcs: list[Source], *, matcher: Matcher | None, dest_is_dir: bool,
            archives: bool = False) -> list[Entry]:
    """Sources -> entries relative to the destination (directory contents, not the directory)."""
    entries: list[Entry] = []
    for s in srcs:
        st = os.stat(s.host)
        if s.is_dir:
            entries.append(Entry("", s.host, st))
            entries += [Entry(r, h, hst) for r, h, hst in _walk(s, matcher)]
        elif archives and is_archive(s.host):
            entries.append(Entry("", s.host, st, archive=True))
        else:
            name = (s.name or os.path.basename(s.host)) if dest_is_dir else ""
            entries.append(Entry(name, s.host, st))
    return entries


def is_archive(path: str) -> bool:
    """A local tar archive (plain, gzip, bzip2, xz or zstd), as ADD unpacks it."""
    from ..storage.layers import _decompressed

    try:
        with open(path, "rb") as f:
            stream, close = _decompressed(f)
            try:
                block = b""
                while len(block) < 512:
                    more = stream.read(512 - len(block))
                    if not more:
                        break
                    block += more
            finally:
                close()
    except Exception:  # noqa: BLE001 - a corrupt compressed file is just not an archive
        return False
    return len(block) == 512 and block[257:262] == b"ustar" or (
        len(block) == 512 and _v7_checksum_ok(block))


def _v7_checksum_ok(block: bytes) -> bool:
    try:
        want = int(block[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    got = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return want == got and block[0] != 0


def digest(entries: list[Entry], *, keep_owner: bool) -> str:
    """The content digest of what a COPY/ADD would write: names, types, modes, owners, bytes."""
    h = hashlib.sha256()
    for e in entries:
        st = e.st
        owner = f"{st.st_uid}:{st.st_gid}" if keep_owner else "-"
        h.update(f"{e.rel}\0{stat.S_IFMT(st.st_mode):o}\0{stat.S_IMODE(st.st_mode):o}\0{owner}"
                 f"\0{int(e.archive)}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(e.host).encode("utf-8", "surrogateescape"))
        elif stat.S_ISREG(st.st_mode):
            fd = os.open(e.host, os.O_RDONLY | os.O_CLOEXEC)
            with open(fd, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


# ---- writing into a rootfs ----------------------------------------------------------


def make_dirs(rootfs: str, path: str, uid: int = 0, gid: int = 0) -> str:
    """``path`` (absolute, in the image) as a host directory under ``rootfs``, created
    (0755, owned uid:gid) where missing; symlinks on the way are followed inside ``rootfs``."""
    host = resolve_in_root(rootfs, path)
    missing = []
    cur = host
    while not os.path.lexists(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    if os.path.lexists(cur) and not os.path.isdir(cur):
        raise ConfigError(f"cannot create directory {path} in the image: "
                          f"{os.path.relpath(cur, rootfs)} is not a directory")
    for d in reversed(missing):
        os.mkdir(d, 0o755)
        os.chown(d, uid, gid)
    return host


def is_dir_in(rootfs: str, path: str) -> bool:
    host = resolve_in_root(rootfs, path)
    return os.path.isdir(host) and not os.path.islink(host)


def apply(rootfs: str, dest: str, entries: list[Entry], *, owner: tuple[int, int] | None,
          chmod: int | None, tmpdir: str, archive_owner: tuple[int, int] | None = None) -> None:
    """Write ``entries`` under ``dest`` (absolute, in the image) inside ``rootfs``.

    ``owner`` None keeps the sources' owners (``COPY --from``, archives); otherwise
    every new file and directory gets it. ``chmod`` replaces every mode.
    ``tmpdir`` (outside the rootfs) is where archives are unpacked first; their
    files keep the archive's owners unless ``archive_owner`` is given.
    """
    uid, gid = owner if owner is not None else (0, 0)
    first = entries[0] if entries else None
    if len(entries) == 1 and first is not None and first.rel == "" and not first.archive \
            and not stat.S_ISDIR(first.st.st_mode):
        parent = make_dirs(rootfs, posixpath.dirname(dest.rstrip("/")) or "/", uid, gid)
        _write(first.host, os.path.join(parent, posixpath.basename(dest.rstrip("/"))),
               first.st, owner, chmod)
        return
    base = make_dirs(rootfs, dest, uid, gid)
    for e in entries:
        if e.archive:
            _unpack(e.host, base, archive_owner, chmod, tmpdir)
    apply_tree(base, [e for e in entries if not e.archive and e.rel], owner, chmod)


def _meta(target: str, st: os.stat_result, owner: tuple[int, int] | None, chmod: int | None) -> None:
    uid, gid = owner if owner is not None else (st.st_uid, st.st_gid)
    os.chown(target, uid, gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(target, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _write(src: str, target: str, st: os.stat_result, owner: tuple[int, int] | None,
           chmod: int | None) -> None:
    if os.path.isdir(target) and not os.path.islink(target):
        raise ConfigError(f"cannot copy {os.path.basename(src)}: the destination "
                          f"{os.path.basename(target)} is a directory (end the destination with / "
                          "to copy into it)")
    remove_path(target)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        copy_file(src, target, follow_symlinks=True)  # context files: already in scope
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), target)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(target, 0o600)
    elif stat.S_ISCHR(mode) and st.st_rdev == 0:
        return  # an overlay whiteout seen through a layer directory: nothing to copy
    else:
        raise ConfigError(f"cannot copy {src}: sockets and device nodes are not copied")
    _meta(target, st, owner, chmod)


def _unpack(archive: str, base: str, owner: tuple[int, int] | None, chmod: int | None,
            tmpdir: str) -> None:
    """ADD of a local archive: unpack it safely (the store's extraction), then merge it in."""
    import shutil
    import tempfile
    from pathlib import Path

    from ..storage.layers import extract_layer

    tmp = tempfile.mkdtemp(prefix="add-", dir=tmpdir)
    try:
        out = os.path.join(tmp, "x")
        extract_layer(archive, Path(out))
        entries = [Entry(r, h, hst) for r, h, hst in _walk(Source(archive, out, True, ""), None)]
        apply_tree(base, entries, owner, chmod)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def apply_tree(base: str, entries: list[Entry], owner: tuple[int, int] | None,
               chmod: int | None) -> None:
    dirs: list[tuple[str, os.stat_result]] = []
    for e in entries:
        target = os.path.join(base, e.rel)
        if stat.S_ISDIR(e.st.st_mode):
            if not (os.path.isdir(target) and not os.path.islink(target)):
                remove_path(target)
                os.mkdir(target, 0o700)
            dirs.append((target, e.st))
        else:
            _write(e.host, target, e.st, owner, chmod)
    for target, st in reversed(dirs):
        _meta(target, st, owner, chmod)
