"""COPY sources: the context is a boundary (../ and symlinks out are refused); wildcards,
ignore files, the content digest the cache keys on, and writing into a rootfs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from podium.engine.build import context as ctx
from podium.engine.build.ignore import Matcher, parse_patterns
from podium.engine.errors import ConfigError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    c = tmp_path / "ctx"
    (c / "d" / "e").mkdir(parents=True)
    (c / "a.txt").write_text("a")
    (c / "b.txt").write_text("b")
    (c / ".hidden.txt").write_text("h")
    (c / "d" / "f").write_text("f")
    (c / "d" / "e" / "g").write_text("g")
    (tmp_path / "secret").write_text("s")
    os.symlink("/etc", c / "abs")
    os.symlink("../secret", c / "rel")
    os.symlink("d/f", c / "inside")
    os.symlink(str(c / "d"), c / "absinside")
    return c


@pytest.mark.parametrize("word", ["../secret", "d/../../secret", "abs/passwd", "abs", "rel",
                                  "d/../rel"])
def test_escapes_are_refused(tree: Path, word: str) -> None:
    with pytest.raises(ctx.Outside, match="outside the build context"):
        ctx.sources(str(tree), [word], matcher=None, context=True, what="COPY")


def test_symlinks_inside_are_followed(tree: Path) -> None:
    (s,) = ctx.sources(str(tree), ["inside"], matcher=None, context=True, what="COPY")
    assert s.host == os.path.join(os.path.realpath(tree), "d", "f")
    (e,) = ctx.collect([s], matcher=None, dest_is_dir=True)
    assert e.rel == "inside"                     # the link's name, the target's content
    (s,) = ctx.sources(str(tree), ["absinside/e"], matcher=None, context=True, what="COPY")
    assert s.is_dir and s.rel == "d/e"


def test_absolute_source_is_relative_to_the_context(tree: Path) -> None:
    (s,) = ctx.sources(str(tree), ["/a.txt"], matcher=None, context=True, what="COPY")
    assert s.rel == "a.txt"


def test_wildcards_match_dotfiles_and_not_slashes(tree: Path) -> None:
    got = ctx.sources(str(tree), ["*.txt"], matcher=None, context=True, what="COPY")
    assert sorted(s.rel for s in got) == [".hidden.txt", "a.txt", "b.txt"]
    with pytest.raises(ConfigError, match="no file"):
        ctx.sources(str(tree), ["*.nope"], matcher=None, context=True, what="COPY")


def test_ignored_sources(tree: Path) -> None:
    m = Matcher(parse_patterns("a.txt\nd\n!d/e\n"))
    with pytest.raises(ConfigError, match="excluded by"):
        ctx.sources(str(tree), ["a.txt"], matcher=m, context=True, what="COPY")
    (root,) = ctx.sources(str(tree), ["."], matcher=m, context=True, what="COPY")
    rels = [e.rel for e in ctx.collect([root], matcher=m, dest_is_dir=True)]
    assert "a.txt" not in rels and "d/f" not in rels
    assert "d" in rels and "d/e/g" in rels and "b.txt" in rels


def test_remote_sources_refused(tree: Path) -> None:
    with pytest.raises(ConfigError, match="remote sources"):
        ctx.sources(str(tree), ["https://example.com/x"], matcher=None, context=True, what="ADD")


def test_digest_follows_content_mode_and_names(tree: Path) -> None:
    def digest() -> str:
        found = ctx.sources(str(tree), ["d"], matcher=None, context=True, what="COPY")
        return ctx.digest(ctx.collect(found, matcher=None, dest_is_dir=True), keep_owner=True)

    first = digest()
    assert digest() == first
    (tree / "d" / "f").write_text("F")
    second = digest()
    assert second != first
    os.chmod(tree / "d" / "f", 0o600)
    assert digest() != second
    third = digest()
    os.rename(tree / "d" / "f", tree / "d" / "f2")
    assert digest() != third


def test_apply_into_rootfs_stays_inside(tmp_path: Path, tree: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    os.symlink("/etc", rootfs / "link")            # absolute: means the image's /etc
    os.symlink("/tmp/host-file-never", rootfs / "etc" / "trap")
    found = ctx.sources(str(tree), ["a.txt"], matcher=None, context=True, what="COPY")
    entries = ctx.collect(found, matcher=None, dest_is_dir=True)
    ctx.apply(str(rootfs), "/link/", entries, owner=(0, 0), chmod=0o640, tmpdir=str(tmp_path))
    assert (rootfs / "etc" / "a.txt").read_text() == "a"
    assert stat.S_IMODE(os.stat(rootfs / "etc" / "a.txt").st_mode) == 0o640
    entries = ctx.collect(found, matcher=None, dest_is_dir=False)
    ctx.apply(str(rootfs), "/etc/trap", entries, owner=(0, 0), chmod=None, tmpdir=str(tmp_path))
    assert not os.path.exists("/tmp/host-file-never")   # the symlink was replaced, not followed
    assert (rootfs / "etc" / "trap").read_text() == "a"
    found = ctx.sources(str(tree), ["d"], matcher=None, context=True, what="COPY")
    ctx.apply(str(rootfs), "/new/deep", ctx.collect(found, matcher=None, dest_is_dir=True),
              owner=(0, 0), chmod=None, tmpdir=str(tmp_path))
    assert (rootfs / "new" / "deep" / "e" / "g").read_text() == "g"
    assert not (rootfs / "new" / "deep" / "d").exists()  # a directory's contents, not itself


def test_archives_are_recognized(tmp_path: Path) -> None:
    import tarfile

    (tmp_path / "f").write_text("x")
    for name, mode in (("a.tar", "w"), ("a.tgz", "w:gz"), ("a.txz", "w:xz")):
        with tarfile.open(tmp_path / name, mode) as tf:
            tf.add(tmp_path / "f", "f")
        assert ctx.is_archive(str(tmp_path / name))
    assert not ctx.is_archive(str(tmp_path / "f"))
