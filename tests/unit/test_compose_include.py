"""include: sub-projects with their own directory and .env, merged resources, conflicts, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.declare.compose import load_project
from podium.engine.errors import ConfigError


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def load(root: Path, **kw):  # noqa: ANN201
    kw.setdefault("environ", {})
    return load_project(cwd=str(root), **kw)


def test_short_syntax(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n",
        "db/compose.yaml": "services:\n  db:\n    image: postgres:${PG}\n    volumes: ['./init:/docker-entrypoint-initdb.d', 'pg:/var/lib/postgresql']\n"
                           "volumes:\n  pg: {}\n",
        "db/.env": "PG=16\n",
    })
    p = load(tmp_path)
    assert sorted(p.services) == ["db", "web"]
    db = p.services["db"]
    assert db.image == "postgres:16"  # the included project's own .env
    assert db.volumes[0].source == str(tmp_path / "db/init")  # relative to the included file
    assert p.volumes["pg"].name == f"{p.name}_pg"


def test_local_environment_overrides_included_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [sub/compose.yaml]\n",
        "sub/compose.yaml": "services:\n  s:\n    image: img:${TAG}\n",
        "sub/.env": "TAG=sub\n",
        ".env": "TAG=local\n",
    })
    assert load(tmp_path).services["s"].image == "img:local"
    assert load(tmp_path, environ={"TAG": "shell"}).services["s"].image == "img:shell"


def test_long_syntax(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include:\n  - path: [parts/a.yaml, parts/a-override.yaml]\n"
                        "    project_directory: parts/root\n    env_file: parts/custom.env\n",
        "parts/a.yaml": "services:\n  a:\n    image: a:${V}\n    volumes: ['./x:/x']\n",
        "parts/a-override.yaml": "services:\n  a:\n    environment: {O: '1'}\n",
        "parts/custom.env": "V=7\n",
        "parts/root/.keep": "",
    })
    a = load(tmp_path).services["a"]
    assert a.image == "a:7" and a.environment == {"O": "1"}
    assert a.volumes[0].source == str(tmp_path / "parts/root/x")


def test_nested_include(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [one/compose.yaml]\n",
        "one/compose.yaml": "include: [../two/compose.yaml]\nservices:\n  one: {image: one}\n",
        "two/compose.yaml": "services:\n  two: {image: two}\n",
    })
    assert sorted(load(tmp_path).services) == ["one", "two"]


def test_identical_definition_is_not_a_conflict(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [sub.yaml]\nservices:\n  s: {image: same}\n",
        "sub.yaml": "services:\n  s: {image: same}\n",
    })
    assert list(load(tmp_path).services) == ["s"]


def test_conflict(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [sub.yaml]\nservices:\n  s:\n    image: mine\n",
        "sub.yaml": "services:\n  s: {image: theirs}\n",
    })
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "service 's' from included file" in str(info.value) and "conflicts" in str(info.value)
    assert info.value.where == "compose.yaml:3:3"


def test_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include: [b.yaml]\nservices:\n  a: {image: a}\n",
                     "b.yaml": "include: [compose.yaml]\n"})
    with pytest.raises(ConfigError, match="include cycle"):
        load(tmp_path)


def test_missing(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include:\n  - nope.yaml\nservices:\n  a: {image: a}\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "included file" in str(info.value) and info.value.where == "compose.yaml:2:5"


def test_included_networks_are_usable(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [net.yaml]\nservices:\n  web:\n    image: w\n    networks: [shared]\n",
        "net.yaml": "networks:\n  shared:\n    driver: bridge\n",
    })
    p = load(tmp_path)
    assert p.networks["shared"].driver == "bridge"
