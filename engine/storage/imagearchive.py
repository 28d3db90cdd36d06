"""Image archives in and out: ``docker save`` tars and OCI-layout tars.

``open_image_archive`` / ``read_image_archive`` read docker-archive and
oci-archive files (or streams, spooled to a temporary file first) by member
offsets: nothing is unpacked to disk, and every digest the format names is
verified as the bytes are read. The layers they hand out are tar streams for
``layers.extract_layer``. ``write_docker_archive`` and ``write_oci_archive``
write archives ``podman load`` accepts, from the uncompressed layer blobs the
store keeps.

Archives are hostile input: member names are normalized and refused when they
climb out, links inside the archive are followed only within it, and sizes are
checked against the file before anything is read.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..errors import ArchiveError
from .layers import _CHUNK, _clean, _decompressed, _sniff, sha256_hex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, BinaryIO, Callable

    from .layers import Source

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


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
    layers: list[Path | str | Callable[[], BinaryIO]]
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

    def layer(self, name: str, src: Path | str | Callable[[], BinaryIO]) -> int:
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
