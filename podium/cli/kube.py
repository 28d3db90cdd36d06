"""Kubernetes YAML commands: ``play kube`` (alias ``kube play``) and ``kube down``.

Thin: load (podium.declare.kube.loader), convert to a plan, play it or take it
down (podium.declare.kube.play), print the report as Podman does or as JSON.
Warnings (unknown kinds, unsupported fields) go to stderr, one line each.
"""

from __future__ import annotations

import argparse
import json
import sys

from .command import Command, Parser, flag, multi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _bool(value: str) -> bool:
    from podium.engine.errors import ConfigError
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ConfigError(f"invalid boolean {value!r}: use true or false")


def _play_args(p: Parser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="Kubernetes YAML files or directories, - for stdin")
    flag(p, "--down", help="remove the pods (and their volumes) the files declare, instead of playing them")
    flag(p, "--replace", help="remove what an earlier play of the files made, then play")
    p.add_argument("--start", nargs="?", const="true", default="true", metavar="BOOL",
                   help="start the pods (default true; --start=false only creates them)")
    multi(p, "--configmap", help="YAML files with ConfigMaps and Secrets for the pods (repeat or comma-separate)")
    flag(p, "-q", "--quiet", help="print nothing but errors and warnings")
    p.add_argument("--format", help="json: print the report as JSON")
    p.add_argument("--validate", default="warn", choices=("ignore", "warn", "strict"),
                   help="unknown kinds and unsupported fields: ignore, warn (default) or refuse (strict)")
    p.add_argument("--network", "--net", dest="network", help="network mode for the pods (default none)")
    multi(p, "--publish", help="publish a port on every pod: [IP:]HOST:CTR[/tcp|udp]")
    p.add_argument("--ip", dest="host_ip", help=argparse.SUPPRESS)
    flag(p, "--force", help="with --down: remove PersistentVolumeClaim volumes too")


def _load(a: argparse.Namespace) -> Any:
    from podium.declare.kube.loader import load
    configmaps = [c for v in a.configmap for c in v.split(",") if c]
    loaded = load(a.files, validate=a.validate, configmaps=configmaps)
    _warn(loaded.warnings)
    return loaded


def _warn(lines: list[str]) -> None:
    for w in lines:
        sys.stderr.write(f"Warning: {w}\n")
    sys.stderr.flush()


def do_play(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.kube import convert, play
    start = _bool(a.start)
    loaded = _load(a)
    if a.down:
        return _print_down(play.down(g.engine, loaded, force=a.force), a)
    plan = convert.build(loaded, g.engine, convert.Options(network=a.network, publish=a.publish,
                                                           host_ip=a.host_ip))
    _warn(plan.warnings)
    source = " ".join(a.files)
    report = play.play(g.engine, plan, start=start, replace=a.replace, loaded=loaded, source=source)
    if a.quiet:
        return 0
    if a.format == "json":
        print(json.dumps(report, indent=4))
        return 0
    out = []
    for pod in report["Pods"]:
        out.append("Pod:\n" + pod["ID"])
        out.append("Containers:\n" + "\n".join(pod["Containers"]))
        if pod["InitContainers"]:
            out.append("Init Containers:\n" + "\n".join(pod["InitContainers"]))
        out.append("")
    if report["Volumes"]:
        out.append("Volumes:\n" + "\n".join(v["Name"] for v in report["Volumes"]) + "\n")
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


def _down_args(p: Parser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="the Kubernetes YAML that was played, - for stdin")
    flag(p, "--force", help="remove PersistentVolumeClaim volumes too")
    p.add_argument("--format", help="json: print the report as JSON")
    flag(p, "-q", "--quiet", help="print nothing but errors")
    p.add_argument("--validate", default="ignore", choices=("ignore", "warn", "strict"), help=argparse.SUPPRESS)
    multi(p, "--configmap", help=argparse.SUPPRESS)


def do_down(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.kube import play
    loaded = _load(a)
    return _print_down(play.down(g.engine, loaded, force=a.force), a)


def _print_down(report: dict[str, Any], a: argparse.Namespace) -> int:
    if a.quiet:
        return 0
    if a.format == "json":
        print(json.dumps(report, indent=4))
        return 0
    if report["StopReport"]:
        print("Pods stopped:\n" + "\n".join(report["StopReport"]))
    if report["RmReport"]:
        print("Pods removed:\n" + "\n".join(report["RmReport"]))
    if report["VolumeRmReport"]:
        print("Volumes removed:\n" + "\n".join(report["VolumeRmReport"]))
    return 0


COMMANDS: dict[str, Command] = {
    "play": Command(do_play, _play_args, "Create pods, containers and volumes from Kubernetes YAML and start them."),
    "down": Command(do_down, _down_args, "Remove the pods and volumes that Kubernetes YAML declares."),
}


def _generate_args(p: Parser) -> None:
    p.add_argument("names", nargs="+", metavar="NAME", help="pods or containers")
    flag(p, "-s", "--service", help="also write a Service for the published ports")
    p.add_argument("-f", "--filename", help="write the YAML to this file instead of stdout")


def do_generate(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.kube.generate import generate
    text = generate(g.engine, a.names, service=a.service)
    if a.filename:
        import os
        tmp = f"{a.filename}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.filename)
    else:
        sys.stdout.write(text)
    return 0


COMMANDS["generate"] = Command(do_generate, _generate_args,
                               "Write Kubernetes YAML for pods and containers, as they run.")
