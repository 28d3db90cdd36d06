"""Compose's parallel execution (workers.run_graph in forked processes) and the pure helpers
around it: stop order, per-network attachments, --scale and build-only image names, prefixes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from podium.declare.compose import load_project, workers
from podium.declare.compose import up as upmod
from podium.declare.compose.attached import prefix_of
from podium.declare.compose.convert import container_spec, network_attachments
from podium.engine.engine import Engine
from podium.engine.errors import ConfigError, PodiumError


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(root=str(tmp_path / "root"), runroot=str(tmp_path / "run"))


def test_run_graph_orders_parallelizes_and_skips_dependents_of_a_failure(engine: Engine, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "can_fork", lambda: True)  # whatever threads the test runner keeps
    log = tmp_path / "log"

    def work(eng: Engine, name: str, ev: object) -> None:
        assert eng is not engine  # a worker has its own Engine
        with open(log, "a") as f:
            f.write(f"{name} start {time.monotonic()} {os.getpid()}\n")
        time.sleep(0.3)
        if name == "bad":
            raise PodiumError("it broke")
        with open(log, "a") as f:
            f.write(f"{name} end {time.monotonic()} {os.getpid()}\n")
        ev("Container", name, "Started")  # type: ignore[operator]

    events: list[tuple[str, str, str]] = []
    deps = {"a": [], "b": [], "bad": [], "c": ["a", "b"], "d": ["bad"], "e": ["d"]}
    failed = workers.run_graph(engine, deps, work, limit=4, event=lambda *e: events.append(e))
    assert failed == {"bad": "it broke", "d": "dependency bad failed", "e": "dependency d failed"}
    rows = [ln.split() for ln in log.read_text().splitlines()]
    t = {(r[0], r[1]): float(r[2]) for r in rows}
    assert t[("c", "start")] >= max(t[("a", "end")], t[("b", "end")])  # after its dependencies
    assert abs(t[("a", "start")] - t[("b", "start")]) < 0.25  # a and b at the same time
    assert {r[3] for r in rows} - {str(os.getpid())} == {r[3] for r in rows}  # all in workers
    assert sorted(e[1] for e in events) == ["a", "b", "c"]


def test_run_graph_without_gate_orders_only(engine: Engine) -> None:
    seen: list[str] = []

    def work(eng: Engine, name: str, ev: object) -> None:
        seen.append(name)
        if name == "x":
            raise PodiumError("no")

    # limit 1: in-process, in order
    failed = workers.run_graph(engine, {"x": [], "y": ["x"]}, work, limit=1, event=lambda *e: None, gate=False)
    assert failed == {"x": "no"} and seen == ["x", "y"]


def test_a_process_with_threads_does_not_fork(engine: Engine) -> None:
    import threading
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        assert not workers.can_fork()
        pids: list[int] = []
        workers.run_graph(engine, {"a": [], "b": []}, lambda eng, n, ev: pids.append(os.getpid()),
                          limit=4, event=lambda *e: None)
        assert pids == [os.getpid(), os.getpid()]  # in-process, in order
    finally:
        stop.set()
        t.join()


def test_a_crashing_worker_is_a_failure_not_a_hang(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    def work(eng: Engine, name: str, ev: object) -> None:
        if name == "boom":
            os._exit(7)

    failed = workers.run_graph(engine, {"boom": [], "ok": []}, work, limit=2, event=lambda *e: None)
    assert failed == {"boom": "worker process ended with status 7"}


def _project(tmp_path: Path, text: str):  # noqa: ANN202
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(cwd=str(tmp_path), environ={}, project_name="p")


def test_dependents_first_levels(tmp_path: Path) -> None:
    project = _project(tmp_path, "services:\n  db: {image: x}\n  api: {image: x, depends_on: [db]}\n"
                                 "  web: {image: x, depends_on: [api]}\n  solo: {image: x}\n")

    def c(service: str, n: int = 1) -> dict:
        return {"id": f"{service}{n}", "name": f"p-{service}-{n}",
                "config": {"labels": {"com.docker.compose.service": service}}}

    cs = [c("db"), c("api"), c("web"), c("web", 2), c("solo"), c("gone")]
    levels = upmod.dependents_first(project, cs)
    assert [[x["name"] for x in lv] for lv in levels] == [  # orphans first, then dependents first
        ["p-gone-1"], ["p-solo-1", "p-web-1", "p-web-2"], ["p-api-1"], ["p-db-1"]]
    deps = upmod.level_deps(levels)
    assert deps["api1"] == ["solo1", "web1", "web2"] and deps["db1"] == ["api1"] and deps["web1"] == ["gone1"]


def test_network_attachments_keep_aliases_per_network(tmp_path: Path) -> None:
    project = _project(tmp_path, """\
services:
  cache:
    image: x
    networks:
      back: {aliases: [redis], ipv4_address: 10.9.0.5}
      front: {aliases: [public]}
networks:
  back: {ipam: {config: [{subnet: 10.9.0.0/24}]}}
  front: {}
""")
    svc = project.services["cache"]
    assert network_attachments(project, svc) == [("p_back", ["cache", "redis"], "10.9.0.5"),
                                                  ("p_front", ["cache", "public"], None)]
    spec = container_spec(project, svc, 1, config_hash="h", per_network=True)
    assert (spec.network, spec.network_aliases, spec.ip) == ("p_back", ["cache", "redis"], "10.9.0.5")
    with pytest.raises(ConfigError, match="ipv4_address works with one network only"):
        container_spec(project, svc, 1, config_hash="h")  # the union form cannot carry it


def test_scale_override_and_build_only_image_name(tmp_path: Path) -> None:
    project = _project(tmp_path, "services:\n  w: {image: x}\n  b: {build: .}\n")
    p2 = upmod.with_overrides(project, upmod.UpOptions(scale={"w": 3}))
    assert p2.services["w"].scale == 3 and project.services["w"].scale == 1
    assert p2.services["b"].image == "p-b"
    with pytest.raises(ConfigError, match="--scale nope: no such service"):
        upmod.with_overrides(project, upmod.UpOptions(scale={"nope": 2}))


def test_log_prefix() -> None:
    def c(name: str, service: str, n: str) -> dict:
        return {"name": name, "config": {"labels": {"com.docker.compose.project": "shop",
                                                    "com.docker.compose.service": service,
                                                    "com.docker.compose.container-number": n}}}
    assert prefix_of(c("shop-web-2", "web", "2")) == "web-2"
    assert prefix_of(c("my-fixed-name", "web", "1")) == "my-fixed-name"


def test_dep_graph_names_a_cycle_and_orders_by_name() -> None:
    g = upmod.DepGraph()
    for a, b in [("db", "api"), ("api", "web"), ("cache", "web"), ("db", "worker")]:
        g.add_edge(a, b)
    assert g.order() == ["cache", "db", "api", "web", "worker"]
    assert g.ancestors("web") == {"api", "db", "cache"}
    assert g.find_cycle() is None
    g.add_edge("web", "db")
    cycle = g.find_cycle()
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"db", "api", "web"}
