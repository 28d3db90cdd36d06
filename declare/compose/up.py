"""Running a compose ``Project`` on the engine: observe, plan, execute (``up``), and ``down``.

``observe`` reads the project's containers once (by the ``com.docker.compose.project``
label); ``plan`` is a pure function from the desired services and that snapshot
to a list of typed ``Action``s, each with its cause; ``execute`` carries them out
through the engine API in ``depends_on`` order (a small dict graph; a cycle is an
error naming it), waiting for each dependency's condition (``service_started``,
``service_healthy``, ``service_completed_successfully``) before a dependent
starts. A service's config hash (its model and its image id, convert.config_hash)
is stored as a label: equal hash and running means nothing to do, so a second
``up`` changes nothing, and a changed service is recreated — under a temporary
name first, then the old container goes and the new one takes its name.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from podium.engine.errors import ConfigError, NotFound, PodiumError, RuntimeFailure

from . import convert as cv
from . import workers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator

    from podium.engine.engine import Engine

    from .model import Project

DEFAULT_WAIT_TIMEOUT = 300.0
PARALLEL_DEFAULT = 8
POLL_S = 0.05


@dataclass(frozen=True)
class Action:
    """One step of a plan: ``create``, ``recreate``, ``start``, ``restart``, ``remove`` or ``noop``."""

    kind: str
    service: str
    number: int
    container: str | None = None  # id of the existing container
    name: str = ""
    cause: str = ""

    def text(self) -> str:
        return f"{self.kind} {self.service}#{self.number} {self.name}: {self.cause}".rstrip(": ")


@dataclass
class Desired:
    """What ``plan`` needs to know of one service."""

    name: str
    scale: int
    hash: str
    names: dict[int, str]  # container number -> container name
    depends_on: list[str] = field(default_factory=list)
    recreate_with: list[str] = field(default_factory=list)  # dependencies whose recreate forces ours
    one_shot: bool = False  # awaited with service_completed_successfully: an exit 0 is done
    restart_with: list[str] = field(default_factory=list)  # depends_on with restart: true


@dataclass
class Report:
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


# ---- the graph ----------------------------------------------------------------------------

class DepGraph:
    """Services and their dependencies (dependency -> dependent), the few graph operations
    ``up``, ``down`` and ``run`` need. Plain dicts rather than networkx on purpose: importing
    networkx costs about 0.2 s, a tenth of a whole ``compose up -d`` of three services."""

    def __init__(self) -> None:
        self.preds: dict[str, list[str]] = {}
        self.succs: dict[str, list[str]] = {}

    def add_node(self, n: str) -> None:
        self.preds.setdefault(n, [])
        self.succs.setdefault(n, [])

    def add_edge(self, a: str, b: str) -> None:
        self.add_node(a)
        self.add_node(b)
        if a not in self.preds[b]:
            self.preds[b].append(a)
            self.succs[a].append(b)

    @property
    def nodes(self) -> list[str]:
        return list(self.preds)

    def __contains__(self, n: object) -> bool:
        return n in self.preds

    def __iter__(self) -> Iterator[str]:
        return iter(self.preds)

    def predecessors(self, n: str) -> list[str]:
        return list(self.preds[n])

    def successors(self, n: str) -> list[str]:
        return list(self.succs[n])

    def ancestors(self, n: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.preds[n])
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo += self.preds[x]
        return seen

    def subgraph(self, keep: Iterable[str]) -> "DepGraph":
        keep = set(keep)
        g = DepGraph()
        for n in self.preds:
            if n in keep:
                g.add_node(n)
                for p in self.preds[n]:
                    if p in keep:
                        g.add_edge(p, n)
        return g

    def find_cycle(self) -> list[str] | None:
        """A cycle as [a, b, ..., a] (each depends on the next), or None."""
        state: dict[str, int] = {}
        for root in sorted(self.preds):
            stack = [(root, iter(sorted(self.preds[root])))]
            path = [root]
            state[root] = state.get(root, 0) or 1
            if state[root] == 2:
                continue
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                    continue
                if state.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, iter(sorted(self.preds[nxt]))))
                    path.append(nxt)
        return None

    def order(self) -> list[str]:
        """Dependencies first; among the ready ones, by name (a stable, readable order)."""
        import heapq
        indeg = {n: len(p) for n, p in self.preds.items()}
        ready = [n for n, d in indeg.items() if d == 0]
        heapq.heapify(ready)
        out = []
        while ready:
            n = heapq.heappop(ready)
            out.append(n)
            for m in self.succs[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    heapq.heappush(ready, m)
        return out


def graph(project: Project, services: Iterable[str] | None = None, *, no_deps: bool = False) -> DepGraph:
    """Dependency -> dependent graph of the wanted services and all they depend on
    (with ``no_deps``, of the wanted services alone); a cycle is an error naming it."""
    g = DepGraph()
    for name, svc in project.services.items():
        g.add_node(name)
        for dep in deps_of(svc):
            if dep not in project.services:
                raise ConfigError(f"service {name!r} depends on undefined service {dep!r}",
                                  field=f"services.{name}.depends_on")
            g.add_edge(dep, name)
    cycle = g.find_cycle()
    if cycle:
        raise ConfigError("dependency cycle: " + " -> ".join(cycle))
    if services:
        wanted: set[str] = set()
        for s in services:
            if s not in project.services:
                raise ConfigError(f"no such service: {s}")
            wanted |= {s} if no_deps else {s} | g.ancestors(s)
        g = g.subgraph(wanted)
    return g


def deps_of(svc: Any) -> list[str]:
    out = list(svc.depends_on)
    mode = svc.network_mode or ""
    if mode.startswith("service:") and mode[8:] not in out:
        out.append(mode[8:])
    return out


def order(g: DepGraph) -> list[str]:
    return g.order()


# ---- observe ------------------------------------------------------------------------------

def observe(engine: "Engine", project_name: str, *, oneoff: bool = False) -> list[dict[str, Any]]:
    """The project's containers (one-offs of ``compose run`` only with ``oneoff``), each with
    its ``state`` synced."""
    out = []
    for c in engine.containers.list():
        labels = c["config"].get("labels") or {}
        if labels.get(cv.L_PROJECT) == project_name and (oneoff or labels.get(cv.L_ONEOFF, "False") != "True"):
            out.append(c)
    return out


def service_of(c: dict[str, Any]) -> str:
    return (c["config"].get("labels") or {}).get(cv.L_SERVICE, "")


def number_of(c: dict[str, Any]) -> int:
    try:
        return int((c["config"].get("labels") or {}).get(cv.L_NUMBER, "1"))
    except ValueError:
        return 1


# ---- plan (pure) --------------------------------------------------------------------------

def plan(desired: list[Desired], observed: list[dict[str, Any]], *, known: Iterable[str] = (),
         force_recreate: bool = False, no_recreate: bool = False,
         remove_orphans: bool = False) -> tuple[list[Action], list[str]]:
    """(actions in dependency order, warnings). ``desired`` is already in dependency order."""
    actions: list[Action] = []
    warnings: list[str] = []
    by_service: dict[str, dict[int, dict[str, Any]]] = {}
    for c in observed:
        by_service.setdefault(service_of(c), {})[number_of(c)] = c
    recreated: set[str] = set()
    for d in desired:
        have = by_service.get(d.name, {})
        forced = [x for x in d.recreate_with if x in recreated]
        for n in range(1, d.scale + 1):
            c = have.get(n)
            name = d.names[n]
            if c is None:
                actions.append(Action("create", d.name, n, None, name, "not created"))
                recreated.add(d.name)
                continue
            old = (c["config"].get("labels") or {}).get(cv.L_HASH)
            status = c["state"]["status"]
            cause = ""
            if force_recreate:
                cause = "--force-recreate"
            elif old != d.hash:
                cause = "config changed"
            elif forced:
                cause = f"{forced[0]} was recreated"
            elif c["name"] != name:
                cause = f"renamed from {c['name']}"
            restart = [x for x in d.restart_with if x in recreated]
            if cause and not no_recreate:
                actions.append(Action("recreate", d.name, n, c["id"], name, cause))
                recreated.add(d.name)
            elif restart and status in ("running", "paused"):
                actions.append(Action("restart", d.name, n, c["id"], name,
                                      f"{restart[0]} was recreated (depends_on restart: true)"))
            elif status in ("running", "paused", "stopping"):
                actions.append(Action("noop", d.name, n, c["id"], name, "running"))
            elif d.one_shot and status == "exited" and int(c["state"].get("exit_code", 0)) == 0:
                actions.append(Action("noop", d.name, n, c["id"], name, "completed successfully"))
            else:
                actions.append(Action("start", d.name, n, c["id"], name, f"not running ({status})"))
        for n, c in sorted(have.items()):
            if n > d.scale:
                actions.append(Action("remove", d.name, n, c["id"], c["name"], f"scaled to {d.scale}"))
    known = set(known) | {d.name for d in desired}
    for svc, cs in sorted(by_service.items()):
        if svc in known:
            continue
        for n, c in sorted(cs.items()):
            if remove_orphans:
                actions.insert(0, Action("remove", svc, n, c["id"], c["name"], "orphan: service not in the project"))
            else:
                warnings.append(f"found orphan container ({c['name']}) for this project: the service {svc!r} "
                                "is not in the compose file; run with --remove-orphans to remove it")
    return actions, warnings


# ---- up -----------------------------------------------------------------------------------

@dataclass
class UpOptions:
    services: list[str] = field(default_factory=list)
    force_recreate: bool = False
    no_recreate: bool = False
    no_start: bool = False
    remove_orphans: bool = False
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    dry_run: bool = False
    no_deps: bool = False  # only the named services, not what they depend on
    scale: dict[str, int] = field(default_factory=dict)  # --scale SERVICE=N, over scale/deploy.replicas
    wait: bool = False  # after up: every service running (healthy if it has a check), or an error
    build: bool = False  # build images of services with build: even when present
    parallel: int = 0  # services worked on at once (0: COMPOSE_PARALLEL_LIMIT, else 8)


def desired_services(engine: "Engine", project: Project, names: list[str]) -> tuple[list[Desired], dict[str, str]]:
    """The Desired of each service in ``names`` (dependency order) and each service's image id."""
    one_shots = {dep for svc in project.services.values() for dep, d in svc.depends_on.items()
                 if d.condition == "service_completed_successfully"}
    out, images = [], {}
    for name in names:
        svc = project.services[name]
        if svc.image is None:
            raise ConfigError(f"service {name!r} has no image: set image: or build:",
                              field=f"services.{name}.image")
        try:
            image_id = _local_image(engine, svc.image, svc.pull_policy) or \
                engine.images.ensure(svc.image, svc.pull_policy)["id"]  # pull_policy: registry
        except NotFound as exc:
            raise NotFound(f"service {name!r}: image {svc.image} is not known and was not pulled "
                           f"({exc})") from None
        images[name] = image_id
        extra = {"secrets": [_secret_fingerprint(project, k, key, ref) for k, key, ref in cv.secret_refs(svc)]}
        h = cv.config_hash(svc, image_id, extra)
        recreate_with = [d for d in deps_of(svc) if (svc.network_mode or "") == f"service:{d}"]
        restart_with = [k for k, dep in svc.depends_on.items() if dep.restart]
        out.append(Desired(name, svc.scale, h, {n: cv.container_name(project, svc, n)
                                                for n in range(1, svc.scale + 1)},
                           deps_of(svc), recreate_with, name in one_shots, restart_with))
        if svc.container_name and svc.scale > 1:
            raise ConfigError(f"service {name!r}: container_name {svc.container_name!r} cannot be used "
                              f"with {svc.scale} replicas", field=f"services.{name}.container_name")
    return out, images


def _local_image(engine: "Engine", ref: str, policy: str | None) -> str | None:
    """The id of a present image when the policy needs no registry (missing, never, build):
    spares ``up`` the registry client's import (httpx) on every run."""
    if (policy or "missing").lower().replace("-", "_") not in ("missing", "if_not_present", "never", "build"):
        return None
    try:
        return engine.images.resolve(ref)["id"]
    except NotFound:
        return None


def _secret_fingerprint(project: Project, kind: str, key: str, ref: Any) -> list[Any]:
    return [kind, key, ref.target, ref.mode, ref.uid, ref.gid]


def secrets_dir(engine: "Engine", project_name: str) -> str:
    return os.path.join(str(engine.paths.root), "compose", project_name)


def write_secrets(engine: "Engine", project: Project, names: list[str]) -> dict[tuple[str, str, str], str]:
    """Each secret/config a service mounts as a file with its mode (content rewritten in place)."""
    out: dict[tuple[str, str, str], str] = {}
    base = secrets_dir(engine, project.name)
    for name in names:
        for kind, key, ref in cv.secret_refs(project.services[name]):
            data = cv.secret_content(project, kind, key)
            mode = cv.secret_mode(kind, ref)
            d = os.path.join(base, f"{kind}s")
            os.makedirs(d, mode=0o700, exist_ok=True)
            path = os.path.join(d, f"{key}.{mode:o}.{ref.uid or ''}.{ref.gid or ''}")
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
            try:
                os.ftruncate(fd, 0)
                os.write(fd, data)
                os.fchmod(fd, mode)
                if ref.uid is not None or ref.gid is not None:
                    os.fchown(fd, int(ref.uid or 0), int(ref.gid or 0))
            finally:
                os.close(fd)
            out[(kind, key, ref.target)] = path
    return out


def with_overrides(project: Project, o: UpOptions) -> Project:
    """The project as this ``up`` runs it: ``--scale`` applied, and services that only
    ``build:`` named ``<project>-<service>`` as Docker Compose names their image."""
    changed = {}
    for name, svc in project.services.items():
        update: dict[str, Any] = {}
        if name in o.scale:
            update["scale"] = o.scale[name]
        if svc.image is None and svc.build is not None:
            update["image"] = f"{project.name}-{name}"
        if update:
            changed[name] = svc.model_copy(update=update)
    for name in o.scale:
        if name not in project.services:
            raise ConfigError(f"--scale {name}: no such service")
    if not changed:
        return project
    return project.model_copy(update={"services": {**project.services, **changed}})


def build_images(engine: "Engine", project: Project, names: Iterable[str], *, always: bool = False,
                 no_cache: bool = False, say: Callable[[str], None] | None = None) -> list[str]:
    """Build the image of every service in ``names`` that has ``build:`` (only the missing
    ones unless ``always``) with the engine's builder; returns the services built."""
    built = []
    for name in names:
        svc = project.services[name]
        if svc.build is None:
            continue
        image = svc.image or f"{project.name}-{name}"
        if not always and svc.pull_policy != "build":
            try:
                engine.images.resolve(image)
                continue
            except NotFound:
                pass
        try:
            from podium.engine.build import build
        except ImportError:  # pragma: no cover - the builder is another issue's work
            raise ConfigError(f"service {name!r}: build is not available in this podium: "
                              "build the image first and set image:", field=f"services.{name}.build") from None
        b = svc.build
        if "://" in b.context or b.context.startswith("git@"):
            raise ConfigError(f"service {name!r}: build context {b.context} is remote: only local "
                              "directories can be built", field=f"services.{name}.build.context")
        if b.dockerfile_inline is not None:
            raise ConfigError(f"service {name!r}: build.dockerfile_inline is not supported: "
                              "write it to a file", field=f"services.{name}.build.dockerfile_inline")
        dockerfile = None
        if b.dockerfile:
            dockerfile = b.dockerfile if os.path.isabs(b.dockerfile) else os.path.join(b.context, b.dockerfile)
        if say:
            say(f"Image {image}  Building")
        args = {k: v for k, v in b.args.items() if v is not None}
        try:
            build(engine, b.context, containerfile=dockerfile, tags=[image, *b.tags], build_args=args,
                  target=b.target, no_cache=no_cache,
                  labels={k: v for k, v in b.labels.items() if v is not None} or None)
        except ImportError:  # the builder's package exists, its executor not yet
            raise ConfigError(f"service {name!r}: build is not available in this podium: "
                              "build the image first and set image:", field=f"services.{name}.build") from None
        if say:
            say(f"Image {image}  Built")
        built.append(name)
    return built


def up(engine: "Engine", project: Project, options: UpOptions | None = None, *,
       progress: Callable[[str], None] | None = None) -> Report:
    """Make the engine match the project; returns what was done (``Report.actions``)."""

    o = options or UpOptions()
    say = progress or (lambda line: None)
    report = Report()
    project = with_overrides(project, o)
    g = graph(project, o.services or None, no_deps=o.no_deps)
    names = order(g)
    for name in names:
        report.warnings += cv.warnings_for(project.services[name])
    if not o.dry_run:
        build_images(engine, project, names, always=o.build, say=say)
    desired, _images = desired_services(engine, project, names)
    check_resources(engine, project, names)
    actions, warns = plan(desired, observe(engine, project.name),
                          known=list(project.services) + list(project.disabled_services),
                          force_recreate=o.force_recreate, no_recreate=o.no_recreate,
                          remove_orphans=o.remove_orphans)
    report.actions = actions
    report.warnings += warns
    if o.dry_run:
        return report
    def event(kind: str, name: str, what: str) -> None:
        line = f"{kind} {name}  {what}"
        report.events.append(line)
        say(line)

    sources = ensure_resources(engine, project, names, event=event)

    def remove(a: Action) -> Callable[["Engine", Callable[[str, str, str], None]], None]:
        def job(eng: "Engine", ev: Callable[[str, str, str], None]) -> None:
            _remove(eng, a.container or a.name)
            ev("Container", a.name, "Removed")
        return job

    removes = {a.name: remove(a) for a in actions if a.kind == "remove"}  # orphans and scale-downs first
    for name, err in workers.run_all(engine, removes, limit=_limit(o), event=event).items():
        report.warnings.append(f"container {name}: {err}")
    by_service: dict[str, list[Action]] = {}
    for a in actions:
        if a.kind != "remove":
            by_service.setdefault(a.service, []).append(a)
    hashes = {d.name: d.hash for d in desired}

    def work(eng: "Engine", name: str, ev: Callable[[str, str, str], None]) -> None:
        svc = project.services[name]
        if not o.no_start:
            for dep, cond in svc.depends_on.items():
                if dep in g:
                    _await(eng, project, dep, cond.condition, o.wait_timeout, ev)
        for a in by_service.get(name, []):
            _apply(eng, project, svc, a, hashes[name], sources, start=not o.no_start, event=ev)

    failed = workers.run_graph(engine, {n: list(g.predecessors(n)) for n in names}, work,
                               limit=_limit(o), event=event)
    for name, why in failed.items():
        report.warnings.append(f"service {name!r}: {why}")
    if not failed and o.wait and not o.no_start:
        one_shots = {d.name for d in desired if d.one_shot}

        def ready(n: str) -> Callable[["Engine", Callable[[str, str, str], None]], None]:
            return lambda eng, ev: _await_ready(eng, project, n, n in one_shots, o.wait_timeout, ev)
        waits = workers.run_all(engine, {n: ready(n) for n in names}, limit=len(names) or 1, event=event)
        if waits:
            raise RuntimeFailure(next(iter(waits.values())))
    if failed:
        first = next(iter(failed))
        raise RuntimeFailure(f"service {first!r} failed: {failed[first]}"
                             + (f" (also failed or skipped: {', '.join(list(failed)[1:])})" if len(failed) > 1 else ""))
    return report


def check_resources(engine: "Engine", project: Project, names: list[str]) -> None:
    """External networks and volumes exist, every secret and config is readable: checked
    before anything is made, so a bad project leaves the host as it was."""
    nets = engine.networks
    used_nets = {k for n in names for k in project.services[n].networks}
    used_vols = {vm.source for n in names for vm in project.services[n].volumes if vm.type == "volume" and vm.source}
    for n in cv.networks(project):
        if n.key in used_nets and n.external and not nets.exists(n.name):
            raise NotFound(f"network {n.name} declared as external, but could not be found: "
                           f"create it with 'podium network create {n.name}'")
    for v in cv.volumes(project):
        if v.key in used_vols and v.external and not engine.volumes.exists(v.name):
            raise NotFound(f"volume {v.name} declared as external, but could not be found: "
                           f"create it with 'podium volume create {v.name}'")
    for name in names:
        for kind, key, _ref in cv.secret_refs(project.services[name]):
            cv.secret_content(project, kind, key)


def ensure_resources(engine: "Engine", project: Project, names: list[str], *,
                     event: Callable[[str, str, str], None] | None = None) -> dict[tuple[str, str, str], str]:
    """The networks and volumes the services ``names`` use (made unless they exist or are
    external), and their secret and config files; returns the files by (kind, key, target)."""
    nets = engine.networks
    used_nets = {k for n in names for k in project.services[n].networks}
    used_vols = {vm.source for n in names for vm in project.services[n].volumes if vm.type == "volume" and vm.source}
    for n in cv.networks(project):
        if n.key in used_nets and not n.external and not nets.exists(n.name):
            nets.create(n.name, **n.create)
            if event:
                event("Network", n.name, "Created")
    for v in cv.volumes(project):
        if v.key in used_vols and not v.external and not engine.volumes.exists(v.name):
            engine.volumes.create(v.name, exist_ok=True, **v.create)
            if event:
                event("Volume", v.name, "Created")
    return write_secrets(engine, project, names)


def _limit(o: UpOptions) -> int:
    if o.parallel > 0:
        return o.parallel
    try:
        return max(1, int(os.environ.get("COMPOSE_PARALLEL_LIMIT", "8")))
    except ValueError:
        return 8


def thread_engine(engine: "Engine") -> "Engine":
    """An Engine of the same roots for another thread (the store's connection is per thread)."""
    return workers.fresh_engine(engine)


def _apply(engine: "Engine", project: Project, svc: Any, a: Action, h: str,
           sources: dict[tuple[str, str, str], str], *, start: bool,
           event: Callable[[str, str, str], None]) -> None:
    from podium.engine import lifecycle

    if a.kind == "noop":
        event("Container", a.name, "Running" if a.cause == "running" else "Exited")
        return
    if a.kind == "start":
        if start:
            lifecycle.start(engine, a.container or a.name)
            event("Container", a.name, "Started")
        return
    if a.kind == "restart":
        if start:
            lifecycle.restart(engine, a.container or a.name)
            event("Container", a.name, "Restarted")
        return
    if a.kind == "create":
        c = _create(engine, project, svc, a.number, h, sources, a.name)
        event("Container", a.name, "Created")
        if start:
            lifecycle.start(engine, c["id"])
            event("Container", a.name, "Started")
        return
    if a.kind == "recreate":
        # Docker Compose's safe recreate: the new one under a temporary name, then swap.
        # Fixed host ports or a static IP would clash with the old one: remove it first there.
        fixed = any(p.published for p in svc.ports) or any(n.ipv4_address for n in svc.networks.values())
        old = engine.containers.get(a.container or a.name)
        if fixed:
            _remove(engine, old["id"])
            c = _create(engine, project, svc, a.number, h, sources, a.name)
        else:
            c = _create(engine, project, svc, a.number, h, sources, f"{old['id'][:12]}_{a.name}")
            try:
                _remove(engine, old["id"])
            except BaseException:
                engine.containers.remove(c["id"], force=True, volumes=True)
                raise
            engine.containers.rename(c["id"], a.name)
        event("Container", a.name, "Recreated")
        if start:
            lifecycle.start(engine, c["id"])
            event("Container", a.name, "Started")
        return
    raise ValueError(a.kind)


def _create(engine: "Engine", project: Project, svc: Any, number: int, h: str,
            sources: dict[tuple[str, str, str], str], name: str) -> dict[str, Any]:
    """Create one replica: on its first network with that network's aliases, then joined to
    the others with theirs (so an alias resolves only on the network that declares it)."""
    spec = cv.container_spec(project, svc, number, config_hash=h, secret_sources=sources, name=name,
                             per_network=True)
    c = engine.containers.create(spec)
    try:
        for net, aliases, ip in cv.network_attachments(project, svc)[1:]:
            engine.networks.connect(net, c["id"], aliases=aliases, ip=ip)
    except BaseException:
        engine.containers.remove(c["id"], force=True, volumes=True)
        raise
    return c


def _remove(engine: "Engine", ref: str, *, timeout: int | None = None) -> None:
    from podium.engine import lifecycle
    try:
        lifecycle.stop(engine, ref, timeout=timeout)
    except NotFound:
        return
    engine.containers.remove(ref, force=True, volumes=True)


def _await(engine: "Engine", project: Project, dep: str, condition: str, timeout: float,
           event: Callable[[str, str, str], None]) -> None:
    """Block until every container of ``dep`` meets ``condition``; typed errors name the service."""
    if condition == "service_started":
        return
    who = f"dependency {dep!r}"

    def met(c: dict[str, Any]) -> bool:
        name, state = c["name"], c["state"]
        status = state["status"]
        if condition == "service_healthy":
            if not c["config"].get("healthcheck"):
                raise ConfigError(f"service {dep!r} is awaited with condition service_healthy "
                                  "but has no healthcheck", field=f"services.{dep}.healthcheck")
            health = (state.get("health") or {}).get("Status")
            if status == "running" and health == "healthy":
                event("Container", name, "Healthy")
                return True
            if health == "unhealthy":
                raise RuntimeFailure(f"{who}: container {name} is unhealthy")
            if status in ("exited", "created"):
                raise RuntimeFailure(f"{who}: container {name} is {status}"
                                     f" (exit code {state.get('exit_code', 0)}) and will not become healthy")
        elif condition == "service_completed_successfully":
            if status == "exited":
                code = int(state.get("exit_code", 0))
                if code != 0:
                    raise RuntimeFailure(f"{who}: container {name} exited with code {code}"
                                         " (service_completed_successfully)")
                event("Container", name, "Exited")
                return True
            if status == "created":
                raise RuntimeFailure(f"{who}: container {name} was not started")
        return False

    _poll(engine, project, dep, timeout, who, met,
          lambda c: f"{who}: container {c['name']} did not reach {condition} within {timeout:g}s",
          checks=condition == "service_healthy", required=True)


def dependents_first(project: Project | None, cs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Containers grouped for stopping: orphans (services not in the file) first, then each
    service after every service that depends on it (the reverse of the start order)."""
    depth: dict[str, int] = {}
    if project is not None:
        try:
            g = graph(project)
        except ConfigError:
            g = None
        if g is not None:
            for name in reversed(g.order()):
                depth[name] = 1 + max((depth[d] for d in g.successors(name)), default=0)
    levels: dict[int, list[dict[str, Any]]] = {}
    for c in cs:
        levels.setdefault(depth.get(service_of(c), 0), []).append(c)
    return [sorted(levels[k], key=lambda c: c["name"]) for k in sorted(levels)]


def level_deps(levels: list[list[dict[str, Any]]]) -> dict[str, list[str]]:
    """``run_graph``'s input for containers grouped by ``dependents_first``: each container
    waits for every container of the level before its own (keyed by container id)."""
    deps: dict[str, list[str]] = {}
    before: list[str] = []
    for level in levels:
        for c in level:
            deps[c["id"]] = list(before)
        before = [c["id"] for c in level]
    return deps


def stop_containers(engine: "Engine", project: Project | None, cs: list[dict[str, Any]], *,
                    timeout: int | None = None, kill: bool = False,
                    event: Callable[[str, str, str], None] | None = None) -> list[str]:
    """Stop (or with ``kill`` SIGKILL) containers, dependents first, each level at once;
    returns one error line per failure."""
    from podium.engine import lifecycle
    running = [c for c in cs if c["state"]["status"] in ("running", "paused", "stopping")]
    by_id = {c["id"]: c for c in running}
    errors: list[str] = []

    def one(eng: "Engine", cid: str, ev: Callable[[str, str, str], None]) -> None:
        if kill:
            lifecycle.kill(eng, cid, signal="SIGKILL")
        else:
            lifecycle.stop(eng, cid, timeout=timeout)
        ev("Container", by_id[cid]["name"], "Killed" if kill else "Stopped")

    levels = dependents_first(project, running)
    if not kill and not workers.can_fork():  # in order, in-process: signal a level first, so it ends at once
        for level in levels:
            for c in level:
                try:
                    lifecycle.kill(engine, c["id"], signal=c["config"].get("stop_signal") or "SIGTERM")
                except PodiumError:
                    pass
            for c in level:
                try:
                    one(engine, c["id"], event or (lambda *a: None))
                except PodiumError as exc:
                    errors.append(f"{c['name']}: {exc}")
        return errors
    failed = workers.run_graph(engine, level_deps(levels), one, limit=PARALLEL_DEFAULT,
                               event=event or (lambda *a: None), gate=False)
    return errors + [f"{by_id[cid]['name']}: {err}" for cid, err in failed.items()]


def _start_interval_check(engine: "Engine", project: Project, service: str, c: dict[str, Any],
                          last: list[float]) -> None:
    """``healthcheck.start_interval``: during ``start_period`` a check every ``start_interval``
    (Docker's rule; without a start period it has no effect). The engine's checker runs
    every ``interval``; these extra checks run while ``up`` waits, the only time they matter
    to compose. ``last`` holds the monotonic time of the previous one."""
    from podium.engine import health
    from podium.engine.timeutil import parse_iso
    svc = project.services.get(service)
    hc = svc.healthcheck if svc else None
    if not hc or not hc.start_interval or not hc.start_period or c["state"]["status"] != "running":
        return
    started = c["state"].get("started_at") or ""
    if not started or time.time() - parse_iso(started) > hc.start_period:
        return
    if time.monotonic() - last[0] < hc.start_interval:
        return
    last[0] = time.monotonic()
    try:
        health.run(engine, c["id"])
    except PodiumError:
        pass


def _await_ready(engine: "Engine", project: Project, name: str, one_shot: bool, timeout: float,
                 event: Callable[[str, str, str], None]) -> None:
    """``up --wait``: every container of ``name`` running, and healthy if it has a check
    (a one-shot awaited by another service may have exited 0 instead)."""
    who = f"service {name!r}"

    def health_of(c: dict[str, Any]) -> str | None:
        return (c["state"].get("health") or {}).get("Status") if c["config"].get("healthcheck") else None

    def ready(c: dict[str, Any]) -> bool:
        cname, state = c["name"], c["state"]
        status = state["status"]
        code = int(state.get("exit_code", 0))
        if status == "exited":
            if one_shot and code == 0:
                return True
            raise RuntimeFailure(f"{who}: container {cname} exited (exit code {code})")
        if status == "created":
            raise RuntimeFailure(f"{who}: container {cname} is not started")
        health = health_of(c)
        if status == "running" and health in (None, "healthy"):
            event("Container", cname, "Healthy" if health else "Running")
            return True
        if health == "unhealthy":
            raise RuntimeFailure(f"{who}: container {cname} is unhealthy")
        return False

    _poll(engine, project, name, timeout, who, ready,
          lambda c: f"{who}: container {c['name']} did not become "
                    f"{'healthy' if health_of(c) else 'running'} within {timeout:g}s (--wait-timeout)")


def _poll(engine: "Engine", project: Project, service: str, timeout: float, who: str,
          done: Callable[[dict[str, Any]], bool], late: Callable[[dict[str, Any]], str], *,
          checks: bool = True, required: bool = False) -> None:
    """Poll each container of ``service`` until ``done(c)`` (which raises what can never be met),
    with ``checks`` running ``start_interval`` checks meanwhile; ``late(c)`` words the timeout,
    one deadline for all. ``required``: a service without containers is an error."""
    deadline = time.monotonic() + timeout
    cs = [c for c in observe(engine, project.name) if service_of(c) == service]
    if required and not cs:
        raise RuntimeFailure(f"{who} has no container")
    for c in cs:
        cname = c["name"]
        last = [0.0]
        while True:
            try:
                c = engine.containers.get(c["id"])
            except NotFound:
                raise RuntimeFailure(f"{who}: container {cname} was removed") from None
            if done(c):
                break
            if time.monotonic() > deadline:
                raise RuntimeFailure(late(c))
            if checks:
                _start_interval_check(engine, project, service, c, last)
            time.sleep(POLL_S)


# ---- down and the other verbs -------------------------------------------------------------

@dataclass
class DownOptions:
    volumes: bool = False
    remove_orphans: bool = False
    timeout: int | None = None


def down(engine: "Engine", project_name: str, project: Project | None = None,
         options: DownOptions | None = None, *, progress: Callable[[str], None] | None = None) -> Report:
    """Stop and remove the project's containers, then its networks (and with ``volumes`` its volumes)."""
    import shutil


    o = options or DownOptions()
    say = progress or (lambda line: None)
    report = Report()

    def event(kind: str, name: str, what: str) -> None:
        line = f"{kind} {name}  {what}"
        report.events.append(line)
        say(line)

    cs = observe(engine, project_name, oneoff=True)
    known: set[str] | None = None
    if project is not None:
        known = set(project.services) | set(project.disabled_services)
    keep = []
    for c in cs:
        if known is not None and service_of(c) not in known and not o.remove_orphans:
            report.warnings.append(f"found orphan container ({c['name']}) for this project: "
                                   "run with --remove-orphans to remove it")
            keep.append(c)
    cs = [c for c in cs if c not in keep]
    by_id = {c["id"]: c for c in cs}

    def remove(eng: "Engine", cid: str, ev: Callable[[str, str, str], None]) -> None:
        _remove(eng, cid, timeout=o.timeout)
        ev("Container", by_id[cid]["name"], "Removed")

    failed = workers.run_graph(engine, level_deps(dependents_first(project, cs)), remove,
                               limit=PARALLEL_DEFAULT, event=event, gate=False)  # dependents first, each level at once
    errors = [f"container {by_id[cid]['name']}: {err}" for cid, err in failed.items()]
    nets = engine.networks
    for n in nets.list():
        if (n.get("labels") or {}).get(cv.L_PROJECT) != project_name:
            continue
        try:
            nets.remove(n["name"])
            event("Network", n["name"], "Removed")
        except PodiumError as exc:
            errors.append(f"network {n['name']}: {exc}")
    if o.volumes:
        for v in engine.volumes.list():
            if (v.get("labels") or {}).get(cv.L_PROJECT) != project_name:
                continue
            try:
                engine.volumes.remove(v["name"])
                event("Volume", v["name"], "Removed")
            except PodiumError as exc:
                errors.append(f"volume {v['name']}: {exc}")
    if not [c for c in observe(engine, project_name, oneoff=True)]:
        shutil.rmtree(secrets_dir(engine, project_name), ignore_errors=True)
    if errors:
        raise RuntimeFailure("compose down: " + "; ".join(errors))
    return report


def projects(engine: "Engine") -> list[dict[str, Any]]:
    """Every compose project with containers on this host: name, status, config files."""
    from collections import Counter
    found: dict[str, dict[str, Any]] = {}
    for c in engine.containers.list():
        labels = c["config"].get("labels") or {}
        name = labels.get(cv.L_PROJECT)
        if not name:
            continue
        p = found.setdefault(name, {"Name": name, "counts": Counter(), "ConfigFiles": labels.get(cv.L_FILES, "")})
        p["counts"][c["state"]["status"]] += 1
    out = []
    for name in sorted(found):
        p = found[name]
        status = ", ".join(f"{s}({n})" for s, n in sorted(p.pop("counts").items()))
        out.append({**p, "Status": status})
    return out


# ---- one-off containers (compose run) -----------------------------------------------------

@dataclass
class RunOptions:
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    user: str | None = None
    workdir: str | None = None
    no_deps: bool = False
    service_ports: bool = False
    remove: bool = False
    interactive: bool = False
    tty: bool = False
    build: bool = False


def run_container(engine: "Engine", project: Project, service: str, options: RunOptions | None = None, *,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Create (not start) a one-off container of ``service``, as ``docker compose run`` does:
    the services it depends on are brought up first (unless ``no_deps``), it is labelled
    ``com.docker.compose.oneoff=True`` (so ``up``, ``ps`` and ``down``'s plan leave it alone),
    named ``<project>-<service>-run-<id>``, joins the service's networks without its aliases,
    and publishes the service's ports only with ``service_ports``."""
    import secrets as _secrets

    o = options or RunOptions()
    project = with_overrides(project, UpOptions())
    if service not in project.services:
        raise ConfigError(f"no such service: {service}")
    g = graph(project, [service])
    deps = [n for n in order(g) if n != service]
    if deps and not o.no_deps:
        up(engine, project, UpOptions(services=deps), progress=progress)
        svc0 = project.services[service]
        for dep, cond in svc0.depends_on.items():  # the run waits for its dependencies' conditions
            if dep in g:
                _await(engine, project, dep, cond.condition, DEFAULT_WAIT_TIMEOUT,
                       lambda *a: None)
    build_images(engine, project, [service], always=o.build, say=progress)
    check_resources(engine, project, [service])
    sources = ensure_resources(engine, project, [service])
    svc = project.services[service]
    name = o.name or f"{project.name}-{service}-run-{_secrets.token_hex(6)}"
    spec = cv.container_spec(project, svc, 1, config_hash="", secret_sources=sources, name=name, per_network=True)
    spec.labels.update(o.labels)
    spec.labels[cv.L_ONEOFF] = "True"
    spec.labels.pop(cv.L_HASH, None)
    spec.labels["com.docker.compose.slug"] = name.rsplit("-", 1)[-1]
    if o.command is not None:
        spec.command = list(o.command)
    if o.entrypoint is not None:
        spec.entrypoint = list(o.entrypoint)
        if o.command is None:
            spec.command = []  # a new entrypoint drops the service's command (Docker's rule)
    spec.env.update(o.env)
    if o.user is not None:
        spec.user = o.user
    if o.workdir is not None:
        spec.workdir = o.workdir
    if not o.service_ports:
        spec.ports = []
    spec.network_aliases = []
    spec.ip = None
    spec.restart = None
    spec.remove = o.remove
    spec.interactive = o.interactive
    spec.tty = o.tty
    c = engine.containers.create(spec)
    try:
        for net, _aliases, _ip in cv.network_attachments(project, svc)[1:]:
            engine.networks.connect(net, c["id"])
    except BaseException:
        engine.containers.remove(c["id"], force=True, volumes=True)
        raise
    return engine.containers.get(c["id"])


def registry_pull() -> Callable[..., Any] | None:
    """The engine's registry pull, ``pull(engine, reference)``, where the engine has one."""
    from podium.engine.images import ImageStore
    if not hasattr(ImageStore, "pull"):
        return None
    return lambda engine, ref: engine.images.pull(ref)
