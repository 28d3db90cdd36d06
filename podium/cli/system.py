"""version and info."""

from __future__ import annotations

import argparse
import json
import platform

from .command import Command, Parser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _fmt_args(p: Parser) -> None:
    p.add_argument("-f", "--format", help="json")


def do_version(a: argparse.Namespace, g: Any) -> int:
    from .main import VERSION
    info = {"Version": VERSION, "APIVersion": "1.41", "OsArch": f"linux/{platform.machine()}",
            "PythonVersion": platform.python_version()}
    if a.format == "json":
        print(json.dumps({"Client": info}, indent=4))
    else:
        for k, v in info.items():
            print(f"{k + ':':<15}{v}")
    return 0


def do_info(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.runtime.oci import cgroup_v2_unified
    from .main import VERSION
    eng = g.engine
    ctrs = eng.containers.list()
    data = {
        "host": {"arch": platform.machine(), "kernel": platform.release(),
                 "cgroupVersion": "v2" if cgroup_v2_unified() else "v1",
                 "ociRuntime": {"path": eng.runtime.path, "name": eng.runtime.name}},
        "store": {"graphRoot": str(eng.paths.root), "runRoot": str(eng.paths.runroot),
                  "containerStore": {"number": len(ctrs),
                                     "running": sum(c["state"]["status"] == "running" for c in ctrs)},
                  "imageStore": {"number": len(eng.store.images())}},
        "version": {"Version": VERSION},
    }
    print(json.dumps(data, indent=4))
    return 0


def _service_args(p: Parser) -> None:
    p.add_argument("-t", "--time", default="5",
                   help="seconds without a connection before the service exits; 0 serves until stopped (default 5)")
    p.add_argument("uri", nargs="?",
                   help="unix:///path/to.sock (default /run/podium/podium.sock as root) or tcp://127.0.0.1:PORT")


def default_socket() -> str:
    import os
    if os.geteuid() == 0:
        return "unix:///run/podium/podium.sock"
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix://{base}/podium/podium.sock"


def do_service(a: argparse.Namespace, g: Any) -> int:
    """The REST API (Docker-compatible and libpod-style) on a socket, until idle or stopped."""
    from podium.engine.errors import ConfigError
    from podium.api.server import serve
    try:
        idle = float(a.time)
    except ValueError:
        raise ConfigError(f"invalid --time {a.time!r}: expected seconds (0 for no limit)") from None
    if idle < 0:
        raise ConfigError(f"invalid --time {a.time!r}: must not be negative")
    return serve(a.uri or default_socket(), root=g.root, runroot=g.runroot, runtime=g.runtime,
                 idle_timeout=idle)


COMMANDS: dict[str, Command] = {
    "service": Command(do_service, _service_args, "Serve the REST API (Docker's and libpod's endpoints) on a socket."),
    "version": Command(do_version, _fmt_args, "Show podium's version."),
    "info": Command(do_info, _fmt_args, "Show the storage root, runtime and counts."),
}
