"""The fast network backend: netavark's bridge behaviour without netavark's processes.

One container on one network, set up:

- the bridge (``podium0`` for the default network) with the gateway address and
  a fixed MAC address, created and brought up if missing, and ``net.ipv4.ip_forward=1``;
- a veth pair, made in one netlink request: the host end (``veth<hash>``,
  named from the container and network) enslaved to the bridge and up, the other
  end created directly inside the container's namespace as ``eth0`` (``eth1``...);
- inside: ``lo`` up, the address, ``eth0`` up, a default route via the gateway
  (metric 100; internal networks get none);
- the firewall: set elements in podium's nftables table (nft.py), one ``nft``
  process, only when a bridge is created or ports are published
  (``route_localnet=1`` on the bridge, as netavark, for 127.0.0.1);
- names: aardvark-dns entries (aardvark.py) on DNS-enabled networks.

All kernel calls but ``nft`` go over netlink sockets (rtnl.py): no process.

Teardown unpins the namespace, which makes the kernel delete the container's
veth ends, and leaves the slow part -- deleting the host veth (~15 ms of RCU
wait), the bridge once nothing is enslaved to it (~40 ms) and the nft elements
(~15 ms) -- to a forked child process (the "reaper"), so ``podium run --rm``
does not wait for it. The reaper inherits the host-wide network lock the
teardown took and holds it until it is done: every set-up takes that lock first,
so it can never see a half torn-down bridge. ``wait=True`` reaps inline (used
when a start fails, and by ``network rm``).
"""

from __future__ import annotations

import os

from ..errors import ConfigError, RuntimeFailure
from . import ipam, netns
from .ipam import sha256hex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from .rtnl import Netlink

NET_LOCK = "net.lock"
REAPERS_LOCK = "reapers.lock"
LINGER_S = float(os.environ.get("PODIUM_NET_LINGER", "1.0"))
SEARCH = ["dns.podman"]


def veth_name(cid: str, network: str) -> str:
    """The host end's name: 15 bytes, stable per (container, network) (pure)."""
    return "veth" + sha256hex(f"{cid}/{network}")[:11]


def container_mac(ip: str) -> str:
    """The container side's MAC, derived from its address (as Docker's bridge derived it).

    Addresses are reused at once (every test's first container is .2), and the host's
    neighbour cache keeps the old MAC for a while: with a random MAC, traffic to a new
    container went to the gone one for ~8 s until the entry was probed again. The same
    address always has the same MAC, so a cached entry stays right. 02 marks it locally
    administered; 50 ("P") keeps it apart from Docker's 02:42 prefix.
    """
    a, b, c, d = (int(x) for x in ip.split("."))
    return f"02:50:{a:02x}:{b:02x}:{c:02x}:{d:02x}"


def bridge_mac(bridge: str) -> str:
    """A fixed, locally administered address for a bridge, from its name (pure)."""
    h = sha256hex("podium-bridge/" + bridge)
    return "02:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise RuntimeFailure(f"cannot set {path} to {value}: {exc.strerror}") from None


def _ensure_bridge(h: "Netlink", n: dict[str, Any]) -> tuple[int, bool]:
    """The bridge's index, and whether it was created now."""
    link = h.link(n["bridge"])
    created = False
    if link is None:
        try:
            h.add_bridge(n["bridge"], mtu=n.get("mtu"), mac=bridge_mac(n["bridge"]))
            created = True
        except OSError as exc:
            if exc.errno != 17:
                raise
        link = h.link(n["bridge"])
        if link is None:
            raise RuntimeFailure(f"bridge {n['bridge']} vanished while being created")
    elif link["kind"] != "bridge":
        raise ConfigError(f"interface {n['bridge']} exists on the host and is not a bridge")
    h.add_address(link["index"], n["gateway"], n["prefixlen"], broadcast=n.get("broadcast"),
                  exist_ok=True)
    if not link["flags"] & 1:
        h.set_up(link["index"])
    return link["index"], created


def setup(rec: dict[str, Any], *, netns_sock: "Netlink | None" = None,
          creating: "netns.Creating | None" = None) -> dict[str, Any]:
    """Connect the container of ``rec`` to its networks; returns netavark's status shape.

    ``netns_sock``: a socket inside an existing namespace (``network connect``);
    ``creating``: the namespace ``rec["netns"]`` already being made; otherwise it is made here.
    """
    from .rtnl import Netlink

    nets = rec["networks"]
    try:
        inside = netns_sock or (creating or netns.Creating(rec["netns"])).wait()
    except BaseException:
        teardown(rec, wait=True)
        raise
    try:
        with ipam.host_lock(NET_LOCK), Netlink() as h:
            elements: list[str] = []
            index: dict[str, int] = {}
            for n in nets:
                index[n["name"]], created = _ensure_bridge(h, n)
                if created:
                    from . import nft
                    elements += nft.network_elements(n["subnet"], internal=n["internal"])
            if rec.get("ports") and nets:
                from . import nft
                taken = nft.conflicts(rec["ports"], nets[0]["ip"], nft.published())
                if taken:
                    p = taken[0]
                    raise ConfigError(f"port {p['host_ip'] or '0.0.0.0'}:{p['host_port']}/{p['protocol']} "
                                      "is already published by another podium container on this host")
                _sysctl(f"/proc/sys/net/ipv4/conf/{nets[0]['bridge']}/route_localnet", "1")
                elements += nft.port_elements(rec["ports"], nets[0]["ip"])
            if any(not n["internal"] for n in nets):
                _sysctl("/proc/sys/net/ipv4/ip_forward", "1")
            fd = os.open(rec["netns"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                for n in nets:
                    h.add_veth(n["veth"], n["ifname"], peer_netns_fd=fd, master=index[n["name"]],
                               mtu=n.get("mtu"), peer_mac=container_mac(n["ip"]))
                    # a MAC cached for this address by an older podium or the netavark backend
                    h.forget_neighbour(index[n["name"]], n["ip"])
                    link = h.link(n["veth"])
                    n["veth_index"] = link["index"] if link else 0
            finally:
                os.close(fd)
            if elements:
                from . import nft
                nft.add(elements)
        status: dict[str, Any] = {}
        if netns_sock is None:
            inside.set_up(inside.link("lo")["index"])
        for n in nets:
            link = inside.link(n["ifname"])
            if link is None:
                raise RuntimeFailure(f"interface {n['ifname']} did not appear in the container's namespace")
            inside.add_address(link["index"], n["ip"], n["prefixlen"], broadcast=n.get("broadcast"))
            inside.set_up(link["index"])
            if not n["internal"]:
                try:
                    inside.add_default_route(n["gateway"], link["index"], metric=n.get("metric", 100))
                except OSError as exc:
                    if exc.errno != 17:  # a default route of another network already
                        raise
            status[n["name"]] = status_block(n, link["mac"])
        dns = [n for n in nets if n["dns"]]
        if dns:
            from .aardvark import Aardvark
            Aardvark(rec["aardvark_config"]).add(
                [(n["name"], n["gateway"], rec["container_id"], [n["ip"]],
                  [rec["container_name"]] + list(n["aliases"])) for n in dns])
        return status
    except BaseException:
        if netns_sock is None:
            teardown(rec, wait=True)
        else:
            disconnect(rec, [n["name"] for n in nets], wait=True)
        raise
    finally:
        inside.close()


def status_block(n: dict[str, Any], mac: str) -> dict[str, Any]:
    """One network's entry in netavark's status shape (pure)."""
    block: dict[str, Any] = {"interfaces": {n["ifname"]: {
        "mac_address": mac,
        "subnets": [{"ipnet": f"{n['ip']}/{n['prefixlen']}", "gateway": n["gateway"]}]}}}
    if n["dns"]:
        block["dns_search_domains"] = list(SEARCH)
        block["dns_server_ips"] = [n["gateway"]]
    return block


def teardown(rec: dict[str, Any], *, wait: bool = False) -> None:
    """Undo ``setup``: names and the namespace now, links and rules now or in the background."""
    dns = [n["name"] for n in rec["networks"] if n["dns"]]
    if dns:
        from .aardvark import Aardvark
        Aardvark(rec["aardvark_config"]).remove(rec["container_id"], dns)
    with ipam.host_lock(NET_LOCK) as fd:
        netns.remove(rec["netns"])
        nets, ports = rec["networks"], rec.get("ports") or []
        if wait or _threaded():
            reap(nets, ports)
        else:
            _background(lambda lock_fd: reap_later(nets, ports, lock_fd), keep_fd=fd,
                        alive_dir=os.path.dirname(rec["netns"]))


def disconnect(rec: dict[str, Any], names: list[str], *, wait: bool = True) -> None:
    """Take a running container off some of its networks (``network disconnect``)."""
    gone = [n for n in rec["networks"] if n["name"] in names]
    dns = [n["name"] for n in gone if n["dns"]]
    if dns:
        from .aardvark import Aardvark
        Aardvark(rec["aardvark_config"]).remove(rec["container_id"], dns)
    ports = rec.get("ports") or []
    primary = rec["networks"][0]["name"] if rec["networks"] else None
    with ipam.host_lock(NET_LOCK):
        reap(gone, ports if primary in names else [])


def _unpublish(nets: list[dict[str, Any]], ports: list[dict[str, Any]]) -> None:
    if ports and nets:
        from . import nft
        nft.delete(nft.port_elements(ports, nets[0]["ip"]))


def _delete_veths(h: "Netlink", nets: list[dict[str, Any]]) -> None:
    """By index when known: a restarted container's new veth has the same name."""
    for n in nets:
        if n.get("veth_index"):
            h.delete_index(n["veth_index"])
        elif n.get("veth"):
            h.delete_link(n["veth"])


def _drop_idle_bridges(h: "Netlink", nets: list[dict[str, Any]], *, gone_too: bool) -> None:
    """Delete each bridge nothing is enslaved to (another root may use it), with its
    elements; ``gone_too``: also the elements of a bridge that is already gone."""
    from . import nft
    elements: list[str] = []
    links = h.links()
    by_name = {link["name"]: link for link in links}
    addresses: list[dict[str, Any]] | None = None
    for n in {n["bridge"]: n for n in nets}.values():
        br = by_name.get(n["bridge"])
        if br is not None and any(link["master"] == br["index"] for link in links):
            continue
        if br is None and not gone_too:
            continue  # someone else removed it, and its elements with it
        if br is not None:
            if addresses is None:
                addresses = h.addresses()
            mine = {a["address"] for a in addresses if a["index"] == br["index"]}
            if mine and n["gateway"] not in mine:
                continue  # a bridge of the same name for another network now: not ours to drop
            h.delete_link(n["bridge"])
        elements += nft.network_elements(n["subnet"], internal=n["internal"])
    nft.delete(elements)


def reap(nets: list[dict[str, Any]], ports: list[dict[str, Any]]) -> None:
    """Everything at once, the lock held by the caller (failed set-ups, disconnect, network rm)."""
    from .rtnl import Netlink
    _unpublish(nets, ports)
    with Netlink() as h:
        _delete_veths(h, nets)
        _drop_idle_bridges(h, nets, gone_too=True)


def reap_later(nets: list[dict[str, Any]], ports: list[dict[str, Any]], lock_fd: int) -> None:
    """The background teardown, in a child holding the lock the teardown took (``lock_fd``).

    1. Published ports go first, still under that lock: a new container publishing the same
       port waits for it (the lock was handed over from the teardown, so no set-up came in
       between).
    2. The lock is let go; the host veths go by index (never a newer veth of the same name).
    3. A bridge its last container left lingers LINGER_S seconds, so that back-to-back
       runs reuse it instead of deleting and re-creating it (~60 ms of kernel work each
       way); then, under the lock again, it goes if it is still unused.
    """
    from .rtnl import Netlink
    import time
    _unpublish(nets, ports)
    os.close(lock_fd)
    with Netlink() as h:
        _delete_veths(h, nets)
    if LINGER_S > 0:
        time.sleep(LINGER_S)
    with ipam.host_lock(NET_LOCK), Netlink() as h:
        _drop_idle_bridges(h, nets, gone_too=False)


def remove_bridge(n: dict[str, Any], *, alive_dir: str | None = None) -> None:
    """``network rm``: drop the network's bridge and elements if nothing uses them.

    With ``alive_dir`` (the run root's netns dir) the kernel work (deleting a bridge
    takes 30-60 ms) goes to a background child that keeps the lock taken here, as a
    container's teardown does: ``compose down`` returns without waiting for it, and
    whoever comes next for the host's networks (a create of the same name or subnet)
    waits on the lock until the bridge is gone.
    """
    with ipam.host_lock(NET_LOCK) as fd:
        if alive_dir is None or _threaded() or not os.path.isdir(alive_dir):
            reap([n], [])
        else:
            # the child holds the lock until it exits, right after the reap
            _background(lambda _lock_fd: reap([n], []), keep_fd=fd, alive_dir=alive_dir)


_reapers: list[int] = []


def _threaded() -> bool:
    """Whether this process runs other threads, so that a fork could copy a lock one holds.

    A forked child of a threaded process (``apply --parallel``, ``compose up``, the REST
    service) inherits every lock another thread held at the fork — the import system's
    module locks included — and the child, which holds the host's network lock, would
    wait on it forever. Such processes tear down in the foreground instead.
    """
    import sys
    threading = sys.modules.get("threading")
    return threading is not None and threading.active_count() > 1


def _background(fn: Callable[[int], None], *, keep_fd: int, alive_dir: str) -> None:
    """Run ``fn(keep_fd)`` in a forked child that keeps only ``keep_fd`` (the lock) open.

    The caller does not wait for the child: a CLI exits before it, and the child is
    then reaped by init; a long-lived caller collects finished ones here. While it
    lives, the child holds shared locks on ``reapers.lock`` in ``alive_dir`` (the run
    root's netns dir) and in the host dir, for wait_reapers(). They are taken here,
    before the fork, so they are held from the moment the caller returns.
    """
    import fcntl
    for pid in list(_reapers):
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                _reapers.remove(pid)
        except ChildProcessError:
            _reapers.remove(pid)
    alive: list[int] = []
    for d in (alive_dir, ipam.HOST_DIR):
        try:
            fd = os.open(os.path.join(d, REAPERS_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        fcntl.flock(fd, fcntl.LOCK_SH)
        alive.append(fd)
    try:
        pid = os.fork()
    except BaseException:
        for fd in alive:
            os.close(fd)
        raise
    if pid:
        for fd in alive:
            os.close(fd)  # the child's copies keep the locks
        _reapers.append(pid)
        return
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(devnull, std)
        keep = {0, 1, 2, keep_fd, *alive}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            fn(keep_fd)
        except BaseException as exc:  # noqa: BLE001 - nobody to report to but the log
            _log(f"network teardown failed: {exc!r}")
    finally:
        os._exit(0)


def wait_reapers(runroot: str | None = None) -> None:
    """Until the background teardowns of one run root (or of the whole host) are done
    (for tests; nothing else needs to wait for them)."""
    import fcntl
    d = os.path.join(runroot, "netns") if runroot else ipam.HOST_DIR
    if not os.path.isdir(d):
        return
    fd = os.open(os.path.join(d, REAPERS_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def _log(text: str) -> None:
    import time
    try:
        with open(os.path.join(ipam.HOST_DIR, "reaper.log"), "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}: {text}\n")
    except OSError:
        pass
