"""Bad input: one clear line per problem naming file:line:column and the field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.declare.compose import load_project
from podium.engine.errors import ConfigError


def fail(tmp_path: Path, text: str, **kw) -> ConfigError:
    (tmp_path / "compose.yaml").write_text(text)
    kw.setdefault("environ", {})
    with pytest.raises(ConfigError) as info:
        load_project(cwd=str(tmp_path), **kw)
    return info.value


@pytest.mark.parametrize("text, where, field, message", [
    # unknown attribute
    ("services:\n  web:\n    image: x\n    imgae: y\n", "compose.yaml:4:5", "services.web.imgae",
     "unknown attribute 'imgae' (not in the compose specification)"),
    ("servics:\n  web: {}\n", "compose.yaml:1:1", "servics", "unknown attribute 'servics'"),
    # wrong types
    ("services:\n  web:\n    image: 5\n", "compose.yaml:3:5", "services.web.image", "must be a string, not an integer"),
    ("services:\n  web:\n    image: x\n    ports: 80\n", "compose.yaml:4:5", "services.web.ports",
     "must be a list, not an integer"),
    ("services:\n  web:\n    image: x\n    ports:\n      - [80]\n", "compose.yaml:5:9", "services.web.ports[0]",
     "must be a number, a string or a mapping, not a list"),
    ("services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        publish: 8080\n", "compose.yaml:6:9",
     "services.web.ports[0].publish", "unknown attribute 'publish'"),
    ("services:\n  web:\n    image: x\n    environment: 3\n", "compose.yaml:4:5", "services.web.environment",
     "must be a mapping or a list, not an integer"),
    ("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        required: false\n", "compose.yaml:5:7",
     "services.web.depends_on.db", "missing required attribute 'condition'"),
    ("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: started\n", "compose.yaml:6:9",
     "services.web.depends_on.db.condition",
     "must be one of service_started, service_healthy, service_completed_successfully, not 'started'"),
    ("services:\n  web:\n    image: x\n    networks: [a, a]\n", "compose.yaml:4:5", "services.web.networks",
     "contains duplicate entries"),
    ("services:\n  web:\n    image: x\n    pull_policy: sometimes\n", "compose.yaml:4:5", "services.web.pull_policy",
     "invalid value 'sometimes'"),
    ("services:\n  my web:\n    image: x\n", "compose.yaml:2:3", "services.my web", "invalid name 'my web'"),
    ("services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD, true]\n", "compose.yaml:5:19",
     "services.web.healthcheck.test[1]", "must be a string, not a boolean"),
    ("services:\n  web:\n    image: x\n    volumes:\n      - type: volum\n        target: /x\n", "compose.yaml:5:9",
     "services.web.volumes[0].type", "must be one of bind, volume"),
])
def test_schema_errors(tmp_path: Path, text: str, where: str, field: str, message: str) -> None:
    err = fail(tmp_path, text)
    assert err.where == where
    assert err.field == field
    assert message in str(err)
    assert str(err).startswith(f"{where}: {field}: ")


def test_every_problem_on_its_own_line(tmp_path: Path) -> None:
    err = fail(tmp_path, "services:\n  web:\n    image: 1\n    bogus: 2\n  db:\n    command: 3\n")
    lines = str(err).splitlines()
    assert lines == [
        "compose.yaml:3:5: services.web.image: must be a string, not an integer",
        "compose.yaml:4:5: services.web.bogus: unknown attribute 'bogus' (not in the compose specification)",
        "compose.yaml:6:5: services.db.command: must be null, a string or a list, not an integer",
    ]
    assert len(err.errors) == 3  # type: ignore[attr-defined]


def test_extension_fields_are_allowed(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("x-top: 1\nservices:\n  web:\n    image: x\n    x-note: hi\n"
                                           "    ports:\n      - target: 80\n        x-port: 1\n")
    p = load_project(cwd=str(tmp_path), environ={})
    assert p.services["web"].ports[0].target == 80


@pytest.mark.parametrize("text, where, field, message", [
    ("services:\n  web:\n    image: x\n    depends_on: [db]\n", "compose.yaml:4:18", "services.web.depends_on.db",
     "depends on undefined service 'db'"),
    ("services:\n  web:\n    image: x\n    networks: [back]\n", "compose.yaml:4:16", "services.web.networks.back",
     "undefined network 'back'"),
    ("services:\n  web:\n    image: x\n    volumes: ['data:/d']\n", "compose.yaml:4:15", "services.web.volumes[0]",
     "undefined volume 'data'"),
    ("services:\n  web:\n    image: x\n    secrets: [token]\n", "compose.yaml:4:15", "services.web.secrets[0]",
     "undefined secret 'token'"),
    ("services:\n  web:\n    image: x\n    configs: [conf]\n", "compose.yaml:4:15", "services.web.configs[0]",
     "undefined config 'conf'"),
    ("services:\n  web:\n    command: x\n", "compose.yaml:2:3", "services.web", "neither an image nor a build context"),
    ("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n", "compose.yaml:4:5",
     "services.web.network_mode", "both network_mode and networks"),
    ("services:\n  web:\n    image: x\n    network_mode: service:db\n", "compose.yaml:2:3", "services.web",
     "undefined service 'db'"),
    ("services:\n  web:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n", "compose.yaml:4:5",
     "services.web.scale", "sets scale 2 and deploy.replicas 3"),
    ("services:\n  web:\n    image: x\n    restart: sometimes\n", "compose.yaml:4:5", "services.web.restart",
     "invalid restart policy 'sometimes'"),
    ("services:\n  web:\n    image: x\n    healthcheck:\n      test: [RUN, x]\n", "compose.yaml:5:7",
     "services.web.healthcheck.test", "must start with CMD, CMD-SHELL or NONE"),
    ("services:\n  web:\n    image: x\n    healthcheck:\n      interval: 10\n", "compose.yaml:5:7",
     "services.web.healthcheck.interval", "must be a string"),
    ("services:\n  web:\n    image: x\n    healthcheck:\n      interval: ten\n", "compose.yaml:5:7",
     "services.web.healthcheck.interval", "invalid duration 'ten'"),
    ("services:\n  web:\n    image: x\n    mem_limit: lots\n", "compose.yaml:4:5", "services.web.mem_limit",
     "invalid size 'lots'"),
    ("services:\n  web:\n    image: x\n    ports: ['80:x']\n", "compose.yaml:4:13", "services.web.ports[0]",
     "invalid container port"),
    ("services:\n  web:\n    image: x\n    command: \"echo 'oops\"\n", "compose.yaml:4:5", "services.web.command",
     "cannot split"),
    ("services:\n  web:\n    image: x\n    ulimits:\n      nofile: {soft: 20, hard: 10}\n", "compose.yaml:5:7",
     "services.web.ulimits.nofile", "soft limit 20 is above hard limit 10"),
    ("services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {}\n", "compose.yaml:6:3", "secrets.s",
     "needs exactly one of file or environment"),
])
def test_model_errors(tmp_path: Path, text: str, where: str, field: str, message: str) -> None:
    err = fail(tmp_path, text)
    assert (err.where, err.field) == (where, field)
    assert message in str(err)


def test_depends_on_cycle_is_named(tmp_path: Path) -> None:
    err = fail(tmp_path, "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n"
                         "  c:\n    image: x\n    depends_on: [a]\n")
    assert "dependency cycle: a -> b -> c -> a" in str(err)
    assert err.where == "compose.yaml:10:18"


def test_self_dependency(tmp_path: Path) -> None:
    assert "depends on itself" in str(fail(tmp_path, "services:\n  a:\n    image: x\n    depends_on: [a]\n"))


def test_optional_missing_dependency_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n    depends_on:\n"
                                           "      b: {condition: service_started, required: false}\n")
    p = load_project(cwd=str(tmp_path), environ={})
    assert p.services["a"].depends_on == {}
    assert any("optional dependency 'b'" in w for w in p.warnings)


def test_unsupported_attributes_are_named_in_warnings(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("version: '3.8'\nservices:\n  a:\n    image: x\n    gpus: all\n"
                                           "    develop: {watch: []}\n")
    p = load_project(cwd=str(tmp_path), environ={})
    text = "\n".join(p.warnings)
    assert "compose.yaml:5:5: service 'a': 'gpus' is not supported by podium and is ignored" in text
    assert "'develop' is not supported" in text
    assert "compose.yaml:1:1: the attribute `version` is obsolete" in text


def test_required_variable_message(tmp_path: Path) -> None:
    err = fail(tmp_path, "services:\n  web:\n    image: ${IMAGE:?set IMAGE to the image to run}\n")
    assert str(err) == ("compose.yaml:3:5: services.web.image: required variable IMAGE is missing a value: "
                        "set IMAGE to the image to run")


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    assert "must be a mapping" in str(fail(tmp_path, "- a\n- b\n"))


def test_empty_file(tmp_path: Path) -> None:
    assert "empty compose file" in str(fail(tmp_path, "# nothing\n"))
