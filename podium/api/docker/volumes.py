"""``/volumes/...``: list, inspect, create, remove, prune (Docker's shapes)."""

from __future__ import annotations

from podium.api.http import ApiError, bad_request, no_content
from podium.api.routes import Param, route
from podium.api import shapes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TAG = "volumes (Docker)"
_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
CREATE_SCHEMA = {
    "type": "object",
    "properties": {"Name": {"type": ["string", "null"]}, "Driver": {"type": ["string", "null"]},
                   "DriverOpts": _MAP, "Labels": _MAP,
                   "ClusterVolumeSpec": {"type": ["object", "null"]}},
    "additionalProperties": False,
}


@route("GET", "/volumes", summary="List volumes", tag=TAG, params=[Param("filters", "string")])
def list_volumes(ctx: Any, req: Any) -> Any:
    from podium.engine.errors import ConfigError
    flt = req.filters(("name", "label", "label!", "driver", "dangling"))
    vols = ctx.engine.volumes
    used = vols.used_names()
    try:
        found = [v for v in vols.list() if vols.matches(v, flt, used)]
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    return {"Volumes": [shapes.volume(vols.describe(v)) for v in found], "Warnings": []}


@route("POST", "/volumes/create", summary="Create a volume", tag=TAG, status=201, body=CREATE_SCHEMA)
def create(ctx: Any, req: Any) -> Any:
    body = req.json(schema=CREATE_SCHEMA, required=False)
    if body.get("ClusterVolumeSpec"):
        raise bad_request("cluster volumes are not supported")
    vols = ctx.engine.volumes
    name = body.get("Name") or None
    if name and vols.exists(name):
        # Docker returns the existing volume when the same name is created again
        return shapes.volume(vols.inspect(name))
    v = vols.create(name, labels=body.get("Labels") or {}, driver=body.get("Driver") or "local",
                    options=body.get("DriverOpts") or {})
    return shapes.volume(vols.inspect(v["name"]))


@route("GET", "/volumes/{name}", summary="Inspect a volume", tag=TAG)
def inspect(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import NotFound
    try:
        return shapes.volume(ctx.engine.volumes.inspect(name))
    except NotFound:
        raise ApiError(404, f"get {name}: no such volume") from None


@route("DELETE", "/volumes/{name}", summary="Remove a volume", tag=TAG, status=204,
       params=[Param("force", "boolean")])
def remove(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import NotFound
    force = req.flag("force")
    try:
        ctx.engine.volumes.remove(name, force=force)
    except NotFound:
        raise ApiError(404, f"get {name}: no such volume") from None
    return no_content()


@route("POST", "/volumes/prune", summary="Remove unused volumes", tag=TAG, params=[Param("filters", "string")])
def prune(ctx: Any, req: Any) -> Any:
    from podium.engine.errors import ConfigError
    flt = req.filters(("label", "label!", "all"))
    flt = [f for f in flt if f[0] != "all"]
    try:
        reports = ctx.engine.volumes.prune(filters=flt)
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    return {"VolumesDeleted": [name for name, err in reports if err is None], "SpaceReclaimed": 0}
