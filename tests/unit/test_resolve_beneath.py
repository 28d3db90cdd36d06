"""fsutil.resolve_beneath: the one symlink walk behind image paths and build contexts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podium.engine.fsutil import resolve_beneath


class Loop(Exception):
    pass


class Out(Exception):
    pass


def test_chroot_policy_clamps_and_restarts_at_the_root(tmp_path: Path) -> None:
    root = str(tmp_path)
    (tmp_path / "etc").mkdir()
    os.symlink("/etc", tmp_path / "abs")
    os.symlink("../../../etc", tmp_path / "up")
    assert resolve_beneath(root, "/abs/passwd", looped=Loop) == f"{root}/etc/passwd"
    assert resolve_beneath(root, "/up/passwd", looped=Loop) == f"{root}/etc/passwd"
    assert resolve_beneath(root, "/../../x", looped=Loop) == f"{root}/x"


def test_context_policy_refuses_every_way_out(tmp_path: Path) -> None:
    root = str(tmp_path)
    (tmp_path / "d").mkdir()
    os.symlink(str(tmp_path / "d"), tmp_path / "inside")
    os.symlink("/etc", tmp_path / "abs")
    escaped = lambda detail: Out(detail)  # noqa: E731
    assert resolve_beneath(root, "inside/f", looped=Loop, escaped=escaped) == f"{root}/d/f"
    with pytest.raises(Out, match="abs is a symlink to /etc"):
        resolve_beneath(root, "abs/passwd", looped=Loop, escaped=escaped)
    with pytest.raises(Out, match="^$"):
        resolve_beneath(root, "../x", looped=Loop, escaped=escaped)


def test_a_link_loop_raises_looped(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(Loop):
        resolve_beneath(str(tmp_path), "a", looped=Loop)
