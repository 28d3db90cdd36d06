"""A container's changes -> an OCI layer: overlay's whiteouts and opaque dirs become .wh.
files; the copy fallback's diff against the lower tree finds the same changes."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from podium.engine.build.commit import diff_copy, diff_upper, lower_exists, lower_tree
from podium.engine.storage.overlay import copy_layers

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, trusted xattrs)")


def whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def names(tar: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar) as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}


@pytest.fixture
def lowers(tmp_path: Path) -> list[Path]:
    low = tmp_path / "l1"
    (low / "etc").mkdir(parents=True)
    (low / "etc" / "gone").write_text("x")
    (low / "etc" / "keep").write_text("k")
    (low / "opq" / "old").mkdir(parents=True)
    (low / "opq" / "old" / "f").write_text("o")
    (low / "dir" / "sub").mkdir(parents=True)
    (low / "dir" / "sub" / "f").write_text("f")
    top = tmp_path / "l2"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "top").write_text("t")
    return [top, low]   # top first, as overlay's lowerdir


@needs_root
def test_lower_view(lowers: list[Path]) -> None:
    assert lower_exists(lowers, "etc/top") and lower_exists(lowers, "etc/gone")
    assert not lower_exists(lowers, "etc/nope") and not lower_exists(lowers, "proc")
    whiteout(lowers[0] / "etc" / "gone")
    assert not lower_exists(lowers, "etc/gone")
    assert "etc/gone" not in lower_tree(lowers) and "etc/keep" in lower_tree(lowers)


@needs_root
def test_upper_to_layer(tmp_path: Path, lowers: list[Path]) -> None:
    up = tmp_path / "upper"
    (up / "etc").mkdir(parents=True)
    (up / "etc" / "new").write_text("n")
    whiteout(up / "etc" / "gone")
    whiteout(up / "etc" / "never-existed")
    (up / "opq").mkdir()
    os.setxattr(up / "opq", "trusted.overlay.opaque", b"y")
    (up / "opq" / "fresh").write_text("f")
    whiteout(up / "dir")
    (up / "etc" / "hosts").write_text("")          # a mount point the runtime made
    (up / "dev").mkdir()
    (up / "dev" / "null").write_text("")
    (up / "link").symlink_to("/etc/new")
    os.link(up / "etc" / "new", up / "hard")
    out = tmp_path / "layer.tar"
    diff_upper(up, lowers, out)
    got = names(out)
    assert set(got) == {"etc", "etc/new", "etc/.wh.gone", "opq", "opq/.wh..wh..opq", "opq/fresh",
                        ".wh.dir", "link", "hard"}
    assert got["link"].issym() and got["link"].linkname == "/etc/new"
    assert got["hard"].islnk() and got["hard"].linkname == "etc/new"
    assert not any("trusted.overlay" in k for m in got.values() for k in m.pax_headers)


@needs_root
def test_copy_fallback_finds_the_same_changes(tmp_path: Path, lowers: list[Path]) -> None:
    merged = tmp_path / "merged"
    copy_layers(lowers, merged)
    (merged / "etc" / "new").write_text("n")
    (merged / "etc" / "gone").unlink()
    shutil.rmtree(merged / "dir")
    os.chmod(merged / "etc" / "keep", 0o600)
    (merged / "proc").mkdir()
    out = tmp_path / "layer.tar"
    diff_copy(merged, lowers, out)
    assert set(names(out)) == {"etc", "etc/new", "etc/.wh.gone", ".wh.dir", "etc/keep"}


@needs_root
def test_redirected_dirs_need_the_merged_view(tmp_path: Path) -> None:
    from podium.engine.build.commit import needs_merged_view

    up = tmp_path / "upper"
    (up / "renamed").mkdir(parents=True)
    assert not needs_merged_view(up)
    os.setxattr(up / "renamed", "trusted.overlay.redirect", b"/old")
    assert needs_merged_view(up)
