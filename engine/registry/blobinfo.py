"""What podium knows about the compressed forms of its layers, and where they live.

The store keeps each layer uncompressed (ROOT/blobs/sha256/<diff_id>); a
registry holds it compressed under another digest. To push without
re-uploading what a registry already has — or can mount from another of its
repositories — podium remembers, per diff_id, the compressed descriptors it
has pulled or pushed and the repositories they were seen in, in
ROOT/registry/blobinfo/<diff_id hex>.json. It is a cache: losing it costs an
upload, never correctness (every reuse is checked with the registry first).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..paths import Paths

MAX_REPOS = 16


def _path(paths: Paths, diff_id: str) -> Path:
    return paths.root / "registry" / "blobinfo" / (diff_id.split(":", 1)[-1] + ".json")


def known(paths: Paths, diff_id: str) -> list[dict[str, Any]]:
    """Descriptors {digest, size, mediaType, repos: [domain/path, ...]} seen for a layer."""
    try:
        data = json.loads(_path(paths, diff_id).read_text())
    except (OSError, ValueError):
        return []
    return [d for d in data if isinstance(d, dict) and "digest" in d] \
        if isinstance(data, list) else []


def remember(paths: Paths, diff_id: str, desc: dict[str, Any], repo: str) -> None:
    """Note that ``repo`` holds ``desc`` (compressed form of ``diff_id``); best effort."""
    if desc.get("digest") == diff_id:
        return
    entries = known(paths, diff_id)
    for e in entries:
        if e["digest"] == desc["digest"]:
            repos = [r for r in e.get("repos") or [] if r != repo]
            e["repos"] = ([repo] + repos)[:MAX_REPOS]
            break
    else:
        entries.append({"digest": desc["digest"], "size": desc["size"],
                        "mediaType": desc.get("mediaType", ""), "repos": [repo]})
    path = _path(paths, diff_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, path)
    except OSError:
        pass
