"""A container's network, from spec to running namespace and back.

The container layer calls four functions and knows nothing else of networks:

- ``config_from_spec(engine, spec)`` at create: validates ``--network``,
  ``--network-alias``, ``--ip`` and ``-p`` (unknown network, bad syntax, a host
  port in use) before anything exists, and returns the config fragment stored
  with the container (``network_mode``, ``networks``, ``ports``).
- ``attach(engine, c)`` at start, before the runtime creates the container:
  allocates addresses (ipam.py), makes the network namespace, connects it and
  publishes the ports through the backend; returns what the OCI config and the
  /etc files need (``netns``, ``ip``, ``nameservers``, ``search``, ``status``).
- ``detach(engine, c)`` when the container stops or a start fails: tears down
  with exactly what set-up used, then removes the namespace. Idempotent.
- ``release(engine, c)`` when the container is removed: frees its addresses.

What set-up did is written down *before* it is done, in
``RUNROOT/netns/<id>.json`` next to the namespace file ``RUNROOT/netns/<id>``,
so a teardown after a failure or a crash knows what to undo; the record goes
when the teardown is complete.

Backends: ``fast`` (netlink + one nftables table + aardvark-dns, fastpath.py),
the default, and ``netavark`` (Podman's tool, netavark.py). The environment
variable ``PODIUM_NETWORK_BACKEND`` picks one for new set-ups; a teardown always
uses the backend its record names. Modes ``none`` (a namespace with only lo),
``host``, ``ns:PATH`` and ``container:ID`` need no set-up here.
"""

from __future__ import annotations

import json
import os

from ..errors import ConfigError, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine import Engine
    from ..spec import ContainerSpec

SIMPLE_MODES = ("none", "host")
UNSUPPORTED_MODES = ("slirp4netns", "pasta")
BACKENDS = ("fast", "netavark")
BACKEND_ENV = "PODIUM_NETWORK_BACKEND"


def backend_name() -> str:
    name = os.environ.get(BACKEND_ENV) or "fast"
    if name not in BACKENDS:
        raise ConfigError(f"{BACKEND_ENV}={name!r}: use one of {', '.join(BACKENDS)}")
    return name


def _networks(engine: "Engine") -> Any:
    from ..networks import Networks
    return Networks(engine)


# ---- create ------------------------------------------------------------------------
def config_from_spec(engine: "Engine", spec: "ContainerSpec") -> dict[str, Any]:
    network = spec.network
    if network is None:
        network = "bridge" if os.geteuid() == 0 else "none"  # rootless: no bridges (yet)
    if network in SIMPLE_MODES or network.startswith(("ns:", "container:")):
        if spec.ports:
            raise ConfigError(f"port publishing (-p) needs a bridge network, not network mode {network!r}")
        if spec.network_aliases:
            raise ConfigError("--network-alias needs a bridge network")
        if spec.ip:
            raise ConfigError("--ip needs a bridge network")
        if network.startswith("ns:") and not network[3:]:
            raise ConfigError("network mode ns: needs a path (ns:/run/netns/NAME)")
        if network.startswith("container:"):
            engine.containers.get(network.split(":", 1)[1])  # NotFound early, as Podman does
        return {"network_mode": network, "networks": {}, "ports": []}
    if network in UNSUPPORTED_MODES:
        raise ConfigError(f"network mode {network!r} is not supported: use a bridge network, none or host")
    if os.geteuid() != 0:
        raise ConfigError("bridge networks need root: use --network none or host")
    nets = _networks(engine)
    names: list[str] = []
    for ref in network.split(","):
        ref = ref.strip()
        if not ref:
            raise ConfigError(f"invalid --network {network!r}: an empty network name")
        if ":" in ref or ref in SIMPLE_MODES:
            raise ConfigError(f"invalid --network {network!r}: {ref!r} cannot be combined with other networks")
        n = nets.get("podium" if ref in ("bridge", "private") else ref)
        if n["name"] not in names:
            names.append(n["name"])
    if spec.ip and len(names) != 1:
        raise ConfigError("--ip can only be set for a single network")
    aliases = [a for a in spec.network_aliases]
    for a in aliases:
        from ..names import NAME_RE
        if not NAME_RE.fullmatch(a):
            raise ConfigError(f"invalid network alias {a!r}: aliases must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    networks: dict[str, Any] = {}
    for name in names:
        entry: dict[str, Any] = {"aliases": list(aliases)}
        if spec.ip:
            check_static_ip(engine, nets.get(name), spec.ip)
            entry["ip"] = spec.ip
        networks[name] = entry
    ports: list[dict[str, Any]] = []
    if spec.ports:
        from . import ports as portmod
        reserved = [p for c in engine.store.containers() for p in c["config"].get("ports") or []]
        ports = portmod.resolve(spec.ports, reserved)
    return {"network_mode": "bridge", "networks": networks, "ports": ports}


def check_static_ip(engine: "Engine", n: dict[str, Any], ip: str) -> None:
    """``--ip``: an address of the network's subnet, not its gateway, held by no container."""
    from . import ipam
    sub = n["subnets"][0]
    ipam.check_in_subnet(ip, sub["subnet"], sub["gateway"], what="--ip")
    holder = ipam.ip_in_use(engine, n, ip)
    if holder:
        raise ConfigError(f"invalid --ip {ip}: already allocated to container {holder[:12]} on network {n['name']}")
    taken = [c["name"] for c in engine.store.containers()
             if (c["config"].get("networks") or {}).get(n["name"], {}).get("ip") == ip]
    if taken:
        raise ConfigError(f"invalid --ip {ip}: already requested by container {taken[0]} on network {n['name']}")


# ---- records -----------------------------------------------------------------------------
def netns_path(engine: "Engine", cid: str) -> str:
    return str(engine.paths.runroot / "netns" / cid)


def record_path(engine: "Engine", cid: str) -> str:
    return netns_path(engine, cid) + ".json"


def load_record(engine: "Engine", cid: str) -> dict[str, Any] | None:
    try:
        with open(record_path(engine, cid)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def save_record(engine: "Engine", rec: dict[str, Any]) -> None:
    path = record_path(engine, rec["container_id"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f)
    os.replace(tmp, path)


def _net_entry(engine: "Engine", c: dict[str, Any], n: dict[str, Any], entry: dict[str, Any],
               index: int, backend: str) -> dict[str, Any]:
    """One network of a record: everything the backend needs, addresses allocated."""
    import ipaddress

    from . import ipam
    from .fastpath import veth_name
    sub = n["subnets"][0]
    net = ipaddress.ip_network(sub["subnet"])
    ip = ipam.allocate(engine, n, c["id"], want=entry.get("ip"),
                       extra={"aliases": entry.get("aliases", [])})
    opts = n.get("options") or {}
    out = {
        "name": n["name"], "bridge": n["network_interface"], "subnet": sub["subnet"],
        "gateway": sub["gateway"], "prefixlen": net.prefixlen, "broadcast": str(net.broadcast_address),
        "ip": ip, "ifname": f"eth{index}", "veth": veth_name(c["id"], n["name"]),
        "aliases": list(entry.get("aliases", [])), "dns": bool(n["dns_enabled"]),
        "internal": bool(n["internal"]), "mtu": int(opts["mtu"]) if opts.get("mtu") else None,
        "metric": int(opts.get("metric") or 100) + index,
    }
    if backend == "netavark":
        from .netavark import network_json
        out["netavark"] = network_json(n)
    return out


# ---- start / stop ----------------------------------------------------------------------------
def attach(engine: "Engine", c: dict[str, Any]) -> dict[str, Any]:
    config = c["config"]
    if config.get("network_mode") != "bridge":
        return {}
    from . import netns
    detach(engine, c)  # whatever a crash left
    backend = backend_name()
    # The kernel takes a few ms to make a namespace: let a thread do it meanwhile.
    creating = netns.Creating(netns_path(engine, c["id"]))
    try:
        nets = _networks(engine)
        entries = []
        for i, (name, entry) in enumerate((config.get("networks") or {}).items()):
            try:
                n = nets.get(name)
            except NotFound:
                raise NotFound(f"network {name} not found: container {c['name']} cannot join it") from None
            entries.append(_net_entry(engine, c, n, entry, i, backend))
        if config.get("ports"):
            from . import ports as portmod
            portmod.check_free(config["ports"])
    except BaseException:
        creating.cancel()
        raise
    rec = {
        "backend": backend,
        "container_id": c["id"], "container_name": c["name"],
        "netns": netns_path(engine, c["id"]),
        "aardvark_config": str(engine.paths.runroot / "netavark"),
        "networks": entries,
        "ports": list(config.get("ports") or []),
    }
    try:
        save_record(engine, rec)
    except BaseException:
        creating.cancel()
        raise
    try:
        status = _setup(rec, creating)
    except BaseException:
        _forget(engine, c["id"])
        raise
    save_record(engine, rec)  # netavark keeps the JSON it sent in rec
    dns = [n for n in entries if n["dns"]]
    return {
        "netns": rec["netns"],
        "ip": entries[0]["ip"] if entries else None,
        "gateway": entries[0]["gateway"] if entries else None,
        "name": c["name"],
        "nameservers": [n["gateway"] for n in dns] or None,
        "search": ["dns.podman"] if dns else None,
        "status": status,
    }


def _setup(rec: dict[str, Any], creating: Any) -> dict[str, Any]:
    if rec["backend"] == "netavark":
        from . import netavark
        return netavark.setup(rec, creating=creating)
    from . import fastpath
    return fastpath.setup(rec, creating=creating)


def detach(engine: "Engine", c: dict[str, Any]) -> None:
    """Tear down what ``attach`` set up; safe to call twice, or when nothing was set up."""
    rec = load_record(engine, c["id"])
    if rec is None:
        from . import netns
        path = netns_path(engine, c["id"])
        if os.path.exists(path):
            netns.remove(path)
        return
    if rec["backend"] == "netavark":
        from . import netavark
        netavark.teardown(rec)
    else:
        from . import fastpath
        fastpath.teardown(rec)
    _forget(engine, c["id"])


def _forget(engine: "Engine", cid: str) -> None:
    try:
        os.unlink(record_path(engine, cid))
    except FileNotFoundError:
        pass


def release(engine: "Engine", c: dict[str, Any]) -> None:
    if c["config"].get("network_mode") != "bridge":
        return
    from . import ipam
    ipam.release(engine, c["id"])


# ---- network connect / disconnect of a running container -------------------------------
def connect_running(engine: "Engine", c: dict[str, Any], n: dict[str, Any],
                    entry: dict[str, Any]) -> dict[str, Any]:
    """Add network ``n`` to the running container's namespace; returns its status block."""
    rec = load_record(engine, c["id"])
    if rec is None:
        raise ConfigError(f"container {c['name']} has no network namespace of its own to connect")
    used = {x["ifname"] for x in rec["networks"]}
    index = 0
    while f"eth{index}" in used:
        index += 1
    new = _net_entry(engine, c, n, entry, index, rec["backend"])
    part = {**rec, "networks": [new], "ports": []}
    try:
        if rec["backend"] == "netavark":
            from . import netavark
            part["netavark_calls"] = []
            status = netavark.setup(part, existing=True)
            rec.setdefault("netavark_calls", []).extend(part["netavark_calls"])
        else:
            from . import fastpath, netns
            status = fastpath.setup(part, netns_sock=netns.enter(rec["netns"]))
    except BaseException:
        from . import ipam
        ipam.release(engine, c["id"], n["name"])
        raise
    rec["networks"].append(new)
    save_record(engine, rec)
    return status[n["name"]]


def disconnect_running(engine: "Engine", c: dict[str, Any], name: str) -> None:
    rec = load_record(engine, c["id"])
    if rec is None or not any(x["name"] == name for x in rec["networks"]):
        return
    if rec["backend"] == "netavark":
        from . import netavark
        netavark.teardown(rec, names=[name])
    else:
        from . import fastpath
        fastpath.disconnect(rec, [name])
    primary = rec["networks"][0]["name"]
    rec["networks"] = [x for x in rec["networks"] if x["name"] != name]
    if primary == name and rec["networks"] and rec.get("ports") and rec["backend"] != "netavark":
        from . import nft
        nft.add(nft.port_elements(rec["ports"], rec["networks"][0]["ip"]))
    save_record(engine, rec)


def forget_network(engine: "Engine", n: dict[str, Any]) -> None:
    """``network rm``: drop what may be left of the network on the host (nothing uses it now)."""
    from . import fastpath
    from .aardvark import Aardvark
    Aardvark(str(engine.paths.runroot / "netavark")).remove_network(n["name"])
    sub = n["subnets"][0]
    fastpath.remove_bridge({"name": n["name"], "bridge": n["network_interface"], "subnet": sub["subnet"],
                            "gateway": sub["gateway"], "internal": bool(n["internal"])},
                           alive_dir=str(engine.paths.runroot / "netns"))


# ---- reports ---------------------------------------------------------------------------------------
def network_settings(c: dict[str, Any]) -> dict[str, Any]:
    """``inspect``'s NetworkSettings fields for networks, as Podman fills them (pure).

    Addresses come from the status saved at start, so a container that is not
    running shows its networks with empty addresses, as Podman's do.
    """
    config, state = c["config"], c["state"]
    live = state.get("status") in ("running", "paused")
    status = (state.get("network") or {}) if live else {}
    networks: dict[str, Any] = {}
    for name, entry in (config.get("networks") or {}).items():
        block = status.get(name) or {}
        iface = next(iter((block.get("interfaces") or {}).values()), {})
        sub = (iface.get("subnets") or [{}])[0]
        ip, _, plen = (sub.get("ipnet") or "").partition("/")
        networks[name] = {
            "EndpointID": "", "Gateway": sub.get("gateway", ""), "IPAddress": ip,
            "IPPrefixLen": int(plen or 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "MacAddress": iface.get("mac_address", ""), "NetworkID": name,
            "DriverOpts": None, "IPAMConfig": None, "Links": None,
            "Aliases": list(entry.get("aliases") or []),
        }
    first = next(iter(networks.values()), {})
    return {
        "IPAddress": first.get("IPAddress", ""), "IPPrefixLen": first.get("IPPrefixLen", 0),
        "Gateway": first.get("Gateway", ""), "MacAddress": first.get("MacAddress", ""),
        "Networks": networks,
    }

