"""A pulled image into the local store, all or nothing, laid out as ``podium load`` lays it.

The layers were unpacked and their uncompressed tars copied into a staging
directory under ROOT/tmp by the pull; here, inside one store transaction,
they are renamed into ROOT/layers/<diff_id> and ROOT/blobs/sha256/<diff_id>,
the config and the registry's manifest are written as blobs, and the rows
inserted. Unlike a load, the image keeps the registry's manifest and its
digest (Podman's RepoDigests, ``@sha256:`` look-ups, the ``newer`` pull
policy), whose layer descriptors name the compressed blobs the registry holds.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import StoreError
from ..image_io import _layer_present, _now, _place, _rmtree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..images import ImageStore


def layer_present(ims: ImageStore, diff_id: str) -> bool:
    return _layer_present(ims, diff_id)


def commit(ims: ImageStore, *, config: bytes, manifest: bytes, digest: str,
           layers: list[tuple[str, int]], fresh: dict[str, tuple[Path, Path, int]],
           names: list[str], staging: Path) -> dict[str, Any]:
    """Place staged layers and blobs, insert rows, record a ``pull`` event; undo on failure."""
    import hashlib

    cid = hashlib.sha256(config).hexdigest()
    now = _now()
    cfile, mfile = staging / "config", staging / "manifest"
    cfile.write_bytes(config)
    mfile.write_bytes(manifest)
    placed: list[Path] = []
    try:
        with ims.store.write():
            for diff_id, (ldir, lblob, size) in fresh.items():
                _place(ldir, ims.paths.layer(diff_id), placed)
                _place(lblob, ims.paths.blob(diff_id), placed)
                ims.store.insert_layer(diff_id, size, now)
            for d, _ in layers:
                if d not in fresh and not _layer_present(ims, d):
                    raise StoreError(f"layer {d[:19]} was removed by another podium process "
                                     "while this one used it; try again")
            _place(cfile, ims.paths.blob(cid), placed)
            _place(mfile, ims.paths.blob(digest), placed)
            cfg = json.loads(config)
            ims.store.insert_image({
                "id": cid, "digest": digest, "created": cfg.get("created") or now,
                "size": sum(s for _, s in layers), "manifest": json.loads(manifest),
                "config": cfg})
            for name in names:
                ims.store.tag_image(name, cid)
            ims.events.record("image", "pull", "sha256:" + cid, names[0] if names else "")
    except BaseException:
        for path in reversed(placed):
            _rmtree(path)
        raise
    img = ims.store.image(cid)
    if img is None:
        raise StoreError(f"image {cid[:12]} vanished right after the pull")
    return img
