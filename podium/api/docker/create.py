"""Docker's container-create body -> podium's ``ContainerSpec``.

Every field Docker's API defines is known here. A field podium maps becomes
part of the spec; a field podium cannot honour is accepted only at its zero
value (clients send whole structs, mostly empty) and is otherwise a 400 that
names it, so a request never silently loses what it asked for. Fields Docker
does not define at all are refused by the body schema (``CREATE_SCHEMA``).
"""

from __future__ import annotations

from podium.api.http import bad_request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_S = {"type": ["string", "null"]}
_B = {"type": ["boolean", "null"]}
_I = {"type": ["integer", "null"]}
_N = {"type": ["number", "null"]}
_SL = {"type": ["array", "null"], "items": {"type": "string"}}
_STRSLICE = {"type": ["string", "array", "null"], "items": {"type": "string"}}
_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
_OBJ = {"type": ["object", "null"]}
_ARR = {"type": ["array", "null"]}


def _obj(props: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    return {"type": ["object", "null"], "properties": props, "additionalProperties": not strict}


HOST_CONFIG = _obj({
    "Binds": _SL, "ContainerIDFile": _S, "LogConfig": _obj({"Type": _S, "Config": _MAP}),
    "NetworkMode": _S,
    "PortBindings": {"type": ["object", "null"], "additionalProperties": {
        "type": ["array", "null"], "items": _obj({"HostIp": _S, "HostPort": _S})}},
    "RestartPolicy": _obj({"Name": _S, "MaximumRetryCount": _I}),
    "AutoRemove": _B, "VolumeDriver": _S, "VolumesFrom": _SL, "ConsoleSize": _ARR,
    "Annotations": _MAP, "CapAdd": _SL, "CapDrop": _SL, "CgroupnsMode": _S, "Dns": _SL,
    "DnsOptions": _SL, "DnsSearch": _SL, "ExtraHosts": _SL, "GroupAdd": _SL, "IpcMode": _S,
    "Cgroup": _S, "Links": _SL, "OomScoreAdj": _I, "PidMode": _S, "Privileged": _B,
    "PublishAllPorts": _B, "ReadonlyRootfs": _B, "SecurityOpt": _SL, "StorageOpt": _MAP,
    "Tmpfs": _MAP, "UTSMode": _S, "UsernsMode": _S, "ShmSize": _I, "Sysctls": _MAP, "Runtime": _S,
    "Isolation": _S, "CpuShares": _I, "Memory": _I, "NanoCpus": _I, "CgroupParent": _S,
    "BlkioWeight": _I, "BlkioWeightDevice": _ARR, "BlkioDeviceReadBps": _ARR,
    "BlkioDeviceWriteBps": _ARR, "BlkioDeviceReadIOps": _ARR, "BlkioDeviceWriteIOps": _ARR,
    "CpuPeriod": _I, "CpuQuota": _I, "CpuRealtimePeriod": _I, "CpuRealtimeRuntime": _I,
    "CpusetCpus": _S, "CpusetMems": _S, "Devices": _ARR, "DeviceCgroupRules": _SL,
    "DeviceRequests": _ARR, "KernelMemory": _I, "KernelMemoryTCP": _I, "MemoryReservation": _I,
    "MemorySwap": _I, "MemorySwappiness": _I, "OomKillDisable": _B, "PidsLimit": _I,
    "Ulimits": {"type": ["array", "null"], "items": _obj({"Name": _S, "Soft": _I, "Hard": _I})},
    "CpuCount": _I, "CpuPercent": _I, "IOMaximumIOps": _I, "IOMaximumBandwidth": _I,
    "Mounts": {"type": ["array", "null"], "items": _obj({
        "Target": _S, "Source": _S, "Type": _S, "ReadOnly": _B, "Consistency": _S,
        "BindOptions": _OBJ, "VolumeOptions": _OBJ, "TmpfsOptions": _OBJ, "ImageOptions": _OBJ,
        "ClusterOptions": _OBJ})},
    "MaskedPaths": _SL, "ReadonlyPaths": _SL, "Init": _B,
})

ENDPOINT = _obj({
    "IPAMConfig": _obj({"IPv4Address": _S, "IPv6Address": _S, "LinkLocalIPs": _SL}),
    "Links": _SL, "Aliases": _SL, "MacAddress": _S, "DriverOpts": _MAP, "NetworkID": _S,
    "EndpointID": _S, "Gateway": _S, "IPAddress": _S, "IPPrefixLen": _I, "IPv6Gateway": _S,
    "GlobalIPv6Address": _S, "GlobalIPv6PrefixLen": _I, "DNSNames": _SL, "GwPriority": _I,
})

HEALTHCHECK = _obj({"Test": _SL, "Interval": _I, "Timeout": _I, "Retries": _I, "StartPeriod": _I,
                    "StartInterval": _I})

CONFIG_FIELDS: dict[str, Any] = {
    "Hostname": _S, "Domainname": _S, "User": _S, "AttachStdin": _B, "AttachStdout": _B,
    "AttachStderr": _B, "ExposedPorts": _OBJ, "Tty": _B, "OpenStdin": _B, "StdinOnce": _B,
    "Env": _SL, "Cmd": _STRSLICE, "Healthcheck": HEALTHCHECK, "ArgsEscaped": _B, "Image": _S,
    "Volumes": _OBJ, "WorkingDir": _S, "Entrypoint": _STRSLICE, "NetworkDisabled": _B,
    "MacAddress": _S, "OnBuild": _SL, "Labels": _MAP, "StopSignal": _S, "StopTimeout": _I,
    "Shell": _SL,
}

CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **CONFIG_FIELDS, "HostConfig": HOST_CONFIG,
        "NetworkingConfig": _obj({"EndpointsConfig": {"type": ["object", "null"],
                                                      "additionalProperties": ENDPOINT}}),
        "Platform": _S,
    },
    "required": ["Image"],
    "additionalProperties": False,
}

# HostConfig fields podium cannot honour: accepted only at these values
_ZERO_OK: dict[str, tuple[Any, ...]] = {
    "ContainerIDFile": ("",), "VolumeDriver": ("", "local"), "VolumesFrom": (), "CgroupnsMode": ("", "private", "host"),
    "IpcMode": ("", "private", "shareable"), "Cgroup": ("",), "Links": (), "OomScoreAdj": (0,),
    "PidMode": ("", "private"), "PublishAllPorts": (False,), "StorageOpt": (), "UTSMode": ("", "private"),
    "UsernsMode": ("", "private"), "Runtime": ("", "runc", "crun"), "Isolation": ("", "default"),
    "CpuShares": (0,), "CgroupParent": ("",), "BlkioWeight": (0,), "BlkioWeightDevice": (),
    "BlkioDeviceReadBps": (), "BlkioDeviceWriteBps": (), "BlkioDeviceReadIOps": (),
    "BlkioDeviceWriteIOps": (), "CpuRealtimePeriod": (0,), "CpuRealtimeRuntime": (0,),
    "CpusetCpus": ("",), "CpusetMems": ("",), "Devices": (), "DeviceCgroupRules": (),
    "DeviceRequests": (), "KernelMemory": (0,), "KernelMemoryTCP": (0,),
    "MemorySwap": (0, -1), "MemorySwappiness": (-1,), "OomKillDisable": (False,),
    "CpuCount": (0,), "CpuPercent": (0,), "IOMaximumIOps": (0,), "IOMaximumBandwidth": (0,),
    "MaskedPaths": (), "ReadonlyPaths": (),
}


def _empty(v: Any) -> bool:
    return v is None or v == [] or v == {} or v == ""


def _unsupported(where: str, field: str, value: Any) -> Exception:
    return bad_request(f"{where}{field}={value!r} is not supported by podium's engine")


def to_spec(body: dict[str, Any], name: str | None) -> Any:
    """The create body (already schema-checked) as a ContainerSpec."""
    from podium.engine.spec import ContainerSpec

    hc = body.get("HostConfig") or {}
    for field, ok in _ZERO_OK.items():
        v = hc.get(field)
        if not _empty(v) and v not in ok:
            raise _unsupported("HostConfig.", field, v)
    for field in ("Domainname", "MacAddress"):
        if body.get(field):
            raise _unsupported("", field, body[field])
    if body.get("OnBuild"):
        raise _unsupported("", "OnBuild", body["OnBuild"])
    if not body.get("Image"):
        raise bad_request("Image is required")
    log = (hc.get("LogConfig") or {}).get("Type") or ""
    if log not in ("", "json-file", "k8s-file", "local"):
        raise _unsupported("HostConfig.LogConfig.", "Type", log)

    env: dict[str, str] = {}
    for line in body.get("Env") or []:
        k, sep, v = line.partition("=")
        if not k:
            raise bad_request(f"invalid environment variable {line!r}")
        if sep:
            env[k] = v
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    ep = body.get("Entrypoint")
    if isinstance(ep, str):
        ep = [ep] if ep else []
    if ep == [""]:
        ep = []

    volumes = list(hc.get("Binds") or [])
    volumes += [dest for dest in (body.get("Volumes") or {})]
    mounts = [_mount(m) for m in hc.get("Mounts") or []]
    tmpfs = dict(hc.get("Tmpfs") or {})

    network, aliases, ip = _network(body, hc)
    ports = []
    for key, binds in (hc.get("PortBindings") or {}).items():
        port, _, proto = key.partition("/")
        for b in binds or [{}]:
            host_ip, host_port = (b or {}).get("HostIp") or "", (b or {}).get("HostPort") or ""
            spec = f"{port}/{proto or 'tcp'}"
            if host_port:
                spec = f"{host_port}:{spec}"
            elif host_ip:
                spec = f":{spec}"
            if host_ip:
                spec = f"{host_ip}:{spec}"
            ports.append(spec)

    policy = hc.get("RestartPolicy") or {}
    restart = policy.get("Name") or None
    if restart == "on-failure" and policy.get("MaximumRetryCount"):
        restart = f"on-failure:{int(policy['MaximumRetryCount'])}"

    cpus = None
    if hc.get("NanoCpus"):
        cpus = hc["NanoCpus"] / 1e9
    elif hc.get("CpuQuota") and hc["CpuQuota"] > 0:
        cpus = hc["CpuQuota"] / (hc.get("CpuPeriod") or 100000)
    elif hc.get("CpuPeriod"):
        raise _unsupported("HostConfig.", "CpuPeriod without CpuQuota", hc["CpuPeriod"])
    pids = hc.get("PidsLimit")
    ulimits = [f"{u.get('Name')}={u.get('Soft')}:{u.get('Hard')}" for u in hc.get("Ulimits") or []]
    nnp, seccomp, unmask = _security(hc.get("SecurityOpt") or [])
    for h in hc.get("ExtraHosts") or []:
        if ":" not in h:
            raise bad_request(f"HostConfig.ExtraHosts: invalid entry {h!r}: expected HOST:IP")

    return ContainerSpec(
        body["Image"], name=name, command=list(cmd) if cmd else None,
        entrypoint=list(ep) if ep is not None else None, env=env,
        workdir=body.get("WorkingDir") or None, user=body.get("User") or None,
        labels=dict(body.get("Labels") or {}), annotations=dict(hc.get("Annotations") or {}),
        volumes=volumes, mounts=mounts, tmpfs=tmpfs, read_only=bool(hc.get("ReadonlyRootfs")),
        cap_add=list(hc.get("CapAdd") or []), cap_drop=list(hc.get("CapDrop") or []),
        privileged=bool(hc.get("Privileged")), memory=hc.get("Memory") or None, cpus=cpus,
        pids_limit=pids if pids and pids > 0 else None, shm_size=hc.get("ShmSize") or None,
        hostname=body.get("Hostname") or None, restart=restart if restart != "no" else None,
        init=bool(hc.get("Init")), stop_signal=body.get("StopSignal") or None,
        stop_timeout=body.get("StopTimeout"), interactive=bool(body.get("OpenStdin")), tty=bool(body.get("Tty")),
        remove=bool(hc.get("AutoRemove")), network=network, ports=ports, ulimits=ulimits,
        sysctls=dict(hc.get("Sysctls") or {}), network_aliases=aliases, ip=ip,
        health=_health(body.get("Healthcheck")),
        add_hosts=list(hc.get("ExtraHosts") or []),
        dns=list(hc["Dns"]) if hc.get("Dns") else None,
        dns_search=list(hc["DnsSearch"]) if hc.get("DnsSearch") else None,
        dns_options=list(hc.get("DnsOptions") or []),
        groups=[str(g) for g in hc.get("GroupAdd") or []],
        no_new_privileges=nnp, unmask=unmask, seccomp_profile=seccomp,
        memory_reservation=hc.get("MemoryReservation") or None,
    )


def _security(opts: list[str]) -> tuple[bool, str | None, list[str]]:
    """``SecurityOpt``: no-new-privileges, seccomp=unconfined, unmask=..., label=disable."""
    nnp, seccomp, unmask = False, None, []
    for o in opts:
        key, sep, val = o.replace(":", "=", 1).partition("=")
        if key == "no-new-privileges" and val.lower() in ("", "true"):
            nnp = True
        elif key == "no-new-privileges" and val.lower() == "false":
            pass
        elif key == "label" and val == "disable":
            pass
        elif key == "seccomp" and val == "unconfined":
            seccomp = "unconfined"
        elif key == "unmask" and val:
            unmask += val.split(":")
        else:
            raise _unsupported("HostConfig.", "SecurityOpt", o)
    return nnp, seccomp, unmask


def _network(body: dict[str, Any], hc: dict[str, Any]) -> tuple[str | None, list[str], str | None]:
    if body.get("NetworkDisabled"):
        return "none", [], None
    mode = hc.get("NetworkMode") or ""
    endpoints = ((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
    names = [n for n in endpoints if n not in ("", "default")]
    if mode in ("", "default"):
        mode = ""
    if mode and mode not in ("bridge",) and mode not in names and ":" not in mode and mode not in ("host", "none"):
        names.insert(0, mode)
    elif mode in ("host", "none") or ":" in mode:
        if names and names != [mode]:
            raise bad_request(f"NetworkMode {mode!r} cannot be combined with other networks")
        return mode, [], None
    if mode == "bridge" and not names:
        names = ["bridge"]
    aliases: list[str] = []
    ip = None
    for n in names:
        ep = endpoints.get(n) or {}
        aliases += [a for a in ep.get("Aliases") or [] if a not in aliases]
        want = (ep.get("IPAMConfig") or {}).get("IPv4Address")
        if want:
            ip = want
    return (",".join(dict.fromkeys(names)) or None), aliases, ip


def _mount(m: dict[str, Any]) -> dict[str, Any]:
    from podium.engine.mounts import parse_mount

    mtype = m.get("Type") or "volume"
    parts = [f"type={mtype}", f"destination={m.get('Target') or ''}"]
    if m.get("Source"):
        parts.append(f"source={m['Source']}")
    if m.get("ReadOnly"):
        parts.append("readonly=true")
    if mtype == "bind":
        bo = m.get("BindOptions") or {}
        if bo.get("Propagation"):
            parts.append(f"bind-propagation={bo['Propagation']}")
        if bo.get("CreateMountpoint"):
            parts.append("bind-create-host-path=true")
    elif mtype == "tmpfs":
        to = m.get("TmpfsOptions") or {}
        if to.get("SizeBytes"):
            parts.append(f"tmpfs-size={int(to['SizeBytes'])}")
        if to.get("Mode"):
            parts.append(f"tmpfs-mode={int(to['Mode']):o}")
    elif mtype == "volume":
        vo = m.get("VolumeOptions") or {}
        if (vo.get("DriverConfig") or {}).get("Name") not in (None, "", "local"):
            raise bad_request(f"Mounts: volume driver {vo['DriverConfig']['Name']!r} is not supported")
    if any(c in ",=" for c in (m.get("Source") or "") + (m.get("Target") or "")):
        raise bad_request("Mounts: a Source or Target holding ',' or '=' is not supported")
    return parse_mount(",".join(parts))


def _health(h: dict[str, Any] | None) -> dict[str, Any] | None:
    if not h:
        return None
    out: dict[str, Any] = {}
    test = h.get("Test")
    if test:
        if test == ["NONE"]:
            return {"disable": True}
        out["cmd"] = list(test)
    for src, dst in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period")):
        if h.get(src):
            out[dst] = f"{int(h[src])}ns"
    if h.get("Retries"):
        out["retries"] = int(h["Retries"])
    return out or None
