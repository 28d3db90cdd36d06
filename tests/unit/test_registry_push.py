"""Push's layer stream: gzip on the fly in upload-sized chunks, the same digest every time."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

from podium.engine.registry.progress import Progress
from podium.engine.registry.push import _Compressed, destination


def test_compressed_chunks_are_deterministic_and_gunzip(tmp_path: Path) -> None:
    f = tmp_path / "layer.tar"
    data = os.urandom(300_000) + b"\0" * 700_000
    f.write_bytes(data)
    one = _Compressed(f, 64 << 10, "gzip", Progress(), "x")
    chunks = list(one.chunks())
    assert len(chunks) > 2 and all(len(c) == 64 << 10 for c in chunks[:-1])
    blob = b"".join(chunks)
    assert gzip.decompress(blob) == data
    assert one.digest() == "sha256:" + hashlib.sha256(blob).hexdigest() and one.size == len(blob)
    two = _Compressed(f, 1 << 20, "gzip", Progress(), "x")
    assert b"".join(two.chunks()) == blob and two.digest() == one.digest()
    plain = _Compressed(f, 1 << 20, "none", Progress(), "x")
    assert b"".join(plain.chunks()) == data


def test_destination_defaults_to_the_name_looked_up() -> None:
    img = {"id": "a" * 64, "names": ["r.io/x:1", "r.io/y:2"]}
    assert str(destination(img, "r.io/y:2", None)) == "r.io/y:2"
    assert str(destination(img, None, "docker://q.io/z")) == "q.io/z:latest"
    import pytest
    from podium.engine.errors import ConfigError
    with pytest.raises(ConfigError, match="cannot push to a digest"):
        destination(img, None, "q.io/z@sha256:" + "b" * 64)
    with pytest.raises(ConfigError, match="has no name"):
        destination({"id": "a" * 64, "names": []}, None, None)
    with pytest.raises(ConfigError, match="not a fully qualified"):
        destination(img, None, "short")
