"""A Plan (convert.py) onto the engine: ``play`` creates and starts, ``down`` removes.

``play`` first checks that nothing it would make exists already (the pods and
their containers' names), then makes claims, host paths, the pods' volumes
(writing configMap and secret files with their modes), the pods and their
containers, and starts them: init containers one at a time, each to a zero
exit (then removed, as Podman's default ``once`` init containers are), then
the app containers. Whatever fails on the way, everything this play made is
removed again before the error is raised: nothing is left half-created.

``down`` removes the pods an input declares, with the volumes made for them
(configMap, secret and emptyDir volumes); PersistentVolumeClaim volumes keep
their data and go only with ``force``.
"""

from __future__ import annotations

import os

from podium.engine.errors import AlreadyExists, ConfigError, NotFound, PodiumError, RuntimeFailure

from .convert import LABEL_POD, POD_IP, WORKLOADS, Plan, PodPlan, pod_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from podium.engine.engine import Engine

    from .loader import Loaded


class Undo:
    """What this play made, undone newest first."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], Any]] = []

    def add(self, fn: Callable[[], Any]) -> None:
        self.steps.append(fn)

    def run(self) -> None:
        for fn in reversed(self.steps):
            try:
                fn()
            except (PodiumError, OSError):
                pass
        self.steps.clear()


def check_conflicts(engine: "Engine", plan: Plan, source: str) -> None:
    """Playing the same input twice is an error that names what exists (Podman's habit)."""
    pods = {p["name"] for p in engine.pods.list()}
    for pod in plan.pods:
        if pod.name in pods:
            raise AlreadyExists(f"pod {pod.name!r} already exists: remove it with 'podium kube down {source}' "
                                "or play with --replace")
    names = {c["name"] for c in engine.containers.list()}
    for pod in plan.pods:
        for spec in pod.init + pod.containers:
            if spec.name in names:
                raise AlreadyExists(f"container name {spec.name!r} (pod {pod.name}) is already in use: "
                                    "remove that container first")


def play(engine: "Engine", plan: Plan, *, start: bool = True, replace: bool = False,
         loaded: "Loaded | None" = None, source: str = "FILE") -> dict[str, Any]:
    if replace and loaded is not None:
        down(engine, loaded)
    check_conflicts(engine, plan, source)
    undo = Undo()
    report: dict[str, Any] = {"Pods": [], "Volumes": [], "Warnings": list(plan.warnings)}
    try:
        vols = engine.volumes
        for claim in plan.claims:
            if vols.get(claim.name) is None:
                vols.create(claim.name, labels=claim.labels)
                undo.add(lambda n=claim.name: vols.remove(n, force=True))
            report["Volumes"].append({"Name": claim.name})
        made: list[tuple[PodPlan, dict[str, Any], list[str], list[str]]] = []
        for pod in plan.pods:
            _host_paths(pod, undo)
            _pod_volumes(engine, pod, undo)
            rec = engine.pods.create(**pod.create)
            undo.add(lambda n=rec["id"]: engine.pods.remove(n, force=True, timeout=0))
            if pod.create.get("reserve_ip"):
                _fill_pod_ip(engine, pod, rec)
            init_ids = [engine.containers.create(s)["id"] for s in pod.init]
            app_ids = [engine.containers.create(s)["id"] for s in pod.containers]
            made.append((pod, rec, init_ids, app_ids))
        if start:
            for pod, rec, init_ids, app_ids in made:
                _start(engine, pod, init_ids, app_ids)
        for pod, rec, init_ids, app_ids in made:
            report["Pods"].append({"ID": rec["id"], "Name": pod.name, "Containers": app_ids,
                                   "InitContainers": [] if start else init_ids})
    except BaseException:
        undo.run()
        raise
    return report


def _fill_pod_ip(engine: "Engine", pod: PodPlan, rec: dict[str, Any]) -> None:
    """``fieldRef: status.podIP``: the address the pod got at create, in env, command and args."""
    ips = list(engine.pods.addresses(rec).values())
    ip = ips[0] if ips else ""
    for spec in pod.init + pod.containers:
        spec.env = {k: v.replace(POD_IP, ip) for k, v in spec.env.items()}
        for attr in ("entrypoint", "command"):
            value = getattr(spec, attr)
            if value:
                setattr(spec, attr, [a.replace(POD_IP, ip) for a in value])


def _host_paths(pod: PodPlan, undo: Undo) -> None:
    for hp in pod.host_paths:
        if os.path.lexists(hp.path):
            continue
        try:
            if hp.directory:
                parent = hp.path
                todo = []
                while parent and not os.path.exists(parent):
                    todo.append(parent)
                    parent = os.path.dirname(parent)
                for d in reversed(todo):
                    os.mkdir(d, 0o755)
                    undo.add(lambda d=d: os.rmdir(d))
            else:
                fd = os.open(hp.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.close(fd)
                undo.add(lambda p=hp.path: os.unlink(p))
        except OSError as exc:
            raise ConfigError(f"pod {pod.name}: cannot create hostPath {hp.path}: {exc.strerror}") from None


def _pod_volumes(engine: "Engine", pod: PodPlan, undo: Undo) -> None:
    """configMap/secret/emptyDir volumes of a pod, made and filled (subPath directories too)."""
    vols = engine.volumes
    for v in pod.volumes:
        existing = vols.get(v.name)
        if existing is not None and existing.get("labels", {}).get(LABEL_POD) != pod.name:
            raise AlreadyExists(f"volume {v.name!r} (volume {v.name.split(pod.name + '-', 1)[-1]!r} of pod "
                                f"{pod.name}) already exists and was not made for this pod: remove it first")
        if existing is None:
            vols.create(v.name, labels=v.labels)
            undo.add(lambda n=v.name: vols.remove(n, force=True))
        data = vols.data_dir(v.name)
        if v.kind == "emptyDir":
            os.chmod(data, 0o777)  # as the kubelet makes them: any runAsUser may write
        if v.files is not None:
            _write_files(data, v.files)
        for sub in v.subdirs:
            os.makedirs(os.path.join(data, sub), exist_ok=True)
        if pod.fs_group is not None:
            _give_group(data, pod.fs_group)


def _give_group(root: str, gid: int) -> None:
    """fsGroup, as the kubelet applies it: the volume's files belong to the group, directories setgid."""
    import stat as st_
    for dirpath, dirs, files in os.walk(root):
        os.chown(dirpath, -1, gid)
        os.chmod(dirpath, st_.S_IMODE(os.stat(dirpath).st_mode) | 0o2070)
        for f in files:
            p = os.path.join(dirpath, f)
            os.chown(p, -1, gid, follow_symlinks=False)


def _write_files(root: str, files: dict[str, tuple[bytes, int]]) -> None:
    """The keys of a configMap or secret as files with their modes; the old content goes first."""
    import shutil
    for name in os.listdir(root):
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for rel, (content, mode) in sorted(files.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, content)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)


def _start(engine: "Engine", pod: PodPlan, init_ids: list[str], app_ids: list[str]) -> None:
    from podium.engine import lifecycle

    for spec, cid in zip(pod.init, init_ids):
        lifecycle.start(engine, cid)
        code = lifecycle.wait(engine, cid)
        if code != 0:
            raise RuntimeFailure(f"pod {pod.name}: init container {spec.annotations.get('io.podium.kube.name')!r} "
                                 f"exited with code {code}{_last_log(engine, cid)}: the pod was not started")
        engine.containers.remove(cid, force=True, volumes=True)
    for cid in app_ids:
        lifecycle.start(engine, cid)


def _last_log(engine: "Engine", cid: str) -> str:
    try:
        from podium.engine import logs
        lines = [ln.text for ln in logs.read(engine, cid, tail=3, since=None)]
    except (PodiumError, OSError):
        return ""
    text = " | ".join(ln.strip() for ln in lines if ln.strip())
    return f" (last output: {text[:300]})" if text else ""


# ---- down -----------------------------------------------------------------------------------

def down(engine: "Engine", loaded: "Loaded", *, force: bool = False) -> dict[str, Any]:
    """Remove the pods the input declares and the volumes made for them."""
    import re

    wanted: list[str] = []
    patterns = []
    for obj in loaded.of(*WORKLOADS):
        wanted += pod_names(obj)
        if obj.kind in ("Deployment", "Job"):
            patterns.append(re.compile(re.escape(obj.name) + r"-pod-\d+"))
    existing = {p["name"]: p for p in engine.pods.list()}
    for name in sorted(existing):
        if name not in wanted and any(p.fullmatch(name) for p in patterns):
            wanted.append(name)  # replicas from an earlier, larger play
    report: dict[str, Any] = {"StopReport": [], "RmReport": [], "VolumeRmReport": []}
    errors = []
    removed = set()
    for name in wanted:
        pod = existing.get(name)
        if pod is None:
            continue
        try:
            engine.pods.stop(pod["id"], timeout=None)
            report["StopReport"].append(pod["id"])
        except PodiumError:
            pass
        try:
            engine.pods.remove(pod["id"], force=True)
            report["RmReport"].append(pod["id"])
            removed.add(name)
        except PodiumError as exc:
            errors.append(f"pod {name}: {exc}")
    vols = engine.volumes
    claims = {o.name for o in loaded.of("PersistentVolumeClaim")}
    for v in vols.list():
        labels = v.get("labels") or {}
        mine = labels.get(LABEL_POD) in wanted
        claim = force and v["name"] in claims
        if mine or claim:
            try:
                vols.remove(v["name"], force=True)
                report["VolumeRmReport"].append(v["name"])
            except (PodiumError, NotFound) as exc:
                errors.append(f"volume {v['name']}: {exc}")
    if errors:
        raise RuntimeFailure("kube down: " + "; ".join(errors))
    return report


# ---- --build ------------------------------------------------------------------------------

def build_dir(image: str, yaml_dir: str) -> str | None:
    """Podman's rule: a directory named after the image (its last path component, no tag), next
    to the YAML, holding a Containerfile or Dockerfile, is the image's build context."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    if not name:
        return None
    d = os.path.join(yaml_dir, name)
    if any(os.path.isfile(os.path.join(d, f)) for f in ("Containerfile", "Dockerfile")):
        return d
    return None


def build_images(engine: "Engine", loaded: "Loaded", *, mode: str,
                 progress: "Callable[[str], None] | None" = None) -> list[str]:
    """``--build``: build the images that have a build directory (``always``), or only those not in
    local storage (``missing``, the default); ``never`` builds nothing. Returns the images built."""
    if mode == "never":
        return []
    built: list[str] = []
    for obj in loaded.of(*WORKLOADS):
        if obj.doc.source in ("<stdin>", "-"):
            continue
        spec = obj.model.spec if obj.kind == "Pod" else obj.model.spec.template.spec
        yaml_dir = os.path.dirname(os.path.abspath(obj.doc.source))
        for c in spec.init_containers + spec.containers:
            if not c.image or c.image in built:
                continue
            context = build_dir(c.image, yaml_dir)
            if context is None:
                continue
            if mode == "missing":
                try:
                    engine.images.resolve(c.image)
                    continue
                except NotFound:
                    pass
            from podium.engine.build import build
            build(engine, context, tags=[c.image], progress=progress)
            built.append(c.image)
    return built
