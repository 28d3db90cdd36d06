"""The local image store: names and ids in, image records, configs and layer dirs out.

An image is three content-addressed blobs under ROOT/blobs/sha256 (its config,
whose digest is the image id; an OCI manifest; one uncompressed tar per layer)
plus one unpacked directory per layer under ROOT/layers/<diff_id>, used as an
overlay lowerdir. The SQLite store holds the rows (images, names, layers).

This module is the read side, on every ``podium run``'s path: resolving a
reference costs a few indexed SQLite queries and one JSON parse of the image's
record; its config and layer directories are read from that record; and the
module imports nothing heavy (no typing, dataclasses, tarfile, hashlib...).
Writes (import, load, save, remove) live in ``image_io``, imported by the
``ImageStore`` methods that need it.

Names follow Podman: a name without a registry domain given by the user (tag,
import) lives under ``localhost/``; names read from Docker archives live under
``docker.io/`` (``busybox`` -> ``docker.io/library/busybox:latest``).
"""

from __future__ import annotations

from .errors import ConfigError, ImageNotFound, NotFound, StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, BinaryIO, Callable, Iterable

    from .image_io import RemoveReport
    from .paths import Paths
    from .state.store import Store

    ImageRef = str | dict[str, Any]

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FORMATS = ("docker-archive", "oci-archive")
_MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"  # what podium writes

# ---- names --------------------------------------------------------------------------
# Patterns are compiled on first use (re caches them): most names pass the plain
# character checks below, and compiling all of them would cost every run ~1 ms.

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = rf"^{_COMPONENT}(?:/{_COMPONENT})*$"
_DOMAIN_RE = (r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
              r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?$")
_TAG_RE = r"^[\w][\w.-]{0,127}$"
_DIGEST_RE = r"^sha256:[0-9a-f]{64}$"
_HEX = "0123456789abcdef"
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HOST_CHARS = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ-")
_TAG_CHARS = _HOST_CHARS | frozenset("_.")


def _matches(pattern: str, value: str) -> bool:
    import re

    return re.match(pattern, value) is not None


def _is_hex(value: str) -> bool:
    return bool(value) and not value.strip(_HEX)


def _path_ok(path: str) -> bool:
    if all(part and _LOWER_ALNUM.issuperset(part) for part in path.split("/")):
        return True  # the common case, without the regex
    return _matches(_PATH_RE, path)


def _domain_ok(domain: str) -> bool:
    host, colon, port = domain.partition(":")
    if all(label and label[0] != "-" and label[-1] != "-" and _HOST_CHARS.issuperset(label)
           for label in host.split(".")) and (not colon or port.isascii() and port.isdigit()):
        return True
    return _matches(_DOMAIN_RE, domain)


def _tag_ok(tag: str) -> bool:
    if 0 < len(tag) <= 128 and tag[0] not in ".-" and _TAG_CHARS.issuperset(tag):
        return True
    return _matches(_TAG_RE, tag)


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
    if domain is not None and not _domain_ok(domain):
        raise ConfigError(f"{where}: bad registry {domain!r}")
    if not _path_ok(path):
        hint = " (repository names must be lowercase)" if path != path.lower() else ""
        raise ConfigError(f"{where}: bad repository {path!r}{hint}")
    if tag is not None and not _tag_ok(tag):
        raise ConfigError(f"{where}: bad tag {tag!r}")
    if digest is not None and not _matches(_DIGEST_RE, digest):
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


# ---- the store ----------------------------------------------------------------------


def diff_ids(image: dict[str, Any]) -> list[str]:
    """An image record's layer digests (uncompressed), bottom first."""
    return list((image["config"].get("rootfs") or {}).get("diff_ids") or [])


def __getattr__(name: str) -> Any:
    """Names that moved to ``image_io`` with the write side, still importable from here."""
    if name in ("RemoveReport", "apply_changes"):
        from . import image_io

        return getattr(image_io, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ImageStore:
    """Image operations on one storage root (see the module docstring)."""

    def __init__(self, paths: Paths, store: Store) -> None:
        self.paths, self.store = paths, store
        from .events import Events
        self.events = Events(store)

    # ---- lookup ---------------------------------------------------------------
    def _by_id(self, hexd: str, ref: str) -> dict[str, Any] | None:
        if not _is_hex(hexd):
            return None
        ids = [hexd] if len(hexd) == 64 else self.store.image_ids_by_prefix(hexd)
        if len(ids) > 1:
            raise ConfigError(f"{ref}: ambiguous image id prefix, matches {len(ids)} images")
        return self.store.image(ids[0]) if ids else None

    def _by_names(self, names: list[str]) -> tuple[dict[str, Any], str] | None:
        """The image of the first of ``names`` that is stored.

        One indexed query per name tried, then the record's two. A single join
        over all the names would be fewer statements but costs more: in a fresh
        process SQLite's parsing and planning dominate, and the join's alone
        takes longer than these simple statements together (~200 us against ~130).
        """
        for name in names:
            iid = self.store.image_id_by_name(name)
            img = self.store.image(iid) if iid else None
            if img:
                return img, name
        return None

    def _by_digest(self, cand: str) -> dict[str, Any] | None:
        """``repo@sha256:...``: the newest image with that manifest digest named ``repo``."""
        repo, _, digest = cand.partition("@")
        repo = repo.rsplit(":", 1)[0] if repo.rfind(":") > repo.rfind("/") else repo
        for row in self.store.query("SELECT id FROM images WHERE digest=? ORDER BY created DESC",
                                    (digest,)):
            img = self.store.image(row[0])
            if img and any(n.rsplit(":", 1)[0] == repo or n.partition("@")[0] == repo
                           for n in img["names"]):
                return img
        return None

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
        candidates = list(dict.fromkeys(candidates))
        if "@" in ref:  # then every candidate names a digest
            for cand in candidates:
                img = self._by_digest(cand)
                if img:
                    return img, None
            hit = self._by_names(candidates)  # pulled by a manifest list's digest
            if hit:
                return hit[0], None
        else:
            hit = self._by_names(candidates)
            if hit:
                return hit
        if len(candidates) > 1 and "@" not in candidates[1] and split_name(ref)[0] is None:
            # a short name: any registry's image of that name (Podman does the same locally)
            suffix = "/" + candidates[1].split("/", 1)[1]
            hits = {r[1]: r[0] for r in self.store.query(
                "SELECT name, image_id FROM image_names WHERE substr(name, ?) = ?",
                (-len(suffix), suffix))}
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
        base = self.paths.layers
        return [base / d.split(":", 1)[-1] for d in reversed(diff_ids(self._image(image)))]

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
        import hashlib

        if hashlib.sha256(data).hexdigest() != image["id"]:
            raise StoreError(f"image {image['id'][:12]}: config blob is corrupt")
        return data

    def inspect(self, ref: str) -> dict[str, Any]:
        """``podman image inspect``'s shape for one image."""
        img = self.resolve(ref)
        cfg, manifest = img["config"], img["manifest"]
        history = cfg.get("history") or []
        repos = [n for n in img["names"] if "@" not in n]
        digests = sorted({(n.rsplit(":", 1)[0] if n.rfind(":") > n.rfind("/") else n)
                          + "@" + img["digest"]
                          for n in (name.partition("@")[0] for name in img["names"])})
        inner = cfg.get("config") or {}
        return {
            "Id": img["id"], "Digest": img["digest"], "RepoTags": repos, "RepoDigests": digests,
            "Parent": "", "Comment": (history[-1].get("comment", "") if history else ""),
            "Created": cfg.get("created") or img["created"], "Config": inner, "Version": "",
            "Author": cfg.get("author", ""), "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""), "Size": img["size"], "VirtualSize": img["size"],
            "GraphDriver": {"Name": "overlay", "Data": {
                "LowerDir": ":".join(str(p) for p in self.layer_dirs(img))}},
            "RootFS": {"Type": "layers", "Layers": diff_ids(img)},
            "Labels": inner.get("Labels") or None,
            "Annotations": manifest.get("annotations") or {},
            "ManifestType": manifest.get("mediaType", _MT_OCI_MANIFEST),
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
            self.events.record("image", "tag", "sha256:" + img["id"], name)
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
                self.events.record("image", "untag", "sha256:" + img["id"], n)
        return gone

    # ---- writes (image_io) ----------------------------------------------------
    def import_rootfs(self, tarball: str | Path | BinaryIO, name: str | None = None, *,
                      changes: Iterable[str] = (), message: str | None = None) -> dict[str, Any]:
        """A root filesystem tarball (plain or compressed; "-" is stdin) -> a one-layer image."""
        from .image_io import import_rootfs

        return import_rootfs(self, tarball, name, changes=changes, message=message)

    def load(self, src: str | Path | BinaryIO) -> list[str]:
        """Load a docker-archive or oci-archive ("-" is stdin); returns names (or sha256: ids)."""
        from .image_io import load

        return load(self, src)

    def save(self, refs: list[str], out: str | Path | BinaryIO, *,
             format: str = "docker-archive") -> None:
        """Write images to an archive file (or a binary stream; "-" is stdout)."""
        from .image_io import save

        save(self, refs, out, format=format)

    def remove(self, refs: list[str], *, force: bool = False,
               remove_containers: Callable[[list[str]], None] | None = None
               ) -> list[RemoveReport]:
        """Remove images, one report per ref (Podman's ``rmi``).

        A name of an image with several names only loses that name. Removing an
        image used by containers needs ``force`` and a ``remove_containers``
        callback (called with their names, outside the store lock). Blobs and
        layer directories no remaining image references are deleted.
        """
        from .image_io import remove

        return remove(self, refs, force=force, remove_containers=remove_containers)

    # ---- registries (engine/registry, imported on first use) ------------------
    def pull(self, ref: str, options: Any = None) -> dict[str, Any]:
        """Pull from a registry (``registry.pull.PullOptions``); returns the image record."""
        from .registry.pull import pull

        return pull(self, ref, options)

    def push(self, ref: str, dest: str | None = None, options: Any = None) -> str:
        """Push to a registry (``registry.push.PushOptions``); returns the manifest digest."""
        from .registry.push import push

        return push(self, ref, dest, options)

    def ensure(self, ref: str, policy: str | None = "missing", options: Any = None
               ) -> dict[str, Any]:
        """The image ``ref`` names, pulled first as the pull policy says (always, missing,
        never, newer; Kubernetes' and compose's spellings too)."""
        from .registry.policy import ensure

        return ensure(self, ref, policy, options)
