"""Realistic compose projects under tests/compose_cases, loaded end to end.

``webapp/expected.json`` is the normalized project written by hand from the
compose specification's rules (``@CASE@`` stands for the case directory), and
the loader must produce exactly it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from podium.declare.compose import load_project
from tests.conftest import REPO

CASES = Path(__file__).resolve().parent.parent / "compose_cases"


def test_webapp_matches_expected_model() -> None:
    case = CASES / "webapp"
    project = load_project(cwd=str(case), environ={})
    expected = json.loads((case / "expected.json").read_text().replace("@CASE@", str(case)))
    assert project.model_dump(exclude_defaults=True) == expected
    assert project.warnings == []


def test_webapp_profile_environment_and_flags() -> None:
    case = CASES / "webapp"
    project = load_project(cwd=str(case), environ={"WEB_PORT": "9090", "PROJECT": "staging"}, profiles=["debug"])
    assert project.name == "staging"
    assert project.services["web"].ports[0].published == "9090"
    assert sorted(project.services) == ["api", "db", "debug", "migrate", "web"]
    assert project.services["debug"].command == ["sleep", "infinity"]
    assert project.networks["back"].name == "staging_back"


def test_webapp_without_override_file() -> None:
    case = CASES / "webapp"
    project = load_project(["compose.yaml"], cwd=str(case), environ={})
    assert project.services["api"].environment.get("LOG_LEVEL") is None
    assert project.services["api"].ports == []
    assert project.config_files == [str(case / "compose.yaml")]


def test_wordpress_classic_file() -> None:
    case = CASES / "wordpress"
    project = load_project(cwd=str(case), environ={})
    assert project.name == "wordpress"
    db, wp = project.services["db"], project.services["wordpress"]
    assert db.command == ["--default-authentication-plugin=mysql_native_password"]
    assert db.expose == ["3306", "33060"]
    assert db.environment["MYSQL_DATABASE"] == "wordpress"
    assert db.restart == wp.restart == "always"
    assert [(p.published, p.target) for p in wp.ports] == [("80", 80)]
    assert wp.depends_on["db"].condition == "service_started"
    assert {k: v.name for k, v in project.volumes.items()} == {"db_data": "wordpress_db_data",
                                                               "wp_data": "wordpress_wp_data"}
    assert project.networks["default"].name == "wordpress_default"
    assert all(list(s.networks) == ["default"] for s in project.services.values())
    assert any("`version` is obsolete" in w for w in project.warnings)


def test_layered_production_override() -> None:
    case = CASES / "layered"
    project = load_project(["compose.yaml", "compose.prod.yaml"], cwd=str(case), environ={})
    app, cache = project.services["app"], project.services["cache"]
    assert app.build.context == str(case / "app") and app.build.args == {"VERSION": "2.0"}
    assert app.image == "layered/app:2.0"
    assert app.environment == {"MODE": "prod"}
    assert [(p.published, p.target) for p in app.ports] == [("80", 3000)]
    assert app.volumes == []
    assert app.command == ["node", "server.js"]
    assert app.scale == 3 and app.deploy.resources.limits.memory == 512 * 1024**2
    assert cache.tmpfs == ["/data"] and cache.sysctls == {"net.core.somaxconn": "1024"}
    assert cache.command == ["redis-server", "--save", "60", "1"]


@pytest.mark.parametrize("case", ["webapp", "wordpress", "layered"])
def test_dump_is_deterministic(case: str) -> None:
    a = load_project(cwd=str(CASES / case), environ={}).model_dump()
    b = load_project(cwd=str(CASES / case), environ={}).model_dump()
    assert json.dumps(a) == json.dumps(b)
    assert list(a["services"]) == sorted(a["services"])
    assert "environment" not in a and "warnings" not in a


def test_dump_does_not_depend_on_key_order(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a/compose.yaml").write_text(
        "services:\n  z: {image: z, environment: {B: '2', A: '1'}, labels: [y=1, x=2]}\n  a: {image: a}\n")
    (tmp_path / "b/compose.yaml").write_text(
        "services:\n  a: {image: a}\n  z: {labels: {x: '2', y: '1'}, environment: [A=1, B=2], image: z}\n")
    dump_a = load_project(cwd=str(tmp_path / "a"), environ={}, project_name="p").model_dump()
    dump_b = load_project(cwd=str(tmp_path / "b"), environ={}, project_name="p").model_dump()
    for d in (dump_a, dump_b):
        d.pop("working_dir")
        d.pop("config_files")
    assert json.dumps(dump_a) == json.dumps(dump_b)


def test_loading_does_not_import_the_engine_runtime() -> None:
    code = ("import sys\nfrom podium.declare.compose import load_project\n"
            f"load_project(cwd={str(CASES / 'wordpress')!r}, environ={{}})\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('podium.engine'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.split() == ["podium.engine", "podium.engine.errors"]


def test_importing_the_package_is_free() -> None:
    code = ("import sys\nimport podium.declare.compose\n"
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'jsonschema', 'ruamel')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.strip() == ""
