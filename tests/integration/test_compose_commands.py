"""The compose commands beyond up -d/down, on real containers: attached ``up`` (prefixed
logs, --abort-on-container-exit, --exit-code-from, SIGTERM), ``--wait``, ``--scale``,
``--no-deps``, ``--no-recreate``, ``--remove-orphans``, parallel start, ``run``, ``kill``,
``pause``/``unpause`` (and the engine's ``podium pause``), ``top``, ``port``, ``images``,
``pull``, ``version``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import PODIUM, REPO, Podium

CASES = Path(__file__).resolve().parent.parent / "compose_up_cases"

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def proj(tmp_path: Path, podium: Podium, image: str) -> Iterator[Any]:
    """(compose runner bound to one case's copy, its directory); the project goes down at the end."""
    made: list[list[str]] = []

    def make(name: str, project: str) -> Any:
        d = tmp_path / name
        shutil.copytree(CASES / name, d)
        glob = ["-f", str(d / "compose.yaml"), "-p", project]
        made.append(glob)

        def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
            return podium("compose", *glob, *args, check=check)
        compose.dir = d  # type: ignore[attr-defined]
        compose.glob = glob  # type: ignore[attr-defined]
        return compose

    yield make
    for glob in made:
        podium("compose", *glob, "--profile", "*", "down", "-v", "-t", "0", check=False)


def ps(compose: Any, *args: str) -> list[dict[str, Any]]:
    return json.loads(compose("ps", "-a", "--format", "json", *args).stdout)


def states(compose: Any) -> dict[str, tuple[str, int]]:
    return {r["Name"]: (r["State"], r["ExitCode"]) for r in ps(compose)}


def test_attached_up_multiplexes_logs_and_returns_the_exit_code_from(podium: Podium, proj: Any) -> None:
    compose = proj("attached", "att")
    t0 = time.monotonic()
    proc = compose("up", "--exit-code-from", "job", check=False)
    assert proc.returncode == 3, proc.stderr
    out = proc.stdout
    assert "job-1     | job starting" in out and "job-1     | job done" in out, out
    assert "server-1  | server ready" in out
    assert "job-1 exited with code 3" in out
    assert "server-1  | server stopping" in out  # the others were stopped gracefully
    assert "Attaching to job-1, server-1" in proc.stderr
    assert "Aborting on container exit..." in proc.stderr
    assert states(compose) == {"att-job-1": ("exited", 3), "att-server-1": ("exited", 0)}
    assert time.monotonic() - t0 < 60
    # again: the containers are started anew and only this run's output is shown
    proc = compose("up", "--abort-on-container-exit", check=False)
    assert proc.returncode == 3
    assert proc.stdout.count("job starting") == 1, proc.stdout
    # -d and --abort-on-container-exit do not go together
    bad = compose("up", "-d", "--abort-on-container-exit", check=False)
    assert bad.returncode == 125 and "cannot be combined" in bad.stderr


def test_attached_up_stops_the_project_on_sigterm(podium: Podium, proj: Any) -> None:
    compose = proj("attached", "sig")
    p = subprocess.Popen([*PODIUM, "compose", *compose.glob, "up", "server"], env=podium.env, cwd=str(REPO),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + 60
        seen = ""
        while "server ready" not in seen and time.monotonic() < deadline:
            seen += p.stdout.readline()
        assert "server-1  | server ready" in seen, seen
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, err
    assert "Gracefully stopping" in err
    assert "server-1  | server stopping" in out
    assert states(compose) == {"sig-server-1": ("exited", 0)}  # job was not named: not started


def test_wait_fails_after_its_timeout_naming_the_service(podium: Podium, proj: Any) -> None:
    compose = proj("ops", "wt")
    t0 = time.monotonic()
    proc = compose("--profile", "sick", "up", "--wait", "--wait-timeout", "2", check=False)
    assert proc.returncode == 125
    assert time.monotonic() - t0 >= 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "service 'sick'" in errors[0] and "within 2s" in errors[0], proc.stderr
    # the healthy rest is up: --wait on the services without a check succeeds at once
    ok = compose("up", "--wait", "--wait-timeout", "30", "web")
    assert "Container wt-web-1  Running" in ok.stderr


def test_independent_services_start_in_parallel(podium: Podium, proj: Any) -> None:
    from podium.engine.timeutil import parse_iso

    compose = proj("parallel", "par")
    compose("up", "-d")
    eng = podium.engine()
    try:
        db, app, zeta = (eng.containers.get(f"par-{s}-1") for s in ("slowdb", "app", "zeta"))
    finally:
        eng.close()
    healthy = [e for e in db["state"]["health"]["Log"] if e["ExitCode"] == 0][0]
    # zeta sorts after app, yet it did not wait behind app's wait for slowdb
    assert parse_iso(zeta["state"]["started_at"]) < parse_iso(healthy["End"])
    assert parse_iso(app["state"]["started_at"]) >= parse_iso(healthy["End"]) - 0.01


def test_scale_no_deps_no_recreate_and_orphans(podium: Podium, proj: Any) -> None:
    compose = proj("ops", "sc")
    compose("up", "-d", "--scale", "worker=3")
    assert sorted(states(compose)) == ["sc-web-1", "sc-worker-1", "sc-worker-2", "sc-worker-3"]
    ids = {r["Name"]: r["ID"] for r in ps(compose)}
    out = compose("up", "-d", "--scale", "worker=1").stderr
    assert "sc-worker-3  Removed" in out and "sc-worker-2  Removed" in out
    assert {r["Name"]: r["ID"] for r in ps(compose)} == {k: ids[k] for k in ("sc-web-1", "sc-worker-1")}
    bad = compose("up", "-d", "--scale", "worker=two", check=False)
    assert bad.returncode == 125 and "SERVICE=NUM" in bad.stderr
    # --no-recreate keeps a changed service's container; a plain up recreates it alone
    f = compose.dir / "compose.yaml"
    f.write_text(f.read_text().replace("command: sleep 1000", "command: sleep 1001"))
    compose("up", "-d", "--no-recreate")
    assert {r["Name"]: r["ID"] for r in ps(compose)}["sc-worker-1"] == ids["sc-worker-1"]
    compose("up", "-d")
    now = {r["Name"]: r["ID"] for r in ps(compose)}
    assert now["sc-web-1"] == ids["sc-web-1"] and now["sc-worker-1"] != ids["sc-worker-1"]
    # a service gone from the file is an orphan: warned about, removed with --remove-orphans
    f.write_text(f.read_text().replace("  worker:", "  renamed:"))
    out = compose("up", "-d", "web").stderr
    assert "orphan container (sc-worker-1)" in out
    out = compose("up", "-d", "--remove-orphans", "web").stderr
    assert "sc-worker-1  Removed" in out
    # --no-deps: only the named service, not what it depends on
    compose("down", "-t", "0")
    compose("up", "-d", "--no-deps", "renamed")
    assert sorted(states(compose)) == ["sc-renamed-1"]


def test_run_makes_one_off_containers(podium: Podium, proj: Any) -> None:
    compose = proj("oneoff", "one")
    proc = compose("run", "--rm", "-e", "EXTRA=1", "tool", "sh", "-c",
                   "echo $EXTRA $FROM_FILE; wget -qO- http://db:5432/")
    assert proc.stdout == "1 yes-from-file\nhello from podium\n", proc.stderr
    assert sorted(states(compose)) == ["one-db-1"]  # the dependency is up; the --rm one-off is gone
    assert [n for n in podium("ps", "-a", "--format", "{{.Names}}").stdout.split() if "-run-" in n] == []
    code = compose("run", "--rm", "--entrypoint", "sh -c 'exit 7'", "tool", check=False)
    assert code.returncode == 7
    cid = compose("run", "-d", "--name", "one-tool-manual", "tool", "sleep", "100").stdout.strip()
    info = json.loads(podium("inspect", cid).stdout)[0]
    assert info["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"
    assert info["Config"]["Labels"]["com.docker.compose.service"] == "tool"
    assert not info["NetworkSettings"]["Ports"]  # service ports only with --service-ports
    assert "one-tool-manual" not in states(compose)  # ps leaves one-offs out, as up's plan does
    cid2 = compose("run", "-d", "--service-ports", "tool", "sleep", "100").stdout.strip()
    assert json.loads(podium("inspect", cid2).stdout)[0]["NetworkSettings"]["Ports"]
    compose("down", "-t", "0")
    assert podium("ps", "-aq").stdout.split() == []  # down takes the one-offs too
    compose("run", "--rm", "--no-deps", "tool", "true")
    assert states(compose) == {}


def test_kill_pause_unpause_top_port_images_pull_version(podium: Podium, proj: Any) -> None:
    compose = proj("ops", "ops")
    compose("up", "-d")
    addr = compose("port", "web", "80").stdout.strip()
    assert addr.startswith("127.0.0.1:")
    assert urllib.request.urlopen(f"http://{addr}/", timeout=5).read() == b"hello from podium\n"
    assert compose("port", "web", "81", check=False).returncode == 125
    top = compose("top", "web").stdout
    assert "ops-web-1" in top and "httpd -f -p 80" in top
    images = json.loads(compose("images", "--format", "json").stdout)
    assert {(i["ContainerName"], i["Repository"], i["Tag"]) for i in images} == {
        ("ops-web-1", "busybox", "latest"), ("ops-worker-1", "busybox", "latest")}
    # pause freezes the processes (runc pause), unpause thaws them
    compose("pause", "worker")
    assert states(compose)["ops-worker-1"][0] == "paused"
    busy = podium("exec", "ops-worker-1", "true", check=False)
    assert busy.returncode != 0 and "paused" in busy.stderr
    again = podium("pause", "ops-worker-1", check=False)
    assert again.returncode == 125 and "cannot pause" in again.stderr
    compose("unpause")
    assert states(compose)["ops-worker-1"][0] == "running"
    podium("pause", "ops-web-1")
    podium("unpause", "ops-web-1")
    assert urllib.request.urlopen(f"http://{addr}/", timeout=5).read() == b"hello from podium\n"
    # a paused container still stops (it is thawed first)
    compose("pause", "worker")
    compose("stop", "-t", "5", "worker")
    assert states(compose)["ops-worker-1"] == ("exited", 143)
    compose("kill", "-s", "TERM", "web")
    deadline = time.monotonic() + 30
    while states(compose)["ops-web-1"][0] != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert compose("version", "--short").stdout.strip()
    # (pulling from a registry: test_build_and_pull; nothing here may reach out to docker.io)
    f = compose.dir / "compose.yaml"
    f.write_text(f.read_text().replace("image: busybox\n    init: true\n    command: sleep 1000",
                                       "image: localhost/not-here:1\n    init: true\n    command: sleep 1000", 1))
    missing = compose("pull", "worker", check=False)
    assert missing.returncode != 0 and "localhost/not-here:1" in missing.stderr
    f.write_text(f.read_text().replace("localhost/not-here:1", "localhost/busybox"))
    assert "Image localhost/busybox  Skipped (a local image)" in compose("pull", "worker").stderr


def test_build_and_pull(podium: Podium, proj: Any, tmp_path: Path) -> None:
    from tests.registry_server import Registry, _need_registry

    compose = proj("built", "bld")
    out = compose("build").stderr
    assert "Image bld-app  Built" in out and "Image localhost/built-tool:1  Built" in out, out
    images = podium("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "localhost/bld-app:latest" in images and "localhost/built-tool:1" in images
    proc = compose("up", "-d")
    assert "Building" not in proc.stderr  # present now: up does not build again
    deadline = time.monotonic() + 30
    while states(compose).get("bld-app-1", ("", 0))[0] != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert states(compose)["bld-app-1"] == ("exited", 0)
    logs = compose("logs").stdout
    assert "app-1   | hello from the build" in logs and "tool-1  | tool image" in logs, logs
    # pull: an image in a real registry on 127.0.0.1, allowed over plain HTTP by registries.conf
    _need_registry()
    reg = Registry().start()
    try:
        conf = tmp_path / "registries.conf"
        conf.write_text(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
        podium.env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
        podium.env["REGISTRY_AUTH_FILE"] = str(tmp_path / "auth.json")
        ref = f"{reg.host}/lib/busybox:1"
        podium("push", "--tls-verify=false", "busybox", ref)
        f = tmp_path / "pulled" / "compose.yaml"
        f.parent.mkdir()
        f.write_text(f"services:\n  web:\n    image: {ref}\n    init: true\n    command: httpd -f -p 80 -h /www\n")
        pulled = podium("compose", "-f", str(f), "-p", "pul", "pull")
        assert f"Image {ref}  Pulled" in pulled.stderr, pulled.stderr
        assert ref in podium("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
        podium("rmi", ref)
        up = podium("compose", "-f", str(f), "-p", "pul", "up", "-d", "--wait")  # a missing image is pulled
        assert "Container pul-web-1  Running" in up.stderr
        podium("compose", "-f", str(f), "-p", "pul", "down", "-t", "0")
    finally:
        reg.cleanup()


def test_depends_on_restart_true_restarts_the_dependent(podium: Podium, proj: Any) -> None:
    compose = proj("restart_dep", "rd")
    compose("up", "-d")
    before = {r["Name"]: r for r in ps(compose)}
    eng = podium.engine()
    try:
        started = eng.containers.get("rd-api-1")["state"]["started_at"]
    finally:
        eng.close()
    podium.env["DB_VERSION"] = "2"
    try:
        out = compose("up", "-d").stderr
    finally:
        del podium.env["DB_VERSION"]
    assert "Container rd-db-1  Recreated" in out and "Container rd-api-1  Restarted" in out, out
    after = {r["Name"]: r for r in ps(compose)}
    assert after["rd-db-1"]["ID"] != before["rd-db-1"]["ID"]
    assert after["rd-api-1"]["ID"] == before["rd-api-1"]["ID"] and after["rd-api-1"]["State"] == "running"
    assert after["rd-web-1"]["ID"] == before["rd-web-1"]["ID"] and "rd-web-1  Restarted" not in out
    eng = podium.engine()
    try:
        assert eng.containers.get("rd-api-1")["state"]["started_at"] != started
    finally:
        eng.close()


def test_start_interval_opens_a_health_gate_before_the_first_interval(podium: Podium, proj: Any) -> None:
    compose = proj("start_interval", "si")
    t0 = time.monotonic()
    out = compose("up", "-d", "--wait-timeout", "25").stderr
    assert time.monotonic() - t0 < 25  # the checker alone would first look after 60 s
    assert "Container si-db-1  Healthy" in out and "Container si-app-1  Started" in out
    assert {r["Service"]: r["Health"] for r in ps(compose)}["db"] == "healthy"
