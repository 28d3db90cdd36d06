"""--mount's long syntax."""

from __future__ import annotations

import pytest

from podium.engine.errors import ConfigError
from podium.engine.mounts import parse_mount


def test_bind_volume_tmpfs() -> None:
    assert parse_mount("type=bind,src=/a,dst=/b,readonly") == {
        "type": "bind", "source": "/a", "destination": "/b", "rw": False, "options": ["rbind", "ro"],
        "create_host_path": False}
    assert parse_mount("type=volume,source=data,target=/data") == {
        "type": "volume", "volume": "data", "anonymous": False, "destination": "/data", "rw": True}
    assert parse_mount("type=volume,destination=/anon")["anonymous"] is True
    t = parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777")
    assert t["options"] == ["rw", "noexec", "nosuid", "nodev", "size=1m", "mode=1777"]


@pytest.mark.parametrize("bad", ["type=bind,dst=/x", "type=nfs,dst=/x", "type=bind,src=/a,dst=rel",
                                 "type=volume,dst=/x,colour=blue"])
def test_rejects(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_mount(bad)
