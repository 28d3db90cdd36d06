"""The ``podium`` command: global options, lazy command loading, one error translation.

Start-up time is a feature here (``podium ps`` should answer as fast as
``podman ps``), so the front door uses the standard library's argparse and
builds only the parser of the command being run: global options are read
first, then the command's module is imported and its parser made. Every
PodiumError becomes one line on stderr and its class's exit code (Podman's
125, 126, 127); usage errors exit 125 as Podman's do.
"""

from __future__ import annotations

import importlib
import os
import sys

# command -> module under podium.cli; groups map their subcommands the same way
COMMANDS: dict[str, str] = {
    "run": "containers", "create": "containers", "start": "containers", "stop": "containers",
    "kill": "containers", "restart": "containers", "rm": "containers", "ps": "containers",
    "logs": "containers", "exec": "containers", "wait": "containers", "inspect": "containers",
    "port": "containers", "top": "containers", "cp": "containers", "rename": "containers",
    "images": "images", "import": "images", "load": "images", "save": "images",
    "rmi": "images", "tag": "images", "untag": "images",
    "pause": "containers", "unpause": "containers",
    "version": "system", "info": "system", "events": "events",
    "pull": "registry", "push": "registry", "login": "registry", "logout": "registry",
    "search": "registry", "build": "build",
    "apply": "apply", "diff": "apply", "stacks": "apply", "delete": "apply",
    "compose": "compose",
}
GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "container": ("containers", {"list": "ps", "ls": "ps", "cleanup": "cleanup"}),
    "image": ("images", {"list": "images", "ls": "images", "rm": "rmi", "inspect": "image-inspect",
                         "build": "build:build", "pull": "registry:pull", "push": "registry:push"}),
    "network": ("networks", {"list": "ls", "remove": "rm"}),
    "volume": ("volumes", {"list": "ls", "remove": "rm"}),
    "pod": ("pods", {"list": "ps", "ls": "ps", "remove": "rm"}),
    "healthcheck": ("healthchecks", {}),
    "kube": ("kube", {}),
    "play": ("kube", {"kube": "play"}),
    "generate": ("kube", {"kube": "generate"}),
    "system": ("system", {}),
}
GLOBAL_OPTS = ("--root", "--runroot", "--runtime", "--log-level")
VERSION = "0.1.0"

USAGE = """Usage: podium [--root DIR] [--runroot DIR] [--runtime RUNTIME] COMMAND [ARGS]...

  podium: a daemonless, declarative container tool.

Options:
  --root DIR        storage root (default /var/lib/podium; env PODIUM_ROOT)
  --runroot DIR     run root (default /run/podium; env PODIUM_RUNROOT)
  --runtime NAME    OCI runtime: runc, crun or a path (env PODIUM_RUNTIME)
  --version         show the version
  -h, --help        show this help

Commands:
  container  manage containers (container ls, container rm, ...)
  image      manage images (image ls, image rm, image inspect, ...)
  network    manage networks (network create, ls, inspect, rm, prune, connect, disconnect)
  volume     manage volumes (volume create, ls, inspect, rm, prune)
  pod        manage pods (pod create, start, stop, rm, ps, inspect, top, logs)
  healthcheck  run a container's health check (healthcheck run)
  compose    run compose projects (compose up, down, ps, logs, config, ...)
  apply diff stacks delete   converge the host on a directory of kube and compose files
  system     system service (the REST API), info
  run create start stop kill restart rm ps logs exec wait inspect port top cp rename pause unpause
  images import load save rmi tag untag pull push login logout build
  version info events

Run 'podium COMMAND --help' for a command's options.
"""


class Globals:
    """Global options, and the engine made from them on first use."""

    def __init__(self) -> None:
        self.root = os.environ.get("PODIUM_ROOT")
        self.runroot = os.environ.get("PODIUM_RUNROOT")
        self.runtime = os.environ.get("PODIUM_RUNTIME")
        self._engine = None

    @property
    def engine(self):  # noqa: ANN201 - podium.engine.engine.Engine, imported lazily
        if self._engine is None:
            from podium.engine.engine import Engine
            self._engine = Engine(root=self.root, runroot=self.runroot, runtime=self.runtime)
        return self._engine


def dispatch(argv: list[str]) -> int:
    from podium.engine.errors import ConfigError

    g = Globals()
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        opt, eq, val = argv[i].partition("=")
        if opt in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if opt in ("-v", "--version"):
            sys.stdout.write(f"podium version {VERSION}\n")
            return 0
        if opt not in GLOBAL_OPTS:
            raise ConfigError(f"unknown flag: {opt}")
        if not eq:
            i += 1
            if i >= len(argv):
                raise ConfigError(f"flag needs an argument: {opt}")
            val = argv[i]
        if opt != "--log-level":
            setattr(g, opt[2:], val)
        i += 1
    if i >= len(argv):
        sys.stdout.write(USAGE)
        return 125
    name, rest = argv[i], argv[i + 1:]
    prog = f"podium {name}"
    if name in GROUPS:
        module, aliases = GROUPS[name]
        if not rest or rest[0] in ("-h", "--help"):
            mod = importlib.import_module(f"podium.cli.{module}")
            subs = sorted(set(getattr(mod, "COMMANDS")) | set(aliases))
            sys.stdout.write(f"Usage: podium {name} COMMAND [ARGS]...\n\nCommands:\n  "
                             + "\n  ".join(s for s in subs if s != "cleanup") + "\n")
            return 0 if rest else 125
        prog = f"podium {name} {rest[0]}"
        name, rest = aliases.get(rest[0], rest[0]), rest[1:]
        if ":" in name:  # a group member that lives in another command's module
            module, name = name.split(":", 1)
    elif name in COMMANDS:
        module = COMMANDS[name]
    else:
        raise ConfigError(f"unrecognized command `podium {name}`: run 'podium --help' for the commands")
    mod = importlib.import_module(f"podium.cli.{module}")
    cmd = getattr(mod, "COMMANDS").get(name)
    if cmd is None:
        raise ConfigError(f"unrecognized command `{prog}`")
    return cmd.invoke(prog, rest, g)


def main(argv: list[str] | None = None) -> None:
    from podium.engine.errors import PodiumError

    try:
        code = dispatch(sys.argv[1:] if argv is None else argv)
    except PodiumError as exc:
        sys.stdout.flush()
        sys.stderr.write("Error: " + " ".join(str(exc).split()) + "\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except FileNotFoundError as exc:
        if os.environ.get("PODIUM_DEBUG"):
            raise
        sys.stdout.flush()
        missing = exc.filename or str(exc)
        sys.stderr.write(f"Error: {missing}: not found (is the package that provides it installed?)\n")
        code = 125
    except Exception as exc:  # noqa: BLE001 - the last guard: one line, never a traceback
        if os.environ.get("PODIUM_DEBUG"):
            raise
        sys.stdout.flush()
        sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
                         "(run with PODIUM_DEBUG=1 for a traceback)\n")
        code = 125
    except BrokenPipeError:
        code = 0
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
    sys.exit(code)
