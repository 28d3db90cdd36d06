"""extends: same file, other files (relative paths from there), chains, cycles, errors."""

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


def test_same_file(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """\
services:
  base:
    image: busybox
    environment: {A: "1", B: "1"}
    ports: ["80"]
    command: sleep 1
  web:
    extends: base
    environment: {B: "2"}
    ports: ["81"]
  short:
    extends:
      service: base
    command: sleep 2
"""})
    p = load(tmp_path)
    web, short = p.services["web"], p.services["short"]
    assert web.image == "busybox" and web.environment == {"A": "1", "B": "2"}
    assert [x.target for x in web.ports] == [80, 81]
    assert web.command == ["sleep", "1"] and short.command == ["sleep", "2"]


def test_chain(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """\
services:
  a: {image: a, labels: {a: "1"}}
  b: {extends: a, labels: {b: "1"}}
  c: {extends: b, labels: {c: "1"}, image: c}
"""})
    c = load(tmp_path).services["c"]
    assert c.image == "c" and c.labels == {"a": "1", "b": "1", "c": "1"}


def test_other_file_with_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, {
        "common/base.yaml": """\
services:
  app:
    build: ./src
    env_file: app.env
    volumes: ["./static:/static"]
    environment:
      FROM_BASE: ${VALUE}
""",
        "common/app.env": "FROM_ENV_FILE=1\n",
        "compose.yaml": """\
services:
  web:
    extends:
      file: common/base.yaml
      service: app
    volumes: ["./data:/data"]
""",
    })
    web = load(tmp_path, environ={"VALUE": "v"}).services["web"]
    assert web.build.context == str(tmp_path / "common/src")
    assert [v.source for v in web.volumes] == [str(tmp_path / "common/static"), str(tmp_path / "data")]
    assert web.env_file[0].path == str(tmp_path / "common/app.env")
    assert web.environment == {"FROM_BASE": "v", "FROM_ENV_FILE": "1"}


def test_other_file_extends_further(tmp_path: Path) -> None:
    write(tmp_path, {
        "a/one.yaml": "services:\n  one:\n    extends: {file: ../b/two.yaml, service: two}\n    user: one\n",
        "b/two.yaml": "services:\n  two:\n    image: two\n    working_dir: /two\n",
        "compose.yaml": "services:\n  web:\n    extends: {file: a/one.yaml, service: one}\n",
    })
    web = load(tmp_path).services["web"]
    assert (web.image, web.user, web.working_dir) == ("two", "one", "/two")


def test_only_the_extended_service_is_taken(tmp_path: Path) -> None:
    write(tmp_path, {
        "base.yaml": "services:\n  app: {image: x}\n  other: {image: y}\n",
        "compose.yaml": "services:\n  web:\n    extends: {file: base.yaml, service: app}\n",
    })
    assert list(load(tmp_path).services) == ["web"]


def test_cycle_in_one_file(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: c\n"
                                     "  c:\n    extends: a\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    msg = str(info.value)
    assert "extends cycle: a (compose.yaml) -> b (compose.yaml) -> c (compose.yaml) -> a (compose.yaml)" in msg
    assert info.value.where == "compose.yaml:3:5"


def test_self_extends(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  a:\n    image: x\n    extends: a\n"})
    with pytest.raises(ConfigError, match=r"extends cycle: a \(compose.yaml\) -> a \(compose.yaml\)"):
        load(tmp_path)


def test_cycle_across_files(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "services:\n  web:\n    extends: {file: other.yaml, service: x}\n",
        "other.yaml": "services:\n  x:\n    extends: {file: compose.yaml, service: web}\n    image: i\n",
    })
    with pytest.raises(ConfigError, match=r"extends cycle: web \(compose.yaml\) -> x \(other.yaml\) -> web \(compose.yaml\)"):
        load(tmp_path)


@pytest.mark.parametrize("files, message, where", [
    ({"compose.yaml": "services:\n  a:\n    extends: nope\n"}, "extends undefined service 'nope'", "compose.yaml:3:5"),
    ({"compose.yaml": "services:\n  a:\n    extends: {file: gone.yaml, service: x}\n"}, "not found", "compose.yaml:3:5"),
    ({"compose.yaml": "services:\n  a:\n    extends: {file: b.yaml, service: x}\n", "b.yaml": "services:\n  y: {image: i}\n"},
     "service 'x' not found in", "compose.yaml:3:5"),
])
def test_errors(tmp_path: Path, files: dict[str, str], message: str, where: str) -> None:
    write(tmp_path, files)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert message in str(info.value) and info.value.where == where


def test_error_in_extended_file_is_located_there(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "services:\n  web:\n    extends: {file: base.yaml, service: app}\n",
        "base.yaml": "services:\n  app:\n    image: x\n    ports: ['nope']\n",
    })
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert info.value.where == "base.yaml:4:13" and info.value.field == "services.app.ports[0]"


def test_normalization_error_is_located_in_base(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  base:\n    image: x\n    restart: sometimes\n  web:\n    extends: base\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "invalid restart policy" in str(info.value)
    assert info.value.where == "compose.yaml:4:5"


def test_extends_with_reset(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  base:\n    image: x\n    ports: ['80']\n"
                                     "  web:\n    extends: base\n    ports: !reset []\n"})
    p = load(tmp_path)
    assert p.services["web"].ports == [] and len(p.services["base"].ports) == 1
