"""Shared fixtures: a private storage root per test, the real `podium` CLI, a busybox image.

Integration tests run real containers (runc + conmon) as root. A test that
cannot run here skips with a loud reason, except under CI (CI=true), where a
skipped integration test fails the run: a green CI means the engine ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.rootfs import write_rootfs_tar

REPO = Path(__file__).resolve().parent.parent
PODIUM = [sys.executable, "-m", "podium"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip (or, under CI, fail) when a real part the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required for integration tests under CI: {reason}")
    print(f"\nSKIPPED (integration): {reason}", file=sys.stderr)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and item.get_closest_marker("integration") is not None:
        rep.outcome = "failed"
        rep.longrepr = f"integration test skipped under CI: {rep.longrepr}"


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(os.path.exists("/bin/busybox"), "busybox-static is not installed (apt-get install busybox-static)")
    d = tmp_path_factory.mktemp("rootfs")
    return write_rootfs_tar(d / "busybox.tar", extra={
        "www/index.html": b"hello from podium\n",
        "etc/motd": b"podium test image\n",
    })


class Podium:
    """The real `podium` CLI bound to one private storage root and run root."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.runroot = base / "run"
        self.env = {**os.environ, "PODIUM_ROOT": str(self.root), "PODIUM_RUNROOT": str(self.runroot)}

    def __call__(self, *args: str, check: bool = True, input: str | bytes | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        text = not isinstance(input, bytes)
        proc = subprocess.run([*PODIUM, *args], env=self.env, capture_output=True, text=text,
                              input=input, timeout=timeout, cwd=str(REPO))
        if check and proc.returncode != 0:
            raise AssertionError(f"podium {' '.join(args)} exited {proc.returncode}:\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def engine(self):  # noqa: ANN201
        from podium.engine.engine import Engine
        return Engine(root=str(self.root), runroot=str(self.runroot))


def _mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(prefix)]


def teardown_root(p: Podium) -> list[str]:
    """Remove every container of the root, then report what leaked (mounts, runtime state)."""
    problems: list[str] = []
    if p.root.exists():
        p("pod", "rm", "-f", "-a", check=False)
        out = p("ps", "-aq", "--no-trunc", check=False)
        ids = out.stdout.split()
        if ids:
            p("rm", "-f", "-v", *ids, check=False)
        nets = p("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
        for n in nets:
            if n != "podium":
                p("network", "rm", "-f", n, check=False)
    problems += _stop_aardvark(p)
    runc_root = p.runroot / "runc"
    if runc_root.exists():
        listed = subprocess.run(["runc", f"--root={runc_root}", "list", "-q"], capture_output=True,
                                text=True).stdout.split()
        for cid in listed:
            problems.append(f"runtime state left for {cid}")
            subprocess.run(["runc", f"--root={runc_root}", "delete", "-f", cid], capture_output=True)
    for m in sorted(_mounts_under(str(p.base)), key=len, reverse=True):
        problems.append(f"mount left: {m}")
        subprocess.run(["umount", "-l", m], capture_output=True)
    return problems


def _stop_aardvark(p: Podium) -> list[str]:
    """aardvark-dns is a setsid daemon: one still serving this root after its last container
    is gone is a leak (and would keep the gateway's port 53 from the next test's network)."""
    import time
    pid_file = p.runroot / "netavark" / "aardvark-dns" / "aardvark.pid"
    deadline = time.monotonic() + 5
    while pid_file.exists() and time.monotonic() < deadline:
        try:
            pid = int(pid_file.read_text().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                ours = str(p.runroot).encode() in f.read()
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError):
            return []
        if not ours or state == "Z":
            return []
        time.sleep(0.1)
    if not pid_file.exists():
        return []
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 15)
    except (OSError, ValueError):
        return []
    return [f"aardvark-dns {pid} still running for this root"]


@pytest.fixture
def podium() -> Iterator[Podium]:
    need(os.geteuid() == 0, "integration tests need root (real runc, conmon, overlay mounts)")
    need(shutil.which("runc") is not None, "runc is not installed")
    need(shutil.which("conmon") is not None, "conmon is not installed")
    base = Path(tempfile.mkdtemp(prefix="pdm", dir="/tmp"))
    p = Podium(base)
    try:
        yield p
    finally:
        problems = teardown_root(p)
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, f"test leaked: {problems}"


@pytest.fixture
def image(podium: Podium, rootfs_tar: Path) -> str:
    """A busybox image named localhost/busybox:latest in the test's root."""
    podium("import", str(rootfs_tar), "busybox", "--change", 'CMD ["sh"]')
    return "busybox"
