"""The local image store: rootfs tarballs and image archives in, named images out.

An image is three content-addressed blobs under ROOT/blobs/sha256 (its config,
whose digest is the image id; an OCI manifest; one uncompressed tar per layer)
plus one unpacked directory per layer under ROOT/layers/<diff_id>, used as an
overlay lowerdir. The SQLite store holds the rows (images, names, layers).

Every write stages under ROOT/tmp, then, inside one store transaction, renames
the new files into place and inserts the rows: a failed import, load or remove
leaves the store as it was, and the store's write lock orders the file moves of
concurrent podium processes (a layer being removed cannot be adopted by a
concurrent load, and vice versa).

Names follow Podman: a name without a registry domain given by the user (tag,
import) lives under ``localhost/``; names read from Docker archives live under
``docker.io/`` (``busybox`` -> ``docker.io/library/busybox:latest``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Union

from .errors import (ArchiveError, ConfigError, ImageNotFound, InUse, NotFound, PodiumError,
                     StoreError)
from .paths import Paths
from .state.store import Store
from .storage.archive import (MT_OCI_MANIFEST, SaveImage, build_manifest, extract_layer,
                              host_platform, open_image_archive, rename_noreplace, sha256_hex,
                              write_docker_archive, write_oci_archive)

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FORMATS = ("docker-archive", "oci-archive")

# ---- names --------------------------------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")


def split_name(ref: str) -> tuple[str | None, str, str | None, str | None]:
    """``[domain/]path[:tag][@digest]`` -> (domain or None, path, tag, digest), unvalidated."""
    name, _, digest = ref.partition("@")
    colon = name.rfind(":")
    tag = None
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1:]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest, tag, digest or None
    return None, name, tag, digest or None


def normalize_name(ref: str, *, default_domain: str = "localhost") -> str:
    """A fully qualified name as Podman stores it: ``foo`` -> ``localhost/foo:latest``.

    With ``default_domain="docker.io"`` (names read from Docker archives) a bare
    name becomes ``docker.io/library/foo:latest``. Raises ConfigError for names
    that are not valid references (upper case, bad characters, empty parts).
    """
    ref = ref.strip()
    domain, path, tag, digest = split_name(ref)
    where = f"invalid image name {ref!r}"
    if not path:
        raise ConfigError(f"{where}: empty repository")
    if domain is not None and not _DOMAIN_RE.match(domain):
        raise ConfigError(f"{where}: bad registry {domain!r}")
    if not _PATH_RE.match(path):
        hint = " (repository names must be lowercase)" if path != path.lower() else ""
        raise ConfigError(f"{where}: bad repository {path!r}{hint}")
    if tag is not None and not _TAG_RE.match(tag):
        raise ConfigError(f"{where}: bad tag {tag!r}")
    if digest is not None and not _DIGEST_RE.match(digest):
        raise ConfigError(f"{where}: bad digest {digest!r} (expected sha256:<64 hex>)")
    if domain is None:
        domain = default_domain
    if domain in ("index.docker.io", "registry-1.docker.io"):
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if tag is None and digest is None:
        tag = "latest"
    full = f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    if len(full) > 255:
        raise ConfigError(f"{where}: longer than 255 characters")
    return full


def familiar_name(name: str) -> str:
    """The short form Docker writes in RepoTags: ``docker.io/library/x:t`` -> ``x:t``."""
    if name.startswith("docker.io/library/") and name.count("/") == 2:
        return name[len("docker.io/library/"):]
    if name.startswith("docker.io/"):
        return name[len("docker.io/"):]
    return name


# ---- --change -----------------------------------------------------------------------

_CHANGE_RE = re.compile(r"^\s*([A-Za-z]+)(?:\s+|=)(.*)$", re.S)
_CHANGE_KEYS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
                "WORKDIR")


def _words(value: str, change: str) -> list[str]:
    import shlex

    try:
        return shlex.split(value)
    except ValueError as exc:
        raise ConfigError(f"invalid change {change!r}: {exc}", field="--change") from None


def _command(value: str) -> list[str]:
    """JSON (exec) form as is; anything else is shell form, run by /bin/sh -c."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
    return ["/bin/sh", "-c", value]


def _pairs(value: str, change: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` or the legacy one-pair form ``K rest of line``."""
    words = _words(value, change)
    if words and "=" in words[0]:
        out = []
        for w in words:
            k, eq, v = w.partition("=")
            if not eq or not k:
                raise ConfigError(f"invalid change {change!r}: {w!r} is not KEY=VALUE",
                                  field="--change")
            out.append((k, v))
        return out
    key, _, rest = value.partition(" ")
    if not rest.strip():
        raise ConfigError(f"invalid change {change!r}: expected KEY=VALUE or KEY VALUE",
                          field="--change")
    return [(key, rest.strip())]


def _ports(value: str, change: str) -> list[str]:
    out = []
    for w in _words(value, change):
        port, _, proto = w.partition("/")
        proto = (proto or "tcp").lower()
        lo, _, hi = port.partition("-")
        if proto not in ("tcp", "udp", "sctp") or not lo.isdigit() or (hi and not hi.isdigit()):
            raise ConfigError(f"invalid change {change!r}: bad port {w!r}", field="--change")
        first, last = int(lo), int(hi or lo)
        if not 0 < first <= last <= 65535:
            raise ConfigError(f"invalid change {change!r}: port {w!r} out of range",
                              field="--change")
        out += [f"{p}/{proto}" for p in range(first, last + 1)]
    return out


def _signal(value: str, change: str) -> str:
    import signal

    v = value.strip()
    if v.isdigit() and 0 < int(v) < 65:
        return v
    name = v.upper() if v.upper().startswith("SIG") else "SIG" + v.upper()
    if name in signal.Signals.__members__ or re.match(r"^SIGRTM(IN|AX)([+-]\d+)?$", name):
        return v
    raise ConfigError(f"invalid change {change!r}: unknown signal {v!r}", field="--change")


def apply_changes(config: dict[str, Any], changes: Iterable[str]) -> dict[str, Any]:
    """Apply Dockerfile-style ``--change`` instructions to an image's ``config`` object.

    Accepts ``CMD ["sh"]``, ``CMD sh -c x`` (shell form) and the ``CMD=...``
    spelling; unknown instructions are a ConfigError naming the supported ones.
    """
    import posixpath

    for change in changes:
        m = _CHANGE_RE.match(change)
        if not m or not m.group(2).strip():
            raise ConfigError(f"invalid change {change!r}: expected 'INSTRUCTION value'",
                              field="--change")
        key, value = m.group(1).upper(), m.group(2).strip()
        if key in ("CMD", "ENTRYPOINT"):
            config["Cmd" if key == "CMD" else "Entrypoint"] = _command(value)
        elif key == "ENV":
            env = list(config.get("Env") or [])
            for k, v in _pairs(value, change):
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            config["Env"] = env
        elif key == "LABEL":
            config.setdefault("Labels", {}).update(dict(_pairs(value, change)))
        elif key == "EXPOSE":
            ports = config.setdefault("ExposedPorts", {})
            for p in _ports(value, change):
                ports[p] = {}
        elif key == "VOLUME":
            vols = _command(value) if value.startswith("[") else _words(value, change)
            if vols[:2] == ["/bin/sh", "-c"]:
                raise ConfigError(f"invalid change {change!r}: bad JSON list", field="--change")
            config.setdefault("Volumes", {}).update({v: {} for v in vols})
        elif key == "WORKDIR":
            config["WorkingDir"] = posixpath.normpath(
                posixpath.join(config.get("WorkingDir") or "/", value))
        elif key == "USER":
            config["User"] = value
        elif key == "STOPSIGNAL":
            config["StopSignal"] = _signal(value, change)
        else:
            raise ConfigError(f"unknown instruction {key} in change {change!r}: supported are "
                              + ", ".join(_CHANGE_KEYS), field="--change")
    return config


# ---- the store ----------------------------------------------------------------------


@dataclass
class RemoveReport:
    """What ``remove`` did for one reference (Podman's ImageRemoveReport, per item).

    ``deleted`` lists the image ids removed (empty when only a name went away);
    ``get()`` allows dict-style reads, ``report.get("untagged", [])``.
    """

    ref: str
    id: str | None = None
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    error: PodiumError | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class _Pending:
    config: bytes
    layers: list[tuple[str, int]]
    names: list[str]
    annotations: dict[str, str]


def _now() -> str:
    import time

    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _rmtree(path: Path) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _diff_ids(image: dict[str, Any]) -> list[str]:
    return list((image["config"].get("rootfs") or {}).get("diff_ids") or [])


ImageRef = Union[str, dict]


class ImageStore:
    """Image operations on one storage root (see the module docstring)."""

    def __init__(self, paths: Paths, store: Store) -> None:
        self.paths, self.store = paths, store

    # ---- lookup ---------------------------------------------------------------
    def _by_id(self, hexd: str, ref: str) -> dict[str, Any] | None:
        if not _HEX_RE.match(hexd):
            return None
        ids = [hexd] if len(hexd) == 64 else self.store.image_ids_by_prefix(hexd)
        if len(ids) > 1:
            raise ConfigError(f"{ref}: ambiguous image id prefix, matches {len(ids)} images")
        return self.store.image(ids[0]) if ids else None

    def lookup(self, ref: str) -> tuple[dict[str, Any], str | None]:
        """(image, the stored name it matched or None when matched by id or digest)."""
        ref = ref.strip()
        if ref.startswith("sha256:"):
            img = self._by_id(ref[7:], ref)
            if img:
                return img, None
            raise ImageNotFound(f"{ref}: image not known")
        candidates = [ref]
        for dom in ("localhost", "docker.io"):
            try:
                candidates.append(normalize_name(ref, default_domain=dom))
            except ConfigError:
                pass
        for cand in dict.fromkeys(candidates):
            if "@" in cand:
                repo, _, digest = cand.partition("@")
                repo = repo.rsplit(":", 1)[0] if repo.rfind(":") > repo.rfind("/") else repo
                for img in self.store.images():
                    if img["digest"] == digest and any(
                            n.rsplit(":", 1)[0] == repo for n in img["names"]):
                        return img, None
                continue
            iid = self.store.image_id_by_name(cand)
            if iid:
                img = self.store.image(iid)
                if img:
                    return img, cand
        if len(candidates) > 1 and "@" not in candidates[1] and split_name(ref)[0] is None:
            # a short name: any registry's image of that name (Podman does the same locally)
            suffix = "/" + candidates[1].split("/", 1)[1]
            hits = {r[1]: r[0] for r in self.store.query("SELECT name, image_id FROM image_names")
                    if r[0].endswith(suffix)}
            if len(hits) > 1:
                raise ConfigError(f"{ref}: short name matches several images ("
                                  + ", ".join(sorted(hits.values())) + "); use a full name")
            if hits:
                iid, name = next(iter(hits.items()))
                img = self.store.image(iid)
                if img:
                    return img, name
        img = self._by_id(ref, ref)
        if img:
            return img, None
        raise ImageNotFound(f"{ref}: image not known")

    def resolve(self, ref: str) -> dict[str, Any]:
        """The store's image dict for a name, short name, id, id prefix or ``sha256:`` id."""
        return self.lookup(ref)[0]

    def _image(self, image: ImageRef) -> dict[str, Any]:
        return self.resolve(image) if isinstance(image, str) else image

    def list(self) -> list[dict[str, Any]]:
        """All images, newest first, as the store's dicts (id, digest, names, config...)."""
        return self.store.images()

    def layer_dirs(self, image: ImageRef) -> list[Path]:
        """The image's unpacked layers, top first: overlay's lowerdir order."""
        return [self.paths.layer(d) for d in reversed(_diff_ids(self._image(image)))]

    def config_of(self, image: ImageRef) -> dict[str, Any]:
        """The image config's ``config`` object with every key container creation reads."""
        cfg = dict(self._image(image)["config"].get("config") or {})
        return {
            "Entrypoint": cfg.get("Entrypoint") or None, "Cmd": cfg.get("Cmd") or None,
            "Env": list(cfg.get("Env") or []), "WorkingDir": cfg.get("WorkingDir") or "",
            "User": cfg.get("User") or "", "ExposedPorts": dict(cfg.get("ExposedPorts") or {}),
            "Labels": dict(cfg.get("Labels") or {}), "StopSignal": cfg.get("StopSignal") or None,
            "Volumes": dict(cfg.get("Volumes") or {}),
            "Healthcheck": cfg.get("Healthcheck") or None,
        }

    def config_bytes(self, image: dict[str, Any]) -> bytes:
        """The exact config JSON whose digest is the image id."""
        try:
            data = self.paths.blob(image["id"]).read_bytes()
        except OSError as exc:
            raise StoreError(f"image {image['id'][:12]}: config blob missing: {exc}") from None
        if sha256_hex(data) != image["id"]:
            raise StoreError(f"image {image['id'][:12]}: config blob is corrupt")
        return data

    def inspect(self, ref: str) -> dict[str, Any]:
        """``podman image inspect``'s shape for one image."""
        img = self.resolve(ref)
        cfg, manifest = img["config"], img["manifest"]
        history = cfg.get("history") or []
        repos = [n for n in img["names"] if "@" not in n]
        digests = sorted({(n.rsplit(":", 1)[0] if n.rfind(":") > n.rfind("/") else n)
                          + "@" + img["digest"] for n in repos})
        inner = cfg.get("config") or {}
        return {
            "Id": img["id"], "Digest": img["digest"], "RepoTags": repos, "RepoDigests": digests,
            "Parent": "", "Comment": (history[-1].get("comment", "") if history else ""),
            "Created": cfg.get("created") or img["created"], "Config": inner, "Version": "",
            "Author": cfg.get("author", ""), "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""), "Size": img["size"], "VirtualSize": img["size"],
            "GraphDriver": {"Name": "overlay", "Data": {
                "LowerDir": ":".join(str(p) for p in self.layer_dirs(img))}},
            "RootFS": {"Type": "layers", "Layers": _diff_ids(img)},
            "Labels": inner.get("Labels") or None,
            "Annotations": manifest.get("annotations") or {},
            "ManifestType": manifest.get("mediaType", MT_OCI_MANIFEST),
            "User": inner.get("User", ""), "History": history, "NamesHistory": img["names"],
        }

    # ---- names ----------------------------------------------------------------
    def tag(self, ref: str, new_name: str) -> str:
        """Add a name (normalized, returned) to an image; a name moves off any other image."""
        name = normalize_name(new_name)
        if "@" in name:
            raise ConfigError(f"{new_name}: cannot tag with a digest")
        img = self.resolve(ref)
        with self.store.write():
            if self.store.image(img["id"]) is None:
                raise ImageNotFound(f"{ref}: image not known")
            self.store.tag_image(name, img["id"])
        return name

    def untag(self, ref: str, name: str | None = None) -> list[str]:
        """Remove one name (or all, when ``name`` is None) from an image; returns them."""
        img = self.resolve(ref)
        with self.store.write():
            names = self.store.image_names(img["id"])
            if name is None:
                gone = names
            else:
                cands = [name] + [normalize_name(name, default_domain=d)
                                  for d in ("localhost", "docker.io")]
                gone = [n for n in dict.fromkeys(cands) if n in names][:1]
                if not gone:
                    raise NotFound(f"{name}: tag not known on image {img['id'][:12]}")
            for n in gone:
                self.store.untag_image(n)
        return gone

    # ---- import / load --------------------------------------------------------
    def _staging(self, kind: str) -> Path:
        import tempfile

        self.paths.ensure()
        return Path(tempfile.mkdtemp(prefix=kind + "-", dir=self.paths.tmp))

    def _layer_present(self, diff_id: str) -> bool:
        return (self.store.has_layer(diff_id) and self.paths.layer(diff_id).is_dir()
                and self.paths.blob(diff_id).is_file())

    def _place(self, src: Path, dst: Path, placed: list[Path]) -> None:
        """Move a staged file into the store unless an equal one is there already."""
        if os.path.lexists(dst):
            return
        try:
            rename_noreplace(src, dst)
        except FileExistsError:  # content-addressed: theirs is as good as ours
            return
        placed.append(dst)

    def _commit(self, pending: list[_Pending], fresh: dict[str, tuple[Path, Path, int]],
                staging: Path) -> list[dict[str, Any]]:
        """Move staged layers and blobs into place and insert the rows, all or nothing."""
        now = _now()
        staged = []
        for i, p in enumerate(pending):
            mbytes = build_manifest(p.config, p.layers, p.annotations or None)
            cfile, mfile = staging / f"config{i}", staging / f"manifest{i}"
            cfile.write_bytes(p.config)
            mfile.write_bytes(mbytes)
            staged.append((sha256_hex(p.config), cfile, sha256_hex(mbytes), mfile, mbytes))
        placed: list[Path] = []
        try:
            with self.store.write():
                for diff_id, (ldir, lblob, size) in fresh.items():
                    self._place(ldir, self.paths.layer(diff_id), placed)
                    self._place(lblob, self.paths.blob(diff_id), placed)
                    self.store.insert_layer(diff_id, size, now)
                for p, (cid, cfile, mhex, mfile, mbytes) in zip(pending, staged):
                    for d, _ in p.layers:
                        if d not in fresh and not self._layer_present(d):
                            raise StoreError(f"layer {d[:19]} was removed by another podium "
                                             "process while this one used it; try again")
                    self._place(cfile, self.paths.blob(cid), placed)
                    self._place(mfile, self.paths.blob(mhex), placed)
                    config = json.loads(p.config)
                    self.store.insert_image({
                        "id": cid, "digest": "sha256:" + mhex,
                        "created": config.get("created") or now,
                        "size": sum(s for _, s in p.layers),
                        "manifest": json.loads(mbytes), "config": config})
                    for name in p.names:
                        self.store.tag_image(name, cid)
        except BaseException:
            for path in reversed(placed):
                _rmtree(path)
            raise
        return [self.store.image(cid) or {} for cid, *_ in staged]

    def import_rootfs(self, tarball: Union[str, Path, BinaryIO], name: str | None = None, *,
                      changes: Iterable[str] = (), message: str | None = None) -> dict[str, Any]:
        """A root filesystem tarball (plain or compressed; "-" is stdin) -> a one-layer image."""
        norm = normalize_name(name) if name else None
        if norm and "@" in norm:
            raise ConfigError(f"{name}: an imported image cannot be named by digest")
        inner = apply_changes({"Env": [DEFAULT_PATH]}, changes)
        if isinstance(tarball, (str, Path)):
            if str(tarball) == "-":
                tarball = sys.stdin.buffer
            elif not os.path.isfile(tarball):
                raise ConfigError(f"{tarball}: no such file")
        staging = self._staging("import")
        try:
            diff_id, size = extract_layer(tarball, staging / "layer", copy_to=staging / "blob")
            created = _now()
            arch, variant = host_platform()
            config: dict[str, Any] = {"created": created, "architecture": arch}
            if variant:
                config["variant"] = variant
            config.update({
                "os": "linux", "config": inner,
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created": created,
                             "created_by": f"/bin/sh -c #(nop) ADD file:{diff_id[7:]} in /",
                             "comment": message if message is not None else
                             "imported from tarball"}],
            })
            cbytes = json.dumps(config, separators=(",", ":")).encode()
            pend = _Pending(cbytes, [(diff_id, size)], [norm] if norm else [], {})
            return self._commit([pend], {diff_id: (staging / "layer", staging / "blob", size)},
                                staging)[0]
        finally:
            _rmtree(staging)

    def load(self, src: Union[str, Path, BinaryIO]) -> list[str]:
        """Load a docker-archive or oci-archive ("-" is stdin); returns names (or sha256: ids)."""
        if isinstance(src, (str, Path)) and str(src) == "-":
            src = sys.stdin.buffer
        staging = self._staging("load")
        try:
            with open_image_archive(src, tmpdir=staging) as arc:
                fresh: dict[str, tuple[Path, Path, int]] = {}
                pending = []
                for im in arc.images:
                    layers = []
                    for layer in im.layers:
                        d = layer.diff_id or ""
                        if d in fresh:
                            size = fresh[d][2]
                        elif self._layer_present(d):
                            size = self.paths.blob(d).stat().st_size
                        else:
                            n = len(fresh)
                            ldir, lblob = staging / f"l{n}", staging / f"b{n}"
                            got, size = extract_layer(layer.open(), ldir, copy_to=lblob)
                            if got != d:
                                raise ArchiveError(f"layer {layer.index} of image {im.id[:12]} "
                                                   f"has content {got}, its config says {d}")
                            fresh[d] = (ldir, lblob, size)
                        layers.append((d, size))
                    dom = "docker.io" if im.docker_names else "localhost"
                    try:
                        names = [normalize_name(n, default_domain=dom) for n in im.names]
                    except ConfigError as exc:
                        raise ArchiveError(f"image archive: {exc}") from None
                    pending.append(_Pending(im.config, layers, list(dict.fromkeys(names)),
                                            im.annotations))
                images = self._commit(pending, fresh, staging)
        finally:
            _rmtree(staging)
        out: list[str] = []
        for p, img in zip(pending, images):
            out.extend(p.names or ["sha256:" + img["id"]])
        return out

    # ---- save -----------------------------------------------------------------
    def save(self, refs: list[str], out: Union[str, Path, BinaryIO], *,
             format: str = "docker-archive") -> None:
        """Write images to an archive file (or a binary stream; "-" is stdout)."""
        if format not in FORMATS:
            raise ConfigError(f"unknown archive format {format!r}: use one of {', '.join(FORMATS)}")
        chosen: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for ref in refs:
            img, matched = self.lookup(ref)
            names = [matched] if matched else img["names"]
            have = chosen.setdefault(img["id"], (img, []))[1]
            have.extend(n for n in names if n not in have)
        items = []
        for img, names in chosen.values():
            diff_ids = _diff_ids(img)
            layers: list[Any] = [self.paths.blob(d) for d in diff_ids]
            for d, p in zip(diff_ids, layers):
                if not p.is_file():
                    raise StoreError(f"image {img['id'][:12]}: layer blob {d[:19]} is missing")
            names = [n for n in names if "@" not in n]
            if format == "docker-archive":
                names = [familiar_name(n) for n in names]
            items.append(SaveImage(names, self.config_bytes(img), layers, diff_ids))
        writer = write_docker_archive if format == "docker-archive" else write_oci_archive
        if isinstance(out, (str, Path)) and str(out) != "-":
            if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
                raise ConfigError(f"{out}: directory does not exist")
            writer(out, items)
            return
        stream = sys.stdout.buffer if isinstance(out, (str, Path)) else out
        import shutil

        staging = self._staging("save")
        try:
            writer(staging / "archive.tar", items)
            with open(staging / "archive.tar", "rb") as f:
                shutil.copyfileobj(f, stream, 1 << 20)  # type: ignore[misc]
            stream.flush()
        finally:
            _rmtree(staging)

    # ---- remove ---------------------------------------------------------------
    def remove(self, refs: list[str], *, force: bool = False,
               remove_containers: Callable[[list[str]], None] | None = None
               ) -> list[RemoveReport]:
        """Remove images, one report per ref (Podman's ``rmi``).

        A name of an image with several names only loses that name. Removing an
        image used by containers needs ``force`` and a ``remove_containers``
        callback (called with their names, outside the store lock). Blobs and
        layer directories no remaining image references are deleted.
        """
        reports = []
        for ref in refs:
            rep = RemoveReport(ref)
            try:
                self._remove_one(ref, rep, force, remove_containers)
            except PodiumError as exc:
                rep.error = exc
            reports.append(rep)
        return reports

    def _remove_one(self, ref: str, rep: RemoveReport, force: bool,
                    remove_containers: Callable[[list[str]], None] | None) -> None:
        img, matched = self.lookup(ref)
        rep.id = img["id"]
        if matched and len(img["names"]) > 1:
            with self.store.write():
                self.store.untag_image(matched)
            rep.untagged = [matched]
            return
        if not matched and len(img["names"]) > 1 and not force:
            raise InUse(f"unable to delete image {img['id'][:12]} by id: it has several names "
                        f"({', '.join(img['names'])}); remove them by name or use --force")
        users = self.store.containers_using_image(img["id"])
        if users:
            if not force or remove_containers is None:
                raise InUse(f"image {img['id'][:12]} is in use by container(s) "
                            f"{', '.join(users)}: remove them first or use --force")
            remove_containers(users)
        trash = self._staging("rmi")
        moved: list[tuple[Path, Path]] = []
        try:
            with self.store.write():
                users = self.store.containers_using_image(img["id"])
                if users:
                    raise InUse(f"image {img['id'][:12]} is in use by container(s) "
                                f"{', '.join(users)}")
                rep.untagged = self.store.image_names(img["id"])
                self.store.delete_image(img["id"])
                self._collect(img, trash, moved)
            rep.deleted = [img["id"]]
        except BaseException:
            for src, dst in reversed(moved):  # the rows stay: put their files back
                os.rename(dst, src)
            raise
        finally:
            _rmtree(trash)

    def _collect(self, gone: dict[str, Any], trash: Path,
                 moved: list[tuple[Path, Path]]) -> None:
        """Move what no remaining image references into ``trash`` (under the lock)."""
        keep_layers: set[str] = set()
        keep_blobs: set[str] = set()
        for img in self.store.images():
            keep_layers.update(_diff_ids(img))
            keep_blobs.update({img["id"], img["digest"].split(":", 1)[-1]})
            keep_blobs.update(lay["digest"].split(":", 1)[-1]
                              for lay in img["manifest"].get("layers") or [])
        blobs = {gone["id"], gone["digest"].split(":", 1)[-1]}
        blobs.update(lay["digest"].split(":", 1)[-1] for lay in gone["manifest"].get("layers") or [])
        doomed = []
        for d in _diff_ids(gone):
            if d not in keep_layers:
                self.store.delete_layer(d)
                doomed.append(self.paths.layer(d))
        doomed += [self.paths.blob(h) for h in sorted(blobs - keep_blobs)]
        for path in doomed:
            if os.path.lexists(path):
                dst = trash / str(len(moved))
                os.rename(path, dst)
                moved.append((path, dst))
