"""docker-py (`docker` from PyPI) and testcontainers-python against `podium system service`."""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.test_api_helpers import Service, api  # noqa: F401 - the fixture

docker = pytest.importorskip("docker")
pytestmark = pytest.mark.timeout(240)


def _client(api: Service):  # noqa: ANN202
    return docker.DockerClient(base_url=api.uri, timeout=60)


def test_containers_run_logs_wait_exec_remove(api: Service, image: str) -> None:
    client = _client(api)
    try:
        c = client.containers.run("localhost/busybox", ["sh", "-c", "echo one; echo two >&2; sleep 300"],
                                  detach=True, name="pyc", labels={"app": "t"}, environment={"A": "b"},
                                  network_mode="none", stop_signal="SIGKILL")
        assert c.name == "pyc"
        c.reload()
        assert c.status == "running"
        assert c.labels["app"] == "t"
        deadline = time.monotonic() + 30
        while b"two" not in c.logs() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.logs(stdout=True, stderr=False) == b"one\n"
        assert c.logs(stdout=False, stderr=True) == b"two\n"
        assert c.logs(tail=1) == b"two\n"

        res = c.exec_run(["sh", "-c", "echo $A; echo e >&2; exit 5"], demux=True)
        assert res.exit_code == 5
        assert res.output == (b"b\n", b"e\n")  # two pipes: their relative order is not kept
        res = c.exec_run(["sh", "-c", "echo $A; echo more"])
        assert res.exit_code == 0 and res.output == b"b\nmore\n"
        res = c.exec_run("cat /etc/motd", demux=True)
        assert res.exit_code == 0 and res.output == (b"podium test image\n", None)

        assert [x.name for x in client.containers.list(filters={"label": "app=t"})] == ["pyc"]
        assert client.containers.list(filters={"label": "app=nope"}) == []
        c.kill()
        assert c.wait(timeout=60)["StatusCode"] == 137
        c.reload()
        assert c.status == "exited"
        assert [x.name for x in client.containers.list(all=True, filters={"status": "exited"})] == ["pyc"]
        c.remove()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("pyc")

        # a foreground run returns the output; a failing one raises ContainerError with the code
        assert client.containers.run("localhost/busybox", "echo fg", remove=True, network_mode="none") == b"fg\n"
        with pytest.raises(docker.errors.ContainerError) as err:
            client.containers.run("localhost/busybox", "sh -c 'exit 3'", remove=True, network_mode="none")
        assert err.value.exit_status == 3
        with pytest.raises(docker.errors.ImageNotFound):
            client.containers.create("localhost/no-such-image:1")
    finally:
        client.close()


def test_images_networks_volumes(api: Service, image: str) -> None:
    client = _client(api)
    try:
        tags = [t for img in client.images.list() for t in img.tags]
        assert "localhost/busybox:latest" in tags
        img = client.images.get("localhost/busybox")
        assert img.id.startswith("sha256:")
        assert img.tag("localhost/busybox", "v2")
        assert "localhost/busybox:v2" in client.images.get("localhost/busybox:v2").tags
        client.images.remove("localhost/busybox:v2")
        assert "localhost/busybox:v2" not in [t for i in client.images.list() for t in i.tags]

        net = client.networks.create("pynet", labels={"x": "y"})
        assert net.name == "pynet"
        assert client.networks.get("pynet").attrs["Labels"] == {"x": "y"}
        assert [n.name for n in client.networks.list(names=["pynet"])] == ["pynet"]
        net.remove()
        with pytest.raises(docker.errors.NotFound):
            client.networks.get("pynet")

        vol = client.volumes.create("pyvol", labels={"k": "v"})
        assert vol.name == "pyvol"
        assert client.volumes.get("pyvol").attrs["Labels"] == {"k": "v"}
        assert "pyvol" in [v.name for v in client.volumes.list()]
        vol.remove()
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("pyvol")
        assert client.ping() is True
        assert client.info()["Containers"] == 0
    finally:
        client.close()


def test_events_stream(api: Service, image: str) -> None:
    client = _client(api)
    seen: list[dict] = []
    since = int(time.time()) - 1
    stream = client.events(decode=True, since=since, filters={"type": "container"})

    def read() -> None:
        for ev in stream:
            seen.append(ev)
            if ev.get("Action") == "destroy":
                return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        client.containers.run("localhost/busybox", "true", name="evc", remove=True, network_mode="none")
        reader.join(timeout=60)
        actions = [e["Action"] for e in seen if e["Actor"]["Attributes"].get("name") == "evc"]
        assert actions[:2] == ["create", "start"]
        assert "die" in actions and actions[-1] == "destroy"
        assert all(e["Type"] == "container" for e in seen)
    finally:
        stream.close()
        client.close()


def test_testcontainers_busybox(api: Service, image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tc = pytest.importorskip("testcontainers.core.container")
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy
    monkeypatch.setenv("DOCKER_HOST", api.uri)
    # Ryuk (the reaper) is an image from Docker Hub, which podium never pulls from: off
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.config import testcontainers_config
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    ctr = tc.DockerContainer("localhost/busybox").with_command(
        ["sh", "-c", "echo ready from testcontainers; sleep 300"]).with_env("K", "v").waiting_for(
        LogMessageWaitStrategy("ready from testcontainers").with_startup_timeout(60))
    with ctr:
        out, err = ctr.get_logs()
        assert out == b"ready from testcontainers\n"
        assert err == b""
        code, output = ctr.exec(["sh", "-c", "echo $K"])
        assert code == 0 and output == b"v\n"
    client = _client(api)
    try:
        assert client.containers.list(all=True) == []  # stop() removed it
    finally:
        client.close()


def test_follow_streams_end_when_the_client_leaves(api: Service, image: str) -> None:
    """logs(follow=True) and events() hold a thread each; closing them on the client frees it."""
    import os
    client = _client(api)
    tasks = f"/proc/{api.proc.pid}/task"
    try:
        c = client.containers.run("localhost/busybox", ["sh", "-c", "echo first; exec sleep 300"], detach=True,
                                  network_mode="none", stop_signal="SIGKILL")
        base = len(os.listdir(tasks))
        for _ in range(3):
            stream = c.logs(stream=True, follow=True)
            assert next(stream) == b"first\n"
            ev = client.events(decode=True)
            assert len(os.listdir(tasks)) > base
            stream.close()
            ev.close()
        deadline = time.monotonic() + 20
        while len(os.listdir(tasks)) > base and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(os.listdir(tasks)) <= base
        c.remove(force=True)
    finally:
        client.close()


def test_images_build(api: Service, image: str, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "Dockerfile").write_text(
        "FROM localhost/busybox\nARG WHO=nobody\nCOPY greeting.txt /greeting.txt\n"
        "RUN echo \"built for $WHO\" >> /greeting.txt\nCMD [\"cat\", \"/greeting.txt\"]\n")
    (tmp_path / "greeting.txt").write_text("hello\n")
    client = _client(api)
    try:
        img, logs = client.images.build(path=str(tmp_path), tag="localhost/built:1", buildargs={"WHO": "api"})
        lines = "".join(x.get("stream", "") for x in logs)
        assert "STEP" in lines and "Successfully built" in lines
        assert "localhost/built:1" in img.tags
        out = client.containers.run("localhost/built:1", remove=True, network_mode="none")
        assert out == b"hello\nbuilt for api\n"
        (tmp_path / "Dockerfile").write_text("FROM localhost/busybox\nRUN exit 3\n")
        with pytest.raises(docker.errors.BuildError):
            client.images.build(path=str(tmp_path), tag="localhost/broken:1")
        client.images.remove("localhost/built:1")
    finally:
        client.close()
