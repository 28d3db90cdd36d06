"""Address arithmetic and host-wide claims (engine/net/ipam.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from podium.engine.errors import ConfigError
from podium.engine.net import ipam


def test_usable_skips_network_gateway_and_broadcast() -> None:
    got = list(ipam.usable("10.87.5.0/29", "10.87.5.1"))
    assert got == ["10.87.5.2", "10.87.5.3", "10.87.5.4", "10.87.5.5", "10.87.5.6"]


@pytest.mark.parametrize("ip,match", [
    ("10.87.6.5", "not in the network's subnet"), ("10.87.5.0", "network or broadcast"),
    ("10.87.5.255", "network or broadcast"), ("10.87.5.1", "gateway"), ("nonsense", "expected an IPv4"),
    ("fd00::1", "IPv6"),
])
def test_check_in_subnet(ip: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ipam.check_in_subnet(ip, "10.87.5.0/24", "10.87.5.1")


def test_parse_subnet() -> None:
    assert str(ipam.parse_subnet("10.87.9.0/24")) == "10.87.9.0/24"
    for bad, match in (("10.87.9.1/24", "host bits"), ("10.87.9.0/31", "/30"), ("x", "CIDR"),
                       ("fd00::/64", "IPv6")):
        with pytest.raises(ConfigError, match=match):
            ipam.parse_subnet(bad)


def test_free_subnet_avoids_the_default_network_and_taken_ranges() -> None:
    assert ipam.free_subnet([]) == "10.87.1.0/24"
    assert ipam.free_subnet(["10.87.1.0/24", "10.87.2.0/23"]) == "10.87.4.0/24"
    assert ipam.free_subnet(["10.0.0.0/8"]) is None
    assert not any(ipam.overlaps(ipam.free_subnet([]), podman) for podman in ("10.88.0.0/16", "10.89.0.0/16"))


def _root(tmp_path: Path, name: str, networks: list[str] = (), attachments: list[tuple] = ()) -> str:
    root = tmp_path / name
    root.mkdir()
    db = sqlite3.connect(root / "podium.db")
    db.execute("CREATE TABLE networks (name TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE net_attachments (container_id TEXT, network TEXT)")
    db.executemany("INSERT INTO networks VALUES (?)", [(n,) for n in networks])
    db.executemany("INSERT INTO net_attachments VALUES (?,?)", attachments)
    db.commit()
    db.close()
    return str(root)


def test_claims_are_exclusive_while_the_owner_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipam, "HOST_DIR", str(tmp_path / "host"))
    a = _root(tmp_path, "a", networks=["web"])
    b = _root(tmp_path, "b", networks=["api"])
    owner_a = {"root": a, "network": "web"}
    owner_b = {"root": b, "network": "api"}
    assert ipam.claim("subnet", "10.87.1.0/24", owner_a)
    assert ipam.claim("subnet", "10.87.1.0/24", owner_a)  # idempotent
    assert not ipam.claim("subnet", "10.87.1.0/24", owner_b)
    assert ipam.claimed_by_others("subnet", b) == ["10.87.1.0/24"]
    assert ipam.claimed_by_others("subnet", a) == []
    ipam.unclaim("subnet", "10.87.1.0/24", owner_b)  # not b's: left alone
    assert not ipam.claim("subnet", "10.87.1.0/24", owner_b)
    ipam.unclaim("subnet", "10.87.1.0/24", owner_a)
    assert ipam.claim("subnet", "10.87.1.0/24", owner_b)


def test_stale_claims_are_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipam, "HOST_DIR", str(tmp_path / "host"))
    gone = {"root": str(tmp_path / "removed-root"), "network": "web", "container": "c1"}
    assert ipam.claim("ip", "10.87.0.0/24/10.87.0.2", gone)
    a = _root(tmp_path, "a", attachments=[("c2", "podium")])
    assert ipam.claim("ip", "10.87.0.0/24/10.87.0.2", {"root": a, "network": "podium", "container": "c2"})
    # the owner's root exists but the container left it: stale too
    b = _root(tmp_path, "b")
    assert ipam.claim("ip", "10.87.0.0/24/10.87.0.3", {"root": a, "network": "podium", "container": "old"})
    assert ipam.claim("ip", "10.87.0.0/24/10.87.0.3", {"root": b, "network": "podium", "container": "c3"})
    held = json.loads((tmp_path / "host" / "claims" / "ip" / "10.87.0.0_24_10.87.0.3").read_text())
    assert held["container"] == "c3"


def test_claims_of_a_removed_root_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipam, "HOST_DIR", str(tmp_path / "host"))
    assert ipam.claim("subnet", "10.87.7.0/24", {"root": str(tmp_path / "gone"), "network": "x"})
    assert ipam.claimed_by_others("subnet", "/elsewhere") == []
    assert not (tmp_path / "host" / "claims" / "subnet" / "10.87.7.0_24").exists()
