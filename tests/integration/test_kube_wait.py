"""play kube --wait (Podman's foreground play) with readiness, --timeout and signals; pods stopped in parallel.

Each test plays real pods in a private root and checks that --wait reports
readiness from the containers' readiness probes, returns once the containers
have exited, and leaves nothing behind — after a normal end, after --timeout
and after SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PODIUM, REPO, Podium

pytestmark = pytest.mark.timeout(180)


def nothing_left(podium: Podium) -> None:
    assert podium("ps", "-aq").stdout.split() == []
    assert podium("pod", "ps", "-q").stdout.split() == []
    assert podium("volume", "ls", "-q").stdout.split() == []


READY_LATER = """\
apiVersion: v1
kind: Pod
metadata: {name: batch}
spec:
  restartPolicy: Never
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: slow
    image: busybox
    command: [sh, -c, "sleep 2; touch /tmp/ready; sleep 3"]
    readinessProbe:
      exec: {command: [cat, /tmp/ready]}
      periodSeconds: 1
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  - name: quick
    image: busybox
    command: [sh, -c, "sleep 4; exit 0"]
"""


def test_wait_reports_ready_then_cleans_up_when_the_pod_exits(podium: Podium, image: str,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "batch.yaml"
    path.write_text(READY_LATER)
    t0 = time.monotonic()
    r = podium("play", "kube", "--wait", str(path))
    elapsed = time.monotonic() - t0
    lines = r.stdout.splitlines()
    assert "Use ctrl+c to clean up or wait for pods to exit" in lines
    ready = lines.index("Pod batch is ready")
    assert ready < lines.index("Cleaning up containers, pods, and volumes...")
    assert "Pods removed:" in lines and "batch-scratch" in lines  # the pod's volume went too
    assert elapsed >= 4.5  # it waited for the containers to exit
    nothing_left(podium)


def test_wait_timeout_stops_and_removes(podium: Podium, image: str, tmp_path: Path) -> None:
    path = tmp_path / "forever.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: forever}\nspec:\n"
                    "  containers: [{name: c, image: busybox, command: [sleep, '1000']}]\n"
                    "  terminationGracePeriodSeconds: 1\n")
    r = podium("play", "kube", "--wait", "--timeout", "2", str(path), check=False)
    assert r.returncode == 125
    assert "Pod forever is ready" in r.stdout and "Cleaning up containers, pods, and volumes..." in r.stdout
    assert r.stderr == "Error: the pods were still running after --timeout 2s: they were stopped and removed\n"
    nothing_left(podium)
    r = podium("play", "kube", "--timeout", "2", str(path), check=False)
    assert r.returncode == 125 and "--timeout needs --wait" in r.stderr
    nothing_left(podium)


def test_wait_sigterm_cleans_up(podium: Podium, image: str, tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: svc}\nspec:\n"
                    "  terminationGracePeriodSeconds: 2\n"
                    "  containers: [{name: c, image: busybox, command: [sleep, '1000']}]\n")
    proc = subprocess.Popen([*PODIUM, "play", "kube", "--wait", str(path)], env=podium.env, cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = podium("ps", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
            if "svc-c running" in states:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the pod never ran")
        time.sleep(0.5)  # past "ready": the play is in its wait loop
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "\nCleaning up containers, pods, and volumes...\n" in out
    nothing_left(podium)


def test_pod_members_stop_in_parallel(podium: Podium, image: str, tmp_path: Path) -> None:
    """Three containers that ignore SIGTERM, grace 3 s: kube down takes one grace period, not three."""
    path = tmp_path / "stubborn.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n"
                    "  terminationGracePeriodSeconds: 3\n  containers:\n"
                    + "".join(f"  - {{name: c{i}, image: busybox, command: [sh, -c, \"trap '' TERM; "
                              f"while true; do sleep 1; done\"]}}\n" for i in range(3)))
    podium("play", "kube", str(path))
    t0 = time.monotonic()
    down = json.loads(podium("kube", "down", "--format", "json", str(path)).stdout)
    elapsed = time.monotonic() - t0
    assert len(down["RmReport"]) == 1
    assert 3 <= elapsed < 8, elapsed  # serially it was 9 s and more
    nothing_left(podium)
    assert os.path.exists(path)


def test_pod_ready_condition_follows_the_readiness_probe(podium: Podium, image: str, tmp_path: Path) -> None:
    """pod inspect's Ready condition runs the readiness probe when asked (no daemon probes in between)."""
    path = tmp_path / "gate.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: gate}\nspec:\n  terminationGracePeriodSeconds: 1\n"
                    "  containers:\n  - name: c\n    image: busybox\n    command: [sleep, '1000']\n"
                    "    readinessProbe: {exec: {command: [cat, /tmp/ready]}}\n"
                    "  - {name: plain, image: busybox, command: [sleep, '1000']}\n")
    podium("play", "kube", "--network", "none", str(path))

    def ready() -> str:
        return json.loads(podium("pod", "inspect", "gate").stdout)["Conditions"][0]["Status"]

    assert ready() == "False"
    podium("exec", "gate-c", "touch", "/tmp/ready")
    assert ready() == "True"
    podium("stop", "gate-plain")
    assert ready() == "False"  # every container must run
    podium("kube", "down", str(path))
    nothing_left(podium)
