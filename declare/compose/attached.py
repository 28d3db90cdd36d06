"""``compose up`` in the foreground: every container's output, multiplexed with
``service-1  | `` prefixes as Docker Compose prints it, until the containers exit.

One pump thread per container follows its log (each with its own Engine: the
store's sqlite connection belongs to one thread) and feeds one queue; the
caller's thread writes the lines, reports each exit (``web-1 exited with code
0``) and decides: with ``abort_on_exit`` the first container that ends stops
the others, and the exit code is that container's (or, with ``exit_code_from``,
that service's). Ctrl-C or SIGTERM (turned into KeyboardInterrupt by the CLI)
stops the project gracefully; a second one kills it.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from podium.engine.errors import ConfigError, NotFound

from . import convert as cv
from . import up as upmod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable

    from podium.engine.engine import Engine

    from .model import Project

COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
RESTART_WAIT_S = 15.0  # how long an exited container with a restart policy is watched for a restart


@dataclass
class AttachOptions:
    abort_on_exit: bool = False
    exit_code_from: str | None = None
    color: bool = False
    timestamps: bool = False
    timeout: int | None = None  # stop timeout when aborting or interrupted


def prefix_of(c: dict[str, Any]) -> str:
    """``web-1``: service and replica number, or the container_name when the file sets one."""
    labels = c["config"].get("labels") or {}
    service, number = labels.get(cv.L_SERVICE, ""), labels.get(cv.L_NUMBER, "1")
    project = labels.get(cv.L_PROJECT, "")
    if c["name"] != f"{project}-{service}-{number}":
        return c["name"]
    return f"{service}-{number}"


def _restarts(c: dict[str, Any]) -> bool:
    state = c["state"]
    if state.get("stopped_by_user"):
        return False
    policy = c["config"].get("restart_policy") or {}
    name = policy.get("Name", "no")
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure" and int(state.get("exit_code", 0)) != 0:
        limit = int(policy.get("MaximumRetryCount") or 0)
        return limit == 0 or int(state.get("restart_count", 0)) < limit
    return False


def log_marks(engine: "Engine", project_name: str) -> dict[str, int]:
    """How many log lines each of the project's containers has now: ``follow`` shows what
    comes after (a container that is started again keeps its old log)."""
    from podium.engine import logs as logmod
    out = {}
    for c in upmod.observe(engine, project_name):
        try:
            out[c["id"]] = sum(1 for _ in logmod.read(engine, c["id"]))
        except NotFound:
            pass
    return out


def follow(engine: "Engine", project: "Project | None", project_name: str, services: list[str] | None,
           *, out: "BinaryIO", say: "Callable[[str], None]", options: AttachOptions | None = None,
           marks: dict[str, int] | None = None) -> int:
    """Print the output of the project's containers until they end; returns the exit code.
    ``marks`` (``log_marks`` taken before ``up``) skips each container's older lines."""
    from podium.engine import logs as logmod

    o = options or AttachOptions()
    if o.exit_code_from:
        o.abort_on_exit = True
        if project is not None and o.exit_code_from not in project.services:
            raise ConfigError(f"--exit-code-from {o.exit_code_from}: no such service")
    cs = [c for c in upmod.observe(engine, project_name) if not services or upmod.service_of(c) in services]
    cs.sort(key=lambda c: (upmod.service_of(c), upmod.number_of(c)))
    if not cs:
        return 0
    prefixes = [prefix_of(c) for c in cs]
    width = max(len(p) for p in prefixes)
    say("Attaching to " + ", ".join(prefixes))
    q: queue.Queue[tuple[str, int, Any]] = queue.Queue()
    quit_ = threading.Event()

    def pump(i: int, cid: str) -> None:
        eng = upmod.workers.fresh_engine(engine)
        seen = (marks or {}).get(cid, 0)
        try:
            while True:
                n = 0
                for line in logmod.read(eng, cid, follow=True):
                    n += 1
                    if n > seen:
                        q.put(("line", i, line))
                seen = max(seen, n)
                try:
                    c = eng.containers.get(cid)
                except NotFound:
                    return
                q.put(("exit", i, c))
                if not _restarts(c) or quit_.is_set():
                    return
                count, deadline = c["state"].get("restart_count", 0), time.monotonic() + RESTART_WAIT_S
                while not quit_.is_set() and time.monotonic() < deadline:
                    time.sleep(0.2)
                    try:
                        c = eng.containers.get(cid)
                    except NotFound:
                        return
                    if c["state"]["status"] in ("running", "paused") or c["state"].get("restart_count", 0) != count:
                        break
                else:
                    return
        except Exception:  # noqa: BLE001 - a vanished container ends its stream
            pass
        finally:
            eng.close()
            q.put(("done", i, None))

    def fmt(i: int, text: str) -> bytes:
        head = f"{prefixes[i]:<{width}}  | "
        if o.color:
            head = f"\x1b[{COLORS[i % len(COLORS)]}m{head}\x1b[0m"
        return (head + text).encode()

    for i, c in enumerate(cs):
        threading.Thread(target=pump, args=(i, c["id"]), daemon=True).start()
    live = set(range(len(cs)))
    code = 0
    aborting = False
    drain_until: float | None = None
    try:
        while live:
            if drain_until is not None and time.monotonic() > drain_until:
                break
            try:
                kind, i, payload = q.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "line":
                ts = payload.time + " " if o.timestamps else ""
                out.write(fmt(i, ts + payload.text + ("\n" if payload.complete else "")))
                out.flush()
            elif kind == "exit":
                exit_code = int(payload["state"].get("exit_code", 0))
                out.write(f"{prefixes[i]} exited with code {exit_code}\n".encode())
                out.flush()
                if o.abort_on_exit and not aborting and not _restarts(payload):
                    aborting = True
                    code = exit_code
                    say("Aborting on container exit...")
                    quit_.set()
                    _stop(engine, project, cs, o.timeout, say)
                    drain_until = time.monotonic() + 5.0
            else:
                live.discard(i)
    except KeyboardInterrupt:
        quit_.set()
        say("Gracefully stopping... (press Ctrl+C again to force)")
        try:
            _stop(engine, project, cs, o.timeout, say)
        except KeyboardInterrupt:
            _stop(engine, project, cs, o.timeout, say, kill=True)
        deadline = time.monotonic() + 2.0
        while live and time.monotonic() < deadline:  # what they printed while stopping
            try:
                kind, i, payload = q.get(timeout=0.2)
            except (queue.Empty, KeyboardInterrupt):
                continue
            if kind == "line":
                out.write(fmt(i, payload.text + ("\n" if payload.complete else "")))
            elif kind == "done":
                live.discard(i)
        out.flush()
        return 130
    if o.exit_code_from:
        for c in cs:
            if upmod.service_of(c) == o.exit_code_from:
                try:
                    code = int(engine.containers.get(c["id"])["state"].get("exit_code", 0))
                except NotFound:
                    pass
                break
    return code


def _stop(engine: "Engine", project: "Project | None", cs: list[dict[str, Any]], timeout: int | None,
          say: "Callable[[str], None]", *, kill: bool = False) -> None:
    fresh = []
    for c in cs:
        try:
            fresh.append(engine.containers.get(c["id"]))
        except NotFound:
            pass
    for err in upmod.stop_containers(engine, project, fresh, timeout=timeout, kill=kill,
                                     event=lambda kind, name, what: say(f"{kind} {name}  {what}")):
        say(f"Error: {err}")
