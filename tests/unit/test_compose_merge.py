"""Several -f files merged by the compose specification's merge rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.declare.compose import load_project
from podium.declare.compose.merge import merge_documents
from podium.engine.errors import ConfigError

BASE = """\
services:
  web:
    image: nginx:1
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: /docker-entrypoint.sh
    environment:
      A: base
      B: base
    labels: [tier=front, keep=yes]
    ports:
      - "8080:80"
      - "127.0.0.1:9000:9000"
    expose: ["3000"]
    volumes:
      - data:/data
      - ./conf:/etc/nginx/conf.d:ro
    dns: [1.1.1.1]
    cap_add: [NET_ADMIN]
    extra_hosts: ["db:10.0.0.1"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
      retries: 3
    depends_on: [db]
    networks: [front]
    secrets: [token]
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 100
    logging:
      driver: json-file
      options: {max-size: 10m}
    deploy:
      resources:
        limits: {memory: 64m}
  db:
    image: postgres
networks:
  front:
    labels: {a: "1"}
volumes:
  data: {}
  other: {}
secrets:
  token:
    file: ./token.txt
"""

OVERRIDE = """\
services:
  web:
    image: nginx:2
    command: nginx-debug
    environment:
      - B=override
      - C=new
    labels: {tier: back}
    ports:
      - "8080:80"
      - "8443:443"
    expose: ["3000", "3001"]
    volumes:
      - other:/data
      - ./logs:/var/log/nginx
    dns: [8.8.8.8]
    cap_add: [NET_ADMIN, SYS_TIME]
    extra_hosts: {db: 10.0.0.2, cache: 10.0.0.3}
    healthcheck:
      test: curl -f localhost
      timeout: 2s
    depends_on:
      db: {condition: service_healthy}
    networks:
      back: {aliases: [api]}
    ulimits:
      nofile: 4096
    logging:
      options: {max-file: "3"}
    deploy:
      resources:
        limits: {cpus: "0.5"}
networks:
  back: {}
"""


def load(tmp_path: Path, files: dict[str, str], order: list[str], **kw):  # noqa: ANN201
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    kw.setdefault("environ", {})
    return load_project(order, cwd=str(tmp_path), **kw)


@pytest.fixture()
def merged(tmp_path: Path):  # noqa: ANN201
    return load(tmp_path, {"compose.yaml": BASE, "override.yaml": OVERRIDE}, ["compose.yaml", "override.yaml"])


def test_scalars_replaced(merged) -> None:  # noqa: ANN001
    assert merged.services["web"].image == "nginx:2"


def test_command_and_entrypoint_replaced_not_appended(merged) -> None:  # noqa: ANN001
    web = merged.services["web"]
    assert web.command == ["nginx-debug"]
    assert web.entrypoint == ["/docker-entrypoint.sh"]
    assert web.healthcheck.test == ["CMD-SHELL", "curl -f localhost"]


def test_environment_and_labels_merged_by_key(merged) -> None:  # noqa: ANN001
    web = merged.services["web"]
    assert web.environment == {"A": "base", "B": "override", "C": "new"}
    assert web.labels == {"keep": "yes", "tier": "back"}


def test_ports_appended_and_deduplicated(merged) -> None:  # noqa: ANN001
    ports = [(p.host_ip, p.published, p.target) for p in merged.services["web"].ports]
    assert ports == [(None, "8080", 80), ("127.0.0.1", "9000", 9000), (None, "8443", 443)]


def test_volumes_unique_by_target(merged, tmp_path: Path) -> None:  # noqa: ANN001
    vols = [(v.type, v.source, v.target) for v in merged.services["web"].volumes]
    assert vols == [("volume", "other", "/data"), ("bind", str(tmp_path / "conf"), "/etc/nginx/conf.d"),
                    ("bind", str(tmp_path / "logs"), "/var/log/nginx")]
    assert sorted(merged.volumes) == ["other"]  # "data" is no longer used


def test_string_lists_appended_unique(merged) -> None:  # noqa: ANN001
    web = merged.services["web"]
    assert web.dns == ["1.1.1.1", "8.8.8.8"]
    assert web.cap_add == ["NET_ADMIN", "SYS_TIME"]
    assert web.expose == ["3000", "3001"]


def test_extra_hosts_merged_per_host(merged) -> None:  # noqa: ANN001
    assert merged.services["web"].extra_hosts == {"cache": ["10.0.0.3"], "db": ["10.0.0.1", "10.0.0.2"]}


def test_mappings_merged_recursively(merged) -> None:  # noqa: ANN001
    web = merged.services["web"]
    assert (web.healthcheck.interval, web.healthcheck.timeout, web.healthcheck.retries) == (10.0, 2.0, 3)
    assert web.deploy.resources.limits.memory == 64 * 1024**2 and web.deploy.resources.limits.cpus == 0.5
    assert web.depends_on["db"].condition == "service_healthy"
    assert sorted(web.networks) == ["back", "front"] and web.networks["back"].aliases == ["api"]
    assert web.logging.driver == "json-file" and web.logging.options == {"max-size": "10m", "max-file": "3"}


def test_ulimit_entries_replaced(merged) -> None:  # noqa: ANN001
    u = merged.services["web"].ulimits
    assert (u["nofile"].soft, u["nofile"].hard) == (4096, 4096)
    assert (u["nproc"].soft, u["nproc"].hard) == (100, 100)


def test_top_level_merged(merged) -> None:  # noqa: ANN001
    assert merged.networks["front"].labels == {"a": "1"}
    assert merged.networks["back"].name.endswith("_back")
    assert merged.secrets["token"].file.endswith("token.txt")


def test_order_matters(tmp_path: Path) -> None:
    p = load(tmp_path, {"compose.yaml": BASE, "override.yaml": OVERRIDE}, ["override.yaml", "compose.yaml"])
    assert p.services["web"].image == "nginx:1"
    assert p.services["web"].command == ["nginx", "-g", "daemon off;"]


def test_logging_driver_change_replaces(tmp_path: Path) -> None:
    p = load(tmp_path, {"a.yaml": "services:\n  w:\n    image: x\n    logging: {driver: json-file, options: {a: '1'}}\n",
                        "b.yaml": "services:\n  w:\n    logging: {driver: syslog, options: {b: '2'}}\n"},
             ["a.yaml", "b.yaml"])
    assert p.services["w"].logging.model_dump() == {"driver": "syslog", "options": {"b": "2"}}


def test_reset_and_override(tmp_path: Path) -> None:
    p = load(tmp_path, {"compose.yaml": BASE,
                        "o.yaml": "services:\n  web:\n    ports: !reset []\n    environment:\n      A: !reset null\n"
                                  "    dns: !override [9.9.9.9]\n    cap_add: !reset\n"},
             ["compose.yaml", "o.yaml"])
    web = p.services["web"]
    assert web.ports == [] and web.environment == {"B": "base"}
    assert web.dns == ["9.9.9.9"] and web.cap_add == []


def test_null_override_keeps_base(tmp_path: Path) -> None:
    p = load(tmp_path, {"a.yaml": "services:\n  w:\n    image: x\n    user: nobody\n",
                        "b.yaml": "services:\n  w:\n    user:\n"}, ["a.yaml", "b.yaml"])
    assert p.services["w"].user == "nobody"


def test_env_override_with_bare_name_takes_environment(tmp_path: Path) -> None:
    p = load(tmp_path, {"a.yaml": "services:\n  w:\n    image: x\n    environment: {A: file}\n",
                        "b.yaml": "services:\n  w:\n    environment: [A]\n"}, ["a.yaml", "b.yaml"],
             environ={"A": "shell"})
    assert p.services["w"].environment == {"A": "shell"}


def test_each_file_interpolated_before_merge(tmp_path: Path) -> None:
    p = load(tmp_path, {"a.yaml": "services:\n  w:\n    image: x\n    ports: ['${P}:80']\n",
                        "b.yaml": "services:\n  w:\n    ports: ['${P}:80', '81:81']\n"}, ["a.yaml", "b.yaml"],
             environ={"P": "8000"})
    assert [(x.published, x.target) for x in p.services["w"].ports] == [("8000", 80), ("81", 81)]


def test_error_in_second_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"a.yaml": "services:\n  w:\n    image: x\n", "b.yaml": "services:\n  w:\n    ports: ['x:y']\n"},
             ["a.yaml", "b.yaml"])
    assert info.value.where == "b.yaml:3:13" and info.value.field == "services.w.ports[0]"


def test_merge_documents_does_not_modify_inputs() -> None:
    a = {"services": {"w": {"dns": ["1"], "environment": {"A": "1"}}}}
    b = {"services": {"w": {"dns": ["2"], "environment": {"B": "2"}}}}
    out = merge_documents(a, b)
    assert out == {"services": {"w": {"dns": ["1", "2"], "environment": {"A": "1", "B": "2"}}}}
    assert a == {"services": {"w": {"dns": ["1"], "environment": {"A": "1"}}}}
    assert b == {"services": {"w": {"dns": ["2"], "environment": {"B": "2"}}}}


def test_secrets_unique_by_target() -> None:
    a = {"services": {"w": {"secrets": [{"source": "a"}, {"source": "b", "target": "/x"}]}}}
    b = {"services": {"w": {"secrets": [{"source": "a", "mode": 0o400}, {"source": "c", "target": "/x"}]}}}
    assert merge_documents(a, b)["services"]["w"]["secrets"] == [{"source": "a", "mode": 0o400},
                                                                  {"source": "c", "target": "/x"}]
