""".containerignore/.dockerignore with Docker's pattern rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.engine.build.ignore import Matcher, load, parse_patterns
from podium.engine.errors import ConfigError


def matcher(text: str) -> Matcher:
    return Matcher(parse_patterns(text))


@pytest.mark.parametrize("patterns, path, excluded", [
    ("*.log", "a.log", True),
    ("*.log", "d/a.log", False),            # anchored at the context root
    ("**/*.log", "d/e/a.log", True),
    ("**/*.log", "a.log", True),            # ** matches zero directories
    ("build", "build/x/y", True),           # a directory excludes what is below
    ("/build/", "build/x", True),           # leading / and trailing / are cleaned
    ("d/*/f", "d/x/f", True),
    ("d/*/f", "d/x/y/f", False),            # * does not cross /
    ("d/**/f", "d/x/y/f", True),
    ("?.txt", "a.txt", True),
    ("?.txt", "ab.txt", False),
    ("[a-c].txt", "b.txt", True),
    ("[!a-c].txt", "b.txt", False),
    ("*.log\n!keep.log", "keep.log", False),
    ("*.log\n!keep.log\nkeep.log", "keep.log", True),  # the last match wins
    ("# comment\n\n  a  ", "a", True),
    ("dir\n!dir/keep", "dir/keep", False),
    ("dir\n!dir/keep", "dir/other", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("**", "anything/at/all", True),
    ("./x/../y", "y", True),
])
def test_patterns(patterns: str, path: str, excluded: bool) -> None:
    assert matcher(patterns).excluded(path) is excluded


def test_exclusion_means_walk_into_excluded_dir() -> None:
    m = matcher("dir\n!dir/keep")
    assert m.may_include_below("dir")
    assert not matcher("dir").may_include_below("dir")


def test_bad_pattern() -> None:
    with pytest.raises(ConfigError):
        parse_patterns("!\n")
    with pytest.raises(ConfigError, match="unclosed"):
        parse_patterns("[abc\n")


def test_containerignore_preferred(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    assert load(str(tmp_path)).excluded("a")
    (tmp_path / ".containerignore").write_text("b\n")
    m = load(str(tmp_path))
    assert m.excluded("b") and not m.excluded("a")
    cf = tmp_path / "My.Containerfile"
    (tmp_path / "My.Containerfile.dockerignore").write_text("c\n")
    assert load(str(tmp_path), str(cf)).excluded("c")
