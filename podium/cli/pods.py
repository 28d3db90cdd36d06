"""Pod commands: pod create, start, stop, restart, kill, rm, ps, inspect, top, logs, exists."""

from __future__ import annotations

import argparse
import sys

from .command import Command, Parser, flag, kv, multi
from .containers import bulk
from .format import emit, emit_inspect, table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _create_args(p: Parser) -> None:
    p.add_argument("--name", help="pod name")
    p.add_argument("--hostname", help="hostname shared by the pod's containers")
    p.add_argument("--share", help="namespaces to share: net,ipc,uts[,pid] (default net,ipc,uts)")
    multi(p, "-l", "--label", help="set metadata (KEY=VALUE)")
    multi(p, "-p", "--publish", help="publish a port: [IP:][HOST:]CTR[/tcp|udp]")
    multi(p, "--network", "--net", dest="network", help="networks for the pod")
    multi(p, "--network-alias", help="DNS aliases on the pod's networks")
    p.add_argument("--infra-image", help="image for the infra container (default: catatonit pause)")
    p.add_argument("--infra-name", help="name of the infra container")
    p.add_argument("name_arg", nargs="?", help=argparse.SUPPRESS)


def do_create(a: argparse.Namespace, g: Any) -> int:
    pod = g.engine.pods.create(
        name=a.name or a.name_arg, hostname=a.hostname, share=a.share, labels=kv(a.label, "label"),
        ports=list(a.publish), network=",".join(a.network) or None,
        network_aliases=list(a.network_alias), infra_image=a.infra_image, infra_name=a.infra_name)
    print(pod["id"])
    return 0


def _pods_arg(p: Parser) -> None:
    flag(p, "-a", "--all", help="act on all pods")
    p.add_argument("pods", nargs="*", help="pod names or IDs")


def _refs(a: argparse.Namespace, g: Any) -> list[str]:
    from podium.engine.errors import ConfigError
    if a.all:
        return [p["name"] for p in g.engine.pods.list()]
    if not a.pods:
        raise ConfigError("you must provide at least one pod name or ID")
    return a.pods


def do_start(a: argparse.Namespace, g: Any) -> int:
    return bulk(_refs(a, g), g.engine.pods.start, lambda ref, pid: pid)


def _stop_args(p: Parser) -> None:
    p.add_argument("-t", "--time", type=int, help="seconds to wait before killing")
    _pods_arg(p)


def do_stop(a: argparse.Namespace, g: Any) -> int:
    return bulk(_refs(a, g), lambda r: g.engine.pods.stop(r, timeout=a.time), lambda ref, pid: pid)


def do_restart(a: argparse.Namespace, g: Any) -> int:
    return bulk(_refs(a, g), lambda r: g.engine.pods.restart(r, timeout=a.time), lambda ref, pid: pid)


def _kill_args(p: Parser) -> None:
    p.add_argument("-s", "--signal", default="KILL")
    _pods_arg(p)


def do_kill(a: argparse.Namespace, g: Any) -> int:
    return bulk(_refs(a, g), lambda r: g.engine.pods.kill(r, signal=a.signal), lambda ref, pid: pid)


def _rm_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="stop and remove running containers too")
    flag(p, "-i", "--ignore", help="ignore pods that do not exist")
    p.add_argument("-t", "--time", type=int, help="seconds to wait before killing")
    _pods_arg(p)


def do_rm(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import NotFound

    def remove(ref: str) -> str:
        try:
            return g.engine.pods.remove(ref, force=a.force, timeout=a.time)
        except NotFound:
            if a.ignore:
                return ""
            raise
    return bulk(_refs(a, g), remove, lambda ref, pid: pid or None)


def _ps_args(p: Parser) -> None:
    flag(p, "-q", "--quiet", help="print only the IDs")
    p.add_argument("--format", help="json, or a Go template")
    flag(p, "--no-trunc", help="do not truncate IDs")
    multi(p, "-f", "--filter", help="name=, label=, status=, id=")


def do_ps(a: argparse.Namespace, g: Any) -> int:
    import re
    import time

    from podium.engine.timeutil import human_duration, parse_iso
    pods = g.engine.pods
    rows = [pods.ps_entry(p) for p in pods.list()]
    for f in a.filter:
        key, _, val = f.partition("=")
        if key == "name":
            rows = [r for r in rows if re.search(val, r["Name"])]
        elif key == "status":
            rows = [r for r in rows if r["Status"].lower() == val.lower()]
        elif key == "id":
            rows = [r for r in rows if r["Id"].startswith(val)]
        elif key == "label":
            k, sep, v = val.partition("=")
            rows = [r for r in rows if k in r["Labels"] and (not sep or r["Labels"][k] == v)]
        else:
            from podium.engine.errors import ConfigError
            raise ConfigError(f"invalid filter {f!r}: use name=, label=, status= or id=")
    if a.quiet:
        for r in rows:
            print(r["Id"] if a.no_trunc else r["Id"][:12])
        return 0
    if a.format == "json":
        emit(rows, "json")
        return 0
    now = time.time()
    for r in rows:
        r["ID"] = r["Id"] if a.no_trunc else r["Id"][:12]
        r["NumberOfContainers"] = len(r["Containers"])
        r["CreatedSince"] = human_duration(now - parse_iso(r["Created"])) + " ago"

    def human(rs: list[dict[str, Any]]) -> None:
        table(["POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "# OF CONTAINERS"],
              [[r["ID"], r["Name"], r["Status"], r["CreatedSince"], r["InfraId"][:12],
                str(r["NumberOfContainers"])] for r in rs])
    emit(rows, a.format, table=human)
    return 0


def _inspect_args(p: Parser) -> None:
    p.add_argument("-f", "--format", help="json (default) or a Go template")
    p.add_argument("pods", nargs="+")


def do_inspect(a: argparse.Namespace, g: Any) -> int:
    out = [g.engine.pods.inspect(ref) for ref in a.pods]
    emit_inspect(out, a.format, as_json=out[0] if len(out) == 1 else out)
    return 0


def _top_args(p: Parser) -> None:
    p.add_argument("pod")
    p.add_argument("descriptors", nargs="*")


def do_top(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.state import status as st
    from podium.engine.top import top
    pods = g.engine.pods
    pod = pods.get(a.pod)
    headers: list[str] = []
    rows: list[list[str]] = []
    for c in pods.members(pod):
        if c["state"]["status"] not in (st.RUNNING, st.PAUSED):
            continue
        headers, part = top(g.engine, c["id"], list(a.descriptors))
        rows += part
    if not headers:
        from podium.engine.errors import InvalidState
        raise InvalidState(f"pod {pod['name']} has no running containers")
    table(headers, rows)
    return 0


def _logs_args(p: Parser) -> None:
    p.add_argument("-c", "--container", help="only this container's logs")
    p.add_argument("--tail", type=int, default=-1)
    flag(p, "-t", "--timestamps", help="show timestamps")
    p.add_argument("--since", help="show logs since a time")
    p.add_argument("pod")


def do_logs(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import logs as logmod
    pods = g.engine.pods
    pod = pods.get(a.pod)
    since = logmod.parse_since(a.since) if a.since else None
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for c in pods.members(pod, infra=False):
        if a.container and a.container not in (c["name"], c["id"]) and not c["id"].startswith(a.container):
            continue
        for line in logmod.read(g.engine, c["id"], tail=None if a.tail < 0 else a.tail, since=since):
            stream = err if line.stream == "stderr" else out
            prefix = f"{c['id'][:12]} " + (line.time + " " if a.timestamps else "")
            stream.write(prefix.encode() + line.text.encode() + (b"\n" if line.complete else b""))
    return 0


def _exists_args(p: Parser) -> None:
    p.add_argument("pod")


def do_exists(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import NotFound
    try:
        g.engine.pods.get(a.pod)
        return 0
    except NotFound:
        return 1


COMMANDS: dict[str, Command] = {
    "create": Command(do_create, _create_args, "Create a pod with an infra container holding its namespaces.",
                      short_help=True),
    "start": Command(do_start, _pods_arg, "Start pods (infra first)."),
    "stop": Command(do_stop, _stop_args, "Stop pods (containers, then infra)."),
    "restart": Command(do_restart, _stop_args, "Restart pods."),
    "kill": Command(do_kill, _kill_args, "Send a signal to the running containers of pods."),
    "rm": Command(do_rm, _rm_args, "Remove pods and their containers."),
    "ps": Command(do_ps, _ps_args, "List pods."),
    "inspect": Command(do_inspect, _inspect_args, "Show a pod's configuration and containers."),
    "top": Command(do_top, _top_args, "Show the processes of a pod's containers."),
    "logs": Command(do_logs, _logs_args, "Show the logs of a pod's containers."),
    "exists": Command(do_exists, _exists_args, "Exit 0 if the pod exists, 1 if not."),
}
