"""``podium push``: a local image to a registry, uploading only what the registry lacks.

For each layer podium first tries what it already knows (the compressed
descriptors the image was pulled with, and those in ``blobinfo``): a blob the
destination repository has is skipped, one another repository of the same
registry has is cross-repository mounted (``POST .../uploads/?mount=&from=``).
Otherwise the stored uncompressed tar is gzip-compressed on the fly (zlib,
fixed header: the same layer always compresses to the same digest) and sent
as a chunked upload: PATCH requests with Content-Range, then a PUT naming the
digest computed along the way, so no compressed copy is ever written to disk.
Then the config blob, and last an OCI image manifest: a registry never holds a
manifest whose blobs are missing.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field

from ..errors import ConfigError, StoreError
from ..images import diff_ids as image_diff_ids
from . import blobinfo, manifest as mf
from .client import RegistryClient
from .config import RegistriesConf
from .progress import Progress
from .pull import PullOptions, client_for, conf_of
from .reference import Reference, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Iterator

    from ..images import ImageStore

CHUNK_SIZE = 8 << 20
_TO_OCI = {mf.MT_DOCKER_LAYER: mf.MT_OCI_LAYER_GZIP, mf.MT_DOCKER_FOREIGN: mf.MT_OCI_LAYER_GZIP}
COMPRESSIONS = ("gzip", "none")


@dataclass
class PushOptions:
    tls_verify: bool | None = None
    authfile: str | None = None
    credentials: tuple[str, str] | None = None
    progress: Progress = field(default_factory=Progress)
    registries: RegistriesConf | None = None
    chunk_size: int = CHUNK_SIZE
    compression: str = "gzip"


def destination(img: dict[str, Any], matched: str | None, dest: str | None) -> Reference:
    """Where to push: ``dest`` if given, else the name the image was looked up by."""
    target = dest or matched or next((n for n in img["names"] if "@" not in n), None)
    if not target:
        raise ConfigError(f"image {img['id'][:12]} has no name: give a destination "
                          "(podium push IMAGE REGISTRY/NAME[:TAG])")
    if target.startswith("docker://"):
        target = target[len("docker://"):]
    ref = parse(target)
    if ref.digest:
        raise ConfigError(f"{target}: cannot push to a digest; name a tag")
    return ref


def push(ims: ImageStore, source: str, dest: str | None = None,
         opts: PushOptions | None = None) -> str:
    """Push the image ``source`` names to ``dest``; returns the manifest digest."""
    opts = opts or PushOptions()
    if opts.compression not in COMPRESSIONS:
        raise ConfigError(f"unknown compression {opts.compression!r}: use one of "
                          + ", ".join(COMPRESSIONS))
    img, matched = ims.lookup(source)
    ref = destination(img, matched, dest)
    popts = PullOptions(tls_verify=opts.tls_verify, authfile=opts.authfile,
                        credentials=opts.credentials, registries=opts.registries)
    conf = conf_of(popts)
    entry = conf.entry_for(ref)
    if entry is not None and entry.blocked:
        raise ConfigError(f"registry {entry.prefix} is blocked in {conf.where()}")
    prog = opts.progress
    config = ims.config_bytes(img)
    dids = image_diff_ids(img)
    with client_for(ref, insecure=bool(entry and entry.insecure), opts=popts) as client:
        prog.status("Getting image source signatures")
        descs = [_push_layer(ims, client, ref, img, i, d, opts) for i, d in enumerate(dids)]
        cdesc = {"mediaType": mf.MT_OCI_CONFIG, "digest": "sha256:" + img["id"],
                 "size": len(config)}
        if client.has_blob(ref.path, cdesc["digest"]):
            prog.done("config", cdesc["digest"], "skipped: already exists")
        else:
            loc = client.start_upload(ref.path)
            client.upload(ref.path, loc, [config], lambda: cdesc["digest"])
            prog.done("config", cdesc["digest"])
        import json

        manifest = {"schemaVersion": 2, "mediaType": mf.MT_OCI_MANIFEST, "config": cdesc,
                    "layers": descs}
        ann = (img.get("manifest") or {}).get("annotations")
        if ann:
            manifest["annotations"] = ann
        data = json.dumps(manifest, separators=(",", ":")).encode()
        prog.status("Writing manifest to image destination")
        digest = client.put_manifest(ref.path, ref.tag or "latest", data, mf.MT_OCI_MANIFEST)
    for d, desc in zip(dids, descs):
        blobinfo.remember(ims.paths, d, desc, ref.repo)
    ims.events.record("image", "push", "sha256:" + img["id"], str(ref))
    prog.close()
    return digest


def _known(ims: ImageStore, img: dict[str, Any], i: int, diff_id: str) -> list[dict[str, Any]]:
    """Compressed descriptors of layer ``i`` podium has seen, with the repos that hold them."""
    out: list[dict[str, Any]] = []
    layers = (img.get("manifest") or {}).get("layers") or []
    names = [n.partition("@")[0].rsplit(":", 1)[0] if n.rfind(":") > n.rfind("/") else
             n.partition("@")[0] for n in img["names"]]
    if len(layers) == len(image_diff_ids(img)) and layers[i].get("digest") != diff_id:
        d = layers[i]
        out.append({"digest": d["digest"], "size": d["size"],
                    "mediaType": d.get("mediaType", mf.MT_OCI_LAYER_GZIP), "repos": names})
    for e in blobinfo.known(ims.paths, diff_id):
        if all(e["digest"] != o["digest"] for o in out):
            out.append(e)
    return out


def _push_layer(ims: ImageStore, client: RegistryClient, ref: Reference, img: dict[str, Any],
                i: int, diff_id: str, opts: PushOptions) -> dict[str, Any]:
    prog = opts.progress
    upload_at: str | None = None
    for k in _known(ims, img, i, diff_id):
        desc = {"mediaType": _TO_OCI.get(k["mediaType"], k["mediaType"]) or mf.MT_OCI_LAYER_GZIP,
                "digest": k["digest"], "size": k["size"]}
        if desc["mediaType"] not in mf.LAYER_TYPES:
            continue
        if client.has_blob(ref.path, desc["digest"]):
            prog.done("blob", desc["digest"], "skipped: already exists")
            return desc
        for repo in k.get("repos") or []:
            domain, _, path = repo.partition("/")
            if domain != ref.domain or path == ref.path or not path:
                continue
            loc = client.mount_blob(ref.path, desc["digest"], path)
            if loc is None:
                prog.done("blob", desc["digest"], f"mounted from {path}")
                return desc
            upload_at = upload_at or loc
    blob = ims.paths.blob(diff_id)
    if not blob.is_file():
        raise StoreError(f"image {img['id'][:12]}: layer blob {diff_id[:19]} is missing")
    size = blob.stat().st_size
    if opts.compression == "none":
        desc = {"mediaType": mf.MT_OCI_LAYER, "digest": diff_id, "size": size}
        if client.has_blob(ref.path, diff_id):
            prog.done("blob", diff_id, "skipped: already exists")
            return desc
    sink = _Compressed(blob, opts.chunk_size, opts.compression, prog, diff_id)
    prog.start("blob", diff_id, size)
    loc = upload_at or client.start_upload(ref.path)
    digest = client.upload(ref.path, loc, sink.chunks(), sink.digest)
    prog.done("blob", diff_id)
    mt = mf.MT_OCI_LAYER_GZIP if opts.compression == "gzip" else mf.MT_OCI_LAYER
    return {"mediaType": mt, "digest": digest, "size": sink.size}


class _Compressed:
    """The layer's tar, gzip-compressed as it is read, in upload-sized chunks, hashed."""

    def __init__(self, path: Path, chunk_size: int, compression: str, prog: Progress,
                 label: str) -> None:
        self.path, self.chunk_size, self.compression = path, chunk_size, compression
        self.prog, self.label = prog, label
        self.sha = hashlib.sha256()
        self.size = 0

    def chunks(self) -> Iterator[bytes]:
        comp = zlib.compressobj(6, zlib.DEFLATED, 31) if self.compression == "gzip" else None
        pending = bytearray()
        with open(self.path, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data:
                    break
                self.prog.advance(self.label, len(data))
                pending += comp.compress(data) if comp else data
                while len(pending) >= self.chunk_size:
                    yield self._take(pending, self.chunk_size)
        if comp:
            pending += comp.flush()
        while pending:
            yield self._take(pending, min(self.chunk_size, len(pending)))

    def _take(self, pending: bytearray, n: int) -> bytes:
        out = bytes(pending[:n])
        del pending[:n]
        self.sha.update(out)
        self.size += len(out)
        return out

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()
