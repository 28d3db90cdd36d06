"""``podium compose up/down/ps/...`` on real containers (runc + conmon + bridge networks).

Each test uses the conftest ``podium`` fixture (a private storage root) and a
compose file from tests/compose_up_cases/, and takes its project down at the end.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import Podium

CASES = Path(__file__).resolve().parent.parent / "compose_up_cases"


@pytest.fixture
def case(tmp_path: Path, podium: Podium, image: str) -> Iterator[Any]:
    """Copy a case directory to a temporary place; take every project down afterwards."""
    used: list[list[str]] = []

    def make(name: str) -> Path:
        d = tmp_path / name
        shutil.copytree(CASES / name, d)
        return d / "compose.yaml"

    def compose(*args: str, check: bool = True, env: dict[str, str] | None = None) -> Any:
        saved = podium.env
        if env:
            podium.env = {**saved, **env}
        try:
            if "up" in args:
                i = args.index("up")
                used.append(list(args[:i]) + ["down", "-v", "-t", "0"])
            return podium("compose", *args, check=check)
        finally:
            podium.env = saved

    yield make, compose
    for down in used:
        podium("compose", *down, check=False)


def ids(podium: Podium) -> dict[str, str]:
    out = podium("ps", "-a", "--format", "json").stdout
    return {c["Names"][0]: c["Id"] for c in json.loads(out or "[]")}


def waited(podium: Podium, name: str) -> int:
    """The exit code of a one-shot container, once it has ended."""
    eng = podium.engine()
    try:
        from podium.engine import lifecycle
        return lifecycle.wait(eng, name)
    finally:
        eng.close()


def compose_ps(compose: Any, f: Path, *glob: str) -> list[dict[str, Any]]:
    return json.loads(compose("-f", str(f), *glob, "ps", "-a", "--format", "json").stdout)


def test_services_reach_each_other_by_name_and_alias(podium: Podium, case: Any) -> None:
    make, compose = case
    f = make("dns")
    compose("-f", str(f), "up", "-d")
    assert waited(podium, "dnsdemo-client-1") == 0
    logs = compose("-f", str(f), "logs", "client").stdout
    assert logs.count("hello from podium") == 2, logs
    assert "client-1  | hello from podium" in logs
    # the web container is on the project's network, with the service name and alias
    nets = json.loads(podium("network", "inspect", "dnsdemo_front").stdout)
    assert nets[0]["name"] == "dnsdemo_front"
    inspect = json.loads(podium("inspect", "dnsdemo-web-1").stdout)[0]
    labels = inspect["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == "dnsdemo"
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert len(labels["com.docker.compose.config-hash"]) == 64
    assert labels["com.docker.compose.project.config_files"] == str(f)
    assert labels["com.docker.compose.project.working_dir"] == str(f.parent)
    # exec by service name
    assert compose("-f", str(f), "exec", "-T", "web", "wget", "-qO-", "http://www/").stdout == "hello from podium\n"


def test_depends_on_waits_for_healthy_and_completed(podium: Podium, case: Any) -> None:
    from podium.engine.timeutil import parse_iso

    make, compose = case
    f = make("depends")
    proc = compose("-f", str(f), "-p", "dep", "up", "-d")
    assert "Container dep-db-1  Healthy" in proc.stderr
    eng = podium.engine()
    try:
        db = eng.containers.get("dep-db-1")
        mig = eng.containers.get("dep-migrate-1")
        app = eng.containers.get("dep-app-1")
    finally:
        eng.close()
    healthy = [e for e in db["state"]["health"]["Log"] if e["ExitCode"] == 0]
    assert healthy, db["state"]["health"]
    app_started = parse_iso(app["state"]["started_at"])
    assert app_started >= parse_iso(healthy[0]["End"]) - 0.01
    assert mig["state"]["status"] == "exited" and mig["state"]["exit_code"] == 0
    assert app_started >= parse_iso(mig["state"]["finished_at"]) - 0.01
    assert app_started >= parse_iso(db["state"]["started_at"]) + 1.0
    assert "migrated" in compose("-f", str(f), "-p", "dep", "logs", "app").stdout
    rows = {r["Service"]: r for r in compose_ps(compose, f, "-p", "dep")}
    assert rows["db"]["Health"] == "healthy"
    assert rows["migrate"]["State"] == "exited"
    # a second up: nothing changes (the completed one-shot is not run again)
    before = ids(podium)
    proc = compose("-f", str(f), "-p", "dep", "up", "-d")
    assert "Created" not in proc.stderr and "Recreated" not in proc.stderr, proc.stderr
    assert ids(podium) == before
    # down -v leaves no container, network or volume of the project
    compose("-f", str(f), "-p", "dep", "down", "-v", "-t", "0")
    assert ids(podium) == {}
    assert "dep_default" not in podium("network", "ls").stdout
    assert "dep_data" not in podium("volume", "ls").stdout


def test_second_up_is_a_noop_and_a_changed_service_alone_is_recreated(podium: Podium, case: Any) -> None:
    make, compose = case
    f = make("converge")
    compose("-f", str(f), "-p", "conv", "up", "-d")
    first = ids(podium)
    assert set(first) == {"conv-web-1", "conv-worker-1"}
    proc = compose("-f", str(f), "-p", "conv", "up", "-d")
    assert ids(podium) == first
    assert "Running" in proc.stderr and "Created" not in proc.stderr
    plan = compose("-f", str(f), "-p", "conv", "up", "--dry-run").stdout
    assert "create" not in plan and "noop web#1" in plan
    compose("-f", str(f), "-p", "conv", "up", "-d", env={"ROLE": "two"})
    second = ids(podium)
    assert second["conv-web-1"] == first["conv-web-1"]
    assert second["conv-worker-1"] != first["conv-worker-1"]
    env = json.loads(podium("inspect", "conv-worker-1").stdout)[0]["Config"]["Env"]
    assert "ROLE=two" in env
    # --force-recreate recreates everything; the network stays
    compose("-f", str(f), "-p", "conv", "up", "-d", "--force-recreate", env={"ROLE": "two"})
    third = ids(podium)
    assert not set(third.values()) & set(second.values())
    compose("-f", str(f), "-p", "conv", "down", "-t", "0")
    assert ids(podium) == {}
    assert "conv_default" not in podium("network", "ls").stdout


def test_project_name_from_flag_and_environment(podium: Podium, case: Any) -> None:
    make, compose = case
    f = make("converge")
    compose("-f", str(f), "-p", "alpha", "up", "-d", "--no-start", "web")
    compose("-f", str(f), "up", "-d", "--no-start", "web", env={"COMPOSE_PROJECT_NAME": "beta"})
    names = set(ids(podium))
    assert names == {"alpha-web-1", "beta-web-1"}
    ls = json.loads(podium("compose", "ls", "-a", "--format", "json").stdout)
    assert [p["Name"] for p in ls] == ["alpha", "beta"]
    compose("-p", "alpha", "down")  # no file needed: the project is found by its labels
    compose("-f", str(f), "down", env={"COMPOSE_PROJECT_NAME": "beta"})
    assert ids(podium) == {}


@pytest.mark.parametrize("name,needle", [
    ("bad_unknown_dep", "depends on undefined service 'database'"),
    ("bad_cycle", "dependency cycle"),
    ("bad_unknown_attr", "services.web.restart_policy: unknown attribute 'restart_policy'"),
    ("bad_wrong_type", "services.web.ports[0]: must be a number, a string or a mapping, not a list"),
    ("bad_required_var", "required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env"),
    ("bad_missing_env_file", "services.api.env_file[0]: env file"),
])
def test_bad_input_is_one_located_line_and_creates_nothing(podium: Podium, case: Any, name: str,
                                                            needle: str) -> None:
    make, compose = case
    f = make(name)
    proc = compose("-f", str(f), "up", "-d", check=False)
    assert proc.returncode == 125
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{f}:" in lines[0] and needle in lines[0], lines[0]
    assert ids(podium) == {}
    assert [ln.split()[1] for ln in podium("network", "ls").stdout.splitlines()[1:]] == ["podium"]


def test_secrets_and_configs_are_read_only_files_with_their_modes(podium: Podium, case: Any) -> None:
    make, compose = case
    f = make("secrets")
    compose("-f", str(f), "-p", "sec", "up", "-d")

    def sh(cmd: str) -> str:
        return compose("-f", str(f), "-p", "sec", "exec", "-T", "app", "sh", "-c", cmd).stdout

    assert sh("cat /run/secrets/db_password") == "s3cret"
    assert sh("cat /app_conf") == "level=info\n"
    modes = sh("stat -c '%n %a' /run/secrets/db_password /etc/pw /app_conf /etc/app.conf").split("\n")
    assert modes[:4] == ["/run/secrets/db_password 444", "/etc/pw 400", "/app_conf 444", "/etc/app.conf 640"]
    proc = compose("-f", str(f), "-p", "sec", "exec", "-T", "app", "sh", "-c", "echo x > /etc/pw", check=False)
    assert proc.returncode != 0


def test_example_webapp(podium: Podium, case: Any) -> None:
    import socket
    import urllib.request

    _make, compose = case
    f = Path(__file__).resolve().parent.parent.parent / "examples" / "compose" / "webapp" / "compose.yaml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"WEB_PORT": str(port)}
    compose("-f", str(f), "up", "-d", env=env)
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
            break
        except OSError:
            import time
            time.sleep(0.1)
    else:
        raise AssertionError("web did not answer")
    assert body == "hello from webapp\n"
    out = compose("-f", str(f), "exec", "-T", "web", "wget", "-qO-", "http://api:8000/", env=env).stdout
    assert out == "hello from webapp\n"
    compose("-f", str(f), "down", "-v", "-t", "0", env=env)
    assert ids(podium) == {}


def test_hosts_dns_groups_and_security_options(podium: Podium, case: Any) -> None:
    make, compose = case
    f = make("hosts_dns")
    compose("-f", str(f), "up", "-d")
    assert waited(podium, "hostsdns-probe-1") == 0
    out = podium("logs", "hostsdns-probe-1").stdout
    assert "10.1.2.3" in out and "db.internal" in out, out
    assert "nameserver 10.9.9.9" in out and "search corp.example" in out and "options ndots:3" in out, out
    assert "1234" in out.splitlines()[-2].split() and out.splitlines()[-1].split() == ["NoNewPrivs:", "1"], out
    assert "not supported" not in podium("compose", "-f", str(f), "config", "-q", check=False).stderr
