"""``/containers/...``: list, create, inspect, start, stop, restart, kill, wait, remove, logs,
attach, top, archive (docker cp), prune, rename, pause, unpause.

Attach before start (what ``docker run`` does) is a hand-over inside the
service: the attach request parks a slot for the container, and the start
request, finding it, starts the container attached and gives the slot
conmon's attach socket, so not a byte of output is lost. Attaching to a
container that is already running follows its log instead (no stdin).
"""

from __future__ import annotations

import os
import re
import threading
import time

from podium.api.http import ApiError, Hijack, Response, Stream, bad_request, no_content
from podium.api.routes import Param, route
from podium.api import shapes
from podium.api.docker import streams
from podium.api.docker.create import CREATE_SCHEMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

TAG = "containers (Docker)"
FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "health", "network", "volume",
           "before", "since")
POLL_S = 0.05
MAX_REMEMBERED = 10000


def _get(ctx: Any, ref: str) -> dict[str, Any]:
    from podium.engine.errors import NotFound
    try:
        return ctx.engine.containers.get(ref)
    except NotFound:
        raise ApiError(404, f"No such container: {ref}") from None


# ---- list, create, inspect ---------------------------------------------------------------


@route("GET", "/containers/json", summary="List containers", tag=TAG, params=[
    Param("all", "boolean", "include stopped containers"), Param("limit", "integer"),
    Param("size", "boolean"), Param("filters", "string", "JSON map of filters")])
def list_containers(ctx: Any, req: Any) -> Any:
    flt = req.filters(FILTERS)
    all_ = req.flag("all")
    limit = req.int_arg("limit")
    eng = ctx.engine
    ctrs = eng.containers.list()
    ctrs = [c for c in ctrs if not c["config"].get("infra")]
    if not all_ and not any(k in ("status", "exited") for k, _ in flt):
        ctrs = [c for c in ctrs if c["state"]["status"] in ("running", "paused", "stopping")]
    ctrs.sort(key=lambda c: c["created"], reverse=True)
    out = [c for c in ctrs if _match(eng, c, flt, ctrs)]
    if limit is not None and limit > 0:
        out = out[:limit]
    return [shapes.container_summary(eng, c) for c in out]


def _match(eng: Any, c: dict[str, Any], flt: list[tuple[str, str]], all_ctrs: list[dict[str, Any]]) -> bool:
    from podium.engine.state import status as st
    by: dict[str, list[bool]] = {}
    for key, val in flt:
        if key == "id":
            ok = c["id"].startswith(val)
        elif key == "name":
            try:
                ok = re.search(val, c["name"]) is not None or re.search(val, "/" + c["name"]) is not None
            except re.error:
                raise bad_request(f"invalid filter name={val!r}: not a regular expression") from None
        elif key == "label":
            k, sep, v = val.partition("=")
            labels = c["config"].get("labels") or {}
            ok = k in labels and (not sep or labels[k] == v)
        elif key == "status":
            if val not in ("created", "restarting", "running", "removing", "paused", "exited", "dead"):
                raise bad_request(f"invalid filter status={val!r}")
            ok = st.docker_status(c["state"]["status"]) == val
        elif key == "ancestor":
            ok = val in (c["config"]["image"], c["image_id"], "sha256:" + (c["image_id"] or "")) or \
                (c["image_id"] or "").startswith(val)
            if not ok:
                try:
                    ok = eng.images.resolve(val)["id"] == c["image_id"]
                except Exception:  # noqa: BLE001 - an unknown image matches nothing
                    ok = False
        elif key == "exited":
            ok = c["state"]["status"] == "exited" and str(c["state"].get("exit_code", 0)) == val
        elif key == "health":
            h = (c["state"].get("health") or {}).get("Status") if c["config"].get("healthcheck") else "none"
            ok = (h or "starting") == val
        elif key == "network":
            ok = val in (c["config"].get("networks") or {}) or c["config"].get("network_mode") == val
        elif key == "volume":
            ok = any(m.get("volume") == val or m["destination"] == val or m.get("source") == val
                     for m in c["config"].get("mounts", []))
        else:  # before / since: another container's creation time
            other = next((o for o in all_ctrs if o["id"].startswith(val) or o["name"] == val), None)
            if other is None:
                raise ApiError(404, f"No such container: {val}")
            ok = c["created"] < other["created"] if key == "before" else c["created"] > other["created"]
        by.setdefault(key, []).append(ok)
    return all(all(v) if k == "label" else any(v) for k, v in by.items())


@route("POST", "/containers/create", summary="Create a container", tag=TAG, status=201, params=[
    Param("name", "string", "container name"), Param("platform", "string")], body=CREATE_SCHEMA)
def create(ctx: Any, req: Any) -> Any:
    from podium.api.docker.create import to_spec
    body = req.json(schema=CREATE_SCHEMA)
    name = req.arg("name") or None
    if name is not None:
        name = name.lstrip("/")
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
            raise bad_request(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    platform = req.arg("platform") or ""
    if platform and platform not in ("linux", "linux/amd64", "linux/x86_64") and not platform.startswith("linux/"):
        raise bad_request(f"platform {platform!r} is not supported")
    spec = to_spec(body, name)
    from podium.engine.errors import ImageNotFound
    try:
        c = ctx.engine.containers.create(spec)
    except ImageNotFound:
        raise ApiError(404, f"No such image: {spec.image}") from None
    return {"Id": c["id"], "Warnings": []}


@route("GET", "/containers/{id}/json", summary="Inspect a container", tag=TAG,
       params=[Param("size", "boolean")])
def inspect(ctx: Any, req: Any, id: str) -> Any:
    req.flag("size")
    return shapes.container_inspect(ctx.engine, _get(ctx, id))


# ---- lifecycle -----------------------------------------------------------------------------


def _attach_slots(ctx: Any) -> dict[str, list["AttachSlot"]]:
    return ctx.service.registry("attach_slots", dict)


@route("POST", "/containers/{id}/start", summary="Start a container", tag=TAG, status=204,
       params=[Param("detachKeys", "string")])
def start(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import lifecycle
    from podium.engine.errors import PodiumError
    c = _get(ctx, id)
    if c["state"]["status"] in ("running", "paused", "stopping"):
        return Response(304, b"", content_type="")
    with ctx.service.lock:
        slots = _attach_slots(ctx).pop(c["id"], [])
    if slots:
        try:
            _, sock = lifecycle.start(ctx.engine, c["id"], attach=True)
        except PodiumError as exc:
            for s in slots:
                s.give(None, exc)
            raise
        slots[0].give(sock, None)
        for s in slots[1:]:
            s.give(None, None)
    else:
        lifecycle.start(ctx.engine, c["id"])
    return no_content()


@route("POST", "/containers/{id}/stop", summary="Stop a container", tag=TAG, status=204,
       params=[Param("t", "integer", "seconds before SIGKILL"), Param("signal", "string")])
def stop(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import lifecycle
    t = req.int_arg("t")
    if req.arg("signal"):
        raise bad_request("stop with a signal other than the container's stop signal is not supported: use kill")
    c = _get(ctx, id)
    if c["state"]["status"] not in ("running", "paused", "stopping"):
        return Response(304, b"", content_type="")
    lifecycle.stop(ctx.engine, c["id"], timeout=t)
    return no_content()


@route("POST", "/containers/{id}/restart", summary="Restart a container", tag=TAG, status=204,
       params=[Param("t", "integer"), Param("signal", "string")])
def restart(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import lifecycle
    t = req.int_arg("t")
    if req.arg("signal"):
        raise bad_request("restart with a signal is not supported")
    c = _get(ctx, id)
    lifecycle.restart(ctx.engine, c["id"], timeout=t)
    return no_content()


@route("POST", "/containers/{id}/kill", summary="Send a signal to a container", tag=TAG, status=204,
       params=[Param("signal", "string", "default SIGKILL")])
def kill(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import lifecycle
    from podium.engine.errors import ConfigError, InvalidState
    c = _get(ctx, id)
    try:
        lifecycle.kill(ctx.engine, c["id"], signal=req.arg("signal") or "SIGKILL")
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    except InvalidState:
        raise ApiError(409, f"Cannot kill container: {id}: Container {c['id']} is not running") from None
    return no_content()


@route("POST", "/containers/{id}/resize", summary="Resize a container's TTY", tag=TAG,
       params=[Param("h", "integer", "rows"), Param("w", "integer", "columns")])
def resize(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine.tty import resize_via_ctl
    c = _get(ctx, id)
    try:
        rows, cols = int(req.arg("h") or 0), int(req.arg("w") or 0)
    except ValueError:
        raise bad_request("h and w must be integers") from None
    if rows <= 0 or cols <= 0:
        raise bad_request("h and w must be positive")
    if not c["config"].get("tty"):
        raise bad_request(f"container {c['id']} has no TTY to resize")
    if c["state"]["status"] not in ("running", "paused"):
        raise ApiError(409, f"Container {c['id']} is not running")
    resize_via_ctl(ctx.engine.paths.bundle(c["id"]), (rows, cols))
    return Response(200, b"", content_type="")


@route("POST", "/containers/{id}/pause", summary="Pause a container", tag=TAG, status=204)
def pause(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import lifecycle
    lifecycle.pause(ctx.engine, _get(ctx, id)["id"])
    return no_content()


@route("POST", "/containers/{id}/unpause", summary="Unpause a container", tag=TAG, status=204)
def unpause(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import lifecycle
    lifecycle.unpause(ctx.engine, _get(ctx, id)["id"])
    return no_content()


@route("POST", "/containers/{id}/rename", summary="Rename a container", tag=TAG, status=204,
       params=[Param("name", "string", required=True)])
def rename(ctx: Any, req: Any, id: str) -> Any:
    new = (req.arg("name") or "").lstrip("/")
    if not new:
        raise bad_request("name is required")
    ctx.engine.containers.rename(_get(ctx, id)["id"], new)
    return no_content()


@route("DELETE", "/containers/{id}", summary="Remove a container", tag=TAG, status=204, params=[
    Param("force", "boolean"), Param("v", "boolean", "remove anonymous volumes"), Param("link", "boolean")])
def remove(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine.errors import InvalidState
    force, vols = req.flag("force"), req.flag("v")
    if req.flag("link"):
        raise bad_request("links are not supported")
    c = _get(ctx, id)
    try:
        ctx.engine.containers.remove(c["id"], force=force, volumes=vols)
    except InvalidState as exc:
        raise ApiError(409, f"You cannot remove a running container {c['id']}. Stop the container "
                            f"before attempting removal or force remove ({exc})") from None
    return no_content()


@route("POST", "/containers/prune", summary="Remove stopped containers", tag=TAG,
       params=[Param("filters", "string")])
def prune(ctx: Any, req: Any) -> Any:
    from podium.engine.errors import PodiumError
    flt = req.filters(("label", "label!", "until"))
    eng = ctx.engine
    deleted = []
    for c in eng.containers.list():
        if c["state"]["status"] not in ("exited", "created") or c["config"].get("infra") or c.get("pod_id"):
            continue
        if not _prune_match(c, flt):
            continue
        try:
            eng.containers.remove(c["id"], volumes=False)
            deleted.append(c["id"])
        except PodiumError:
            continue
    return {"ContainersDeleted": deleted, "SpaceReclaimed": 0}


def _prune_match(c: dict[str, Any], flt: list[tuple[str, str]]) -> bool:
    from podium.engine.events import parse_time
    from podium.engine.errors import ConfigError
    from podium.engine.timeutil import parse_iso
    for key, val in flt:
        labels = c["config"].get("labels") or {}
        k, sep, v = val.partition("=")
        has = k in labels and (not sep or labels[k] == v)
        if key == "label" and not has or key == "label!" and has:
            return False
        if key == "until":
            try:
                limit = parse_time(val)
            except ConfigError as exc:
                raise bad_request(str(exc)) from None
            if parse_iso(c["created"]) >= limit:
                return False
    return True


# ---- wait ------------------------------------------------------------------------------


@route("POST", "/containers/{id}/wait", summary="Wait for a container to stop", tag=TAG, params=[
    Param("condition", "string", "not-running (default), next-exit or removed")])
def wait(ctx: Any, req: Any, id: str) -> Any:
    cond = req.arg("condition") or "not-running"
    if cond not in ("not-running", "next-exit", "removed"):
        raise bad_request(f"invalid condition {cond!r}: use not-running, next-exit or removed")
    c = _get(ctx, id)
    return Stream(_wait(ctx, req, c, cond))


def _wait(ctx: Any, req: Any, c: dict[str, Any], cond: str) -> Iterator[bytes]:
    import json
    from podium.engine.errors import NotFound
    eng = ctx.engine
    cid = c["id"]
    codes = ctx.service.registry("exit_codes", dict)
    first = c["state"]
    seen_active = first["status"] in ("running", "paused", "stopping")
    base = (first.get("started_at"), first.get("finished_at"))
    code = first.get("exit_code", 0)
    yield b""  # the headers go out now: docker run waits for them before it starts the container
    last = time.monotonic()
    while True:
        try:
            cur = eng.containers.get(cid)
        except NotFound:
            if cond == "removed" or seen_active or cond == "not-running":
                code = codes.pop(cid, code)
                exit_file = eng.paths.exit_file(cid)
                from podium.engine.containers import read_exit_file
                got = read_exit_file(exit_file)
                if got is not None:
                    code = got
                    try:
                        os.unlink(exit_file)
                    except OSError:
                        pass
                yield json.dumps({"StatusCode": int(code), "Error": None}).encode() + b"\n"
                return
            yield json.dumps({"StatusCode": -1, "Error": {"Message": "the container was removed"}}).encode()
            return
        s = cur["state"]
        status = s["status"]
        if status in ("running", "paused", "stopping"):
            seen_active = True
        elif status == "exited":
            code = s.get("exit_code", 0)
            fresh = (s.get("started_at"), s.get("finished_at")) != base
            if cond == "not-running" or (cond == "next-exit" and (seen_active or fresh)):
                yield json.dumps({"StatusCode": int(code), "Error": None}).encode() + b"\n"
                return
        elif status == "created" and cond == "not-running":
            yield json.dumps({"StatusCode": 0, "Error": None}).encode() + b"\n"
            return
        if time.monotonic() - last > 1.0:
            last = time.monotonic()
            if req.client_gone():
                return
        time.sleep(POLL_S)


# ---- logs and attach ---------------------------------------------------------------------


@route("GET", "/containers/{id}/logs", summary="Get a container's logs", tag=TAG,
       produces="application/vnd.docker.multiplexed-stream", params=[
           Param("follow", "boolean"), Param("stdout", "boolean"), Param("stderr", "boolean"),
           Param("since", "string"), Param("until", "string"), Param("timestamps", "boolean"),
           Param("tail", "string", "number of lines or all")])
def logs(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine import logs as logmod
    from podium.engine.events import parse_time
    from podium.engine.errors import ConfigError
    out, err = req.flag("stdout"), req.flag("stderr")
    if not out and not err:
        raise bad_request("Bad parameters: you must choose at least one stream")
    tail_arg = req.arg("tail") or "all"
    tail = None
    if tail_arg != "all":
        try:
            tail = int(tail_arg)
        except ValueError:
            raise bad_request(f"invalid tail {tail_arg!r}: use a number or all") from None
        if tail < 0:
            tail = None
    try:
        since = parse_time(req.arg("since")) if req.arg("since") not in (None, "", "0") else None
        until = parse_time(req.arg("until")) if req.arg("until") not in (None, "", "0") else None
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    c = _get(ctx, id)
    last = [time.monotonic()]

    def gone() -> bool:
        if time.monotonic() - last[0] < 1.0:
            return False
        last[0] = time.monotonic()
        return req.client_gone()
    lines = logmod.read(ctx.engine, c["id"], tail=tail, since=since, until=until, follow=req.flag("follow"),
                        stop=gone)
    raw = bool(c["config"].get("tty"))
    return Stream(streams.log_frames(lines, stdout=out, stderr=err, timestamps=req.flag("timestamps"), raw=raw),
                  content_type="application/vnd.docker.raw-stream" if raw else
                  "application/vnd.docker.multiplexed-stream")


class AttachSlot:
    """An attach waiting for its container's start to hand it conmon's socket."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.sock: Any = None
        self.error: Exception | None = None

    def give(self, sock: Any, error: Exception | None) -> None:
        self.sock, self.error = sock, error
        self.ready.set()


@route("POST", "/containers/{id}/attach", summary="Attach to a container (hijacked stream)", tag=TAG,
       status=101, produces="application/vnd.docker.multiplexed-stream", params=[
           Param("stream", "boolean"), Param("logs", "boolean"), Param("stdin", "boolean"),
           Param("stdout", "boolean"), Param("stderr", "boolean"), Param("detachKeys", "string")])
def attach(ctx: Any, req: Any, id: str) -> Any:
    stream, past = req.flag("stream"), req.flag("logs")
    want_in, want_out, want_err = req.flag("stdin"), req.flag("stdout"), req.flag("stderr")
    if not stream and not past:
        raise bad_request("attach needs stream=1 or logs=1")
    c = _get(ctx, id)
    raw = bool(c["config"].get("tty"))  # a TTY's one stream goes raw, as Docker sends it
    status = c["state"]["status"]
    slot = None
    if stream and status in ("created", "exited"):
        slot = AttachSlot()
        with ctx.service.lock:
            _attach_slots(ctx).setdefault(c["id"], []).append(slot)

    def run(client: Any) -> None:
        from podium.engine import logs as logmod
        eng = ctx.engine
        if past:
            for chunk in streams.log_frames(logmod.read(eng, c["id"]), stdout=want_out,
                                            stderr=want_err, timestamps=False, raw=raw):
                client.sendall(chunk)
        if not stream:
            return
        if slot is None:
            _follow_into(eng, c["id"], client, want_out, want_err, tail=0, raw=raw)
            return
        try:
            while not slot.ready.wait(0.2):
                cur = _current(eng, c["id"])
                if cur is None:
                    return
                if cur["state"]["status"] in ("running", "paused", "stopping"):
                    # started by someone else (the CLI, a restart policy): follow its log
                    _follow_into(eng, c["id"], client, want_out, want_err, tail=0, since_start=cur, raw=raw)
                    return
                # (no client_gone() here: a client without stdin half-closes its side at once)
        finally:
            with ctx.service.lock:
                waiting = _attach_slots(ctx).get(c["id"], [])
                if slot in waiting:
                    waiting.remove(slot)
                if not waiting:
                    _attach_slots(ctx).pop(c["id"], None)
        if slot.sock is not None:
            streams.pump_conmon(slot.sock, client, stdin=want_in and bool(c["config"].get("interactive")), raw=raw)
            _remember_exit(ctx, c["id"])
        elif slot.error is None:
            _follow_into(eng, c["id"], client, want_out, want_err, tail=None, raw=raw)

    return Hijack(run)


def _current(eng: Any, cid: str) -> dict[str, Any] | None:
    from podium.engine.errors import NotFound
    try:
        return eng.containers.get(cid)
    except NotFound:
        return None


def _follow_into(eng: Any, cid: str, client: Any, out: bool, err: bool, *, tail: int | None,
                 since_start: dict[str, Any] | None = None, raw: bool = False) -> None:
    from podium.engine import logs as logmod
    from podium.engine.errors import NotFound
    since = None
    if since_start is not None:
        from podium.engine.timeutil import parse_iso
        since = parse_iso(since_start["state"].get("started_at", "")) or None
        tail = None
    try:
        for chunk in streams.log_frames(logmod.read(eng, cid, tail=tail, since=since, follow=True),
                                        stdout=out, stderr=err, timestamps=False, raw=raw):
            client.sendall(chunk)
    except NotFound:
        return


def _remember_exit(ctx: Any, cid: str) -> None:
    """After an attached run: keep the exit code for a later wait (the row may go with --rm)."""
    from podium.engine.attach import wait_exit_code
    try:
        code = wait_exit_code(ctx.engine, cid)
    except Exception:  # noqa: BLE001 - best effort: wait reads the exit file itself
        return
    codes = ctx.service.registry("exit_codes", dict)
    codes[cid] = code
    while len(codes) > MAX_REMEMBERED:  # runs nobody waited for: forget the oldest
        codes.pop(next(iter(codes)), None)


# ---- top, archive --------------------------------------------------------------------------


@route("GET", "/containers/{id}/top", summary="List a container's processes", tag=TAG,
       params=[Param("ps_args", "string")])
def top(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine.top import top as top_
    from podium.engine.errors import InvalidState
    args = (req.arg("ps_args") or "").split()
    descriptors = [] if not args or all(a.startswith("-") for a in args) else args
    c = _get(ctx, id)
    try:
        titles, rows = top_(ctx.engine, c["id"], descriptors)
    except InvalidState:
        raise ApiError(409, f"Container {c['id']} is not running") from None
    return {"Titles": titles, "Processes": rows}


def _stat_header(name: str, st: os.stat_result, link: str) -> str:
    import base64
    import json
    import stat as statmod
    from podium.engine.timeutil import iso_from_ns
    mode = statmod.S_IMODE(st.st_mode)
    if statmod.S_ISDIR(st.st_mode):
        mode |= 1 << 31
    elif statmod.S_ISLNK(st.st_mode):
        mode |= 1 << 27
    data = {"name": name, "size": st.st_size, "mode": mode, "mtime": iso_from_ns(st.st_mtime_ns),
            "linkTarget": link}
    return base64.b64encode(json.dumps(data).encode()).decode()


def _container_path(req: Any) -> str:
    path = req.arg("path")
    if not path:
        raise bad_request("path is required")
    if not path.startswith("/"):
        path = "/" + path
    return path


@route("HEAD", "/containers/{id}/archive", summary="Stat a path in a container", tag=TAG,
       params=[Param("path", "string", required=True)])
def archive_stat(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine.copy import mounted_rootfs
    from podium.engine.runtime.users import resolve_in_root
    path = _container_path(req)
    c = _get(ctx, id)
    with mounted_rootfs(ctx.engine, c["id"]) as root:
        host = resolve_in_root(root, path)
        try:
            st = os.lstat(host)
        except OSError:
            raise ApiError(404, f"Could not find the file {path} in container {id}") from None
        link = os.readlink(host) if os.path.islink(host) else ""
    name = os.path.basename(path.rstrip("/")) or "/"
    return Response(200, b"", headers=[("X-Docker-Container-Path-Stat", _stat_header(name, st, link))])


@route("GET", "/containers/{id}/archive", summary="Get a tar archive of a path in a container", tag=TAG,
       produces="application/x-tar", params=[Param("path", "string", required=True)])
def archive_get(ctx: Any, req: Any, id: str) -> Any:
    import tarfile
    import tempfile
    from podium.engine.copy import mounted_rootfs
    from podium.engine.runtime.users import resolve_in_root
    path = _container_path(req)
    c = _get(ctx, id)
    spool = tempfile.TemporaryFile()
    contents_only = path.endswith("/.")
    with mounted_rootfs(ctx.engine, c["id"]) as root:
        host = resolve_in_root(root, path[:-2] if contents_only else path)
        if not os.path.lexists(host) or not os.path.realpath(host).startswith(os.path.realpath(root)):
            raise ApiError(404, f"Could not find the file {path} in container {id}")
        st = os.lstat(host)
        link = os.readlink(host) if os.path.islink(host) else ""
        name = os.path.basename(path.rstrip("/").removesuffix("/.")) or "/"
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tf:
            if contents_only and os.path.isdir(host):
                for entry in sorted(os.listdir(host)):
                    tf.add(os.path.join(host, entry), arcname=entry)
            else:
                tf.add(host, arcname=name)
    spool.seek(0)

    return Stream(streams.spooled(spool), content_type="application/x-tar",
                  headers=[("X-Docker-Container-Path-Stat", _stat_header(name, st, link))])


@route("PUT", "/containers/{id}/archive", summary="Extract a tar archive into a directory of a container",
       tag=TAG, body_kind="tar", params=[
           Param("path", "string", required=True), Param("noOverwriteDirNonDir", "string"),
           Param("copyUIDGID", "string")])
def archive_put(ctx: Any, req: Any, id: str) -> Any:
    import shutil
    import tarfile
    import tempfile
    from podium.engine.copy import copy, mounted_rootfs
    from podium.engine.runtime.users import resolve_in_root
    path = _container_path(req)
    c = _get(ctx, id)
    with mounted_rootfs(ctx.engine, c["id"]) as root:
        target = resolve_in_root(root, path)
        if not os.path.isdir(target):
            if os.path.lexists(target):
                raise bad_request(f"extraction point is not a directory: {path}")
            raise ApiError(404, f"Could not find the file {path} in container {id}")
    tmp = tempfile.mkdtemp(prefix="podium-cp-")
    try:
        try:
            with tarfile.open(fileobj=req.stream(), mode="r:*") as tf:
                _extract(tf, tmp)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise bad_request(f"invalid tar archive: {exc}") from None
        for entry in sorted(os.listdir(tmp)):
            copy(ctx.engine, os.path.join(tmp, entry), f"{c['id']}:{path.rstrip('/') + '/'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Response(200, b"", content_type="")


def _extract(tf: Any, dest: str) -> None:
    """Unpack an uploaded tar into a fresh directory, refusing anything that could leave it."""
    import posixpath
    names = set()
    for m in tf.getmembers():
        name = posixpath.normpath(m.name)
        if name.startswith("/") or name == ".." or name.startswith("../"):
            raise bad_request(f"invalid tar archive: member {m.name!r} leaves the destination")
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise bad_request(f"invalid tar archive: member {m.name!r} is a device or fifo")
        if m.islnk():
            target = posixpath.normpath(m.linkname)
            if target not in names:
                raise bad_request(f"invalid tar archive: hard link {m.name!r} to {m.linkname!r} outside it")
        m.mode &= 0o7777
        names.add(name)
        if name == ".":
            continue
        parent = os.path.dirname(os.path.join(dest, name))
        if os.path.realpath(parent) != parent and not os.path.realpath(parent).startswith(os.path.realpath(dest)):
            raise bad_request(f"invalid tar archive: member {m.name!r} goes through a link")
        tf.extract(m, dest, set_attrs=not m.issym())
