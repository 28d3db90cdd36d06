"""Network records and the create-time checks of a container's network (no container runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from podium.engine.engine import Engine
from podium.engine.errors import AlreadyExists, ConfigError, InUse, NotFound
from podium.engine.net import ipam
from podium.engine.net import setup as netsetup
from podium.engine.networks import Networks
from podium.engine.spec import ContainerSpec


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setattr(ipam, "HOST_DIR", str(tmp_path / "host"))
    monkeypatch.setattr("os.geteuid", lambda: 0)
    e = Engine(root=str(tmp_path / "root"), runroot=str(tmp_path / "run"))
    yield e
    e.close()


def spec(**kw: object) -> ContainerSpec:
    return ContainerSpec("busybox", **kw)  # type: ignore[arg-type]


def test_default_is_the_podium_bridge_network(engine: Engine) -> None:
    frag = netsetup.config_from_spec(engine, spec())
    assert frag == {"network_mode": "bridge", "networks": {"podium": {"aliases": []}}, "ports": []}
    n = Networks(engine).get("podium")
    assert n["network_interface"] == "podium0" and n["subnets"] == [{"subnet": "10.87.0.0/24",
                                                                     "gateway": "10.87.0.1"}]
    assert n["dns_enabled"] is False
    assert netsetup.config_from_spec(engine, spec(network="bridge"))["networks"] == {"podium": {"aliases": []}}


def test_simple_modes_pass_through(engine: Engine) -> None:
    for mode in ("none", "host", "ns:/run/netns/x"):
        assert netsetup.config_from_spec(engine, spec(network=mode)) == {
            "network_mode": mode, "networks": {}, "ports": []}
    with pytest.raises(ConfigError, match="needs a bridge network"):
        netsetup.config_from_spec(engine, spec(network="none", ports=["8080:80"]))
    with pytest.raises(ConfigError, match="not supported"):
        netsetup.config_from_spec(engine, spec(network="slirp4netns"))


def test_unknown_network(engine: Engine) -> None:
    with pytest.raises(NotFound, match="network nosuch not found"):
        netsetup.config_from_spec(engine, spec(network="nosuch"))


def test_user_networks_aliases_and_ip(engine: Engine) -> None:
    nets = Networks(engine)
    a = nets.create("a")
    b = nets.create("b", subnet="10.87.200.0/24", gateway="10.87.200.254", internal=True)
    assert a["dns_enabled"] and a["network_interface"].startswith("podium")
    assert a["subnets"][0]["subnet"] != b["subnets"][0]["subnet"]
    assert b["subnets"] == [{"subnet": "10.87.200.0/24", "gateway": "10.87.200.254"}] and b["internal"]
    frag = netsetup.config_from_spec(engine, spec(network="a,b", network_aliases=["web"]))
    assert frag["networks"] == {"a": {"aliases": ["web"]}, "b": {"aliases": ["web"]}}
    frag = netsetup.config_from_spec(engine, spec(network="b", ip="10.87.200.9"))
    assert frag["networks"] == {"b": {"aliases": [], "ip": "10.87.200.9"}}
    with pytest.raises(ConfigError, match="single network"):
        netsetup.config_from_spec(engine, spec(network="a,b", ip="10.87.200.9"))
    for bad in ("10.87.201.9", "10.87.200.254", "10.87.200.0", "banana"):
        with pytest.raises(ConfigError, match="invalid --ip"):
            netsetup.config_from_spec(engine, spec(network="b", ip=bad))


def test_create_refuses_overlaps_names_and_duplicates(engine: Engine) -> None:
    nets = Networks(engine)
    nets.create("a", subnet="10.87.210.0/24")
    with pytest.raises(ConfigError, match="10.87.210.0/25 is already used"):
        nets.create("b", subnet="10.87.210.0/25")
    with pytest.raises(ConfigError, match="already used"):
        nets.create("c", subnet="10.87.0.0/16")  # the default network's 10.87.0.0/24
    with pytest.raises(AlreadyExists, match="network name a already used"):
        nets.create("a")
    assert nets.create("a", ignore=True)["subnets"][0]["subnet"] == "10.87.210.0/24"
    for reserved in ("podman", "podman-default-kube-network", "host", "none"):
        with pytest.raises(ConfigError, match="reserved"):
            nets.create(reserved)
    with pytest.raises(ConfigError, match="invalid network name"):
        nets.create("-bad")
    with pytest.raises(ConfigError, match="unsupported network driver"):
        nets.create("m", driver="macvlan")
    with pytest.raises(AlreadyExists):
        nets.create("podium")


def test_generated_names_and_remove(engine: Engine) -> None:
    nets = Networks(engine)
    first = nets.create()
    second = nets.create()
    assert first["name"].startswith("podium") and first["name"] != second["name"]
    assert first["network_interface"] != second["network_interface"]
    assert [n["name"] for n in nets.list()] == ["podium", first["name"], second["name"]]
    with pytest.raises(ConfigError, match="default network podium cannot be removed"):
        nets.remove("podium")
    assert nets.remove(first["id"][:12]) == first["name"]
    assert not nets.exists(first["name"]) and nets.exists(second["name"])
    assert nets.prune() == [second["name"]]
    with pytest.raises(NotFound):
        nets.remove(second["name"])


def test_filters(engine: Engine) -> None:
    nets = Networks(engine)
    nets.create("front", labels={"tier": "web"})
    nets.create("back")
    names = lambda flt: [n["name"] for n in nets.list() if nets.match(n, flt)]  # noqa: E731
    assert names([("label", "tier=web")]) == ["front"]
    assert names([("name", "ack"), ("name", "ront")]) == ["front", "back"]
    assert names([("dangling", "true"), ("name", "^b")]) == ["back"]


def test_in_use_is_refused(engine: Engine) -> None:
    # a container row that uses the network, as containers.create stores it
    import json
    nets = Networks(engine)
    nets.create("busy")
    with engine.store.write() as db:
        db.execute("INSERT INTO containers(id, name, image_id, pod_id, created, config, state) VALUES (?,?,?,?,?,?,?)",
                   ("f" * 64, "user", None, None, "2026-01-01T00:00:00Z",
                    json.dumps({"network_mode": "bridge", "networks": {"busy": {"aliases": []}}, "ports": []}),
                    json.dumps({"status": "created"})))
    with pytest.raises(InUse, match='"busy" has associated containers'):
        nets.remove("busy")
    assert nets.prune() == []


def test_network_settings_for_inspect() -> None:
    status = {"web": {"interfaces": {"eth0": {"mac_address": "02:00:00:00:00:01", "subnets": [
        {"ipnet": "10.87.1.2/24", "gateway": "10.87.1.1"}]}}}}
    c = {"config": {"networks": {"web": {"aliases": ["www"]}, "db": {"aliases": []}}},
         "state": {"status": "running", "network": status}}
    got = netsetup.network_settings(c)
    assert (got["IPAddress"], got["IPPrefixLen"], got["Gateway"], got["MacAddress"]) == \
        ("10.87.1.2", 24, "10.87.1.1", "02:00:00:00:00:01")
    assert got["Networks"]["web"]["Aliases"] == ["www"] and got["Networks"]["db"]["IPAddress"] == ""
    stopped = netsetup.network_settings({**c, "state": {"status": "exited", "network": status}})
    assert stopped["IPAddress"] == "" and set(stopped["Networks"]) == {"web", "db"}
