"""Finding compose files, the project directory, the environment and the project name."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from podium.declare.compose import load_project, normalize_project_name
from podium.declare.compose.discover import discover
from podium.engine.errors import ConfigError

SVC = "services:\n  {name}:\n    image: busybox\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_finds_file_in_parent_directory(tmp_path: Path) -> None:
    write(tmp_path, {"app/compose.yaml": SVC.format(name="web"), "app/sub/deeper/.keep": ""})
    p = load_project(cwd=str(tmp_path / "app/sub/deeper"), environ={})
    assert p.config_files == [str(tmp_path / "app/compose.yaml")]
    assert p.working_dir == str(tmp_path / "app")
    assert p.name == "app"
    assert list(p.services) == ["web"]


def test_default_file_names_in_order_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {"docker-compose.yml": SVC.format(name="old"), "compose.yaml": SVC.format(name="new")})
    p = load_project(cwd=str(tmp_path), environ={})
    assert list(p.services) == ["new"]
    assert any("several compose files" in w for w in p.warnings)


@pytest.mark.parametrize("name", ["compose.yml", "docker-compose.yaml", "docker-compose.yml"])
def test_each_default_name(tmp_path: Path, name: str) -> None:
    write(tmp_path, {name: SVC.format(name="web")})
    assert load_project(cwd=str(tmp_path), environ={}).config_files == [str(tmp_path / name)]


def test_override_file_is_picked_up(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": SVC.format(name="web"),
                     "compose.override.yaml": "services:\n  web:\n    environment: [FROM=override]\n"})
    p = load_project(cwd=str(tmp_path), environ={})
    assert p.config_files == [str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml")]
    assert p.services["web"].environment == {"FROM": "override"}


def test_no_file_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no compose file found"):
        load_project(cwd=str(tmp_path), environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_project(["nope.yaml"], cwd=str(tmp_path), environ={})


def test_compose_file_variable(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": SVC.format(name="a"), "b.yaml": SVC.format(name="b")})
    env = {"COMPOSE_FILE": f"a.yaml{os.pathsep}b.yaml"}
    p = load_project(cwd=str(tmp_path), environ=env)
    assert sorted(p.services) == ["a", "b"]
    env = {"COMPOSE_FILE": "a.yaml,b.yaml", "COMPOSE_PATH_SEPARATOR": ","}
    assert sorted(load_project(cwd=str(tmp_path), environ=env).services) == ["a", "b"]


def test_compose_file_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"other.yaml": SVC.format(name="o"), ".env": "COMPOSE_FILE=other.yaml\n"})
    assert list(load_project(cwd=str(tmp_path), environ={}).services) == ["o"]


def test_explicit_files_win_over_compose_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": SVC.format(name="a"), "b.yaml": SVC.format(name="b")})
    p = load_project(["b.yaml"], cwd=str(tmp_path), environ={"COMPOSE_FILE": "a.yaml"})
    assert list(p.services) == ["b"]


def test_stdin(tmp_path: Path) -> None:
    p = load_project(["-"], cwd=str(tmp_path), environ={"IMG": "alpine"},
                     stdin=io.StringIO("services:\n  web:\n    image: ${IMG}\n"))
    assert p.services["web"].image == "alpine"
    assert p.working_dir == str(tmp_path)
    assert p.config_files == ["-"]


def test_stdin_error_location(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(["-"], cwd=str(tmp_path), environ={}, stdin="services:\n  web:\n    image: 5\n")
    assert info.value.where == "<stdin>:3:5"


def test_project_directory(tmp_path: Path) -> None:
    write(tmp_path, {"files/compose.yaml": "services:\n  web:\n    image: busybox\n    volumes: [./data:/data]\n",
                     "proj/.env": "TAG=1\n"})
    p = load_project(["files/compose.yaml"], project_dir="proj", cwd=str(tmp_path), environ={})
    assert p.working_dir == str(tmp_path / "proj")
    assert p.name == "proj"
    # relative paths in -f files resolve against the project directory
    assert p.services["web"].volumes[0].source == str(tmp_path / "proj/data")
    assert p.environment["TAG"] == "1"


def test_missing_project_directory(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": SVC.format(name="web")})
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(project_dir="nope", cwd=str(tmp_path), environ={})


@pytest.mark.parametrize("raw, normalized", [
    ("myapp", "myapp"), ("My App", "myapp"), ("my.app_v2-x", "myapp_v2-x"), ("__app", "app"),
    ("-x-", "x-"), ("Ünïcode", "ncode"), ("123", "123"), ("!!!", ""),
])
def test_normalize_project_name(raw: str, normalized: str) -> None:
    assert normalize_project_name(raw) == normalized


def test_project_name_precedence(tmp_path: Path) -> None:
    write(tmp_path, {"My Dir/compose.yaml": "name: From_File\n" + SVC.format(name="web")})
    cwd = str(tmp_path / "My Dir")
    assert load_project(cwd=cwd, environ={}).name == "from_file"
    assert load_project(cwd=cwd, environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load_project(cwd=cwd, environ={"COMPOSE_PROJECT_NAME": "fromenv"}, project_name="flag").name == "flag"
    write(tmp_path, {"My Dir/compose.yaml": SVC.format(name="web")})
    assert load_project(cwd=cwd, environ={}).name == "mydir"


def test_project_name_interpolated_and_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "name: ${STAGE}-app\n" + SVC.format(name="web"), ".env": "STAGE=Dev\n"})
    assert load_project(cwd=str(tmp_path), environ={}).name == "dev-app"
    write(tmp_path, {".env": "STAGE=x\nCOMPOSE_PROJECT_NAME=dotenvname\n"})
    assert load_project(cwd=str(tmp_path), environ={}).name == "dotenvname"


@pytest.mark.parametrize("bad", ["Caps", "has space", "-dash", "dot.ted"])
def test_explicit_project_name_must_be_valid(tmp_path: Path, bad: str) -> None:
    write(tmp_path, {"compose.yaml": SVC.format(name="web")})
    with pytest.raises(ConfigError, match="invalid project name"):
        load_project(cwd=str(tmp_path), environ={}, project_name=bad)
    with pytest.raises(ConfigError, match="COMPOSE_PROJECT_NAME"):
        load_project(cwd=str(tmp_path), environ={"COMPOSE_PROJECT_NAME": bad})


def test_unusable_directory_name(tmp_path: Path) -> None:
    write(tmp_path, {"___/compose.yaml": SVC.format(name="web")})
    with pytest.raises(ConfigError, match="cannot derive a project name"):
        load_project(cwd=str(tmp_path / "___"), environ={})


def test_env_precedence(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: busybox:${TAG}\n",
                     ".env": "TAG=dotenv\n", "other.env": "TAG=other\n", "third.env": "TAG=third\n"})
    cwd = str(tmp_path)
    assert load_project(cwd=cwd, environ={}).services["web"].image == "busybox:dotenv"
    assert load_project(cwd=cwd, environ={"TAG": "shell"}).services["web"].image == "busybox:shell"
    # --env-file replaces .env; several: later wins
    assert load_project(cwd=cwd, environ={}, env_files=["other.env"]).services["web"].image == "busybox:other"
    assert load_project(cwd=cwd, environ={}, env_files=["other.env", "third.env"]).services["web"].image == "busybox:third"
    assert load_project(cwd=cwd, environ={"TAG": "shell"}, env_files=["other.env"]).services["web"].image == "busybox:shell"
    with pytest.raises(ConfigError, match="env file .* not found"):
        load_project(cwd=cwd, environ={}, env_files=["missing.env"])


def test_discover_dotenv_next_to_first_file(tmp_path: Path) -> None:
    write(tmp_path, {"sub/compose.yaml": SVC.format(name="web"), "sub/.env": "X=1\n"})
    d = discover(["sub/compose.yaml"], cwd=str(tmp_path), environ={})
    assert d.project_dir == str(tmp_path / "sub")
    assert d.env_files == [str(tmp_path / "sub/.env")]
    assert d.environment == {"X": "1"}


def test_dotenv_of_a_project_found_in_a_parent(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: busybox:${TAG}\n", ".env": "TAG=parent\n",
                     "sub/.keep": ""})
    p = load_project(cwd=str(tmp_path / "sub"), environ={})
    assert p.services["web"].image == "busybox:parent"


def test_project_directory_is_where_default_files_are_found(tmp_path: Path) -> None:
    write(tmp_path, {"proj/compose.yaml": SVC.format(name="web"), "elsewhere/.keep": ""})
    p = load_project(project_dir=str(tmp_path / "proj"), cwd=str(tmp_path / "elsewhere"), environ={})
    assert p.config_files == [str(tmp_path / "proj/compose.yaml")]
    assert p.name == "proj"
