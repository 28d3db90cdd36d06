"""The layer cache's files: keys are stable, an entry counts only while its layer or image
is still in the store, and a step that changed nothing is remembered too."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from podium.engine.build import cache as cachemod
from podium.engine.engine import Engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(root=str(tmp_path / "root"), runroot=str(tmp_path / "run"))
    yield eng
    eng.close()


def test_keys_are_stable_and_order_sensitive() -> None:
    assert cachemod.key("a", ["x"], {"b": 1, "a": 2}) == cachemod.key("a", ["x"], {"a": 2, "b": 1})
    assert cachemod.key("a", "b") != cachemod.key("b", "a")


def test_entries_need_their_layer(engine: Engine) -> None:
    c = cachemod.Cache(engine)
    k = cachemod.key("step")
    assert c.get(k) is None
    c.put(k, {"layer": "sha256:" + "0" * 64, "size": 1})
    assert c.get(k) is None                      # the layer is not in the store
    diff_id = "sha256:" + "1" * 64
    engine.paths.layer(diff_id).mkdir(parents=True)
    engine.paths.blob(diff_id).parent.mkdir(parents=True, exist_ok=True)
    engine.paths.blob(diff_id).write_bytes(b"")
    with engine.store.write():
        engine.store.insert_layer(diff_id, 0, "now")
    c.put(k, {"layer": diff_id, "size": 0})
    assert c.get(k) == {"layer": diff_id, "size": 0}
    c.put(k, {"empty": True})
    assert c.get(k) == {"empty": True}
    c.put(k, {"image": "f" * 64})
    assert c.get(k) is None                      # no such image
    (Path(c._path(k))).write_text("{not json")
    assert c.get(k) is None                      # a torn file is a miss, not an error


def test_prune_keeps_what_images_use(engine: Engine) -> None:
    def layer(n: str, created: str) -> str:
        d = "sha256:" + n * 64
        engine.paths.layer(d).mkdir(parents=True)
        engine.paths.blob(d).parent.mkdir(parents=True, exist_ok=True)
        engine.paths.blob(d).write_bytes(b"")
        with engine.store.write():
            engine.store.insert_layer(d, 0, created)
        return d

    old, young, used = (layer("a", "2020-01-01T00:00:00Z"), layer("b", "2999-01-01T00:00:00Z"),
                        layer("c", "2020-01-01T00:00:00Z"))
    with engine.store.write():
        engine.store.insert_image({"id": "e" * 64, "digest": "sha256:" + "e" * 64,
                                   "created": "2020-01-01T00:00:00Z", "size": 0, "manifest": {},
                                   "config": {"rootfs": {"diff_ids": [used]}}})
    c = cachemod.Cache(engine)
    c.put("k1", {"layer": old, "size": 0})
    c.put("k2", {"layer": young, "size": 0})
    assert cachemod.prune(engine) == [old]
    assert not engine.paths.layer(old).exists() and not engine.store.has_layer(old)
    assert engine.store.has_layer(young) and engine.store.has_layer(used)
    assert c.get("k1") is None and not Path(c._path("k1")).exists()
    assert c.get("k2") is not None
