"""The docker CLI, unchanged, against `podium system service` (DOCKER_HOST=unix://...)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import need
from tests.integration.test_api_helpers import Service, api  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _docker_cli() -> None:
    need(shutil.which("docker") is not None, "the docker client is not installed (scripts/dev.sh installs it)")


def test_version_ps_and_attached_run(api: Service, image: str) -> None:
    v = json.loads(api.docker("version", "--format", "{{json .Server}}").stdout)
    assert v["Platform"]["Name"] == "podium"
    assert v["ApiVersion"] == "1.41"

    out = api.docker("run", "--rm", "localhost/busybox", "echo", "hi")
    assert out.stdout == "hi\n"
    # stdout and stderr stay apart, the exit code comes through
    proc = api.docker("run", "--rm", "--network", "none", "localhost/busybox", "sh", "-c",
                      "echo to-out; echo to-err >&2; exit 7", check=False)
    assert proc.returncode == 7
    assert proc.stdout == "to-out\n"
    assert "to-err" in proc.stderr
    # HostConfig fields the engine maps: DNS, extra hosts, groups, no-new-privileges
    out = api.docker("run", "--rm", "--dns", "10.0.0.53", "--add-host", "db:10.0.0.9", "--group-add", "10",
                     "--security-opt", "no-new-privileges", "localhost/busybox", "sh", "-c",
                     "cat /etc/resolv.conf; grep db /etc/hosts; id -G; grep NoNewPrivs /proc/self/status")
    assert "nameserver 10.0.0.53" in out.stdout and "10.0.0.9\tdb" in out.stdout
    assert "0 10\n" in out.stdout and "NoNewPrivs:\t1" in out.stdout
    refused = api.docker("run", "--rm", "--link", "x:y", "localhost/busybox", "true", check=False)
    assert refused.returncode != 0 and "Links" in refused.stderr
    # --rm removed them all
    assert api.docker("ps", "-a", "-q").stdout.split() == []


def test_detached_lifecycle_logs_exec_inspect_cp(api: Service, image: str, tmp_path) -> None:  # noqa: ANN001
    cid = api.docker("run", "-d", "--name", "web", "--network", "none", "--stop-timeout", "1",
                     "-e", "GREETING=hello", "-l", "tier=front", "localhost/busybox",
                     "sh", "-c", "echo started; echo oops >&2; exec sleep 300").stdout.strip()
    assert len(cid) == 64
    ps = api.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith("web Up")
    assert cid[:12] in api.docker("ps", "-a", "-q").stdout

    logs = api.docker("logs", "web")
    for _ in range(100):
        if "started" in logs.stdout and "oops" in logs.stderr:
            break
        logs = api.docker("logs", "web")
    assert logs.stdout == "started\n"
    assert logs.stderr == "oops\n"

    ex = api.docker("exec", "-e", "X=1", "web", "sh", "-c", "echo $GREETING $X; exit 4", check=False)
    assert ex.returncode == 4 and ex.stdout == "hello 1\n"
    assert api.docker("exec", "web", "nosuchcommand", check=False).returncode == 127

    info = json.loads(api.docker("inspect", "web").stdout)[0]
    assert info["Id"] == cid and info["Name"] == "/web"
    assert info["State"]["Running"] is True
    assert info["Config"]["Labels"]["tier"] == "front"
    assert "GREETING=hello" in info["Config"]["Env"]
    assert api.docker("inspect", "-f", "{{.State.Status}}", "web").stdout.strip() == "running"

    # docker cp both ways, a file and a directory
    (tmp_path / "in.txt").write_text("from the host\n")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "leaf").write_text("leaf\n")
    api.docker("cp", str(tmp_path / "in.txt"), "web:/tmp/")
    api.docker("cp", str(tmp_path / "tree"), "web:/tmp/")
    assert api.docker("exec", "web", "cat", "/tmp/in.txt", "/tmp/tree/sub/leaf").stdout == "from the host\nleaf\n"
    api.docker("cp", "web:/etc/motd", str(tmp_path / "motd"))
    assert (tmp_path / "motd").read_text() == "podium test image\n"
    api.docker("cp", "web:/tmp/tree", str(tmp_path / "back"))
    assert (tmp_path / "back" / "sub" / "leaf").read_text() == "leaf\n"
    missing = api.docker("cp", "web:/no/such/file", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "no/such/file" in missing.stderr

    api.docker("stop", "web")
    assert api.docker("inspect", "-f", "{{.State.Status}}", "web").stdout.strip() == "exited"
    assert api.docker("ps", "-q").stdout.strip() == ""
    api.docker("rm", "web")
    gone = api.docker("inspect", "web", check=False)
    assert gone.returncode != 0 and "No such" in gone.stderr

    images = api.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "localhost/busybox:latest" in images
    img = json.loads(api.docker("image", "inspect", "localhost/busybox").stdout)[0]
    assert img["Id"].startswith("sha256:") and img["Config"]["Cmd"] == ["sh"]


def test_networks_and_volumes(api: Service, image: str) -> None:
    nid = api.docker("network", "create", "--subnet", "10.89.57.0/24", "apinet").stdout.strip()
    assert len(nid) == 64
    nets = api.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.splitlines()
    assert "apinet bridge" in nets
    insp = json.loads(api.docker("network", "inspect", "apinet").stdout)[0]
    assert insp["IPAM"]["Config"][0]["Subnet"] == "10.89.57.0/24"
    dup = api.docker("network", "create", "apinet", check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    api.docker("network", "rm", "apinet")
    assert "apinet" not in api.docker("network", "ls").stdout

    api.docker("volume", "create", "--label", "k=v", "apivol")
    vols = api.docker("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert "apivol" in vols
    assert json.loads(api.docker("volume", "inspect", "apivol").stdout)[0]["Labels"] == {"k": "v"}
    out = api.docker("run", "--rm", "--network", "none", "-v", "apivol:/data", "localhost/busybox",
                     "sh", "-c", "echo kept > /data/f && cat /data/f")
    assert out.stdout == "kept\n"
    api.docker("volume", "rm", "apivol")
    assert "apivol" not in api.docker("volume", "ls", "-q").stdout.split()
    again = api.docker("volume", "rm", "apivol", check=False)
    assert again.returncode != 0 and "no such volume" in again.stderr.lower()


def test_push_and_pull_through_a_local_registry(podium, image: str) -> None:  # noqa: ANN001
    """docker push / rmi / pull / run against a real registry on 127.0.0.1 (plain HTTP, as Docker
    allows for loopback registries)."""
    from tests.integration.test_api_helpers import start_service, stop_service
    from tests.registry_server import Registry, _need_registry
    _need_registry()
    reg = Registry().start()
    conf = podium.base / "registries.conf"
    conf.write_text("")
    podium.env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
    podium.env["REGISTRY_AUTH_FILE"] = str(podium.base / "auth.json")
    svc = start_service(podium)
    try:
        ref = f"{reg.host}/api/busybox:1"
        svc.docker("tag", "localhost/busybox", ref)
        pushed = svc.docker("push", ref)
        assert "digest: sha256:" in pushed.stdout
        svc.docker("rmi", ref)
        assert ref not in svc.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
        pulled = svc.docker("pull", ref)
        assert f"Downloaded newer image for {ref}" in pulled.stdout
        assert svc.docker("run", "--rm", "--network", "none", ref, "cat", "/etc/motd").stdout == "podium test image\n"
        missing = svc.docker("pull", f"{reg.host}/api/nothing:1", check=False)
        assert missing.returncode != 0 and "nothing" in missing.stderr
    finally:
        stop_service(svc)
        reg.cleanup()


def test_classic_build(api: Service, image: str, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "Dockerfile").write_text('FROM localhost/busybox\nRUN echo from-cli > /x\nCMD ["cat", "/x"]\n')
    env_build = ["build", "-t", "localhost/clibuilt", str(tmp_path)]
    import subprocess
    proc = subprocess.run(["docker", *env_build], env={**api.env, "DOCKER_BUILDKIT": "0"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + api.log_text()
    assert "Successfully tagged localhost/clibuilt" in proc.stdout
    assert api.docker("run", "--rm", "--network", "none", "localhost/clibuilt").stdout == "from-cli\n"


def test_top_rename_prune_save_load_connect_df_events(api: Service, image: str, tmp_path) -> None:  # noqa: ANN001
    api.docker("run", "-d", "--name", "topme", "--network", "none", "localhost/busybox", "sleep", "300")
    top = api.docker("top", "topme").stdout
    assert "sleep 300" in top and "PID" in top
    api.docker("rename", "topme", "renamed")
    assert api.docker("ps", "--format", "{{.Names}}").stdout.split() == ["renamed"]
    api.docker("rm", "-f", "renamed")

    api.docker("create", "--name", "leftover", "--network", "none", "localhost/busybox", "true")
    pruned = api.docker("container", "prune", "-f").stdout
    assert "Deleted Containers" in pruned
    assert api.docker("ps", "-a", "-q").stdout.strip() == ""

    api.docker("save", "-o", str(tmp_path / "bb.tar"), "localhost/busybox")
    api.docker("tag", "localhost/busybox", "localhost/copy:1")
    api.docker("rmi", "localhost/copy:1")
    loaded = api.docker("load", "-i", str(tmp_path / "bb.tar")).stdout
    assert "Loaded image: localhost/busybox:latest" in loaded

    api.docker("network", "create", "side")
    api.docker("run", "-d", "--name", "netc", "--stop-timeout", "1", "localhost/busybox", "sleep", "300")
    api.docker("network", "connect", "--alias", "extra", "side", "netc")
    nets = json.loads(api.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "netc").stdout)
    assert "side" in nets and "extra" in nets["side"]["Aliases"]
    api.docker("network", "disconnect", "side", "netc")
    assert "side" not in json.loads(api.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "netc").stdout)
    api.docker("rm", "-f", "netc")
    assert "side" in api.docker("network", "prune", "-f").stdout
    api.docker("volume", "create", "spare")
    assert "spare" in api.docker("volume", "prune", "-f").stdout

    df = api.docker("system", "df").stdout
    assert df.startswith("TYPE") and "Images" in df
    import time
    until = str(int(time.time()) + 2)  # a moment ahead: the CLI sends whole seconds
    events = api.docker("events", "--since", "5m", "--until", until, "--filter", "type=network",
                        "--format", "{{.Action}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert "create side" in events and "connect side" in events and "destroy side" in events


def test_published_port(api: Service, image: str) -> None:
    import time
    import urllib.request
    from tests.integration.test_api_helpers import free_port
    port = free_port()
    api.docker("run", "-d", "--name", "web", "--stop-timeout", "1", "-p", f"127.0.0.1:{port}:8080",
               "localhost/busybox", "httpd", "-f", "-p", "8080", "-h", "/www")
    assert api.docker("port", "web", "8080").stdout.strip() == f"127.0.0.1:{port}"
    assert f"127.0.0.1:{port}->8080/tcp" in api.docker("ps", "--format", "{{.Ports}}").stdout
    body = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            break
        except OSError:
            time.sleep(0.2)
    assert body == b"hello from podium\n"
    api.docker("rm", "-f", "web")


def test_tty_containers(api: Service, image: str) -> None:
    """docker run -t: one raw stream (no frame headers) for logs and attach; resize through conmon."""
    api.docker("run", "-dt", "--name", "tt", "localhost/busybox", "sh", "-c", "tty; echo out; exec sleep 300")
    assert json.loads(api.docker("inspect", "tt").stdout)[0]["Config"]["Tty"] is True
    logs = api.docker("logs", "tt")
    for _ in range(100):
        if "out" in logs.stdout:
            break
        logs = api.docker("logs", "tt")
    assert logs.stdout.splitlines() == ["/dev/pts/0", "out"], logs  # raw: no 8-byte headers in the text
    status, _, _ = api.request("POST", "/containers/tt/resize?h=41&w=97")
    assert status == 200
    size = api.docker("exec", "tt", "sh", "-c", "stty size </dev/pts/0")
    assert size.stdout.split() == ["41", "97"]
    status, _, _ = api.request("POST", "/containers/tt/resize?h=0&w=97")
    assert status == 400
    # attached, with a TTY: what the terminal showed, raw
    out = api.docker("run", "--rm", "-t", "localhost/busybox", "sh", "-c", "tty; exit 3", check=False)
    assert out.returncode == 3 and out.stdout.strip() == "/dev/pts/0", out
    api.docker("rm", "-f", "tt")
    assert api.docker("ps", "-a", "-q").stdout.split() == []
