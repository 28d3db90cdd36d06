"""rmtree for container directories: no symlink following, stays on one filesystem."""

from __future__ import annotations

import os
from pathlib import Path

from podium.engine.fsutil import rmtree


def test_rmtree_removes_tree_but_not_symlink_targets(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("y")
    os.symlink(outside, tree / "link")
    os.symlink(outside / "keep", tree / "a" / "filelink")
    rmtree(tree)
    assert not tree.exists()
    assert (outside / "keep").read_text() == "x"


def test_rmtree_missing_is_fine(tmp_path: Path) -> None:
    rmtree(tmp_path / "nope")
    f = tmp_path / "file"
    f.write_text("z")
    rmtree(f)
    assert not f.exists()
