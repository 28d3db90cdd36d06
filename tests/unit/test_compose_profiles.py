"""profiles: --profile, COMPOSE_PROFILES, '*', services named explicitly, dependencies pulled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.declare.compose import load_project
from podium.engine.errors import ConfigError

# The compose specification's own example, plus a debug tool that needs a volume.
COMPOSE = """\
services:
  foo:
    image: foo
  bar:
    image: bar
    profiles: [test]
  baz:
    image: baz
    depends_on: [bar]
    profiles: [test]
  zot:
    image: zot
    depends_on: [bar]
    profiles: [debug]
  tool:
    image: tool
    profiles: [tools]
    volumes: [tooldata:/d]
volumes:
  tooldata: {}
"""


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def names(root: Path, **kw) -> list[str]:
    kw.setdefault("environ", {})
    return sorted(load_project(cwd=str(root), **kw).services)


def test_no_profile_only_services_without_profiles(root: Path) -> None:
    p = load_project(cwd=str(root), environ={})
    assert sorted(p.services) == ["foo"]
    assert p.disabled_services == ["bar", "baz", "tool", "zot"]
    assert p.all_profiles == ["debug", "test", "tools"]
    assert p.volumes == {}  # only used by a disabled service


def test_one_profile(root: Path) -> None:
    assert names(root, profiles=["test"]) == ["bar", "baz", "foo"]


def test_dependency_of_an_enabled_service_is_pulled_in(root: Path) -> None:
    # podium pulls bar in for zot (the specification would call this model invalid)
    assert names(root, profiles=["debug"]) == ["bar", "foo", "zot"]


def test_several_profiles(root: Path) -> None:
    assert names(root, profiles=["debug", "test"]) == ["bar", "baz", "foo", "zot"]


def test_all_profiles(root: Path) -> None:
    assert names(root, profiles=["*"]) == ["bar", "baz", "foo", "tool", "zot"]


def test_compose_profiles_variable(root: Path) -> None:
    assert names(root, environ={"COMPOSE_PROFILES": "test, tools"}) == ["bar", "baz", "foo", "tool"]
    # an explicit profile list replaces the variable
    assert names(root, environ={"COMPOSE_PROFILES": "test"}, profiles=[]) == ["foo"]


def test_compose_profiles_from_dotenv(root: Path) -> None:
    (root / ".env").write_text("COMPOSE_PROFILES=tools\n")
    p = load_project(cwd=str(root), environ={})
    assert sorted(p.services) == ["foo", "tool"] and p.profiles == ["tools"]
    assert p.volumes["tooldata"].name.endswith("_tooldata")


def test_explicit_service_enables_its_profiles(root: Path) -> None:
    p = load_project(cwd=str(root), environ={}, services=["baz"])
    assert sorted(p.services) == ["bar", "baz", "foo"]
    assert p.profiles == ["test"]


def test_unknown_explicit_service(root: Path) -> None:
    with pytest.raises(ConfigError, match="no such service: nope"):
        load_project(cwd=str(root), environ={}, services=["nope"])


def test_unknown_profile_is_harmless(root: Path) -> None:
    assert names(root, profiles=["nothing"]) == ["foo"]


def test_profiles_interpolated(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: a\n    profiles: ['${P}']\n")
    assert names(tmp_path, environ={"P": "x"}, profiles=["x"]) == ["a"]
    assert names(tmp_path, environ={"P": "x"}, profiles=[]) == []
