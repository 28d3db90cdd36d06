"""Network commands: network create, ls, inspect, rm, prune, connect, disconnect, exists.

Podman's names, flags and output. Every failure is one line on stderr; the exit
code is 125 for any error (an unknown or in-use network included), except
``exists``, which answers 0 or 1.
"""

from __future__ import annotations

import argparse
import sys

from .command import Command, Parser, flag, kv, multi, parse_filters, print_error
from .format import emit, emit_inspect, table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _nets(g: Any) -> Any:
    from podium.engine.networks import Networks
    return Networks(g.engine)


def _filters(values: list[str]) -> list[tuple[str, str]]:
    from podium.engine.networks import FILTER_KEYS
    return parse_filters(values, FILTER_KEYS)


def template_view(n: dict[str, Any]) -> dict[str, Any]:
    """The inspect object plus the Go field names templates use ({{.ID}}, {{.NetworkInterface}})."""
    return {**n, "ID": n["id"], "Name": n["name"], "Driver": n["driver"],
            "NetworkInterface": n["network_interface"], "Created": n["created"],
            "Subnets": n["subnets"], "IPv6Enabled": n["ipv6_enabled"], "Internal": n["internal"],
            "DNSEnabled": n["dns_enabled"], "Labels": n.get("labels") or {},
            "Options": n.get("options") or {}, "IPAMOptions": n.get("ipam_options") or {}}


# ---- create ---------------------------------------------------------------------------

def _create_args(p: Parser) -> None:
    p.add_argument("-d", "--driver", default="bridge", help="network driver (bridge)")
    p.add_argument("--subnet", help="subnet in CIDR form (default: the next free /24 of 10.87.0.0/16)")
    p.add_argument("--gateway", help="gateway of the subnet (default: its first address)")
    flag(p, "--internal", help="no outbound traffic: no masquerading, no default route")
    flag(p, "--disable-dns", help="no name resolution of containers on this network")
    flag(p, "--ipv6", help="enable IPv6 (not supported)")
    multi(p, "--label", help="set metadata (KEY=VALUE)")
    multi(p, "-o", "--opt", help="driver options: mtu=N, metric=N")
    flag(p, "--ignore", help="do not fail when the network exists")
    p.add_argument("name", nargs="?", help="network name (podiumN when left out)")


def do_create(a: argparse.Namespace, g: Any) -> int:
    n = _nets(g).create(a.name, driver=a.driver, subnet=a.subnet, gateway=a.gateway,
                        internal=a.internal, labels=kv(a.label, "label"), options=kv(a.opt, "option", require_value=True),
                        disable_dns=a.disable_dns, ipv6=a.ipv6, ignore=a.ignore)
    print(n["name"])
    return 0


# ---- ls / inspect ---------------------------------------------------------------------

def _ls_args(p: Parser) -> None:
    multi(p, "-f", "--filter", help="name=, id=, driver=, label=, dangling=true|false")
    p.add_argument("--format", help="json, or a Go template such as '{{.Name}}'")
    flag(p, "-q", "--quiet", help="print only the names")
    flag(p, "--no-trunc", help="do not truncate the network IDs")


def do_ls(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.networks import inspect_view
    nets = _nets(g)
    flt = _filters(a.filter)
    rows = [inspect_view(n) for n in nets.list() if nets.match(n, flt)]
    if a.quiet:
        for r in rows:
            print(r["name"])
        return 0
    if a.format == "json":
        emit(rows, "json")
        return 0

    def human(rs: list[dict[str, Any]]) -> None:
        table(["NETWORK ID", "NAME", "DRIVER"],
              [[r["id"] if a.no_trunc else r["id"][:12], r["name"], r["driver"]] for r in rs])
    emit([template_view(r) for r in rows] if a.format else rows, a.format, table=human)
    return 0


def _inspect_args(p: Parser) -> None:
    p.add_argument("-f", "--format", help="json (default) or a Go template")
    p.add_argument("names", nargs="+", help="network names or IDs")


def do_inspect(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import PodiumError
    nets = _nets(g)
    out, code = [], 0
    for name in a.names:
        try:
            out.append(nets.inspect(name))
        except PodiumError as exc:
            print_error(exc)
            code = exc.exit_code
    emit_inspect([template_view(n) for n in out], a.format, as_json=out)
    return code


# ---- rm / prune / exists --------------------------------------------------------------

def _rm_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="also remove the containers using the networks")
    p.add_argument("-t", "--time", type=int, help="seconds to wait before killing a running container")
    p.add_argument("names", nargs="+", help="network names or IDs")


def do_rm(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import PodiumError
    nets = _nets(g)
    code = 0
    for name in a.names:
        try:
            print(nets.remove(name, force=a.force, timeout=a.time))
        except PodiumError as exc:
            print_error(exc)
            code = exc.exit_code
    return code


def _prune_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="do not ask for confirmation")
    multi(p, "--filter", help="name=, id=, driver=, label=")


def do_prune(a: argparse.Namespace, g: Any) -> int:
    flt = _filters(a.filter)
    if not a.force:
        sys.stdout.write("WARNING! This will remove all networks not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    for name in _nets(g).prune(filters=flt):
        print(name)
    return 0


def _exists_args(p: Parser) -> None:
    p.add_argument("name", help="network name or ID")


def do_exists(a: argparse.Namespace, g: Any) -> int:
    return 0 if _nets(g).exists(a.name) else 1


# ---- connect / disconnect ---------------------------------------------------------------

def _connect_args(p: Parser) -> None:
    multi(p, "--alias", help="network-scoped alias of the container (DNS name)")
    p.add_argument("--ip", help="static IPv4 address on this network")
    p.add_argument("network", help="network name or ID")
    p.add_argument("container", help="container name or ID")


def do_connect(a: argparse.Namespace, g: Any) -> int:
    _nets(g).connect(a.network, a.container, aliases=list(a.alias), ip=a.ip)
    return 0


def _disconnect_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="disconnect even the last network of a running container")
    p.add_argument("network", help="network name or ID")
    p.add_argument("container", help="container name or ID")


def do_disconnect(a: argparse.Namespace, g: Any) -> int:
    _nets(g).disconnect(a.network, a.container, force=a.force)
    return 0


COMMANDS: dict[str, Command] = {
    "create": Command(do_create, _create_args, "Create a bridge network."),
    "ls": Command(do_ls, _ls_args, "List networks."),
    "inspect": Command(do_inspect, _inspect_args, "Show networks in Podman's JSON shape."),
    "rm": Command(do_rm, _rm_args, "Remove networks (-f also removes the containers using them)."),
    "prune": Command(do_prune, _prune_args, "Remove every network no container uses."),
    "exists": Command(do_exists, _exists_args, "Exit 0 when the network exists, 1 when not."),
    "connect": Command(do_connect, _connect_args, "Connect a container to a network."),
    "disconnect": Command(do_disconnect, _disconnect_args, "Disconnect a container from a network."),
}
