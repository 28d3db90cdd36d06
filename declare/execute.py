"""A ``Plan`` onto the engine: dispatch each action, in graph order, deciding nothing.

Two phases:

1. removals, one at a time, dependents first: orphans (``--prune``), leftovers
   of an interrupted apply, and the old object of a recreate that cannot be
   made beside it (pods and networks take their members along; a container
   with fixed host ports or a static IP would clash with itself);
2. everything else over the dependency graph: an action starts once the
   actions of its dependencies are done, and, for a change, once those
   dependencies meet their condition (``started``, ``healthy``, ``completed``:
   waits, bounded by ``timeout``). Independent branches run in parallel, up to
   ``parallel`` at once; each worker thread has its own ``Engine`` (one SQLite
   connection per thread). A failed action skips its dependents, not the rest.

A container recreate follows Docker Compose: the new container is made under
a temporary name (``<old id[:12]>_<name>``), then the old one is stopped and
removed and the new one renamed and started, so the gap is as short as it can
be. Every step is safe to interrupt: the next plan sees the leftovers by their
owner labels and clears them.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from podium.engine.errors import NotFound, PodiumError, RuntimeFailure

from .stack import SpecStore, owner_labels

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from podium.engine.engine import Engine

    from .graph import Desired, Resource
    from .plan import Action, Plan

POLL_S = 0.1
DEFAULT_PARALLEL = 4
COMPOSE_HASH = "com.docker.compose.config-hash"


@dataclass
class Outcome:
    action: "Action"
    status: str = "planned"          # done | failed | skipped | planned
    error: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**self.action.to_json(), "status": self.status, "error": self.error,
                "seconds": round(self.seconds, 3)}


@dataclass
class Result:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "skipped")]


@dataclass
class Options:
    parallel: int = DEFAULT_PARALLEL
    timeout: float = 300.0
    wait: bool = False
    start: bool = True


class _Engines:
    """One Engine per worker thread, all on the caller's storage root and run root."""

    def __init__(self, engine: "Engine") -> None:
        self.main = engine
        self.local = threading.local()
        self.made: list[Engine] = []
        self.lock = threading.Lock()

    def get(self) -> "Engine":
        if threading.current_thread() is threading.main_thread():
            return self.main
        eng = getattr(self.local, "engine", None)
        if eng is None:
            from podium.engine.engine import Engine
            eng = Engine(root=str(self.main.paths.root), runroot=str(self.main.paths.runroot),
                         runtime=self.main.runtime_override)
            self.local.engine = eng
            with self.lock:
                self.made.append(eng)
        return eng

    def close(self) -> None:
        for e in self.made:
            e.close()


def execute(engine: "Engine", desired: "Desired", plan: "Plan", options: Options | None = None, *,
            progress: "Callable[[Outcome, str], None] | None" = None) -> Result:
    o = options or Options()
    say = progress or (lambda outcome, phase: None)
    result = Result()
    specs = SpecStore(str(engine.paths.root))
    for a in plan.actions:
        r = desired.get(a.rid)
        if a.action in ("create", "recreate") and r is not None:
            specs.put(r.hash, r.spec)
    outcomes = {id(a): Outcome(a) for a in plan.actions}
    result.outcomes = [outcomes[id(a)] for a in plan.actions]
    runner = _Runner(engine, desired, o, say)

    # phase 1: removals, serially, dependents first (the plan's order)
    failed_rids: set[str] = set()
    for a in plan.actions:
        if a.action == "remove":
            runner.run(outcomes[id(a)], runner.remove)
            if outcomes[id(a)].status == "failed":
                failed_rids.add(a.rid)
    from .graph import RANK
    early = [a for a in plan.actions if a.action == "recreate" and a.replace_first]
    early.sort(key=lambda a: -RANK.get(a.kind, 0))
    for a in early:
        outcome = outcomes[id(a)]
        try:
            runner.remove_old(engine, a)
        except PodiumError as exc:
            outcome.status, outcome.error = "failed", f"removing the old {a.kind}: {exc}"
            failed_rids.add(a.rid)
            say(outcome, "done")

    # phase 2: the graph
    todo = [a for a in plan.actions if a.action not in ("remove", "keep") and a.rid not in failed_rids]
    for a in plan.actions:
        out = outcomes[id(a)]
        if a.action == "keep":
            out.status = "done"
        elif a.rid in failed_rids and a.action != "remove" and out.status == "planned":
            out.status, out.error = "failed", "what stood in its way could not be removed"
    runner.failed_rids = failed_rids
    runner.graph(todo, outcomes)
    if o.wait and not any(x.status == "failed" for x in result.outcomes):
        runner.wait_all(todo, outcomes)
    runner.engines.close()
    return result


class _Runner:
    def __init__(self, engine: "Engine", desired: "Desired", options: Options,
                 say: "Callable[[Outcome, str], None]") -> None:
        self.engine = engine
        self.desired = desired
        self.options = options
        self.say = say
        self.engines = _Engines(engine)
        self.deadline = time.monotonic() + options.timeout
        self.by_rid: dict[str, Action] = {}
        self.failed_rids: set[str] = set()

    def run(self, outcome: Outcome, fn: "Callable[[Engine, Action], None]") -> None:
        t0 = time.monotonic()
        if outcome.action.changes:
            self.say(outcome, "start")
        try:
            fn(self.engines.get(), outcome.action)
            outcome.status = "done"
        except PodiumError as exc:
            outcome.status, outcome.error = "failed", str(exc)
        except OSError as exc:
            outcome.status, outcome.error = "failed", f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        outcome.seconds = time.monotonic() - t0
        self.say(outcome, "done")

    # ---- the graph --------------------------------------------------------------------------

    def graph(self, todo: list["Action"], outcomes: dict[int, Outcome]) -> None:
        by_rid = self.by_rid = {a.rid: a for a in todo}
        waiting: dict[str, set[str]] = {}
        dependents: dict[str, list[str]] = {}
        for a in todo:
            r = self.desired.get(a.rid)
            deps = {d.rid for d in (r.deps if r else []) if d.rid in by_rid}
            waiting[a.rid] = deps
            for d in deps:
                dependents.setdefault(d, []).append(a.rid)
        order = {rid: i for i, rid in enumerate(self.desired.order())}
        ready = sorted((rid for rid, deps in waiting.items() if not deps), key=lambda x: order.get(x, 0))
        parallel = max(1, self.options.parallel)
        if parallel == 1:
            while ready:
                rid = ready.pop(0)
                self._node(by_rid[rid], outcomes)
                for nxt in dependents.get(rid, []):
                    waiting[nxt].discard(rid)
                    if not waiting[nxt]:
                        ready.append(nxt)
                ready.sort(key=lambda x: order.get(x, 0))
            return
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="apply") as pool:
            running: dict[Any, str] = {}
            while ready or running:
                while ready:
                    rid = ready.pop(0)
                    a = by_rid[rid]
                    if a.action == "noop" or self._blocked(a, outcomes, by_rid):
                        self._node(a, outcomes)   # nothing to do: no thread needed
                        for nxt in dependents.get(rid, []):
                            waiting[nxt].discard(rid)
                            if not waiting[nxt]:
                                ready.append(nxt)
                        continue
                    running[pool.submit(self._node, a, outcomes)] = rid
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    rid = running.pop(fut)
                    fut.result()
                    for nxt in dependents.get(rid, []):
                        waiting[nxt].discard(rid)
                        if not waiting[nxt]:
                            ready.append(nxt)
                ready.sort(key=lambda x: order.get(x, 0))

    def _blocked(self, a: "Action", outcomes: dict[int, Outcome], by_rid: dict[str, "Action"]) -> str:
        r = self.desired.get(a.rid)
        for d in (r.deps if r else []):
            if d.rid in self.failed_rids:
                return d.rid
            other = by_rid.get(d.rid)
            if other is not None and outcomes[id(other)].status in ("failed", "skipped"):
                return d.rid
        return ""

    def _node(self, a: "Action", outcomes: dict[int, Outcome]) -> None:
        outcome = outcomes[id(a)]
        if outcome.status != "planned":
            return
        blocked = self._blocked(a, outcomes, self.by_rid)
        if blocked:
            outcome.status, outcome.error = "skipped", f"dependency {blocked} failed"
            self.say(outcome, "done")
            return
        if a.action == "noop":
            outcome.status = "done"
            self.say(outcome, "done")
            return
        self.run(outcome, self.apply)

    # ---- one action ---------------------------------------------------------------------------

    def apply(self, eng: "Engine", a: "Action") -> None:
        r = self.desired.resources[a.rid]
        self.await_deps(eng, r)
        fn = getattr(self, f"_{a.action}_{'container' if r.kind == 'init' else r.kind}", None)
        if fn is None:
            raise RuntimeFailure(f"{a.rid}: {a.action} is not supported for a {r.kind}")
        fn(eng, r, a)

    def labels(self, r: "Resource", base: dict[str, str] | None) -> dict[str, str]:
        return {**(base or {}), **owner_labels(self.desired.stack, r.kind, r.name, r.hash, r.source, r.group)}

    # networks
    def _create_network(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        kw = dict(r.payload or {})
        kw["labels"] = self.labels(r, kw.get("labels"))
        eng.networks.create(r.name, **kw)

    _recreate_network = _create_network

    # volumes
    def _create_volume(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        p = r.payload
        labels = p.labels if hasattr(p, "labels") else (p or {}).get("labels")
        options = None if hasattr(p, "labels") else (p or {}).get("options")
        eng.volumes.create(r.name, labels=self.labels(r, labels), options=options)
        if getattr(p, "kind", "") == "emptyDir":
            os.chmod(eng.volumes.data_dir(r.name), 0o777)  # as the kubelet makes them: any user may write
        for sub in getattr(p, "subdirs", []) or []:
            os.makedirs(os.path.join(eng.volumes.data_dir(r.name), sub), exist_ok=True)

    # configs
    def _create_config(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        p = r.payload
        if isinstance(p, dict):   # a compose secret/config file
            write_file(p["path"], p["data"], p["mode"], p.get("uid"), p.get("gid"))
            return
        vols = eng.volumes
        if vols.get(r.name) is None:
            vols.create(r.name, labels=self.labels(r, p.labels))
        data = vols.data_dir(r.name)
        write_tree(data, p.files or {})
        for sub in p.subdirs:
            os.makedirs(os.path.join(data, sub), exist_ok=True)

    _update_config = _create_config

    # pods
    def _create_pod(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        pod = r.payload
        for hp in pod.host_paths:
            if os.path.lexists(hp.path):
                continue
            if hp.directory:
                os.makedirs(hp.path, 0o755, exist_ok=True)
            else:
                os.close(os.open(hp.path, os.O_CREAT | os.O_WRONLY, 0o644))
        kw = dict(pod.create)
        kw["labels"] = self.labels(r, kw.get("labels"))
        eng.pods.create(**kw)

    _recreate_pod = _create_pod

    def _start_pod(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        from podium.engine import lifecycle
        pod = eng.pods.get(r.name)
        if pod["infra_id"]:
            lifecycle.start(eng, pod["infra_id"])

    # containers
    def spec(self, eng: "Engine", r: "Resource", name: str) -> Any:
        import copy

        from .kube import convert
        SUBPATH_KEY = getattr(convert, "SUBPATH_KEY", "kube_subpath")  # older converters: resolved here
        spec = copy.copy(r.payload)
        spec.name = name
        spec.labels = self.labels(r, spec.labels)
        if COMPOSE_HASH in spec.labels:
            spec.labels[COMPOSE_HASH] = r.hash
        mounts = []
        for m in spec.mounts:
            ref = m.get(SUBPATH_KEY)
            if ref is not None:
                m = {k: v for k, v in m.items() if k != SUBPATH_KEY}
                vols = eng.volumes
                if vols.get(ref["volume"]) is None:
                    raise NotFound(f"{r.rid}: volume {ref['volume']} is missing")
                source = os.path.join(vols.data_dir(ref["volume"]), ref["sub"])
                if not ref["file"]:
                    os.makedirs(source, exist_ok=True)
                m["source"] = source
            mounts.append(dict(m))
        spec.mounts = mounts
        return spec

    def _create_container(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        c = eng.containers.create(self.spec(eng, r, r.name))
        if self.options.start:
            self._start(eng, c["id"])

    def _recreate_container(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        if a.replace_first:   # the old one went in phase 1
            return self._create_container(eng, r, a)
        try:
            old = eng.containers.get(a.ids[0] if a.ids else r.name)
        except NotFound:
            return self._create_container(eng, r, a)
        tmp = f"{old['id'][:12]}_{r.name}"
        c = eng.containers.create(self.spec(eng, r, tmp))
        try:
            remove_container(eng, old["id"])
        except BaseException:
            eng.containers.remove(c["id"], force=True, volumes=True)
            raise
        eng.containers.rename(c["id"], r.name)
        if self.options.start:
            self._start(eng, c["id"])

    def _start_container(self, eng: "Engine", r: "Resource", a: "Action") -> None:
        ref = a.ids[0] if a.ids else r.name
        try:
            self._start(eng, ref)
        except RuntimeFailure:
            if not a.cause.startswith("created but never started"):
                raise
            # a start killed after the runtime made the container: that one cannot be started
            # again; a fresh container under the same name can (the old one is cleaned up first)
            remove_container(eng, ref)
            self._create_container(eng, r, a)

    def _start(self, eng: "Engine", ref: str) -> None:
        from podium.engine import lifecycle
        lifecycle.start(eng, ref)

    # removals
    def remove(self, eng: "Engine", a: "Action") -> None:
        ref = a.ids[0] if a.ids else a.name
        try:
            if a.kind in ("container", "init"):
                remove_container(eng, ref)
            elif a.kind == "pod":
                eng.pods.remove(ref, force=True, timeout=None)
            elif a.kind == "network":
                eng.networks.remove(ref)
            elif a.kind == "volume" or (a.kind == "config" and not os.path.isabs(ref)):
                eng.volumes.remove(ref)
            elif a.kind == "config":
                os.unlink(ref)
        except NotFound:
            pass   # gone already (a pod's members go with their pod)
        except FileNotFoundError:
            pass

    def remove_old(self, eng: "Engine", a: "Action") -> None:
        """A recreate's old container, pod or network (never forced: the stack's own users went
        just before; anyone else's makes it fail). Volumes and configs are kept."""
        if a.kind in ("container", "init", "pod", "network"):
            self.remove(eng, a)

    # ---- waits --------------------------------------------------------------------------------

    def await_deps(self, eng: "Engine", r: "Resource") -> None:
        for d in r.deps:
            if d.condition in ("healthy", "completed"):
                self.await_condition(eng, d.rid, d.condition)

    def await_condition(self, eng: "Engine", rid: str, condition: str) -> None:
        kind, name = rid.split("/", 1)
        if kind not in ("container", "init"):
            return
        while True:
            try:
                c = eng.containers.get(name)
            except NotFound:
                raise RuntimeFailure(f"waiting for {rid} to be {condition}: it does not exist") from None
            state = c["state"]
            status = state["status"]
            if condition == "healthy":
                if not c["config"].get("healthcheck"):
                    raise RuntimeFailure(f"waiting for {rid} to be healthy: it has no health check")
                health = (state.get("health") or {}).get("Status")
                if status == "running" and health == "healthy":
                    return
                if health == "unhealthy":
                    raise RuntimeFailure(f"{rid} is unhealthy")
                if status in ("exited", "created"):
                    raise RuntimeFailure(f"{rid} is {status} (exit code {state.get('exit_code', 0)}) "
                                         "and will not become healthy")
            elif condition == "completed":
                if status == "exited":
                    code = int(state.get("exit_code") or 0)
                    if code != 0:
                        raise RuntimeFailure(f"{rid} exited with code {code}{_last_log(eng, c['id'])}")
                    return
                if status == "created":
                    raise RuntimeFailure(f"{rid} was not started")
            if time.monotonic() > self.deadline:
                raise RuntimeFailure(f"{rid} did not become {condition} within {self.options.timeout:g}s")
            time.sleep(POLL_S)

    def wait_all(self, todo: list["Action"], outcomes: dict[int, Outcome]) -> None:
        """``--wait``: every container running (healthy if it has a check), every one-shot completed."""
        eng = self.engine
        for a in todo:
            r = self.desired.get(a.rid)
            if r is None or r.kind not in ("container", "init") or outcomes[id(a)].status != "done":
                continue
            try:
                if r.one_shot:
                    self.await_condition(eng, a.rid, "completed")
                    continue
                c = eng.containers.get(r.name)
                if c["config"].get("healthcheck"):
                    self.await_condition(eng, a.rid, "healthy")
                elif c["state"]["status"] not in ("running", "paused"):
                    raise RuntimeFailure(f"{a.rid} is {c['state']['status']} (exit code "
                                         f"{c['state'].get('exit_code', 0)}){_last_log(eng, c['id'])}")
            except PodiumError as exc:
                o = outcomes[id(a)]
                o.status, o.error = "failed", str(exc)
                self.say(o, "done")


def remove_container(eng: "Engine", ref: str) -> None:
    from podium.engine import lifecycle
    try:
        lifecycle.stop(eng, ref)
    except NotFound:
        return
    eng.containers.remove(ref, force=True, volumes=True)


def write_file(path: str, data: bytes, mode: int, uid: str | None = None, gid: str | None = None) -> None:
    """Rewrite in place (a bind mount of the file keeps seeing its inode), mode and owner set."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, data)
        os.fchmod(fd, mode)
        if uid is not None or gid is not None:
            os.fchown(fd, int(uid or 0), int(gid or 0))
    finally:
        os.close(fd)


def write_tree(root: str, files: dict[str, tuple[bytes, int]]) -> None:
    """A configMap/secret volume's keys as files with their modes; keys no longer declared go."""
    import shutil
    wanted = set(files)
    for d, dirs, names in os.walk(root, topdown=False):
        for n in names:
            p = os.path.join(d, n)
            if os.path.relpath(p, root) not in wanted:
                os.unlink(p)
        for n in dirs:
            p = os.path.join(d, n)
            if os.path.islink(p):
                os.unlink(p)
            elif not os.listdir(p) and not any(f.startswith(os.path.relpath(p, root) + "/") for f in wanted):
                shutil.rmtree(p, ignore_errors=True)
    for rel, (content, mode) in sorted(files.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        write_file(path, content, mode)


def _last_log(eng: "Engine", cid: str) -> str:
    try:
        from podium.engine import logs
        lines = [ln.text for ln in logs.read(eng, cid, tail=3, since=None)]
    except (PodiumError, OSError, TypeError, AttributeError):
        return ""
    text = " | ".join(ln.strip() for ln in lines if ln.strip())
    return f" (last output: {text[:300]})" if text else ""
