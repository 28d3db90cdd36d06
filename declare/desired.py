"""The stack's input files -> ``Desired``: every resource, normalized, with its dependencies.

Kubernetes YAML goes through the kube loader and converter (declare/kube),
compose projects through the compose loader and converter (declare/compose);
both already produce engine specs (pod create options, ``ContainerSpec``s,
network and volume options). This module turns those into ``Resource``s:

* kube: a pod per workload replica (its spec holds its members' specs, so a
  changed container replaces the pod, as Kubernetes does), its init
  containers (each awaiting the one before, ``completed``) and containers
  (awaiting every init container), a config resource per configMap/secret
  volume, a volume per emptyDir and PersistentVolumeClaim. A pod joins
  networks named by its ``io.podium.network`` annotation (comma-separated),
  which the stack's compose files may declare: that is how a kube pod and a
  compose project share a network. A ``persistentVolumeClaim`` whose claim a
  compose file declares as a volume ``name:`` shares that volume.
* compose: a network and a volume per declared (used) one, a config per
  secret/config file a service mounts, a container per replica, with
  ``depends_on`` conditions as waits (``restart: true`` makes it hard).

Images are resolved here (read-only engine calls) so that the hash of a
container includes the image id: a re-tagged image is "image changed".
"""

from __future__ import annotations

import hashlib
import os

from podium.engine.errors import ConfigError, NotFound, PodiumError

from .graph import Dep, Desired, Resource
from .stack import L_PRUNE, files_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from podium.engine.engine import Engine
    from podium.engine.spec import ContainerSpec

    from .sources import ComposeGroup, Inputs

ANN_NETWORK = "io.podium.network"
PRUNE_DISABLED = "disabled"
# compose bookkeeping labels that say where a file was, not what runs: never a reason to recreate
VOLATILE_LABELS = ("com.docker.compose.config-hash", "com.docker.compose.project.config_files",
                   "com.docker.compose.project.working_dir")


class Images:
    """Image ids by reference, resolved once per run."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.ids: dict[str, str] = {}

    def id(self, ref: str, *, who: str, source: str) -> str:
        if ref not in self.ids:
            try:
                self.ids[ref] = self.engine.images.resolve(ref)["id"]
            except NotFound:
                raise NotFound(f"{source}: {who}: image {ref} is not in local storage (podium pull, load or "
                               "import it first)") from None
        return self.ids[ref]


def container_dict(spec: "ContainerSpec", image_id: str) -> dict[str, Any]:
    """A ContainerSpec as the normalized dict that is hashed and diffed (defaults left out)."""
    out: dict[str, Any] = {}
    for k in spec.FIELDS:
        if k == "name":
            continue
        v = getattr(spec, k)
        if v is None or v is False or v == [] or v == {} or v == "":
            continue
        if k == "labels":
            v = {lk: lv for lk, lv in v.items() if lk not in VOLATILE_LABELS}
            if not v:
                continue
        out[k] = v
    out["image_id"] = image_id
    return out


def build(engine: "Engine", inputs: "Inputs", stack: str) -> Desired:
    desired = Desired(stack)
    images = Images(engine)
    for group in inputs.compose:
        _compose(engine, desired, group, images)
    if inputs.kube:
        _kube(engine, desired, inputs, images)
    _check_names(desired)
    desired.graph  # noqa: B018 - unknown dependencies and cycles fail here, before anything runs
    return desired


def _check_names(desired: Desired) -> None:
    """Two resources the engine would give one name (a compose container_name equal to a kube
    pod's container) are the same resource declared twice."""
    from .observe import FAMILY
    seen: dict[str, Resource] = {}
    for r in desired.resources.values():
        if r.external or (r.kind == "config" and "/" in r.name):
            continue
        key = f"{FAMILY[r.kind]}/{r.name}"
        other = seen.get(key)
        if other is not None:
            raise ConfigError(f"{FAMILY[r.kind]} name {r.name!r} is declared twice: as {other.rid} in "
                              f"{other.source} and as {r.rid} in {r.source}")
        seen[key] = r


# ---- Kubernetes ------------------------------------------------------------------------------

def _kube(engine: "Engine", desired: Desired, inputs: "Inputs", images: Images) -> None:
    from podium.declare.yamlload import load_documents

    from .kube import convert
    from .kube.loader import Loaded, load_documents as kube_documents

    docs = []
    for src in inputs.kube:
        docs += load_documents(src.text, src.path)
    loaded = kube_documents(docs)
    desired.warnings += loaded.warnings
    workloads = loaded.of(*convert.WORKLOADS)
    shared = [o for o in loaded.objects if o.kind in ("ConfigMap", "Secret", "Service")]
    for o in loaded.of("PersistentVolumeClaim"):
        labels = {**o.model.metadata.labels, convert.LABEL_CLAIM: "true"}
        if o.model.metadata.annotations.get(L_PRUNE) == PRUNE_DISABLED:
            labels[L_PRUNE] = PRUNE_DISABLED
        desired.add(Resource("volume", o.name, o.doc.source, {"labels": labels},
                             payload={"labels": labels}))
    groups: dict[str, list[Any]] = {}
    for o in workloads:
        groups.setdefault(_pod_annotations(o).get(ANN_NETWORK, ""), []).append(o)
    for network, objs in sorted(groups.items()):
        sub = Loaded()
        sub.objects = objs + shared
        plan = convert.build(sub, engine, convert.Options(network=network or None))
        for w in plan.warnings:
            if w not in desired.warnings:
                desired.warnings.append(w)
        for pod in plan.pods:
            _kube_pod(desired, pod, images, network)


def _pod_annotations(obj: Any) -> dict[str, str]:
    model = obj.model
    out = dict(model.metadata.annotations)
    if obj.kind != "Pod":
        out.update(model.spec.template.metadata.annotations)
    return out


def _kube_pod(desired: Desired, pod: Any, images: Images, network: str) -> None:
    from .kube import convert
    LABEL_CLAIM = convert.LABEL_CLAIM
    SUBPATH_KEY = getattr(convert, "SUBPATH_KEY", "kube_subpath")  # older converters: resolved here

    source = pod.doc.source
    keep = pod.create.get("labels", {}).get(L_PRUNE) == PRUNE_DISABLED or \
        any(s.annotations.get(L_PRUNE) == PRUNE_DISABLED for s in pod.containers + pod.init)
    net_deps = []
    for n in [x for x in network.split(",") if x]:
        net_deps.append(Dep(f"network/{n}", "created", hard=True))
        if desired.get(f"network/{n}") is None:
            desired.add(Resource("network", n, source, {}, external=True))
    vol_deps: dict[str, Dep] = {}
    for v in pod.volumes:
        kind = "volume" if v.kind == "emptyDir" else "config"
        labels = dict(v.labels)
        if keep:
            labels[L_PRUNE] = PRUNE_DISABLED
        spec: dict[str, Any] = {"labels": labels}
        if v.files is not None:
            spec["files"] = {rel: [hashlib.sha256(data).hexdigest(), mode] for rel, (data, mode) in v.files.items()}
        if v.subdirs:
            spec["subdirs"] = sorted(v.subdirs)
        desired.add(Resource(kind, v.name, source, spec, payload=v, pod=pod.name))
        vol_deps[v.name] = Dep(f"{kind}/{v.name}", "created")
    members: dict[str, Any] = {"init": {}, "containers": {}}
    specs = []
    for group, items in (("init", pod.init), ("containers", pod.containers)):
        for s in items:
            d = container_dict(s, images.id(s.image, who=f"pod {pod.name} container {s.name}", source=source))
            members[group][s.name] = d
            specs.append((group, s, d))
    create = {k: v for k, v in pod.create.items() if k != "name" and v not in (None, [], {}, "")}
    if keep:
        create["labels"] = {**create.get("labels", {}), L_PRUNE: PRUNE_DISABLED}
    pod_spec = {**create, **{k: v for k, v in members.items() if v}}
    if pod.host_paths:
        pod_spec["host_paths"] = sorted(hp.path for hp in pod.host_paths)
    workload = f"kube/{pod.owner}"
    desired.add(Resource("pod", pod.name, source, pod_spec, deps=net_deps,
                         payload=pod, pod=pod.name, group=workload))
    previous_inits: list[str] = []
    for group, s, d in specs:
        deps = [Dep(f"pod/{pod.name}", "created", hard=True)]
        for m in s.mounts:
            name = m.get("volume") or (m.get(SUBPATH_KEY) or {}).get("volume")
            if name in vol_deps:
                deps.append(vol_deps[name])
            elif name and desired.get(f"volume/{name}") is not None:
                deps.append(Dep(f"volume/{name}", "created"))
            elif name:   # a claim no PersistentVolumeClaim declares: the stack makes it
                labels = {LABEL_CLAIM: "true", **({L_PRUNE: PRUNE_DISABLED} if keep else {})}
                desired.add(Resource("volume", name, source, {"labels": labels}, payload={"labels": labels}))
                deps.append(Dep(f"volume/{name}", "created"))
        if group == "init":
            if previous_inits:
                deps.append(Dep(previous_inits[-1], "completed"))
            rid_kind = "init"
        else:
            deps += [Dep(i, "completed") for i in previous_inits]
            rid_kind = "container"
        r = Resource(rid_kind, s.name, source, d, deps=deps, payload=s, pod=pod.name,
                     one_shot=group == "init", group=workload)
        if keep:
            r.payload.labels[L_PRUNE] = PRUNE_DISABLED
        desired.add(r)
        if group == "init":
            previous_inits.append(r.rid)


# ---- compose ---------------------------------------------------------------------------------

def _load_compose(group: "ComposeGroup") -> Any:
    from .compose.load import load_project

    if not any(s.template for s in group.files):
        return load_project([s.path for s in group.files], project_dir=group.directory)
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="podium-render-")
    try:
        paths = {}
        for s in group.files:
            p = os.path.join(tmp, s.name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(s.text)
            paths[p] = s.path
        try:
            return load_project(list(paths), project_dir=group.directory)
        except PodiumError as exc:
            text = str(exc)
            for p, orig in paths.items():
                text = text.replace(p, orig)
            raise ConfigError(text) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compose(engine: "Engine", desired: Desired, group: "ComposeGroup", images: Images) -> None:
    from .compose import convert as cv

    project = _load_compose(group)
    source = ", ".join(s.path for s in group.files)
    desired.warnings += project.warnings
    names = list(project.services)
    used_nets = {k for n in names for k in project.services[n].networks}
    used_vols = {vm.source for n in names for vm in project.services[n].volumes
                 if vm.type == "volume" and vm.source}
    for n in cv.networks(project):
        if n.key not in used_nets:
            continue
        if n.external:
            desired.add(Resource("network", n.name, source, {}, external=True))
            continue
        desired.add(Resource("network", n.name, source, dict(n.create), payload=dict(n.create)))
    for v in cv.volumes(project):
        if v.key not in used_vols:
            continue
        if v.external:
            desired.add(Resource("volume", v.name, source, {}, external=True))
            continue
        desired.add(Resource("volume", v.name, source, dict(v.create), payload=dict(v.create)))
    base = files_dir(str(engine.paths.root), desired.stack)
    sources: dict[tuple[str, str, str], str] = {}
    config_deps: dict[str, list[Dep]] = {}
    for name in names:
        svc = project.services[name]
        for kind, key, ref in cv.secret_refs(svc):
            data = cv.secret_content(project, kind, key)
            mode = cv.secret_mode(kind, ref)
            rel = f"{project.name}/{kind}s/{key}.{mode:o}.{ref.uid or ''}.{ref.gid or ''}"
            path = os.path.join(base, rel)
            sources[(kind, key, ref.target)] = path
            rid = f"config/{rel}"
            if desired.get(rid) is None:
                spec = {"sha256": hashlib.sha256(data).hexdigest(), "mode": mode,
                        "uid": ref.uid, "gid": ref.gid}
                desired.add(Resource("config", rel, source, spec,
                                     payload={"path": path, "data": data, "mode": mode,
                                              "uid": ref.uid, "gid": ref.gid}))
            config_deps.setdefault(name, []).append(Dep(rid, "created"))
    awaited_done = {dep for s in project.services.values() for dep, d in s.depends_on.items()
                    if d.condition == "service_completed_successfully"}
    for warning in (w for n in names for w in cv.warnings_for(project.services[n])):
        desired.warnings.append(warning)
    for name in names:
        svc = project.services[name]
        if svc.image is None:
            raise ConfigError(f"{source}: service {name!r} has no image: build is not supported by apply yet, "
                              "set image:")
        image_id = images.id(svc.image, who=f"service {name!r}", source=source)
        deps = [Dep(f"network/{project.networks[k].name}", "created", hard=True) for k in svc.networks]
        for vm in svc.volumes:
            if vm.type == "volume" and vm.source:
                deps.append(Dep(f"volume/{project.volumes[vm.source].name}", "created"))
        deps += config_deps.get(name, [])
        cond = {"service_started": "started", "service_healthy": "healthy",
                "service_completed_successfully": "completed"}
        for dep, d in svc.depends_on.items():
            other = project.services[dep]
            for n in range(1, other.scale + 1):
                deps.append(Dep(f"container/{cv.container_name(project, other, n)}", cond[d.condition],
                                hard=d.restart))
        mode = svc.network_mode or ""
        if mode.startswith("service:"):
            other = project.services[mode[8:]]
            deps.append(Dep(f"container/{cv.container_name(project, other, 1)}", "started", hard=True))
        fixed = any(p.published for p in svc.ports) or any(n.ipv4_address for n in svc.networks.values())
        for n in range(1, svc.scale + 1):
            cname = cv.container_name(project, svc, n)
            spec = cv.container_spec(project, svc, n, config_hash="", secret_sources=sources, name=cname)
            if svc.labels.get(L_PRUNE) == PRUNE_DISABLED:
                spec.labels[L_PRUNE] = PRUNE_DISABLED
            desired.add(Resource("container", cname, source, container_dict(spec, image_id), deps=list(deps),
                                 payload=spec, one_shot=name in awaited_done, replace_first=fixed,
                                 group=f"compose/{project.name}/{name}"))
