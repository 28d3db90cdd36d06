"""Container records in the shapes Docker and Podman print: ``inspect`` and ``ps``.

Field names are theirs (``State.Status``, ``HostConfig.Memory``, ``Mounts``)
so scripts written for ``docker inspect``/``podman inspect`` keep working.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
from .state import status as st
from .timeutil import ZERO, human_duration, parse_iso

if TYPE_CHECKING:
    from .engine import Engine  # noqa: F811


def _mounts(config: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in config.get("mounts", []):
        entry = {"Type": m["type"], "Source": m.get("source", ""), "Destination": m["destination"],
                 "Driver": "local" if m["type"] == "volume" else "", "Mode": "",
                 "Options": list(m.get("options", [])), "RW": bool(m.get("rw", True)),
                 "Propagation": "rprivate" if m["type"] == "bind" else ""}
        if m["type"] == "volume":
            entry["Name"] = m.get("volume", "")
        out.append(entry)
    return out


def inspect(engine: "Engine", c: dict[str, Any]) -> dict[str, Any]:
    from .net.setup import network_settings
    config, state = c["config"], c["state"]
    status = st.docker_status(state["status"])
    image = engine.store.image(c["image_id"]) if c["image_id"] else None
    policy = config.get("restart_policy") or {"Name": "no", "MaximumRetryCount": 0}
    ports = _port_map(config)
    return {
        "Id": c["id"],
        "Created": c["created"],
        "Path": config["args"][0] if config["args"] else "",
        "Args": config["args"][1:],
        "State": {
            "Status": status,
            "Running": status == st.RUNNING,
            "Paused": status == st.PAUSED,
            "Restarting": False,
            "OOMKilled": bool(state.get("oom_killed")),
            "Dead": False,
            "Pid": state.get("pid", 0) if status in (st.RUNNING, st.PAUSED) else 0,
            "ConmonPid": state.get("conmon_pid", 0) if status in (st.RUNNING, st.PAUSED) else 0,
            "ExitCode": state.get("exit_code", 0),
            "Error": state.get("error", ""),
            "StartedAt": state.get("started_at") or ZERO,
            "FinishedAt": state.get("finished_at") or ZERO,
            **_health(config, state),
        },
        "Image": "sha256:" + c["image_id"] if c["image_id"] else "",
        "ImageName": config["image"],
        "Name": c["name"],
        "RestartCount": state.get("restart_count", 0),
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "LogPath": str(engine.paths.container_dir(c["id"]) / "ctr.log"),
        "ResolvConfPath": str(engine.paths.bundle(c["id"]) / "resolv.conf"),
        "HostnamePath": str(engine.paths.bundle(c["id"]) / "hostname"),
        "HostsPath": str(engine.paths.bundle(c["id"]) / "hosts"),
        "Mounts": _mounts(config),
        "Config": {
            "Hostname": config.get("hostname", ""),
            "User": config.get("user", ""),
            "Env": list(config.get("env", [])),
            "Cmd": list(config.get("command", [])),
            "Entrypoint": list(config.get("entrypoint", [])),
            "Image": config["image"],
            "WorkingDir": config.get("workdir", "/"),
            "Labels": dict(config.get("labels", {})),
            "Annotations": dict(config.get("annotations", {})),
            "StopSignal": config.get("stop_signal", "SIGTERM"),
            "StopTimeout": config.get("stop_timeout", 10),
            "OpenStdin": bool(config.get("interactive")),
            "Tty": bool(config.get("tty")),
            "ExposedPorts": {p: {} for p in config.get("exposed_ports", [])},
            "Volumes": {m["destination"]: {} for m in config.get("mounts", []) if m["type"] == "volume"},
            "Healthcheck": config.get("healthcheck"),
            "HealthcheckOnFailureAction": config.get("health_on_failure") or "none",
        },
        "HostConfig": {
            "Binds": [f"{m['source']}:{m['destination']}" + ("" if m.get("rw", True) else ":ro")
                      for m in config.get("mounts", []) if m["type"] == "bind"],
            "NetworkMode": config.get("network_mode", "none"),
            "PortBindings": ports,
            "RestartPolicy": policy,
            "AutoRemove": bool(config.get("remove")),
            "CapAdd": list(config.get("cap_add", [])),
            "CapDrop": list(config.get("cap_drop", [])),
            "Privileged": bool(config.get("privileged")),
            "ReadonlyRootfs": bool(config.get("read_only")),
            "Memory": config.get("memory") or 0,
            "NanoCpus": int((config.get("cpus") or 0) * 1e9),
            "CpuPeriod": 100000 if config.get("cpus") else 0,
            "CpuQuota": int((config.get("cpus") or 0) * 100000),
            "PidsLimit": config.get("pids_limit") or 0,
            "ShmSize": config.get("shm_size") or 65536000,
            "Tmpfs": {m["destination"]: ",".join(m.get("options", []))
                      for m in config.get("mounts", []) if m["type"] == "tmpfs"},
            "Init": bool(config.get("init")),
            "Ulimits": [{"Name": u["name"], "Soft": u["soft"], "Hard": u["hard"]}
                        for u in config.get("ulimits", [])],
            "Sysctls": dict(config.get("sysctls", {})),
        },
        "NetworkSettings": {"Ports": ports, **network_settings(c)},
    }


def _health(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """``State.Health`` (Docker) and ``State.Healthcheck`` (older Podman), only with a check."""
    if not config.get("healthcheck"):
        return {}
    h = state.get("health") or {}
    health = {"Status": h.get("Status", ""), "FailingStreak": h.get("FailingStreak", 0),
              "Log": list(h.get("Log") or [])}
    return {"Health": health, "Healthcheck": health}


def _health_suffix(c: dict[str, Any]) -> str:
    """`` (healthy)`` for ps's STATUS of a running container with a check."""
    if not c["config"].get("healthcheck"):
        return ""
    status = (c["state"].get("health") or {}).get("Status")
    return f" ({status})" if status else ""


def _port_map(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in config.get("ports", []):
        key = f"{p['container_port']}/{p.get('protocol', 'tcp')}"
        out.setdefault(key, []).append({"HostIp": p.get("host_ip", ""), "HostPort": str(p["host_port"])})
    return out


def status_text(c: dict[str, Any], now: float | None = None) -> str:
    """ps's STATUS column: ``Up 5 seconds``, ``Exited (3) 2 minutes ago``, ``Created``."""
    now = time.time() if now is None else now
    state = c["state"]
    s = state["status"]
    if s in (st.RUNNING, st.STOPPING):
        up = "Up " + human_duration(now - parse_iso(state.get("started_at", ""))) + " ago"
        return up + _health_suffix(c)
    if s == st.PAUSED:
        return "Up " + human_duration(now - parse_iso(state.get("started_at", ""))) + " ago (Paused)"
    if s == st.EXITED:
        return f"Exited ({state.get('exit_code', 0)}) " + human_duration(
            now - parse_iso(state.get("finished_at", ""))) + " ago"
    return "Created"


def ps_entry(c: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """One ``ps --format json`` object (Podman's field names), plus RunningFor for templates."""
    now = time.time() if now is None else now
    config, state = c["config"], c["state"]
    status = st.docker_status(state["status"])
    created = parse_iso(c["created"])
    return {
        "AutoRemove": bool(config.get("remove")),
        "Command": list(config.get("args", [])),
        "CreatedAt": human_duration(now - created) + " ago",
        "RunningFor": human_duration(now - created) + " ago",
        "Created": int(created),
        "Exited": status == st.EXITED,
        "ExitedAt": int(parse_iso(state.get("finished_at", ""))) if status == st.EXITED else 0,
        "ExitCode": state.get("exit_code", 0),
        "Id": c["id"],
        "Image": config["image"],
        "ImageID": c["image_id"] or "",
        "IsInfra": False,
        "Labels": dict(config.get("labels", {})) or None,
        "Mounts": [m["destination"] for m in config.get("mounts", [])],
        "Names": [c["name"]],
        "Networks": [],
        "Pid": state.get("pid", 0) if status == st.RUNNING else 0,
        "Pod": c.get("pod_id") or "",
        "Ports": [{"host_ip": p.get("host_ip", ""), "container_port": p["container_port"],
                   "host_port": p["host_port"], "range": 1, "protocol": p.get("protocol", "tcp")}
                  for p in config.get("ports", [])] or None,
        "StartedAt": int(parse_iso(state.get("started_at", ""))),
        "State": status,
        "Status": status_text(c, now),
        "Restarts": state.get("restart_count", 0),
    }
