"""``podium apply/diff/stacks/delete`` on real containers (runc + conmon + bridge networks).

The mixed stack is examples/stack (a kube pod and a compose project sharing the
network stack-net and the volume stack-data), copied so a test can edit it.
Zero mutations on a second apply are checked three ways: container ids,
start times and the engine's event log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PODIUM, REPO, Podium

EXAMPLE = REPO / "examples" / "stack"
SCHEMA = REPO / "schemas" / "plan-report.schema.json"

pytestmark = pytest.mark.timeout(240)


def validate(report: dict[str, Any]) -> dict[str, Any]:
    import jsonschema
    jsonschema.validate(report, json.loads(SCHEMA.read_text()),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return report


def containers(p: Podium) -> dict[str, dict[str, Any]]:
    """name -> {id, status, started_at, labels} of every container but pod infra ones."""
    eng = p.engine()
    try:
        out = {}
        for c in eng.containers.list():
            if c["config"].get("infra"):
                continue
            out[c["name"]] = {"id": c["id"], "status": c["state"]["status"],
                              "started_at": c["state"].get("started_at"),
                              "labels": c["config"].get("labels") or {}}
        return out
    finally:
        eng.close()


def events_since(p: Podium, since: float) -> list[dict[str, Any]]:
    eng = p.engine()
    try:
        return eng.events.list(since=since)
    finally:
        eng.close()


def poll(fn: Any, *, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def exec_out(p: Podium, name: str, *cmd: str) -> str:
    r = p("exec", name, *cmd, check=False)
    return r.stdout if r.returncode == 0 else ""


@pytest.fixture
def stack(tmp_path: Path, podium: Podium, image: str) -> Path:
    d = tmp_path / "stack"
    shutil.copytree(EXAMPLE, d)
    return d


STACK_CONTAINERS = {"stack-api-1", "stack-worker-1", "web-seed", "web-probe"}


def test_mixed_stack_apply_idempotent_change_and_drift(podium: Podium, stack: Path) -> None:
    # diff before anything: everything to create, exit 1, JSON valid against the schema
    r = podium("diff", "-f", str(stack), "--format", "json", check=False)
    assert r.returncode == 1, r.stderr
    plan = validate(json.loads(r.stdout))
    assert plan["summary"]["create"] == 7 and plan["changed"] and plan["command"] == "diff"

    r = podium("apply", "-f", str(stack), "--format", "json")
    report = validate(json.loads(r.stdout))
    assert report["ok"] and {a["status"] for a in report["actions"]} == {"done"}
    assert {a["resource"] for a in report["actions"]} == {
        "network/stack-net", "volume/stack-data", "pod/web", "init/web-seed", "container/web-probe",
        "container/stack-api-1", "container/stack-worker-1"}
    ctrs = containers(podium)
    assert set(ctrs) == STACK_CONTAINERS
    assert ctrs["web-seed"]["status"] == "exited"
    assert {ctrs[n]["status"] for n in STACK_CONTAINERS - {"web-seed"}} == {"running"}
    labels = ctrs["stack-api-1"]["labels"]
    assert labels["io.podium.stack"] == "stack" and labels["io.podium.stack.kind"] == "container"
    assert labels["io.podium.stack.name"] == "stack-api-1" and len(labels["io.podium.stack.config-hash"]) == 64
    # the kube pod and the compose services share the network (DNS by service name) and the volume
    poll(lambda: "hello from the stack" in exec_out(podium, "web-probe", "cat", "/tmp/last"),
         what="the pod's probe to fetch the compose service's page")
    poll(lambda: "worker fetched" in exec_out(podium, "stack-worker-1", "cat", "/tmp/status"),
         what="the worker to fetch the page")

    # a second apply: no changes, no mutation (ids, start times, the event log)
    before = containers(podium)
    t0 = time.time()
    r = podium("diff", "-f", str(stack), check=False)
    assert r.returncode == 0 and "no changes" in r.stdout, r.stdout + r.stderr
    r = podium("apply", "-f", str(stack))
    assert "no changes" in r.stdout and "0 to create, 0 to recreate, 0 to remove, 7 unchanged" in r.stdout
    assert containers(podium) == before
    assert events_since(podium, t0) == []

    # one service changed: it and its dependent (restart: true) are recreated, nothing else
    text = (stack / "compose.yaml").read_text()
    (stack / "compose.yaml").write_text(text.replace("ROLE: api", "ROLE: frontend"))
    r = podium("diff", "-f", str(stack), check=False)
    assert r.returncode == 1
    assert "recreate container/stack-api-1  (config changed: env.ROLE)" in r.stdout
    assert "recreate container/stack-worker-1  (container/stack-api-1 replaced)" in r.stdout
    assert '-    "ROLE": "api"' in r.stdout and '+    "ROLE": "frontend"' in r.stdout
    assert "0 to create, 2 to recreate, 0 to remove, 5 unchanged" in r.stdout
    t1 = time.time()
    r = podium("apply", "-f", str(stack))
    assert "recreated  container/stack-api-1  (config changed: env.ROLE)" in r.stdout
    after = containers(podium)
    assert set(after) == STACK_CONTAINERS
    for name in ("web-seed", "web-probe"):
        assert after[name] == before[name]
    for name in ("stack-api-1", "stack-worker-1"):
        assert after[name]["id"] != before[name]["id"] and after[name]["status"] == "running"
    mutated = {(e["Action"], e["Actor"]["Attributes"].get("name")) for e in events_since(podium, t1)
               if e["Type"] == "container"}
    # Docker Compose's safe recreate: made under a temporary name, then renamed over the old one
    evs = [e for e in events_since(podium, t1) if e["Type"] == "container"]
    renames = [e for e in evs if e["Action"] == "rename" and e["Actor"]["Attributes"]["name"] == "stack-api-1"]
    assert [e["Actor"]["Attributes"]["oldName"] for e in renames] == [f"{before['stack-api-1']['id'][:12]}_stack-api-1"]
    order = [(e["Action"], e["Actor"]["ID"]) for e in evs]
    new_id = containers(podium)["stack-api-1"]["id"]
    assert order.index(("create", new_id)) < order.index(("destroy", before["stack-api-1"]["id"])) \
        < order.index(("rename", new_id)) < order.index(("start", new_id))
    assert {n for _, n in mutated} <= {"stack-api-1", "stack-worker-1"} | {
        f"{before[n]['id'][:12]}_{n}" for n in ("stack-api-1", "stack-worker-1")}, mutated
    assert podium("diff", "-f", str(stack), check=False).returncode == 0

    # drift: a container stopped by hand, another removed by hand
    podium("stop", "-t", "0", "stack-worker-1")
    podium("rm", "-f", "web-probe")
    r = podium("diff", "-f", str(stack), check=False)
    assert r.returncode == 1
    assert "start    container/stack-worker-1  (not running (exited))" in r.stdout
    assert "create   container/web-probe  (not on the host)" in r.stdout
    podium("apply", "-f", str(stack))
    repaired = containers(podium)
    assert repaired["stack-worker-1"]["status"] == "running" and repaired["web-probe"]["status"] == "running"
    assert repaired["stack-api-1"] == after["stack-api-1"]
    assert podium("diff", "-f", str(stack), check=False).returncode == 0

    # stacks lists it; delete removes it all, dependents first (the volume with --volumes)
    rows = json.loads(podium("stacks", "--format", "json").stdout)
    assert [(r["Name"], r["Containers"], r["Running"]) for r in rows] == [("stack", 3, 3)]
    r = podium("delete", "--stack", "stack", "--format", "json")
    validate(json.loads(r.stdout))
    assert containers(podium) == {}
    assert json.loads(podium("stacks", "--format", "json").stdout)[0]["Kinds"] == {"volume": 1}
    podium("delete", "--stack", "stack", "--volumes")
    assert json.loads(podium("stacks", "--format", "json").stdout) == []
    assert podium("volume", "ls", "-q").stdout.split() == []


EXTRA = """\
services:
  cache:
    image: localhost/busybox
    command: [sleep, "1000"]
    init: true
    volumes: [cachedata:/cache]
    networks: [shared]
  keeper:
    image: localhost/busybox
    command: [sleep, "1000"]
    init: true
    labels:
      io.podium.prune: disabled
    networks: [shared]
networks:
  shared:
    name: stack-net
    external: true
volumes:
  cachedata:
    name: extra-cache
"""


def test_prune_removes_only_what_left_keeps_volumes_and_unowned(podium: Podium, stack: Path) -> None:
    (stack / "extra").mkdir()
    (stack / "extra" / "compose.yaml").write_text(EXTRA)
    podium("run", "-d", "--name", "bystander", "busybox", "sleep", "1000")
    podium("apply", "-f", str(stack))
    before = containers(podium)
    assert {"extra-cache-1", "extra-keeper-1", "bystander"} <= set(before)

    shutil.rmtree(stack / "extra")
    r = podium("apply", "-f", str(stack))      # without --prune: reported, kept
    assert "kept       container/extra-cache-1  (absent from desired state (apply --prune removes it))" in r.stdout
    assert set(containers(podium)) == set(before)

    r = podium("diff", "-f", str(stack), "--prune", "--format", "json", check=False)
    assert r.returncode == 1
    acts = {a["resource"]: (a["action"], a["cause"]) for a in validate(json.loads(r.stdout))["actions"]}
    assert acts["container/extra-cache-1"] == ("remove", "absent from desired state")
    assert acts["container/extra-keeper-1"] == ("keep", "absent from desired state, kept: io.podium.prune: disabled")
    assert acts["volume/extra-cache"][0] == "keep"
    assert "container/bystander" not in acts

    r = podium("apply", "-f", str(stack), "--prune")
    assert "removed    container/extra-cache-1" in r.stdout
    assert "kept       container/extra-keeper-1  (absent from desired state, kept: io.podium.prune: disabled)" \
        in r.stdout
    after = containers(podium)
    assert "extra-cache-1" not in after
    for name in ("extra-keeper-1", "bystander", "stack-api-1", "web-probe"):
        assert after[name] == before[name]
    assert "extra-cache" in podium("volume", "ls", "-q").stdout.split()
    podium("apply", "-f", str(stack), "--prune", "--prune-volumes")
    assert "extra-cache" not in podium("volume", "ls", "-q").stdout.split()
    assert "stack-data" in podium("volume", "ls", "-q").stdout.split()

    # a name the stack wants, held by a container podium apply did not make: an error, nothing touched
    podium("rm", "-f", "stack-worker-1")
    podium("run", "-d", "--name", "stack-worker-1", "busybox", "sleep", "1000")
    squatter = containers(podium)["stack-worker-1"]["id"]
    r = podium("apply", "-f", str(stack), check=False)
    assert r.returncode == 125
    assert "container name 'stack-worker-1'" in r.stderr and "owned by no stack" in r.stderr
    assert containers(podium)["stack-worker-1"]["id"] == squatter
    assert podium("diff", "-f", str(stack), check=False).returncode == 2


def compose_stack(d: Path, n: int, role: str) -> Path:
    d.mkdir(exist_ok=True)
    services = "".join(
        f"  s{i}:\n    image: localhost/busybox\n    command: [sleep, \"1000\"]\n    init: true\n"
        f"    environment: {{ROLE: {role}}}\n" for i in range(n))
    (d / "compose.yaml").write_text("services:\n" + services)
    return d


def test_sigkill_midway_then_apply_converges(podium: Podium, tmp_path: Path, image: str) -> None:
    d = compose_stack(tmp_path / "kill", 6, "one")

    def kill_when(pred: Any) -> None:
        proc = subprocess.Popen([*PODIUM, "apply", "-f", str(d), "--parallel", "1"], env=podium.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            poll(lambda: pred() or proc.poll() is not None, timeout=90, what="apply to get going")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass   # it finished first (a loaded machine): the convergence checks still hold
            proc.communicate(timeout=30)

    def converged(role: str) -> None:
        r = podium("apply", "-f", str(d))
        assert "FAILED" not in r.stdout
        ctrs = containers(podium)
        assert set(ctrs) == {f"kill-s{i}-1" for i in range(6)}, ctrs   # no leftover, no duplicate
        assert {c["status"] for c in ctrs.values()} == {"running"}
        eng = podium.engine()
        try:
            envs = {c["name"]: c["config"]["env"] for c in eng.containers.list()}
        finally:
            eng.close()
        assert all(f"ROLE={role}" in env for env in envs.values()), envs
        assert podium("diff", "-f", str(d), check=False).returncode == 0

    # killed while creating
    kill_when(lambda: len(containers(podium)) >= 2)
    converged("one")
    # killed while recreating (the temporary-name step of a recreate may be left behind)
    compose_stack(d, 6, "two")
    first = containers(podium)
    kill_when(lambda: sum(c["id"] != first.get(n, {}).get("id") for n, c in containers(podium).items()) >= 2)
    converged("two")


def test_concurrent_applies_never_interleave(podium: Podium, tmp_path: Path, image: str) -> None:
    d = compose_stack(tmp_path / "conc", 3, "x")
    procs = [subprocess.Popen([*PODIUM, "apply", "-f", str(d), "--format", "json"], env=podium.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reports = sorted((validate(json.loads(o)) for o, _ in outs), key=lambda r: r["started"])
    assert reports[0]["finished"] <= reports[1]["started"], reports   # one after the other
    assert reports[0]["summary"]["create"] == 4 and not reports[1]["changed"]   # 3 containers, 1 network
    assert set(containers(podium)) == {"conc-s0-1", "conc-s1-1", "conc-s2-1"}

    # --no-wait-lock fails at once, clearly, while another apply holds the lock
    from podium.declare.stack import lock
    with lock(str(podium.root), "conc"):
        r = podium("apply", "-f", str(d), "--no-wait-lock", check=False)
    assert r.returncode == 125
    assert f"stack 'conc' is being applied by another podium process (pid {os.getpid()})" in r.stderr


BAD_CASES = {
    "undefined-variable": ({"pod.yaml.j2": "apiVersion: v1\nkind: Pod\nmetadata: {name: {{ name }}}\n"
                                           "spec: {containers: [{name: a, image: localhost/busybox}]}\n"},
                           ["pod.yaml.j2:3", "'name' is undefined"]),
    "cycle": ({"compose.yaml": "services:\n  a: {image: localhost/busybox, depends_on: [b]}\n"
                               "  b: {image: localhost/busybox, depends_on: [a]}\n"},
              ["compose.yaml", "dependency cycle: ", "a -> b -> a"]),
    "duplicate": ({"one.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                               "spec: {containers: [{name: a, image: localhost/busybox}]}\n",
                   "two/compose.yaml": "services:\n  a: {image: localhost/busybox, container_name: p-a}\n"},
                  ["container 'p-a' is declared twice", "one.yaml", "two/compose.yaml"]),
    "neither": ({"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                             "spec: {containers: [{name: a, image: localhost/busybox}]}\n",
                 "notes.yaml": "just: some notes\n"},
                ["notes.yaml: neither Kubernetes YAML", "nor a compose file"]),
}


def test_bad_input_is_one_clear_error_and_nothing_applied(podium: Podium, tmp_path: Path, image: str) -> None:
    for case, (files, expected) in BAD_CASES.items():
        d = tmp_path / case
        for name, text in files.items():
            (d / name).parent.mkdir(parents=True, exist_ok=True)
            (d / name).write_text(text)
        r = podium("apply", "-f", str(d), check=False)
        assert r.returncode == 125, (case, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (case, r.stderr)
        for text in expected:
            assert text in lines[0], (case, lines[0])
        assert podium("diff", "-f", str(d), check=False).returncode == 2, case
    assert containers(podium) == {}
    assert podium("pod", "ps", "-q").stdout.split() == []
    assert podium("network", "ls", "--format", "{{.Name}}").stdout.split() == ["podium"]
    assert podium("volume", "ls", "-q").stdout.split() == []


def test_conditions_are_waits_and_one_shots_stay_done(podium: Podium, tmp_path: Path, image: str) -> None:
    # db must be healthy and migrate must have exited 0 before app starts (compose depends_on conditions)
    d = tmp_path / "depends"
    shutil.copytree(REPO / "tests" / "compose_up_cases" / "depends", d)
    r = podium("apply", "-f", str(d), "--wait", "--timeout", "90s", "--format", "json")
    report = validate(json.loads(r.stdout))
    assert report["ok"], report
    eng = podium.engine()
    try:
        db = eng.containers.get("depends-db-1")
        migrate = eng.containers.get("depends-migrate-1")
        app = eng.containers.get("depends-app-1")
    finally:
        eng.close()
    assert db["state"]["health"]["Status"] == "healthy"
    assert (migrate["state"]["status"], migrate["state"]["exit_code"]) == ("exited", 0)
    assert app["state"]["status"] == "running"
    assert app["state"]["started_at"] > db["state"]["started_at"]
    assert app["state"]["started_at"] > migrate["state"]["finished_at"]
    # the one-shot that completed is not started again: a second diff has nothing to do
    r = podium("diff", "-f", str(d), "-v", check=False)
    assert r.returncode == 0, r.stdout
    assert "noop     container/depends-migrate-1  (completed)" in r.stdout


def test_a_failed_condition_fails_apply_naming_the_resource(podium: Podium, tmp_path: Path, image: str) -> None:
    d = tmp_path / "fail"
    d.mkdir()
    (d / "compose.yaml").write_text(
        "services:\n"
        "  migrate: {image: localhost/busybox, command: [sh, -c, 'echo schema too new; exit 3']}\n"
        "  app:\n    image: localhost/busybox\n    command: [sleep, '1000']\n    init: true\n"
        "    depends_on: {migrate: {condition: service_completed_successfully}}\n"
        "  other: {image: localhost/busybox, command: [sleep, '1000'], init: true}\n")
    r = podium("apply", "-f", str(d), "--format", "json", check=False)
    assert r.returncode == 125
    assert "Error: container/fail-app-1: create failed: container/fail-migrate-1 exited with code 3" in r.stderr
    assert "schema too new" in r.stderr
    report = validate(json.loads(r.stdout))
    status = {a["resource"]: a["status"] for a in report["actions"]}
    assert status == {"network/fail_default": "done", "container/fail-migrate-1": "done",
                      "container/fail-app-1": "failed", "container/fail-other-1": "done"}   # failing narrowly
    assert not report["ok"]
    assert "fail-app-1" not in containers(podium)


CONFIG_STACK = {
    "site.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site}\ndata: {index.html: v1}\n---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: cfg}\nspec:\n"
                 "  terminationGracePeriodSeconds: 0\n  containers:\n"
                 "  - {name: web, image: localhost/busybox, command: [sleep, '1000'],\n"
                 "     volumeMounts: [{name: site, mountPath: /www}]}\n"
                 "  volumes: [{name: site, configMap: {name: site}}]\n",
    "app/compose.yaml": "services:\n  db:\n    image: localhost/busybox\n    command: [sleep, '1000']\n"
                        "    init: true\n    secrets: [pw]\nsecrets:\n  pw: {file: ./pw.txt}\n",
    "app/pw.txt": "first",
}


def test_configs_and_secrets_are_updated_in_place(podium: Podium, tmp_path: Path, image: str) -> None:
    d = tmp_path / "cfg"
    for name, text in CONFIG_STACK.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    podium("apply", "-f", str(d))
    assert exec_out(podium, "cfg-web", "cat", "/www/index.html") == "v1"
    assert exec_out(podium, "app-db-1", "cat", "/run/secrets/pw") == "first"
    before = containers(podium)
    (d / "site.yaml").write_text(CONFIG_STACK["site.yaml"].replace("index.html: v1", "index.html: v2"))
    (d / "app" / "pw.txt").write_text("second")
    r = podium("diff", "-f", str(d), check=False)
    assert r.returncode == 1
    assert "update   config/cfg-site  (content changed: index.html)" in r.stdout
    assert "update   config/app/secrets/pw.444..  (content changed: sha256)" in r.stdout
    assert "0 to create, 0 to recreate, 2 to update, 0 to remove" in r.stdout
    podium("apply", "-f", str(d))
    assert containers(podium) == before          # no container was recreated or restarted
    assert exec_out(podium, "cfg-web", "cat", "/www/index.html") == "v2"
    assert exec_out(podium, "app-db-1", "cat", "/run/secrets/pw") == "second"
    assert podium("diff", "-f", str(d), check=False).returncode == 0
    # a pod's container changed: the pod is replaced as a whole (pods are immutable, as in Kubernetes)
    (d / "site.yaml").write_text(CONFIG_STACK["site.yaml"].replace("index.html: v1", "index.html: v2")
                                 .replace("command: [sleep, '1000']", "command: [sleep, '2000']"))
    r = podium("diff", "-f", str(d), check=False)
    assert "recreate pod/cfg  (config changed: containers.cfg-web.entrypoint)" in r.stdout   # kube command
    assert "recreate container/cfg-web  (config changed: entrypoint)" in r.stdout
    eng = podium.engine()
    try:
        old_pod = eng.pods.get("cfg")["id"]
    finally:
        eng.close()
    podium("apply", "-f", str(d))
    after = containers(podium)
    assert after["cfg-web"]["id"] != before["cfg-web"]["id"] and after["app-db-1"] == before["app-db-1"]
    eng = podium.engine()
    try:
        assert eng.pods.get("cfg")["id"] != old_pod
        assert "2000" in json.dumps(eng.containers.get("cfg-web")["config"])
    finally:
        eng.close()
    assert podium("diff", "-f", str(d), check=False).returncode == 0
    podium("delete", "--stack", "cfg", "--volumes")
    assert not (podium.root / "stacks" / "files" / "cfg").exists()


def test_scale_down_removes_the_extra_replicas_without_prune(podium: Podium, tmp_path: Path, image: str) -> None:
    d = tmp_path / "scale"
    d.mkdir()
    f = d / "compose.yaml"
    f.write_text("services:\n  w:\n    image: localhost/busybox\n    command: [sleep, '1000']\n    init: true\n"
                 "    scale: 3\n")
    podium("apply", "-f", str(d))
    first = containers(podium)["scale-w-1"]
    f.write_text(f.read_text().replace("scale: 3", "scale: 1"))
    r = podium("apply", "-f", str(d))
    assert "removed    container/scale-w-2  (scaled down (compose/scale/w has fewer replicas))" in r.stdout
    assert containers(podium) == {"scale-w-1": first}
