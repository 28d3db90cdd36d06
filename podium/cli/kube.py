"""Kubernetes YAML commands: ``play kube`` (alias ``kube play``) and ``kube down``.

Thin: load (podium.declare.kube.loader), convert to a plan, play it or take it
down (podium.declare.kube.play), print the report as Podman does or as JSON.
Warnings (unknown kinds, unsupported fields) go to stderr, one line each.
"""

from __future__ import annotations

import argparse
import json
import sys

from .command import Command, Parser, flag, multi, parse_bool as _bool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _play_args(p: Parser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE", help="Kubernetes YAML files or directories, - for stdin")
    flag(p, "--down", help="remove the pods (and their volumes) the files declare, instead of playing them")
    flag(p, "--replace", help="remove what an earlier play of the files made, then play")
    p.add_argument("--start", nargs="?", const="true", default="true", metavar="BOOL",
                   help="start the pods (default true; --start=false only creates them)")
    multi(p, "--configmap", help="YAML files with ConfigMaps and Secrets for the pods (repeat or comma-separate)")
    flag(p, "-q", "--quiet", help="print nothing but errors and warnings")
    p.add_argument("--format", help="json: print the report as JSON")
    p.add_argument("--validate", default="warn", choices=("ignore", "warn", "strict"),
                   help="unknown kinds and unsupported fields: ignore, warn (default) or refuse (strict)")
    p.add_argument("--network", "--net", dest="network",
                   help="network for the pods (default: the podium bridge; none, host, NAME[,NAME])")
    multi(p, "--publish", help="publish a port on every pod: [IP:]HOST:CTR[/tcp|udp]")
    p.add_argument("--ip", dest="host_ip", help=argparse.SUPPRESS)
    flag(p, "--force", help="with --down: remove PersistentVolumeClaim volumes too")
    p.add_argument("-w", "--wait", nargs="?", const="true", default="false", metavar="BOOL",
                   help="stay in the foreground until the pods' containers exit (or ctrl+c, or --timeout), "
                        "then remove everything the play made")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="with --wait: clean up after this many seconds even if the pods still run")
    p.add_argument("--build", nargs="?", const="true", default=None, metavar="BOOL",
                   help="build images from directories named after them next to the YAML (Containerfile); "
                        "default: only images that are not in local storage; --build=false never")


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
    from podium.engine.errors import ConfigError
    _optional_bools(a, ("start", "wait", "build"))
    if not a.files:
        raise ConfigError("play kube needs at least one FILE (or - for stdin)")
    start = _bool(a.start)
    wait = _bool(a.wait)
    if a.timeout is not None and (not wait or a.timeout <= 0):
        raise ConfigError("--timeout needs --wait and a number of seconds greater than 0")
    if wait and (not start or a.down):
        raise ConfigError("--wait cannot be combined with --start=false or --down")
    if a.down:
        from podium.declare.kube.loader import load_names
        return _print_down(play.down(g.engine, load_names(a.files), force=a.force), a)
    loaded = _load(a)
    if wait:
        _signals_interrupt()
    build = "missing" if a.build is None else ("always" if _bool(a.build) else "never")
    play.build_images(g.engine, loaded, mode=build,
                      progress=None if a.quiet else (lambda line: sys.stderr.write(line.rstrip("\n") + "\n")))
    plan = convert.build(loaded, g.engine, convert.Options(network=a.network, publish=a.publish,
                                                           host_ip=a.host_ip))
    _warn(plan.warnings)
    source = " ".join(a.files)
    try:
        report = play.play(g.engine, plan, start=start, replace=a.replace, loaded=loaded, source=source)
    except KeyboardInterrupt:
        return 130  # play undid what it had made
    _print_play(report, a)
    if wait:
        return _wait(g.engine, loaded, report, a)
    return 0


BOOL_WORDS = ("true", "false", "1", "0", "yes", "no")


def _optional_bools(a: argparse.Namespace, names: tuple[str, ...]) -> None:
    """``--wait FILE``: argparse hands FILE to the flag's optional value; give it back to the files."""
    taken = []
    for name in names:
        value = getattr(a, name)
        if value is not None and value.strip().lower() not in BOOL_WORDS:
            taken.append(value)
            setattr(a, name, "true")
    a.files[:0] = taken


def _signals_interrupt() -> None:
    """SIGTERM (and SIGHUP) end a --wait the way ctrl+c does: by cleaning up."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def _wait(engine: Any, loaded: Any, report: dict[str, Any], a: argparse.Namespace) -> int:
    """Podman's --wait: until the pods' containers exit (or a signal, or --timeout), then clean up."""
    import time

    from podium.declare.kube import play
    from podium.declare.kube.wait import Watch
    from podium.engine.errors import PodiumError

    say = (lambda text: None) if a.quiet or a.format == "json" else \
        (lambda text: (sys.stdout.write(text + "\n"), sys.stdout.flush()))
    say("Use ctrl+c to clean up or wait for pods to exit")
    watch = Watch(engine, [p["Name"] for p in report["Pods"]])
    deadline = None if a.timeout is None else time.monotonic() + a.timeout
    timed_out = interrupted = False
    try:
        while True:
            for pod in watch.newly_ready():
                say(f"Pod {pod} is ready")
            if watch.over():
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        interrupted = True
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the clean-up runs to its end
    say(("\n" if interrupted else "") + "Cleaning up containers, pods, and volumes...")
    down = play.down(engine, loaded, force=True)
    if not (a.quiet or a.format == "json"):
        _print_down(down, a)
    if timed_out:
        raise PodiumError(f"the pods were still running after --timeout {a.timeout:g}s: they were stopped "
                          "and removed")
    return 0


def _print_play(report: dict[str, Any], a: argparse.Namespace) -> None:
    if a.quiet:
        return
    if a.format == "json":
        print(json.dumps(report, indent=4))
        sys.stdout.flush()
        return
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
    sys.stdout.flush()


def _down_args(p: Parser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="the Kubernetes YAML that was played, - for stdin")
    flag(p, "--force", help="remove PersistentVolumeClaim volumes too")
    p.add_argument("--format", help="json: print the report as JSON")
    flag(p, "-q", "--quiet", help="print nothing but errors")
    p.add_argument("--validate", default="ignore", choices=("ignore", "warn", "strict"), help=argparse.SUPPRESS)
    multi(p, "--configmap", help=argparse.SUPPRESS)


def do_down(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.kube import play
    from podium.declare.kube.loader import load_names
    return _print_down(play.down(g.engine, load_names(a.files), force=a.force), a)


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
    p.add_argument("-t", "--type", dest="kind", default="pod", choices=("pod", "deployment"),
                   help="the kind written for each pod: pod (default) or deployment")
    p.add_argument("-r", "--replicas", type=int, default=1,
                   help="with --type deployment: the replicas the Deployment asks for (default 1)")


def do_generate(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.kube.generate import generate
    from podium.engine.errors import ConfigError
    if a.replicas < 0:
        raise ConfigError(f"invalid --replicas {a.replicas}: must not be negative")
    if a.replicas != 1 and a.kind != "deployment":
        raise ConfigError("--replicas needs --type deployment")
    text = generate(g.engine, a.names, service=a.service, kind=a.kind, replicas=a.replicas)
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
