"""``podium events``: the engine's event log, printed the way ``podman events`` prints it."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from .command import Command, Parser, flag, multi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _args(p: Parser) -> None:
    multi(p, "-f", "--filter", help="container=, event=, image=, label=, network=, volume=, pod=, type=")
    p.add_argument("--since", help="show events since this time (Unix seconds, RFC 3339, or a duration like 10m)")
    p.add_argument("--until", help="show events until this time")
    p.add_argument("--format", help="json (one object per line), or a Go template such as '{{.Status}} {{.Name}}'")
    p.add_argument("--stream", default="true", choices=("true", "false"),
                   help="keep following new events (default true; false prints the past and exits)")
    flag(p, "--no-trunc", help="do not truncate IDs (podium never does)")


def podman_shape(e: dict[str, Any]) -> dict[str, Any]:
    """Podman's JSON for one event (``podman events --format json``)."""
    from podium.engine.events import PODMAN_WORDS
    attrs = dict(e["Actor"]["Attributes"])
    ns = e["timeNano"]
    return {"ID": e["Actor"]["ID"], "Image": attrs.pop("image", ""), "Name": attrs.pop("name", ""),
            "Status": PODMAN_WORDS.get(e["Action"], e["Action"]), "Time": _stamp(ns),
            "timeNano": ns, "Type": e["Type"], "Attributes": attrs}


def _stamp(ns: int) -> str:
    sec = ns // 1_000_000_000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec)) + f".{ns % 1_000_000_000:09d} +0000 UTC"


def _line(p: dict[str, Any]) -> str:
    attrs = ({"image": p["Image"]} if p["Image"] else {}) | ({"name": p["Name"]} if p["Name"] else {}) | p["Attributes"]
    inner = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return f"{p['Time']} {p['Type']} {p['Status']} {p['ID']}" + (f" ({inner})" if inner else "")


def do_events(a: argparse.Namespace, g: Any) -> int:
    from .format import render

    ev = g.engine.events
    stream = a.stream == "true" and a.until is None
    if stream:  # Ctrl-C or SIGTERM ends the stream quietly, as podman events does
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        source = ev.follow(since=a.since, filters=a.filter)
    else:
        source = iter(ev.list(since=a.since, until=a.until, filters=a.filter))
    try:
        for e in source:
            p = podman_shape(e)
            if a.format == "json":
                sys.stdout.write(json.dumps(p) + "\n")
            elif a.format:
                sys.stdout.write(render(a.format, p) + "\n")
            else:
                sys.stdout.write(_line(p) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        pass
    return 0


COMMANDS: dict[str, Command] = {
    "events": Command(do_events, _args, "Show the engine's events (create, start, die, remove, ...)."),
}
