"""Parallel work on the engine in forked worker processes, over a dependency graph.

Why processes and not threads: the engine is built for many podium processes at
once (file locks, SQLite in WAL mode), not for many threads in one. Its store
holds one sqlite connection per Engine, and its network fast path forks helper
processes while holding host-wide flocks; a fork from one thread while another
holds such a lock hands the lock to the child (flock belongs to the open file,
which the child shares), and the two threads' starts then wait for each other
forever (seen: both starts blocked in ``ipam.host_lock``). A worker forked from a
single-threaded parent is just one more podium process: it opens its own Engine
and acts under the same locks every other process uses. A fork costs about a
millisecond; a new Python process would cost 150 ms or more.

``run_graph`` starts a node's worker as soon as every node it depends on has
finished well (at most ``limit`` at once), marks the dependents of a failed node
as failed without running them, and relays each worker's progress events to the
parent, which alone prints. A process that already runs threads (attached
``up`` follows logs in threads) does the work in order, in-process.
"""

from __future__ import annotations

import json
import os
import select
import threading

from podium.engine.errors import PodiumError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from podium.engine.engine import Engine

    Event = Callable[[str, str, str], None]
    Work = Callable[["Engine", str, Event], None]


def fresh_engine(engine: "Engine") -> "Engine":
    """An Engine of the same storage root with its own store connection."""
    from podium.engine.engine import Engine
    return Engine(root=str(engine.paths.root), runroot=str(engine.paths.runroot),
                  runtime=engine.runtime_override)


def can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def run_graph(engine: "Engine", deps: dict[str, list[str]], work: "Work", *, limit: int,
              event: "Event", gate: bool = True) -> dict[str, str]:
    """Run ``work(engine, node, event)`` for every node of ``deps`` (node -> the nodes it
    waits for; given in a dependency order). Returns node -> why it failed or was skipped.
    Without ``gate`` the dependencies only order the work: a failure skips nothing."""
    order = list(deps)
    failed: dict[str, str] = {}
    if limit <= 1 or len(order) <= 1 or not can_fork():
        for name in order:
            bad = [d for d in deps[name] if d in failed] if gate else []
            if bad:
                failed[name] = f"dependency {bad[0]} failed"
                continue
            try:
                work(engine, name, event)
            except PodiumError as exc:
                failed[name] = str(exc)
        return failed
    pending = list(order)
    done: set[str] = set()
    running: dict[int, tuple[int, str, bytearray]] = {}  # read fd -> (pid, node, unread bytes)
    while pending or running:
        for name in list(pending):
            if len(running) >= limit:
                break
            bad = [d for d in deps[name] if d in failed] if gate else []
            if bad:
                failed[name] = f"dependency {bad[0]} failed"
                done.add(name)
                pending.remove(name)
                continue
            if all(d in done for d in deps[name]):
                pending.remove(name)
                fd, pid = _fork(engine, name, work)
                running[fd] = (pid, name, bytearray())
        if not running:
            if pending:  # cannot happen with a dependency order; do not spin
                for name in pending:
                    failed[name] = "dependency not run"
                break
            continue
        ready, _, _ = select.select(list(running), [], [])
        for fd in ready:
            pid, name, buf = running[fd]
            data = os.read(fd, 65536)
            buf += data
            *lines, rest = bytes(buf).split(b"\n")
            buf[:] = rest
            for line in lines:
                msg = json.loads(line)
                if "event" in msg:
                    event(*msg["event"])
                elif "error" in msg:
                    failed[name] = msg["error"]
            if data:
                continue
            os.close(fd)
            del running[fd]
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code != 0 and name not in failed:
                failed[name] = f"worker process ended with status {code}"
            done.add(name)
    return {n: failed[n] for n in order if n in failed}


def _fork(engine: "Engine", name: str, work: "Work") -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        return r, pid
    code = 0
    try:
        os.close(r)

        def send(msg: dict[str, object]) -> None:
            os.write(w, (json.dumps(msg) + "\n").encode())

        eng = fresh_engine(engine)
        try:
            work(eng, name, lambda kind, who, what: send({"event": [kind, who, what]}))
        finally:
            eng.close()
    except PodiumError as exc:
        send({"error": str(exc)})
        code = 1
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises nothing for it
        try:
            send({"error": f"{type(exc).__name__}: {exc}"})
        except BaseException:  # noqa: BLE001
            pass
        code = 2
    finally:
        os._exit(code)


def run_all(engine: "Engine", jobs: dict[str, "Callable[[Engine, Event], None]"], *, limit: int,
            event: "Event") -> dict[str, str]:
    """Independent jobs, at most ``limit`` at once; returns job -> error."""
    return run_graph(engine, {k: [] for k in jobs}, lambda eng, k, ev: jobs[k](eng, ev), limit=limit, event=event)
