"""Manifests as registries serve them: schema2 and OCI, single images and lists, and platforms.

Pure functions over parsed JSON: which media types podium reads, the choice of
one manifest out of a manifest list / OCI index for a platform (os, arch,
variant, as ``--platform``/``--arch``/``--os``/``--variant`` give them, else
this host's), and the checks that keep a hostile manifest from steering the
pull (sizes, digests, layer counts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import ConfigError
from ..storage.imagearchive import host_platform
from .errors import RegistryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.v1+prettyjws")

MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP = MT_OCI_LAYER + "+gzip"
MT_OCI_LAYER_ZSTD = MT_OCI_LAYER + "+zstd"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

IMAGE_TYPES = (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST)
LIST_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
ACCEPT = ", ".join((MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST))

# layer media type -> compression ("" is an uncompressed tar)
LAYER_TYPES = {
    MT_OCI_LAYER: "", MT_OCI_LAYER_GZIP: "gzip", MT_OCI_LAYER_ZSTD: "zstd",
    MT_DOCKER_LAYER: "gzip", MT_DOCKER_FOREIGN: "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
}
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 16 << 20


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386",
                 "i686": "386", "armhf": "arm", "armel": "arm"}


def platform(spec: str | None = None, *, os: str | None = None, arch: str | None = None,
             variant: str | None = None) -> Platform:
    """``--platform os/arch[/variant]`` and ``--os/--arch/--variant`` over this host's defaults."""
    host_arch, host_variant = host_platform()
    p_os, p_arch, p_var = "linux", host_arch, host_variant
    if spec:
        parts = spec.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError(f"invalid platform {spec!r}: expected OS/ARCH[/VARIANT], "
                              "such as linux/arm64")
        p_os, p_arch = parts[0], parts[1]
        p_var = parts[2] if len(parts) == 3 else None
    if os:
        p_os = os
    if arch:
        p_arch = arch
        if not spec and not variant:
            p_var = None
    if variant:
        p_var = variant
    p_arch = _ARCH_ALIASES.get(p_arch, p_arch)
    if p_arch == "arm64" and p_var == "v8":
        p_var = None  # arm64's only variant; images often omit it
    return Platform(p_os, p_arch, p_var)


def parse(data: bytes, media_type: str, what: str) -> dict[str, Any]:
    """A manifest's JSON, with its media type settled (header, else the document's field)."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise RegistryError(f"{what}: the registry sent a manifest that is not JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what}: the registry sent a manifest that is not a JSON object")
    mt = doc.get("mediaType") or media_type.split(";")[0].strip()
    if not mt or mt in ("application/json", "text/plain"):
        mt = MT_OCI_INDEX if "manifests" in doc else MT_OCI_MANIFEST
    if mt in MT_DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise RegistryError(f"{what}: Docker schema 1 manifests are not supported (push the "
                            "image again with a current client)")
    if mt not in IMAGE_TYPES + LIST_TYPES:
        raise RegistryError(f"{what}: unsupported manifest type {mt!r}")
    doc["mediaType"] = mt
    return doc


def _desc_platform(d: dict[str, Any]) -> Platform | None:
    p = d.get("platform")
    if not isinstance(p, dict) or not p.get("architecture"):
        return None
    arch = _ARCH_ALIASES.get(p["architecture"], p["architecture"])
    var = p.get("variant") or None
    if arch == "arm64" and var == "v8":
        var = None
    return Platform(p.get("os") or "linux", arch, var)


def choose(index: dict[str, Any], want: Platform, what: str) -> dict[str, Any]:
    """The descriptor of ``index`` for ``want``: exact variant first, then any variant.

    An arm/v7 host takes arm/v6 images too would be a guess; podium is strict:
    the variant must match when one is asked for, and otherwise the first
    entry of that os/arch wins (the order the index gives, as Podman does).
    """
    exact, loose = None, None
    offered = []
    for d in index.get("manifests") or []:
        if not isinstance(d, dict) or d.get("mediaType") not in IMAGE_TYPES + (None,):
            continue
        p = _desc_platform(d)
        if p is None:
            continue
        offered.append(str(p))
        if p.os != want.os or p.architecture != want.architecture:
            continue
        if p.variant == want.variant and exact is None:
            exact = d
        if loose is None:
            loose = d
    pick = exact or (loose if want.variant is None else None)
    if pick is None:
        raise RegistryError(f"{what}: no image for platform {want} in the manifest list "
                            f"(it offers {', '.join(offered) or 'nothing usable'})")
    check_descriptor(pick, what)
    return pick


def check_descriptor(d: Any, what: str) -> None:
    import re

    if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or \
            not re.fullmatch(r"sha256:[0-9a-f]{64}", d["digest"]):
        raise RegistryError(f"{what}: a descriptor has no valid sha256 digest")
    size = d.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryError(f"{what}: descriptor {d['digest'][:19]} has no valid size")


def layers(manifest: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """The layer descriptors of an image manifest, each checked and of a known type."""
    out = []
    cfg = manifest.get("config")
    check_descriptor(cfg, what + " (config)")
    if cfg["size"] > MAX_CONFIG:
        raise RegistryError(f"{what}: image config of {cfg['size']} bytes is implausibly large")
    for d in manifest.get("layers") or []:
        check_descriptor(d, what)
        mt = d.get("mediaType") or MT_OCI_LAYER_GZIP
        if mt not in LAYER_TYPES:
            raise RegistryError(f"{what}: layer {d['digest'][:19]} has unsupported media type "
                                f"{mt!r}")
        out.append(d)
    return out
