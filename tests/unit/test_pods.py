"""Pod status derivation and --share parsing."""

from __future__ import annotations

import pytest

from podium.engine.errors import ConfigError
from podium.engine.pods import parse_share, pod_status


@pytest.mark.parametrize("statuses,expected", [
    ([], "Created"),
    (["running", "running"], "Running"),
    (["running", "exited"], "Degraded"),
    (["running", "created"], "Degraded"),
    (["exited", "exited"], "Exited"),
    (["created", "created"], "Created"),
    (["exited", "created"], "Exited"),
    (["paused", "paused"], "Paused"),
])
def test_pod_status(statuses: list[str], expected: str) -> None:
    assert pod_status(statuses) == expected


def test_share() -> None:
    assert parse_share(None) == ["net", "ipc", "uts"]
    assert parse_share("net,pid") == ["net", "pid"]
    assert parse_share("cgroup,ipc") == ["ipc"]
    with pytest.raises(ConfigError):
        parse_share("net,mnt")
