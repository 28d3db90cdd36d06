"""Engine state -> Kubernetes YAML (``podium generate kube``), deterministic.

A pod (or a container outside any pod, which becomes a pod named
``<container>-pod`` as Podman names it) is written as a v1 Pod with what it
really runs and nothing the image already says: Entrypoint, Cmd, Env and
WorkingDir are left out when unchanged. Containers keep the names they were
declared with (``io.podium.kube.name``), labels and annotations are written as
given (podium's own ``io.podium.*`` bookkeeping is dropped), bind mounts become
hostPath volumes, a pod's configMap/secret/emptyDir volumes become those
volumes again (with the ConfigMap or Secret they were filled from), named
volumes become persistentVolumeClaim claims. No timestamps, no random values:
the same pod gives byte-identical YAML twice.
"""

from __future__ import annotations

import base64
import os
import stat

from podium.engine.errors import ConfigError, NotFound

from . import quantity
from .convert import ANN_FS_GROUP, ANN_INIT, ANN_NAME, ANN_PORTS, ANN_PROBES, LABEL_POD, LABEL_SOURCE, SECCOMP_ROOT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from podium.engine.engine import Engine

ENGINE_ENV = ("TERM=xterm", "container=podium")
RESTART_BACK = {"always": "Always", "on-failure": "OnFailure", "no": "Never", "unless-stopped": "Always"}


def _own(d: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(d.items()) if not k.startswith("io.podium.")}


def generate(engine: "Engine", names: list[str], *, service: bool = False, kind: str = "pod",
             replicas: int = 1) -> str:
    """YAML for the named pods and containers: a v1 Pod each, or with ``kind="deployment"`` an
    apps/v1 Deployment named ``<pod>-deployment`` (Podman's name) asking for ``replicas``."""
    docs: list[dict[str, Any]] = []
    for name in names:
        try:
            pod = engine.pods.get(name)
            members = [c for c in engine.pods.members(pod, infra=False)]
            infra = engine.containers.get(pod["infra_id"])["config"] if pod.get("infra_id") else {}
            docs += _pod(engine, pod["name"], pod["config"], members, service=service, infra=infra)
        except NotFound:
            c = engine.containers.get(name)
            if c.get("pod_id"):
                raise ConfigError(f"container {c['name']} is in a pod: generate the pod instead") from None
            docs += _pod(engine, f"{c['name']}-pod", {"labels": {}, "ports": c["config"].get("ports") or [],
                                                      "share": [], "hostname": None}, [c], service=service,
                         infra=c["config"])
    if kind == "deployment":
        docs = [_deployment(d, replicas) if d["kind"] == "Pod" else d for d in docs]
    return _dump(docs)


def _deployment(pod: dict[str, Any], replicas: int) -> dict[str, Any]:
    """A Pod document as a Deployment's template; the selector is the pod's labels (or app=<pod>)."""
    name = pod["metadata"]["name"]
    labels = dict(pod["metadata"].get("labels") or {}) or {"app": name}
    template_meta: dict[str, Any] = {"labels": labels}
    if pod["metadata"].get("annotations"):
        template_meta["annotations"] = pod["metadata"]["annotations"]
    meta: dict[str, Any] = {"name": f"{name}-deployment", "labels": dict(labels)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": template_meta, "spec": pod["spec"]}}}


def _pod(engine: "Engine", name: str, pconf: dict[str, Any], members: list[dict[str, Any]], *,
         service: bool, infra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    extra_docs: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    seen_sources: dict[str, str] = {}
    init = [c for c in members if (c["config"].get("annotations") or {}).get(ANN_INIT) == "true"]
    apps = [c for c in members if c not in init]
    first = apps[0] if apps else (members[0] if members else None)
    annotations = _own(pconf["annotations"] if "annotations" in pconf
                       else (first or {}).get("config", {}).get("annotations") or {})
    spec: dict[str, Any] = {}
    ctrs = []
    for c in apps:
        ctrs.append(_container(engine, name, c, volumes, seen_sources, extra_docs))
    init_ctrs = [_container(engine, name, c, volumes, seen_sources, extra_docs) for c in init]
    ports = [_port(p) for p in pconf.get("ports") or []]
    for p in ports:  # a published port goes on the container that declared it, else on the first
        if not p or not ctrs:
            continue
        key = (p["containerPort"], p.get("protocol", "TCP"))
        owner = next((cp for c in ctrs for cp in c.get("ports", [])
                      if (cp["containerPort"], cp.get("protocol", "TCP")) == key and "hostPort" not in cp), None)
        if owner is not None:
            owner.update({k: v for k, v in p.items() if k in ("hostPort", "hostIP")})
        else:
            ctrs[0]["ports"] = ctrs[0].get("ports", []) + [p]
    if init_ctrs:
        spec["initContainers"] = init_ctrs
    spec["containers"] = ctrs
    if first is not None:
        rp = (first["config"].get("restart_policy") or {}).get("Name", "no")
        spec["restartPolicy"] = RESTART_BACK.get(rp, "Never")
        st = first["config"].get("stop_timeout")
        if st is not None and st != 10:
            spec["terminationGracePeriodSeconds"] = st
        psc: dict[str, Any] = {}
        fs_group = (first["config"].get("annotations") or {}).get(ANN_FS_GROUP)
        groups = [g for g in first["config"].get("groups") or [] if str(g) != fs_group]
        if groups:
            psc["supplementalGroups"] = groups
        if fs_group:
            psc["fsGroup"] = int(fs_group)
        sysctls = first["config"].get("sysctls") or {}
        if sysctls:
            psc["sysctls"] = [{"name": k, "value": v} for k, v in sorted(sysctls.items())]
        if psc:
            spec["securityContext"] = psc
        if (first["config"].get("network_mode") or "") == "host":
            spec["hostNetwork"] = True
        if first["config"].get("pid_mode") == "host":
            spec["hostPID"] = True
    _hosts_dns(infra or {}, spec)
    if (infra or {}).get("ipc_mode") == "host":
        spec["hostIPC"] = True
    if pconf.get("hostname") and pconf["hostname"] != name:
        spec["hostname"] = pconf["hostname"]
    if "pid" in (pconf.get("share") or []):
        spec["shareProcessNamespace"] = True
    if pconf.get("network") == "host":
        spec["hostNetwork"] = True
    if volumes:
        spec["volumes"] = volumes
    meta: dict[str, Any] = {"name": name}
    if pconf.get("labels"):
        meta["labels"] = _own(pconf["labels"])
    if annotations:
        meta["annotations"] = annotations
    out = extra_docs + [{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}]
    if service and any(p for p in ports):
        out.append(_service(name, meta.get("labels") or {}, [p for p in ports if p]))
    return out


def _hosts_dns(cfg: dict[str, Any], spec: dict[str, Any]) -> None:
    """hostAliases from the infra's extra /etc/hosts entries, dnsConfig from its DNS options."""
    aliases: dict[str, list[str]] = {}
    for entry in cfg.get("add_hosts") or []:
        host, _, ip = entry.partition(":")
        aliases.setdefault(ip, []).append(host)
    if aliases:
        spec["hostAliases"] = [{"ip": ip, "hostnames": hosts} for ip, hosts in aliases.items()]
    dns: dict[str, Any] = {}
    if cfg.get("dns_servers") is not None:
        dns["nameservers"] = list(cfg["dns_servers"])
        spec["dnsPolicy"] = "None"  # the servers replace every other resolver
    if cfg.get("dns_search") is not None:
        dns["searches"] = list(cfg["dns_search"])
    if cfg.get("dns_options"):
        dns["options"] = [{"name": n, **({"value": v} if sep else {})}
                          for n, sep, v in (o.partition(":") for o in cfg["dns_options"])]
    if dns:
        spec["dnsConfig"] = dns


def _port(p: Any) -> dict[str, Any] | None:
    if isinstance(p, str):
        return None
    out: dict[str, Any] = {"containerPort": int(p["container_port"])}
    if p.get("host_port"):
        out["hostPort"] = int(p["host_port"])
    if p.get("host_ip") and p["host_ip"] not in ("0.0.0.0", ""):
        out["hostIP"] = p["host_ip"]
    proto = (p.get("protocol") or "tcp").upper()
    if proto != "TCP":
        out["protocol"] = proto
    return out


def _service(name: str, labels: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    sports = []
    for p in ports:
        sp = {"name": f"{p['containerPort']}-{p.get('protocol', 'TCP').lower()}", "port": p["containerPort"],
              "targetPort": p["containerPort"], "protocol": p.get("protocol", "TCP")}
        if p.get("hostPort"):
            sp["nodePort"] = p["hostPort"]
        sports.append(sp)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": labels or {"app": name}, "ports": sports}}


def _container(engine: "Engine", pod: str, c: dict[str, Any], volumes: list[dict[str, Any]],
               seen: dict[str, str], docs: list[dict[str, Any]]) -> dict[str, Any]:
    cfg = c["config"]
    try:
        icfg = engine.images.config_of(engine.images.resolve(c["image_id"]))
    except NotFound:
        icfg = {}
    name = (cfg.get("annotations") or {}).get(ANN_NAME) or c["name"].removeprefix(f"{pod}-")
    out: dict[str, Any] = {"name": name, "image": cfg["image"]}
    ient, icmd = list(icfg.get("Entrypoint") or []), list(icfg.get("Cmd") or [])
    ent, cmd = list(cfg.get("entrypoint") or []), list(cfg.get("command") or [])
    if ent != ient:
        out["command"] = [_escape(a) for a in ent]
        if cmd:
            out["args"] = [_escape(a) for a in cmd]
    elif cmd != icmd:
        out["args"] = [_escape(a) for a in cmd]
    image_env = set(icfg.get("Env") or []) | {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    env = [e for e in cfg.get("env") or [] if e not in image_env and e not in ENGINE_ENV]
    if env:
        out["env"] = [{"name": k, "value": _escape(v)} for k, _, v in (e.partition("=") for e in env)]
    declared_ports = (cfg.get("annotations") or {}).get(ANN_PORTS)
    if declared_ports:
        import json
        out["ports"] = json.loads(declared_ports)
    wd = cfg.get("workdir") or "/"
    if wd != (icfg.get("WorkingDir") or "/"):
        out["workingDir"] = wd
    limits = {}
    if cfg.get("cpus"):
        limits["cpu"] = quantity.format_cpu(float(cfg["cpus"]))
    if cfg.get("memory"):
        limits["memory"] = quantity.format_bytes(int(cfg["memory"]))
    resources: dict[str, Any] = {"limits": limits} if limits else {}
    if cfg.get("memory_reservation"):
        resources["requests"] = {"memory": quantity.format_bytes(int(cfg["memory_reservation"]))}
    if resources:
        out["resources"] = resources
    sc: dict[str, Any] = {}
    user = cfg.get("user") or ""
    if user and user != (icfg.get("User") or ""):
        uid, _, gid = user.partition(":")
        if uid.isdigit():
            sc["runAsUser"] = int(uid)
        if gid.isdigit():
            sc["runAsGroup"] = int(gid)
    if cfg.get("privileged"):
        sc["privileged"] = True
    if cfg.get("cap_add") or cfg.get("cap_drop"):
        sc["capabilities"] = {k: list(cfg[f"cap_{k}"]) for k in ("add", "drop") if cfg.get(f"cap_{k}")}
    if cfg.get("read_only"):
        sc["readOnlyRootFilesystem"] = True
    if cfg.get("no_new_privileges"):
        sc["allowPrivilegeEscalation"] = False
    if "ALL" in (cfg.get("unmask") or []):
        sc["procMount"] = "Unmasked"
    profile = cfg.get("seccomp_profile")
    if profile == "unconfined":
        sc["seccompProfile"] = {"type": "Unconfined"}
    elif profile:
        rel = os.path.relpath(profile, SECCOMP_ROOT) if profile.startswith(SECCOMP_ROOT + "/") else profile
        sc["seccompProfile"] = {"type": "Localhost", "localhostProfile": rel}
    if sc:
        out["securityContext"] = sc
    out.update(_probes(cfg))
    mounts = []
    for m in cfg.get("mounts") or []:
        vm = _volume(engine, pod, m, volumes, seen, docs)
        if vm is not None:
            mounts.append(vm)
    if mounts:
        out["volumeMounts"] = mounts
    if cfg.get("interactive"):
        out["stdin"] = True
    if cfg.get("tty"):
        out["tty"] = True
    return out


def _probes(cfg: dict[str, Any]) -> dict[str, Any]:
    """The probes as they were declared; else the health check as a livenessProbe (Podman's way)."""
    import json
    declared = (cfg.get("annotations") or {}).get(ANN_PROBES)
    if declared:
        return dict(json.loads(declared))
    hc = cfg.get("healthcheck")
    if not hc or not hc.get("Test") or hc["Test"][0] not in ("CMD", "CMD-SHELL"):
        return {}
    test = hc["Test"]
    command = list(test[1:]) if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]
    probe: dict[str, Any] = {"exec": {"command": command}}
    sec = 1_000_000_000
    for key, field, default in (("Interval", "periodSeconds", 10), ("Timeout", "timeoutSeconds", 1),
                                ("StartPeriod", "initialDelaySeconds", 0)):
        value = max(int(hc.get(key) or 0) // sec, 0)
        if key != "StartPeriod":
            value = max(value, 1)
        if value != default:
            probe[field] = value
    if int(hc.get("Retries") or 3) != 3:
        probe["failureThreshold"] = int(hc["Retries"])
    return {"livenessProbe": probe}


def _volume(engine: "Engine", pod: str, m: dict[str, Any], volumes: list[dict[str, Any]],
            seen: dict[str, str], docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    dest = m["destination"]
    ro = not m.get("rw", True)
    if m["type"] == "tmpfs":
        size = next((o[5:] for o in m.get("options") or [] if o.startswith("size=")), None)
        src: dict[str, Any] = {"emptyDir": {"medium": "Memory", **({"sizeLimit": _size(size)} if size else {})}}
        key = f"tmpfs:{dest}"
        vname = _add(volumes, seen, key, f"tmpfs-{len(volumes)}", src)
        return {"name": vname, "mountPath": dest}
    if m["type"] == "bind":
        path = m["source"]
        vols_root = str(engine.paths.root) + "/volumes/"
        if path.startswith(vols_root):  # a subPath inside one of our volumes
            rest = path[len(vols_root):]
            vol, _, sub = rest.partition("/_data/")
            vm = _named(engine, pod, vol, dest, ro, volumes, seen, docs)
            vm["subPath"] = sub
            return vm
        try:
            kind = "Directory" if stat.S_ISDIR(os.stat(path).st_mode) else "File"
        except OSError:
            kind = "DirectoryOrCreate"
        vname = _add(volumes, seen, f"host:{path}", _safe(path) + "-host", {"hostPath": {"path": path, "type": kind}})
        return {"name": vname, "mountPath": dest, **({"readOnly": True} if ro else {})}
    if m["type"] == "volume" and not m.get("anonymous"):
        vm = _named(engine, pod, m["volume"], dest, ro, volumes, seen, docs)
        if m.get("subpath"):
            vm["subPath"] = m["subpath"]
        return vm
    return None


def _named(engine: "Engine", pod: str, vol: str, dest: str, ro: bool, volumes: list[dict[str, Any]],
           seen: dict[str, str], docs: list[dict[str, Any]]) -> dict[str, Any]:
    info = engine.volumes.get(vol) or {}
    labels = info.get("labels") or {}
    source = labels.get(LABEL_SOURCE, "")
    vname = vol.removeprefix(f"{pod}-") if labels.get(LABEL_POD) == pod else vol
    if source == "emptyDir":
        _add(volumes, seen, f"vol:{vol}", vname, {"emptyDir": {}})
    elif source.startswith(("configMap/", "secret/")):
        kind, _, ref = source.partition("/")
        files = _files(engine.volumes.data_dir(vol))
        items = [{"key": k.replace("/", "."), "path": k, "mode": mode} for k, (_, mode) in sorted(files.items())]
        if kind == "configMap":
            src = {"configMap": {"name": ref, "items": items}}
            data = {k.replace("/", "."): v.decode("utf-8", "replace") for k, (v, _) in sorted(files.items())}
            doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ref}, "data": data}
        else:
            src = {"secret": {"secretName": ref, "items": items}}
            data = {k.replace("/", "."): base64.b64encode(v).decode() for k, (v, _) in sorted(files.items())}
            doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": ref}, "data": data}
        _add(volumes, seen, f"vol:{vol}", vname, src)
        if not any(d["kind"] == doc["kind"] and d["metadata"]["name"] == ref for d in docs):
            docs.append(doc)
        return {"name": vname, "mountPath": dest, "readOnly": True}
    else:
        _add(volumes, seen, f"vol:{vol}", vname, {"persistentVolumeClaim": {"claimName": vol}})
    return {"name": vname, "mountPath": dest, **({"readOnly": True} if ro else {})}


def _files(root: str) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = (fh.read(), stat.S_IMODE(os.stat(p).st_mode))
    return out


def _add(volumes: list[dict[str, Any]], seen: dict[str, str], key: str, name: str, src: dict[str, Any]) -> str:
    if key in seen:
        return seen[key]
    taken = {v["name"] for v in volumes}
    base, i = name, 1
    while name in taken:
        name = f"{base}-{i}"
        i += 1
    volumes.append({"name": name, **src})
    seen[key] = name
    return name


def _escape(value: str) -> str:
    """Protect a literal ``$(`` or ``$$`` from Kubernetes' ``$(VAR)`` expansion on the next play."""
    import re
    return re.sub(r"\$(?=[($])", "$$", value)


def _safe(path: str) -> str:
    import re
    s = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    return (s or "root")[:50].strip("-")


def _size(value: str) -> str:
    try:
        return quantity.format_bytes(int(value))
    except ValueError:
        return value


def _dump(docs: list[dict[str, Any]]) -> str:
    import io

    from ruamel.yaml import YAML

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined]
    buf = io.StringIO()
    y.dump_all(docs, buf)
    return buf.getvalue()
