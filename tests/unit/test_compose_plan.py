"""compose up's pure parts: the plan from (desired, observed), the graph, specs and the config hash."""

from __future__ import annotations

import pytest

from podium.declare.compose import convert as cv
from podium.declare.compose import load_project
from podium.declare.compose import up as upmod
from podium.engine.errors import ConfigError


def _project(tmp_path, text: str, **kw):  # noqa: ANN001, ANN202
    (tmp_path / "compose.yaml").write_text(text)
    return load_project([str(tmp_path / "compose.yaml")], environ=kw.pop("environ", {}), **kw)


def _ctr(service: str, number: int, h: str, status: str = "running", code: int = 0, name: str = "") -> dict:
    return {"id": f"{service}{number}", "name": name or f"p-{service}-{number}",
            "config": {"labels": {cv.L_SERVICE: service, cv.L_NUMBER: str(number), cv.L_HASH: h}},
            "state": {"status": status, "exit_code": code}}


def _desired(name: str, h: str, scale: int = 1, **kw) -> upmod.Desired:  # noqa: ANN003
    return upmod.Desired(name, scale, h, {n: f"p-{name}-{n}" for n in range(1, scale + 1)}, **kw)


def texts(actions: list[upmod.Action]) -> list[str]:
    return [a.text() for a in actions]


def test_plan_creates_what_is_missing() -> None:
    actions, warns = upmod.plan([_desired("db", "h1"), _desired("web", "h2", scale=2)], [])
    assert texts(actions) == ["create db#1 p-db-1: not created", "create web#1 p-web-1: not created",
                              "create web#2 p-web-2: not created"]
    assert warns == []


def test_plan_is_empty_of_changes_when_everything_matches() -> None:
    actions, _ = upmod.plan([_desired("db", "h1")], [_ctr("db", 1, "h1")])
    assert [a.kind for a in actions] == ["noop"]


def test_plan_recreates_a_changed_service_and_starts_a_stopped_one() -> None:
    actions, _ = upmod.plan([_desired("db", "h1"), _desired("web", "NEW")],
                            [_ctr("db", 1, "h1", "exited", 1), _ctr("web", 1, "old")])
    assert texts(actions) == ["start db#1 p-db-1: not running (exited)", "recreate web#1 p-web-1: config changed"]


def test_plan_keeps_a_completed_one_shot_and_honours_flags() -> None:
    d = _desired("init", "h", one_shot=True)
    assert [a.kind for a in upmod.plan([d], [_ctr("init", 1, "h", "exited", 0)])[0]] == ["noop"]
    assert [a.kind for a in upmod.plan([d], [_ctr("init", 1, "h", "exited", 3)])[0]] == ["start"]
    assert [a.kind for a in upmod.plan([d], [_ctr("init", 1, "h")], force_recreate=True)[0]] == ["recreate"]
    assert [a.kind for a in upmod.plan([d], [_ctr("init", 1, "x")], no_recreate=True)[0]] == ["noop"]


def test_plan_scales_down_and_handles_orphans() -> None:
    observed = [_ctr("web", 1, "h"), _ctr("web", 2, "h"), _ctr("gone", 1, "h")]
    actions, warns = upmod.plan([_desired("web", "h")], observed)
    assert texts(actions) == ["noop web#1 p-web-1: running", "remove web#2 p-web-2: scaled to 1"]
    assert "orphan container (p-gone-1)" in warns[0]
    actions, warns = upmod.plan([_desired("web", "h")], observed, remove_orphans=True)
    assert actions[0].text() == "remove gone#1 p-gone-1: orphan: service not in the project"
    assert warns == []


def test_plan_recreates_a_service_sharing_a_recreated_network_namespace() -> None:
    actions, _ = upmod.plan([_desired("vpn", "NEW"), _desired("app", "h", recreate_with=["vpn"])],
                            [_ctr("vpn", 1, "old"), _ctr("app", 1, "h")])
    assert texts(actions)[1] == "recreate app#1 p-app-1: vpn was recreated"


def test_plan_restarts_a_dependent_with_restart_true_when_its_dependency_is_recreated() -> None:
    actions, _ = upmod.plan([_desired("db", "NEW"), _desired("api", "h", restart_with=["db"]),
                             _desired("web", "h")],
                            [_ctr("db", 1, "old"), _ctr("api", 1, "h"), _ctr("web", 1, "h")])
    assert texts(actions) == ["recreate db#1 p-db-1: config changed",
                              "restart api#1 p-api-1: db was recreated (depends_on restart: true)",
                              "noop web#1 p-web-1: running"]
    unchanged, _ = upmod.plan([_desired("db", "h"), _desired("api", "h", restart_with=["db"])],
                              [_ctr("db", 1, "h"), _ctr("api", 1, "h")])
    assert [a.kind for a in unchanged] == ["noop", "noop"]


def test_graph_orders_dependencies_first_and_selects_what_a_service_needs(tmp_path) -> None:  # noqa: ANN001
    p = _project(tmp_path, """
services:
  web: {image: busybox, depends_on: [api]}
  api: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  db: {image: busybox}
  other: {image: busybox}
""")
    assert upmod.order(upmod.graph(p)) == ["db", "api", "other", "web"]
    assert upmod.order(upmod.graph(p, ["api"])) == ["db", "api"]
    with pytest.raises(ConfigError, match="no such service: nope"):
        upmod.graph(p, ["nope"])


def test_container_spec_carries_names_labels_networks_and_limits(tmp_path) -> None:  # noqa: ANN001
    p = _project(tmp_path, """
name: shop
services:
  web:
    image: busybox
    command: httpd -f
    environment: {A: "1", B: null}
    ports: ["127.0.0.1:8080:80", "9000/udp"]
    networks:
      front: {aliases: [www]}
    volumes: ["data:/data", "./html:/www:ro", "/cache"]
    tmpfs: ["/run:size=64m"]
    mem_limit: 64m
    restart: on-failure:3
    healthcheck: {test: "true", interval: 2s, retries: 3}
    ulimits: {nofile: {soft: 100, hard: 200}}
networks:
  front: {}
volumes:
  data: {}
""")
    svc = p.services["web"]
    spec = cv.container_spec(p, svc, 1, config_hash="abc")
    assert spec.name == "shop-web-1"
    assert spec.command == ["httpd", "-f"]
    assert spec.env == {"A": "1"}
    assert spec.ports == ["127.0.0.1:8080:80/tcp", "9000/udp"]
    assert spec.network == "shop_front" and spec.network_aliases == ["web", "www"]
    assert spec.labels[cv.L_PROJECT] == "shop" and spec.labels[cv.L_SERVICE] == "web"
    assert spec.labels[cv.L_HASH] == "abc" and spec.labels[cv.L_NUMBER] == "1"
    kinds = [(m["type"], m.get("volume") or m.get("source"), m["destination"], m["rw"]) for m in spec.mounts]
    assert kinds == [("volume", "shop_data", "/data", True), ("bind", str(tmp_path / "html"), "/www", False),
                     ("volume", None, "/cache", True)]
    assert spec.tmpfs == {"/run": "size=64m"}
    assert spec.memory == 64 * 1024 * 1024 and spec.restart == "on-failure:3"
    assert spec.health == {"cmd": ["CMD-SHELL", "true"], "interval": 2.0, "retries": 3}
    assert spec.ulimits == ["nofile=100:200"]
    nets = cv.networks(p)
    assert [(n.name, n.external, n.create["labels"][cv.L_NETWORK]) for n in nets] == [("shop_front", False, "front")]
    assert [v.name for v in cv.volumes(p)] == ["shop_data"]


def test_config_hash_is_stable_and_ignores_scale_and_depends_on(tmp_path) -> None:  # noqa: ANN001
    base = "services:\n  web: {image: busybox, environment: {A: '%s'}%s}\n  db: {image: busybox}\n"
    h = lambda text: cv.config_hash(_project(tmp_path, text).services["web"], "img1")  # noqa: E731
    one = h(base % ("1", ""))
    assert one == h(base % ("1", ""))
    assert one == h(base % ("1", ", scale: 3, depends_on: [db]"))
    assert one != h(base % ("2", ""))
    assert one != cv.config_hash(_project(tmp_path, base % ("1", "")).services["web"], "img2")
