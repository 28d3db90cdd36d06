"""Normalization into the model: defaults, names on the host, long forms, implicit dependencies."""

from __future__ import annotations

from pathlib import Path

from podium.declare.compose import load_project


def load(tmp_path: Path, text: str, **kw):  # noqa: ANN201
    (tmp_path / "compose.yaml").write_text(text)
    kw.setdefault("environ", {})
    kw.setdefault("project_name", "proj")
    return load_project(cwd=str(tmp_path), **kw)


def test_resource_names(tmp_path: Path) -> None:
    p = load(tmp_path, """\
services:
  a:
    image: x
    networks: [plain, named, ext, default]
    volumes: [v1:/1, v2:/2, v3:/3]
    secrets: [s1, s2]
    configs: [c1, c2, c3]
networks:
  plain: {}
  named: {name: custom-net}
  ext: {external: true, name: outside}
  default: {driver_opts: {mtu: 1400}}
volumes:
  v1:
  v2: {name: custom-vol, labels: [a=1]}
  v3: {external: true}
secrets:
  s1: {file: ./s1.txt}
  s2: {environment: TOKEN}
configs:
  c1: {content: hi}
  c2: {external: true}
  c3: {file: /etc/hostname}
""")
    assert {k: (n.name, n.external) for k, n in p.networks.items()} == {
        "default": ("proj_default", False), "ext": ("outside", True), "named": ("custom-net", False),
        "plain": ("proj_plain", False)}
    assert p.networks["default"].driver_opts == {"mtu": "1400"}
    assert {k: (v.name, v.external) for k, v in p.volumes.items()} == {
        "v1": ("proj_v1", False), "v2": ("custom-vol", False), "v3": ("v3", True)}
    assert p.volumes["v2"].labels == {"a": "1"}
    assert p.secrets["s1"].file == str(tmp_path / "s1.txt") and p.secrets["s2"].environment == "TOKEN"
    assert p.secrets["s1"].name == "proj_s1"
    assert (p.configs["c1"].content, p.configs["c2"].name, p.configs["c3"].file) == ("hi", "c2", "/etc/hostname")


def test_secret_and_config_targets(tmp_path: Path) -> None:
    p = load(tmp_path, """\
services:
  a:
    image: x
    secrets:
      - s
      - {source: s, target: renamed}
      - {source: s, target: /abs/path, uid: "1000", gid: "1000", mode: 0440}
      - {source: s, target: /str/mode, mode: "0600"}
    configs:
      - c
      - {source: c, target: etc/app.conf, mode: 292}
secrets:
  s: {file: /dev/null}
configs:
  c: {content: x}
""")
    a = p.services["a"]
    assert [(r.target, r.mode) for r in a.secrets] == [("/run/secrets/s", None), ("/run/secrets/renamed", None),
                                                         ("/abs/path", 0o440), ("/str/mode", 0o600)]
    assert a.secrets[2].uid == "1000"
    assert [(r.target, r.mode) for r in a.configs] == [("/c", None), ("/etc/app.conf", 0o444)]


def test_volume_long_forms(tmp_path: Path) -> None:
    p = load(tmp_path, """\
services:
  a:
    image: x
    volumes:
      - type: bind
        source: ./src
        target: /src/
        read_only: "true"
        bind: {create_host_path: true, propagation: rslave}
      - {type: volume, source: data, target: /data, volume: {nocopy: true, subpath: sub}}
      - {type: tmpfs, target: /tmp, tmpfs: {size: 64m, mode: "1777"}}
      - {type: volume, target: /anon}
volumes:
  data: {}
""")
    v = p.services["a"].volumes
    assert (v[0].type, v[0].source, v[0].target, v[0].read_only) == ("bind", str(tmp_path / "src"), "/src", True)
    assert v[0].bind.create_host_path and v[0].bind.propagation == "rslave"
    assert v[1].volume.nocopy and v[1].volume.subpath == "sub"
    assert (v[2].tmpfs.size, v[2].tmpfs.mode) == (64 * 1024**2, 0o1777)
    assert v[3].source is None


def test_default_network_only_when_needed(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a: {image: x, network_mode: host}\n  b: {image: x, network_mode: none}\n")
    assert p.networks == {} and p.services["a"].networks == {}


def test_implicit_dependencies(tmp_path: Path) -> None:
    p = load(tmp_path, """\
services:
  db: {image: x}
  cache: {image: x}
  data: {image: x}
  app:
    image: x
    network_mode: service:db
    volumes_from: [data:ro]
    links: [cache:redis]
""")
    assert sorted(p.services["app"].depends_on) == ["cache", "data", "db"]
    assert all(d.condition == "service_started" for d in p.services["app"].depends_on.values())


def test_build_defaults(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a:\n    build:\n      dockerfile: Dockerfile.dev\n      args: [A=1, B]\n"
                       "  b:\n    build: https://example.invalid/repo.git#main\n")
    a, b = p.services["a"].build, p.services["b"].build
    assert a.context == str(tmp_path) and a.dockerfile == "Dockerfile.dev" and a.args == {"A": "1", "B": None}
    assert b.context == "https://example.invalid/repo.git#main"


def test_misc_attributes(tmp_path: Path) -> None:
    p = load(tmp_path, """\
services:
  a:
    image: x
    init: "true"
    tty: true
    stdin_open: yes
    privileged: false
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    pids_limit: "100"
    cpus: 1.5
    mem_limit: 1g
    memswap_limit: -1
    user: "1000:1000"
    working_dir: /srv
    hostname: box
    domainname: example.org
    dns: 9.9.9.9
    tmpfs: [/run, /tmp:size=64m]
    sysctls: {net.ipv4.ip_forward: 1}
    extra_hosts: [somehost=162.242.195.82, "otherhost:50.31.209.229"]
    labels: {com.example.x: 1}
    devices: ["/dev/fuse", "/dev/sda:/dev/xvda:rwm"]
    restart: on-failure:3
    healthcheck: {disable: true}
    pull_policy: always
    platform: linux/amd64
    container_name: fixed
""")
    a = p.services["a"]
    assert a.init is True and a.tty and a.stdin_open and not a.privileged
    assert a.stop_grace_period == 90.0 and a.pids_limit == 100 and a.cpus == 1.5
    assert a.mem_limit == 1024**3 and a.memswap_limit == -1
    assert a.dns == ["9.9.9.9"] and a.tmpfs == ["/run", "/tmp:size=64m"]
    assert a.sysctls == {"net.ipv4.ip_forward": "1"}
    assert a.extra_hosts == {"otherhost": ["50.31.209.229"], "somehost": ["162.242.195.82"]}
    assert a.labels == {"com.example.x": "1"}
    assert [(d.source, d.target, d.permissions) for d in a.devices] == [("/dev/fuse", "/dev/fuse", "rwm"),
                                                                        ("/dev/sda", "/dev/xvda", "rwm")]
    assert a.restart == "on-failure:3"
    assert a.healthcheck.disable and a.healthcheck.test == ["NONE"]
    assert (a.pull_policy, a.platform, a.container_name) == ("always", "linux/amd64", "fixed")


def test_healthcheck_none_test_disables(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a:\n    image: x\n    healthcheck:\n      test: [NONE]\n")
    assert p.services["a"].healthcheck.disable


def test_ipam(tmp_path: Path) -> None:
    p = load(tmp_path, """\
services:
  a: {image: x, networks: {n: {ipv4_address: 172.28.0.5, aliases: [api]}}}
networks:
  n:
    ipam:
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
""")
    assert p.networks["n"].ipam.config[0].subnet == "172.28.0.0/16"
    assert p.services["a"].networks["n"].ipv4_address == "172.28.0.5"
