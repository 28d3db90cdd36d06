"""The stack's resources and their dependencies: one networkx DiGraph, cycles named.

A ``Resource`` is one thing podium makes for a stack — a network, a volume, a
config (files podium writes: compose secrets/configs, kube configMap/secret
volumes), a pod, an init container or a container — with the normalized spec
that decides whether the existing one still matches (its ``hash``), the file
that declared it and its dependencies. A ``Dep`` says what a resource waits
for (the other one ``created``, ``started``, ``healthy`` or ``completed``)
and whether it is ``hard``: a hard dependency's recreate forces ours (a
container in a recreated pod, on a recreated network; compose's
``depends_on: {restart: true}`` and ``network_mode: service:``).

The graph's edges go dependency -> dependent. Creation runs in topological
order, removal in reverse; ``Desired.layers`` gives the independent branches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from podium.engine.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

KINDS = ("network", "volume", "config", "pod", "init", "container")
# removal order (reverse of creation): what uses a thing goes before the thing
RANK = {k: i for i, k in enumerate(KINDS)}
CONDITIONS = ("created", "started", "healthy", "completed")


@dataclass(frozen=True)
class Dep:
    rid: str
    condition: str = "created"
    hard: bool = False


@dataclass
class Resource:
    kind: str
    name: str                       # the engine's name (container, pod, network, volume) or the config's
    source: str                     # the file that declared it
    spec: dict[str, Any]            # normalized desired spec: hashed, diffed, shown
    deps: list[Dep] = field(default_factory=list)
    payload: Any = None             # what execute needs (ContainerSpec, create kwargs, files)
    external: bool = False          # referenced only: must exist, never created or removed
    one_shot: bool = False          # done once it exited 0 (init containers, awaited with "completed")
    replace_first: bool = False     # recreate removes the old one first (fixed host ports, static IP)
    pod: str | None = None          # the pod of a pod member
    group: str = ""                 # the workload of a replica (its replicas beyond the count are scaled down)
    _hash: str | None = None

    @property
    def rid(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def hash(self) -> str:
        if self._hash is None:
            self._hash = spec_hash(self.spec)
        return self._hash


def spec_hash(spec: dict[str, Any]) -> str:
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Desired:
    """Every resource of the stack by id, and the dependency graph over them."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.resources: dict[str, Resource] = {}
        self.warnings: list[str] = []
        self._graph: Any = None
        self._order: list[str] | None = None

    def add(self, r: Resource) -> Resource:
        """Add ``r``; the same resource declared by two files is an error naming both."""
        old = self.resources.get(r.rid)
        if old is not None:
            if old.external and not r.external:
                self.resources[r.rid] = r
                return r
            if r.external:
                return old
            where = old.source if old.source == r.source else f"{old.source} and {r.source}"
            raise ConfigError(f"{r.kind} {r.name!r} is declared twice, in {where}: "
                              "each resource of a stack must be declared once")
        self.resources[r.rid] = r
        self._graph = None
        return r

    def get(self, rid: str) -> Resource | None:
        return self.resources.get(rid)

    @property
    def graph(self) -> Any:
        if self._graph is None:
            self._graph = build_graph(self.resources.values())
        return self._graph

    def order(self) -> list[str]:
        """Resource ids in dependency order (stable: by kind, then name, among equals)."""
        if self._order is None:
            import networkx as nx
            g = self.graph
            self._order = list(nx.lexicographical_topological_sort(
                g, key=lambda rid: (RANK.get(rid.split("/", 1)[0], 9), rid)))
        return self._order

    def dependents(self, rid: str) -> list[str]:
        return list(self.graph.successors(rid))


def build_graph(resources: Iterable[Resource]) -> Any:
    """networkx DiGraph dependency -> dependent; an unknown dependency or a cycle is a ConfigError."""
    import networkx as nx

    g = nx.DiGraph()
    by_id = {}
    for r in resources:
        by_id[r.rid] = r
        g.add_node(r.rid)
    for r in by_id.values():
        for d in r.deps:
            if d.rid not in by_id:
                raise ConfigError(f"{r.kind} {r.name!r} (from {r.source}) depends on {d.rid}, "
                                  "which no file of the stack declares")
            g.add_edge(d.rid, r.rid, condition=d.condition, hard=d.hard)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        names = [a for a, _ in cycle] + [cycle[0][0]]
        files = sorted({by_id[n].source for n in names})
        raise ConfigError("dependency cycle: " + " -> ".join(names) + f" (declared in {', '.join(files)})")
    return g


def field_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the fields that differ between two normalized specs (``env.ROLE``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in old or k not in new:
                out.append(p)
            elif old[k] != new[k]:
                out += field_diff(old[k], new[k], p)
        return out
    if old != new:
        return [prefix or "(spec)"]
    return []


def spec_text(spec: dict[str, Any] | None) -> list[str]:
    """A stable, line-per-field text of a spec for unified diffs."""
    if spec is None:
        return []
    return json.dumps(spec, sort_keys=True, indent=2, default=str).splitlines()


def unified(old: dict[str, Any] | None, new: dict[str, Any] | None, rid: str) -> str:
    import difflib
    lines = difflib.unified_diff(spec_text(old), spec_text(new), fromfile=f"{rid} (host)",
                                 tofile=f"{rid} (desired)", lineterm="", n=2)
    return "\n".join(lines)
