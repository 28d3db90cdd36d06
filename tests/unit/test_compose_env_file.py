"""env_file: string, list, long form with required: false; resolution order with environment."""

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


def web(root: Path, **kw):  # noqa: ANN201
    kw.setdefault("environ", {})
    return load_project(cwd=str(root), **kw).services["web"]


def test_string_form(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: web.env\n",
                     "web.env": "# settings\nA=1\nexport B='two words'\nC=\"multi\nline\"\n"})
    w = web(tmp_path)
    assert w.environment == {"A": "1", "B": "two words", "C": "multi\nline"}
    assert [(e.path, e.required) for e in w.env_file] == [(str(tmp_path / "web.env"), True)]


def test_list_form_later_files_win_and_environment_wins_over_files(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: [a.env, b.env]\n"
                                     "    environment: {C: from-compose}\n",
                     "a.env": "A=a\nB=a\nC=a\n", "b.env": "B=b\n"})
    assert web(tmp_path).environment == {"A": "a", "B": "b", "C": "from-compose"}


def test_long_form_optional_file(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file:\n      - path: base.env\n"
                                     "      - path: local.env\n        required: false\n",
                     "base.env": "A=1\n"})
    w = web(tmp_path)
    assert w.environment == {"A": "1"}
    assert [e.required for e in w.env_file] == [True, False]
    (tmp_path / "local.env").write_text("A=2\n")
    assert web(tmp_path).environment == {"A": "2"}


def test_missing_required_file_is_located(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file:\n      - ok.env\n      - gone.env\n",
                     "ok.env": ""})
    with pytest.raises(ConfigError) as info:
        web(tmp_path)
    assert "gone.env not found" in str(info.value)
    assert info.value.where == "compose.yaml:6:9" and info.value.field == "services.web.env_file[1]"


def test_env_file_relative_to_project_dir(tmp_path: Path) -> None:
    write(tmp_path, {"deploy/compose.yaml": "services:\n  web:\n    image: x\n    env_file: conf/web.env\n",
                     "deploy/conf/web.env": "WHERE=deploy\n"})
    assert web(tmp_path, files=["deploy/compose.yaml"]).environment == {"WHERE": "deploy"}


def test_env_file_values_interpolate_from_project_environment(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: web.env\n",
                     "web.env": "URL=http://${HOST:-localhost}:${PORT}\nRAW='${HOST}'\nINHERIT\n",
                     ".env": "PORT=8080\n"})
    w = web(tmp_path, environ={"INHERIT": "yes"})
    assert w.environment == {"URL": "http://localhost:8080", "RAW": "${HOST}", "INHERIT": "yes"}


def test_environment_bare_names_resolve_from_shell_and_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    environment: [FROM_SHELL, FROM_DOTENV, UNSET]\n",
                     ".env": "FROM_DOTENV=d\n"})
    assert web(tmp_path, environ={"FROM_SHELL": "s"}).environment == {
        "FROM_DOTENV": "d", "FROM_SHELL": "s", "UNSET": None}


def test_values_are_strings(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    environment:\n      BOOL: true\n"
                                     "      INT: 3\n      FLOAT: 1.5\n      EMPTY: ''\n"})
    assert web(tmp_path).environment == {"BOOL": "true", "EMPTY": "", "FLOAT": "1.5", "INT": "3"}


def test_syntax_error_names_the_env_file_line(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: bad.env\n",
                     "bad.env": "OK=1\nNOT OK\n"})
    with pytest.raises(ConfigError) as info:
        web(tmp_path)
    assert info.value.where.endswith("bad.env:2")
