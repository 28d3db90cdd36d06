"""/etc/hosts and /etc/resolv.conf as Podman writes them (engine/net/etcfiles.py)."""

from __future__ import annotations

from podium.engine.net import etcfiles

HOST_RESOLV = "# generated\nsearch corp.example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions edns0\n"


def test_bridge_hosts_has_ip_hostname_name_and_host_alias() -> None:
    text = etcfiles.hosts_text({"network_mode": "bridge", "hostname": "abc123", "add_hosts": ["db:10.1.1.1"]},
                               ip="10.87.0.2", name="web", gateway="10.87.0.1")
    lines = text.splitlines()
    assert lines[0].startswith("127.0.0.1\tlocalhost") and lines[1].startswith("::1\tlocalhost")
    assert "10.1.1.1\tdb" in lines
    assert "10.87.0.2\tabc123 web" in lines
    assert lines[-1] == "10.87.0.1\thost.containers.internal"


def test_none_hosts_maps_the_hostname_to_loopback() -> None:
    text = etcfiles.hosts_text({"network_mode": "none", "hostname": "abc123"})
    assert text.endswith("127.0.1.1\tabc123\n")


def test_host_mode_copies_the_host_files() -> None:
    cfg = {"network_mode": "host", "hostname": "h"}
    assert etcfiles.hosts_text(cfg, host_hosts="127.0.0.1 localhost\n").startswith("127.0.0.1 localhost\n")
    assert etcfiles.resolv_text(cfg, host_resolv=HOST_RESOLV) == HOST_RESOLV


def test_dns_network_resolv_points_at_the_gateway() -> None:
    text = etcfiles.resolv_text({"network_mode": "bridge"}, nameservers=["10.87.1.1"], search=["dns.podman"],
                                host_resolv=HOST_RESOLV)
    assert text == "search dns.podman corp.example\nnameserver 10.87.1.1\noptions edns0\n"


def test_default_network_resolv_drops_loopback_resolvers() -> None:
    text = etcfiles.resolv_text({"network_mode": "bridge"}, host_resolv=HOST_RESOLV)
    assert text == "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"
    only_loopback = etcfiles.resolv_text({"network_mode": "bridge"}, host_resolv="nameserver 127.0.0.53\n")
    assert only_loopback == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
