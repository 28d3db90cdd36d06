"""``podium compose``: Docker Compose's command line over podium.declare.compose.

Thin: the global options (``-f``, ``-p``, ``--project-directory``,
``--env-file``, ``--profile``) come before the subcommand, so ``compose`` is
one command of main.py that reads them itself and then dispatches to a
subcommand built with the usual ``Command``. Loading is
``podium.declare.compose.load_project``; running is ``podium.declare.compose.up``;
progress lines go to stderr as Docker Compose prints them, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from .command import Command, Parser, flag, multi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

USAGE = """Usage: podium compose [OPTIONS] COMMAND [ARGS]...

Options:
  -f, --file FILE            compose file (repeatable; - for stdin)
  -p, --project-name NAME    project name
  --project-directory DIR    project directory (default: the first file's directory)
  --env-file FILE            environment file (repeatable)
  --profile NAME             enable a profile (repeatable)

Commands:
  up       create and start the project's containers (attached; -d to detach)
  down     stop and remove containers and networks (-v: volumes too)
  ps       list the project's containers
  logs     show the containers' output
  config   print the normalized project as YAML (or --format json)
  start stop restart kill rm pause unpause   act on the project's containers
  exec     run a command in a service's container
  run      run a one-off command in a new container of a service
  top      the processes of the project's containers
  port     the host address a service's port is published on
  images   the images the project's containers use
  build    build the images of services with build:
  pull     pull the services' images
  ls       list the projects on this host
  version  show the compose version
"""


class ComposeOpts:
    def __init__(self) -> None:
        self.files: list[str] = []
        self.project_name: str | None = None
        self.project_dir: str | None = None
        self.env_files: list[str] = []
        self.profiles: list[str] | None = None
        self._project: Any = None

    def load(self, services: list[str] | None = None, *, required: bool = True, outline: bool = False) -> Any:
        """The project; with ``outline`` only its name, services and dependencies (no pydantic
        model: for the commands that act on existing containers)."""
        from podium.engine.errors import ConfigError
        try:
            if outline:
                from podium.declare.compose.load import load_outline
                project = load_outline(self.files or None, project_name=self.project_name,
                                       project_dir=self.project_dir, env_files=self.env_files or None,
                                       stdin=sys.stdin)
            else:
                from podium.declare.compose import load_project
                project = load_project(self.files or None, project_name=self.project_name,
                                       project_dir=self.project_dir, env_files=self.env_files or None,
                                       profiles=self.profiles, services=services or None, stdin=sys.stdin)
        except ConfigError:
            if required or self.files:
                raise
            return None
        for w in project.warnings:
            _warn(w)
        return project

    def name(self, project: Any) -> str:
        """The project name, from the loaded project or else -p / COMPOSE_PROJECT_NAME."""
        import os

        from podium.engine.errors import ConfigError
        if project is not None:
            return project.name
        name = self.project_name or os.environ.get("COMPOSE_PROJECT_NAME")
        if not name:
            raise ConfigError("no compose file found and no project name: use -f FILE or -p NAME")
        return name


def _warn(line: str) -> None:
    sys.stderr.write(f"Warning: {line}\n")
    sys.stderr.flush()


def _say(line: str) -> None:
    sys.stderr.write(f" ✔ {line}\n" if sys.stderr.isatty() else f"{line}\n")
    sys.stderr.flush()


class ComposeCommand:
    """The ``compose`` entry of main.py's COMMANDS: global options, then a subcommand."""

    def invoke(self, prog: str, argv: list[str], g: Any) -> int:
        from podium.engine.errors import ConfigError
        o = ComposeOpts()
        i = 0
        takes = {"-f": "files", "--file": "files", "-p": "project_name", "--project-name": "project_name",
                 "--project-directory": "project_dir", "--env-file": "env_files", "--profile": "profiles"}
        while i < len(argv) and argv[i].startswith("-"):
            opt, eq, val = argv[i].partition("=")
            if opt in ("-h", "--help"):
                sys.stdout.write(USAGE)
                return 0
            if opt not in takes:
                raise ConfigError(f"unknown flag: {opt} (podium compose)")
            if not eq:
                i += 1
                if i >= len(argv):
                    raise ConfigError(f"flag needs an argument: {opt}")
                val = argv[i]
            attr = takes[opt]
            if attr in ("files", "env_files"):
                getattr(o, attr).append(val)
            elif attr == "profiles":
                o.profiles = (o.profiles or []) + [p for p in val.split(",") if p]
            else:
                setattr(o, attr, val)
            i += 1
        if i >= len(argv):
            sys.stdout.write(USAGE)
            return 125
        sub, rest = argv[i], argv[i + 1:]
        cmd = SUBCOMMANDS.get(sub)
        if cmd is None:
            raise ConfigError(f"unknown compose command {sub!r}: run 'podium compose --help'")
        g.compose = o
        return cmd.invoke(f"{prog} {sub}", rest, g)


# ---- up / down ------------------------------------------------------------------------------

def _up_args(p: Parser) -> None:
    flag(p, "-d", "--detach", help="run in the background")
    flag(p, "--force-recreate", help="recreate containers even if their configuration is unchanged")
    flag(p, "--no-recreate", help="keep existing containers even if their configuration changed")
    flag(p, "--no-start", help="create the containers without starting them")
    flag(p, "--remove-orphans", help="remove containers of services no longer in the file")
    p.add_argument("--wait-timeout", type=float, default=300.0,
                   help="seconds to wait for a dependency's condition, and for --wait (default 300)")
    flag(p, "--wait", help="wait for services to be running and healthy (implies -d)")
    multi(p, "--scale", help="scale SERVICE to NUM replicas (SERVICE=NUM; overrides scale in the file)")
    flag(p, "--no-deps", help="do not start the services the named ones depend on")
    flag(p, "--build", help="build images before starting containers")
    flag(p, "--abort-on-container-exit", help="stop all containers if any container stops (attached)")
    p.add_argument("--exit-code-from", metavar="SERVICE",
                   help="return the exit code of this service's container (implies --abort-on-container-exit)")
    p.add_argument("-t", "--timeout", type=int, help="stop timeout when stopping after an exit or Ctrl-C")
    flag(p, "--no-color", help="monochrome output")
    flag(p, "--timestamps", help="show timestamps (attached)")
    flag(p, "--dry-run", help="print the plan, change nothing")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def _scale(values: list[str]) -> dict[str, int]:
    from podium.engine.errors import ConfigError
    out = {}
    for v in values:
        name, eq, num = v.partition("=")
        if not eq or not name or not num.isdigit():
            raise ConfigError(f"invalid --scale {v!r}: use SERVICE=NUM")
        out[name] = int(num)
    return out


def do_up(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod
    from podium.engine.errors import ConfigError
    detach = a.detach or a.wait
    if detach and (a.abort_on_container_exit or a.exit_code_from):
        raise ConfigError("--abort-on-container-exit and --exit-code-from cannot be combined with -d or --wait")
    project = g.compose.load(a.services)
    if a.exit_code_from and a.exit_code_from not in project.services:
        raise ConfigError(f"--exit-code-from {a.exit_code_from}: no such service")
    opts = upmod.UpOptions(
        services=list(a.services), force_recreate=a.force_recreate, no_recreate=a.no_recreate,
        no_start=a.no_start, remove_orphans=a.remove_orphans, wait_timeout=a.wait_timeout,
        dry_run=a.dry_run, no_deps=a.no_deps, scale=_scale(a.scale), wait=a.wait, build=a.build)
    if detach or a.dry_run or a.no_start:
        report = upmod.up(g.engine, project, opts, progress=None if a.dry_run else _say)
        for w in report.warnings:
            _warn(w)
        if a.dry_run:
            for act in report.actions:
                print(act.text())
        return 0
    return _up_attached(a, g, project, opts)


def _up_attached(a: argparse.Namespace, g: Any, project: Any, opts: Any) -> int:
    """Foreground ``up``: SIGTERM is a Ctrl-C; both stop the project gracefully."""
    import signal

    from podium.declare.compose import attached
    from podium.declare.compose import up as upmod

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
    marks = attached.log_marks(g.engine, project.name)
    try:
        report = upmod.up(g.engine, project, opts, progress=_say)
    except KeyboardInterrupt:
        _say("Gracefully stopping...")
        upmod.stop_containers(g.engine, project, upmod.observe(g.engine, project.name), timeout=a.timeout)
        return 130
    for w in report.warnings:
        _warn(w)
    wanted = list(a.services) or None  # Docker Compose attaches to the named services only
    return attached.follow(g.engine, project, project.name, wanted, out=sys.stdout.buffer, say=_say,
                           options=attached.AttachOptions(
                               abort_on_exit=a.abort_on_container_exit, exit_code_from=a.exit_code_from,
                               color=sys.stdout.isatty() and not a.no_color, timestamps=a.timestamps,
                               timeout=a.timeout), marks=marks)


def _down_args(p: Parser) -> None:
    flag(p, "-v", "--volumes", help="remove the project's named volumes and anonymous volumes too")
    flag(p, "--remove-orphans", help="remove containers of services no longer in the file")
    p.add_argument("-t", "--timeout", type=int, help="seconds to wait for a container to stop")


def do_down(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod
    project = g.compose.load(required=False, outline=True)
    report = upmod.down(g.engine, g.compose.name(project), project,
                        upmod.DownOptions(volumes=a.volumes, remove_orphans=a.remove_orphans, timeout=a.timeout),
                        progress=_say)
    for w in report.warnings:
        _warn(w)
    return 0


# ---- ps / ls / logs -------------------------------------------------------------------------

def _containers(g: Any, services: list[str] | None = None, *, all: bool = True) -> list[dict[str, Any]]:
    from podium.declare.compose import up as upmod
    from podium.engine.errors import ConfigError
    project = g.compose.load(required=False, outline=True)
    name = g.compose.name(project)
    if project is not None:
        for s in services or []:
            if s not in project.services:
                raise ConfigError(f"no such service: {s}")
    cs = upmod.observe(g.engine, name)
    if services:
        cs = [c for c in cs if upmod.service_of(c) in services]
    if not all:
        cs = [c for c in cs if c["state"]["status"] in ("running", "paused", "stopping")]
    return sorted(cs, key=lambda c: (upmod.service_of(c), upmod.number_of(c)))


def ps_entry(c: dict[str, Any]) -> dict[str, Any]:
    """One ``docker compose ps --format json`` object."""
    from podium.declare.compose import convert as cv
    from podium.engine.inspect import ps_entry as engine_entry
    e = engine_entry(c)
    labels = c["config"].get("labels") or {}
    return {
        "ID": c["id"], "Name": c["name"], "Names": c["name"], "Image": e["Image"],
        "Command": " ".join(e["Command"]), "Project": labels.get(cv.L_PROJECT, ""),
        "Service": labels.get(cv.L_SERVICE, ""), "Created": e["Created"], "RunningFor": e["RunningFor"],
        "State": e["State"], "Status": e["Status"],
        "Health": (c["state"].get("health") or {}).get("Status", "") if c["config"].get("healthcheck") else "",
        "ExitCode": e["ExitCode"], "Labels": labels,
        "Publishers": [{"URL": p["host_ip"] or "0.0.0.0", "TargetPort": p["container_port"],
                        "PublishedPort": p["host_port"], "Protocol": p["protocol"]} for p in e["Ports"] or []],
    }


def do_ps(a: argparse.Namespace, g: Any) -> int:
    from .format import table
    rows = [ps_entry(c) for c in _containers(g, a.services, all=a.all)]
    if a.quiet:
        for r in rows:
            print(r["ID"])
        return 0
    if a.format == "json":
        print(json.dumps(rows))
        return 0
    ports = {r["ID"]: ", ".join(f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
                                for p in r["Publishers"]) for r in rows}
    table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"],
          [[r["Name"], r["Image"], r["Command"] if len(r["Command"]) <= 20 else r["Command"][:17] + "...",
            r["Service"], r["RunningFor"], r["Status"], ports[r["ID"]]] for r in rows])
    return 0


def do_ps_dispatch(a: argparse.Namespace, g: Any) -> int:
    if getattr(a, "list_services", False):
        project = g.compose.load()
        for s in project.services:
            print(s)
        return 0
    return do_ps(a, g)


def _ls_args(p: Parser) -> None:
    flag(p, "-a", "--all", help="show stopped projects too")
    p.add_argument("--format", help="table (default) or json")
    flag(p, "-q", "--quiet", help="print only the project names")


def do_ls(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod

    from .format import table
    rows = upmod.projects(g.engine)
    if not a.all:
        rows = [r for r in rows if "running" in r["Status"]]
    if a.quiet:
        for r in rows:
            print(r["Name"])
    elif a.format == "json":
        print(json.dumps(rows))
    else:
        table(["NAME", "STATUS", "CONFIG FILES"], [[r["Name"], r["Status"], r["ConfigFiles"]] for r in rows])
    return 0


def _logs_args(p: Parser) -> None:
    flag(p, "-f", "--follow", help="follow the output")
    p.add_argument("--tail", default="all", help="number of lines from the end of each container's log")
    flag(p, "-t", "--timestamps", help="show timestamps")
    flag(p, "--no-log-prefix", help="do not prefix lines with the container name")
    flag(p, "--no-color", help="monochrome output")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def do_logs(a: argparse.Namespace, g: Any) -> int:
    import queue
    import threading

    from podium.engine import logs as logmod
    from podium.engine.engine import Engine
    from podium.engine.errors import ConfigError
    try:
        tail = None if a.tail == "all" else int(a.tail)
    except ValueError:
        raise ConfigError(f"invalid --tail {a.tail!r}: a number or all") from None
    from podium.declare.compose.attached import COLORS, prefix_of
    cs = _containers(g, a.services)
    names = {c["id"]: prefix_of(c) for c in cs}
    width = max((len(n) for n in names.values()), default=0)
    tty = sys.stdout.isatty() and not a.no_color

    def fmt(i: int, name: str, line: Any) -> bytes:
        prefix = ""
        if not a.no_log_prefix:
            prefix = f"{name:<{width}}  | "
            if tty:
                prefix = f"\x1b[{COLORS[i % len(COLORS)]}m{prefix}\x1b[0m"
        ts = line.time + " " if a.timestamps else ""
        return (prefix + ts + line.text + ("\n" if line.complete else "")).encode()

    out = sys.stdout.buffer
    if not a.follow:
        for i, c in enumerate(cs):
            for line in logmod.read(g.engine, c["id"], tail=tail):
                out.write(fmt(i, names[c["id"]], line))
        out.flush()
        return 0
    q: queue.Queue[bytes | None] = queue.Queue()
    eng = g.engine

    def pump(i: int, c: dict[str, Any]) -> None:
        own = Engine(root=str(eng.paths.root), runroot=str(eng.paths.runroot))  # one store per thread
        try:
            for line in logmod.read(own, c["id"], tail=tail, follow=True):
                q.put(fmt(i, names[c["id"]], line))
        except Exception:  # noqa: BLE001 - a vanished container ends its stream
            pass
        finally:
            own.close()
            q.put(None)

    for i, c in enumerate(cs):
        threading.Thread(target=pump, args=(i, c), daemon=True).start()
    left = len(cs)
    while left:
        item = q.get()
        if item is None:
            left -= 1
            continue
        out.write(item)
        out.flush()
    return 0


# ---- config ---------------------------------------------------------------------------------

def _config_args(p: Parser) -> None:
    p.add_argument("--format", default="yaml", choices=("yaml", "json"), help="yaml (default) or json")
    flag(p, "--services", help="print the service names")
    flag(p, "--volumes", help="print the volume names")
    flag(p, "--profiles", help="print the profile names")
    flag(p, "--hash", help=argparse.SUPPRESS)
    flag(p, "-q", "--quiet", help="only validate")


def do_config(a: argparse.Namespace, g: Any) -> int:
    project = g.compose.load()
    if a.quiet:
        return 0
    if a.services:
        print("\n".join(project.services))
        return 0
    if a.volumes:
        print("\n".join(project.volumes))
        return 0
    if a.profiles:
        print("\n".join(project.all_profiles))
        return 0
    data = project.model_dump(mode="json", exclude_defaults=True)
    for name, svc in project.services.items():  # conditions are worth printing even when default
        if svc.depends_on:
            data["services"][name]["depends_on"] = {k: d.model_dump(mode="json")
                                                    for k, d in svc.depends_on.items()}
    data.pop("working_dir", None)
    data.pop("config_files", None)
    if a.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    from ruamel.yaml import YAML
    y = YAML()
    y.default_flow_style = False
    y.dump(data, sys.stdout)
    return 0


# ---- start / stop / restart / rm / exec -----------------------------------------------------

def _svc_args(p: Parser) -> None:
    p.add_argument("services", nargs="*", metavar="SERVICE")


def _stop_args(p: Parser) -> None:
    p.add_argument("-t", "--timeout", type=int, help="seconds to wait before killing")
    _svc_args(p)


def _each(cs: list[dict[str, Any]], fn: Any, verb: str) -> int:
    from podium.engine.errors import PodiumError
    code = 0
    for c in cs:
        try:
            fn(c["id"])
            _say(f"Container {c['name']}  {verb}")
        except PodiumError as exc:
            sys.stderr.write(f"Error: {c['name']}: {exc}\n")
            code = 125
    return code


def do_start(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    return _each(_containers(g, a.services), lambda ref: lifecycle.start(g.engine, ref), "Started")


def do_stop(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    return _each(list(reversed(_containers(g, a.services))),
                 lambda ref: lifecycle.stop(g.engine, ref, timeout=a.timeout), "Stopped")


def do_restart(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    return _each(_containers(g, a.services), lambda ref: lifecycle.restart(g.engine, ref, timeout=a.timeout),
                 "Restarted")


def _rm_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="do not ask (podium never asks)")
    flag(p, "-s", "--stop", help="stop running containers first")
    flag(p, "-v", "--volumes", help="remove anonymous volumes too")
    _svc_args(p)


def do_rm(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    cs = _containers(g, a.services)
    if not a.stop:
        running = [c for c in cs if c["state"]["status"] in ("running", "paused", "stopping")]
        cs = [c for c in cs if c not in running]
    else:
        for c in cs:
            lifecycle.stop(g.engine, c["id"])
    if not cs:
        print("No stopped containers")
        return 0
    return _each(cs, lambda ref: g.engine.containers.remove(ref, force=True, volumes=a.volumes), "Removed")


def _exec_args(p: Parser) -> None:
    flag(p, "-d", "--detach", help="run in the background")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true",
                   help="no pseudo-terminal (by default there is one when STDIN is a terminal)")
    multi(p, "-e", "--env", help="set environment variables")
    p.add_argument("-w", "--workdir", help="working directory")
    p.add_argument("-u", "--user", help="user (name|uid[:group|gid])")
    p.add_argument("--index", type=int, default=1, help="which replica (default 1)")
    p.add_argument("service")
    p.add_argument("command", nargs=argparse.REMAINDER)


def do_exec(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod
    from podium.engine.errors import NotFound
    from podium.engine.exec import exec_in
    cs = [c for c in _containers(g, [a.service]) if upmod.number_of(c) == a.index]
    if not cs:
        raise NotFound(f"service {a.service!r} has no container number {a.index}: is the project up?")
    env = {}
    for e in a.env:
        k, _, v = e.partition("=")
        env[k] = v
    sys.stdout.flush()
    tty = sys.stdin.isatty() and not a.no_tty and not a.detach  # Docker Compose's default
    return exec_in(g.engine, cs[0]["id"], list(a.command), env=env, workdir=a.workdir, user=a.user,
                   interactive=not a.detach and (tty or not sys.stdin.isatty()), detach=a.detach, tty=tty)



# ---- run ------------------------------------------------------------------------------------

def _run_args(p: Parser) -> None:
    flag(p, "-d", "--detach", help="run in the background and print the container ID")
    flag(p, "--rm", help="remove the container when it exits")
    multi(p, "-e", "--env", help="set an environment variable (KEY=VALUE, or KEY from the environment)")
    multi(p, "-l", "--label", help="add a label (KEY=VALUE)")
    p.add_argument("--entrypoint", help="override the image's entrypoint (a command line)")
    p.add_argument("--name", help="container name (default <project>-<service>-run-<id>)")
    p.add_argument("-u", "--user", help="user (name|uid[:group|gid])")
    p.add_argument("-w", "--workdir", help="working directory")
    flag(p, "--no-deps", help="do not start the services this one depends on")
    flag(p, "--service-ports", help="publish the service's ports (they are left out by default)")
    flag(p, "--build", help="build the image first")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true",
                   help="no pseudo-terminal (by default there is one when STDIN is a terminal)")
    flag(p, "-i", "--interactive", help="keep STDIN open (the default)")
    p.add_argument("service")
    p.add_argument("command", nargs=argparse.REMAINDER)


def do_run(a: argparse.Namespace, g: Any) -> int:
    import os
    import shlex

    from podium.declare.compose import up as upmod
    from podium.engine.attach import run_attached
    from podium.engine.errors import ConfigError, PodiumError

    project = g.compose.load([a.service])
    if a.service not in project.services:
        raise ConfigError(f"no such service: {a.service}")
    env = {}
    for e in a.env:
        k, eq, v = e.partition("=")
        if not eq:
            if k not in os.environ:
                continue
            v = os.environ[k]
        env[k] = v
    labels = {}
    for lab in a.label:
        k, _, v = lab.partition("=")
        labels[k] = v
    entrypoint = shlex.split(a.entrypoint) if a.entrypoint is not None else None
    eng = g.engine
    c = upmod.run_container(eng, project, a.service, upmod.RunOptions(
        command=list(a.command) or None, entrypoint=entrypoint, env=env, labels=labels, name=a.name,
        user=a.user, workdir=a.workdir, no_deps=a.no_deps, service_ports=a.service_ports, remove=a.rm,
        interactive=not a.detach and (a.interactive or not sys.stdin.isatty() or not a.no_tty),
        tty=not a.detach and not a.no_tty and sys.stdin.isatty(), build=a.build),
        progress=_say)
    if a.detach:
        from podium.engine import lifecycle
        try:
            lifecycle.start(eng, c["id"])
        except PodiumError:
            if a.rm:
                eng.containers.remove(c["id"], force=True, volumes=True)
            raise
        print(c["id"])
        return 0
    sys.stdout.flush()
    try:
        return run_attached(eng, c, stdin_fd=0 if c["config"].get("interactive") else None)
    except PodiumError:
        if a.rm:
            try:
                eng.containers.remove(c["id"], force=True, volumes=True)
            except PodiumError:
                pass
        raise


# ---- kill / pause / unpause / top / port / images / version --------------------------------

def _kill_args(p: Parser) -> None:
    p.add_argument("-s", "--signal", default="SIGKILL", help="signal to send (default SIGKILL)")
    flag(p, "--remove-orphans", help=argparse.SUPPRESS)
    _svc_args(p)


def do_kill(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    from podium.engine.spec import parse_signal
    parse_signal(a.signal)
    cs = [c for c in _containers(g, a.services) if c["state"]["status"] in ("running", "paused", "stopping")]
    return _each(cs, lambda ref: lifecycle.kill(g.engine, ref, signal=a.signal), "Killed")


def do_pause(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    cs = [c for c in _containers(g, a.services) if c["state"]["status"] == "running"]
    return _each(cs, lambda ref: lifecycle.pause(g.engine, ref), "Paused")


def do_unpause(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    cs = [c for c in _containers(g, a.services) if c["state"]["status"] == "paused"]
    return _each(cs, lambda ref: lifecycle.unpause(g.engine, ref), "Unpaused")


def do_top(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import PodiumError
    from podium.engine.top import top

    from .format import table
    code = 0
    cs = [c for c in _containers(g, a.services) if c["state"]["status"] in ("running", "paused")]
    for i, c in enumerate(cs):
        try:
            headers, rows = top(g.engine, c["id"], [])
        except PodiumError as exc:
            sys.stderr.write(f"Error: {c['name']}: {exc}\n")
            code = 125
            continue
        if i:
            print()
        print(c["name"])
        sys.stdout.flush()
        table(headers, rows)
    return code


def _port_args(p: Parser) -> None:
    p.add_argument("--protocol", default="tcp", choices=("tcp", "udp", "sctp"), help="tcp (default), udp or sctp")
    p.add_argument("--index", type=int, default=1, help="which replica (default 1)")
    p.add_argument("service")
    p.add_argument("private_port", type=int, metavar="PRIVATE_PORT")


def do_port(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod
    from podium.engine.errors import NotFound
    cs = [c for c in _containers(g, [a.service]) if upmod.number_of(c) == a.index]
    if not cs:
        raise NotFound(f"service {a.service!r} has no container number {a.index}: is the project up?")
    for p in cs[0]["config"].get("ports") or []:
        if p["container_port"] == a.private_port and p.get("protocol", "tcp") == a.protocol:
            print(f"{p.get('host_ip') or '0.0.0.0'}:{p['host_port']}")
            return 0
    raise NotFound(f"no port {a.private_port}/{a.protocol} published for service {a.service!r}")


def _images_args(p: Parser) -> None:
    p.add_argument("--format", help="table (default) or json")
    flag(p, "-q", "--quiet", help="print only the image IDs")
    _svc_args(p)


def do_images(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import NotFound
    from podium.engine.timeutil import human_duration, parse_iso

    from .format import table
    rows = []
    for c in _containers(g, a.services):
        image_id = c.get("image_id") or ""
        try:
            img = g.engine.images.inspect(image_id)
        except NotFound:
            img = {}
        ref = (c["config"].get("labels") or {}).get("com.docker.compose.image") or c["config"].get("image", "")
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        rows.append({"ContainerName": c["name"], "Repository": repo, "Tag": tag, "ID": image_id,
                     "Size": int(img.get("Size") or 0), "Created": img.get("Created", "")})
    if a.quiet:
        for r in dict.fromkeys(r["ID"] for r in rows):
            print(r)
    elif a.format == "json":
        print(json.dumps(rows))
    else:
        import time
        table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE", "CREATED"],
              [[r["ContainerName"], r["Repository"], r["Tag"], r["ID"][:12], _size(r["Size"]),
                (human_duration(time.time() - parse_iso(r["Created"])) + " ago") if r["Created"] else ""]
               for r in rows])
    return 0


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n /= 1000  # type: ignore[assignment]
    return f"{n}B"


def _version_args(p: Parser) -> None:
    p.add_argument("-f", "--format", default="pretty", choices=("pretty", "json"), help="pretty or json")
    flag(p, "--short", help="only the version number")


def do_version(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose.convert import COMPOSE_VERSION
    if a.short:
        print(COMPOSE_VERSION)
    elif a.format == "json":
        print(json.dumps({"version": COMPOSE_VERSION}))
    else:
        print(f"podium compose version {COMPOSE_VERSION}")
    return 0


# ---- build / pull ---------------------------------------------------------------------------

def _build_args(p: Parser) -> None:
    flag(p, "--no-cache", help="do not use the build cache")
    multi(p, "--build-arg", help="set a build-time variable (KEY=VALUE)")
    flag(p, "-q", "--quiet", help="print nothing but errors")
    _svc_args(p)


def do_build(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod
    from podium.engine.errors import ConfigError
    project = upmod.with_overrides(g.compose.load(a.services), upmod.UpOptions())
    names = list(a.services) or [n for n, s in project.services.items() if s.build is not None]
    for n in names:
        if n not in project.services:
            raise ConfigError(f"no such service: {n}")
    if a.build_arg:
        extra = {}
        for v in a.build_arg:
            k, eq, val = v.partition("=")
            if not eq:
                import os
                if k not in os.environ:
                    continue
                val = os.environ[k]
            extra[k] = val
        services = dict(project.services)
        for n in names:
            b = services[n].build
            if b is not None:
                services[n] = services[n].model_copy(update={"build": b.model_copy(update={"args": {**b.args, **extra}})})
        project = project.model_copy(update={"services": services})
    upmod.build_images(g.engine, project, names, always=True, no_cache=a.no_cache,
                       say=None if a.quiet else _say)
    return 0


def _pull_args(p: Parser) -> None:
    flag(p, "-q", "--quiet", help="print nothing but errors")
    flag(p, "--ignore-pull-failures", help="pull what can be pulled and report the rest")
    flag(p, "--ignore-buildable", help="skip images of services with build:")
    _svc_args(p)


def do_pull(a: argparse.Namespace, g: Any) -> int:
    from podium.declare.compose import up as upmod
    from podium.engine.errors import NotFound, PodiumError
    project = g.compose.load(a.services)
    pull = upmod.registry_pull()
    code = 0
    for n in a.services:
        if n not in project.services:
            from podium.engine.errors import ConfigError
            raise ConfigError(f"no such service: {n}")
    for name in a.services or list(project.services):
        svc = project.services[name]
        if svc.image is None or (a.ignore_buildable and svc.build is not None):
            continue
        try:
            if pull is not None and svc.image.startswith("localhost/"):
                g.engine.images.resolve(svc.image)  # local by name: never sent to a registry
                if not a.quiet:
                    _say(f"Image {svc.image}  Skipped (a local image)")
                continue
            if pull is not None:
                if not a.quiet:
                    _say(f"Image {svc.image}  Pulling")
                pull(g.engine, svc.image)
                if not a.quiet:
                    _say(f"Image {svc.image}  Pulled")
                continue
            try:
                g.engine.images.resolve(svc.image)
            except NotFound:
                raise NotFound(f"service {name!r}: image {svc.image} is not present and this podium "
                               "cannot pull: load or import it first (podium load / podium import)") from None
            if not a.quiet:
                _say(f"Image {svc.image}  Present (podium cannot pull yet)")
        except PodiumError as exc:
            if svc.build is not None:
                _warn(f"service {name!r}: {exc} (it has build:, run 'podium compose build')")
                continue
            sys.stderr.write(f"Error: {exc}\n")
            code = exc.exit_code if not a.ignore_pull_failures else code
    return code


def _ps_full(p: Parser) -> None:
    flag(p, "-a", "--all", help="show stopped containers too")
    flag(p, "-q", "--quiet", help="print only the IDs")
    p.add_argument("--services", dest="list_services", action="store_true", help="print only the service names")
    p.add_argument("--format", help="table (default) or json")
    p.add_argument("services", nargs="*", metavar="SERVICE")


SUBCOMMANDS: dict[str, Command] = {
    "up": Command(do_up, _up_args, "Create and start the project's containers."),
    "down": Command(do_down, _down_args, "Stop and remove the project's containers and networks."),
    "ps": Command(do_ps_dispatch, _ps_full, "List the project's containers."),
    "ls": Command(do_ls, _ls_args, "List compose projects."),
    "logs": Command(do_logs, _logs_args, "Show the output of the project's containers."),
    "config": Command(do_config, _config_args, "Print the normalized project."),
    "start": Command(do_start, _svc_args, "Start the project's containers."),
    "stop": Command(do_stop, _stop_args, "Stop the project's containers."),
    "restart": Command(do_restart, _stop_args, "Restart the project's containers."),
    "rm": Command(do_rm, _rm_args, "Remove stopped containers of the project."),
    "exec": Command(do_exec, _exec_args, "Run a command in a service's container."),
    "run": Command(do_run, _run_args, "Run a one-off command in a new container of a service."),
    "kill": Command(do_kill, _kill_args, "Send a signal to the project's containers."),
    "pause": Command(do_pause, _svc_args, "Pause the project's running containers."),
    "unpause": Command(do_unpause, _svc_args, "Unpause the project's paused containers."),
    "top": Command(do_top, _svc_args, "Show the processes of the project's containers."),
    "port": Command(do_port, _port_args, "Print the host address a service's port is published on."),
    "images": Command(do_images, _images_args, "List the images the project's containers use."),
    "build": Command(do_build, _build_args, "Build the images of services with build:."),
    "pull": Command(do_pull, _pull_args, "Pull the services' images."),
    "version": Command(do_version, _version_args, "Show the compose version."),
}

COMMANDS: dict[str, Any] = {"compose": ComposeCommand()}
