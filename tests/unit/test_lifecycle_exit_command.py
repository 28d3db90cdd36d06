"""conmon's exit command skips its cleanup while a podium process stops the container."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from podium.engine import lifecycle
from podium.engine.engine import Engine


def _argv(tmp_path: Path, out: Path) -> tuple[list[str], Path]:
    engine = Engine(root=str(tmp_path / "root"), runroot=str(tmp_path / "run"))
    argv = lifecycle._exit_command(engine, "c0ffee")
    mark = Path(argv[3])
    assert mark == engine.paths.bundle("c0ffee") / lifecycle.STOP_MARK
    assert argv[-3:] == ["container", "cleanup", "c0ffee"]
    # the same shell line, with a harmless command in place of podium's cleanup
    return argv[:4] + ["/bin/sh", "-c", f"echo ran > {out}"], mark


def test_exit_command_runs_the_cleanup_after_an_exit_of_its_own(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv, _ = _argv(tmp_path, out)
    assert subprocess.run(argv, timeout=10).returncode == 0
    assert out.read_text() == "ran\n"


def test_exit_command_leaves_the_cleanup_to_the_stopping_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv, mark = _argv(tmp_path, out)
    mark.parent.mkdir(parents=True)
    mark.write_text(f"{os.getpid()}\n")  # the stopper (here: this test) is alive
    assert subprocess.run(argv, timeout=10).returncode == 0
    assert not out.exists()


def test_exit_command_cleans_up_when_the_stopper_was_killed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv, mark = _argv(tmp_path, out)
    mark.parent.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    mark.write_text(f"{gone.pid}\n")
    assert subprocess.run(argv, timeout=10).returncode == 0
    assert out.read_text() == "ran\n"
