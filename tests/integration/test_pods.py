"""Pods on real containers: shared network and hostname, status, lifecycle, clean removal."""

from __future__ import annotations

import json
import time

from tests.conftest import Podium


def wait_for(fn, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def test_pod_containers_share_localhost_and_hostname(podium: Podium, image: str) -> None:
    pod_id = podium("pod", "create", "--name", "shop", "--hostname", "shophost").stdout.strip()
    assert len(pod_id) == 64
    podium("run", "-d", "--pod", "shop", "--name", "web", image, "httpd", "-f", "-p", "8080", "-h", "/www")
    out = wait_for(lambda: podium("run", "--rm", "--pod", "shop", image, "wget", "-q", "-O", "-",
                                  "http://localhost:8080/", check=False).stdout)
    assert out == "hello from podium\n"
    assert podium("exec", "web", "hostname").stdout == "shophost\n"
    # IPC and UTS are shared too: the same namespaces, by inode.
    script = "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; readlink /proc/self/ns/pid"
    mine = podium("exec", "web", "sh", "-c", script).stdout.split()
    other = podium("run", "--rm", "--pod", "shop", image, "sh", "-c", script).stdout.split()
    assert mine[:2] == other[:2] and mine[2] != other[2]   # pid is not shared by default
    rows = json.loads(podium("pod", "ps", "--format", "json").stdout)
    assert [(r["Name"], r["Status"], len(r["Containers"])) for r in rows] == [("shop", "Running", 2)]
    insp = json.loads(podium("pod", "inspect", "shop").stdout)
    assert insp["Hostname"] == "shophost" and insp["SharedNamespaces"] == ["net", "ipc", "uts"]
    assert {c["Name"] for c in insp["Containers"]} == {"web", insp["Containers"][0]["Name"]}
    podium("pod", "rm", "-f", "shop")
    assert podium("ps", "-aq").stdout.strip() == ""
    assert podium("pod", "ps", "-q").stdout.strip() == ""


def test_pod_status_lifecycle(podium: Podium, image: str) -> None:
    podium("pod", "create", "--name", "life")
    podium("create", "--pod", "life", "--name", "a", image, "sleep", "60")
    podium("create", "--pod", "life", "--name", "b", image, "sleep", "60")
    status = lambda: podium("pod", "ps", "--format", "{{.Status}}").stdout.strip()  # noqa: E731
    assert status() == "Created"
    podium("pod", "start", "life")
    assert status() == "Running"
    assert podium("ps", "--format", "{{.Names}}", "--filter", "name=^[ab]$").stdout.split() == ["a", "b"]
    podium("stop", "-t", "0", "b")
    assert status() == "Degraded"
    top = podium("pod", "top", "life").stdout
    assert "sleep 60" in top and "catatonit" in top
    podium("pod", "stop", "-t", "0", "life")
    assert status() == "Exited"
    podium("pod", "restart", "life")
    assert status() == "Running"
    podium("pod", "kill", "life")
    assert wait_for(lambda: status() == "Exited")
    r = podium("pod", "rm", "life", check=False)
    assert r.returncode == 0, r.stderr
    assert podium("ps", "-aq").stdout.strip() == ""


def test_pod_logs_and_errors(podium: Podium, image: str) -> None:
    podium("pod", "create", "--name", "logs")
    podium("run", "--pod", "logs", "--name", "talk", image, "echo", "from-pod")
    assert "from-pod" in podium("pod", "logs", "logs").stdout
    r = podium("pod", "create", "--name", "logs", check=False)
    assert r.returncode == 125 and "already exists" in r.stderr
    r = podium("run", "--rm", "--pod", "logs", "-p", "8080:80", image, "true", check=False)
    assert r.returncode == 125 and "pod create" in r.stderr
    r = podium("run", "--rm", "--pod", "nosuchpod", image, "true", check=False)
    assert r.returncode == 125 and "no such pod" in r.stderr
    infra = json.loads(podium("pod", "inspect", "logs").stdout)["InfraContainerId"]
    r = podium("rm", "-f", infra, check=False)
    assert r.returncode == 125 and "infra container" in r.stderr
    podium("pod", "rm", "-f", "logs")
    assert podium("pod", "exists", "logs", check=False).returncode == 1


def test_ps_filters_pod_and_health(podium: Podium, image: str) -> None:
    podium("pod", "create", "--name", "fp")
    podium("create", "--pod", "fp", "--name", "member", image, "true")
    podium("create", "--name", "loner", "--health-cmd", "true", image, "sleep", "5")
    names = lambda *f: sorted(podium("ps", "-a", *f, "--format", "{{.Names}}").stdout.split())  # noqa: E731
    assert "member" in names("--filter", "pod=fp") and "loner" not in names("--filter", "pod=fp")
    assert names("--filter", "health=starting") == []          # not running: no health yet
    assert "loner" not in names("--filter", "health=none") and "member" in names("--filter", "health=none")


def test_pods_networks_volumes_leave_the_host_as_it_was(podium: Podium, image: str) -> None:
    """Links, netns, firewall rules and mounts are back as they were once pods, networks and
    volumes are removed."""
    from tests.integration.test_networks import (PAGE, fetch, free_port, host_state, network_words,
                                                 ours, uid)
    before = host_state()
    net = "n" + uid()
    podium("network", "create", net)
    podium("volume", "create", "data")
    podium("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=8m", "scratch")
    port = free_port()
    podium("pod", "create", "--name", "full", "--network", net, "-p", f"127.0.0.1:{port}:80")
    podium("run", "-d", "--pod", "full", "--name", "full-web", "-v", "data:/www", "-v", "scratch:/scratch",
           image, "httpd", "-f", "-p", "80", "-h", "/www")
    podium("run", "-d", "--pod", "full", "--name", "full-side", image, "sleep", "300")
    assert fetch(f"http://127.0.0.1:{port}/") == PAGE          # image content copied into the new volume
    assert podium("run", "--rm", "--network", net, image, "wget", "-qO-", "http://full/").stdout == PAGE
    words = network_words(podium) + [str(podium.base)]
    during = ours(host_state(), words)
    assert during["links"] and during["mounts"], during
    podium("pod", "rm", "-f", "-t", "0", "full")
    podium("volume", "rm", "data", "scratch")
    podium("network", "rm", net)
    from tests.integration.test_networks import wait_reapers
    wait_reapers()
    assert ours(host_state(), words) == ours(before, words)
    assert podium("ps", "-aq").stdout == "" and podium("volume", "ls", "-q").stdout == ""
