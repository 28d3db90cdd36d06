"""play kube / kube down on real containers: every case in tests/kube_cases/ played and checked from inside.

Each case file is played in a private storage root; the check looks at what the
containers really see (environment, files and their modes, cgroup limits, ids,
mounts, processes). Bad inputs must fail with one located line and leave
nothing behind; ``kube down`` must leave nothing behind.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import Podium

CASES = Path(__file__).resolve().parent.parent / "kube_cases"
CHECKS: dict[str, Callable[..., None]] = {}


def check(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        CHECKS[name] = fn
        return fn
    return register


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(tmp_path: Path, name: str, *, port: int | None = None) -> str:
    """The case file with @TMP@ replaced by a private directory for host paths, @PORT@ by a free port."""
    text = (CASES / f"{name}.yaml").read_text().replace("@TMP@", str(tmp_path))
    if port is not None:
        text = text.replace("@PORT@", str(port))
    out = tmp_path / f"{name}.yaml"
    out.write_text(text)
    return str(out)


def sh(podium: Podium, ctr: str, script: str) -> str:
    return podium("exec", ctr, "sh", "-c", script).stdout


def wait_for(fn: Callable[[], object], timeout: float = 10.0) -> object:
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def file_in(podium: Podium, ctr: str, path: str) -> str:
    return str(wait_for(lambda: podium("exec", ctr, "cat", path, check=False).stdout))


def env_of(podium: Podium, ctr: str) -> dict[str, str]:
    out = podium("exec", ctr, "env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def inspect(podium: Podium, ref: str) -> dict:
    return json.loads(podium("inspect", ref).stdout)[0]


def nothing_left(podium: Podium, *, volumes: tuple[str, ...] = ()) -> None:
    assert podium("ps", "-aq").stdout.split() == []
    assert podium("pod", "ps", "-q").stdout.split() == []
    assert podium("volume", "ls", "-q").stdout.split() == list(volumes)


def cgroup_limits(podium: Podium, ctr: str) -> tuple[str, str]:
    cg = "/sys/fs/cgroup"
    if os.path.exists(f"{cg}/cgroup.controllers"):
        mem, cpu = sh(podium, ctr, f"cat {cg}/memory.max; cat {cg}/cpu.max").splitlines()
        return mem, cpu.replace(" ", "/")
    out = sh(podium, ctr, f"cat {cg}/memory/memory.limit_in_bytes {cg}/cpu/cpu.cfs_quota_us "
                          f"{cg}/cpu/cpu.cfs_period_us").split()
    return out[0], f"{out[1]}/{out[2]}"


# ---- the cases -----------------------------------------------------------------------------

@check("env-value")
def _(podium: Podium, path: str, tmp: Path) -> None:
    env = env_of(podium, "envvalue-c")
    assert (env["FIRST"], env["SECOND"], env["ESCAPED"], env["UNKNOWN"]) == ("one", "one-two", "$(FIRST)", "$(NOPE)")


@check("env-configmap")
def _(podium: Podium, path: str, tmp: Path) -> None:
    env = env_of(podium, "envcm-c")
    assert env["COLOR"] == "blue" and "MAYBE" not in env


@check("env-secret")
def _(podium: Podium, path: str, tmp: Path) -> None:
    env = env_of(podium, "envsecret-c")
    assert (env["DB_PASSWORD"], env["DB_USER"]) == ("hunter2", "admin")


@check("env-fieldref")
def _(podium: Podium, path: str, tmp: Path) -> None:
    env = env_of(podium, "envfield-c")
    assert (env["POD_NAME"], env["POD_NS"], env["APP"], env["OWNER"]) == ("envfield", "shop", "cart", "team-a")
    assert env["NODE"] == socket.gethostname()
    addr = sh(podium, "envfield-c", "ip -4 -o addr show eth0").split()[3].split("/")[0]
    assert env["POD_IP"] == addr and env["URL"] == f"http://{addr}:80/"  # known at create, expanded in env


@check("env-resourcefieldref")
def _(podium: Podium, path: str, tmp: Path) -> None:
    env = env_of(podium, "envres-c")
    assert (env["MEM_MI"], env["CPU_M"], env["CPU"]) == ("96", "1500", "2")  # cpu rounds up, as Kubernetes does


@check("envfrom")
def _(podium: Podium, path: str, tmp: Path) -> None:
    env = env_of(podium, "envfrom-c")
    assert (env["APP_MODE"], env["APP_LEVEL"], env["API_KEY"]) == ("fast", "9", "k-123")


@check("command-args")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert file_in(podium, "cmdargs-c", "/tmp/started") == "started with arg0\n"
    assert sh(podium, "cmdargs-c", "tr '\\0' ' ' < /proc/1/cmdline") == "sleep 1000 "


@check("args-only")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert sh(podium, "argsonly-c", "tr '\\0' ' ' < /proc/1/cmdline") == "sleep 1001 "


@check("workingdir")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert file_in(podium, "workdir-c", "/tmp/pwd") == "/etc\n"


@check("resources")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert cgroup_limits(podium, "limits-c") == (str(64 * 2**20), "50000/100000")
    cg = "/sys/fs/cgroup"
    soft = "memory.low" if os.path.exists(f"{cg}/cgroup.controllers") else "memory/memory.soft_limit_in_bytes"
    assert sh(podium, "limits-c", f"cat {cg}/{soft}") == f"{32 * 2**20}\n"  # requests.memory


@check("run-as-user")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert sh(podium, "runas-pod-level", "id -u; id -g").split() == ["1000", "3000"]
    assert sh(podium, "runas-own", "id -u; id -g").split() == ["2000", "3000"]


@check("readonly-rootfs")
def _(podium: Podium, path: str, tmp: Path) -> None:
    r = podium("exec", "readonly-c", "touch", "/etc/x", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr + r.stdout
    assert sh(podium, "readonly-c", "touch /scratch/ok && echo ok") == "ok\n"


@check("capabilities")
def _(podium: Podium, path: str, tmp: Path) -> None:
    dropped = int(sh(podium, "caps-dropped", "grep CapEff /proc/1/status | cut -f2"), 16)
    assert dropped == 1 << 10  # CAP_NET_BIND_SERVICE alone
    priv = int(sh(podium, "caps-privileged", "grep CapEff /proc/1/status | cut -f2"), 16)
    assert priv & (1 << 21)  # CAP_SYS_ADMIN


@check("configmap-volume")
def _(podium: Podium, path: str, tmp: Path) -> None:
    out = sh(podium, "cmvol-c", "cd /etc/web && stat -c '%n %a %u' * && cat mode && cat nginx.conf")
    assert out == "mode 640 0\nnginx.conf 640 0\nproductionserver { listen 80; }\n"
    r = podium("exec", "cmvol-c", "sh", "-c", "echo x > /etc/web/mode", check=False)
    assert r.returncode != 0  # configMap volumes are read-only


@check("configmap-items")
def _(podium: Podium, path: str, tmp: Path) -> None:
    out = sh(podium, "cmitems-c", "cd /data && find . -type f | sort && stat -c '%a' nested/dir/second.txt first.txt "
                                  "&& cat first.txt nested/dir/second.txt && od -An -tx1 blob.bin")
    assert out.split() == ["./blob.bin", "./first.txt", "./nested/dir/second.txt", "400", "644",
                           "alphabeta", "00", "01", "02"]


@check("secret-volume")
def _(podium: Podium, path: str, tmp: Path) -> None:
    out = sh(podium, "secvol-c", "cd /certs && stat -c '%n %a' tls.crt tls.key && cat tls.crt tls.key")
    assert out == "tls.crt 444\ntls.key 400\nCERTKEY"


@check("subpath")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert sh(podium, "subpath-writer", "cat /etc/app.ini; ls /etc | grep -c app.ini") == "[main]\nport = 8080\n1\n"
    assert file_in(podium, "subpath-reader", "/all/logs/w.log") == "from-writer\n"


@check("emptydir-shared")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert file_in(podium, "shared-consumer", "/in/msg") == "made-by-producer\n"
    assert podium("exec", "shared-consumer", "touch", "/in/x", check=False).returncode != 0


@check("emptydir-memory")
def _(podium: Podium, path: str, tmp: Path) -> None:
    mounts = sh(podium, "memdir-c", "grep ' /cache ' /proc/mounts")
    assert mounts.split()[2] == "tmpfs" and "size=8192k" in mounts
    assert podium("volume", "ls", "-q").stdout.split() == []


@check("hostpath")
def _(podium: Podium, path: str, tmp: Path) -> None:
    pass  # see test_hostpath_case: it needs the host directory before the play


@check("pvc")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert podium("volume", "ls", "-q").stdout.split() == ["pgdata"]
    wait_for(lambda: podium("exec", "db-c", "cat", "/var/lib/data/boots", check=False).stdout)
    assert file_in(podium, "db-c", "/var/lib/data/site/public/index.html") == "page\n"  # the subPath's directory
    r = podium("volume", "rm", "pgdata", check=False)  # the subPath mount counts as a use of the volume
    assert r.returncode != 0 and "pgdata is being used" in r.stderr
    podium("kube", "down", path)
    nothing_left(podium, volumes=("pgdata",))  # the claim keeps its data
    podium("play", "kube", path)
    assert wait_for(lambda: len(podium("exec", "db-c", "cat", "/var/lib/data/boots", check=False)
                                .stdout.splitlines()) == 2)
    podium("kube", "down", "--force", path)
    nothing_left(podium)


@check("init-containers")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert file_in(podium, "initorder-app", "/work/order") == "first\nsecond\napp\n"
    names = podium("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "initorder-first" not in names and "initorder-app" in names  # done init containers go (Podman's "once")


@check("deployment")
def _(podium: Podium, path: str, tmp: Path) -> None:
    pods = sorted(podium("pod", "ps", "--format", "{{.Name}}").stdout.split())
    assert pods == ["web-pod-0", "web-pod-1"]
    for pod in pods:
        out = wait_for(lambda: podium("exec", f"{pod}-httpd", "wget", "-q", "-O", "-", "http://localhost:8080/",
                                      check=False).stdout)
        assert out == "hello from podium\n"
        assert sh(podium, f"{pod}-httpd", "hostname") == f"{pod}\n"


@check("daemonset")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert podium("pod", "ps", "--format", "{{.Name}}").stdout.split() == ["agent-pod"]
    assert podium("ps", "--format", "{{.Names}}", "--filter", "name=collector").stdout.split() == \
        ["agent-pod-collector"]


@check("job")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert podium("wait", "migrate-pod-0-task").stdout.strip() == "0"
    assert "migrated" in podium("logs", "migrate-pod-0-task").stdout


@check("restart-policy")
def _(podium: Podium, path: str, tmp: Path) -> None:
    hc = inspect(podium, "restarts-c")
    assert hc["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
    assert hc["Config"]["StopTimeout"] == 3


@check("hostname")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert sh(podium, "named-a", "hostname") == "custom-host\n"
    assert sh(podium, "named-b", "hostname") == "custom-host\n"


@check("host-network")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert sh(podium, "hostnet-c", "readlink /proc/self/ns/net").strip() == os.readlink("/proc/self/ns/net")


@check("share-process-namespace")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert wait_for(lambda: "sleep 1234" in sh(podium, "sharepid-b", "ps -o args"))


@check("labels-annotations")
def _(podium: Podium, path: str, tmp: Path) -> None:
    pod = json.loads(podium("pod", "inspect", "meta").stdout)
    assert pod["Labels"] == {"app": "shop", "tier": "backend"}
    assert pod["Annotations"] == {"example.com/owner": "team-b", "note": "kept as given"}
    c = inspect(podium, "meta-c")
    assert c["Config"]["Labels"] == {"app": "shop", "tier": "backend"}
    ann = c["Config"]["Annotations"]
    assert ann["example.com/owner"] == "team-b" and ann["note"] == "kept as given"


@check("localhost")
def _(podium: Podium, path: str, tmp: Path) -> None:
    out = wait_for(lambda: podium("exec", "local-client", "wget", "-q", "-O", "-", "http://localhost:8080/",
                                  check=False).stdout)
    assert out == "hello from podium\n"


@check("sysctls")
def _(podium: Podium, path: str, tmp: Path) -> None:
    assert sh(podium, "sysctl-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start") == "80\n"


@check("host-namespaces")
def _(podium: Podium, path: str, tmp: Path) -> None:
    for kind in ("pid", "ipc"):
        assert sh(podium, "hostns-c", f"readlink /proc/self/ns/{kind}").strip() == os.readlink(f"/proc/self/ns/{kind}")
    assert sh(podium, "hostns-c", "readlink /proc/self/ns/uts").strip() != os.readlink("/proc/self/ns/uts")


@check("host-aliases-dns")
def _(podium: Podium, path: str, tmp: Path) -> None:
    for ctr in ("hostsdns-a", "hostsdns-b"):
        hosts = sh(podium, ctr, "cat /etc/hosts").splitlines()
        assert "192.0.2.10\tdb.internal" in hosts and "192.0.2.10\tcache.internal" in hosts
        assert "2001:db8::7\tv6.internal" in hosts
        resolv = sh(podium, ctr, "cat /etc/resolv.conf").splitlines()
        assert [ln for ln in resolv if ln.startswith("nameserver")] == ["nameserver 192.0.2.53",
                                                                        "nameserver 192.0.2.54"]
        assert "search svc.example.test example.test" in resolv
        options = next(ln for ln in resolv if ln.startswith("options")).split()[1:]
        assert "ndots:2" in options and "edns0" in options and "ndots:1" not in options


@check("pod-security")
def _(podium: Podium, path: str, tmp: Path) -> None:
    def status(ctr: str, key: str) -> str:
        return sh(podium, ctr, f"grep '^{key}:' /proc/1/status").split()[1]

    assert set(sh(podium, "podsec-locked", "id -G").split()) >= {"4000", "4001", "5000"}
    assert (status("podsec-locked", "NoNewPrivs"), status("podsec-open", "NoNewPrivs")) == ("1", "0")
    assert (status("podsec-locked", "Seccomp"), status("podsec-open", "Seccomp")) == ("2", "0")
    masked = "grep -c ' /proc/' /proc/self/mountinfo || true"  # masked and read-only paths under /proc
    assert int(sh(podium, "podsec-locked", masked)) >= 1 and sh(podium, "podsec-open", masked) == "0\n"
    assert wait_for(lambda: podium("exec", "podsec-locked", "stat", "-c", "%g", "/data/made-by-locked",
                                   check=False).stdout) == "5000\n"  # fsGroup owns the pod's volumes
    assert sh(podium, "podsec-locked", "stat -c '%g %A' /data") == "5000 drwxrwsrwx\n"


def _health(podium: Podium, ctr: str) -> dict:
    return inspect(podium, ctr)["State"].get("Health") or {}


@check("probes")
def _(podium: Podium, path: str, tmp: Path) -> None:
    # startup passes, then liveness (httpGet through a named port) keeps the web container healthy
    assert wait_for(lambda: _health(podium, "probes-web").get("Status") == "healthy", 30)
    assert podium("healthcheck", "run", "probes-web").returncode == 0
    # the worker's exec liveness probe fails once its file is gone: the container is restarted
    assert wait_for(lambda: _health(podium, "probes-worker").get("Status") == "healthy", 30)
    pod = json.loads(podium("pod", "inspect", "probes").stdout)
    assert pod["Conditions"] == [{"Type": "Ready", "Status": "True"}]  # startup passed, readiness answers
    podium("exec", "probes-worker", "rm", "/tmp/alive")
    assert wait_for(lambda: inspect(podium, "probes-worker")["RestartCount"] >= 1, 30)
    assert wait_for(lambda: podium("exec", "probes-worker", "cat", "/tmp/alive", check=False).returncode == 0, 20)


def _published(podium: Podium, path: str, port: int, name: str) -> None:
    """The pod publishes the port, and it answers on 127.0.0.1.

    Patient: on this shared host a new container's address can take ~9 s to
    answer even without a port mapping (the host's stale neighbour entry for a
    reused address, a network-layer matter outside kube).
    """
    podium("play", "kube", path)
    bindings = json.loads(podium("pod", "inspect", name).stdout)["InfraConfig"]["PortBindings"]
    assert bindings == {"8080/tcp": [{"HostIp": bindings["8080/tcp"][0]["HostIp"], "HostPort": str(port)}]}
    body = wait_for(lambda: _get(f"http://127.0.0.1:{port}/"), 60)
    assert body == "hello from podium\n"
    assert podium("pod", "ps", "--format", "{{.Name}}").stdout.split() == [name]


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""


@check("host-port")
def _(podium: Podium, path: str, tmp: Path) -> None:
    pass  # played by test_ports_cases


@check("service-nodeport")
def _(podium: Podium, path: str, tmp: Path) -> None:
    pass  # played by test_ports_cases


SPECIAL = {"hostpath", "host-port", "service-nodeport", "init-fails"}
PLAYED = sorted(n for n in CHECKS if n not in SPECIAL)


def test_every_case_file_has_a_check() -> None:
    files = sorted(p.stem for p in CASES.glob("*.yaml") if not p.stem.startswith("bad-"))
    assert sorted(set(CHECKS) | {"init-fails"}) == files
    assert len(files) >= 30


@pytest.mark.parametrize("name", PLAYED)
def test_case(podium: Podium, image: str, tmp_path: Path, name: str) -> None:
    path = prepare(tmp_path, name)
    r = podium("play", "kube", path)
    assert r.stderr == "", r.stderr  # the cases use supported fields only: no warnings
    assert "Pod:" in r.stdout
    CHECKS[name](podium, path, tmp_path)


def test_hostpath_case(podium: Podium, image: str, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("from the host\n")
    path = prepare(tmp_path, "hostpath")
    podium("play", "kube", path)
    assert sh(podium, "hostpath-c", "cat /site/index.html") == "from the host\n"
    assert podium("exec", "hostpath-c", "touch", "/site/x", check=False).returncode != 0
    assert (tmp_path / "made" / "deep").is_dir() and (tmp_path / "app.log").is_file()
    sh(podium, "hostpath-c", "echo written > /made/f; echo line >> /var/log/app.log")
    assert (tmp_path / "made" / "deep" / "f").read_text() == "written\n"
    assert (tmp_path / "app.log").read_text() == "line\n"
    assert sh(podium, "hostpath-c", "stat -c %F /dev/mynull") == "character special file\n"


@pytest.mark.parametrize("name,pod", [("host-port", "published"), ("service-nodeport", "front")])
def test_ports_cases(podium: Podium, image: str, tmp_path: Path, name: str, pod: str) -> None:
    port = free_port()
    _published(podium, prepare(tmp_path, name, port=port), port, pod)


# ---- failures leave nothing --------------------------------------------------------------------

def test_failing_init_container_fails_the_pod(podium: Podium, image: str, tmp_path: Path) -> None:
    r = podium("play", "kube", prepare(tmp_path, "init-fails"), check=False)
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1
    assert "init container 'check' exited with code 3" in r.stderr and "database not reachable" in r.stderr
    nothing_left(podium)


def test_failing_init_container_in_one_replica_undoes_every_pod(podium: Podium, image: str,
                                                                 tmp_path: Path) -> None:
    """Pods start in parallel (one worker process each): the failure still fails the play, and undoes it."""
    path = tmp_path / "replicas.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: rep}\nspec:\n  replicas: 3\n"
                    "  selector: {matchLabels: {app: rep}}\n  template:\n    metadata: {labels: {app: rep}}\n"
                    "    spec:\n      initContainers:\n      - name: gate\n        image: busybox\n"
                    "        command: [sh, -c, 'test $(hostname) != rep-pod-1 || { echo no entry; exit 4; }']\n"
                    "      containers: [{name: c, image: busybox, command: [sleep, '1000']}]\n")
    r = podium("play", "kube", "--network", "none", str(path), check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1
    assert "pod rep-pod-1: init container 'gate' exited with code 4 (last output: no entry)" in r.stderr
    nothing_left(podium)


@pytest.mark.parametrize("name,expected", [
    ("bad-syntax", "bad-syntax.yaml:10:3: invalid YAML: expected ',' or ']'"),
    ("bad-type", "bad-type.yaml:9:22: spec.containers[0].ports[0].containerPort: expected integer, got string 'http'"),
    ("bad-configmap-key", "bad-configmap-key.yaml:15:58: spec.containers[0].env[0].valueFrom.configMapKeyRef.key: "
                          "configMap 'settings' has no key 'size'"),
    ("bad-hostpath-type", "bad-hostpath-type.yaml:11:22: spec.volumes[0].hostPath.path: hostPath "),
])
def test_bad_input_is_one_located_line(podium: Podium, image: str, tmp_path: Path, name: str,
                                       expected: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    path = prepare(tmp_path, name)
    r = podium("play", "kube", path, check=False)
    assert r.returncode == 125
    assert r.stderr.startswith(f"Error: {tmp_path}/{expected}"), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    nothing_left(podium)


def test_unknown_kind_warns_or_is_refused(podium: Podium, image: str, tmp_path: Path) -> None:
    path = prepare(tmp_path, "bad-kind")
    r = podium("play", "kube", "--validate=strict", path, check=False)
    assert r.returncode == 125
    assert r.stderr == (f"Error: {path}:8:1: kind: unsupported kind 'CronJob' (refused by --validate=strict)\n")
    nothing_left(podium)
    r = podium("play", "kube", path)
    assert r.stderr == f"Warning: {path}:8:1: kind: unsupported kind 'CronJob' (ignored)\n"
    assert podium("pod", "ps", "--format", "{{.Name}}").stdout.split() == ["withcron"]
    podium("kube", "down", path)
    assert podium("play", "kube", "--validate", "ignore", path).stderr == ""


def test_play_twice_names_the_pod_and_replace_recreates(podium: Podium, image: str, tmp_path: Path) -> None:
    path = prepare(tmp_path, "configmap-volume")
    first = podium("play", "kube", "--format", "json", path)
    pod_id = json.loads(first.stdout)["Pods"][0]["ID"]
    r = podium("play", "kube", path, check=False)
    assert r.returncode == 125
    assert r.stderr == (f"Error: pod 'cmvol' already exists: remove it with 'podium kube down {path}' "
                        "or play with --replace\n")
    assert podium("pod", "ps", "-q", "--no-trunc").stdout.split() == [pod_id]
    assert podium("ps", "-a", "--format", "{{.Names}}").stdout.split().count("cmvol-c") == 1
    second = json.loads(podium("play", "kube", "--replace", "--format", "json", path).stdout)
    assert second["Pods"][0]["ID"] != pod_id and second["Pods"][0]["Name"] == "cmvol"
    assert sh(podium, "cmvol-c", "cat /etc/web/mode") == "production"


def test_down_leaves_nothing(podium: Podium, image: str, tmp_path: Path) -> None:
    paths = [prepare(tmp_path, n) for n in ("subpath", "init-containers", "secret-volume", "deployment")]
    for p in paths:
        podium("play", "kube", p)
    assert len(podium("pod", "ps", "-q").stdout.split()) == 5
    assert podium("volume", "ls", "-q").stdout.split() != []
    out = podium("play", "kube", "--down", paths[0]).stdout
    assert out.startswith("Pods stopped:\n") and "Pods removed:" in out and "subpath-config" in out
    down = json.loads(podium("kube", "down", "--format", "json", *paths[1:]).stdout)
    assert len(down["RmReport"]) == 4
    nothing_left(podium)
    assert podium("kube", "down", paths[0]).stdout == ""  # already down: nothing to do, no error


def test_start_false_stdin_alias_and_configmap_file(podium: Podium, image: str, tmp_path: Path) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: green}\n")
    pod_yaml = (CASES / "env-configmap.yaml").read_text().split("---\n", 1)[1]
    r = podium("kube", "play", "--start=false", "--configmap", str(cm), "-", input=pod_yaml)
    assert "Pod:" in r.stdout
    states = podium("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.splitlines()
    assert "envcm-c created" in states
    podium("pod", "start", "envcm")
    assert env_of(podium, "envcm-c")["COLOR"] == "green"
    assert podium("play", "kube", "--quiet", "--replace", "--configmap", str(cm), "-", input=pod_yaml).stdout == ""
    r = podium("play", "kube", "-", input=pod_yaml, check=False)
    assert r.returncode == 125 and "configMap 'settings' not found" in r.stderr and "<stdin>:" in r.stderr


# ---- examples are tests -----------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples" / "kube"


def test_example_web(podium: Podium, image: str) -> None:
    path = str(EXAMPLES / "web.yaml")
    r = podium("play", "kube", path)
    assert r.stderr == ""
    assert sorted(podium("pod", "ps", "--format", "{{.Name}}").stdout.split()) == ["web-pod-0", "web-pod-1"]
    for pod in ("web-pod-0", "web-pod-1"):
        page = wait_for(lambda: "served" in podium("exec", f"{pod}-checker", "cat", "/tmp/last-check",
                                                   check=False).stdout)
        assert page
    podium("kube", "down", path)
    nothing_left(podium)


def test_example_batch(podium: Podium, image: str) -> None:
    path = str(EXAMPLES / "batch.yaml")
    assert podium("play", "kube", path).stderr == ""
    assert podium("wait", "report-pod-0-report").stdout.strip() == "0"
    assert podium("logs", "report-pod-0-report").stdout == "user 1000 sum 15 token 16 chars\n"
    podium("kube", "down", path)
    nothing_left(podium)


# ---- generate kube: deterministic, valid, and a round trip ----------------------------------------

def kubernetes_valid(text: str) -> None:
    """Every document validates (strictly: no unknown field) against a current Kubernetes release's schema."""
    import kubernetes_validate
    from ruamel.yaml import YAML

    version = kubernetes_validate.latest_version()
    docs = [d for d in YAML(typ="safe", pure=True).load_all(text) if d]
    assert docs
    for d in docs:
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{d['kind']} {d['metadata']['name']} is not valid Kubernetes {version}: {exc.message} "
                        f"at {'.'.join(str(p) for p in exc.path)}")


@pytest.mark.parametrize("name", [n for n in PLAYED if n not in ("pvc",)])
def test_generate_round_trip(podium: Podium, image: str, tmp_path: Path, name: str) -> None:
    from ruamel.yaml import YAML

    from podium.declare.kube.loader import load

    podium("play", "kube", prepare(tmp_path, name))
    pod = sorted(podium("pod", "ps", "--format", "{{.Name}}").stdout.split())[0]
    text = podium("generate", "kube", pod).stdout
    assert podium("kube", "generate", pod).stdout == text  # byte-identical twice
    kubernetes_valid(text)
    kubernetes_valid(podium("generate", "kube", "--service", "--type", "deployment", "--replicas", "3", pod).stdout)
    out = tmp_path / "generated.yaml"
    out.write_text(text)
    assert load([str(out)], validate="strict").warnings == []  # podium's own schemas, no unknown field
    y = YAML(typ="safe", pure=True)
    docs = list(y.load_all(text))
    for d in docs:
        if d["kind"] == "Pod":
            d["metadata"]["name"] = "copy"
    again = tmp_path / "again.yaml"
    with open(again, "w") as f:
        y.dump_all(docs, f)
    podium("play", "kube", str(again))
    copy = [d for d in y.load_all(podium("generate", "kube", "copy").stdout) if d["kind"] == "Pod"][0]
    orig = [d for d in docs if d["kind"] == "Pod"][0]
    assert copy["spec"] == orig["spec"]
    assert copy["metadata"].get("labels") == orig["metadata"].get("labels")
    assert copy["metadata"].get("annotations") == orig["metadata"].get("annotations")


@pytest.mark.parametrize("name", ["probes", "host-aliases-dns"])
def test_generate_deployment_round_trip(podium: Podium, image: str, tmp_path: Path, name: str) -> None:
    """--type deployment --replicas 2, played again: two pods whose spec is the original pod's."""
    from ruamel.yaml import YAML

    podium("play", "kube", prepare(tmp_path, name))
    pod = podium("pod", "ps", "--format", "{{.Name}}").stdout.split()[0]
    text = podium("generate", "kube", "--type", "deployment", "--replicas", "2", pod).stdout
    kubernetes_valid(text)
    y = YAML(typ="safe", pure=True)
    dep = [d for d in y.load_all(text) if d["kind"] == "Deployment"][0]
    assert (dep["metadata"]["name"], dep["spec"]["replicas"]) == (f"{pod}-deployment", 2)
    out = tmp_path / "deployment.yaml"
    out.write_text(text)
    podium("play", "kube", str(out))
    pods = sorted(podium("pod", "ps", "--format", "{{.Name}}").stdout.split())
    assert pods == sorted([pod, f"{pod}-deployment-pod-0", f"{pod}-deployment-pod-1"])
    orig = [d for d in y.load_all(podium("generate", "kube", pod).stdout) if d["kind"] == "Pod"][0]
    for replica in pods[1:]:
        copy = [d for d in y.load_all(podium("generate", "kube", replica).stdout) if d["kind"] == "Pod"][0]
        assert copy["spec"] == orig["spec"]
    podium("kube", "down", str(out))
    assert podium("pod", "ps", "--format", "{{.Name}}").stdout.split() == [pod]


def test_seccomp_localhost_profile(podium: Podium, image: str, tmp_path: Path) -> None:
    """seccompProfile Localhost: the JSON profile on this host is the container's filter."""
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    path = tmp_path / "seccomp.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: filtered}\nspec:\n  containers:\n"
                    "  - name: c\n    image: busybox\n    command: [sleep, '1000']\n    securityContext:\n"
                    f"      seccompProfile: {{type: Localhost, localhostProfile: {profile}}}\n"
                    "  - {name: free, image: busybox, command: [sleep, '1000']}\n")
    podium("play", "kube", "--network", "none", str(path))
    r = podium("exec", "filtered-c", "mkdir", "/tmp/x", check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr + r.stdout
    assert podium("exec", "filtered-free", "mkdir", "/tmp/x").returncode == 0
    from ruamel.yaml import YAML
    gen = YAML(typ="safe", pure=True).load(podium("generate", "kube", "filtered").stdout)
    assert gen["spec"]["containers"][0]["securityContext"]["seccompProfile"] == {
        "type": "Localhost", "localhostProfile": str(profile)}
    profile.unlink()
    r = podium("play", "kube", "--replace", "--network", "none", str(path), check=False)
    assert r.returncode == 125 and f"seccompProfile.localhostProfile: seccomp profile {profile} not found" in r.stderr


def test_generate_health_check_as_liveness_probe(podium: Podium, image: str) -> None:
    """A container's health check set outside kube becomes an exec livenessProbe (Podman writes it so)."""
    from ruamel.yaml import YAML

    podium("create", "--name", "checked", "--network", "none", "--health-cmd", "test -e /etc/motd",
           "--health-interval", "5s", "--health-retries", "2", image, "sleep", "100")
    text = podium("generate", "kube", "checked").stdout
    kubernetes_valid(text)
    pod = YAML(typ="safe", pure=True).load(text)
    assert pod["metadata"]["name"] == "checked-pod"
    assert pod["spec"]["containers"][0]["livenessProbe"] == {
        "exec": {"command": ["/bin/sh", "-c", "test -e /etc/motd"]}, "periodSeconds": 5, "failureThreshold": 2,
        "timeoutSeconds": 30}  # Podman's default health timeout
