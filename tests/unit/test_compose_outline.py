"""The outline load: the same checked document as load_project, no pydantic model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from podium.declare.compose import up as upmod
from podium.declare.compose.load import load_outline, load_project
from podium.engine.errors import ConfigError

COMPOSE = """\
name: shop
services:
  db:
    image: busybox
  cache:
    image: busybox
    profiles: [extra]
  web:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, required: false}
  side:
    image: busybox
    network_mode: service:web
"""


def _write(tmp_path: Path, text: str = COMPOSE) -> str:
    f = tmp_path / "compose.yaml"
    f.write_text(text)
    return str(f)


def test_outline_has_every_service_and_its_dependencies(tmp_path: Path) -> None:
    o = load_outline([_write(tmp_path)], environ={})
    assert o.name == "shop" and o.working_dir == str(tmp_path)
    assert sorted(o.services) == ["cache", "db", "side", "web"]  # profiles do not hide a service
    assert sorted(o.services["web"].depends_on) == ["cache", "db"]
    assert o.services["side"].network_mode == "service:web"


def test_outline_stops_in_the_same_order_as_the_full_project(tmp_path: Path) -> None:
    f = _write(tmp_path)
    full = load_project([f], environ={}, profiles=["extra"])
    light = load_outline([f], environ={})
    cs = [{"id": n, "name": f"shop-{n}-1", "config": {"labels": {"com.docker.compose.service": n}}}
          for n in ("db", "cache", "web", "side")]
    names = lambda levels: [[c["name"] for c in level] for level in levels]  # noqa: E731
    assert names(upmod.dependents_first(light, cs)) == names(upmod.dependents_first(full, cs))
    assert names(upmod.dependents_first(light, cs))[0] == ["shop-side-1"]


def test_outline_refuses_what_load_project_refuses(tmp_path: Path) -> None:
    f = _write(tmp_path, "services:\n  web:\n    image: busybox\n    ports: [[1]]\n")
    with pytest.raises(ConfigError) as full:
        load_project([f], environ={})
    with pytest.raises(ConfigError) as light:
        load_outline([f], environ={})
    assert str(light.value) == str(full.value)


def test_outline_load_imports_no_pydantic(tmp_path: Path) -> None:
    f = _write(tmp_path)
    code = ("import sys; from podium.declare.compose.load import load_outline; "
            "from podium.declare.compose import up; "
            f"load_outline([{f!r}], environ={{}}); "
            "print(sorted(m for m in ('pydantic', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
