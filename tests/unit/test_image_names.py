"""Image names (Podman's normalization), --change parsing, and reference resolution."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from podium.engine.errors import ConfigError, ImageNotFound
from podium.engine.image_io import apply_changes
from podium.engine.images import (_DOMAIN_RE, _PATH_RE, _TAG_RE, DEFAULT_PATH, ImageStore,
                                  _domain_ok, _path_ok, _tag_ok, familiar_name, normalize_name)
from podium.engine.paths import Paths
from podium.engine.state.store import Store

D = "sha256:" + "ab" * 32

LOCAL = [
    ("busybox", "localhost/busybox:latest"),
    ("busybox:1.36", "localhost/busybox:1.36"),
    ("foo/bar", "localhost/foo/bar:latest"),
    ("localhost/foo", "localhost/foo:latest"),
    ("localhost/foo:v1", "localhost/foo:v1"),
    ("localhost:5000/foo", "localhost:5000/foo:latest"),
    ("quay.io/x/y", "quay.io/x/y:latest"),
    ("quay.io/x/y:1.0-rc_1", "quay.io/x/y:1.0-rc_1"),
    ("registry:5000/a/b/c", "registry:5000/a/b/c:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox:1", "docker.io/library/busybox:1"),
    ("index.docker.io/me/app", "docker.io/me/app:latest"),
    (f"quay.io/x/y@{D}", f"quay.io/x/y@{D}"),
    (f"busybox:1@{D}", f"localhost/busybox:1@{D}"),
    ("my-app_2.x", "localhost/my-app_2.x:latest"),
    ("  spaced  ", "localhost/spaced:latest"),
]

DOCKER = [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:latest", "docker.io/library/busybox:latest"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("me/x:1", "docker.io/me/x:1"),
    ("localhost/foo:latest", "localhost/foo:latest"),
    ("quay.io/a/b:c", "quay.io/a/b:c"),
]


@pytest.mark.parametrize("ref,expected", LOCAL)
def test_normalize_local(ref: str, expected: str) -> None:
    assert normalize_name(ref) == expected


@pytest.mark.parametrize("ref,expected", DOCKER)
def test_normalize_docker_archive_names(ref: str, expected: str) -> None:
    assert normalize_name(ref, default_domain="docker.io") == expected


@pytest.mark.parametrize("bad", ["", "BusyBox", "foo:", "a//b", "foo:bad tag", "x@sha256:zz",
                                 "-lead", "foo/", "x:" + "t" * 200, "foo/Bar", "a b"])
def test_normalize_rejects(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid image name"):
        normalize_name(bad)


@pytest.mark.parametrize("name,familiar", [
    ("docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/me/app:1", "me/app:1"),
    ("localhost/foo:latest", "localhost/foo:latest"),
    ("quay.io/x/y:z", "quay.io/x/y:z"),
])
def test_familiar_name(name: str, familiar: str) -> None:
    assert familiar_name(name) == familiar
    assert normalize_name(familiar, default_domain="docker.io") == name


# ---- --change -------------------------------------------------------------------------

CHANGES = [
    (['CMD ["sh", "-c", "echo hi"]'], {"Cmd": ["sh", "-c", "echo hi"]}),
    (["CMD sh -c 'echo hi'"], {"Cmd": ["/bin/sh", "-c", "sh -c 'echo hi'"]}),
    (['CMD=["top"]'], {"Cmd": ["top"]}),
    (["CMD=/bin/sh"], {"Cmd": ["/bin/sh", "-c", "/bin/sh"]}),
    (["cmd [not json"], {"Cmd": ["/bin/sh", "-c", "[not json"]}),
    (['ENTRYPOINT ["/bin/busybox"]', "CMD [\"sh\"]"],
     {"Entrypoint": ["/bin/busybox"], "Cmd": ["sh"]}),
    (["ENV A=1 B='two words'"], {"Env": [DEFAULT_PATH, "A=1", "B=two words"]}),
    (["ENV=A=1"], {"Env": [DEFAULT_PATH, "A=1"]}),
    (["ENV GREETING hello world"], {"Env": [DEFAULT_PATH, "GREETING=hello world"]}),
    (["ENV PATH=/bin"], {"Env": ["PATH=/bin"]}),
    (["ENV A=1", "ENV A=2"], {"Env": [DEFAULT_PATH, "A=2"]}),
    (["WORKDIR /srv", "WORKDIR app/../www"], {"WorkingDir": "/srv/www"}),
    (["USER www:33"], {"User": "www:33"}),
    (["EXPOSE 80 53/udp 8000-8001/TCP"],
     {"ExposedPorts": {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}}),
    (['LABEL a=b "c=d e"', "LABEL=x=y"], {"Labels": {"a": "b", "c": "d e", "x": "y"}}),
    (["STOPSIGNAL SIGINT"], {"StopSignal": "SIGINT"}),
    (["STOPSIGNAL term"], {"StopSignal": "term"}),
    (["STOPSIGNAL 9"], {"StopSignal": "9"}),
    (["VOLUME /data /logs"], {"Volumes": {"/data": {}, "/logs": {}}}),
    (['VOLUME ["/data"]'], {"Volumes": {"/data": {}}}),
]


@pytest.mark.parametrize("changes,expected", CHANGES)
def test_apply_changes(changes: list[str], expected: dict) -> None:
    assert apply_changes({"Env": [DEFAULT_PATH]}, changes) == {"Env": [DEFAULT_PATH], **expected}


@pytest.mark.parametrize("bad,match", [
    ("FROM busybox", "unknown instruction FROM"),
    ("ONBUILD RUN x", "unknown instruction ONBUILD"),
    ("CMD", "expected 'INSTRUCTION value'"),
    ("CMD   ", "expected 'INSTRUCTION value'"),
    ("", "expected"),
    ("EXPOSE 99999", "out of range"),
    ("EXPOSE 80/icmp", "bad port"),
    ("STOPSIGNAL SIGNOPE", "unknown signal"),
    ("ENV A=1 B", "not KEY=VALUE"),
    ("ENV ONLYKEY", "KEY=VALUE"),
    ("LABEL 'unclosed", "quotation"),
])
def test_apply_changes_rejects(bad: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_changes({}, [bad])


# ---- resolution over a real (temporary) store ----------------------------------------

@pytest.fixture
def images(tmp_path: Path) -> Iterator[ImageStore]:
    paths = Paths(str(tmp_path / "root"), str(tmp_path / "run"))
    paths.root.mkdir()
    store = Store(paths.db)
    try:
        yield ImageStore(paths, store)
    finally:
        store.close()


def add(ims: ImageStore, seed: str, *names: str, digest: str = D) -> str:
    iid = hashlib.sha256(seed.encode()).hexdigest()
    with ims.store.write():
        ims.store.insert_image({"id": iid, "digest": digest, "created": seed, "size": 1,
                                "manifest": {}, "config": {"rootfs": {"diff_ids": []}}})
        for n in names:
            ims.store.tag_image(n, iid)
    return iid


def test_resolve_order(images: ImageStore) -> None:
    local = add(images, "a", "localhost/busybox:latest", "localhost/tools/sh:1")
    hub = add(images, "b", "docker.io/library/alpine:3", "docker.io/me/app:latest")
    quay = add(images, "c", "quay.io/x/only:latest")
    r = images.resolve
    assert r("busybox")["id"] == local
    assert r("localhost/busybox")["id"] == local
    assert r("localhost/busybox:latest")["id"] == local
    assert r("tools/sh:1")["id"] == local
    assert r("alpine:3")["id"] == hub
    assert r("library/alpine:3")["id"] == hub
    assert r("docker.io/alpine:3")["id"] == hub
    assert r("me/app")["id"] == hub
    assert r("only")["id"] == quay  # short name matched across registries
    assert r(local)["id"] == local
    assert r(local[:5])["id"] == local
    assert r("sha256:" + hub)["id"] == hub
    assert r("sha256:" + hub[:8])["id"] == hub
    assert r(f"localhost/busybox@{D}")["id"] == local
    assert images.lookup("busybox") == (images.store.image(local), "localhost/busybox:latest")
    assert images.lookup(local[:6])[1] is None


def test_resolve_errors(images: ImageStore) -> None:
    add(images, "x", "quay.io/a/dup:latest")
    add(images, "y", "ghcr.io/b/dup:latest")
    with pytest.raises(ImageNotFound, match="^nothing: image not known$"):
        images.resolve("nothing")
    with pytest.raises(ImageNotFound, match="image not known"):
        images.resolve("busybox:2")
    with pytest.raises(ImageNotFound):
        images.resolve("sha256:" + "0" * 64)
    with pytest.raises(ConfigError, match="several images"):
        images.resolve("dup")
    # two ids starting with the same hex digit make a one-character prefix ambiguous
    ids = [i["id"] for i in images.list()]
    for n in range(3, 40):
        ids.append(add(images, f"z{n}"))
    first = [i[0] for i in ids]
    dup = next(c for c in first if first.count(c) > 1)
    with pytest.raises(ConfigError, match="ambiguous"):
        images.resolve(dup)


# ---- the run path stays light -----------------------------------------------------------

HEAVY = {"typing", "dataclasses", "inspect", "tarfile", "gzip", "bz2", "lzma", "hashlib", "shutil",
         "tempfile", "zstandard", "subprocess", "ctypes", "_ctypes", "podium.engine.image_io",
         "podium.engine.storage.layers", "podium.engine.storage.imagearchive"}


def test_run_path_imports_nothing_heavy() -> None:
    """``podium run`` imports these two modules; every module above costs each run time."""
    code = ("import sys, podium.engine.images, podium.engine.storage.overlay; "
            "print(' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, check=True).stdout.split()
    assert sorted(HEAVY.intersection(out)) == []


def test_names_moved_to_image_io_still_import_from_images() -> None:
    from podium.engine import image_io, images

    assert images.apply_changes is image_io.apply_changes
    assert images.RemoveReport is image_io.RemoveReport
    with pytest.raises(AttributeError):
        images.no_such_name  # noqa: B018


@pytest.mark.parametrize("value", ["a", "a-b.c", "A.b-C:5000", "-a", "a-", "a..b", "a:", "a:x",
                                   "é", "a:5000:1", ""])
def test_domain_shortcut_agrees_with_the_pattern(value: str) -> None:
    assert _domain_ok(value) == (re.match(_DOMAIN_RE, value) is not None)


@pytest.mark.parametrize("value", ["latest", "1.36", "_x", ".x", "-x", "x" * 128, "x" * 129, "é",
                                   "a b", ""])
def test_tag_shortcut_agrees_with_the_pattern(value: str) -> None:
    assert _tag_ok(value) == (re.match(_TAG_RE, value) is not None)


@pytest.mark.parametrize("value", ["busybox", "a/b/c", "a__b", "a-_b", "A", "a//b", "/a", "a/",
                                   "a.b", ""])
def test_path_shortcut_agrees_with_the_pattern(value: str) -> None:
    assert _path_ok(value) == (re.match(_PATH_RE, value) is not None)


def test_change_healthcheck() -> None:
    from podium.engine.image_io import apply_changes
    cfg = apply_changes({}, ["HEALTHCHECK --interval=5s --retries=2 CMD test -f /ok"])
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /ok"], "Interval": 5_000_000_000,
                                  "Retries": 2}
    cfg = apply_changes({}, ['HEALTHCHECK CMD ["wget", "-q", "x"]'])
    assert cfg["Healthcheck"] == {"Test": ["CMD", "wget", "-q", "x"]}
    assert apply_changes({}, ["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}
    import pytest
    from podium.engine.errors import ConfigError
    for bad in ("HEALTHCHECK --bogus=1 CMD x", "HEALTHCHECK x", "HEALTHCHECK --retries=x CMD y"):
        with pytest.raises(ConfigError):
            apply_changes({}, [bad])
