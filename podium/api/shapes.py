"""Engine records -> Docker Engine API JSON (containers, images, networks, volumes).

The engine already speaks Docker's field names for ``inspect``; this module
adds what Docker's API differs in: a ``/`` before container names, ``sha256:``
before image ids, Unix-time ``Created`` in lists, ``NetworkSettings.Networks``,
the ``IPAM`` block of networks. Pure functions of the records they get.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _created_unix(iso: str) -> int:
    from podium.engine.timeutil import parse_iso
    return int(parse_iso(iso))


def familiar(name: str) -> str:
    """``docker.io/library/busybox:latest`` -> ``busybox:latest``, as Docker prints names."""
    if name.startswith("docker.io/library/"):
        return name[len("docker.io/library/"):]
    if name.startswith("docker.io/"):
        return name[len("docker.io/"):]
    return name


# ---- containers ---------------------------------------------------------------------------


def container_summary(engine: Any, c: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``GET /containers/json``."""
    from podium.engine.inspect import ps_entry
    from podium.engine.net.setup import network_settings

    e = ps_entry(c)
    config = c["config"]
    status = e["Status"]
    if status.startswith("Up ") and status.endswith(" ago"):
        status = status[:-4]
    ports = [{"IP": p.get("host_ip") or "0.0.0.0", "PrivatePort": int(p["container_port"]),
              "PublicPort": int(p["host_port"]), "Type": p.get("protocol", "tcp")}
             for p in config.get("ports", [])]
    return {
        "Id": c["id"], "Names": ["/" + c["name"]], "Image": config["image"],
        "ImageID": "sha256:" + (c["image_id"] or ""), "Command": " ".join(config.get("args", [])),
        "Created": e["Created"], "Ports": ports, "Labels": dict(config.get("labels") or {}),
        "State": e["State"], "Status": status,
        "HostConfig": {"NetworkMode": _network_mode(config)},
        "NetworkSettings": {"Networks": network_settings(c)["Networks"]},
        "Mounts": [_mount_point(m) for m in config.get("mounts", [])],
    }


def _network_mode(config: dict[str, Any]) -> str:
    mode = config.get("network_mode") or "none"
    if mode == "bridge":
        nets = list(config.get("networks") or {})
        return nets[0] if len(nets) == 1 and nets[0] != "podium" else "bridge"
    return mode


def _mount_point(m: dict[str, Any]) -> dict[str, Any]:
    out = {"Type": m["type"], "Source": m.get("source", ""), "Destination": m["destination"],
           "Mode": "", "RW": bool(m.get("rw", True)),
           "Propagation": "rprivate" if m["type"] == "bind" else ""}
    if m["type"] == "volume":
        out["Name"] = m.get("volume") or ""
        out["Driver"] = "local"
    return out


def container_inspect(engine: Any, c: dict[str, Any]) -> dict[str, Any]:
    """``GET /containers/{id}/json``."""
    from podium.engine.inspect import inspect
    from podium.engine.net.setup import network_settings

    out = inspect(engine, c)
    out["Name"] = "/" + c["name"]
    out["Mounts"] = [_mount_point(m) for m in c["config"].get("mounts", [])]
    ns = network_settings(c)
    out["NetworkSettings"] = {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": out.get("NetworkSettings", {}).get("Ports", {}),
        "SandboxKey": "", "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": "",
        **ns,
    }
    cfg = out["Config"]
    cfg.setdefault("Domainname", "")
    cfg.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    cfg["Cmd"] = cfg.get("Cmd") or None
    cfg["Entrypoint"] = cfg.get("Entrypoint") or None
    hc = out["HostConfig"]
    hc["NetworkMode"] = _network_mode(c["config"])
    # docker-py reads a foreground run's output only from json-file (or journald) logs;
    # podium's k8s-file logs serve the same /logs endpoint, so say json-file
    hc["LogConfig"] = {"Type": "json-file", "Config": {}}
    hc.setdefault("Dns", [])
    hc.setdefault("ExtraHosts", [])
    hc.setdefault("Devices", [])
    hc.setdefault("SecurityOpt", [])
    hc.setdefault("Annotations", dict(c["config"].get("annotations") or {}))
    return out


# ---- images -------------------------------------------------------------------------------


def _repo_digests(img: dict[str, Any]) -> list[str]:
    out = set()
    for n in img["names"]:
        if "@" in n:
            continue
        repo = n.rsplit(":", 1)[0] if n.rfind(":") > n.rfind("/") else n
        out.add(familiar(repo) + "@" + img["digest"])
    return sorted(out)


def image_summary(img: dict[str, Any], containers: int = 0) -> dict[str, Any]:
    cfg = (img["config"].get("config") or {})
    tags = [familiar(n) for n in img["names"] if "@" not in n]
    return {
        "Id": "sha256:" + img["id"], "ParentId": "", "RepoTags": tags or None,
        "RepoDigests": _repo_digests(img) or None,
        "Created": _created_unix(img["config"].get("created") or img["created"]),
        "Size": img["size"], "SharedSize": -1, "VirtualSize": img["size"],
        "Labels": cfg.get("Labels") or None, "Containers": containers,
    }


def image_inspect(engine: Any, ref: str) -> dict[str, Any]:
    raw = engine.images.inspect(ref)
    img = engine.images.resolve(ref)
    inner = raw.get("Config") or {}
    return {
        "Id": "sha256:" + raw["Id"], "RepoTags": [familiar(t) for t in raw["RepoTags"]],
        "RepoDigests": _repo_digests(img), "Parent": "", "Comment": raw.get("Comment", ""),
        "Created": raw["Created"], "DockerVersion": "", "Author": raw.get("Author", ""),
        "Config": {"Hostname": "", "Domainname": "", "User": inner.get("User", ""),
                   "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
                   "ExposedPorts": inner.get("ExposedPorts"), "Tty": False, "OpenStdin": False,
                   "StdinOnce": False, "Env": inner.get("Env"), "Cmd": inner.get("Cmd"),
                   "Healthcheck": inner.get("Healthcheck"), "Image": "",
                   "Volumes": inner.get("Volumes"), "WorkingDir": inner.get("WorkingDir", ""),
                   "Entrypoint": inner.get("Entrypoint"), "OnBuild": None,
                   "Labels": inner.get("Labels"), "StopSignal": inner.get("StopSignal")},
        "Architecture": raw.get("Architecture", ""), "Os": raw.get("Os", ""),
        "Size": raw["Size"], "VirtualSize": raw["Size"],
        "GraphDriver": raw.get("GraphDriver"), "RootFS": raw.get("RootFS"),
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


# ---- networks and volumes ---------------------------------------------------------------


def network(n: dict[str, Any], containers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Docker's network object from podium's network record."""
    return {
        "Name": n["name"], "Id": n["id"], "Created": n.get("created", ""), "Scope": "local",
        "Driver": n.get("driver", "bridge"), "EnableIPv4": True,
        "EnableIPv6": bool(n.get("ipv6_enabled")),
        "IPAM": {"Driver": "default", "Options": {},
                 "Config": [{"Subnet": s["subnet"], "Gateway": s.get("gateway", "")}
                            for s in n.get("subnets", [])]},
        "Internal": bool(n.get("internal")), "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": containers if containers is not None else {},
        "Options": {"com.docker.network.bridge.name": n.get("network_interface", ""),
                    **(n.get("options") or {})},
        "Labels": dict(n.get("labels") or {}),
    }


def network_containers(inspect: dict[str, Any]) -> dict[str, Any]:
    """``Containers`` of a network from podium's network inspect."""
    out = {}
    for cid, block in (inspect.get("containers") or {}).items():
        iface = next(iter((block.get("interfaces") or {}).values()), {})
        sub = (iface.get("subnets") or [{}])[0]
        out[cid] = {"Name": block.get("name", ""), "EndpointID": "",
                    "MacAddress": iface.get("mac_address", ""),
                    "IPv4Address": sub.get("ipnet", ""), "IPv6Address": ""}
    return out


def volume(desc: dict[str, Any]) -> dict[str, Any]:
    """Docker's volume object from podium's volume inspect."""
    return {"Name": desc["Name"], "Driver": desc.get("Driver", "local"),
            "Mountpoint": desc["Mountpoint"], "CreatedAt": desc["CreatedAt"],
            "Labels": desc.get("Labels") or {}, "Scope": "local",
            "Options": desc.get("Options") or {}, "Status": {}, "UsageData": None}
