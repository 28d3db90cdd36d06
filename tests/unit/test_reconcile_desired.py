"""Files -> Desired: resources and dependencies of a mixed kube + compose stack (no engine needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from podium.declare import desired as ds
from podium.declare.plan import plan
from podium.declare.observe import Snapshot
from podium.declare.sources import collect
from podium.engine.errors import ConfigError, NotFound

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "examples" / "stack"


class FakeImages:
    def resolve(self, ref: str) -> dict[str, Any]:
        if "missing" in ref:
            raise NotFound(ref)
        return {"id": f"id-{ref}"}

    def ensure(self, ref: str, policy: str) -> dict[str, Any]:
        return self.resolve(ref)

    def config_of(self, image: dict[str, Any]) -> dict[str, Any]:
        return {}


def engine(tmp_path: Path) -> Any:
    return SimpleNamespace(images=FakeImages(), paths=SimpleNamespace(root=tmp_path))


def build(tmp_path: Path, *paths: str) -> ds.Desired:
    return ds.build(engine(tmp_path), collect(list(paths)), "stack")


def test_mixed_example_resources_and_edges(tmp_path: Path) -> None:
    d = build(tmp_path, str(EXAMPLE))
    assert sorted(d.resources) == ["container/stack-api-1", "container/stack-worker-1", "container/web-probe",
                                   "init/web-seed", "network/stack-net", "pod/web", "volume/stack-data"]
    deps = {rid: {(x.rid, x.condition, x.hard) for x in r.deps} for rid, r in d.resources.items()}
    assert ("network/stack-net", "created", True) in deps["pod/web"]          # io.podium.network
    assert ("volume/stack-data", "created", False) in deps["init/web-seed"]   # the claim is the compose volume
    assert ("init/web-seed", "completed", False) in deps["container/web-probe"]
    assert ("pod/web", "created", True) in deps["container/web-probe"]
    assert ("container/stack-api-1", "started", True) in deps["container/stack-worker-1"]   # restart: true
    order = d.order()
    assert order.index("network/stack-net") < order.index("pod/web") < order.index("init/web-seed") \
        < order.index("container/web-probe")
    api = d.resources["container/stack-api-1"]
    assert api.spec["env"] == {"ROLE": "api"} and api.spec["image_id"] == "id-localhost/busybox"
    assert "name" not in api.spec and "com.docker.compose.config-hash" not in api.spec["labels"]
    # the pod's spec holds its members: a changed container replaces the pod, as in Kubernetes
    assert set(d.resources["pod/web"].spec["containers"]) == {"web-probe"}
    assert set(d.resources["pod/web"].spec["init"]) == {"web-seed"}


def test_hashes_are_stable_and_follow_the_input(tmp_path: Path) -> None:
    a, b = build(tmp_path, str(EXAMPLE)), build(tmp_path, str(EXAMPLE))
    assert {k: r.hash for k, r in a.resources.items()} == {k: r.hash for k, r in b.resources.items()}
    src = tmp_path / "v2" / "stack"   # the same directory name: the same compose project
    src.mkdir(parents=True)
    (src / "pod.yaml").write_text((EXAMPLE / "pod.yaml").read_text())
    (src / "compose.yaml").write_text((EXAMPLE / "compose.yaml").read_text().replace("ROLE: api", "ROLE: x"))
    c = build(tmp_path, str(src))
    changed = {k for k in a.resources if a.resources[k].hash != c.resources[k].hash}
    assert changed == {"container/stack-api-1"}


def test_configmap_volume_is_a_config_resource(tmp_path: Path) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site}\ndata: {index.html: hi}\n---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                 "  - {name: a, image: busybox, volumeMounts: [{name: s, mountPath: /www}]}\n"
                 "  volumes: [{name: s, configMap: {name: site}}]\n")
    d = build(tmp_path, str(f))
    cfg = d.resources["config/p-s"]
    assert list(cfg.spec["files"]) == ["index.html"]
    assert ("config/p-s", "created", False) in {(x.rid, x.condition, x.hard) for x in d.resources["container/p-a"].deps}
    assert [a.action for a in plan(d, Snapshot()).actions] == ["create"] * 3


def test_compose_secret_is_a_config_file_under_the_stack(tmp_path: Path) -> None:
    p = tmp_path / "app"
    p.mkdir()
    (p / "pw.txt").write_text("s3cret")
    (p / "compose.yaml").write_text("services:\n  db:\n    image: busybox\n    secrets: [pw]\n"
                                    "secrets:\n  pw: {file: ./pw.txt}\n")
    d = build(tmp_path, str(p))
    [cfg] = [r for r in d.resources.values() if r.kind == "config"]
    assert cfg.name == "app/secrets/pw.444.." and cfg.payload["data"] == b"s3cret"
    assert str(tmp_path / "stacks" / "files" / "stack") in cfg.payload["path"]
    assert "s3cret" not in repr(cfg.spec)   # the spec (diffed, stored) holds a digest, never the secret


def test_missing_image_names_file_and_service(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.mkdir()
    (p / "compose.yaml").write_text("services:\n  web: {image: missing/img}\n")
    with pytest.raises(NotFound, match=r"compose\.yaml: service 'web': image missing/img is not in local storage"):
        build(tmp_path, str(p))


def test_kube_container_name_equal_to_compose_container_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                                             "spec: {containers: [{name: a, image: busybox}]}\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "compose.yaml").write_text("services:\n  x: {image: busybox, container_name: p-a}\n")
    with pytest.raises(ConfigError, match=r"container 'p-a' is declared twice, in .*b/compose\.yaml and "
                                          r".*a/pod\.yaml"):
        build(tmp_path, str(tmp_path / "a"), str(tmp_path / "b"))


GOLDEN_FIRST_DIFF = """\
create   network/stack-net  (not on the host)
create   volume/stack-data  (not on the host)
create   pod/web  (not on the host)
create   init/web-seed  (not on the host)
create   container/stack-api-1  (not on the host)
create   container/stack-worker-1  (not on the host)
create   container/web-probe  (not on the host)
7 to create, 0 to recreate, 0 to remove, 0 unchanged
"""


def test_golden_plan_of_the_example(tmp_path: Path) -> None:
    assert plan(build(tmp_path, str(EXAMPLE)), Snapshot()).text() == GOLDEN_FIRST_DIFF
