"""Value parsers of the neutral spec: sizes, cpus, restart policies, volumes, signals."""

from __future__ import annotations

import pytest

from podium.engine import spec
from podium.engine.errors import ConfigError


@pytest.mark.parametrize("value,expected", [("64m", 64 * 1024**2), ("1g", 1024**3), ("512k", 512 * 1024),
                                            ("100", 100), ("1.5g", int(1.5 * 1024**3)), (42, 42)])
def test_parse_size(value: str, expected: int) -> None:
    assert spec.parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "12x", "-1", "", "1.2.3m"])
def test_parse_memory_rejects(value: str) -> None:
    with pytest.raises(ConfigError, match="invalid memory"):
        spec.parse_memory(value)


def test_memory_minimum() -> None:
    with pytest.raises(ConfigError, match="6MB"):
        spec.parse_memory("1m")


def test_parse_cpus() -> None:
    assert spec.parse_cpus("0.5") == 0.5
    for bad in ("x", "0", "-1"):
        with pytest.raises(ConfigError):
            spec.parse_cpus(bad)


@pytest.mark.parametrize("value,expected", [
    (None, {"Name": "no", "MaximumRetryCount": 0}),
    ("always", {"Name": "always", "MaximumRetryCount": 0}),
    ("on-failure:3", {"Name": "on-failure", "MaximumRetryCount": 3}),
    ("unless-stopped", {"Name": "unless-stopped", "MaximumRetryCount": 0}),
])
def test_parse_restart(value: str | None, expected: dict) -> None:
    assert spec.parse_restart(value) == expected


@pytest.mark.parametrize("value", ["sometimes", "always:3", "on-failure:x"])
def test_parse_restart_rejects(value: str) -> None:
    with pytest.raises(ConfigError):
        spec.parse_restart(value)


def test_parse_volume_forms() -> None:
    assert spec.parse_volume("/src:/dst:ro") == {"type": "bind", "source": "/src", "destination": "/dst",
                                                 "rw": False, "options": []}
    assert spec.parse_volume("/data")["type"] == "volume"
    assert spec.parse_volume("/data")["source"] == ""
    assert spec.parse_volume("cache:/cache")["type"] == "volume"
    for bad in ("/a:rel", "/a:/b:bogus", "a:b:c:d"):
        with pytest.raises(ConfigError):
            spec.parse_volume(bad)


@pytest.mark.parametrize("value,num", [("SIGTERM", 15), ("term", 15), ("9", 9), ("KILL", 9),
                                       ("SIGRTMIN+3", 37), ("USR1", 10)])
def test_parse_signal(value: str, num: int) -> None:
    assert spec.parse_signal(value) == num


def test_parse_signal_rejects() -> None:
    with pytest.raises(ConfigError):
        spec.parse_signal("SIGNOPE")
    assert spec.signal_name(15) == "SIGTERM"


def test_env_lines() -> None:
    assert spec.parse_env_line("A=b=c") == ("A", "b=c")
    assert spec.parse_env_line("HOME") == ("HOME", None)
    with pytest.raises(ConfigError):
        spec.parse_env_line("=x")


def test_ulimit() -> None:
    assert spec.parse_ulimit("nofile=1024:2048") == {"name": "nofile", "soft": 1024, "hard": 2048}
    with pytest.raises(ConfigError):
        spec.parse_ulimit("nofile=10:5")
