"""Bridge networks on real containers, bridges, veths, nftables/iptables and aardvark-dns.

The connectivity tests run on both backends (``fast``: netlink + podium's nft
table; ``netavark``: Podman's tool), chosen by PODIUM_NETWORK_BACKEND. Traffic
only goes to 127.0.0.1 and to addresses of the networks the tests create, and
names looked up are the tests' own containers. Every test ends by removing its
containers and networks and checking that nothing of its root is left on the
host: namespaces, veths, bridges, nft elements, iptables rules, aardvark-dns,
host claims.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import Podium, need

BACKENDS = ["fast", "netavark"]
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
PAGE = "hello from podium\n"
NETAVARK = "/usr/lib/podman/netavark"


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True).stdout


def uid() -> str:
    return uuid.uuid4().hex[:8]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, *, tries: int = 50) -> str:
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url}")


def netns_files(podium: Podium) -> list[str]:
    """Namespace files and records under the run root (not the teardowns' lock file)."""
    d = podium.runroot / "netns"
    return [f for f in os.listdir(d) if f != "reapers.lock"] if d.exists() else []


def wait_reapers(podium: Podium | None = None) -> None:
    """Until the root's (or, without one, the host's) background teardowns are done (a bridge
    lingers ~1 s after its last container), then until none holds the host network lock."""
    from podium.engine.net import fastpath, ipam
    fastpath.wait_reapers(str(podium.runroot) if podium is not None else None)
    with ipam.host_lock("net.lock"):
        pass


def chain_suffix(name: str) -> str:
    import hashlib
    return hashlib.sha512(name.encode()).hexdigest()[:13].upper()


# ---- host state -------------------------------------------------------------------------
def host_state() -> dict[str, list[str]]:
    """What a network set-up can change on the host, as text lines."""
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(ln.split()[4] for ln in f)
    ipt = [re.sub(r"\[\d+:\d+\]", "", ln) for ln in sh("iptables-save").splitlines() if not ln.startswith("#")]
    return {
        "links": sorted(re.sub(r"^\d+: ", "", ln).split(" link/")[0] for ln in sh("ip", "-o", "link").splitlines()),
        "netns": sorted(sh("ip", "netns", "list").splitlines()),
        "iptables": ipt,
        "nft": sh("nft", "list", "table", "ip", "podium").splitlines(),
        "mounts": mounts,
    }


def ours(state: dict[str, list[str]], words: list[str]) -> dict[str, list[str]]:
    """Only the lines that mention something of this test (its subnets, bridges, chains, ids, paths)."""
    pattern = re.compile("|".join(re.escape(w) for w in words if w))
    return {k: [ln for ln in v if pattern.search(ln)] for k, v in state.items()}


def network_words(podium: Podium) -> list[str]:
    """Subnets, bridges, chain suffixes, veths of the test's own networks and containers."""
    from podium.engine.net.fastpath import veth_name
    words = [str(podium.base)]
    for n in json.loads(podium("network", "ls", "--format", "json").stdout):
        if n["name"] == "podium":
            continue
        words += [n["subnets"][0]["subnet"], n["network_interface"] + " ", n["network_interface"] + ":",
                  chain_suffix(n["name"])]
    eng = podium.engine()
    try:
        for c in eng.store.containers():
            for net in c["config"].get("networks") or {}:
                words.append(veth_name(c["id"], net))
            words.append(c["id"])
    finally:
        eng.close()
    return words


def _still_ours(bridge: str, gateway: str | None) -> bool:
    """Bridge names are host-wide: once ours is gone, another root running at the same time
    may make a bridge of the same name for its own network (with its own gateway)."""
    addrs = sh("ip", "-o", "-4", "addr", "show", "dev", bridge)
    return not addrs.strip() or not gateway or f" {gateway}/" in addrs


def leftovers(podium: Podium) -> list[str]:
    """Remove the test's containers and networks; report what of its root is still on the host."""
    problems: list[str] = []
    if not podium.root.exists():
        return problems
    words = network_words(podium)
    bridges = [w[:-1] for w in words if w.endswith(":")]
    gateways = {n["network_interface"]: n["subnets"][0].get("gateway")
                for n in json.loads(podium("network", "ls", "--format", "json", check=False).stdout or "[]")}
    suffixes = [w for w in words if re.fullmatch(r"[0-9A-F]{13}", w)]
    ids = podium("ps", "-aq", "--no-trunc", check=False).stdout.split()
    if ids:
        podium("rm", "-f", "-v", *ids, check=False)
    for n in json.loads(podium("network", "ls", "--format", "json", check=False).stdout or "[]"):
        if n["name"] != "podium":
            podium("network", "rm", "-f", n["name"], check=False)
    wait_reapers(podium)
    if netns_files(podium):
        problems.append(f"netns files left: {netns_files(podium)}")
    pid_file = podium.runroot / "netavark" / "aardvark-dns" / "aardvark.pid"
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                problems.append(f"aardvark-dns {pid} still running")
                os.kill(pid, 15)
        except (OSError, ValueError):
            pass
    links = sh("ip", "-o", "link")
    for b in bridges:
        if re.search(rf"^\d+: {re.escape(b)}[:@]", links, re.M) and _still_ours(b, gateways.get(b)):
            problems.append(f"bridge {b} left")
    for w in words:
        if w.startswith("veth") and w in links:
            problems.append(f"veth {w} left")
    rules = sh("iptables-save", "-t", "nat") + sh("iptables-save", "-t", "filter")
    for suffix in suffixes:  # netavark's chains of the test's networks (named from the names)
        if suffix in rules:
            problems.append(f"iptables chain NETAVARK-*{suffix} left")
    claims = Path("/run/podium-net/claims")
    for f in claims.rglob("*") if claims.exists() else []:
        if f.is_file() and str(podium.root) in f.read_text():
            problems.append(f"host claim left: {f}")
            f.unlink()
    return problems


@pytest.fixture(autouse=True)
def clean_networks(podium: Podium) -> Iterator[None]:
    need(os.path.exists("/usr/sbin/nft"), "nftables (nft) is not installed")
    yield
    problems = leftovers(podium)
    assert not problems, f"test leaked: {problems}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, podium: Podium) -> str:
    if request.param == "netavark":
        need(os.path.exists(NETAVARK), "netavark is not installed (/usr/lib/podman/netavark)")
    podium.env["PODIUM_NETWORK_BACKEND"] = request.param
    return request.param


def one_error_line(proc: subprocess.CompletedProcess[str], text: str) -> None:
    assert proc.returncode == 125, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], proc.stderr


def nothing_half_created(podium: Podium) -> None:
    assert podium("ps", "-aq").stdout == ""
    assert not netns_files(podium)


# ---- connectivity (both backends) ----------------------------------------------------------
def test_containers_reach_each_other_by_name_and_alias(podium: Podium, image: str, backend: str) -> None:
    net = "n" + uid()
    podium("network", "create", net)
    podium("run", "-d", "--name", "web", "--network", net, "--network-alias", "www", image, *HTTPD)
    script = ("for i in $(seq 50); do wget -q -O /dev/null http://web/ && break; sleep 0.1; done; "
              "wget -q -O - http://web/; wget -q -O - http://www:80/; cat /etc/resolv.conf; "
              "nslookup -type=a web.dns.podman")
    out = podium("run", "--rm", "--network", net, image, "sh", "-c", script).stdout
    assert out.startswith(PAGE + PAGE), out
    gateway = json.loads(podium("network", "inspect", net).stdout)[0]["subnets"][0]["gateway"]
    assert f"search dns.podman\nnameserver {gateway}\n" in out
    settings = json.loads(podium("inspect", "web").stdout)[0]["NetworkSettings"]
    web_ip = settings["Networks"][net]["IPAddress"]
    assert settings["IPAddress"] == web_ip and settings["Networks"][net]["Aliases"] == ["www"]
    assert settings["Networks"][net]["Gateway"] == gateway and settings["Networks"][net]["IPPrefixLen"] == 24
    assert re.search(rf"Address:\s*{re.escape(web_ip)}", out), out


def test_published_port_answers_on_localhost(podium: Podium, image: str, backend: str) -> None:
    port = free_port()
    podium("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", image, *HTTPD)
    assert fetch(f"http://127.0.0.1:{port}/") == PAGE
    assert podium("port", "web").stdout == f"80/tcp -> 127.0.0.1:{port}\n"
    assert podium("port", "web", "80").stdout == f"127.0.0.1:{port}\n"
    ps = json.loads(podium("ps", "--format", "json").stdout)[0]
    assert ps["Ports"] == [{"host_ip": "127.0.0.1", "container_port": 80, "host_port": port, "range": 1,
                            "protocol": "tcp"}]
    ports = json.loads(podium("inspect", "web").stdout)[0]["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    # stop: the port goes away with the container's network; start: it is back
    podium("stop", "-t", "0", "web")
    wait_reapers(podium)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    podium("start", "web")
    assert fetch(f"http://127.0.0.1:{port}/") == PAGE


def test_default_network_with_a_random_host_port(podium: Podium, image: str, backend: str) -> None:
    podium("run", "-d", "--name", "web", "-p", "80", image, *HTTPD)
    host = podium("port", "web", "80").stdout.strip()
    assert host.startswith("0.0.0.0:")
    assert fetch(f"http://127.0.0.1:{host.split(':')[1]}/") == PAGE
    out = podium("exec", "web", "sh", "-c", "ip -o -4 addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf")
    assert re.search(r"inet 10\.87\.0\.\d+/24", out.stdout), out.stdout
    assert "default via 10.87.0.1" in out.stdout
    assert "host.containers.internal" in out.stdout and "web" in out.stdout
    assert "dns.podman" not in out.stdout  # DNS is off on the default network, as Podman's
    # hairpin: another container reaches the published port through the host's address
    hp = host.split(":")[1]
    got = podium("run", "--rm", image, "wget", "-q", "-O", "-", f"http://host.containers.internal:{hp}/")
    assert got.stdout == PAGE


def test_ip_is_kept_across_restarts_and_freed_on_removal(podium: Podium, image: str, backend: str) -> None:
    net = "n" + uid()
    podium("network", "create", "--subnet", "10.87.251.0/24", net)
    podium("run", "-d", "--name", "a", "--network", net, "--ip", "10.87.251.50", image, "sleep", "600")
    podium("run", "-d", "--name", "b", "--network", net, image, "sleep", "600")
    addr = "ip -o -4 addr show eth0"
    assert "10.87.251.50/24" in podium("exec", "a", "sh", "-c", addr).stdout
    assert "10.87.251.2/24" in podium("exec", "b", "sh", "-c", addr).stdout
    podium("restart", "-t", "0", "b")
    assert "10.87.251.2/24" in podium("exec", "b", "sh", "-c", addr).stdout
    dup = podium("create", "--network", net, "--ip", "10.87.251.50", image, "true", check=False)
    one_error_line(dup, "10.87.251.50")
    podium("rm", "-f", "a")
    podium("run", "-d", "--name", "c", "--network", net, "--ip", "10.87.251.50", image, "sleep", "600")
    assert "10.87.251.50/24" in podium("exec", "c", "sh", "-c", addr).stdout


def test_internal_network_has_no_way_out(podium: Podium, image: str, backend: str) -> None:
    net = "n" + uid()
    podium("network", "create", "--internal", net)
    out = podium("run", "--rm", "--network", net, image, "ip", "route").stdout
    assert "default" not in out and "10.87." in out


def test_connect_and_disconnect(podium: Podium, image: str, backend: str) -> None:
    n1, n2 = "a" + uid(), "b" + uid()
    podium("network", "create", n1)
    podium("network", "create", n2)
    sub2 = json.loads(podium("network", "inspect", n2).stdout)[0]["subnets"][0]["subnet"]
    prefix2 = sub2.rsplit(".", 1)[0] + "."
    podium("run", "-d", "--name", "web", "--network", n1, image, *HTTPD)
    podium("network", "connect", "--alias", "site", n2, "web")
    addrs = podium("exec", "web", "ip", "-o", "-4", "addr").stdout
    assert "eth1" in addrs and prefix2 in addrs, addrs
    insp = json.loads(podium("network", "inspect", n2).stdout)[0]
    assert [v["name"] for v in insp["containers"].values()] == ["web"]
    script = "for i in $(seq 50); do wget -q -O - http://site/ && break; sleep 0.1; done"
    assert podium("run", "--rm", "--network", n2, image, "sh", "-c", script).stdout == PAGE
    again = podium("network", "connect", n2, "web", check=False)
    one_error_line(again, "already connected")
    podium("network", "disconnect", n2, "web")
    assert "eth1" not in podium("exec", "web", "ip", "-o", "-4", "addr").stdout
    assert json.loads(podium("network", "inspect", n2).stdout)[0]["containers"] == {}
    # a created container: its config changes, and its start joins both networks
    podium("create", "--name", "later", "--network", n1, image, "sleep", "600")
    podium("network", "connect", n2, "later")
    podium("start", "later")
    addrs = podium("exec", "later", "ip", "-o", "-4", "addr").stdout
    assert "eth0" in addrs and "eth1" in addrs and prefix2 in addrs, addrs
    podium("stop", "-t", "0", "later")
    podium("network", "disconnect", n2, "later")
    podium("start", "later")
    assert "eth1" not in podium("exec", "later", "ip", "-o", "-4", "addr").stdout


def test_host_is_back_as_it_was(podium: Podium, image: str, backend: str) -> None:
    before = host_state()
    n1, n2 = "a" + uid(), "b" + uid()
    podium("network", "create", n1)
    podium("network", "create", "--internal", n2)
    port = free_port()
    podium("run", "-d", "--name", "web", "--network", n1, "--network-alias", "www", "-p",
           f"127.0.0.1:{port}:80", image, *HTTPD)
    podium("run", "-d", "--name", "db", "--network", f"{n1},{n2}", image, "sleep", "600")
    podium("network", "connect", n2, "web")
    assert fetch(f"http://127.0.0.1:{port}/") == PAGE
    podium("run", "--rm", "--network", n1, image, "true")
    words = network_words(podium)
    during = ours(host_state(), words)
    assert during["links"] and (during["nft"] if backend == "fast" else during["iptables"]), during
    assert any(str(podium.runroot / "netns") in m for m in during["mounts"])
    problems = leftovers(podium)
    assert not problems
    after = host_state()
    assert ours(after, words) == ours(before, words)


# ---- bad input: one line, exit 125, nothing half-created -------------------------------------
def test_unknown_network(podium: Podium, image: str) -> None:
    one_error_line(podium("run", "--network", "nosuch", image, "true", check=False), "network nosuch not found")
    one_error_line(podium("create", "--network", "nosuch", image, "true", check=False), "nosuch")
    one_error_line(podium("network", "inspect", "nosuch", check=False), "network nosuch not found")
    one_error_line(podium("network", "rm", "nosuch", check=False), "network nosuch not found")
    nothing_half_created(podium)


def test_overlapping_subnet(podium: Podium) -> None:
    podium("network", "create", "--subnet", "10.87.252.0/24", "first")
    for subnet in ("10.87.252.128/25", "10.87.0.0/16"):
        one_error_line(podium("network", "create", "--subnet", subnet, "second", check=False), "already used")
    # Podman's default network, whether its bridge is up or not
    one_error_line(podium("network", "create", "--subnet", "10.88.5.0/24", "second", check=False),
                   "already used")
    # a route of the host
    eth = re.search(r"^(\d+\.\d+\.\d+\.\d+/\d+) dev \S+ proto kernel", sh("ip", "route"), re.M)
    if eth and not eth.group(1).startswith("10.87."):
        one_error_line(podium("network", "create", "--subnet", eth.group(1), "second", check=False),
                       "already used on the host")
    assert podium("network", "exists", "second", check=False).returncode == 1
    one_error_line(podium("network", "create", "first", check=False), "already exists")
    one_error_line(podium("network", "create", "podman", check=False), "reserved")


def test_port_already_bound(podium: Podium, image: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = podium("run", "-d", "-p", f"127.0.0.1:{port}:80", image, *HTTPD, check=False)
        one_error_line(proc, f"127.0.0.1:{port}/tcp is already in use")
        nothing_half_created(podium)
        assert f". {port} :" not in sh("nft", "list", "table", "ip", "podium")
        assert f"--dport {port}" not in sh("iptables-save")
    # reserved by another container of this root (created, not running)
    podium("create", "--name", "holder", "-p", f"{port}:80", image, *HTTPD)
    one_error_line(podium("create", "-p", f"127.0.0.1:{port}:80", image, "true", check=False),
                   "reserved by another podium container")
    one_error_line(podium("run", "-p", "80:80:80:80", image, "true", check=False), "invalid port mapping")


def test_removing_a_network_in_use(podium: Podium, image: str) -> None:
    net = "n" + uid()
    podium("network", "create", net)
    podium("create", "--name", "user", "--network", net, image, "true")
    one_error_line(podium("network", "rm", net, check=False), "associated containers")
    assert podium("network", "exists", net).returncode == 0
    assert podium("ps", "-aq").stdout.strip()
    one_error_line(podium("network", "rm", "podium", check=False), "cannot be removed")
    assert podium("network", "rm", "-f", net).stdout == net + "\n"
    assert podium("ps", "-aq").stdout == ""
    assert podium("network", "exists", net, check=False).returncode == 1


def test_invalid_ip(podium: Podium, image: str) -> None:
    net = "n" + uid()
    podium("network", "create", "--subnet", "10.87.253.0/24", net)
    for ip, text in (("10.87.99.5", "not in the network's subnet"), ("10.87.253.1", "gateway"),
                     ("not-an-ip", "expected an IPv4"), ("10.87.253.255", "broadcast")):
        one_error_line(podium("run", "--network", net, "--ip", ip, image, "true", check=False), text)
    one_error_line(podium("run", "--network", "none", "--ip", "10.87.253.9", image, "true", check=False),
                   "needs a bridge network")
    nothing_half_created(podium)


# ---- the network commands, as Podman's ---------------------------------------------------------
def test_network_commands(podium: Podium, image: str) -> None:
    name = "n" + uid()
    assert podium("network", "create", "--label", "tier=web", "--subnet", "10.87.254.0/24",
                  "--gateway", "10.87.254.254", name).stdout == name + "\n"
    assert podium("network", "create", "--ignore", name).stdout == name + "\n"
    auto = podium("network", "create").stdout.strip()
    assert re.fullmatch(r"podium\d+", auto)
    ls = podium("network", "ls").stdout.splitlines()
    assert ls[0].split() == ["NETWORK", "ID", "NAME", "DRIVER"]
    assert [ln.split()[1] for ln in ls[1:]] == ["podium", name, auto]
    assert podium("network", "ls", "-q").stdout.split() == ["podium", name, auto]
    assert podium("network", "ls", "--filter", "label=tier=web", "--format", "{{.Name}} {{.Driver}}").stdout \
        == f"{name} bridge\n"
    [n] = json.loads(podium("network", "inspect", name).stdout)
    assert list(n) == ["name", "id", "driver", "network_interface", "created", "subnets", "ipv6_enabled",
                       "internal", "dns_enabled", "labels", "ipam_options", "containers"]
    assert n["subnets"] == [{"subnet": "10.87.254.0/24", "gateway": "10.87.254.254"}]
    assert n["labels"] == {"tier": "web"} and n["dns_enabled"] is True and n["internal"] is False
    assert re.fullmatch(r"podium\d+", n["network_interface"])
    assert podium("network", "inspect", "--format", "{{.Name}}:{{.NetworkInterface}}", n["id"][:12]).stdout \
        == f"{name}:{n['network_interface']}\n"
    [d] = json.loads(podium("network", "inspect", "podium").stdout)
    assert (d["network_interface"], d["subnets"][0]["subnet"], d["dns_enabled"]) == ("podium0", "10.87.0.0/24", False)
    assert podium("network", "exists", name).returncode == 0
    assert podium("network", "exists", "nope" + uid(), check=False).returncode == 1
    podium("create", "--network", auto, image, "true")
    assert podium("network", "prune", "-f").stdout == name + "\n"
    assert podium("network", "rm", auto, check=False).returncode == 125
    assert podium("network", "ls", "-q").stdout.split() == ["podium", auto]


def test_parallel_starts_on_a_new_network(podium: Podium, image: str, backend: str) -> None:
    """Several podium processes create the bridge and take addresses at once: one bridge, distinct IPs."""
    net = "n" + uid()
    podium("network", "create", net)
    from tests.conftest import PODIUM, REPO
    procs = [subprocess.Popen([*PODIUM, "run", "-d", "--name", f"w{i}", "--network", net, image, *HTTPD],
                              env=podium.env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    ips = set()
    for i in range(4):
        addr = podium("exec", f"w{i}", "ip", "-o", "-4", "addr", "show", "eth0").stdout
        ips.add(re.search(r"inet (\S+)/", addr).group(1))
    assert len(ips) == 4
    script = "; ".join(f"wget -q -O - http://w{i}/" for i in range(4))
    assert podium("run", "--rm", "--network", net, image, "sh", "-c", script).stdout == PAGE * 4


def test_failed_start_leaves_no_network_behind(podium: Podium, image: str, backend: str) -> None:
    net = "n" + uid()
    podium("network", "create", net)
    port = free_port()
    proc = podium("run", "--rm", "--network", net, "-p", f"127.0.0.1:{port}:80", image, "/no/such/binary",
                  check=False)
    assert proc.returncode != 0
    assert podium("ps", "-aq").stdout == ""
    wait_reapers(podium)
    assert not netns_files(podium)
    assert f". {port} :" not in sh("nft", "list", "table", "ip", "podium")
    assert f"--dport {port}" not in sh("iptables-save")
    bridge = json.loads(podium("network", "inspect", net).stdout)[0]["network_interface"]
    assert not re.search(rf"^\d+: {bridge}:", sh("ip", "-o", "link"), re.M)


def test_gateway_mac_stays_when_containers_come_and_go(podium: Podium, image: str, backend: str) -> None:
    """A bridge without an address of its own takes its lowest port's MAC, so a container
    joining or leaving would change the gateway's MAC under the others' ARP entries, and
    their DNS (and every route out) would go silent. Force the lowest MAC on a newcomer."""
    net = "n" + uid()
    podium("network", "create", net)
    podium("run", "-d", "--name", "web", "--network", net, "--network-alias", "www", image, *HTTPD)

    def lookup() -> None:
        out = podium("exec", "web", "nslookup", "-type=a", "www", check=False)
        assert out.returncode == 0 and re.search(r"Address: 10\.87\.", out.stdout), out.stdout + out.stderr

    lookup()  # web now holds an ARP entry for the gateway
    podium("run", "-d", "--name", "newcomer", "--network", net, image, "sleep", "600")
    ifindex = podium("exec", "newcomer", "cat", "/sys/class/net/eth0/iflink").stdout.strip()
    host_end = re.search(rf"^{ifindex}: ([^:@]+)", sh("ip", "-o", "link"), re.M).group(1)
    subprocess.run(["ip", "link", "set", host_end, "address", "02:00:00:00:00:01"], check=True)
    lookup()
    podium("rm", "-f", "newcomer")
    wait_reapers(podium)
    lookup()


def test_an_idle_bridge_lingers_then_goes(podium: Podium, image: str) -> None:
    """The last container's bridge stays PODIUM_NET_LINGER seconds for the next one, then goes."""
    podium.env["PODIUM_NET_LINGER"] = "5"
    net = "n" + uid()
    podium("network", "create", net)
    bridge = json.loads(podium("network", "inspect", net).stdout)[0]["network_interface"]
    present = lambda: re.search(rf"^\d+: {bridge}:", sh("ip", "-o", "link"), re.M) is not None  # noqa: E731
    podium("run", "--rm", "--network", net, image, "true")
    assert present()  # lingering
    podium("run", "--rm", "--network", net, image, "true")  # reuses it
    assert present()
    wait_reapers(podium)
    assert not present()


def test_a_port_another_root_publishes(podium: Podium, image: str, rootfs_tar: Path) -> None:
    """Published ports hold no socket (a DNAT only): across roots the nft table is the record."""
    import shutil
    import tempfile
    from tests.conftest import teardown_root
    other = Podium(Path(tempfile.mkdtemp(prefix="pdm", dir="/tmp")))
    try:
        other("import", str(rootfs_tar), "busybox", "--change", 'CMD ["sh"]')
        port = free_port()
        other("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD)
        proc = podium("run", "-d", "-p", f"127.0.0.1:{port}:80", image, *HTTPD, check=False)
        one_error_line(proc, "already published by another podium container")
        assert fetch(f"http://127.0.0.1:{port}/") == PAGE  # still the other root's
    finally:
        problems = leftovers(other) + teardown_root(other)
        shutil.rmtree(other.base, ignore_errors=True)
    assert not problems


def test_a_reused_address_answers_at_once(podium: Podium, image: str, backend: str) -> None:
    """The host caches an address's MAC; a new container given the same address must not
    wait for that entry to be probed again (it did for ~8 s with random MACs)."""
    net = "n" + uid()
    podium("network", "create", net)
    podium("run", "-d", "--name", "keep", "--network", net, image, "sleep", "1000")  # the bridge stays
    podium("run", "-d", "--name", "a", "--network", net, image, *HTTPD)
    ip = podium("inspect", "--format", "{{.NetworkSettings.IPAddress}}", "a").stdout.strip()
    bridge = json.loads(podium("network", "inspect", net).stdout)[0]["network_interface"]
    assert fetch(f"http://{ip}/") == PAGE
    podium("rm", "-f", "-t", "0", "a")
    # what an older podium, or the netavark backend's random MACs, leave in the cache
    subprocess.run(["ip", "neigh", "replace", ip, "lladdr", "02:11:22:33:44:55", "dev", bridge,
                    "nud", "reachable"], check=True)
    podium("run", "-d", "--name", "b", "--network", net, image, *HTTPD)
    assert podium("inspect", "--format", "{{.NetworkSettings.IPAddress}}", "b").stdout.strip() == ip
    start = time.monotonic()
    assert fetch(f"http://{ip}/") == PAGE
    assert time.monotonic() - start < 3.0
