"""``-p`` parsing and host-port checks (engine/net/ports.py)."""

from __future__ import annotations

import socket

import pytest

from podium.engine.errors import ConfigError
from podium.engine.net import ports


def m(host_ip: str, host: int, ctr: int, proto: str = "tcp") -> dict:
    return {"host_ip": host_ip, "host_port": host, "container_port": ctr, "protocol": proto, "range": 1}


@pytest.mark.parametrize("spec,expected", [
    ("80", [m("", 0, 80)]),
    ("8080:80", [m("", 8080, 80)]),
    ("127.0.0.1:8080:80", [m("127.0.0.1", 8080, 80)]),
    ("127.0.0.1::80", [m("127.0.0.1", 0, 80)]),
    ("0.0.0.0:8080:80/udp", [m("", 8080, 80, "udp")]),
    ("8000-8001:80-81", [m("", 8000, 80), m("", 8001, 81)]),
    ("53:53/tcp,udp", [m("", 53, 53), m("", 53, 53, "udp")]),
])
def test_parse(spec: str, expected: list) -> None:
    assert ports.parse(spec) == expected


@pytest.mark.parametrize("spec,match", [
    ("", "container port is missing"),
    ("8080:", "container port is missing"),
    ("x:80", "not a number"),
    ("70000:80", "not in 1-65535"),
    ("8000-8002:80-81", "differ in size"),
    ("8080:80-81", "differ in size"),
    ("1.2.3:8080:80", "not an IPv4 address"),
    ("[::1]:8080:80", "IPv6"),
    ("80/icmp", "unknown protocol"),
    ("1:2:3:4", "expected"),
    ("90-80:90-80", "ends before it starts"),
])
def test_parse_rejects(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ports.parse(spec)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_resolve_refuses_a_port_someone_listens_on() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}/tcp is already in use on the host"):
            ports.resolve([f"127.0.0.1:{port}:80"], [])
        with pytest.raises(ConfigError, match="already in use"):
            ports.resolve([f"{port}:80"], [])  # 0.0.0.0 overlaps 127.0.0.1


def test_resolve_refuses_reserved_and_duplicate_ports() -> None:
    port = _free_port()
    with pytest.raises(ConfigError, match="reserved by another podium container"):
        ports.resolve([f"{port}:80"], [m("127.0.0.1", port, 80)])
    assert ports.resolve([f"{port}:80/udp"], [m("127.0.0.1", port, 80)])[0]["protocol"] == "udp"
    with pytest.raises(ConfigError, match="published twice"):
        ports.resolve([f"{port}:80", f"127.0.0.1:{port}:81"], [])


def test_resolve_picks_a_free_host_port() -> None:
    got = ports.resolve(["127.0.0.1::80"], [])
    assert got[0]["host_port"] > 0 and got[0]["container_port"] == 80
    assert ports.bind_free("127.0.0.1", got[0]["host_port"], "tcp")
