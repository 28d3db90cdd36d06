"""The event log's pure parts: time parsing and Docker's filter rules."""

from __future__ import annotations

import time

import pytest

from podium.engine.errors import ConfigError
from podium.engine.events import compile_filters, parse_time


def _ev(type_: str, action: str, actor: str, **attrs: str) -> dict:
    return {"Type": type_, "Action": action, "Actor": {"ID": actor, "Attributes": attrs}}


def test_parse_time_forms() -> None:
    assert parse_time(1700000000) == 1700000000.0
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000.0
    assert parse_time("2023-11-14T23:13:20+01:00") == 1700000000.0
    assert abs(parse_time("10m") - (time.time() - 600)) < 2
    assert abs(parse_time("1h30m") - (time.time() - 5400)) < 2
    with pytest.raises(ConfigError, match="invalid time"):
        parse_time("yesterday")


def test_filters_or_within_a_key_and_across_keys() -> None:
    create = _ev("container", "create", "abc123", name="web", image="localhost/busybox", app="x")
    die = _ev("container", "die", "abc123", name="web", image="localhost/busybox")
    vol = _ev("volume", "create", "data", name="data")
    m = compile_filters(["event=create", "event=die", "type=container"])
    assert [m(e) for e in (create, die, vol)] == [True, True, False]
    assert compile_filters(["event=died"])(die)  # Podman's word matches Docker's
    assert compile_filters(["container=web"])(create) and compile_filters(["container=abc"])(create)
    assert not compile_filters(["container=db"])(create)
    assert compile_filters(["label=app"])(create) and compile_filters(["label=app=x"])(create)
    assert not compile_filters(["label=app=y"])(create)
    assert compile_filters(["image=localhost/busybox"])(die)
    assert compile_filters(["volume=data"])(vol) and not compile_filters(["volume=data"])(create)
    with pytest.raises(ConfigError, match="invalid filter"):
        compile_filters(["colour=red"])
