"""Loaded Kubernetes objects -> a Plan of engine calls, deciding everything and creating nothing.

Pods, Deployments (``replicas`` pods), DaemonSets (one pod) and Jobs
(``completions`` pods) become ``PodPlan``s: the options of ``pods.create``, one
``ContainerSpec`` per init and app container and the volumes to make first.
ConfigMaps and Secrets are looked up here (env, envFrom, volumes) and never
stored; PersistentVolumeClaims become named volumes; a Service's ``nodePort``
publishes on the pods it selects. Names follow Podman 4 (this host's Podman):
pod ``metadata.name``; Deployment ``<name>-pod-<i>``, Job ``<name>-pod-<i>``;
DaemonSet ``<name>-pod``; containers ``<pod>-<container>``.

The engine is only read here (images, to check they exist and to know their
user; nothing else), so a bad file fails before anything is created. Each
error names the file, line, column and field.
"""

from __future__ import annotations

import base64
import os
import re
import stat

from podium.engine.errors import ConfigError, NotFound
from podium.engine.spec import ContainerSpec

from . import quantity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from podium.declare.yamlload import Document
    from podium.engine.engine import Engine

    from . import models as m
    from .loader import KubeObject, Loaded

# podium's own bookkeeping, kept next to the user's labels and annotations
ANN_NAME = "io.podium.kube.name"          # container: its name as declared
ANN_INIT = "io.podium.kube.init"          # container: "true" for an init container
ANN_OWNER = "io.podium.kube.owner"        # container: "Kind/name" that declared its pod
LABEL_POD = "io.podium.kube.pod"          # volume: the pod it was made for (removed with it)
LABEL_CLAIM = "io.podium.kube.claim"      # volume: made from a PersistentVolumeClaim
LABEL_SOURCE = "io.podium.kube.source"    # volume: "emptyDir", "configMap/<name>" or "secret/<name>"
ANN_PROBES = "io.podium.kube.probes"      # container: the probes as declared (JSON), for generate
ANN_READINESS = "io.podium.readiness"     # container: the readiness check podium runs (JSON; engine.pods.READINESS)
ANN_STARTUP = "io.podium.startup"         # container: "true" when a startup probe gates the health check
ANN_FS_GROUP = "io.podium.kube.fsgroup"   # container: the pod's fsGroup (also a supplementary group)
ANN_PORTS = "io.podium.kube.ports"        # container: its declared ports (JSON), for generate
POD_IP = "@@podium:status.podIP@@"        # replaced by play.py with the address the pod got at create
STARTED_MARK = "/dev/shm/.podium-started"  # inside the container: its startup probe has passed
SECCOMP_ROOT = "/var/lib/kubelet/seccomp"  # where a relative Localhost profile is looked up (the kubelet's)

RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                   "CharDevice", "BlockDevice")


class VolumePlan:
    """A volume to make: ``files`` (path -> (bytes, mode)) for configMap/secret, ``None`` otherwise."""

    def __init__(self, name: str, *, kind: str, labels: dict[str, str],
                 files: dict[str, tuple[bytes, int]] | None = None, subdirs: list[str] | None = None) -> None:
        self.name = name
        self.kind = kind        # configMap | secret | emptyDir | claim
        self.labels = labels
        self.files = files
        self.subdirs = list(subdirs or [])   # created inside (volumeMount subPath)

    def __repr__(self) -> str:
        return f"VolumePlan({self.name!r}, kind={self.kind!r})"


class HostPathPlan:
    """A hostPath the play must create (``DirectoryOrCreate``/``FileOrCreate``, or a subPath)."""

    def __init__(self, path: str, *, directory: bool) -> None:
        self.path = path
        self.directory = directory

    def __repr__(self) -> str:
        return f"HostPathPlan({self.path!r}, directory={self.directory})"


class PodPlan:
    def __init__(self, name: str, *, owner: str, doc: "Document", create: dict[str, Any]) -> None:
        self.name = name
        self.owner = owner          # "Deployment/web"
        self.doc = doc
        self.create = create        # keyword arguments of engine.pods.create
        self.init: list[ContainerSpec] = []
        self.containers: list[ContainerSpec] = []
        self.volumes: list[VolumePlan] = []
        self.host_paths: list[HostPathPlan] = []
        self.labels: dict[str, str] = {}
        self.fs_group: int | None = None   # the group the pod's volumes are given (kubelet's fsGroup)

    def __repr__(self) -> str:
        return f"PodPlan({self.name!r}, init={len(self.init)}, containers={len(self.containers)})"


class Plan:
    def __init__(self) -> None:
        self.pods: list[PodPlan] = []
        self.claims: list[VolumePlan] = []
        self.warnings: list[str] = []

    def pod_names(self) -> list[str]:
        return [p.name for p in self.pods]


class Options:
    """What the command line adds to the files."""

    def __init__(self, *, network: str | None = None, publish: list[str] | None = None,
                 host_ip: str | None = None) -> None:
        self.network = network
        self.publish = list(publish or [])
        self.host_ip = host_ip


def pod_names(obj: "KubeObject") -> list[str]:
    """The pods an object makes (Podman 4's names)."""
    if obj.kind == "Pod":
        return [obj.name]
    if obj.kind == "Deployment":
        return [f"{obj.name}-pod-{i}" for i in range(obj.model.spec.replicas)]
    if obj.kind == "Job":
        return [f"{obj.name}-pod-{i}" for i in range(obj.model.spec.completions)]
    if obj.kind == "DaemonSet":
        return [f"{obj.name}-pod"]
    return []


WORKLOADS = ("Pod", "Deployment", "DaemonSet", "Job")


# ---- the entry point --------------------------------------------------------------------

def build(loaded: "Loaded", engine: "Engine", options: Options | None = None) -> Plan:
    options = options or Options()
    plan = Plan()
    configmaps = {o.name: o for o in loaded.of("ConfigMap")}
    secrets = {o.name: o for o in loaded.of("Secret")}
    for o in loaded.of("PersistentVolumeClaim"):
        plan.claims.append(VolumePlan(o.name, kind="claim",
                                      labels={**o.model.metadata.labels, LABEL_CLAIM: "true"}))
    data = Lookups(configmaps, secrets)
    images = ImageCache(engine)
    seen: dict[str, str] = {}
    workloads = loaded.of(*WORKLOADS)
    if not workloads and not plan.claims:
        kinds = sorted({o.kind for o in loaded.objects})
        if kinds and set(kinds) <= {"ConfigMap", "Secret"}:
            raise ConfigError("ConfigMaps and Secrets are not standalone objects here: they are used by "
                              "the pods that refer to them, and the input has no pod")
        raise ConfigError("the input holds no supported workload (Pod, Deployment, DaemonSet, Job) "
                          "or PersistentVolumeClaim")
    for obj in workloads:
        for i, name in enumerate(pod_names(obj)):
            if name in seen:
                raise obj.doc.error(("metadata", "name"), f"pod {name!r} would be made twice "
                                                          f"(also by {seen[name]})")
            seen[name] = f"{obj.kind}/{obj.name}"
            plan.pods.append(PodBuilder(obj, name, i, data=data, images=images, options=options,
                                        warnings=plan.warnings).build())
    _services(loaded, plan)
    return plan


class Lookups:
    """ConfigMap and Secret data, decoded, with located errors for what is missing."""

    def __init__(self, configmaps: dict[str, "KubeObject"], secrets: dict[str, "KubeObject"]) -> None:
        self.configmaps = configmaps
        self.secrets = secrets
        self._decoded: dict[str, dict[str, bytes]] = {}

    def configmap(self, name: str) -> dict[str, bytes] | None:
        o = self.configmaps.get(name)
        if o is None:
            return None
        out = {k: v.encode() for k, v in o.model.data.items()}
        for k, v in o.model.binary_data.items():
            out[k] = _b64(o, ("binaryData", k), v)
        return out

    def secret(self, name: str) -> dict[str, bytes] | None:
        o = self.secrets.get(name)
        if o is None:
            return None
        if name not in self._decoded:
            out = {k: _b64(o, ("data", k), v) for k, v in o.model.data.items()}
            out.update({k: v.encode() for k, v in o.model.string_data.items()})
            self._decoded[name] = out
        return self._decoded[name]


def _b64(o: "KubeObject", path: tuple[Any, ...], value: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except ValueError:
        raise o.doc.error(path, "invalid base64 data") from None


class ImageCache:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self._configs: dict[str, dict[str, Any]] = {}

    def config(self, ref: str, policy: str | None = None) -> dict[str, Any]:
        if ref not in self._configs:
            images = self.engine.images
            # imagePullPolicy as podman kube play reads it: unset means IfNotPresent
            if policy in (None, "IfNotPresent"):
                try:
                    image = images.resolve(ref)
                except NotFound:
                    image = images.ensure(ref, "missing")
            else:
                image = images.ensure(ref, policy)
            self._configs[ref] = images.config_of(image) or {}
        return self._configs[ref]


# ---- one pod ----------------------------------------------------------------------------

class PodBuilder:
    def __init__(self, obj: "KubeObject", name: str, index: int, *, data: Lookups, images: ImageCache,
                 options: Options, warnings: list[str]) -> None:
        self.obj = obj
        self.doc = obj.doc
        self.name = name
        self.index = index
        self.data = data
        self.images = images
        self.options = options
        self.warnings = warnings
        model = obj.model
        if obj.kind == "Pod":
            self.base: tuple[Any, ...] = ("spec",)
            self.spec: m.PodSpec = model.spec
            self.meta_path: tuple[Any, ...] = ("metadata",)
            self.labels = dict(model.metadata.labels)
            self.annotations = dict(model.metadata.annotations)
        else:
            self.base = ("spec", "template", "spec")
            self.spec = model.spec.template.spec
            self.meta_path = ("spec", "template", "metadata")
            tmeta = model.spec.template.metadata
            self.labels = dict(tmeta.labels)
            self.annotations = {**model.metadata.annotations, **tmeta.annotations}
            selector = getattr(model.spec, "selector", None)
            if selector is not None:
                for k, v in selector.match_labels.items():
                    if self.labels.get(k) != v:
                        raise self.doc.error(("spec", "selector", "matchLabels", k),
                                             f"selector {k}={v} does not match the template's labels")
        self.namespace = model.metadata.namespace or "default"

    # -- helpers
    def err(self, path: tuple[Any, ...], message: str) -> ConfigError:
        return self.doc.error(self.base + path, message)

    def warn(self, path: tuple[Any, ...], message: str) -> None:
        w = str(self.doc.error(self.base + path, message, key=True))
        if w not in self.warnings:
            self.warnings.append(w)

    # -- the pod
    def build(self) -> PodPlan:
        spec = self.spec
        if self.obj.kind == "Job" and spec.restart_policy == "Always":
            raise self.err(("restartPolicy",), "a Job's pods need restartPolicy OnFailure or Never")
        names: dict[str, tuple[Any, ...]] = {}
        for group in ("initContainers", "containers"):
            for i, c in enumerate(spec.init_containers if group == "initContainers" else spec.containers):
                if c.name in names:
                    raise self.err((group, i, "name"), f"duplicate container name {c.name!r}")
                names[c.name] = (group, i)
        share = "net,ipc,uts,pid" if spec.share_process_namespace else None
        network = self.options.network
        if spec.host_network:
            network = "host"
        if spec.host_pid and spec.share_process_namespace:
            raise self.err(("hostPID",), "hostPID and shareProcessNamespace cannot both be set")
        hosts = []
        for k, ha in enumerate(spec.host_aliases):
            if not _is_ip(ha.ip):
                raise self.err(("hostAliases", k, "ip"), f"{ha.ip!r} is not an IP address")
            hosts += [f"{h}:{ha.ip}" for h in ha.hostnames]
        dns: dict[str, Any] = {}
        if spec.dns_policy == "None" and spec.dns_config is None:
            raise self.err(("dnsPolicy",), "dnsPolicy None needs a dnsConfig")
        if spec.dns_config is not None:
            dc = spec.dns_config
            for k, ns in enumerate(dc.nameservers):
                if not _is_ip(ns):
                    raise self.err(("dnsConfig", "nameservers", k), f"{ns!r} is not an IP address")
            if dc.nameservers:
                dns["dns"] = list(dc.nameservers)
            if dc.searches:
                dns["dns_search"] = list(dc.searches)
            if dc.options:
                dns["dns_options"] = [o.name + (f":{o.value}" if o.value is not None else "") for o in dc.options]
        plan = PodPlan(self.name, owner=f"{self.obj.kind}/{self.obj.name}", doc=self.doc, create={
            "name": self.name, "hostname": spec.hostname or None, "share": share,
            "labels": dict(self.labels), "ports": [], "network": network,
            "annotations": dict(self.annotations), "add_hosts": hosts, **dns,
            **({"ipc": "host"} if spec.host_ipc else {}),
        })
        plan.labels = dict(self.labels)
        plan.fs_group = spec.security_context.fs_group
        self.plan = plan
        self.volumes = self._volumes()
        ports: dict[tuple[str, int, str], tuple[Any, ...]] = {}
        for group, items in (("initContainers", spec.init_containers), ("containers", spec.containers)):
            for i, c in enumerate(items):
                cs = self.container(c, (group, i), init=group == "initContainers")
                (plan.init if group == "initContainers" else plan.containers).append(cs)
                for j, p in enumerate(c.ports):
                    if not p.host_port:
                        continue
                    if self.obj.kind == "Deployment" and self.obj.model.spec.replicas > 1:
                        raise self.err((group, i, "ports", j, "hostPort"),
                                       f"{self.obj.model.spec.replicas} replicas cannot all publish "
                                       f"host port {p.host_port}")
                    key = (p.host_ip or "", p.host_port, p.protocol)
                    if key in ports:
                        raise self.err((group, i, "ports", j, "hostPort"),
                                       f"host port {p.host_port}/{p.protocol} is published twice in the pod")
                    ports[key] = (group, i, "ports", j)
                    if p.protocol == "SCTP":
                        raise self.err((group, i, "ports", j, "protocol"), "SCTP ports cannot be published")
                    ip = p.host_ip or self.options.host_ip
                    plan.create["ports"].append(
                        f"{ip + ':' if ip else ''}{p.host_port}:{p.container_port}/{p.protocol.lower()}")
        plan.create["ports"] += self.options.publish
        if plan.create["ports"] and spec.host_network:
            raise self.err(("hostNetwork",), "a pod on the host's network cannot publish ports "
                                             "(its ports are the host's already)")
        return plan

    # -- volumes
    def _volumes(self) -> dict[str, tuple[int, "m.Volume"]]:
        out: dict[str, tuple[int, m.Volume]] = {}
        for k, v in enumerate(self.spec.volumes):
            if v.name in out:
                raise self.err(("volumes", k, "name"), f"duplicate volume name {v.name!r}")
            out[v.name] = (k, v)
            sources = [s for s in ("host_path", "empty_dir", "config_map", "secret", "persistent_volume_claim")
                       if getattr(v, s) is not None]
            if len(sources) > 1:
                raise self.err(("volumes", k), "a volume takes exactly one source")
            if v.host_path is not None:
                self._check_host_path(k, v.host_path)
        return out

    def _check_host_path(self, k: int, hp: "m.HostPathSource") -> None:
        path, kind = hp.path, hp.type
        where = ("volumes", k, "hostPath", "path")
        if not path.startswith("/"):
            raise self.err(where, f"hostPath {path!r} must be an absolute path")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise self.err(where, f"cannot check hostPath {path}: {exc.strerror}") from None
        want = {"Directory": (stat.S_ISDIR, "a directory"), "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
                "File": (stat.S_ISREG, "a file"), "FileOrCreate": (stat.S_ISREG, "a file"),
                "Socket": (stat.S_ISSOCK, "a socket"), "CharDevice": (stat.S_ISCHR, "a character device"),
                "BlockDevice": (stat.S_ISBLK, "a block device")}
        if st is None:
            if kind == "DirectoryOrCreate":
                self.plan.host_paths.append(HostPathPlan(path, directory=True))
                return
            if kind == "FileOrCreate":
                if not os.path.isdir(os.path.dirname(path)):
                    raise self.err(where, f"hostPath {path}: its directory does not exist (type FileOrCreate "
                                          "creates the file, not its parents)")
                self.plan.host_paths.append(HostPathPlan(path, directory=False))
                return
            hint = " (type DirectoryOrCreate or FileOrCreate creates it)" if kind in ("", "Directory", "File") else ""
            raise self.err(where, f"hostPath {path} does not exist{hint}")
        if kind in want and not want[kind][0](st.st_mode):
            raise self.err(where, f"hostPath {path} is not {want[kind][1]} (type: {kind})")

    def _mount(self, c: "m.Container", path: tuple[Any, ...], k: int, vm: "m.VolumeMount",
               spec: ContainerSpec) -> None:
        mpath = path + ("volumeMounts", k)
        if not vm.mount_path.startswith("/"):
            raise self.err(mpath + ("mountPath",), f"mountPath {vm.mount_path!r} must be an absolute path")
        if vm.name not in self.volumes:
            raise self.err(mpath + ("name",), f"no volume named {vm.name!r} in spec.volumes")
        sub = vm.sub_path
        if sub and (sub.startswith("/") or ".." in sub.split("/")):
            raise self.err(mpath + ("subPath",), f"subPath {sub!r} must be a relative path without '..'")
        if vm.mount_propagation not in (None, "None"):
            self.warn(mpath + ("mountPropagation",), "not supported yet: mounts are private")
        k_vol, vol = self.volumes[vm.name]
        vpath = ("volumes", k_vol)
        ro = vm.read_only
        dest = vm.mount_path

        def bind(source: str) -> None:
            spec.mounts.append({"type": "bind", "source": source, "destination": dest, "rw": not ro,
                                "options": ["rbind"] + (["ro"] if ro else [])})

        if vol.host_path is not None:
            source = vol.host_path.path
            if sub:
                source = os.path.join(source, sub)
                if not os.path.exists(source):
                    self.plan.host_paths.append(HostPathPlan(source, directory=True))
            bind(source)
            return
        if vol.persistent_volume_claim is not None:
            ro = ro or vol.persistent_volume_claim.read_only
            self._named(vol.persistent_volume_claim.claim_name, sub, dest, ro, spec, claim=True)
            return
        if vol.empty_dir is not None:
            if vol.empty_dir.medium == "Memory":
                if sub:
                    raise self.err(mpath + ("subPath",), "subPath is not supported on a Memory emptyDir")
                opts = ["rw", "nosuid", "nodev"]
                if vol.empty_dir.size_limit is not None:
                    try:
                        opts.append(f"size={quantity.memory_bytes(vol.empty_dir.size_limit)}")
                    except ValueError as exc:
                        raise self.err(vpath + ("emptyDir", "sizeLimit"), str(exc)) from None
                spec.mounts.append({"type": "tmpfs", "source": "tmpfs", "destination": dest,
                                    "options": opts, "rw": True})
                return
            vname = self._pod_volume(vol.name, "emptyDir", None, "emptyDir")
            self._named(vname, sub, dest, ro, spec)
            return
        if vol.config_map is not None or vol.secret is not None:
            files = self._files(vol, vpath)
            source = f"configMap/{vol.config_map.name}" if vol.config_map is not None \
                else f"secret/{vol.secret.secret_name}"  # type: ignore[union-attr]
            vname = self._pod_volume(vol.name, "configMap" if vol.config_map is not None else "secret", files, source)
            self._named(vname, sub, dest, True, spec, file=bool(sub and files is not None and sub in files))
            return
        raise self.err(vpath, "unsupported volume source: podium supports hostPath, emptyDir, configMap, "
                              "secret and persistentVolumeClaim")

    def _pod_volume(self, vol: str, kind: str, files: dict[str, tuple[bytes, int]] | None, source: str) -> str:
        name = f"{self.name}-{vol}"
        if not any(v.name == name for v in self.plan.volumes):
            self.plan.volumes.append(VolumePlan(name, kind=kind, labels={LABEL_POD: self.name, LABEL_SOURCE: source},
                                                files=files))
        return name

    def _named(self, name: str, sub: str, dest: str, ro: bool, spec: ContainerSpec, *,
               claim: bool = False, file: bool = False) -> None:
        if not sub:
            spec.mounts.append({"type": "volume", "volume": name, "anonymous": False, "destination": dest,
                                "rw": not ro})
            return
        # a subPath: the engine mounts that directory (made if missing) or file of the volume
        spec.mounts.append({"type": "volume", "volume": name, "anonymous": False, "destination": dest,
                            "rw": not ro, "subpath": sub})
        if not file:
            for v in self.plan.volumes:
                if v.name == name and sub not in v.subdirs:
                    v.subdirs.append(sub)

    def _files(self, vol: "m.Volume", vpath: tuple[Any, ...]) -> dict[str, tuple[bytes, int]]:
        if vol.config_map is not None:
            src, ref, what = vol.config_map, vol.config_map.name, "configMap"
            data = self.data.configmap(ref)
            spath = vpath + ("configMap",)
        else:
            src, ref, what = vol.secret, vol.secret.secret_name, "secret"  # type: ignore[union-attr]
            data = self.data.secret(ref)
            spath = vpath + ("secret",)
        if data is None:
            if src.optional:
                return {}
            raise self.err(spath + (("name",) if what == "configMap" else ("secretName",)),
                           f"{what} {ref!r} not found: declare it in the YAML or pass it with --configmap")
        mode = src.default_mode
        if not src.items:
            return {k: (v, mode) for k, v in sorted(data.items())}
        out: dict[str, tuple[bytes, int]] = {}
        for j, item in enumerate(src.items):
            if item.key not in data:
                if src.optional:
                    continue
                raise self.err(spath + ("items", j, "key"), f"{what} {ref!r} has no key {item.key!r}")
            p = item.path
            if p.startswith("/") or ".." in p.split("/") or not p:
                raise self.err(spath + ("items", j, "path"), f"path {p!r} must be relative, without '..'")
            out[p] = (data[item.key], item.mode if item.mode is not None else mode)
        return out

    # -- one container
    def container(self, c: "m.Container", path: tuple[Any, ...], *, init: bool) -> ContainerSpec:
        if not c.image:
            raise self.err(path, "missing required field 'image'")
        try:
            icfg = self.images.config(c.image, c.image_pull_policy)
        except NotFound as exc:
            raise self.err(path + ("image",), f"image {c.image!r} not found in local storage "
                                               f"and not pulled ({exc})") from None
        env = self._env(c, path)
        command = [_expand(a, env) for a in c.command] if c.command else None
        args = [_expand(a, env) for a in c.args] if c.args else None
        spec = ContainerSpec(
            c.image, name=f"{self.name}-{c.name}",
            entrypoint=command, command=args if args is not None else ([] if command is not None else None),
            env=env, workdir=c.working_dir or None,
            labels=dict(self.labels),
            annotations={**self.annotations, ANN_NAME: c.name, ANN_OWNER: f"{self.obj.kind}/{self.obj.name}",
                         **({ANN_INIT: "true"} if init else {})},
            pod=self.name, interactive=c.stdin, tty=c.tty,
        )
        if c.ports:
            import json
            spec.annotations[ANN_PORTS] = json.dumps(
                [{k: v for k, v in p.model_dump(by_alias=True, exclude_defaults=True).items()
                  if k not in ("hostPort", "hostIP")} | {"containerPort": p.container_port} for p in c.ports],
                sort_keys=True, separators=(",", ":"))
        self._restart(spec, init)
        if self.spec.host_pid:
            spec.pid = "host"
        if self.spec.termination_grace_period_seconds is not None:
            spec.stop_timeout = self.spec.termination_grace_period_seconds
        self._resources(c, path, spec)
        self._security(c, path, spec, icfg)
        for k, vm in enumerate(c.volume_mounts):
            self._mount(c, path, k, vm, spec)
        spec.sysctls = {s.name: s.value for s in self.spec.security_context.sysctls}
        if init:
            for probe in ("liveness_probe", "readiness_probe", "startup_probe"):
                if getattr(c, probe) is not None:
                    raise self.err(path + (_camel(probe),), "init containers cannot have probes")
        else:
            self._probes(c, path, spec)
        return spec

    def _restart(self, spec: ContainerSpec, init: bool) -> None:
        if init:
            spec.restart = "no"
            return
        policy = RESTART[self.spec.restart_policy]
        if self.obj.kind == "Job":
            limit = self.obj.model.spec.backoff_limit
            policy = f"on-failure:{limit}" if limit > 0 and self.spec.restart_policy == "OnFailure" else "no"
        spec.restart = policy

    def _resources(self, c: "m.Container", path: tuple[Any, ...], spec: ContainerSpec) -> None:
        rpath = path + ("resources",)
        for group in ("limits", "requests"):
            for key, value in getattr(c.resources, group).items():
                try:
                    n = quantity.parse(value)
                except ValueError as exc:
                    raise self.err(rpath + (group, key), str(exc)) from None
                if key not in ("memory", "cpu", "ephemeral-storage") and group == "limits":
                    self.warn(rpath + (group, key), "unsupported resource (ignored)")
                if n < 0:
                    raise self.err(rpath + (group, key), "must not be negative")
        limits = c.resources.limits
        if "memory" in limits:
            n = quantity.memory_bytes(limits["memory"])
            if n < 6 * 1024 * 1024:
                raise self.err(rpath + ("limits", "memory"), "the minimum memory limit is 6Mi")
            spec.memory = n
        requests = c.resources.requests
        if "memory" in requests:
            n = quantity.memory_bytes(requests["memory"])
            if spec.memory is not None and n > int(spec.memory):
                raise self.err(rpath + ("requests", "memory"), "must not be above limits.memory")
            if n:
                spec.memory_reservation = n
        if "cpu" in limits:
            cores = quantity.cpu_cores(limits["cpu"])
            if cores <= 0:
                raise self.err(rpath + ("limits", "cpu"), "must be greater than 0")
            spec.cpus = cores

    def _security(self, c: "m.Container", path: tuple[Any, ...], spec: ContainerSpec,
                  icfg: dict[str, Any]) -> None:
        psc = self.spec.security_context
        sc = c.security_context
        spath = path + ("securityContext",)
        uid = sc.run_as_user if sc and sc.run_as_user is not None else psc.run_as_user
        gid = sc.run_as_group if sc and sc.run_as_group is not None else psc.run_as_group
        nonroot = sc.run_as_non_root if sc and sc.run_as_non_root is not None else psc.run_as_non_root
        if uid is not None:
            spec.user = f"{uid}:{gid}" if gid is not None else str(uid)
        elif gid is not None:
            image_user = (icfg.get("User") or "").split(":")[0] or "0"
            spec.user = f"{image_user}:{gid}"
        if nonroot:
            user = spec.user if spec.user is not None else (icfg.get("User") or "")
            name = user.split(":")[0]
            if name in ("", "0", "root"):
                raise self.err(spath if sc and sc.run_as_non_root else ("securityContext", "runAsNonRoot"),
                               "runAsNonRoot is set but the container would run as root "
                               "(set runAsUser to a non-zero id)")
            if not name.isdigit():
                raise self.err(spath, f"runAsNonRoot is set and the image's user {name!r} is not numeric: "
                                      "set runAsUser")
        groups = [str(g) for g in psc.supplemental_groups]
        if psc.fs_group is not None and str(psc.fs_group) not in groups:
            groups.append(str(psc.fs_group))
            spec.annotations[ANN_FS_GROUP] = str(psc.fs_group)
        spec.groups = groups
        profile = sc.seccomp_profile if sc is not None and sc.seccomp_profile is not None else psc.seccomp_profile
        if profile is not None:
            where = (spath if sc is not None and sc.seccomp_profile is not None else ("securityContext",)) \
                + ("seccompProfile",)
            spec.seccomp_profile = self._seccomp(profile, where)
        if sc is None:
            return
        spec.privileged = bool(sc.privileged)
        if sc.capabilities is not None:
            spec.cap_add = list(sc.capabilities.add)
            spec.cap_drop = list(sc.capabilities.drop)
        spec.read_only = bool(sc.read_only_root_filesystem)
        if sc.allow_privilege_escalation is False:
            if sc.privileged:
                raise self.err(spath + ("allowPrivilegeEscalation",),
                               "cannot be false for a privileged container (Kubernetes refuses it too)")
            spec.no_new_privileges = True
        if sc.proc_mount not in (None, "Default", "Unmasked"):
            raise self.err(spath + ("procMount",), f"unknown procMount {sc.proc_mount!r}: use Default or Unmasked")
        if sc.proc_mount == "Unmasked":
            spec.unmask = ["ALL"]  # /proc and /sys paths neither masked nor read-only (Podman's unmask=ALL)

    def _seccomp(self, profile: "m.SeccompProfile", where: tuple[Any, ...]) -> str | None:
        """RuntimeDefault -> the default profile; Unconfined; Localhost -> a JSON file on this host."""
        if profile.type == "RuntimeDefault":
            return None
        if profile.type == "Unconfined":
            return "unconfined"
        if profile.type != "Localhost":
            raise self.err(where + ("type",), f"unknown seccomp profile type {profile.type!r}: use "
                                               "RuntimeDefault, Unconfined or Localhost")
        rel = profile.localhost_profile
        if not rel:
            raise self.err(where, "a Localhost seccomp profile needs localhostProfile")
        path = rel if rel.startswith("/") else os.path.join(SECCOMP_ROOT, rel)
        if not os.path.isfile(path):
            raise self.err(where + ("localhostProfile",), f"seccomp profile {path} not found")
        return path

    def _probes(self, c: "m.Container", path: tuple[Any, ...], spec: ContainerSpec) -> None:
        """Liveness and startup probes -> the container's health check; readiness -> a check podium runs.

        As Podman maps them: exec runs the command, httpGet becomes a
        ``wget``/``curl`` of the URL, tcpSocket an ``nc -z``; ``periodSeconds`` is
        the interval, ``timeoutSeconds`` the timeout, ``failureThreshold`` the
        retries, ``initialDelaySeconds`` the start period; an unhealthy container
        is restarted (killed with ``restartPolicy: Never``). A startup probe (Podman's
        startup health check) gates the liveness one: until it has passed once,
        the check runs the startup probe, whose failures do not count for
        ``initialDelaySeconds + periodSeconds x failureThreshold``; then the
        liveness probe. A readiness probe changes nothing in the container: podium
        runs it when it needs to know whether the pod is Ready (``play kube
        --wait``); it is kept in an annotation.
        """
        declared = {}
        tests: dict[str, list[str]] = {}
        for attr in ("liveness_probe", "startup_probe", "readiness_probe"):
            p = getattr(c, attr)
            if p is None:
                continue
            name = _camel(attr)
            tests[name] = self._probe_test(c, p, path + (name,))
            declared[name] = p.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
            for field in ("periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"):
                if getattr(p, _snake(field)) < 1:
                    raise self.err(path + (name, field), "must be at least 1")
            if p.initial_delay_seconds < 0:
                raise self.err(path + (name, "initialDelaySeconds"), "must not be negative")
            if name != "readinessProbe" and p.success_threshold != 1:
                raise self.err(path + (name, "successThreshold"), "must be 1 for liveness and startup probes")
        if not declared:
            return
        import json
        spec.annotations[ANN_PROBES] = json.dumps(declared, sort_keys=True, separators=(",", ":"))
        on_failure = "restart" if self.spec.restart_policy != "Never" else "kill"
        live, startup = c.liveness_probe, c.startup_probe
        if startup is not None:
            window = startup.initial_delay_seconds + startup.period_seconds * startup.failure_threshold
            live_sh = _shell(tests["livenessProbe"]) if live is not None else "true"
            script = (f"if [ -e {STARTED_MARK} ]; then {live_sh}; "
                      f"else {_shell(tests['startupProbe'])} && touch {STARTED_MARK}; fi")
            period = min(startup.period_seconds, live.period_seconds) if live is not None else startup.period_seconds
            spec.health = {"cmd": ["CMD-SHELL", script], "interval": f"{period}s",
                           "timeout": f"{max(startup.timeout_seconds, live.timeout_seconds if live else 1)}s",
                           "retries": live.failure_threshold if live is not None else 1,
                           "start_period": f"{window}s", "on_failure": on_failure}
            spec.annotations[ANN_STARTUP] = "true"
        elif live is not None:
            spec.health = {"cmd": tests["livenessProbe"], "interval": f"{live.period_seconds}s",
                           "timeout": f"{live.timeout_seconds}s", "retries": live.failure_threshold,
                           "start_period": f"{live.initial_delay_seconds}s", "on_failure": on_failure}
        r = c.readiness_probe
        if r is not None:
            spec.annotations[ANN_READINESS] = json.dumps(
                {"test": tests["readinessProbe"], "period": r.period_seconds, "timeout": r.timeout_seconds,
                 "initialDelay": r.initial_delay_seconds, "success": r.success_threshold,
                 "failure": r.failure_threshold}, sort_keys=True, separators=(",", ":"))

    def _probe_test(self, c: "m.Container", p: "m.Probe", ppath: tuple[Any, ...]) -> list[str]:
        """One probe's handler as Docker's ``Test`` (what the health check runs in the container)."""
        handlers = [h for h in ("exec", "http_get", "tcp_socket") if getattr(p, h) is not None]
        if len(handlers) != 1:
            raise self.err(ppath, "a probe needs exactly one of exec, httpGet or tcpSocket")
        if p.exec is not None:
            if not p.exec.command:
                raise self.err(ppath + ("exec", "command"), "must not be empty")
            return ["CMD"] + list(p.exec.command)
        if p.http_get is not None:
            g = p.http_get
            port = self._probe_port(c, g.port, ppath + ("httpGet", "port"))
            if g.scheme not in ("HTTP", "HTTPS"):
                raise self.err(ppath + ("httpGet", "scheme"), f"unknown scheme {g.scheme!r}: use HTTP or HTTPS")
            import shlex
            path_ = g.path or "/"
            if not path_.startswith("/"):
                path_ = "/" + path_
            url = shlex.quote(f"{g.scheme.lower()}://{g.host or 'localhost'}:{port}{path_}")
            wget_h = "".join(f" --header {shlex.quote(f'{h.name}: {h.value}')}" for h in g.http_headers)
            curl_h = "".join(f" -H {shlex.quote(f'{h.name}: {h.value}')}" for h in g.http_headers)
            return ["CMD-SHELL", f"wget -q -O /dev/null{wget_h} {url} || curl -fsS -o /dev/null{curl_h} {url} "
                                 "|| exit 1"]
        t = p.tcp_socket
        port = self._probe_port(c, t.port, ppath + ("tcpSocket", "port"))  # type: ignore[union-attr]
        host = t.host or "localhost"  # type: ignore[union-attr]
        # Podman's "nc -z"; busybox's nc has no -z, but connects and ends at stdin's EOF
        return ["CMD-SHELL", f"nc -z {host} {port} 2>/dev/null || nc -w 1 {host} {port} </dev/null >/dev/null 2>&1 "
                             "|| exit 1"]

    def _probe_port(self, c: "m.Container", port: int | str, where: tuple[Any, ...]) -> int:
        if isinstance(port, int):
            return port
        if port.isdigit():
            return int(port)
        for p in c.ports:
            if p.name == port:
                return p.container_port
        raise self.err(where, f"no container port named {port!r}")

    # -- environment
    def _env(self, c: "m.Container", path: tuple[Any, ...]) -> dict[str, str]:
        env: dict[str, str] = {}
        for j, ef in enumerate(c.env_from):
            epath = path + ("envFrom", j)
            if ef.config_map_ref is not None:
                ref, data, what, rpath = ef.config_map_ref, self.data.configmap(ef.config_map_ref.name), \
                    "configMap", epath + ("configMapRef", "name")
            elif ef.secret_ref is not None:
                ref, data, what, rpath = ef.secret_ref, self.data.secret(ef.secret_ref.name), \
                    "secret", epath + ("secretRef", "name")
            else:
                raise self.err(epath, "envFrom needs configMapRef or secretRef")
            if data is None:
                if ref.optional:
                    continue
                raise self.err(rpath, f"{what} {ref.name!r} not found: declare it in the YAML or pass it "
                                      "with --configmap")
            for k, v in data.items():
                name = ef.prefix + k
                if re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", name):
                    env[name] = _text(v)
                else:
                    self.warn(epath, f"key {k!r} is not a valid environment variable name (skipped)")
        for j, ev in enumerate(c.env):
            epath = path + ("env", j)
            if ev.value_from is None:
                env[ev.name] = _expand(ev.value or "", env)
                continue
            src = ev.value_from
            if src.config_map_key_ref is not None or src.secret_key_ref is not None:
                secret = src.config_map_key_ref is None
                ref = src.secret_key_ref if secret else src.config_map_key_ref
                what = "secret" if secret else "configMap"
                rpath = epath + ("valueFrom", "secretKeyRef" if secret else "configMapKeyRef")
                data = self.data.secret(ref.name) if secret else self.data.configmap(ref.name)  # type: ignore[union-attr]
                if data is None:
                    if ref.optional:  # type: ignore[union-attr]
                        continue
                    raise self.err(rpath + ("name",), f"{what} {ref.name!r} not found: declare it in the YAML "  # type: ignore[union-attr]
                                                      "or pass it with --configmap")
                if ref.key not in data:  # type: ignore[union-attr]
                    if ref.optional:  # type: ignore[union-attr]
                        continue
                    raise self.err(rpath + ("key",), f"{what} {ref.name!r} has no key {ref.key!r}")  # type: ignore[union-attr]
                env[ev.name] = _text(data[ref.key])  # type: ignore[union-attr]
            elif src.field_ref is not None:
                env[ev.name] = self._field(src.field_ref.field_path, epath + ("valueFrom", "fieldRef", "fieldPath"))
            elif src.resource_field_ref is not None:
                env[ev.name] = self._resource_field(c, src.resource_field_ref,
                                                    epath + ("valueFrom", "resourceFieldRef"))
            else:
                raise self.err(epath + ("valueFrom",), "valueFrom needs configMapKeyRef, secretKeyRef, fieldRef "
                                                       "or resourceFieldRef")
        return env

    def _field(self, field: str, where: tuple[Any, ...]) -> str:
        m_ = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", field)
        if m_:
            src = self.labels if m_.group(1) == "labels" else self.annotations
            return src.get(m_.group(2), "")
        if field in ("metadata.labels", "metadata.annotations"):
            src = self.labels if field == "metadata.labels" else self.annotations
            return "\n".join(f'{k}="{v}"' for k, v in sorted(src.items()))
        if field == "metadata.name":
            return self.name
        if field == "metadata.namespace":
            return self.namespace
        if field == "metadata.uid":
            return ""
        if field == "spec.nodeName":
            import socket
            return socket.gethostname()
        if field in ("spec.serviceAccountName",):
            return "default"
        if field in ("status.hostIP", "status.hostIPs"):
            return "127.0.0.1"
        if field in ("status.podIP", "status.podIPs"):
            network = self.plan.create.get("network")
            if network == "none":
                return "127.0.0.1"  # the pod's only address
            if network == "host":
                return "127.0.0.1"  # the host's; as status.hostIP
            if network and network.startswith(("container:", "ns:")):
                self.warn(where, "status.podIP is not known in another's network namespace: set to an empty string")
                return ""
            self.plan.create["reserve_ip"] = True  # the pod's address is allocated at create
            return POD_IP
        raise self.err(where, f"unsupported fieldPath {field!r}")

    def _resource_field(self, c: "m.Container", ref: "m.ResourceFieldRef", where: tuple[Any, ...]) -> str:
        import math
        target = c
        if ref.container_name:
            found = [x for x in self.spec.containers + self.spec.init_containers if x.name == ref.container_name]
            if not found:
                raise self.err(where + ("containerName",), f"no container named {ref.container_name!r}")
            target = found[0]
        group, _, res = ref.resource.partition(".")
        values = target.resources.limits if group == "limits" else target.resources.requests
        if group == "requests" and res not in values:
            values = target.resources.limits
        if res == "memory":
            n = quantity.parse(values[res]) if res in values else float(_host_memory())
        elif res == "cpu":
            n = quantity.parse(values[res]) if res in values else float(os.cpu_count() or 1)
        else:
            n = quantity.parse(values[res]) if res in values else 0.0
        try:
            divisor = quantity.parse(ref.divisor) if ref.divisor is not None else 1.0
        except ValueError as exc:
            raise self.err(where + ("divisor",), str(exc)) from None
        if divisor <= 0:
            raise self.err(where + ("divisor",), "must be greater than 0")
        return str(int(math.ceil(n / divisor - 1e-9)))


# ---- Services -----------------------------------------------------------------------------

def _services(loaded: "Loaded", plan: Plan) -> None:
    """A Service's ``nodePort`` publishes ``nodePort:targetPort`` on the one pod it selects."""
    taken: dict[tuple[int, str], str] = {}
    for svc in loaded.of("Service"):
        spec = svc.model.spec
        for j, port in enumerate(spec.ports):
            if not port.node_port:
                continue
            where = ("spec", "ports", j, "nodePort")
            if not spec.selector:
                raise svc.doc.error(("spec", "selector"), "a Service that publishes a nodePort needs a selector")
            pods = [p for p in plan.pods if all(p.labels.get(k) == v for k, v in spec.selector.items())]
            if not pods:
                continue
            if len(pods) > 1:
                raise svc.doc.error(where, f"nodePort {port.node_port} would be published by "
                                           f"{len(pods)} pods ({', '.join(p.name for p in pods)}): "
                                           "one host port can reach one pod")
            key = (port.node_port, port.protocol)
            if key in taken:
                raise svc.doc.error(where, f"nodePort {port.node_port} is also used by {taken[key]}")
            taken[key] = f"Service/{svc.name}"
            pod = pods[0]
            target = port.target_port if port.target_port is not None else port.port
            if isinstance(target, str) and not target.isdigit():
                named = _named_port(loaded, pod, target)
                if named is None:
                    raise svc.doc.error(("spec", "ports", j, "targetPort"),
                                        f"pod {pod.name} has no container port named {target!r}")
                target = named
            pod.create["ports"].append(f"{port.node_port}:{int(target)}/{port.protocol.lower()}")


def _named_port(loaded: "Loaded", pod: PodPlan, name: str) -> int | None:
    for obj in loaded.of(*WORKLOADS):
        if pod.name not in pod_names(obj):
            continue
        spec = obj.model.spec if obj.kind == "Pod" else obj.model.spec.template.spec
        for c in spec.containers:
            for p in c.ports:
                if p.name == name:
                    return p.container_port
    return None


# ---- helpers --------------------------------------------------------------------------------

def _expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined variables are replaced, ``$$`` escapes."""
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "$" and i + 1 < len(value):
            nxt = value[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = value.find(")", i + 2)
                if end != -1:
                    name = value[i + 2:end]
                    if name in env:
                        out.append(env[name])
                    else:
                        out.append(value[i:end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def _text(v: bytes) -> str:
    return v.decode("utf-8", errors="replace")


def _camel(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(p.title() for p in rest)


def _is_ip(value: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m_: "_" + m_.group(0).lower(), name)


def _shell(test: list[str]) -> str:
    """A ``Test`` as one shell command, for a script that combines probes."""
    import shlex
    if test[0] == "CMD-SHELL":
        return "{ " + test[1] + "; }"
    return shlex.join(test[1:])


def _host_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0
