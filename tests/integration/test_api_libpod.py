"""podman-py (`podman` from PyPI) on the native endpoints: pods, play kube, generate kube."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.test_api_helpers import Service, api  # noqa: F401 - the fixture

podman = pytest.importorskip("podman")
pytestmark = pytest.mark.timeout(240)

KUBE = """\
apiVersion: v1
kind: Pod
metadata:
  name: apiplay
  labels:
    app: apiplay
spec:
  containers:
  - name: main
    image: localhost/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; echo played; sleep 300 & wait"]
"""


def test_pods_through_podman_py(api: Service, image: str) -> None:
    with podman.PodmanClient(base_url=api.uri, timeout=120) as client:
        pod = client.pods.create("pypod", labels={"team": "api"}, hostname="pyhost")
        assert pod.name == "pypod"
        assert client.pods.exists("pypod")
        assert pod.attrs["Labels"] == {"team": "api"}
        assert [p.name for p in client.pods.list()] == ["pypod"]
        assert client.pods.list(filters={"label": "team=nope"}) == []
        pod.start()
        pod.reload()
        assert pod.attrs["State"] == "Running"
        pod.stop(timeout=1)
        pod.reload()
        assert pod.attrs["State"] in ("Exited", "Stopped")
        pod.start()
        pod.kill(signal="SIGKILL")
        deadline = time.monotonic() + 30
        while pod.attrs["State"] == "Running" and time.monotonic() < deadline:
            time.sleep(0.1)
            pod.reload()
        assert pod.attrs["State"] in ("Exited", "Stopped")
        pod.remove(force=True)
        assert not client.pods.exists("pypod")
        with pytest.raises(podman.errors.NotFound):
            client.pods.get("pypod")


def test_play_generate_and_down_kube(api: Service, image: str) -> None:
    with podman.PodmanClient(base_url=api.uri, timeout=120) as client:
        resp = client.api.post("/play/kube", data=KUBE, headers={"Content-Type": "application/yaml"},
                               params={"network": "none"})
        resp.raise_for_status()
        report = resp.json()
        assert [p["Name"] for p in report["Pods"]] == ["apiplay"]
        assert len(report["Pods"][0]["Containers"]) == 1
        pod = client.pods.get("apiplay")
        assert pod.attrs["State"] == "Running"

        gen = client.api.get("/generate/kube", params={"names": "apiplay"})
        gen.raise_for_status()
        assert "kind: Pod" in gen.text and "name: apiplay" in gen.text and "localhost/busybox" in gen.text

        bad = client.api.post("/play/kube", data="apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: 7}\n")
        assert bad.status_code == 400
        assert bad.json()["message"] == "<stdin>:4:20: spec.containers: expected list, got number 7"

        down = client.api.delete("/play/kube", data=KUBE)
        down.raise_for_status()
        assert down.json()["RmReport"] == [report["Pods"][0]["ID"]]
        assert not client.pods.exists("apiplay")


COMPOSE = """\
services:
  web:
    image: localhost/busybox
    command: [sleep, "1000"]
    network_mode: none
    environment: {ROLE: %s}
"""


def test_apply_and_diff_endpoints(api: Service, image: str) -> None:
    def call(path: str, role: str, **extra: object) -> dict:
        status, _, body = api.request("POST", f"/v4.0.0/libpod/{path}",
                                      {"stack": "apistack", "files": {"compose.yaml": COMPOSE % role}, **extra})
        assert status == 200, body
        return json.loads(body)

    first = call("diff", "one")
    assert first["changed"] is True and first["summary"]["create"] >= 1
    applied = call("apply", "one")
    assert applied["ok"] is True and applied["changed"] is True
    status, _, body = api.request("GET", "/containers/json")
    assert [c["Names"] for c in json.loads(body)] == [["/apistack-web-1"]]
    assert call("apply", "one")["changed"] is False   # idempotent
    assert call("diff", "one")["changed"] is False
    changed = call("diff", "two")
    assert changed["changed"] is True and changed["summary"]["recreate"] == 1
    status, _, body = api.request("POST", "/v4.0.0/libpod/apply", {"stack": "apistack", "files": {"../x.yaml": "a: 1"}})
    assert status == 400 and "invalid file name" in json.loads(body)["message"]
    status, _, body = api.request("POST", "/v4.0.0/libpod/apply", {"stack": "Bad Name", "files": {"c.yaml": "a: 1"}})
    assert status == 400 and "stack name" in json.loads(body)["message"]
