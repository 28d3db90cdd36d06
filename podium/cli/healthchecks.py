"""``podium healthcheck run``: one health check now, Podman's exit codes (0 healthy, 1 unhealthy, 125 error).

``--from-checker`` is what the container's checker loop calls (see
podium.engine.health): it exits 3 when the loop should end instead of 125.
"""

from __future__ import annotations

import argparse
import os

from .command import Command, Parser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _run_args(p: Parser) -> None:
    p.add_argument("--from-checker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("container", help="container name or ID")


def do_run(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import health

    if a.from_checker:
        if not g.engine.paths.db.exists():
            return health.CHECKER_DONE  # the store is gone: end the loop, make nothing
        try:  # a session of our own: stopping the loop's process group must not stop this check
            os.setsid()
        except OSError:
            pass
        try:
            status = health.run(g.engine, a.container, from_checker=True)
        except health.CheckerDone:
            return health.CHECKER_DONE
        return 0 if status == health.HEALTHY else 1
    status = health.run(g.engine, a.container)
    if status != health.HEALTHY:
        print(status)
        return 1
    return 0


COMMANDS: dict[str, Command] = {
    "run": Command(do_run, _run_args, "Run a container's health check once and record the result."),
}
