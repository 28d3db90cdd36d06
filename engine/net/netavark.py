"""The netavark backend: Podman's own network tool, driven directly.

netavark reads no config: every ``setup``/``teardown`` gets the full network
definitions and the container's addresses (podium's IPAM) as JSON on stdin, and
``teardown`` must get exactly the JSON ``setup`` got, so it is kept in the
container's network record (setup.py). ``--config RUNROOT/netavark`` keeps its
aardvark-dns state apart from Podman's. Costs 0.17-0.34 s per container here
(~30 iptables processes); see docs/networking.md for the fast path.
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager

from ..errors import RuntimeFailure
from . import netns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

NETAVARK = "/usr/lib/podman/netavark"
AARDVARK = "/usr/lib/podman/aardvark-dns"
ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def argv(config: str, verb: str, ns_path: str) -> list[str]:
    """The command line of one call (pure)."""
    return [NETAVARK, "--config", config, "--rootless", "false", "--aardvark-binary", AARDVARK,
            verb, ns_path]


def network_json(n: dict[str, Any]) -> dict[str, Any]:
    """The network definition netavark reads, from podium's record (pure)."""
    out = {k: n[k] for k in ("name", "id", "driver", "network_interface", "subnets", "ipv6_enabled",
                             "internal", "dns_enabled", "ipam_options") if k in n}
    if n.get("options"):
        out["options"] = dict(n["options"])
    return out


def options(rec: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    """The stdin of setup/teardown for ``rec``'s networks (or some of them) (pure)."""
    nets = [n for n in rec["networks"] if names is None or n["name"] in names]
    return {
        "container_id": rec["container_id"],
        "container_name": rec["container_name"],
        "networks": {n["name"]: {"static_ips": [n["ip"]], "aliases": list(n["aliases"]),
                                 "interface_name": n["ifname"]} for n in nets},
        "network_info": {n["name"]: n["netavark"] for n in nets},
        "port_mappings": list(rec.get("ports") or []) or None,
    }


def call(config: str, verb: str, ns_path: str, opts: dict[str, Any], *, lock: bool = True) -> dict[str, Any]:
    """One netavark run. Runs are serialized host-wide (``lock=False``: the caller holds the
    lock), as Podman serializes them: two concurrent set-ups of a new network both create
    its chains, and one fails."""
    from .ipam import host_lock
    env = {**os.environ, "PATH": ENV_PATH}
    os.makedirs(config, exist_ok=True)  # netavark makes only its aardvark-dns/ below it
    with host_lock("net.lock") if lock else _nothing():
        proc = subprocess.run(argv(config, verb, ns_path), input=json.dumps(opts), capture_output=True,
                              text=True, env=env)
    out = proc.stdout.strip()
    try:
        data = json.loads(out) if out else {}
    except ValueError:
        data = {"error": out}
    if proc.returncode != 0:
        err = data.get("error") if isinstance(data, dict) else None
        raise RuntimeFailure(f"netavark {verb}: {err or proc.stderr.strip() or proc.returncode}")
    return data


def setup(rec: dict[str, Any], *, existing: bool = False,
          creating: "netns.Creating | None" = None) -> dict[str, Any]:
    """Create the namespace (unless ``existing``) and run ``netavark setup``; keeps the JSON in rec."""
    from .rtnl import Netlink
    opts = options(rec)
    rec.setdefault("netavark_calls", []).append(opts)
    if not existing:
        (creating or netns.Creating(rec["netns"])).wait().close()
    from .ipam import host_lock
    try:
        with host_lock("net.lock"), Netlink() as nl:
            new = [n["bridge"] for n in rec["networks"] if nl.link(n["bridge"]) is None]
            status = call(rec["aardvark_config"], "setup", rec["netns"], opts, lock=False)
            _fix_bridge_macs(nl, new)
            _forget_neighbours(nl, rec["networks"])
        return status
    except BaseException:
        # a failed setup is not rolled back by netavark: tear down with the same JSON
        try:
            call(rec["aardvark_config"], "teardown", rec["netns"], opts)
        except RuntimeFailure:
            pass
        rec["netavark_calls"].remove(opts)
        if not existing:
            netns.remove(rec["netns"])
        raise


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _forget_neighbours(nl: Any, nets: list[dict[str, Any]]) -> None:
    """netavark gives a container a random MAC; the host may still cache another one for its
    (reused) address, and would send to it for seconds (see fastpath.container_mac)."""
    for n in nets:
        link = nl.link(n["bridge"])
        if link is not None and n.get("ip"):
            nl.forget_neighbour(link["index"], n["ip"])


def _fix_bridge_macs(nl: Any, bridges: list[str]) -> None:
    """netavark 1.4 lets a new bridge take its ports' lowest MAC address, which changes when a
    container leaves and strands the others' ARP entries for the gateway. Fix it on the bridges
    this set-up created (no container has looked the gateway up yet)."""
    from .fastpath import bridge_mac
    for name in bridges:
        link = nl.link(name)
        if link is not None:
            nl.set_mac(link["index"], bridge_mac(name))


def chain_suffix(network: str) -> str:
    """netavark's per-network chain suffix: SHA-512 of the name, 13 hex digits, upper case (pure)."""
    import hashlib
    return hashlib.sha512(network.encode()).hexdigest()[:13].upper()


def _drop_empty_dnat_chains(nets: list[dict[str, Any]]) -> None:
    """netavark 1.4 leaves a network's empty NETAVARK-DN-<suffix> chain behind when the last
    container to leave published no port. Once the network's bridge is gone, delete it: ``-X``
    refuses a chain that still has rules or references, and the name is ours (from our name)."""
    from .rtnl import Netlink
    with Netlink() as nl:
        left = [n for n in nets if nl.link(n["bridge"]) is None]
    for n in left:
        subprocess.run(["iptables", "-w", "-t", "nat", "-X", f"NETAVARK-DN-{chain_suffix(n['name'])}"],
                       capture_output=True, env={**os.environ, "PATH": ENV_PATH})


def teardown(rec: dict[str, Any], *, names: list[str] | None = None) -> list[str]:
    """``netavark teardown`` with each saved setup JSON (only ``names`` if given), then the
    namespace (when all go). Returns the errors met (teardown keeps going)."""
    errors = []
    if rec.get("netavark_calls") and not netns.is_mounted(rec["netns"]):
        # The namespace went first (a crash, a reboot of the run root): rules may remain. netavark
        # needs a namespace to tear down, so give it one with the same setup, then tear down.
        netns.create(rec["netns"]).close()
        for opts in rec["netavark_calls"]:
            try:
                call(rec["aardvark_config"], "setup", rec["netns"], opts)
            except RuntimeFailure:
                pass
    if os.path.exists(rec["netns"]):
        for opts in reversed(rec.get("netavark_calls", [])):
            part = opts
            if names is not None:
                keep = [k for k in opts["networks"] if k in names]
                if not keep:
                    continue
                part = {**opts, "networks": {k: opts["networks"][k] for k in keep},
                        "network_info": {k: opts["network_info"][k] for k in keep}}
            try:
                call(rec["aardvark_config"], "teardown", rec["netns"], part)
            except RuntimeFailure as exc:
                errors.append(str(exc))
    gone = [n for n in rec["networks"] if names is None or n["name"] in names]
    if names is None:
        netns.remove(rec["netns"])
    _drop_empty_dnat_chains(gone)
    if any(n["dns"] for n in gone):
        from .aardvark import Aardvark
        Aardvark(rec["aardvark_config"]).stop_if_idle()
    if names is not None:
        for opts in rec.get("netavark_calls", []):
            for k in names:
                opts["networks"].pop(k, None)
                opts["network_info"].pop(k, None)
        rec["netavark_calls"] = [o for o in rec.get("netavark_calls", []) if o["networks"]]
    return errors
