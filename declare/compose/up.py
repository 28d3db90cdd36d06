"""Running a compose ``Project`` on the engine: observe, plan, execute (``up``), and ``down``.

``observe`` reads the project's containers once (by the ``com.docker.compose.project``
label); ``plan`` is a pure function from the desired services and that snapshot
to a list of typed ``Action``s, each with its cause; ``execute`` carries them out
through the engine API in ``depends_on`` order (a networkx graph; a cycle is an
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
from .model import Project

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    from podium.engine.engine import Engine

DEFAULT_WAIT_TIMEOUT = 300.0
POLL_S = 0.1


@dataclass(frozen=True)
class Action:
    """One step of a plan: ``create``, ``recreate``, ``start``, ``remove`` or ``noop``."""

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


@dataclass
class Report:
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


# ---- the graph ----------------------------------------------------------------------------

def graph(project: Project, services: Iterable[str] | None = None) -> Any:
    """networkx DiGraph dependency -> dependent of the wanted services and all they depend on."""
    import networkx as nx

    g = nx.DiGraph()
    for name, svc in project.services.items():
        g.add_node(name)
        for dep in deps_of(svc):
            if dep not in project.services:
                raise ConfigError(f"service {name!r} depends on undefined service {dep!r}",
                                  field=f"services.{name}.depends_on")
            g.add_edge(dep, name)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        names = [a for a, _ in cycle] + [cycle[0][0]]
        raise ConfigError("dependency cycle: " + " -> ".join(reversed(names)))
    if services:
        wanted = set()
        for s in services:
            if s not in project.services:
                raise ConfigError(f"no such service: {s}")
            wanted |= {s} | nx.ancestors(g, s)
        g = g.subgraph(wanted).copy()
    return g


def deps_of(svc: Any) -> list[str]:
    out = list(svc.depends_on)
    mode = svc.network_mode or ""
    if mode.startswith("service:") and mode[8:] not in out:
        out.append(mode[8:])
    return out


def order(g: Any) -> list[str]:
    import networkx as nx
    return list(nx.lexicographical_topological_sort(g))


# ---- observe ------------------------------------------------------------------------------

def observe(engine: "Engine", project_name: str) -> list[dict[str, Any]]:
    """The project's containers (one-offs left out), each with its ``state`` synced."""
    out = []
    for c in engine.containers.list():
        labels = c["config"].get("labels") or {}
        if labels.get(cv.L_PROJECT) == project_name and labels.get(cv.L_ONEOFF, "False") != "True":
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
            if cause and not no_recreate:
                actions.append(Action("recreate", d.name, n, c["id"], name, cause))
                recreated.add(d.name)
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


def desired_services(engine: "Engine", project: Project, names: list[str]) -> tuple[list[Desired], dict[str, str]]:
    """The Desired of each service in ``names`` (dependency order) and each service's image id."""
    one_shots = {dep for svc in project.services.values() for dep, d in svc.depends_on.items()
                 if d.condition == "service_completed_successfully"}
    out, images = [], {}
    for name in names:
        svc = project.services[name]
        if svc.image is None:
            raise ConfigError(f"service {name!r} has no image: build is not supported yet, set image:",
                              field=f"services.{name}.image")
        try:
            image_id = engine.images.ensure(svc.image, svc.pull_policy)["id"]  # pull_policy: registry
        except NotFound as exc:
            raise NotFound(f"service {name!r}: image {svc.image} is not known and was not pulled "
                           f"({exc})") from None
        images[name] = image_id
        extra = {"secrets": [_secret_fingerprint(project, k, key, ref) for k, key, ref in cv.secret_refs(svc)]}
        h = cv.config_hash(svc, image_id, extra)
        recreate_with = [d for d in deps_of(svc) if (svc.network_mode or "") == f"service:{d}"]
        out.append(Desired(name, svc.scale, h, {n: cv.container_name(project, svc, n)
                                                for n in range(1, svc.scale + 1)},
                           deps_of(svc), recreate_with, name in one_shots))
        if svc.container_name and svc.scale > 1:
            raise ConfigError(f"service {name!r}: container_name {svc.container_name!r} cannot be used "
                              f"with {svc.scale} replicas", field=f"services.{name}.container_name")
    return out, images


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


def up(engine: "Engine", project: Project, options: UpOptions | None = None, *,
       progress: Callable[[str], None] | None = None) -> Report:
    """Make the engine match the project; returns what was done (``Report.actions``)."""

    o = options or UpOptions()
    say = progress or (lambda line: None)
    report = Report()
    g = graph(project, o.services or None)
    names = order(g)
    for name in names:
        report.warnings += cv.warnings_for(project.services[name])
    desired, _images = desired_services(engine, project, names)
    nets = engine.networks
    used_nets = {k for n in names for k in project.services[n].networks}
    used_vols = {vm.source for n in names for vm in project.services[n].volumes if vm.type == "volume" and vm.source}
    net_plans = [n for n in cv.networks(project) if n.key in used_nets]
    vol_plans = [v for v in cv.volumes(project) if v.key in used_vols]
    for n in net_plans:
        if n.external and not nets.exists(n.name):
            raise NotFound(f"network {n.name} declared as external, but could not be found: "
                           f"create it with 'podium network create {n.name}'")
    for v in vol_plans:
        if v.external and not engine.volumes.exists(v.name):
            raise NotFound(f"volume {v.name} declared as external, but could not be found: "
                           f"create it with 'podium volume create {v.name}'")
    for name in names:  # every secret readable before anything is made
        for kind, key, _ref in cv.secret_refs(project.services[name]):
            cv.secret_content(project, kind, key)
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

    for n in net_plans:
        if not n.external and not nets.exists(n.name):
            nets.create(n.name, **n.create)
            event("Network", n.name, "Created")
    for v in vol_plans:
        if not v.external and not engine.volumes.exists(v.name):
            engine.volumes.create(v.name, exist_ok=True, **v.create)
            event("Volume", v.name, "Created")
    sources = write_secrets(engine, project, names)

    for a in actions:  # orphans and scale-downs first
        if a.kind == "remove":
            _remove(engine, a.container or a.name)
            event("Container", a.name, "Removed")
    by_service: dict[str, list[Action]] = {}
    for a in actions:
        if a.kind != "remove":
            by_service.setdefault(a.service, []).append(a)
    hashes = {d.name: d.hash for d in desired}
    failed: dict[str, str] = {}
    for name in names:
        svc = project.services[name]
        bad = [d for d in deps_of(svc) if d in failed]
        if bad:
            failed[name] = f"dependency {bad[0]} failed"
            continue
        try:
            if not o.no_start:
                for dep, cond in svc.depends_on.items():
                    if dep in g:
                        _await(engine, project, dep, cond.condition, o.wait_timeout, event)
            for a in by_service.get(name, []):
                _apply(engine, project, svc, a, hashes[name], sources, start=not o.no_start, event=event)
        except PodiumError as exc:
            failed[name] = str(exc)
            report.warnings.append(f"service {name!r}: {exc}")
    if failed:
        first = next(iter(failed))
        raise RuntimeFailure(f"service {first!r} failed: {failed[first]}"
                             + (f" (also failed or skipped: {', '.join(list(failed)[1:])})" if len(failed) > 1 else ""))
    return report


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
    if a.kind == "create":
        spec = cv.container_spec(project, svc, a.number, config_hash=h, secret_sources=sources, name=a.name)
        c = engine.containers.create(spec)
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
            spec = cv.container_spec(project, svc, a.number, config_hash=h, secret_sources=sources, name=a.name)
            c = engine.containers.create(spec)
        else:
            tmp = f"{old['id'][:12]}_{a.name}"
            spec = cv.container_spec(project, svc, a.number, config_hash=h, secret_sources=sources, name=tmp)
            c = engine.containers.create(spec)
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
    deadline = time.monotonic() + timeout
    cs = [c for c in observe(engine, project.name) if service_of(c) == dep]
    if not cs:
        raise RuntimeFailure(f"dependency {dep!r} has no container")
    for c in cs:
        name = c["name"]
        while True:
            try:
                c = engine.containers.get(c["id"])
            except NotFound:
                raise RuntimeFailure(f"dependency {dep!r}: container {name} was removed") from None
            state = c["state"]
            status = state["status"]
            if condition == "service_healthy":
                if not c["config"].get("healthcheck"):
                    raise ConfigError(f"service {dep!r} is awaited with condition service_healthy "
                                      "but has no healthcheck", field=f"services.{dep}.healthcheck")
                health = (state.get("health") or {}).get("Status")
                if status == "running" and health == "healthy":
                    event("Container", name, "Healthy")
                    break
                if health == "unhealthy":
                    raise RuntimeFailure(f"dependency {dep!r}: container {name} is unhealthy")
                if status in ("exited", "created"):
                    raise RuntimeFailure(f"dependency {dep!r}: container {name} is {status}"
                                         f" (exit code {state.get('exit_code', 0)}) and will not become healthy")
            elif condition == "service_completed_successfully":
                if status == "exited":
                    code = int(state.get("exit_code", 0))
                    if code != 0:
                        raise RuntimeFailure(f"dependency {dep!r}: container {name} exited with code {code}"
                                             " (service_completed_successfully)")
                    event("Container", name, "Exited")
                    break
                if status == "created":
                    raise RuntimeFailure(f"dependency {dep!r}: container {name} was not started")
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"dependency {dep!r}: container {name} did not reach {condition} "
                                     f"within {timeout:g}s")
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

    cs = observe(engine, project_name)
    rank: dict[str, int] = {}
    known: set[str] | None = None
    if project is not None:
        known = set(project.services) | set(project.disabled_services)
        try:
            rank = {n: i for i, n in enumerate(order(graph(project)))}
        except ConfigError:
            rank = {}
    # dependents first; orphans (not in the file) first of all
    cs.sort(key=lambda c: (-rank.get(service_of(c), len(rank) + 1), c["name"]))
    errors: list[str] = []
    for c in cs:
        if known is not None and service_of(c) not in known and not o.remove_orphans:
            report.warnings.append(f"found orphan container ({c['name']}) for this project: "
                                   "run with --remove-orphans to remove it")
            continue
        try:
            _remove(engine, c["id"], timeout=o.timeout)
            event("Container", c["name"], "Removed")
        except PodiumError as exc:
            errors.append(f"container {c['name']}: {exc}")
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
    if not [c for c in observe(engine, project_name)]:
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
