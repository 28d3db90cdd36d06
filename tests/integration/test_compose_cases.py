"""Thirty realistic compose projects (tests/compose_cases/*/case.json) run on real containers.

Each case directory holds a compose project limited to the busybox image and a
``case.json`` saying how to run it (global flags, environment, extra ``up``
flags) and what must hold once it is up: command output inside a service
(``exec``), running replicas (``ps``), labels and restart policy (``inspect``),
logs, exit states, start order against a health check (``after_healthy``),
a volume surviving ``down``/``up`` (``persist``), an HTTP answer on a published
port. Where ``config`` is true, ``compose config --format json`` must equal the
case's ``config.json``, the normalized project written from the compose
specification's rules (``@CASE@`` stands for the case directory). After the
checks ``down -v`` must leave no container, network or volume of the project.

The cases share one storage root (module scope) and run three at a time to keep
the whole run cheap; each uses its own project name, and the root's teardown
checks for leaks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import Podium, need, teardown_root

CASES = Path(__file__).resolve().parent.parent / "compose_cases"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "case.json").exists())

WORKERS = 3

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def root(rootfs_tar: Path) -> Iterator[Podium]:
    need(os.geteuid() == 0, "integration tests need root (real runc, conmon, overlay mounts)")
    need(shutil.which("runc") is not None, "runc is not installed")
    need(shutil.which("conmon") is not None, "conmon is not installed")
    base = Path(tempfile.mkdtemp(prefix="pdc", dir="/tmp"))
    p = Podium(base)
    try:
        p("import", str(rootfs_tar), "busybox", "--change", 'CMD ["sh"]')
        yield p
    finally:
        problems = teardown_root(p)
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, f"compose cases leaked: {problems}"


class Case:
    """One case copied to a temporary directory, with its compose command line."""

    def __init__(self, p: Podium, name: str, tmp: Path) -> None:
        self.p = p
        self.dir = tmp / name
        shutil.copytree(CASES / name, self.dir)
        self.spec: dict[str, Any] = json.loads((self.dir / "case.json").read_text())
        self.project = self.spec.get("project") or f"c-{name}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        self.env.update({"PODIUM_ROOT": str(p.root), "PODIUM_RUNROOT": str(p.runroot)})
        self.env.update(self.spec.get("env", {}))
        self.glob = [a.replace("@CASE@", str(self.dir)) for a in self.spec.get("global", [])]
        if not any(a == "-f" for a in self.glob):
            self.glob = ["--project-directory", str(self.dir)] + self.glob
        if not self.spec.get("no_project_flag"):
            self.glob = ["-p", self.project] + self.glob

    def podium(self, *args: str, check: bool = True) -> Any:
        import subprocess

        from tests.conftest import PODIUM, REPO
        proc = subprocess.run([*PODIUM, *args], env=self.env, capture_output=True, text=True, timeout=120,
                              cwd=str(REPO))
        if check and proc.returncode != 0:
            raise AssertionError(f"podium {' '.join(args)} exited {proc.returncode}:\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def compose(self, *args: str, check: bool = True) -> Any:
        return self.podium("compose", *self.glob, *args, check=check)

    def container(self, service: str, n: int = 1) -> str:
        return f"{self.project}-{service}-{n}"

    def ps(self, *, all: bool = True) -> list[dict[str, Any]]:
        return json.loads(self.compose("ps", *(["-a"] if all else []), "--format", "json").stdout)

    def up(self) -> None:
        wait = ["--wait", "--wait-timeout", "60"] if self.spec.get("wait", True) else []
        self.compose("up", "-d", *wait, *self.spec.get("up", []))


def _state(case: Case, service: str) -> dict[str, Any]:
    rows = [r for r in case.ps() if r["Service"] == service]
    assert rows, f"no container of {service}"
    return rows[0]


def _check(case: Case, c: dict[str, Any]) -> None:
    if "exec" in c:  # podium exec: compose exec is covered by test_compose_up, and loads the project each time
        out = case.podium("exec", case.container(c["exec"]), "sh", "-c", c["sh"]).stdout
        assert out == c["out"], f"exec in {c['exec']}: {c['sh']}"
    elif "ps" in c:
        running: dict[str, int] = {}
        for r in case.ps(all=False):
            running[r["Service"]] = running.get(r["Service"], 0) + 1
        assert {s: running.get(s, 0) for s in c["ps"]} == c["ps"]
    elif "inspect" in c:
        info = json.loads(case.podium("inspect", case.container(c["inspect"])).stdout)[0]
        labels = info["Config"]["Labels"]
        for k, v in c.get("labels", {}).items():
            assert labels.get(k) == v, (k, labels)
        if "restart" in c:
            assert info["HostConfig"]["RestartPolicy"]["Name"] == c["restart"]
    elif "logs" in c:
        out = case.compose("logs", c["logs"]).stdout
        for needle in c["contains"]:
            assert needle in out, (needle, out)
    elif "state" in c:
        row = _state(case, c["state"])
        assert (row["State"], row["ExitCode"]) == (c["status"], c["exit_code"]), row
    elif "eventually" in c:
        deadline = time.monotonic() + c.get("timeout", 20)
        while True:
            row = _state(case, c["eventually"])
            if (row["State"], row["ExitCode"]) == (c["status"], c["exit_code"]):
                break
            assert time.monotonic() < deadline, row
            time.sleep(0.3)
    elif "after_healthy" in c:
        from podium.engine.timeutil import parse_iso
        dependent, dependency = c["after_healthy"]
        eng = case.p.engine()
        try:
            app = eng.containers.get(case.container(dependent))
            db = eng.containers.get(case.container(dependency))
        finally:
            eng.close()
        passed = [e for e in db["state"]["health"]["Log"] if e["ExitCode"] == 0]
        assert passed, db["state"]["health"]
        assert parse_iso(app["state"]["started_at"]) >= parse_iso(passed[0]["End"]) - 0.01
        assert parse_iso(app["state"]["started_at"]) >= parse_iso(db["state"]["started_at"]) + 1.0
    elif "persist" in c:
        count = f"wc -l < {c['path']}"
        assert case.podium("exec", case.container(c["persist"]), "sh", "-c", count).stdout.strip() == "1"
        case.compose("down", "-t", "0")
        assert case.ps() == []
        case.up()
        assert case.podium("exec", case.container(c["persist"]), "sh", "-c", count).stdout.strip() == "2"
    elif "http" in c:
        addr = case.compose("port", c["http"], str(c["port"])).stdout.strip()
        body = urllib.request.urlopen(f"http://{addr}/", timeout=5).read().decode()
        assert body == c["body"]
    elif "host_file" in c:
        assert (case.dir / c["host_file"]).read_text() == c["content"]
    elif "stop" in c:
        case.compose("stop", c["stop"])
        row = _state(case, c["stop"])
        assert (row["State"], row["ExitCode"]) == ("exited", c["exit_code"]), row
        assert c["stop_logs"] in case.compose("logs", c["stop"]).stdout
    else:
        raise AssertionError(f"unknown check {c}")


def run_case(root: Podium, tmp: Path, name: str) -> None:
    case = Case(root, name, tmp)
    made: list[tuple[str, str]] = []
    if case.spec.get("external"):
        net, vol = f"ext-{os.getpid()}-net", f"ext-{os.getpid()}-vol"
        case.podium("network", "create", net)
        made.append(("network", net))
        case.podium("volume", "create", vol)
        made.append(("volume", vol))
        case.podium("run", "--rm", "-v", f"{vol}:/shared", "busybox", "sh", "-c", "echo seeded > /shared/seed")
        case.env.update({"EXT_NET": net, "EXT_VOL": vol})
    try:
        if case.spec.get("config"):
            got = json.loads(case.compose("config", "--format", "json").stdout)
            want = json.loads((case.dir / "config.json").read_text().replace("@CASE@", str(case.dir)))
            assert got == want
        case.up()
        for c in case.spec["checks"]:
            _check(case, c)
    finally:
        down = case.compose("down", "-v", "-t", "0", check=False)
    assert down.returncode == 0, down.stderr
    eng = root.engine()
    try:
        from podium.declare.compose.up import observe
        assert observe(eng, case.project, oneoff=True) == []
        nets = [n["name"] for n in eng.networks.list()]
        vols = [v["name"] for v in eng.volumes.list()]
    finally:
        eng.close()
    for kind, n in made:  # external resources survive down -v
        assert n in (nets if kind == "network" else vols), (kind, n)
        case.podium(kind, "rm", n)
    assert not [n for n in nets if n.startswith(f"{case.project}_")], nets
    assert not [v for v in vols if v.startswith(f"{case.project}_")], vols


@pytest.fixture(scope="module")
def results(root: Podium, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Every case, three at a time (separate projects in one root, as users run them): name ->
    None when it passed, else the failure's traceback."""
    import traceback
    from concurrent.futures import ThreadPoolExecutor

    def one(name: str) -> str | None:
        try:
            run_case(root, tmp_path_factory.mktemp(name), name)
            return None
        except BaseException:  # noqa: BLE001 - reported by the case's own test
            return traceback.format_exc()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(NAMES, pool.map(one, NAMES)))


@pytest.mark.parametrize("name", NAMES)
def test_compose_case(results: dict[str, str | None], name: str) -> None:
    assert results[name] is None, f"compose case {name} failed:\n{results[name]}"
