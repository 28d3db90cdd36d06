"""``/networks/...``: list, inspect, create, remove, connect, disconnect, prune (Docker's shapes)."""

from __future__ import annotations

import re

from podium.api.http import ApiError, bad_request, no_content
from podium.api.routes import Param, route
from podium.api import shapes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TAG = "networks (Docker)"
_S = {"type": ["string", "null"]}
_B = {"type": ["boolean", "null"]}
_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}

CREATE_SCHEMA = {
    "type": "object",
    "properties": {
        "Name": {"type": "string"}, "CheckDuplicate": _B, "Driver": _S, "Scope": _S, "Internal": _B,
        "Attachable": _B, "Ingress": _B, "ConfigOnly": _B,
        "ConfigFrom": {"type": ["object", "null"]}, "EnableIPv4": _B, "EnableIPv6": _B,
        "IPAM": {"type": ["object", "null"], "properties": {
            "Driver": _S, "Options": _MAP,
            "Config": {"type": ["array", "null"], "items": {
                "type": "object", "properties": {"Subnet": _S, "IPRange": _S, "Gateway": _S,
                                                 "AuxiliaryAddresses": _MAP},
                "additionalProperties": False}}},
            "additionalProperties": False},
        "Options": _MAP, "Labels": _MAP,
    },
    "required": ["Name"],
    "additionalProperties": False,
}
CONNECT_SCHEMA = {
    "type": "object",
    "properties": {"Container": {"type": "string"},
                   "EndpointConfig": {"type": ["object", "null"], "properties": {
                       "Aliases": {"type": ["array", "null"], "items": {"type": "string"}},
                       "IPAMConfig": {"type": ["object", "null"]}}}},
    "required": ["Container"],
    "additionalProperties": False,
}
DISCONNECT_SCHEMA = {
    "type": "object",
    "properties": {"Container": {"type": "string"}, "Force": _B},
    "required": ["Container"],
    "additionalProperties": False,
}

# Docker's bridge options -> podium's
_OPTIONS = {"com.docker.network.driver.mtu": "mtu", "mtu": "mtu"}


def _get(ctx: Any, ref: str) -> dict[str, Any]:
    from podium.engine.errors import NotFound
    try:
        return ctx.engine.networks.get(ref)
    except NotFound:
        raise ApiError(404, f"network {ref} not found") from None


def _view(ctx: Any, n: dict[str, Any]) -> dict[str, Any]:
    return shapes.network(n, shapes.network_containers(ctx.engine.networks.inspect(n["name"])))


@route("GET", "/networks", summary="List networks", tag=TAG, params=[Param("filters", "string")])
def list_networks(ctx: Any, req: Any) -> Any:
    flt = req.filters(("name", "id", "label", "driver", "type", "scope", "dangling"))
    eng = ctx.engine
    out = []
    for n in eng.networks.list():
        by: dict[str, list[bool]] = {}
        for key, val in flt:
            if key == "name":
                ok = val in n["name"]
            elif key == "id":
                ok = n["id"].startswith(val)
            elif key == "label":
                k, sep, v = val.partition("=")
                labels = n.get("labels") or {}
                ok = k in labels and (not sep or labels[k] == v)
            elif key == "driver":
                ok = n.get("driver", "bridge") == val
            elif key == "type":
                ok = (val == "builtin") == (n["name"] == "podium")
            elif key == "scope":
                ok = val == "local"
            else:
                ok = (not eng.networks.containers_using(n["name"])) == (val.lower() in ("true", "1"))
            by.setdefault(key, []).append(ok)
        if all(all(v) if k == "label" else any(v) for k, v in by.items()):
            out.append(_view(ctx, n))
    return out


@route("GET", "/networks/{id}", summary="Inspect a network", tag=TAG,
       params=[Param("verbose", "boolean"), Param("scope", "string")])
def inspect(ctx: Any, req: Any, id: str) -> Any:
    return _view(ctx, _get(ctx, id))


@route("POST", "/networks/create", summary="Create a network", tag=TAG, status=201, body=CREATE_SCHEMA)
def create(ctx: Any, req: Any) -> Any:
    from podium.engine.errors import AlreadyExists
    body = req.json(schema=CREATE_SCHEMA)
    name = body["Name"]
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name or ""):
        raise bad_request(f"invalid network name {name!r}")
    for flag in ("Attachable", "Ingress", "ConfigOnly"):
        if body.get(flag):
            raise bad_request(f"{flag}=true is not supported: podium networks are local bridges")
    if body.get("ConfigFrom"):
        raise bad_request("ConfigFrom is not supported")
    if body.get("Scope") not in (None, "", "local"):
        raise bad_request(f"Scope {body['Scope']!r} is not supported: use local")
    ipam = body.get("IPAM") or {}
    if ipam.get("Driver") not in (None, "", "default"):
        raise bad_request(f"IPAM driver {ipam['Driver']!r} is not supported")
    if ipam.get("Options"):
        raise bad_request("IPAM options are not supported")
    configs = ipam.get("Config") or []
    if len(configs) > 1:
        raise bad_request("only one IPAM config (one IPv4 subnet) is supported")
    subnet = gateway = None
    if configs:
        subnet, gateway = configs[0].get("Subnet") or None, configs[0].get("Gateway") or None
        if configs[0].get("IPRange") or configs[0].get("AuxiliaryAddresses"):
            raise bad_request("IPRange and AuxiliaryAddresses are not supported")
    options = {}
    for k, v in (body.get("Options") or {}).items():
        if k not in _OPTIONS:
            raise bad_request(f"network option {k!r} is not supported (use com.docker.network.driver.mtu)")
        options[_OPTIONS[k]] = v
    driver = body.get("Driver") or "bridge"
    try:
        n = ctx.engine.networks.create(name, driver=driver, subnet=subnet, gateway=gateway,
                                       internal=bool(body.get("Internal")), labels=body.get("Labels") or {},
                                       options=options, ipv6=bool(body.get("EnableIPv6")))
    except AlreadyExists:
        raise ApiError(409, f"network with name {name} already exists") from None
    return {"Id": n["id"], "Warning": ""}


@route("DELETE", "/networks/{id}", summary="Remove a network", tag=TAG, status=204)
def remove(ctx: Any, req: Any, id: str) -> Any:
    n = _get(ctx, id)
    ctx.engine.networks.remove(n["name"])
    return no_content()


@route("POST", "/networks/{id}/connect", summary="Connect a container to a network", tag=TAG,
       body=CONNECT_SCHEMA)
def connect(ctx: Any, req: Any, id: str) -> Any:
    body = req.json(schema=CONNECT_SCHEMA)
    n = _get(ctx, id)
    ep = body.get("EndpointConfig") or {}
    if (ep.get("IPAMConfig") or {}).get("IPv4Address"):
        raise bad_request("a static address on connect is not supported")
    ctx.engine.networks.connect(n["name"], body["Container"], aliases=list(ep.get("Aliases") or []))
    return {}


@route("POST", "/networks/{id}/disconnect", summary="Disconnect a container from a network", tag=TAG,
       body=DISCONNECT_SCHEMA)
def disconnect(ctx: Any, req: Any, id: str) -> Any:
    body = req.json(schema=DISCONNECT_SCHEMA)
    n = _get(ctx, id)
    ctx.engine.networks.disconnect(n["name"], body["Container"], force=bool(body.get("Force")))
    return {}


@route("POST", "/networks/prune", summary="Remove unused networks", tag=TAG, params=[Param("filters", "string")])
def prune(ctx: Any, req: Any) -> Any:
    flt = req.filters(("label", "until"))
    if any(k == "until" for k, _ in flt):
        raise bad_request("the until filter is not supported by network prune")
    return {"NetworksDeleted": ctx.engine.networks.prune(filters=flt)}
