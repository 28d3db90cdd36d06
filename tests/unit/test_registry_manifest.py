"""Manifest parsing, platform choice from manifest lists, pull policies, progress output,
and the pull's verifying blob reader."""

from __future__ import annotations

import hashlib
import io
import json
import threading

import pytest

from podium.engine.errors import ConfigError, ImageNotFound
from podium.engine.registry import manifest as mf
from podium.engine.registry import policy
from podium.engine.registry.errors import DigestMismatch, RegistryError
from podium.engine.registry.progress import Progress
from podium.engine.registry.pull import _BlobReader

D = "sha256:" + "a" * 64


def desc(arch: str, variant: str | None = None, digest: str = D, os: str = "linux") -> dict:
    p = {"os": os, "architecture": arch}
    if variant:
        p["variant"] = variant
    return {"mediaType": mf.MT_OCI_MANIFEST, "digest": digest, "size": 10, "platform": p}


def test_platform_flags() -> None:
    host = mf.platform()
    assert host.os == "linux" and host.architecture
    assert mf.platform("linux/arm64") == mf.Platform("linux", "arm64")
    assert mf.platform("linux/arm64/v8") == mf.Platform("linux", "arm64")
    assert mf.platform("linux/arm/v7") == mf.Platform("linux", "arm", "v7")
    assert mf.platform(arch="aarch64") == mf.Platform("linux", "arm64")
    assert mf.platform(arch="arm", variant="v6") == mf.Platform("linux", "arm", "v6")
    assert mf.platform("linux/amd64", arch="s390x") == mf.Platform("linux", "s390x")
    for bad in ("linux", "linux/", "a/b/c/d"):
        with pytest.raises(ConfigError, match="expected OS/ARCH"):
            mf.platform(bad)


def test_choose_from_an_index() -> None:
    d1, d2, d3, d4 = ("sha256:" + c * 64 for c in "1234")
    index = {"manifests": [desc("arm", "v6", d1), desc("arm", "v7", d2), desc("amd64", None, d3),
                           desc("arm64", "v8", d4), {"mediaType": "x", "digest": D, "size": 1}]}
    assert mf.choose(index, mf.Platform("linux", "amd64"), "t")["digest"] == d3
    assert mf.choose(index, mf.Platform("linux", "arm", "v7"), "t")["digest"] == d2
    assert mf.choose(index, mf.Platform("linux", "arm"), "t")["digest"] == d1
    assert mf.choose(index, mf.Platform("linux", "arm64"), "t")["digest"] == d4
    with pytest.raises(RegistryError, match=r"no image for platform linux/arm/v5 .*offers "
                                            r"linux/arm/v6, linux/arm/v7, linux/amd64, linux/arm64"):
        mf.choose(index, mf.Platform("linux", "arm", "v5"), "t")
    with pytest.raises(RegistryError, match="no image for platform windows/amd64"):
        mf.choose(index, mf.Platform("windows", "amd64"), "t")


def test_parse_settles_media_types_and_refuses_schema1() -> None:
    doc = mf.parse(json.dumps({"schemaVersion": 2, "manifests": []}).encode(), "", "t")
    assert doc["mediaType"] == mf.MT_OCI_INDEX
    doc = mf.parse(b'{"schemaVersion": 2, "config": {}}', mf.MT_DOCKER_MANIFEST + "; x", "t")
    assert doc["mediaType"] == mf.MT_DOCKER_MANIFEST
    with pytest.raises(RegistryError, match="schema 1"):
        mf.parse(b'{"schemaVersion": 1}', "application/json", "t")
    with pytest.raises(RegistryError, match="not JSON"):
        mf.parse(b"<html>", "text/html", "t")
    with pytest.raises(RegistryError, match="unsupported manifest type"):
        mf.parse(b'{"mediaType": "application/x-foo"}', "", "t")


def test_layers_are_checked() -> None:
    good = {"config": {"digest": D, "size": 5},
            "layers": [{"mediaType": mf.MT_OCI_LAYER_ZSTD, "digest": D, "size": 3}]}
    assert mf.layers(good, "t") == good["layers"]
    for bad, msg in [({"config": {"digest": "sha256:zz", "size": 1}}, "no valid sha256"),
                     ({"config": {"digest": D, "size": -1}}, "no valid size"),
                     ({"config": {"digest": D, "size": 1 << 30}}, "implausibly large"),
                     ({"config": {"digest": D, "size": 1},
                       "layers": [{"mediaType": "application/x-tar+lz4", "digest": D, "size": 1}]},
                      "unsupported media type")]:
        with pytest.raises(RegistryError, match=msg):
            mf.layers(bad, "t")


# ---- pull policies --------------------------------------------------------------------------

@pytest.mark.parametrize("given, want", [
    (None, "missing"), ("Always", "always"), ("IfNotPresent", "missing"), ("Never", "never"),
    ("if_not_present", "missing"), ("build", "missing"), ("daily", "newer"), ("every_12h", "newer"),
    ("newer", "newer")])
def test_policy_spellings(given: str | None, want: str) -> None:
    assert policy.normalize(given) == want


def test_bad_policy() -> None:
    with pytest.raises(ConfigError, match="invalid pull policy 'sometimes'"):
        policy.normalize("sometimes")


class FakeImages:
    def __init__(self, present: dict[str, dict]) -> None:
        self.present = present

    def resolve(self, ref: str) -> dict:
        if ref not in self.present:
            raise ImageNotFound(f"{ref}: image not known")
        return self.present[ref]


def test_ensure_decides_when_to_pull(monkeypatch: pytest.MonkeyPatch) -> None:
    from podium.engine.registry import pull as pull_mod
    pulled: list[str] = []
    remote = {"digest": "sha256:new"}

    def fake_pull(ims, ref, opts=None):  # noqa: ANN001, ANN202
        pulled.append(ref)
        return {"id": "pulled", "digest": remote["digest"]}

    def fake_remote(ref, opts):  # noqa: ANN001, ANN202
        if remote["digest"] == "down":
            raise RegistryError("registry down")
        return remote["digest"]

    monkeypatch.setattr(pull_mod, "pull", fake_pull)
    monkeypatch.setattr(pull_mod, "remote_digest", fake_remote)
    local = {"id": "local", "digest": "sha256:old"}
    ims = FakeImages({"r.io/x:1": local})
    assert policy.ensure(ims, "r.io/x:1", "missing") is local and pulled == []
    assert policy.ensure(ims, "r.io/x:1", "never") is local
    assert policy.ensure(ims, "r.io/x:1", "always")["id"] == "pulled" and pulled == ["r.io/x:1"]
    assert policy.ensure(ims, "r.io/x:1", "newer")["id"] == "pulled"  # digests differ
    remote["digest"] = "sha256:old"
    assert policy.ensure(ims, "r.io/x:1", "newer") is local
    remote["digest"] = "down"
    assert policy.ensure(ims, "r.io/x:1", "newer") is local  # registry unreachable: local it is
    assert policy.ensure(ims, "r.io/y:1", "missing")["id"] == "pulled"
    with pytest.raises(ImageNotFound, match="pull policy is never"):
        policy.ensure(ims, "r.io/y:1", "never")
    n = len(pulled)
    for local_only in ("localhost/mine:1", "sha256:" + "b" * 64):
        with pytest.raises(ImageNotFound, match="image not known"):
            policy.ensure(ims, local_only, "missing")
    assert len(pulled) == n


# ---- progress -------------------------------------------------------------------------------

def test_progress_plain_lines_in_a_pipe() -> None:
    out = io.StringIO()
    p = Progress(out)
    p.status("Trying to pull r/x:1...")
    p.start("blob", D, 100)
    p.advance(D, 50)
    p.done("blob", D)
    p.done("blob", "sha256:" + "c" * 64, "skipped: already exists")
    assert out.getvalue() == ("Trying to pull r/x:1...\nCopying blob aaaaaaaaaaaa done\n"
                              "Copying blob cccccccccccc skipped: already exists\n")


def test_progress_live_display_redraws() -> None:
    out = io.StringIO()
    p = Progress(out, live=True)
    p.start("blob", D, 1000)
    p.advance(D, 500)
    p.done("blob", D)
    text = out.getvalue()
    assert "Copying blob aaaaaaaaaaaa [" in text and "/ 1.0kB" in text
    assert "\x1b[1A\x1b[J" in text  # the bar is erased before the final line
    assert text.endswith("Copying blob aaaaaaaaaaaa done\n")
    Progress().status("silent")  # no stream: nothing, no error


# ---- the verifying reader -------------------------------------------------------------------

def reader(data: bytes, *, digest: str | None = None, size: int | None = None,
           chunk: int = 7) -> _BlobReader:
    d = {"digest": digest or "sha256:" + hashlib.sha256(data).hexdigest(),
         "size": len(data) if size is None else size}
    chunks = iter([data[i:i + chunk] for i in range(0, len(data), chunk)])
    return _BlobReader(chunks, d, "blob", Progress(), threading.Event())


def test_blob_reader_hands_out_exactly_the_stream() -> None:
    data = bytes(range(256)) * 3
    r = reader(data)
    got = r.read(5) + r.read(100) + r.read(-1)
    assert got == data and r.eof and r.read(10) == b""


def test_blob_reader_refuses_wrong_content_and_size() -> None:
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        reader(b"x" * 50, digest="sha256:" + "0" * 64).read(-1)
    with pytest.raises(DigestMismatch, match="more than the 10 bytes"):
        reader(b"x" * 50, size=10).read(-1)
    with pytest.raises(DigestMismatch):
        reader(b"x" * 50, size=60).drain()
    r = reader(b"x" * 50)
    r.stop.set()
    with pytest.raises(RegistryError, match="cancelled"):
        r.read(1)
