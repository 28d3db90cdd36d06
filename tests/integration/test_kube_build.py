"""play kube --build: an image built from the directory named after it next to the YAML (Podman's rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Podium

pytestmark = pytest.mark.timeout(180)

YAML = """\
apiVersion: v1
kind: Pod
metadata: {name: built}
spec:
  containers:
  - {name: c, image: localhost/webapp:1}
"""


def project(tmp_path: Path, content: str) -> Path:
    ctx = tmp_path / "webapp"
    ctx.mkdir(exist_ok=True)
    (ctx / "Containerfile").write_text('FROM busybox\nCOPY hello.txt /hello.txt\nCMD ["sleep", "1000"]\n')
    (ctx / "hello.txt").write_text(content)
    path = tmp_path / "app.yaml"
    path.write_text(YAML)
    return path


def test_build_missing_image_then_rebuild_on_request(podium: Podium, image: str, tmp_path: Path) -> None:
    path = project(tmp_path, "first\n")
    r = podium("play", "kube", "--network", "none", str(path))  # missing: built without asking
    assert "COMMIT localhost/webapp:1" in r.stderr and "Pod:" in r.stdout
    assert podium("exec", "built-c", "cat", "/hello.txt").stdout == "first\n"
    podium("kube", "down", str(path))
    (tmp_path / "webapp" / "hello.txt").write_text("second\n")
    r = podium("play", "kube", "--network", "none", str(path))  # present: not rebuilt
    assert "STEP" not in r.stderr
    assert podium("exec", "built-c", "cat", "/hello.txt").stdout == "first\n"
    r = podium("play", "kube", "--network", "none", "--replace", "--build", str(path))  # --build FILE: rebuilt
    assert "COMMIT localhost/webapp:1" in r.stderr
    assert podium("exec", "built-c", "cat", "/hello.txt").stdout == "second\n"
    podium("kube", "down", str(path))
    podium("rmi", "localhost/webapp:1")
    r = podium("play", "kube", "--network", "none", "--build=false", str(path), check=False)
    assert r.returncode == 125 and "app.yaml:6:" in r.stderr and "localhost/webapp:1" in r.stderr
    assert podium("pod", "ps", "-q").stdout == ""
