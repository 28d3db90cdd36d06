"""One read of the engine into a ``Snapshot``: what exists, who owns it, in what state.

Owned objects are found by their owner labels (declare/stack.py) and keyed by
resource id (``container/web-1``); several objects under one id (a recreate's
temporary container left by a killed apply) are all kept, so the plan can
clear the extras. Every object is also indexed by its engine name, owned or
not, so a name the stack wants that someone else holds is a conflict the plan
reports instead of touching it.

Config resources are read by content: the files of a kube configMap/secret
volume and the compose secret/config files under the stack's directory are
hashed as they are on disk, so a hand edit is drift like any other.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from .stack import L_HASH, L_KIND, L_NAME, L_STACK, files_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from podium.engine.engine import Engine

# engine name spaces: what a desired resource's name must not collide with
FAMILY = {"container": "container", "init": "container", "pod": "pod", "network": "network",
          "volume": "volume", "config": "volume"}


@dataclass
class Observed:
    kind: str                 # the resource kind from the owner label (or the engine family if unowned)
    name: str                 # the resource name from the owner label (or the engine name)
    id: str                   # engine id (container, pod, network) or name (volume) or path (config file)
    engine_name: str
    stack: str = ""
    hash: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    status: str = ""          # containers: the state's status; pods: the infra container's
    exit_code: int = 0
    started_at: str = ""
    health: str = ""
    pod: str = ""
    files: dict[str, Any] | None = None  # configs: rel -> [sha256, mode]; compose file: sha256/mode

    @property
    def rid(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Snapshot:
    objects: list[Observed] = field(default_factory=list)
    by_name: dict[str, Observed] = field(default_factory=dict)   # "family/engine name" -> object

    def add(self, o: Observed, family: str) -> None:
        self.objects.append(o)
        self.by_name[f"{family}/{o.engine_name}"] = o

    def owned(self, stack: str) -> dict[str, list[Observed]]:
        out: dict[str, list[Observed]] = {}
        for o in self.objects:
            if o.stack == stack:
                out.setdefault(o.rid, []).append(o)
        return out

    def holder(self, kind: str, name: str) -> Observed | None:
        return self.by_name.get(f"{FAMILY[kind]}/{name}")

    def stacks(self) -> list[str]:
        return sorted({o.stack for o in self.objects if o.stack})


def observe(engine: "Engine", stack: str | None = None) -> Snapshot:
    """Containers, pods, networks and volumes of the engine; config files of ``stack``."""
    snap = Snapshot()
    containers = engine.containers.list()
    infra_status: dict[str, str] = {}
    pod_names = {}
    pods = engine.pods.list()
    for p in pods:
        pod_names[p["id"]] = p["name"]
    for c in containers:
        config = c["config"]
        if config.get("infra"):
            infra_status[c["id"]] = c["state"]["status"]
            continue
        labels = config.get("labels") or {}
        state = c["state"]
        o = _owned(labels, "container", c["name"], c["id"])
        o.annotations = config.get("annotations") or {}
        o.status = state["status"]
        o.exit_code = int(state.get("exit_code") or 0)
        o.started_at = state.get("started_at") or ""
        o.health = (state.get("health") or {}).get("Status", "") if isinstance(state.get("health"), dict) else ""
        o.pod = pod_names.get(c.get("pod_id") or "", "")
        snap.add(o, "container")
    for p in pods:
        labels = p["config"].get("labels") or {}
        o = _owned(labels, "pod", p["name"], p["id"])
        o.status = infra_status.get(p["infra_id"] or "", "")
        snap.add(o, "pod")
    for n in engine.networks.list():
        o = _owned(n.get("labels") or {}, "network", n["name"], n["id"])
        snap.add(o, "network")
    vols = engine.volumes
    for v in vols.list():
        labels = v.get("labels") or {}
        o = _owned(labels, "volume", v["name"], v["name"])
        if o.kind == "config":
            o.files = tree_hashes(vols.data_dir(v["name"]))
        snap.add(o, "volume")
    if stack:
        base = files_dir(str(engine.paths.root), stack)
        for rel, sha, mode, uid, gid in _config_files(base):
            o = Observed("config", rel, os.path.join(base, rel), rel, stack=stack,
                         files={"sha256": sha, "mode": mode, "uid": uid, "gid": gid})
            snap.objects.append(o)
    return snap


def _owned(labels: dict[str, str], family: str, name: str, id_: str) -> Observed:
    stack = labels.get(L_STACK, "")
    if stack and labels.get(L_KIND) and labels.get(L_NAME):
        return Observed(labels[L_KIND], labels[L_NAME], id_, name, stack=stack, hash=labels.get(L_HASH, ""),
                        labels=labels)
    return Observed(family, name, id_, name, labels=labels)


def tree_hashes(root: str) -> dict[str, Any]:
    """rel path -> [sha256, mode] of every regular file under ``root`` (a volume's data)."""
    out: dict[str, Any] = {}
    for d, _dirs, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, root)] = [hashlib.sha256(f.read()).hexdigest(), st.st_mode & 0o7777]
            except OSError:
                continue
    return out


def _config_files(base: str) -> list[tuple[str, str, int, str | None, str | None]]:
    out = []
    for d, _dirs, files in os.walk(base):
        for n in files:
            if ".tmp" in n:
                continue
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
                with open(p, "rb") as f:
                    sha = hashlib.sha256(f.read()).hexdigest()
            except OSError:
                continue
            parts = n.split(".")
            uid = parts[-2] or None if len(parts) >= 4 else None
            gid = parts[-1] or None if len(parts) >= 4 else None
            out.append((os.path.relpath(p, base), sha, st.st_mode & 0o7777, uid, gid))
    return out
