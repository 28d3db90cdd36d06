"""What the backends send: nft elements, aardvark entry files, netavark's JSON (pure parts)."""

from __future__ import annotations

from podium.engine.net import aardvark, fastpath, netavark, nft

NET = {"name": "web", "id": "ab" * 32, "driver": "bridge", "network_interface": "podium1",
       "subnets": [{"subnet": "10.87.1.0/24", "gateway": "10.87.1.1"}], "ipv6_enabled": False,
       "internal": False, "dns_enabled": True, "ipam_options": {"driver": "host-local"},
       "labels": {"a": "b"}, "options": {}, "created": "2026-01-01T00:00:00Z"}


def _rec() -> dict:
    return {"container_id": "c" * 64, "container_name": "api", "netns": "/run/x/netns/c",
            "aardvark_config": "/run/x/netavark",
            "networks": [{"name": "web", "ip": "10.87.1.2", "aliases": ["www"], "ifname": "eth0",
                          "netavark": netavark.network_json(NET)}],
            "ports": [{"host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80, "protocol": "tcp",
                       "range": 1}]}


def test_netavark_options_are_podmans_shape() -> None:
    opts = netavark.options(_rec())
    assert opts["networks"] == {"web": {"static_ips": ["10.87.1.2"], "aliases": ["www"], "interface_name": "eth0"}}
    info = opts["network_info"]["web"]
    assert info["network_interface"] == "podium1" and "labels" not in info and "created" not in info
    assert opts["port_mappings"][0]["host_port"] == 8080
    assert netavark.options({**_rec(), "ports": []})["port_mappings"] is None
    argv = netavark.argv("/run/x/netavark", "setup", "/run/x/netns/c")
    assert argv[1:3] == ["--config", "/run/x/netavark"] and argv[-2:] == ["setup", "/run/x/netns/c"]
    assert "--rootless" in argv and argv[argv.index("--rootless") + 1] == "false"


def test_nft_elements() -> None:
    assert nft.network_elements("10.87.1.0/24", internal=False) == [
        "element ip podium nets { 10.87.1.0/24 }",
        "element ip podium masq { 10.87.1.0/24 }"]
    assert not any("masq" in e for e in nft.network_elements("10.87.1.0/24", internal=True))
    ports = [{"host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
             {"host_ip": "", "host_port": 5353, "container_port": 53, "protocol": "udp"}]
    assert nft.port_elements(ports, "10.87.1.2") == [
        "element ip podium dnat_ip { 127.0.0.1 . tcp . 8080 : 10.87.1.2 . 80 }",
        "element ip podium dnat_any { udp . 5353 : 10.87.1.2 . 53 }"]
    assert nft.script("add", ["element ip podium nets { 1.2.3.0/24 }"]) == "add element ip podium nets { 1.2.3.0/24 }\n"


def test_aardvark_entry_files() -> None:
    line = aardvark.entry_line("c1", ["10.87.1.2"], ["api", "www"])
    assert line == "c1 10.87.1.2  api,www\n"
    text = aardvark.with_entry("", "10.87.1.1", "c1", line)
    assert text == "10.87.1.1\nc1 10.87.1.2  api,www\n"
    text = aardvark.with_entry(text, "10.87.1.1", "c2", aardvark.entry_line("c2", ["10.87.1.3"], ["db"]))
    text = aardvark.with_entry(text, "10.87.1.1", "c1", aardvark.entry_line("c1", ["10.87.1.2"], ["api"]))
    assert text == "10.87.1.1\nc2 10.87.1.3  db\nc1 10.87.1.2  api\n"
    assert aardvark.without_entry(text, "c2") == "10.87.1.1\nc1 10.87.1.2  api\n"
    assert aardvark.without_entry("10.87.1.1\nc1 10.87.1.2  api\n", "c1") is None


def test_veth_names_fit_and_differ() -> None:
    a = fastpath.veth_name("c" * 64, "web")
    assert len(a) == 15 and a.startswith("veth")
    assert a != fastpath.veth_name("c" * 64, "db") != fastpath.veth_name("d" * 64, "web")
    block = fastpath.status_block({"ifname": "eth0", "ip": "10.87.1.2", "prefixlen": 24, "gateway": "10.87.1.1",
                                   "dns": True}, "02:00:00:00:00:01")
    assert block == {"interfaces": {"eth0": {"mac_address": "02:00:00:00:00:01", "subnets": [
        {"ipnet": "10.87.1.2/24", "gateway": "10.87.1.1"}]}},
        "dns_search_domains": ["dns.podman"], "dns_server_ips": ["10.87.1.1"]}


def test_bridges_get_a_fixed_mac() -> None:
    from podium.engine.net import rtnl
    mac = fastpath.bridge_mac("podium0")
    assert mac == fastpath.bridge_mac("podium0") != fastpath.bridge_mac("podium1")
    first = int(mac.split(":")[0], 16)
    assert len(mac.split(":")) == 6 and first & 2 and not first & 1  # locally administered, unicast
    attrs = rtnl.parse_attrs(rtnl.new_bridge_body("podium0", mac=mac), 16)
    assert attrs[rtnl.IFLA_ADDRESS] == rtnl.mac_bytes(mac)


def test_published_ports_and_their_conflicts() -> None:
    text = """table ip podium {
	map dnat_ip {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
		elements = { 127.0.0.1 . tcp . 18090 : 10.87.0.2 . 80,
			     127.0.0.1 . udp . 5353 : 10.87.0.3 . 53 }
	}
	map dnat_any {
		type inet_proto . inet_service : ipv4_addr . inet_service
		elements = { tcp . 8080 : 10.87.1.2 . 80 }
	}
}"""
    got = nft.parse_published(text)
    assert got == [
        {"host_ip": "127.0.0.1", "protocol": "tcp", "host_port": 18090, "ip": "10.87.0.2", "container_port": 80},
        {"host_ip": "127.0.0.1", "protocol": "udp", "host_port": 5353, "ip": "10.87.0.3", "container_port": 53},
        {"host_ip": "", "protocol": "tcp", "host_port": 8080, "ip": "10.87.1.2", "container_port": 80}]
    m = lambda ip, port, proto="tcp": {"host_ip": ip, "host_port": port, "container_port": 80, "protocol": proto}  # noqa: E731
    assert nft.conflicts([m("", 18090)], "10.87.5.5", got) == [m("", 18090)]            # * against 127.0.0.1
    assert nft.conflicts([m("127.0.0.1", 8080)], "10.87.5.5", got) == [m("127.0.0.1", 8080)]  # 127.0.0.1 against *
    assert nft.conflicts([m("10.1.1.1", 18090)], "10.87.5.5", got) == []                 # another address
    assert nft.conflicts([m("", 18090, "udp")], "10.87.5.5", got) == []                  # another protocol
    assert nft.conflicts([m("127.0.0.1", 18090)], "10.87.0.2", got) == []               # our own, stale


def test_a_threaded_process_never_forks_a_teardown() -> None:
    """A fork beside a live thread can copy a held import lock into the child, which then
    waits forever while it holds the host's network lock (seen under apply --parallel).
    Checked in a fresh interpreter: the test runner's own process may hold threads."""
    import subprocess
    import sys

    code = ("import threading\n"
            "from podium.engine.net import fastpath\n"
            "before = fastpath._threaded()\n"
            "stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start()\n"
            "during = fastpath._threaded()\n"
            "stop.set(); t.join()\n"
            "print(before, during, fastpath._threaded())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "False"]
