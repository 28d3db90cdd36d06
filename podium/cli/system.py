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


COMMANDS: dict[str, Command] = {
    "version": Command(do_version, _fmt_args, "Show podium's version."),
    "info": Command(do_info, _fmt_args, "Show the storage root, runtime and counts."),
}
