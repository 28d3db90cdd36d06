"""The whole pull on a real (temporary) image store against an in-process registry:
a connection dropped mid-blob is retried, a persistent failure or a wrong digest stores nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from podium.engine.images import ImageStore
from podium.engine.paths import Paths
import podium.engine.registry.pull as pull_mod
from podium.engine.registry.client import RegistryClient
from podium.engine.registry.config import RegistriesConf
from podium.engine.registry.errors import DigestMismatch, RegistryError
from podium.engine.state.store import Store
from tests.registry_server import layer_tar


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Flaky:
    """Serves one image; the layer blob's first ``drops`` responses die halfway."""

    def __init__(self, drops: int, *, corrupt: bool = False) -> None:
        raw = layer_tar({"etc/hello": b"hi\n" * 5000})
        self.layer = gzip.compress(raw, mtime=0)
        self.served = bytearray(self.layer)
        if corrupt:
            self.served[100] ^= 0xFF
        self.config = json.dumps({"architecture": "amd64", "os": "linux",
                                  "rootfs": {"type": "layers", "diff_ids": [sha(raw)]}}).encode()
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(self.config), "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha(self.layer), "size": len(self.layer)}]}).encode()
        self.drops = drops
        self.blob_gets = 0

    def __call__(self, req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if path == "/v2/":
            return httpx.Response(200)
        if path.endswith("/manifests/1"):
            return httpx.Response(200, content=self.manifest,
                                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if path.endswith(sha(self.config)):
            return httpx.Response(200, content=self.config)
        if path.endswith(sha(self.layer)):
            self.blob_gets += 1
            data = bytes(self.served)
            if self.blob_gets <= self.drops:
                def dying():  # noqa: ANN202
                    yield data[: len(data) // 2]
                    raise httpx.ReadError("peer closed connection")
                return httpx.Response(200, content=dying())
            return httpx.Response(200, content=data)
        return httpx.Response(404)


@pytest.fixture
def ims(tmp_path: Path) -> ImageStore:
    paths = Paths(str(tmp_path / "root"), str(tmp_path / "run"))
    paths.ensure()
    store = Store(paths.db)
    yield ImageStore(paths, store)
    store.close()


def run_pull(ims: ImageStore, fake: Flaky, monkeypatch: pytest.MonkeyPatch) -> dict:
    real = RegistryClient

    def with_fake(host: str, **kw):  # noqa: ANN003, ANN202
        return real(host, transport=httpx.MockTransport(fake), **kw)

    monkeypatch.setattr(pull_mod, "RegistryClient", with_fake)
    monkeypatch.setattr("podium.engine.registry.pull.auth.lookup", lambda *a, **k: None)
    opts = pull_mod.PullOptions(registries=RegistriesConf())
    return pull_mod.pull(ims, "reg.fake/x:1", opts)


def state(ims: ImageStore) -> tuple:
    return (sorted(p.name for p in ims.paths.layers.iterdir()),
            sorted(p.name for p in ims.paths.blobs.iterdir()),
            sorted(p.name for p in ims.paths.tmp.iterdir()), ims.list())


def test_a_dropped_connection_is_retried(ims: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Flaky(drops=1)
    img = run_pull(ims, fake, monkeypatch)
    assert fake.blob_gets == 2
    assert img["names"] == ["reg.fake/x:1"] and img["digest"] == sha(fake.manifest)
    layer = ims.layer_dirs(img)[0]
    assert (layer / "etc" / "hello").read_bytes() == b"hi\n" * 5000
    assert sorted(p.name for p in ims.paths.tmp.iterdir()) == []


def test_persistent_drops_and_wrong_digests_store_nothing(ims: ImageStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = state(ims)
    with pytest.raises(RegistryError, match="connection lost after"):
        run_pull(ims, Flaky(drops=10), monkeypatch)
    assert state(ims) == before
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        run_pull(ims, Flaky(drops=0, corrupt=True), monkeypatch)
    assert state(ims) == before
