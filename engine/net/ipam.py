"""Addresses: subnets and IPs for podium's bridge networks, allocated by podium itself.

netavark does no IPAM; neither does the fast path. Each container gets the
lowest free address of each of its networks at its first start (or the one
``--ip`` asked for) and keeps it until it is removed. The store's
``net_attachments`` table (UNIQUE(network, ip)) is the record, written in one
IMMEDIATE transaction, so two podium processes of one root never hand out the
same address.

Bridges, subnets and addresses are host-wide, though, and every podium root
(each test has its own) shares the host's default network ``podium``
(podium0, 10.87.0.0/24). So each allocation also takes a *claim*: a small file
under ``/run/podium-net`` naming the root and owner, created with O_EXCL.
Another root's claim is honoured while its owner still exists in that root's
store; a claim whose root or owner is gone is stale and taken over. Claims are
in a tmpfs, so a reboot (which also forgets bridges and rules) forgets them.

    /run/podium-net/claims/subnet/10.87.1.0_24     {"root": ..., "network": "web"}
    /run/podium-net/claims/bridge/podium1          {"root": ..., "network": "web"}
    /run/podium-net/claims/ip/10.87.0.0_24_10.87.0.2  {"root": ..., "network": ..., "container": ...}
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import sqlite3
from contextlib import contextmanager

from ..errors import ConfigError, InUse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from ..engine import Engine

HOST_DIR = "/run/podium-net"  # host-wide: the same for every podium root

DEFAULT_NETWORK = "podium"
DEFAULT_SUBNET = "10.87.0.0/24"
DEFAULT_BRIDGE = "podium0"
# podium's pool for new networks: 10.87.1.0/24 .. 10.87.255.0/24. Podman 4.3 takes
# 10.88.0.0/16 for its default network and allocates from 10.89.0.0/16 upwards.
PODMAN_DEFAULT_SUBNET = "10.88.0.0/16"  # Podman's default network: taken even while podman0 is down
POOL = "10.87.0.0/16"
POOL_PREFIX = 24
BRIDGE_PREFIX = "podium"


def sha256hex(text: str) -> str:
    """hashlib costs ~4 ms to import (OpenSSL); the builtin module is enough here."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256
    return sha256(text.encode()).hexdigest()


# ---- pure address arithmetic -------------------------------------------------------
def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConfigError(f"invalid subnet {text!r}: expected an IPv4 CIDR such as 10.87.5.0/24") from None
    if net.version != 4:
        raise ConfigError(f"invalid subnet {text!r}: IPv6 networks are not supported")
    if net.prefixlen > 30:
        raise ConfigError(f"invalid subnet {text!r}: the prefix must be /30 or shorter")
    if str(net) != text and "/" in text:
        raise ConfigError(f"invalid subnet {text!r}: host bits are set, did you mean {net}?")
    return net  # type: ignore[return-value]


def parse_ip(text: str, *, what: str = "IP address") -> ipaddress.IPv4Address:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise ConfigError(f"invalid {what} {text!r}: expected an IPv4 address such as 10.87.0.5") from None
    if ip.version != 4:
        raise ConfigError(f"invalid {what} {text!r}: IPv6 is not supported")
    return ip  # type: ignore[return-value]


def usable(subnet: str, gateway: str) -> Iterator[str]:
    """Addresses a container may get, lowest first (not the network, gateway or broadcast)."""
    net = ipaddress.ip_network(subnet)
    gw = ipaddress.ip_address(gateway)
    for ip in net.hosts():
        if ip != gw:
            yield str(ip)


def check_in_subnet(ip: str, subnet: str, gateway: str, *, what: str = "IP address") -> None:
    addr = parse_ip(ip, what=what)
    net = ipaddress.ip_network(subnet)
    if addr not in net:
        raise ConfigError(f"invalid {what} {ip}: not in the network's subnet {subnet}")
    if addr in (net.network_address, net.broadcast_address):
        raise ConfigError(f"invalid {what} {ip}: the network or broadcast address of {subnet}")
    if str(addr) == gateway:
        raise ConfigError(f"invalid {what} {ip}: it is the gateway of {subnet}")


def overlaps(a: str, b: str) -> bool:
    return ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))


def free_subnet(taken: list[str], *, pool: str = POOL, prefix: int = POOL_PREFIX,
                skip: tuple[str, ...] = (DEFAULT_SUBNET,)) -> str | None:
    """The first /``prefix`` of ``pool`` that overlaps nothing in ``taken`` (pure)."""
    nets = [ipaddress.ip_network(t) for t in list(taken) + list(skip)]
    for cand in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
        if not any(cand.overlaps(n) for n in nets):
            return str(cand)
    return None


# ---- what the host already uses ----------------------------------------------------
def host_subnets() -> list[str]:
    """Every IPv4 destination routed on the host and every address's subnet, but the default route."""
    from .rtnl import Netlink
    out: set[str] = set()
    with Netlink() as nl:
        for r in nl.routes():
            if r["dst_len"] and r["type"] == 1 and r["table"] != 255:  # unicast, not the local table
                out.add(str(ipaddress.ip_network(f"{r['dst']}/{r['dst_len']}", strict=False)))
        for a in nl.addresses():
            if a["address"] and not a["address"].startswith("127."):
                out.add(str(ipaddress.ip_network(f"{a['address']}/{a['prefixlen']}", strict=False)))
    return sorted(out)


def host_links() -> set[str]:
    from .rtnl import Netlink
    with Netlink() as nl:
        return {link["name"] for link in nl.links()}


# ---- host-wide claims ----------------------------------------------------------------
def _claim_path(kind: str, key: str) -> str:
    return os.path.join(HOST_DIR, "claims", kind, key.replace("/", "_"))


@contextmanager
def host_lock(name: str = "claims.lock") -> Iterator[int]:
    """A host-wide flock under HOST_DIR (shared by every podium root); yields the fd."""
    os.makedirs(HOST_DIR, exist_ok=True)
    fd = os.open(os.path.join(HOST_DIR, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _owner_alive(owner: dict[str, Any]) -> bool:
    """Does the claim's owner still exist in its root's store? (unknown -> yes)"""
    db = os.path.join(owner.get("root", ""), "podium.db")
    if not os.path.exists(db):
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            if owner.get("container"):
                row = con.execute("SELECT 1 FROM net_attachments WHERE container_id=? AND network=?",
                                  (owner["container"], owner.get("network", ""))).fetchone()
            else:
                row = con.execute("SELECT 1 FROM networks WHERE name=?",
                                  (owner.get("network", ""),)).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return True
    return row is not None


def claim(kind: str, key: str, owner: dict[str, Any]) -> bool:
    """Take ``kind/key`` for ``owner``; False if someone else (alive) holds it. Idempotent."""
    path = _claim_path(kind, key)
    data = json.dumps(owner, sort_keys=True)
    with host_lock():
        # Inside the lock: unclaim() removes a directory once it is empty.
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with open(path) as f:
                held = json.load(f)
        except (OSError, ValueError):
            held = None
        if held == owner:
            return True
        if held is not None and _owner_alive(held):
            return False
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    return True


def unclaim(kind: str, key: str, owner: dict[str, Any]) -> None:
    """Drop ``owner``'s claim (another owner's claim is left alone)."""
    path = _claim_path(kind, key)
    with host_lock():
        try:
            with open(path) as f:
                held = json.load(f)
        except (OSError, ValueError):
            return
        if held == owner:
            os.unlink(path)
            try:
                os.rmdir(os.path.dirname(path))  # an ip/<subnet>/ directory, once empty
            except OSError:
                pass


def claimed_by_others(kind: str, root: str) -> list[str]:
    """Keys of ``kind`` claimed by live owners of other roots (subnets: '10.87.1.0/24')."""
    d = os.path.join(HOST_DIR, "claims", kind)
    out = []
    try:
        names = os.listdir(d)
    except OSError:
        return []
    for name in names:
        if name.endswith(".tmp"):
            continue
        try:
            with open(os.path.join(d, name)) as f:
                held = json.load(f)
        except (OSError, ValueError):
            continue
        if held.get("root") == root:
            continue
        if _owner_alive(held):
            out.append(name.replace("_", "/"))
        elif not os.path.exists(os.path.join(held.get("root", ""), "podium.db")):
            _drop_stale(os.path.join(d, name), held)  # its root is gone (a test's temporary root)
    return out


def _drop_stale(path: str, held: dict[str, Any]) -> None:
    with host_lock():
        try:
            with open(path) as f:
                if json.load(f) != held:
                    return
            os.unlink(path)
        except (OSError, ValueError):
            pass


# ---- container addresses -----------------------------------------------------------------
def _owner(engine: "Engine", network: str, cid: str) -> dict[str, Any]:
    return {"root": str(engine.paths.root), "network": network, "container": cid}


def attachment(engine: "Engine", cid: str, network: str) -> dict[str, Any] | None:
    rows = engine.store.query("SELECT ip, config FROM net_attachments WHERE container_id=? AND network=?",
                              (cid, network))
    return {"ip": rows[0][0], **json.loads(rows[0][1])} if rows else None


def ip_in_use(engine: "Engine", network: dict[str, Any], ip: str, *, cid: str | None = None) -> str | None:
    """Who holds ``ip`` on ``network`` in this root (a container id), or None."""
    rows = engine.store.query("SELECT container_id FROM net_attachments WHERE network=? AND ip=?",
                              (network["name"], ip))
    holder = rows[0][0] if rows else None
    return holder if holder != cid else None


def allocate(engine: "Engine", network: dict[str, Any], cid: str, *,
             want: str | None = None, extra: dict[str, Any] | None = None) -> str:
    """The container's address on ``network``: its existing one, ``want``, or the lowest free one."""
    name = network["name"]
    subnet = network["subnets"][0]
    owner = _owner(engine, name, cid)
    existing = attachment(engine, cid, name)
    if existing is not None:
        # the claim is in a tmpfs: after a reboot it must be taken again
        if claim("ip", f"{subnet['subnet']}/{existing['ip']}", owner):
            return existing["ip"]
        if want is not None:
            raise InUse(f"IP address {want} is now in use on the host (another podium root)")
        with engine.store.write() as db:
            db.execute("DELETE FROM net_attachments WHERE container_id=? AND network=?", (cid, name))
    with engine.store.write() as db:
        used = {r[0] for r in db.execute("SELECT ip FROM net_attachments WHERE network=?", (name,))}
        if want is not None:
            check_in_subnet(want, subnet["subnet"], subnet["gateway"], what="--ip")
            if want in used:
                raise InUse(f"IP address {want} is already allocated on network {name}")
            candidates: Any = [want]
        else:
            candidates = (ip for ip in usable(subnet["subnet"], subnet["gateway"]) if ip not in used)
        for ip in candidates:
            if claim("ip", f"{subnet['subnet']}/{ip}", owner):
                db.execute("INSERT INTO net_attachments(container_id, network, ip, config) VALUES (?,?,?,?)",
                           (cid, name, ip, json.dumps(extra or {})))
                return ip
            if want is not None:
                raise InUse(f"IP address {want} is already in use on the host (another podium root)")
    raise InUse(f"no free IP address left on network {name} ({subnet['subnet']})")


def release(engine: "Engine", cid: str, network: str | None = None) -> None:
    """Free the container's addresses (on one network, or all)."""
    q = "SELECT network, ip FROM net_attachments WHERE container_id=?"
    args: tuple[str, ...] = (cid,)
    if network is not None:
        q += " AND network=?"
        args += (network,)
    rows = engine.store.query(q, args)
    if not rows:
        return
    subnets = {}
    for r in engine.store.query("SELECT name, config FROM networks"):
        subnets[r[0]] = json.loads(r[1])["subnets"][0]["subnet"]
    with engine.store.write() as db:
        db.execute("DELETE FROM net_attachments WHERE " + q.split(" WHERE ", 1)[1], args)
    for net, ip in rows:
        if net in subnets:
            unclaim("ip", f"{subnets[net]}/{ip}", _owner(engine, net, cid))
