"""Volume commands: volume create, ls, inspect, rm, prune, exists — Podman's names, flags and output.

Exit codes follow podman-volume-rm(1): 1 when a volume does not exist, 2 when
one is in use, 125 for anything else; ``exists`` answers with 0 or 1.
"""

from __future__ import annotations

import argparse
import sys

from .command import Command, Parser, flag, kv, multi, parse_filters, print_error
from .format import emit, emit_inspect, table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _filters(values: list[str]) -> list[tuple[str, str]]:
    from podium.engine.volumes import FILTER_KEYS
    return parse_filters(values, FILTER_KEYS)


# ---- create ---------------------------------------------------------------------------

def _create_args(p: Parser) -> None:
    p.add_argument("-d", "--driver", default="local", help="volume driver (local)")
    multi(p, "-l", "--label", help="set metadata (KEY=VALUE)")
    multi(p, "-o", "--opt", help="driver options: type=, device=, o= (mount -t TYPE -o O DEVICE)")
    flag(p, "--ignore", help="do not fail when the volume exists")
    p.add_argument("name", nargs="?", help="volume name (random when left out)")


def do_create(a: argparse.Namespace, g: Any) -> int:
    v = g.engine.volumes.create(a.name, labels=kv(a.label, "label"), driver=a.driver, options=a.opt,
                                exist_ok=a.ignore)
    print(v["name"])
    return 0


# ---- ls / inspect ---------------------------------------------------------------------

def _ls_args(p: Parser) -> None:
    multi(p, "-f", "--filter", help="name=, label=, label!=, driver=, dangling=true|false, opt=")
    p.add_argument("--format", help="json, or a Go template such as '{{.Name}}'")
    flag(p, "-q", "--quiet", help="print only the names")


def do_ls(a: argparse.Namespace, g: Any) -> int:
    vols = g.engine.volumes
    flt = _filters(a.filter)
    used = vols.used_names()
    rows = [vols.describe(v) for v in vols.list() if vols.matches(v, flt, used)]
    if a.quiet:
        for r in rows:
            print(r["Name"])
        return 0

    def human(rs: list[dict[str, Any]]) -> None:
        table(["DRIVER", "VOLUME NAME"], [[r["Driver"], r["Name"]] for r in rs])
    emit(rows, a.format, table=human)
    return 0


def _inspect_args(p: Parser) -> None:
    p.add_argument("-f", "--format", help="json (default) or a Go template")
    flag(p, "-a", "--all", help="inspect all volumes")
    p.add_argument("names", nargs="*", help="volume names")


def do_inspect(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import ConfigError, PodiumError
    vols = g.engine.volumes
    names = [v["name"] for v in vols.list()] if a.all else a.names
    if not names and not a.all:
        raise ConfigError("provide one or more volume names or use --all")
    out, code = [], 0
    for name in names:
        try:
            out.append(vols.inspect(name))
        except PodiumError as exc:
            print_error(exc)
            code = exc.exit_code
    emit_inspect(out, a.format)
    return code


# ---- rm / prune / exists --------------------------------------------------------------

def _rm_args(p: Parser) -> None:
    flag(p, "-a", "--all", help="remove all volumes")
    flag(p, "-f", "--force", help="also remove the containers using the volumes")
    p.add_argument("-t", "--time", type=int, help="seconds to wait before killing a running container")
    p.add_argument("names", nargs="*", help="volume names")


def do_rm(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import ConfigError, InUse, NotFound, PodiumError
    vols = g.engine.volumes
    if a.all:
        names = [v["name"] for v in vols.list()]
    elif not a.names:
        raise ConfigError("provide one or more volume names or use --all")
    else:
        names = a.names
    code = 0
    for name in names:
        try:
            vols.remove(name, force=a.force, timeout=a.time)
        except PodiumError as exc:
            print_error(exc)
            rank = 2 if isinstance(exc, InUse) else 1 if isinstance(exc, NotFound) else 125
            code = max(code, rank)
            continue
        print(name)
    return code


def _prune_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="do not ask for confirmation")
    multi(p, "--filter", help="label=, label!=, name=, driver=, opt=")


def do_prune(a: argparse.Namespace, g: Any) -> int:
    if not a.force:
        sys.stdout.write("WARNING! This will remove all volumes not used by at least one container. "
                         "The following volumes will be removed:\n")
        vols = g.engine.volumes
        used = vols.used_names()
        flt = _filters(a.filter)
        for v in vols.list():
            if v["name"] not in used and vols.matches(v, flt, used):
                sys.stdout.write(v["name"] + "\n")
        sys.stdout.write("Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    code = 0
    for name, err in g.engine.volumes.prune(filters=_filters(a.filter)):
        if err is None:
            print(name)
        else:
            print_error(err)
            code = err.exit_code
    return code


def _exists_args(p: Parser) -> None:
    p.add_argument("name", help="volume name")


def do_exists(a: argparse.Namespace, g: Any) -> int:
    return 0 if g.engine.volumes.exists(a.name) else 1


COMMANDS: dict[str, Command] = {
    "create": Command(do_create, _create_args, "Create a volume."),
    "ls": Command(do_ls, _ls_args, "List volumes."),
    "inspect": Command(do_inspect, _inspect_args, "Show volumes in Podman's JSON shape."),
    "rm": Command(do_rm, _rm_args, "Remove volumes (-f also removes the containers using them)."),
    "prune": Command(do_prune, _prune_args, "Remove every volume no container uses."),
    "exists": Command(do_exists, _exists_args, "Exit 0 when the volume exists, 1 when not."),
}
