"""A Plan (convert.py) onto the engine: ``play`` creates and starts, ``down`` removes.

``play`` first checks that nothing it would make exists already (the pods and
their containers' names), then makes claims, host paths, the pods' volumes
(writing configMap and secret files with their modes, fsGroup applied), the
pods (their addresses allocated at once when ``status.podIP`` is asked for) and
their containers, and starts the pods side by side, one worker process each:
in a pod, init containers one at a time, each to a zero exit (then removed, as
Podman's default ``once`` init containers are), then the app containers.
Whatever fails on the way, everything this play made is removed again before
the error is raised: nothing is left half-created.

``down`` removes the pods an input declares (side by side too), with the
volumes made for them (configMap, secret and emptyDir volumes);
PersistentVolumeClaim volumes keep their data and go only with ``force``.
``build_images`` is ``--build``: images built from directories next to the YAML.
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
            started = fan_out(engine, made, lambda eng, m: _start(eng, m[0], m[2], m[3], m[1].get("infra_id")))
            failed = [exc for _, _, exc in started if exc is not None]
            if failed:
                raise failed[0]
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


def fan_out(engine: "Engine", items: list[Any], fn: "Callable[[Engine, Any], Any]", *,
            limit: int | None = None) -> list[tuple[Any, Any, PodiumError | None]]:
    """``fn(engine, item)`` for every item, each in a forked child with its own engine, a few at once.

    Pods are independent once created, and most of a start or a stop is spent
    waiting for runc and conmon: a 10-pod file took ten times one pod. Children
    are processes, not threads: a network set-up or teardown forks and takes
    host-wide locks, which only a single-threaded process may fork safely, and
    the store's SQLite connection must not cross a fork (each child opens its
    own and leaves through ``os._exit``). Returns (item, result, error) per item,
    in order; ``result`` is what ``fn`` returned (JSON-able).
    """
    import json
    import select

    from podium.engine import errors as errors_mod

    if len(items) <= 1:
        out: list[tuple[Any, Any, PodiumError | None]] = []
        for item in items:
            try:
                out.append((item, fn(engine, item), None))
            except PodiumError as exc:
                out.append((item, None, exc))
        return out
    from podium.engine.engine import Engine
    limit = limit or max(2, min(8, 2 * (os.cpu_count() or 1)))
    results: dict[int, tuple[Any, PodiumError | None]] = {}
    running: dict[int, tuple[int, int, list[bytes]]] = {}  # read fd -> (index, pid, chunks)
    queue = list(enumerate(items))
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        while queue or running:
            while queue and len(running) < limit:
                index, item = queue.pop(0)
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: its own engine, one JSON line back, no cleanup handlers
                    os.close(r)
                    try:
                        eng = Engine(root=str(engine.paths.root), runroot=str(engine.paths.runroot),
                                     runtime=engine.runtime_override)
                        msg = {"result": fn(eng, item)}
                    except PodiumError as exc:
                        msg = {"type": type(exc).__name__, "error": str(exc)}
                    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
                        msg = {"type": "RuntimeFailure", "error": f"{type(exc).__name__}: {exc}"}
                    try:
                        os.write(w, json.dumps(msg, default=str).encode())
                    finally:
                        os._exit(0)
                os.close(w)
                running[r] = (index, pid, [])
            ready, _, _ = select.select(list(running), [], [])
            for r in ready:
                chunk = os.read(r, 65536)
                if chunk:
                    running[r][2].append(chunk)
                    continue
                index, pid, chunks = running.pop(r)
                os.close(r)
                os.waitpid(pid, 0)
                try:
                    msg = json.loads(b"".join(chunks) or b"{}")
                except ValueError:
                    msg = {}
                if "result" in msg:
                    results[index] = (msg["result"], None)
                else:
                    cls = getattr(errors_mod, msg.get("type", ""), None)
                    if not (isinstance(cls, type) and issubclass(cls, PodiumError)):
                        cls = RuntimeFailure
                    results[index] = (None, cls(msg.get("error") or "the worker process died"))
    finally:
        for r, (_, pid, _) in running.items():  # interrupted: let the children finish their step
            os.close(r)
            os.waitpid(pid, 0)
    return [(item, *results[i]) for i, item in enumerate(items)]


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


def _start(engine: "Engine", pod: PodPlan, init_ids: list[str], app_ids: list[str],
           infra_id: str | None = None) -> None:
    """Infra, init containers one by one (each to exit 0), then the app containers side by side."""
    from podium.engine import lifecycle

    if infra_id:
        lifecycle.start(engine, infra_id)
    for spec, cid in zip(pod.init, init_ids):
        lifecycle.start(engine, cid)
        code = lifecycle.wait(engine, cid)
        if code != 0:
            raise RuntimeFailure(f"pod {pod.name}: init container {spec.annotations.get('io.podium.kube.name')!r} "
                                 f"exited with code {code}{_last_log(engine, cid)}: the pod was not started")
        engine.containers.remove(cid, force=True, volumes=True)
    for cid, _, exc in fan_out(engine, app_ids, lambda eng, c: lifecycle.start(eng, c) and None):
        if exc is not None:
            raise exc


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
    def take_down(eng: "Engine", pod: dict[str, Any]) -> dict[str, bool]:
        try:
            eng.pods.stop(pod["id"], timeout=None)
            stopped = True
        except PodiumError:
            stopped = False
        eng.pods.remove(pod["id"], force=True)
        return {"stopped": stopped}

    pods = [existing[n] for n in wanted if n in existing]
    for pod, result, exc in fan_out(engine, pods, take_down):
        if result is not None and result.get("stopped"):
            report["StopReport"].append(pod["id"])
        if exc is None:
            report["RmReport"].append(pod["id"])
            removed.add(pod["name"])
        else:
            errors.append(f"pod {pod['name']}: {exc}")
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
