"""Networks: create, list, inspect, remove, prune, connect and disconnect (Podman's verbs).

A network is a row of the store (``networks``: name, id, created, config) whose
config is netavark's network JSON (name, id, driver, network_interface,
subnets, internal, dns_enabled, ipam_options) plus labels and options, so
either backend can use it as is. Nothing exists on the host until a container
joins: the bridge appears with the first container and goes with the last
(engine/net/fastpath.py, or netavark itself).

The default network ``podium`` (bridge podium0, 10.87.0.0/24, DNS off, like
Podman's default) is made in the store on first use and cannot be removed.
New networks get the next bridge ``podiumN`` and, unless ``--subnet`` says
otherwise, the first free /24 of podium's pool 10.87.1.0-10.87.255.0, which
stays clear of Podman's ranges (10.88/16 default, pools from 10.89/16 on), of
every route and address on the host, and of other podium roots' networks (host
claims, engine/net/ipam.py). A name Podman uses on the host is refused: netavark
names its firewall chains from the network name.
"""

from __future__ import annotations

import json
import os
import sqlite3

from .errors import AlreadyExists, ConfigError, InUse, InvalidState, NotFound, PodiumError
from .names import NAME_RE
from .net import ipam
from .timeutil import now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .engine import Engine

DRIVERS = ("bridge",)
OPTIONS = ("mtu", "metric")
PODMAN_NETWORK_DIR = "/etc/containers/networks"
# Podman's default networks, and names that mean a network mode on the command line
RESERVED = ("podman", "podman-default-kube-network", "bridge", "host", "none", "private",
            "slirp4netns", "pasta", "container", "ns", "default")
FILTER_KEYS = ("name", "id", "driver", "label", "dangling")


def default_network() -> dict[str, Any]:
    return {
        "name": ipam.DEFAULT_NETWORK,
        "id": ipam.sha256hex(ipam.DEFAULT_NETWORK),
        "driver": "bridge",
        "network_interface": ipam.DEFAULT_BRIDGE,
        "subnets": [{"subnet": ipam.DEFAULT_SUBNET, "gateway": "10.87.0.1"}],
        "ipv6_enabled": False,
        "internal": False,
        "dns_enabled": False,
        "ipam_options": {"driver": "host-local"},
        "labels": {},
        "options": {},
    }


def podman_network_names() -> set[str]:
    """Names of Podman's networks on this host (read-only: the file names of its config dir)."""
    try:
        return {f[:-5] for f in os.listdir(PODMAN_NETWORK_DIR) if f.endswith(".json")}
    except OSError:
        return set()


def inspect_view(n: dict[str, Any], containers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Podman's ``network inspect`` object (pure)."""
    out: dict[str, Any] = {
        "name": n["name"], "id": n["id"], "driver": n["driver"],
        "network_interface": n["network_interface"], "created": n["created"],
        "subnets": [dict(s) for s in n["subnets"]],
        "ipv6_enabled": n["ipv6_enabled"], "internal": n["internal"], "dns_enabled": n["dns_enabled"],
    }
    if n.get("labels"):
        out["labels"] = dict(n["labels"])
    if n.get("options"):
        out["options"] = dict(n["options"])
    out["ipam_options"] = dict(n.get("ipam_options") or {"driver": "host-local"})
    if containers is not None:
        out["containers"] = containers
    return out


def _parse_options(values: dict[str, str]) -> dict[str, str]:
    for key, val in values.items():
        if key not in OPTIONS:
            raise ConfigError(f"unsupported bridge network option {key!r}: use {', '.join(OPTIONS)}")
        if not val.isdigit():
            raise ConfigError(f"invalid network option {key}={val!r}: expected a number")
        if key == "mtu" and not 68 <= int(val) <= 65535:
            raise ConfigError(f"invalid network option mtu={val}: must be between 68 and 65535")
    return dict(values)


class Networks:
    """The networks of one engine (storage root)."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.store = engine.store

    # ---- look-up ------------------------------------------------------------------
    def _rows(self) -> list[dict[str, Any]]:
        return [{**json.loads(r["config"]), "name": r["name"], "id": r["id"], "created": r["created"]}
                for r in self.store.query("SELECT * FROM networks ORDER BY name != ?, created, name",
                                          (ipam.DEFAULT_NETWORK,))]

    def ensure_default(self) -> dict[str, Any]:
        rows = self.store.query("SELECT * FROM networks WHERE name=?", (ipam.DEFAULT_NETWORK,))
        if not rows:
            n = default_network()
            try:
                with self.store.write():
                    self.store.db.execute("INSERT INTO networks(name, id, created, config) VALUES (?,?,?,?)",
                                          (n["name"], n["id"], now_iso(), json.dumps(n)))
            except sqlite3.IntegrityError:
                pass  # made by a concurrent podium
            rows = self.store.query("SELECT * FROM networks WHERE name=?", (ipam.DEFAULT_NETWORK,))
        r = rows[0]
        return {**json.loads(r["config"]), "name": r["name"], "id": r["id"], "created": r["created"]}

    def list(self) -> list[dict[str, Any]]:
        self.ensure_default()
        return self._rows()

    def get(self, ref: str) -> dict[str, Any]:
        """By exact name, exact id, then unique id prefix (Podman's order)."""
        if ref == ipam.DEFAULT_NETWORK:
            return self.ensure_default()
        rows = self.store.query("SELECT * FROM networks WHERE name=? OR id=?", (ref, ref))
        if not rows and ref and len(ref) >= 3 and all(c in "0123456789abcdef" for c in ref):
            rows = self.store.query("SELECT * FROM networks WHERE id LIKE ?", (ref + "%",))
        if not rows:
            raise NotFound(f"network {ref} not found")
        if len(rows) > 1:
            raise ConfigError(f"more than one network matches {ref!r}: use a longer ID")
        r = rows[0]
        return {**json.loads(r["config"]), "name": r["name"], "id": r["id"], "created": r["created"]}

    def exists(self, ref: str) -> bool:
        try:
            self.get(ref)
        except NotFound:
            return False
        return True

    def containers_using(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.store.containers() if name in (c["config"].get("networks") or {})]

    def inspect(self, ref: str) -> dict[str, Any]:
        n = self.get(ref)
        attached = {}
        for c in self.containers_using(n["name"]):
            block = (c["state"].get("network") or {}).get(n["name"])
            if block and c["state"].get("status") in ("running", "paused"):
                attached[c["id"]] = {"name": c["name"], "interfaces": block.get("interfaces", {})}
        return inspect_view(n, attached)

    # ---- create -------------------------------------------------------------------
    def create(self, name: str | None = None, *, driver: str = "bridge", subnet: str | None = None,
               gateway: str | None = None, internal: bool = False, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, disable_dns: bool = False, ipv6: bool = False,
               ignore: bool = False) -> dict[str, Any]:
        """Validate, pick a bridge and a subnet, store. Nothing is made on the host yet."""
        if (driver or "bridge") not in DRIVERS:
            raise ConfigError(f"unsupported network driver {driver!r}: podium supports bridge")
        if ipv6:
            raise ConfigError("IPv6 networks are not supported")
        opts = _parse_options(options or {})
        if gateway and not subnet:
            raise ConfigError("--gateway needs --subnet")
        if name is not None:
            self._check_name(name)
            existing = self.store.query("SELECT name FROM networks WHERE name=?", (name,))
            if existing or name == ipam.DEFAULT_NETWORK:
                if ignore:
                    return self.get(name)
                raise AlreadyExists(f"network name {name} already used: network already exists")
        root = str(self.engine.paths.root)
        mine = self._rows()
        if subnet is not None:
            net = ipam.parse_subnet(subnet)
            subnet = str(net)
            gw = gateway or str(next(net.hosts()))
            if gateway:
                ipam.check_in_subnet(gateway, subnet, "", what="gateway")
            taken = [(s["subnet"], f"network {n['name']}") for n in mine for s in n["subnets"]]
            taken += [(ipam.DEFAULT_SUBNET, f"network {ipam.DEFAULT_NETWORK}"),
                      (ipam.PODMAN_DEFAULT_SUBNET, "Podman's default network")]
            taken += [(s, "the host") for s in ipam.host_subnets()]
            taken += [(s, "another podium root") for s in ipam.claimed_by_others("subnet", root)]
            for other, who in taken:
                if ipam.overlaps(subnet, other):
                    raise ConfigError(f"subnet {subnet} is already used on the host or by another config "
                                      f"({other}, {who})")
            subnets = [subnet]
        else:
            subnets = []
        links = ipam.host_links()
        owner_net = name or ""
        for _attempt in range(100):
            if name is None:
                owner_net = self._next_name(mine)
            sub = subnets[0] if subnets else ipam.free_subnet(
                [s["subnet"] for n in mine for s in n["subnets"]] + ipam.host_subnets()
                + ipam.claimed_by_others("subnet", root))
            if sub is None:
                raise ConfigError("no free subnet left in podium's pool 10.87.0.0/16: use --subnet")
            owner = {"root": root, "network": owner_net}
            if not ipam.claim("subnet", sub, owner):
                if subnets:
                    raise ConfigError(f"subnet {sub} is already used by another podium root")
                continue
            bridge = self._next_bridge(mine, links, root)
            if not ipam.claim("bridge", bridge, owner):
                ipam.unclaim("subnet", sub, owner)
                links.add(bridge)
                continue
            n = {
                "name": owner_net,
                "id": os.urandom(32).hex(),
                "driver": "bridge",
                "network_interface": bridge,
                "subnets": [{"subnet": sub, "gateway": gateway or str(next(ipam.parse_subnet(sub).hosts()))}],
                "ipv6_enabled": False,
                "internal": bool(internal),
                "dns_enabled": not disable_dns,
                "ipam_options": {"driver": "host-local"},
                "labels": dict(labels or {}),
                "options": opts,
            }
            created = now_iso()
            try:
                with self.store.write():
                    self.store.db.execute("INSERT INTO networks(name, id, created, config) VALUES (?,?,?,?)",
                                          (n["name"], n["id"], created, json.dumps(n)))
                    self.engine.events.record("network", "create", n["id"], n["name"],
                                              {"type": driver, **(labels or {})})
            except sqlite3.IntegrityError:
                ipam.unclaim("subnet", sub, owner)
                ipam.unclaim("bridge", bridge, owner)
                if name is not None:
                    raise AlreadyExists(f"network name {name} already used: network already exists") from None
                mine = self._rows()
                continue
            except BaseException:
                ipam.unclaim("subnet", sub, owner)
                ipam.unclaim("bridge", bridge, owner)
                raise
            return {**n, "created": created}
        raise PodiumError("could not allocate a network name, bridge and subnet: too many concurrent creates")

    def _check_name(self, name: str) -> None:
        if not NAME_RE.fullmatch(name) or len(name) > 253:
            raise ConfigError(f"invalid network name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        if name in RESERVED and name != ipam.DEFAULT_NETWORK:
            raise ConfigError(f"network name {name!r} is reserved (a Podman default network or a network mode)")
        if name in podman_network_names():
            raise ConfigError(f"network name {name!r} is used by Podman on this host: pick another name")

    def _next_name(self, mine: list[dict[str, Any]]) -> str:
        names = {n["name"] for n in mine} | podman_network_names()
        i = 1
        while f"podium{i}" in names:
            i += 1
        return f"podium{i}"

    def _next_bridge(self, mine: list[dict[str, Any]], links: set[str], root: str) -> str:
        used = {n["network_interface"] for n in mine} | links | set(ipam.claimed_by_others("bridge", root))
        i = 1
        while f"{ipam.BRIDGE_PREFIX}{i}" in used:
            i += 1
        return f"{ipam.BRIDGE_PREFIX}{i}"

    # ---- remove -------------------------------------------------------------------
    def remove(self, ref: str, *, force: bool = False, timeout: int | None = None) -> str:
        n = self.get(ref)
        if n["name"] == ipam.DEFAULT_NETWORK:
            raise ConfigError(f"default network {n['name']} cannot be removed")
        users = self.containers_using(n["name"])
        if users and not force:
            raise InUse(f'"{n["name"]}" has associated containers with it. Use -f to forcibly delete '
                        "containers and pods: network is being used")
        for c in users:
            self.engine.containers.remove(c["id"], force=True, volumes=True, timeout=timeout)
        self._cleanup_host(n)
        with self.store.write() as db:
            db.execute("DELETE FROM net_attachments WHERE network=?", (n["name"],))
            db.execute("DELETE FROM networks WHERE name=?", (n["name"],))
            self.engine.events.record("network", "destroy", n["id"], n["name"], {"type": n.get("driver", "bridge")})
        owner = {"root": str(self.engine.paths.root), "network": n["name"]}
        ipam.unclaim("subnet", n["subnets"][0]["subnet"], owner)
        ipam.unclaim("bridge", n["network_interface"], owner)
        return n["name"]

    def _cleanup_host(self, n: dict[str, Any]) -> None:
        """What a crash may have left of this network on the host: an empty bridge, rules, names."""
        from .net import setup as netsetup
        netsetup.forget_network(self.engine, n)

    def prune(self, *, filters: list[tuple[str, str]] | None = None) -> list[str]:
        removed = []
        for n in self.list():
            if n["name"] == ipam.DEFAULT_NETWORK or self.containers_using(n["name"]):
                continue
            if filters and not self.match(n, [f for f in filters if f[0] != "dangling"]):
                continue
            try:
                removed.append(self.remove(n["name"]))
            except PodiumError:
                continue
        return removed

    def match(self, n: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
        """Podman's network filters: values of one key OR-ed (labels AND-ed), keys AND-ed."""
        import re
        by_key: dict[str, list[bool]] = {}
        for key, val in filters:
            if key == "name":
                ok = re.search(val, n["name"]) is not None
            elif key == "id":
                ok = n["id"].startswith(val)
            elif key == "driver":
                ok = n["driver"] == val
            elif key == "label":
                k, sep, v = val.partition("=")
                labels = n.get("labels") or {}
                ok = k in labels and (not sep or labels[k] == v)
            elif key == "dangling":
                if val not in ("true", "false", "1", "0"):
                    raise ConfigError(f"invalid filter dangling={val!r}: use true or false")
                ok = (not self.containers_using(n["name"])) == (val in ("true", "1"))
            else:
                raise ConfigError(f"invalid filter {key!r}: use one of {', '.join(k + '=' for k in FILTER_KEYS)}")
            by_key.setdefault(key, []).append(ok)
        return all(all(v) if k == "label" else any(v) for k, v in by_key.items())

    # ---- connect / disconnect ----------------------------------------------------
    def connect(self, ref: str, container: str, *, aliases: list[str] | None = None,
                ip: str | None = None) -> None:
        """Add a network to a container: its config, and its namespace if it runs."""
        from .net import setup as netsetup
        from .state import status as st
        n = self.get(ref)
        ctrs = self.engine.containers
        c = ctrs.get(container)
        with ctrs.lock(c["id"]):
            c = ctrs.sync(ctrs.reload(c["id"]))
            config = c["config"]
            if config.get("network_mode") != "bridge":
                raise ConfigError(f"container {c['name']} uses network mode "
                                  f"{config.get('network_mode')!r}: only bridge containers can be connected")
            if n["name"] in (config.get("networks") or {}):
                raise AlreadyExists(f"container {c['name']} is already connected to network {n['name']}")
            entry: dict[str, Any] = {"aliases": list(aliases or [])}
            if ip:
                netsetup.check_static_ip(self.engine, n, ip)
                entry["ip"] = ip
            networks = {**(config.get("networks") or {}), n["name"]: entry}
            running = c["state"]["status"] in (st.RUNNING, st.PAUSED)
            if running:
                block = netsetup.connect_running(self.engine, c, n, entry)
                c["state"]["network"] = {**(c["state"].get("network") or {}), n["name"]: block}
            self._save(c, {**config, "networks": networks})
            self.engine.events.record("network", "connect", n["id"], n["name"], {"container": c["id"]})

    def disconnect(self, ref: str, container: str, *, force: bool = False) -> None:
        from .net import setup as netsetup
        from .state import status as st
        n = self.get(ref)
        ctrs = self.engine.containers
        c = ctrs.get(container)
        with ctrs.lock(c["id"]):
            c = ctrs.sync(ctrs.reload(c["id"]))
            config = c["config"]
            networks = dict(config.get("networks") or {})
            if n["name"] not in networks:
                raise NotFound(f"container {c['name']} is not connected to network {n['name']}")
            if len(networks) == 1 and not force and c["state"]["status"] in (st.RUNNING, st.PAUSED):
                raise InvalidState(f"network {n['name']} is the last network of running container "
                                   f"{c['name']}: use -f to disconnect it anyway")
            if c["state"]["status"] in (st.RUNNING, st.PAUSED):
                netsetup.disconnect_running(self.engine, c, n["name"])
                c["state"]["network"] = {k: v for k, v in (c["state"].get("network") or {}).items()
                                         if k != n["name"]}
            ipam.release(self.engine, c["id"], n["name"])
            del networks[n["name"]]
            self._save(c, {**config, "networks": networks})
            self.engine.events.record("network", "disconnect", n["id"], n["name"], {"container": c["id"]})

    def _save(self, c: dict[str, Any], config: dict[str, Any]) -> None:
        """The one change a container's config may see after create: its network list."""
        with self.store.write() as db:
            db.execute("UPDATE containers SET config=?, state=? WHERE id=?",
                       (json.dumps(config), json.dumps(c["state"]), c["id"]))
