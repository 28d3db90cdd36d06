"""``/_ping``, ``/version``, ``/info``, ``/events``, ``/system/df``."""

from __future__ import annotations

import json
import os
import platform
import time

from podium.api.http import Response, Stream, bad_request
from podium.api.routes import API_VERSION, LIBPOD_VERSION, MIN_API, Param, route
from podium.api import shapes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

TAG = "system (Docker)"


_VERSION: list[str] = []


def _version() -> str:
    if not _VERSION:
        from importlib.metadata import PackageNotFoundError, version
        try:
            _VERSION.append(version("podium"))
        except PackageNotFoundError:
            _VERSION.append("0.0.0")
    return _VERSION[0]


@route("GET", "/_ping", summary="Ping (API version in the headers)", tag=TAG, produces="text/plain")
def ping(ctx: Any, req: Any) -> Any:
    return Response(200, b"OK", content_type="text/plain; charset=utf-8",
                    headers=[("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache"),
                             ("Builder-Version", "")])


@route("HEAD", "/_ping", summary="Ping without a body", tag=TAG, produces="text/plain")
def ping_head(ctx: Any, req: Any) -> Any:
    return Response(200, b"", content_type="text/plain; charset=utf-8",
                    headers=[("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")])


@route("GET", "/version", summary="Version of the service and its API", tag=TAG)
def version(ctx: Any, req: Any) -> Any:
    ver = _version()
    kernel = platform.release()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    details = {"APIVersion": API_VERSION, "Arch": arch, "BuildTime": "", "Experimental": "false",
               "GitCommit": "", "GoVersion": "python" + platform.python_version(), "KernelVersion": kernel,
               "MinAPIVersion": f"{MIN_API[0]}.{MIN_API[1]}", "Os": "linux"}
    return {
        "Platform": {"Name": "podium"},
        "Components": [{"Name": "Podium Engine", "Version": ver, "Details": details}],
        "Version": ver, "ApiVersion": API_VERSION, "MinAPIVersion": f"{MIN_API[0]}.{MIN_API[1]}",
        "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
        "Arch": arch, "KernelVersion": kernel, "BuildTime": "", "Experimental": False,
        "LibpodAPIVersion": LIBPOD_VERSION,
    }


@route("GET", "/info", summary="System-wide information", tag=TAG)
def info(ctx: Any, req: Any) -> Any:
    from podium.engine.runtime.oci import cgroup_v2_unified
    eng = ctx.engine
    ctrs = [c for c in eng.containers.list() if not c["config"].get("infra")]
    states = [c["state"]["status"] for c in ctrs]
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    runtime = eng.runtime
    return {
        "ID": "podium", "Containers": len(ctrs),
        "ContainersRunning": sum(s in ("running", "stopping") for s in states),
        "ContainersPaused": states.count("paused"),
        "ContainersStopped": sum(s in ("exited", "created") for s in states),
        "Images": len(eng.images.list()), "Driver": "overlay",
        "DriverStatus": [["Backing Filesystem", "overlayfs"]], "Plugins": {
            "Volume": ["local"], "Network": ["bridge"], "Authorization": None, "Log": ["k8s-file"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "BridgeNfIptables": True, "BridgeNfIp6tables": True, "Debug": False, "NFd": 0,
        "OomKillDisable": False, "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "LoggingDriver": "k8s-file", "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if cgroup_v2_unified() else "1", "NEventsListener": 0,
        "KernelVersion": platform.release(), "OperatingSystem": _os_name(), "OSVersion": "",
        "OSType": "linux", "Architecture": platform.machine(), "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": mem, "GenericResources": None,
        "DockerRootDir": str(eng.paths.root), "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": platform.node(), "Labels": [], "ExperimentalBuild": False, "ServerVersion": _version(),
        "Runtimes": {runtime.name: {"path": runtime.path}}, "DefaultRuntime": runtime.name,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "catatonit",
        "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""}, "SecurityOptions": ["name=seccomp,profile=default"],
        "Warnings": [],
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


@route("GET", "/system/df", summary="Disk usage", tag=TAG, params=[Param("type", "string")])
def df(ctx: Any, req: Any) -> Any:
    eng = ctx.engine
    ctrs = [c for c in eng.containers.list() if not c["config"].get("infra")]
    users: dict[str, int] = {}
    for c in ctrs:
        users[c["image_id"]] = users.get(c["image_id"], 0) + 1
    all_images = eng.images.list()
    sizes = {img["id"]: img["size"] for img in all_images}
    images = [shapes.image_summary(img, users.get(img["id"], 0)) for img in all_images]
    vols = eng.volumes
    used = vols.used_names()
    volumes = []
    for v in vols.list():
        d = shapes.volume(vols.describe(v))
        d["UsageData"] = {"Size": _du(d["Mountpoint"]), "RefCount": int(v["name"] in used)}
        volumes.append(d)
    containers = []
    for c in ctrs:
        s = shapes.container_summary(eng, c)
        s["SizeRw"] = _du(str(eng.paths.container_dir(c["id"]) / "upper"))
        s["SizeRootFs"] = s["SizeRw"] + sizes.get(c["image_id"], 0)
        containers.append(s)
    layers = sum(img["Size"] for img in images)
    return {"LayersSize": layers, "Images": images, "Containers": containers, "Volumes": volumes,
            "BuildCache": []}


def _du(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


# ---- events -------------------------------------------------------------------------------


@route("GET", "/events", summary="Stream events (until 'until', or the client leaves)", tag=TAG, params=[
    Param("since", "string"), Param("until", "string"), Param("filters", "string")])
def events(ctx: Any, req: Any) -> Any:
    from podium.engine.events import compile_filters, parse_time
    from podium.engine.errors import ConfigError
    flt = [f"{k}={v}" for k, v in req.filters()]
    since, until = req.arg("since") or None, req.arg("until") or None
    try:
        compile_filters(flt)
        if since is not None:
            parse_time(since)
        if until is not None:
            parse_time(until)
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    eng = ctx.engine
    if until is not None and parse_time(until) <= time.time():
        items = eng.events.list(since=since, until=until, filters=flt)
        return Stream(_lines(iter(items)))
    last = [time.monotonic()]

    def stop() -> bool:
        if time.monotonic() - last[0] < 0.5:
            return False
        last[0] = time.monotonic()
        return req.client_gone()
    return Stream(_lines(eng.events.follow(since=since, until=until, filters=flt, stop=stop), head=True))


def _lines(items: Iterator[dict[str, Any]], head: bool = False) -> Iterator[bytes]:
    if head:
        yield b""  # headers now: a client waits for them before it reads the stream
    for e in items:
        e = {k: v for k, v in e.items() if not k.startswith("_")}
        yield json.dumps(e).encode() + b"\n"
