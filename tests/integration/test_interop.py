"""Images travel between podium and Podman in both directions, and run on both."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import Podium, need

CONF = """[containers]
default_ulimits = []
[engine]
runtime = "runc"
"""


class Podman:
    """Real podman on a private root (vfs: no overlay mounts to leak), runc, no rlimit raising."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pdmq", dir="/tmp"))
        (self.base / "containers.conf").write_text(CONF)
        (self.base / "t").mkdir()
        self.argv = ["podman", "--root", str(self.base / "r"), "--runroot", str(self.base / "rr"),
                     "--storage-driver", "vfs", "--tmpdir", str(self.base / "t")]
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.base / "containers.conf")}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.argv, *args], capture_output=True, text=True, timeout=180,
                              env=self.env)
        assert not check or proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr}"
        return proc


@pytest.fixture
def podman() -> Iterator[Podman]:
    need(shutil.which("podman") is not None, "podman is not installed (apt-get install podman)")
    p = Podman()
    try:
        yield p
    finally:
        p("rm", "-af", check=False)
        p("system", "reset", "-f", check=False)
        shutil.rmtree(p.base, ignore_errors=True)


@pytest.mark.podman
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podium_save_runs_in_podman(podium: Podium, image: str, podman: Podman, fmt: str) -> None:
    archive = podman.base / "from-podium.tar"
    podium("save", "--format", fmt, "-o", str(archive), image)
    out = podman("load", "-i", str(archive)).stdout
    assert "localhost/busybox:latest" in out
    r = podman("run", "--rm", "--network", "none", "localhost/busybox:latest", "cat", "/etc/motd")
    assert r.stdout == "podium test image\n"


@pytest.mark.podman
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_save_runs_in_podium(podium: Podium, rootfs_tar: Path, podman: Podman, fmt: str) -> None:
    podman("import", "--change", 'CMD ["cat", "/etc/motd"]', str(rootfs_tar), "pbox")
    archive = podman.base / "from-podman.tar"
    podman("save", "--format", fmt, "-o", str(archive), "localhost/pbox:latest")
    out = podium("load", "-i", str(archive)).stdout
    assert "pbox" in out
    r = podium("run", "--rm", "pbox")
    assert r.stdout == "podium test image\n"
    names = podium("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "localhost/pbox:latest" in names
