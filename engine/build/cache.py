"""The build cache: a step's key -> the layer (or image) it produced, kept as files.

One small JSON file per entry under ROOT/build-cache/ (no schema migration:
the store's tables stay as they are). A key is the SHA-256 of everything a
step's result depends on: the layers below it (their digests, so a rebuilt
parent can never be paired with a stale child), a running digest of the
instructions before it (after substitution: ENV, WORKDIR, USER, ARG values...),
the step's own instruction text and the digest of its inputs (for COPY/ADD
the files' names, types, modes, owners and bytes). An entry is used only if
the layer (or image) it names is still in the store: removing an image
silently invalidates the entries that pointed into it.
"""

from __future__ import annotations

import hashlib
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine import Engine


def key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


class Cache:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.dir = engine.paths.root / "build-cache"

    def _path(self, k: str) -> str:
        return os.path.join(self.dir, k[:2], k + ".json")

    def get(self, k: str) -> dict[str, Any] | None:
        try:
            with open(self._path(k), encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        if entry.get("empty"):
            return entry  # the step changed nothing (a WORKDIR that existed)
        if "layer" in entry:
            from ..image_io import _layer_present

            return entry if _layer_present(self.engine.images, entry["layer"]) else None
        if "image" in entry:
            return entry if self.engine.store.image(entry["image"]) is not None else None
        return None

    def put(self, k: str, entry: dict[str, Any]) -> None:
        path = self._path(k)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(tmp, path)


def prune(engine: "Engine", *, older_than_s: float = 3600.0) -> list[str]:
    """Drop the build cache: layers no image uses, stored more than ``older_than_s`` ago
    (younger ones may belong to a build still running), and the entries that named them
    or a removed image. Returns the layer digests removed. For ``image prune``-style
    commands; a build never calls it."""
    import shutil
    import tempfile
    import time
    from pathlib import Path

    from ..images import diff_ids
    from ..timeutil import parse_iso

    store, paths = engine.store, engine.paths
    paths.ensure()
    trash = Path(tempfile.mkdtemp(prefix="prune-", dir=paths.tmp))
    gone: list[str] = []
    try:
        with store.write():
            used = {d for img in store.images() for d in diff_ids(img)}
            cutoff = time.time() - older_than_s
            for row in store.query("SELECT diff_id, created FROM layers"):
                d = row[0]
                if d in used:
                    continue
                try:
                    if parse_iso(row[1]) > cutoff:
                        continue
                except ValueError:
                    continue
                store.delete_layer(d)
                for i, p in enumerate((paths.layer(d), paths.blob(d))):
                    if os.path.lexists(p):
                        os.rename(p, trash / f"{len(gone)}-{i}")
                gone.append(d)
        cache = Cache(engine)
        for dirpath, _dirs, files in os.walk(cache.dir):
            for f in files:
                k = f[:-5] if f.endswith(".json") else ""
                if k and cache.get(k) is None:
                    os.unlink(os.path.join(dirpath, f))
    finally:
        shutil.rmtree(trash, ignore_errors=True)
    return gone
