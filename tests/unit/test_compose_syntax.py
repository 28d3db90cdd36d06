"""Short syntaxes: ports, volumes, durations, sizes, extra hosts, commands."""

from __future__ import annotations

import os

import pytest

from podium.declare.compose import syntax


def port(target: int, published: str | None = None, host_ip: str | None = None, protocol: str = "tcp") -> dict:
    return {"target": target, "published": published, "host_ip": host_ip, "protocol": protocol, "mode": "ingress"}


@pytest.mark.parametrize("spec, expected", [
    (80, [port(80)]),
    ("80", [port(80)]),
    ("8080:80", [port(80, "8080")]),
    ("8080:80/udp", [port(80, "8080", protocol="udp")]),
    ("8080:80/UDP", [port(80, "8080", protocol="udp")]),
    ("127.0.0.1:8080:80", [port(80, "8080", "127.0.0.1")]),
    ("127.0.0.1::80", [port(80, None, "127.0.0.1")]),
    ("[::1]:8080:80", [port(80, "8080", "::1")]),
    ("::1:8080:80", [port(80, "8080", "::1")]),
    ("3000-3001", [port(3000), port(3001)]),
    ("9090-9091:8080-8081", [port(8080, "9090"), port(8081, "9091")]),
    ("8000-8010:80", [port(80, "8000-8010")]),
    ("6060:6060/sctp", [port(6060, "6060", protocol="sctp")]),
])
def test_ports(spec: object, expected: list) -> None:
    assert syntax.parse_port(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("abc", "invalid container port"),
    ("8080:80/icmp", "invalid protocol"),
    ("70000:80", "between 1 and 65535"),
    ("1-3:1-2", "differ in size"),
    ("1.2.3:80:80", "invalid host IP"),
    ("10-5", "end before start"),
])
def test_port_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        syntax.parse_port(spec)


def test_long_port() -> None:
    assert syntax.long_port({"target": "80", "published": 8080, "protocol": "UDP"}) == port(80, "8080", protocol="udp")
    assert syntax.long_port({"target": 80, "host_ip": "0.0.0.0", "name": "web", "mode": "host"}) == {
        **port(80, None, "0.0.0.0"), "mode": "host", "name": "web"}
    with pytest.raises(ValueError, match="target"):
        syntax.long_port({"published": 80})


@pytest.mark.parametrize("spec, expected", [
    ("/data", {"type": "volume", "target": "/data", "read_only": False}),
    ("data:/data", {"type": "volume", "source": "data", "target": "/data", "read_only": False}),
    ("data:/data:ro", {"type": "volume", "source": "data", "target": "/data", "read_only": True}),
    ("data:/data:nocopy", {"type": "volume", "source": "data", "target": "/data", "read_only": False,
                           "volume": {"nocopy": True}}),
    ("./src:/app/", {"type": "bind", "source": "/proj/src", "target": "/app", "read_only": False,
                     "bind": {"create_host_path": True}}),
    ("../up:/up:ro,z", {"type": "bind", "source": "/up", "target": "/up", "read_only": True,
                        "bind": {"create_host_path": True, "selinux": "z"}}),
    ("/etc/hosts:/etc/hosts:rw,rshared", {"type": "bind", "source": "/etc/hosts", "target": "/etc/hosts",
                                          "read_only": False,
                                          "bind": {"create_host_path": True, "propagation": "rshared"}}),
    (".:/code:cached", {"type": "bind", "source": "/proj", "target": "/code", "read_only": False,
                        "consistency": "cached", "bind": {"create_host_path": True}}),
])
def test_volumes(spec: str, expected: dict) -> None:
    assert syntax.parse_volume(spec, "/proj") == expected


def test_volume_home() -> None:
    out = syntax.parse_volume("~/x:/x", "/proj")
    assert out["source"] == os.path.join(os.path.expanduser("~"), "x")


@pytest.mark.parametrize("spec, message", [
    ("", "empty"),
    ("a::/b", "empty section"),
    ("a:/b:ro:x", "too many colons"),
    ("a:relative", "must be absolute"),
    ("a:/b:bogus", "unknown option"),
])
def test_volume_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        syntax.parse_volume(spec, "/proj")


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30.0), ("1m30s", 90.0), ("1h", 3600.0), ("500ms", 0.5), ("1.5s", 1.5), ("10us", 0.00001),
    ("2h45m", 9900.0), ("0", 0.0), ("0s", 0.0), (".5s", 0.5),
])
def test_durations(text: str, seconds: float) -> None:
    assert syntax.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, message", [
    ("10", "missing unit"), ("5 s", "invalid duration"), ("1d", "invalid duration"), ("abc", "invalid duration"),
    ("-1s", "negative"), (10, "missing unit"),
])
def test_duration_errors(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        syntax.parse_duration(text)


@pytest.mark.parametrize("value, size", [
    (1024, 1024), ("1024", 1024), ("64m", 64 * 1024**2), ("64M", 64 * 1024**2), ("1g", 1024**3), ("1gb", 1024**3),
    ("1GiB", 1024**3), ("512k", 512 * 1024), ("100b", 100), ("1.5g", int(1.5 * 1024**3)), ("-1", -1), ("2 m", 2 * 1024**2),
])
def test_sizes(value: object, size: int) -> None:
    assert syntax.parse_size(value) == size


@pytest.mark.parametrize("value", ["lots", "1x", "m", "1.2.3g"])
def test_size_errors(value: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        syntax.parse_size(value)


@pytest.mark.parametrize("entry, expected", [
    ("db:10.0.0.2", ("db", "10.0.0.2")),
    ("db=10.0.0.2", ("db", "10.0.0.2")),
    ("v6:::1", ("v6", "::1")),
    ("v6=[::1]", ("v6", "::1")),
    ("gw:host-gateway", ("gw", "host-gateway")),
])
def test_extra_hosts(entry: str, expected: tuple) -> None:
    assert syntax.parse_extra_host(entry) == expected


@pytest.mark.parametrize("entry", ["nohost", "db:notanip", ":1.2.3.4"])
def test_extra_host_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="invalid extra host"):
        syntax.parse_extra_host(entry)


@pytest.mark.parametrize("value, words", [
    ("echo hello", ["echo", "hello"]),
    ("sh -c 'echo $HOME && ls'", ["sh", "-c", "echo $HOME && ls"]),
    ('nginx -g "daemon off;"', ["nginx", "-g", "daemon off;"]),
    ("a\\ b c", ["a b", "c"]),
    ("", []),
    (["x", 1, True], ["x", "1", "true"]),
    (None, None),
])
def test_split_command(value: object, words: list | None) -> None:
    assert syntax.split_command(value) == words


def test_split_command_error() -> None:
    with pytest.raises(ValueError, match="cannot split"):
        syntax.split_command("echo 'unclosed")


def test_scalar_str() -> None:
    assert [syntax.scalar_str(v) for v in (True, False, 1, 1.0, 1.5, "x")] == ["true", "false", "1", "1", "1.5", "x"]
