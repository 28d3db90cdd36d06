"""What a podium process killed half-way (SIGKILL, a lost CI runner) leaves is undone by the next one."""

from __future__ import annotations

import os
import sqlite3

import pytest

from tests.conftest import Podium

pytestmark = pytest.mark.integration


def _mount_like_a_killed_start(podium: Podium, name: str) -> str:
    """Mount the container's root filesystem exactly as start does, then stop there."""
    from podium.engine.storage.overlay import mount_rootfs
    eng = podium.engine()
    try:
        c = eng.containers.get(name)
        cdir = eng.paths.container_dir(c["id"])
        image = eng.store.image(c["image_id"])
        mount_rootfs(eng.images.layer_dirs(image), cdir / "upper", cdir / "work", cdir / "merged")
        return str(cdir / "merged")
    finally:
        eng.close()


def test_rm_after_a_start_killed_after_mounting(podium: Podium, image: str) -> None:
    podium("create", "--name", "half", image, "sleep", "100")
    merged = _mount_like_a_killed_start(podium, "half")
    assert os.path.ismount(merged)
    podium("rm", "half")
    assert not os.path.exists(merged) or not os.path.ismount(merged)


def test_start_after_a_start_killed_after_mounting(podium: Podium, image: str) -> None:
    podium("create", "--name", "again", image, "sh", "-c", "echo started; sleep 100")
    merged = _mount_like_a_killed_start(podium, "again")
    podium("start", "again")
    assert podium("inspect", "--format", "{{.State.Status}}", "again").stdout == "running\n"
    with open("/proc/self/mountinfo") as f:  # one overlay on merged, not two stacked
        assert sum(1 for line in f if line.split()[4] == merged) == 1
    podium("rm", "-f", "-t", "0", "again")
    assert not os.path.exists(merged) or not os.path.ismount(merged)


def test_pod_rm_after_a_create_killed_before_it_recorded_its_infra(podium: Podium, image: str) -> None:
    podium("pod", "create", "--name", "torn")
    db = sqlite3.connect(str(podium.root / "podium.db"))
    with db:
        db.execute("UPDATE pods SET infra_id=NULL WHERE name='torn'")
    db.close()
    assert len(podium("ps", "-aq", "--filter", "pod=torn").stdout.split()) == 1
    podium("pod", "rm", "-f", "torn")
    assert podium("ps", "-aq").stdout == "" and podium("pod", "ps", "-q").stdout == ""
