"""A container's changes -> one OCI layer tarball -> a layer in the image store.

With overlayfs the changes are the container's upper directory, already in
overlay's form: a deleted path is a 0/0 character device, a directory whose
lower contents were hidden carries ``trusted.overlay.opaque=y``. The OCI layer
format says the same with files: ``.wh.NAME`` deletes NAME, ``.wh..wh..opq``
hides everything below in its directory. ``diff_upper`` translates one into the
other. Where overlay could not be used the container ran on a full copy of its
image; ``diff_copy`` then compares that copy with the image's layers (by type,
mode, owner, size, modification time and link target, as Docker's naive differ
does) and writes what changed, plus whiteouts for what went away.

Mount points the runtime made in a root filesystem that lacked them (/proc,
/sys, /dev, /etc/hosts, /etc/resolv.conf, /etc/hostname) are left out, and
what lives under /proc, /sys and /dev never enters a layer. ``store_layer``
then unpacks the tarball through the store's safe extraction (the same code
every pulled or loaded layer goes through) and adds it to the store.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from pathlib import Path

from ..errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

    from ..engine import Engine

OPAQUE = "trusted.overlay.opaque"
# made by the runtime as mount points: never part of a layer unless the image had them
MOUNT_POINTS = ("proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "etc/hostname",
                "run/.containerenv", ".containerenv")
VIRTUAL_DIRS = ("proc", "sys", "dev")


# ---- looking at the image's layers --------------------------------------------------


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def lower_exists(lowers: list[Path], rel: str) -> bool:
    """Whether ``rel`` exists in the union of ``lowers`` (top first), overlay's rules."""
    parts = [p for p in rel.split("/") if p]
    for layer in lowers:
        cur = str(layer)
        for k, part in enumerate(parts):
            cand = os.path.join(cur, part)
            try:
                st = os.lstat(cand)
            except FileNotFoundError:
                if k and _opaque(cur):
                    return False
                break  # not here: look in the layer below
            except NotADirectoryError:
                return False
            if _is_whiteout(st):
                return False
            if k == len(parts) - 1:
                return True
            if not stat.S_ISDIR(st.st_mode):
                return False
            cur = cand
        else:
            return True
    return False


def lower_tree(lowers: list[Path]) -> dict[str, tuple[str, os.stat_result]]:
    """Every path of the union of ``lowers`` (top first) -> (host path, lstat)."""
    tree: dict[str, tuple[str, os.stat_result]] = {}

    def drop_below(rel: str) -> None:
        prefix = rel + "/" if rel else ""
        for k in [k for k in tree if k.startswith(prefix) and k != rel]:
            del tree[k]

    for layer in reversed(lowers):
        for rel, host, st in _walk(str(layer)):
            if _is_whiteout(st):
                tree.pop(rel, None)
                drop_below(rel)
                continue
            old = tree.get(rel)
            if stat.S_ISDIR(st.st_mode):
                if old is not None and not stat.S_ISDIR(old[1].st_mode) or _opaque(host):
                    drop_below(rel)
            elif old is not None and stat.S_ISDIR(old[1].st_mode):
                drop_below(rel)
            tree[rel] = (host, st)
    return tree


def _walk(root: str, rel: str = "") -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, host path, lstat) of everything under ``root``, parents first, sorted."""
    base = os.path.join(root, rel) if rel else root
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return
    for name in names:
        r = f"{rel}/{name}" if rel else name
        host = os.path.join(base, name)
        st = os.lstat(host)
        yield r, host, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, r)


def _skip(rel: str, lowers_have: dict[str, bool]) -> bool:
    top = rel.split("/", 1)[0]
    if top in VIRTUAL_DIRS and "/" in rel:
        return True
    if rel in MOUNT_POINTS:
        return not lowers_have[rel]
    return False


# ---- the tar writer -----------------------------------------------------------------


class LayerWriter:
    """Writes entries into an uncompressed PAX tar, the OCI layer media type's form."""

    def __init__(self, path: Path) -> None:
        self.tf = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
        self.links: dict[tuple[int, int], str] = {}
        self.count = 0

    def close(self) -> None:
        self.tf.close()

    def add(self, rel: str, host: str, st: os.stat_result) -> None:
        ti = tarfile.TarInfo(rel + ("/" if stat.S_ISDIR(st.st_mode) else ""))
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = st.st_mtime_ns // 1_000_000_000
        xattrs = _xattrs(host)
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        mode = st.st_mode
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(mode) and st.st_nlink > 1 and key in self.links:
            ti.type, ti.linkname = tarfile.LNKTYPE, self.links[key]
            self.tf.addfile(ti)
            self.count += 1
            return
        if stat.S_ISREG(mode):
            ti.size = st.st_size
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with open(fd, "rb") as f:
                self.tf.addfile(ti, f)
            if st.st_nlink > 1:
                self.links[key] = rel
        elif stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            self.tf.addfile(ti)
        elif stat.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(host)
            self.tf.addfile(ti)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
            self.tf.addfile(ti)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tf.addfile(ti)
        else:
            return  # sockets do not go into layers
        self.count += 1

    def whiteout(self, rel: str, *, opaque: bool = False) -> None:
        parent, _, name = rel.rpartition("/")
        wh = ".wh..wh..opq" if opaque else ".wh." + name
        ti = tarfile.TarInfo(f"{parent}/{wh}" if parent else wh)
        ti.mode, ti.mtime = 0o644, 0
        self.tf.addfile(ti)
        self.count += 1


def _xattrs(host: str) -> dict[str, str]:
    out = {}
    try:
        for name in os.listxattr(host, follow_symlinks=False):
            if name.startswith("trusted.overlay."):
                continue
            out[name] = os.getxattr(host, name, follow_symlinks=False).decode(
                "utf-8", "surrogateescape")
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.ENODATA):
            raise
    return out


# ---- the two differs ----------------------------------------------------------------


def needs_merged_view(upper: Path) -> bool:
    """Whether overlay's redirect_dir or metacopy features left entries in ``upper`` that
    are not whole (a renamed directory's children stay below; a chmod copies no data):
    then only a merged view of the upper dir over its lowers tells what changed."""
    for _rel, host, _st in _walk(str(upper)):
        try:
            names = os.listxattr(host, follow_symlinks=False)
        except OSError:
            continue
        if any(n in ("trusted.overlay.redirect", "trusted.overlay.metacopy") for n in names):
            return True
    return False


def diff_upper(upper: Path, lowers: list[Path], out: Path) -> int:
    """overlay's upper dir -> layer tarball at ``out``; returns the number of entries."""
    have = {m: lower_exists(lowers, m) for m in MOUNT_POINTS}
    w = LayerWriter(out)
    try:
        for rel, host, st in _walk(str(upper)):
            if _skip(rel, have):
                continue
            if _is_whiteout(st):
                if lower_exists(lowers, rel):
                    w.whiteout(rel)
                continue
            w.add(rel, host, st)
            if stat.S_ISDIR(st.st_mode) and _opaque(host):
                w.whiteout(rel + "/x", opaque=True)
    finally:
        w.close()
    return w.count


def _same(a: os.stat_result, b: os.stat_result, ha: str, hb: str) -> bool:
    if (stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode) or a.st_mode != b.st_mode
            or a.st_uid != b.st_uid or a.st_gid != b.st_gid or a.st_rdev != b.st_rdev):
        return False
    if stat.S_ISDIR(a.st_mode):
        return True  # a directory's own mtime changes with its entries; they are compared
    if a.st_size != b.st_size or a.st_mtime_ns // 1000 != b.st_mtime_ns // 1000:
        return False
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(ha) == os.readlink(hb)
    return _xattrs(ha) == _xattrs(hb)


def diff_copy(merged: Path, lowers: list[Path], out: Path) -> int:
    """A full copy of the rootfs compared with its image's layers -> layer tarball."""
    base = lower_tree(lowers)
    have = {m: m in base for m in MOUNT_POINTS}
    w = LayerWriter(out)
    seen: set[str] = set()
    emitted: set[str] = set()

    def parents(rel: str) -> None:
        """A changed path's directories go first, with their metadata (as overlay's copy-up
        would have put them in the upper dir), so extraction never invents them."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in emitted:
                host = os.path.join(merged, d)
                w.add(d, host, os.lstat(host))
                emitted.add(d)

    try:
        for rel, host, st in _walk(str(merged)):
            if _skip(rel, have):
                continue
            seen.add(rel)
            old = base.get(rel)
            if old is None or not _same(st, old[1], host, old[0]):
                parents(rel)
                w.add(rel, host, st)
                emitted.add(rel)
        whited: set[str] = set()
        for rel in sorted(r for r in base if r not in seen and not _skip(r, have)):
            parts = rel.split("/")
            if any("/".join(parts[:i]) in whited for i in range(1, len(parts))):
                continue  # its directory is deleted already
            parent = os.path.join(merged, *parts[:-1])
            if len(parts) > 1 and (os.path.islink(parent) or not os.path.isdir(parent)):
                continue  # its directory became a file: that entry replaces all below
            parents(rel)
            w.whiteout(rel)
            whited.add(rel)
    finally:
        w.close()
    return w.count


# ---- into the store -----------------------------------------------------------------


def store_layer(engine: "Engine", tar_path: Path) -> tuple[str, int]:
    """Unpack a layer tarball safely and add it to the store; returns (diff_id, size).

    A layer the store already holds (same digest) is not added twice.
    """
    import shutil
    import tempfile

    from ..image_io import _layer_present, _place
    from ..storage.layers import extract_layer
    from ..timeutil import now_iso

    paths = engine.paths
    paths.ensure()
    staging = Path(tempfile.mkdtemp(prefix="commit-", dir=paths.tmp))
    try:
        diff_id, size = extract_layer(tar_path, staging / "layer", copy_to=staging / "blob")
        ims = engine.images
        if _layer_present(ims, diff_id):
            return diff_id, size
        placed: list[Path] = []
        try:
            with engine.store.write():
                _place(staging / "layer", paths.layer(diff_id), placed)
                _place(staging / "blob", paths.blob(diff_id), placed)
                engine.store.insert_layer(diff_id, size, now_iso())
        except BaseException:
            for p in reversed(placed):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            raise
        if not _layer_present(ims, diff_id):
            raise StoreError(f"layer {diff_id[:19]} could not be stored")
        return diff_id, size
    finally:
        shutil.rmtree(staging, ignore_errors=True)
