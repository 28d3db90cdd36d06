"""Native endpoints (``/v*/libpod/...``, Podman's shapes): pods, ``play/kube``, ``generate/kube``.

Play and down take the Kubernetes YAML as the request body and run the same
declare functions as ``podium play kube``: load (with located errors), convert
to a plan, play it. Errors in the YAML are 400s naming ``<body>:line:column``.
"""

from __future__ import annotations

import io

from podium.api.http import ApiError, Response, bad_request
from podium.api.routes import Param, route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TAG = "pods (libpod)"
_S = {"type": ["string", "null"]}
_SL = {"type": ["array", "null"], "items": {"type": "string"}}
_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}

POD_CREATE_SCHEMA = {
    "type": "object",
    "properties": {
        "name": _S, "hostname": _S, "labels": _MAP, "infra_image": _S, "infra_name": _S,
        "no_infra": {"type": ["boolean", "null"]}, "share": {"type": ["string", "array", "null"], "items": {"type": "string"}},
        "shared_namespaces": _SL,
        "portmappings": {"type": ["array", "null"], "items": {
            "type": "object", "properties": {"container_port": {"type": "integer"},
                                             "host_port": {"type": ["integer", "null"]},
                                             "host_ip": _S, "protocol": _S, "range": {"type": ["integer", "null"]}},
            "required": ["container_port"], "additionalProperties": False}},
        "netns": {"type": ["object", "null"], "properties": {"nsmode": _S, "value": _S},
                  "additionalProperties": False},
        "networks": {"type": ["object", "null"], "additionalProperties": {
            "type": ["object", "null"], "properties": {"aliases": _SL}}},
        "network_aliases": _SL,
    },
    "additionalProperties": False,
}


def _pod(ctx: Any, ref: str) -> dict[str, Any]:
    from podium.engine.errors import NotFound
    try:
        return ctx.engine.pods.get(ref)
    except NotFound:
        raise ApiError(404, f"no pod with name or ID {ref} found: no such pod") from None


@route("GET", "/libpod/_ping", summary="Ping (libpod)", tag=TAG, produces="text/plain")
def ping(ctx: Any, req: Any) -> Any:
    return Response(200, b"OK", content_type="text/plain; charset=utf-8")


@route("GET", "/libpod/version", summary="Version (libpod)", tag=TAG)
def version(ctx: Any, req: Any) -> Any:
    from podium.api.docker.system import version as docker_version
    return docker_version(ctx, req)


@route("POST", "/libpod/pods/create", summary="Create a pod", tag=TAG, status=201, body=POD_CREATE_SCHEMA)
def pod_create(ctx: Any, req: Any) -> Any:
    body = req.json(schema=POD_CREATE_SCHEMA)
    if body.get("no_infra"):
        raise bad_request("pods without an infra container are not supported")
    share = body.get("share") or body.get("shared_namespaces")
    if isinstance(share, list):
        share = ",".join(share)
    ports = []
    for p in body.get("portmappings") or []:
        if (p.get("range") or 1) != 1:
            raise bad_request("port ranges in portmappings are not supported")
        spec = f"{p['container_port']}/{p.get('protocol') or 'tcp'}"
        if p.get("host_port"):
            spec = f"{p['host_port']}:{spec}"
        if p.get("host_ip"):
            spec = f"{p['host_ip']}:{spec}" if p.get("host_port") else f"{p['host_ip']}::{spec}"
        ports.append(spec)
    network = None
    nsmode = (body.get("netns") or {}).get("nsmode")
    if nsmode in ("host", "none"):
        network = nsmode
    elif nsmode not in (None, "", "bridge", "default", "private"):
        raise bad_request(f"netns mode {nsmode!r} is not supported")
    aliases = list(body.get("network_aliases") or [])
    nets = body.get("networks") or {}
    if nets:
        network = ",".join(nets)
        for entry in nets.values():
            aliases += list((entry or {}).get("aliases") or [])
    pod = ctx.engine.pods.create(name=body.get("name") or None, hostname=body.get("hostname") or None,
                                 share=share, labels=body.get("labels") or {}, ports=ports,
                                 network=network, network_aliases=aliases,
                                 infra_image=body.get("infra_image") or None,
                                 infra_name=body.get("infra_name") or None)
    return {"Id": pod["id"]}


@route("GET", "/libpod/pods/json", summary="List pods", tag=TAG, params=[Param("filters", "string")])
def pod_list(ctx: Any, req: Any) -> Any:
    flt = req.filters(("name", "id", "label", "status"))
    pods = ctx.engine.pods
    out = []
    for p in pods.list():
        e = pods.ps_entry(p)
        by: dict[str, list[bool]] = {}
        for key, val in flt:
            if key == "name":
                ok = val in p["name"]
            elif key == "id":
                ok = p["id"].startswith(val)
            elif key == "label":
                k, sep, v = val.partition("=")
                labels = p["config"].get("labels") or {}
                ok = k in labels and (not sep or labels[k] == v)
            else:
                ok = e["Status"].lower() == val.lower()
            by.setdefault(key, []).append(ok)
        if all(all(v) if k == "label" else any(v) for k, v in by.items()):
            e = dict(e)
            e.setdefault("Namespace", "")
            e.setdefault("Cgroup", "")
            out.append(e)
    return out


@route("GET", "/libpod/pods/{name}/json", summary="Inspect a pod", tag=TAG)
def pod_inspect(ctx: Any, req: Any, name: str) -> Any:
    return ctx.engine.pods.inspect(_pod(ctx, name)["id"])


@route("GET", "/libpod/pods/{name}/exists", summary="Whether a pod exists (204 or 404)", tag=TAG, status=204)
def pod_exists(ctx: Any, req: Any, name: str) -> Any:
    _pod(ctx, name)
    return Response(204, b"", content_type="")


@route("POST", "/libpod/pods/{name}/start", summary="Start a pod", tag=TAG)
def pod_start(ctx: Any, req: Any, name: str) -> Any:
    pid = ctx.engine.pods.start(_pod(ctx, name)["id"])
    return {"Id": pid, "Errs": []}


@route("POST", "/libpod/pods/{name}/stop", summary="Stop a pod", tag=TAG, params=[Param("t", "integer")])
def pod_stop(ctx: Any, req: Any, name: str) -> Any:
    t = req.int_arg("t")
    pid = ctx.engine.pods.stop(_pod(ctx, name)["id"], timeout=t)
    return {"Id": pid, "Errs": []}


@route("POST", "/libpod/pods/{name}/kill", summary="Send a signal to a pod's containers", tag=TAG,
       params=[Param("signal", "string")])
def pod_kill(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import ConfigError
    try:
        pid = ctx.engine.pods.kill(_pod(ctx, name)["id"], signal=req.arg("signal") or "KILL")
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    return {"Id": pid, "Errs": []}


@route("DELETE", "/libpod/pods/{name}", summary="Remove a pod", tag=TAG,
       params=[Param("force", "boolean"), Param("t", "integer")])
def pod_remove(ctx: Any, req: Any, name: str) -> Any:
    force, t = req.flag("force"), req.int_arg("t")
    pid = ctx.engine.pods.remove(_pod(ctx, name)["id"], force=force, timeout=t)
    return {"Id": pid, "Err": None}


# ---- kube ------------------------------------------------------------------------------------


def _loaded(req: Any, validate: str = "warn") -> Any:
    from podium.declare.kube.loader import load
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the Kubernetes YAML body must be UTF-8 text") from None
    if not text.strip():
        raise bad_request("a Kubernetes YAML body is required")
    return load(["-"], validate=validate, stdin=io.StringIO(text))


@route("POST", "/libpod/play/kube", summary="Play Kubernetes YAML (the body)", tag="kube (libpod)",
       body_kind="yaml", params=[Param("start", "boolean", "default true"), Param("network", "string"),
                                 Param("replace", "boolean"), Param("publishPorts", "string"),
                                 Param("validate", "string", "ignore, warn (default) or strict")])
def play(ctx: Any, req: Any) -> Any:
    from podium.declare.kube import convert, play as playmod
    validate = req.arg("validate") or "warn"
    if validate not in ("ignore", "warn", "strict"):
        raise bad_request(f"invalid validate {validate!r}: use ignore, warn or strict")
    loaded = _loaded(req, validate)
    network = req.arg("network") or None
    publish = [p for v in req.args("publishPorts") for p in v.split(",") if p]
    plan = convert.build(loaded, ctx.engine, convert.Options(network=network, publish=publish))
    report = playmod.play(ctx.engine, plan, start=req.flag("start", True), replace=req.flag("replace"),
                          loaded=loaded, source="<request body>")
    report = dict(report)
    report["Warnings"] = list(loaded.warnings) + list(report.get("Warnings") or [])
    return report


@route("DELETE", "/libpod/play/kube", summary="Tear down what Kubernetes YAML (the body) declares",
       tag="kube (libpod)", body_kind="yaml", params=[Param("force", "boolean")])
def down(ctx: Any, req: Any) -> Any:
    from podium.declare.kube import play as playmod
    return playmod.down(ctx.engine, _loaded(req, "ignore"), force=req.flag("force"))


@route("GET", "/libpod/generate/kube", summary="Kubernetes YAML for pods and containers", tag="kube (libpod)",
       produces="text/vnd.yaml", params=[Param("names", "string", "pods or containers (repeat)", required=True),
                                         Param("service", "boolean"), Param("type", "string"),
                                         Param("replicas", "integer")])
def generate(ctx: Any, req: Any) -> Any:
    from podium.declare.kube.generate import generate as gen
    names = req.args("names")
    if not names:
        raise bad_request("names is required")
    kind = req.arg("type") or "pod"
    if kind not in ("pod", "deployment"):
        raise bad_request(f"invalid type {kind!r}: use pod or deployment")
    replicas = req.int_arg("replicas", 1)
    text = gen(ctx.engine, names, service=req.flag("service"), kind=kind, replicas=replicas or 1)
    return Response(200, text.encode(), content_type="text/vnd.yaml")
