"""A normalized compose ``Project`` -> what the engine makes: networks, volumes, container specs.

Pure: nothing here touches the engine. ``up.py`` resolves images, reads the
engine's state and calls these functions to say what each service's containers
should look like (``container_spec``) and how to tell whether an existing one
still matches (``config_hash``).

Names and labels follow Docker Compose: containers ``<project>-<service>-<n>``
(or ``container_name``), networks and volumes as the model names them
(``<project>_<key>`` unless ``name:``/``external``), and the
``com.docker.compose.*`` labels, plus podium's ``io.podium.compose.*``.
Services reach each other by service name and ``aliases`` (DNS aliases on
every network the service joins). Secrets and configs are files materialized
by ``up`` (see ``secret_files``) and bind-mounted read-only at their target.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from podium.engine.errors import ConfigError
from podium.engine.spec import ContainerSpec, parse_security_opts


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .model import Project, Service

L_PROJECT = "com.docker.compose.project"
L_SERVICE = "com.docker.compose.service"
L_NUMBER = "com.docker.compose.container-number"
L_ONEOFF = "com.docker.compose.oneoff"
L_HASH = "com.docker.compose.config-hash"
L_WORKDIR = "com.docker.compose.project.working_dir"
L_FILES = "com.docker.compose.project.config_files"
L_DEPENDS = "com.docker.compose.depends_on"
L_NETWORK = "com.docker.compose.network"
L_VOLUME = "com.docker.compose.volume"
L_VERSION = "com.docker.compose.version"
P_PROJECT = "io.podium.compose.project"
P_SERVICE = "io.podium.compose.service"
COMPOSE_VERSION = "2.0.0-podium"

# Fields that never force a recreate (Docker Compose's hash leaves them out too).
HASH_EXCLUDE = ("depends_on", "scale", "pull_policy", "build", "profiles")

# Attributes the engine cannot carry yet: warned about by name when a service sets them.
UNSUPPORTED = ("domainname", "devices", "ipc", "pid", "userns_mode", "cgroup_parent", "runtime", "oom_score_adj",
               "volumes_from", "memswap_limit", "cpu_shares", "cpuset", "platform")


@dataclass
class NetworkPlan:
    key: str
    name: str
    external: bool
    create: dict[str, Any] = field(default_factory=dict)  # keyword arguments of Networks.create


@dataclass
class VolumePlan:
    key: str
    name: str
    external: bool
    create: dict[str, Any] = field(default_factory=dict)  # keyword arguments of Volumes.create


def container_name(project: Project, svc: Service, number: int) -> str:
    if svc.container_name:
        return svc.container_name
    return f"{project.name}-{svc.name}-{number}"


def project_labels(project: Project) -> dict[str, str]:
    return {L_PROJECT: project.name, P_PROJECT: project.name}


def networks(project: Project) -> list[NetworkPlan]:
    out = []
    for key, n in sorted(project.networks.items()):
        if n.external:
            out.append(NetworkPlan(key, n.name, True))
            continue
        if n.driver not in (None, "bridge"):
            raise ConfigError(f"network {key!r}: driver {n.driver!r} is not supported: podium makes bridge networks",
                              field=f"networks.{key}.driver")
        kw: dict[str, Any] = {"labels": {**n.labels, **project_labels(project), L_NETWORK: key,
                                         L_VERSION: COMPOSE_VERSION},
                              "internal": n.internal}
        pools = n.ipam.config if n.ipam else []
        if pools:
            kw["subnet"] = pools[0].subnet
            if pools[0].gateway:
                kw["gateway"] = pools[0].gateway
        opts = {k.rsplit(".", 1)[-1]: v for k, v in n.driver_opts.items()
                if k.rsplit(".", 1)[-1] in ("mtu", "metric")}
        if opts:
            kw["options"] = opts
        out.append(NetworkPlan(key, n.name, False, kw))
    return out


def volumes(project: Project) -> list[VolumePlan]:
    out = []
    for key, v in sorted(project.volumes.items()):
        if v.external:
            out.append(VolumePlan(key, v.name, True))
            continue
        if v.driver not in (None, "local"):
            raise ConfigError(f"volume {key!r}: driver {v.driver!r} is not supported: use local",
                              field=f"volumes.{key}.driver")
        kw: dict[str, Any] = {"labels": {**v.labels, **project_labels(project), L_VOLUME: key,
                                         L_VERSION: COMPOSE_VERSION}}
        if v.driver_opts:
            kw["options"] = dict(v.driver_opts)
        out.append(VolumePlan(key, v.name, False, kw))
    return out


def config_hash(svc: Service, image_id: str, extra: dict[str, Any] | None = None) -> str:
    """A stable hash of what forces a recreate: the service's model and the resolved image."""
    data = svc.model_dump(mode="json", exclude=set(HASH_EXCLUDE))
    if data.get("deploy"):
        data["deploy"].pop("replicas", None)
    blob = json.dumps({"service": data, "image": image_id, **(extra or {})}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def warnings_for(svc: Service) -> list[str]:
    out = []
    fields = svc.model_fields_set
    for name in UNSUPPORTED:
        if name in fields and getattr(svc, name) not in (None, [], {}, False):
            out.append(f"service {svc.name!r}: {name} is not supported yet and is ignored")
    for vm in svc.volumes:
        if vm.type not in ("bind", "volume", "tmpfs"):
            out.append(f"service {svc.name!r}: volume type {vm.type!r} is not supported and is ignored")
    return out


def _port(p: Any) -> str:
    head = ""
    if p.host_ip:
        ip = p.host_ip
        head = f"[{ip}]:" if ":" in ip else f"{ip}:"
    if p.published:
        head += f"{p.published}:"
    elif p.host_ip:
        head += ":"
    return f"{head}{p.target}/{p.protocol}"


def _mounts(project: Project, svc: Service) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for vm in svc.volumes:
        rw = not vm.read_only
        if vm.type == "bind":
            opts = ["rbind"]
            if vm.bind and vm.bind.propagation:
                opts.append(vm.bind.propagation)
            out.append({"type": "bind", "source": vm.source, "destination": vm.target, "rw": rw,
                        "options": opts + ([] if rw else ["ro"]),
                        "create_host_path": bool(vm.bind and vm.bind.create_host_path)})
        elif vm.type == "volume":
            if vm.source:
                out.append({"type": "volume", "volume": project.volumes[vm.source].name, "anonymous": False,
                            "destination": vm.target, "rw": rw})
            else:
                out.append({"type": "volume", "volume": None, "anonymous": True, "destination": vm.target,
                            "rw": rw})
        elif vm.type == "tmpfs":
            opts = ["rw" if rw else "ro", "noexec", "nosuid", "nodev"]
            if vm.tmpfs and vm.tmpfs.size:
                opts.append(f"size={vm.tmpfs.size}")
            if vm.tmpfs and vm.tmpfs.mode is not None:
                opts.append(f"mode={vm.tmpfs.mode:o}")
            out.append({"type": "tmpfs", "source": "tmpfs", "destination": vm.target, "options": opts, "rw": rw})
    return out


def _health(svc: Service) -> dict[str, Any] | None:
    hc = svc.healthcheck
    if hc is None:
        return None
    if hc.disable or hc.test == ["NONE"]:
        return {"disable": True}
    out: dict[str, Any] = {}
    if hc.test:
        out["cmd"] = list(hc.test)
    for key in ("interval", "timeout", "start_period", "retries"):
        value = getattr(hc, key)
        if value is not None:
            out[key] = value
    return out or None


def _restart(svc: Service) -> str | None:
    if svc.restart:
        return svc.restart
    rp = svc.deploy.restart_policy if svc.deploy else None
    if rp and rp.condition:
        name = {"none": "no", "any": "always", "on-failure": "on-failure"}.get(rp.condition, rp.condition)
        if name == "on-failure" and rp.max_attempts:
            return f"on-failure:{rp.max_attempts}"
        return name
    return None


def service_networks(project: Project, svc: Service) -> tuple[str | None, list[str], str | None]:
    """(the engine's ``network`` value, DNS aliases, a static IPv4) of a service's containers."""
    mode = svc.network_mode
    if mode:
        if mode.startswith("service:"):
            other = project.services[mode.split(":", 1)[1]]
            return f"container:{container_name(project, other, 1)}", [], None
        return mode, [], None
    names = [project.networks[k].name for k in svc.networks]
    aliases = [svc.name]
    ip = None
    for sn in svc.networks.values():
        aliases += [a for a in sn.aliases if a not in aliases]
        if sn.ipv4_address:
            ip = sn.ipv4_address
    if ip and len(names) != 1:  # per_network specs (up.py) carry one address per network
        raise ConfigError(f"service {svc.name!r}: ipv4_address works with one network only in podium",
                          field=f"services.{svc.name}.networks")
    return ",".join(names) or None, aliases, ip


def network_attachments(project: Project, svc: Service) -> list[tuple[str, list[str], str | None]]:
    """(host network name, DNS aliases on it, static IPv4) of each network a service joins:
    the service name on all of them, each ``aliases`` list only on its own network."""
    if svc.network_mode:
        return []
    out = []
    for key, sn in svc.networks.items():
        aliases = [svc.name] + [a for a in sn.aliases if a != svc.name]
        out.append((project.networks[key].name, aliases, sn.ipv4_address))
    return out


def secret_refs(svc: Service) -> list[tuple[str, str, Any]]:
    """(kind, key, FileRef) of every secret and config a service mounts."""
    return ([("secret", r.source, r) for r in svc.secrets] + [("config", r.source, r) for r in svc.configs])


def container_spec(project: Project, svc: Service, number: int, *, config_hash: str,
                   secret_sources: dict[tuple[str, str, str], str] | None = None,
                   name: str | None = None, per_network: bool = False) -> ContainerSpec:
    """The engine spec of replica ``number`` of ``svc``.

    ``secret_sources`` maps (kind, key, target) to the host file to bind-mount.
    With ``per_network`` the spec joins only the first network, with that network's
    aliases and address; the caller connects the rest (``network_attachments``), so
    that each alias resolves only where it is declared. Without it every network
    gets the union of the aliases.
    """
    if svc.image is None:
        raise ConfigError(f"service {svc.name!r} has no image: set image: or build:",
                          field=f"services.{svc.name}.image")
    attachments = network_attachments(project, svc) if per_network else []
    if attachments:
        network, aliases, ip = attachments[0]
    else:
        network, aliases, ip = service_networks(project, svc)
    if svc.scale > 1 and (ip or any(a[2] for a in attachments)):
        raise ConfigError(f"service {svc.name!r}: a static ipv4_address cannot be shared by {svc.scale} replicas",
                          field=f"services.{svc.name}.networks")
    labels = {
        **svc.labels,
        **project_labels(project),
        L_SERVICE: svc.name,
        P_SERVICE: svc.name,
        L_NUMBER: str(number),
        L_ONEOFF: "False",
        L_HASH: config_hash,
        L_WORKDIR: project.working_dir,
        L_FILES: ",".join(project.config_files),
        L_DEPENDS: ",".join(f"{k}:{d.condition}:{str(d.restart).lower()}" for k, d in svc.depends_on.items()),
        L_VERSION: COMPOSE_VERSION,
        "com.docker.compose.image": svc.image,
    }
    mounts = _mounts(project, svc)
    for kind, key, ref in secret_refs(svc):
        src = (secret_sources or {}).get((kind, key, ref.target))
        if src is None:
            raise ConfigError(f"service {svc.name!r}: {kind} {key!r} has no content", field=f"{kind}s.{key}")
        mounts.append({"type": "bind", "source": src, "destination": ref.target, "rw": False,
                       "options": ["rbind", "ro"]})
    tmpfs = {}
    for t in svc.tmpfs:
        dest, _, opts = t.partition(":")
        tmpfs[dest] = opts
    limits = svc.deploy.resources.limits if svc.deploy and svc.deploy.resources else None
    memory = svc.mem_limit or (limits.memory if limits else None)
    cpus = svc.cpus or (limits.cpus if limits else None)
    pids = svc.pids_limit or (limits.pids if limits else None)
    return ContainerSpec(
        svc.image,
        name=name or container_name(project, svc, number),
        command=list(svc.command) if svc.command is not None else None,
        entrypoint=list(svc.entrypoint) if svc.entrypoint is not None else None,
        env={k: v for k, v in svc.environment.items() if v is not None},
        workdir=svc.working_dir,
        user=svc.user,
        labels=labels,
        annotations=dict(svc.annotations),
        mounts=mounts,
        tmpfs=tmpfs,
        read_only=svc.read_only,
        cap_add=list(svc.cap_add),
        cap_drop=list(svc.cap_drop),
        privileged=svc.privileged,
        memory=memory,
        cpus=cpus,
        pids_limit=pids,
        shm_size=svc.shm_size,
        hostname=svc.hostname,
        restart=_restart(svc),
        init=bool(svc.init),
        stop_signal=svc.stop_signal,
        stop_timeout=int(svc.stop_grace_period) if svc.stop_grace_period is not None else None,
        interactive=svc.stdin_open,
        tty=svc.tty,
        network=network,
        network_aliases=aliases,
        ip=ip,
        ports=[_port(p) for p in svc.ports],
        ulimits=[f"{k}={u.soft}:{u.hard}" for k, u in svc.ulimits.items()],
        sysctls=dict(svc.sysctls),
        health=_health(svc),
        add_hosts=[f"{host}:{addr}" for host, addrs in svc.extra_hosts.items() for addr in addrs],
        dns=list(svc.dns) or None,
        dns_search=list(svc.dns_search) or None,
        dns_options=list(svc.dns_opt),
        groups=[str(g) for g in svc.group_add],
        memory_reservation=svc.mem_reservation,
        **parse_security_opts(list(svc.security_opt)),
    )


def secret_content(project: Project, kind: str, key: str) -> bytes:
    """The bytes of a secret or config, from ``file``, ``environment`` or ``content``."""
    obj = (project.secrets if kind == "secret" else project.configs)[key]
    if obj.external:
        raise ConfigError(f"{kind} {key!r} is external: podium has no secret store, use file:",
                          field=f"{kind}s.{key}")
    if obj.file is not None:
        try:
            with open(obj.file, "rb") as f:
                return f.read()
        except OSError as exc:
            raise ConfigError(f"{kind} {key!r}: cannot read {obj.file}: {exc.strerror}",
                              field=f"{kind}s.{key}.file") from None
    if obj.environment is not None:
        import os
        value = project.environment.get(obj.environment, os.environ.get(obj.environment))
        if value is None:
            raise ConfigError(f"{kind} {key!r}: environment variable {obj.environment} is not set",
                              field=f"{kind}s.{key}.environment")
        return value.encode()
    if obj.content is not None:
        return obj.content.encode()
    raise ConfigError(f"{kind} {key!r} has no file, environment or content", field=f"{kind}s.{key}")


def secret_mode(kind: str, ref: Any) -> int:
    return ref.mode if ref.mode is not None else 0o444
