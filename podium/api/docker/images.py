"""``/images/...``: list, pull (``create``), inspect, tag, remove, save (``get``), load, push, prune.

Pull and push run the engine's registry client in a thread and stream its
progress as Docker's JSON messages; an error before the first message is a
real HTTP status, one after it is an ``errorDetail`` message in the stream, as
Docker does.
"""

from __future__ import annotations

import json
import queue
import threading

from podium.api.docker.streams import spooled
from podium.api.http import ApiError, Response, Stream, bad_request, json_lines
from podium.api.routes import Param, route
from podium.api import shapes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

TAG = "images (Docker)"


def _not_found(ref: str) -> ApiError:
    return ApiError(404, f"No such image: {ref}")


@route("GET", "/images/json", summary="List images", tag=TAG, params=[
    Param("all", "boolean"), Param("filters", "string"), Param("digests", "boolean"),
    Param("shared-size", "boolean"), Param("manifests", "boolean")])
def list_images(ctx: Any, req: Any) -> Any:
    import fnmatch
    flt = req.filters(("dangling", "label", "reference", "before", "since"))
    req.flag("all")
    eng = ctx.engine
    imgs = eng.images.list()
    users: dict[str, int] = {}
    for c in eng.containers.list():
        users[c["image_id"]] = users.get(c["image_id"], 0) + 1
    out = []
    for img in imgs:
        ok = True
        by: dict[str, list[bool]] = {}
        for key, val in flt:
            if key == "dangling":
                hit = (not img["names"]) == (val.lower() in ("true", "1"))
            elif key == "label":
                labels = (img["config"].get("config") or {}).get("Labels") or {}
                k, sep, v = val.partition("=")
                hit = k in labels and (not sep or labels[k] == v)
            elif key == "reference":
                names = [n for n in img["names"] if "@" not in n]
                pats = [val] if ":" in val.rsplit("/", 1)[-1] else [val, val + ":*"]
                hit = any(fnmatch.fnmatch(shapes.familiar(n), p) or fnmatch.fnmatch(n, p)
                          for n in names for p in pats)
            else:
                try:
                    other = eng.images.resolve(val)
                except Exception:  # noqa: BLE001
                    raise _not_found(val) from None
                hit = img["created"] < other["created"] if key == "before" else img["created"] > other["created"]
            by.setdefault(key, []).append(hit)
        ok = all(all(v) if k == "label" else any(v) for k, v in by.items())
        if ok:
            out.append(shapes.image_summary(img, users.get(img["id"], 0)))
    return out


@route("GET", "/images/get", summary="Export images as a docker-archive tarball", tag=TAG,
       produces="application/x-tar", params=[Param("names", "string", "image names (repeat)")])
def save_many(ctx: Any, req: Any) -> Any:
    names = req.args("names")
    if not names:
        raise bad_request("names is required")
    return _save(ctx, names)


def _save(ctx: Any, names: list[str]) -> Any:
    import tempfile
    from podium.engine.errors import ImageNotFound
    spool = tempfile.TemporaryFile()
    try:
        ctx.engine.images.save(names, spool)
    except ImageNotFound as exc:
        spool.close()
        raise ApiError(404, str(exc)) from None
    spool.seek(0)

    return Stream(spooled(spool), content_type="application/x-tar")


@route("POST", "/images/load", summary="Load images from a tarball", tag=TAG, body_kind="tar",
       params=[Param("quiet", "boolean")])
def load(ctx: Any, req: Any) -> Any:
    req.flag("quiet")
    if not req.body_size:
        raise bad_request("an image archive is required as the request body")
    names = ctx.engine.images.load(req.stream())
    lines = [{"stream": f"Loaded image: {shapes.familiar(n)}\n" if not n.startswith("sha256:")
              else f"Loaded image ID: {n}\n"} for n in names]
    return Response(200, b"".join(json_lines(lines)))


@route("POST", "/images/prune", summary="Remove unused images", tag=TAG, params=[Param("filters", "string")])
def prune(ctx: Any, req: Any) -> Any:
    flt = req.filters(("dangling", "label", "until"))
    dangling_only = True
    for k, v in flt:
        if k == "dangling":
            dangling_only = v.lower() in ("true", "1")
        else:
            raise bad_request(f"filter {k!r} is not supported by image prune")
    eng = ctx.engine
    used = {c["image_id"] for c in eng.containers.list()}
    deleted, space = [], 0
    for img in eng.images.list():
        if img["id"] in used or (dangling_only and img["names"]):
            continue
        for rep in eng.images.remove([img["id"]], force=bool(img["names"])):
            if rep.error is None:
                deleted += [{"Untagged": shapes.familiar(n)} for n in rep.untagged]
                deleted += [{"Deleted": "sha256:" + d} for d in rep.deleted]
                space += img["size"] if rep.deleted else 0
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": space}


# ---- pull and push -----------------------------------------------------------------------


def _credentials(req: Any) -> tuple[str, str] | None:
    import base64
    raw = req.headers.get("x-registry-auth")
    if not raw:
        return None
    try:
        pad = "=" * (-len(raw) % 4)
        data = json.loads(base64.urlsafe_b64decode(raw + pad))
    except (ValueError, TypeError):
        raise bad_request("invalid X-Registry-Auth header: expected base64url JSON") from None
    if not isinstance(data, dict) or not data.get("username"):
        return None
    return str(data["username"]), str(data.get("password") or "")


class _QueueProgress:
    """The engine's Progress interface, as Docker's JSON progress messages on a queue."""

    def __init__(self, q: queue.Queue[Any]) -> None:
        self.q = q
        self.done_bytes: dict[str, int] = {}
        self.totals: dict[str, int] = {}

    def status(self, line: str) -> None:
        self.q.put({"status": line})

    def start(self, kind: str, digest: str, total: int) -> None:
        self.totals[digest] = total
        self.done_bytes[digest] = 0
        self.q.put({"status": "Downloading" if kind != "push" else "Pushing", "id": _short(digest),
                    "progressDetail": {"current": 0, "total": total}})

    def advance(self, digest: str, n: int) -> None:
        self.done_bytes[digest] = self.done_bytes.get(digest, 0) + n

    def done(self, kind: str, digest: str, note: str = "done") -> None:
        self.q.put({"status": "Pull complete" if note == "done" else note.capitalize(),
                    "id": _short(digest), "progressDetail": {}})

    def close(self) -> None:
        pass


def _loopback_registry(ref: str) -> bool:
    """Docker trusts registries on 127.0.0.0/8 without TLS (InsecureRegistryCIDRs); so do we."""
    first, sep, _ = ref.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return False
    host = first.rsplit(":", 1)[0] if first.count(":") == 1 else first
    host = host.strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _short(digest: str) -> str:
    return digest.split(":")[-1][:12]


def _progress_stream(work: Any, first: dict[str, Any]) -> Iterator[bytes]:
    """Run ``work(progress)`` in a thread; yield its messages, then its result or error."""
    q: queue.Queue[Any] = queue.Queue()
    prog = _QueueProgress(q)
    END = object()

    def run() -> None:
        try:
            q.put(("ok", work(prog)))
        except Exception as exc:  # noqa: BLE001 - reported in the stream
            q.put(("err", exc))
        q.put(END)
    threading.Thread(target=run, daemon=True).start()
    # an error before any progress: a real status
    item = q.get()
    if isinstance(item, tuple) and item[0] == "err":
        raise item[1]
    yield json.dumps(first).encode() + b"\n"
    while True:
        if item is END:
            return
        if isinstance(item, tuple):
            kind, val = item
            if kind == "err":
                from podium.api.http import error_status
                _, msg = error_status(val)
                yield json.dumps({"errorDetail": {"message": msg}, "error": msg}).encode() + b"\n"
            else:
                for msg in val:
                    yield json.dumps(msg).encode() + b"\n"
        else:
            yield json.dumps(item).encode() + b"\n"
        item = q.get()


@route("POST", "/images/create", summary="Pull an image (fromImage) or import a rootfs (fromSrc)", tag=TAG,
       body_kind="tar", params=[Param("fromImage", "string"), Param("fromSrc", "string"),
                                Param("repo", "string"), Param("tag", "string"),
                                Param("message", "string"), Param("platform", "string"),
                                Param("changes", "string")])
def create(ctx: Any, req: Any) -> Any:
    from_image, from_src = req.arg("fromImage"), req.arg("fromSrc")
    if from_src:
        return _import(ctx, req, from_src)
    if not from_image:
        raise bad_request("fromImage or fromSrc is required")
    tag = req.arg("tag") or ""
    ref = from_image
    if tag:
        ref = f"{from_image}@{tag}" if tag.startswith("sha256:") else f"{from_image}:{tag}"
    elif "@" not in ref and ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    creds = _credentials(req)
    service = ctx.service

    def work(prog: _QueueProgress) -> list[dict[str, Any]]:
        from podium.engine.registry.pull import PullOptions
        eng = service.new_engine()
        try:
            opts = PullOptions(credentials=creds, progress=prog,  # type: ignore[arg-type]
                               tls_verify=False if _loopback_registry(ref) else None)
            img = eng.images.pull(ref, opts)
        finally:
            eng.close()
        return [{"status": f"Digest: {img.get('digest', '')}"},
                {"status": f"Status: Downloaded newer image for {shapes.familiar(ref)}"}]
    repo = from_image.rsplit(":", 1)[0] if ":" in from_image.rsplit("/", 1)[-1] else from_image
    return Stream(_progress_stream(work, {"status": f"Pulling from {repo}", "id": tag or "latest"}))


def _import(ctx: Any, req: Any, src: str) -> Any:
    if src != "-":
        raise bad_request("fromSrc must be '-' (the tarball is the request body): podium does not fetch URLs")
    if not req.body_size:
        raise bad_request("a root filesystem tarball is required as the request body")
    repo, tag = req.arg("repo"), req.arg("tag")
    name = f"{repo}:{tag}" if repo and tag else repo
    changes = req.args("changes")
    img = ctx.engine.images.import_rootfs(req.stream(), name, changes=changes,
                                          message=req.arg("message"))
    return Response(200, json.dumps({"status": "sha256:" + img["id"]}).encode() + b"\n")


@route("POST", "/images/{name:path}/push", summary="Push an image", tag=TAG,
       params=[Param("tag", "string"), Param("platform", "string")])
def push(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import ImageNotFound
    tag = req.arg("tag") or ""
    ref = f"{name}:{tag}" if tag else name
    try:
        ctx.engine.images.resolve(ref)
    except ImageNotFound:
        raise _not_found(ref) from None
    creds = _credentials(req)
    service = ctx.service

    def work(prog: _QueueProgress) -> list[dict[str, Any]]:
        from podium.engine.registry.push import PushOptions
        eng = service.new_engine()
        try:
            opts = PushOptions(credentials=creds, progress=prog,  # type: ignore[arg-type]
                               tls_verify=False if _loopback_registry(ref) else None)
            digest = eng.images.push(ref, None, opts)
        finally:
            eng.close()
        return [{"status": f"{tag or 'latest'}: digest: {digest}"},
                {"progressDetail": {}, "aux": {"Tag": tag or "latest", "Digest": digest}}]
    return Stream(_progress_stream(work, {"status": f"The push refers to repository [{name}]"}))


# ---- one image ---------------------------------------------------------------------------------


@route("GET", "/images/{name:path}/json", summary="Inspect an image", tag=TAG)
def inspect(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import ImageNotFound
    try:
        return shapes.image_inspect(ctx.engine, name)
    except ImageNotFound:
        raise _not_found(name) from None


@route("GET", "/images/{name:path}/history", summary="An image's history", tag=TAG)
def history(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import ImageNotFound
    from podium.engine.timeutil import parse_iso
    try:
        raw = ctx.engine.images.inspect(name)
    except ImageNotFound:
        raise _not_found(name) from None
    out = []
    for i, h in enumerate(reversed(raw.get("History") or [])):
        out.append({"Id": "sha256:" + raw["Id"] if i == 0 else "<missing>",
                    "Created": int(parse_iso(h.get("created", ""))),
                    "CreatedBy": h.get("created_by", ""), "Tags": raw["RepoTags"] if i == 0 else None,
                    "Size": 0, "Comment": h.get("comment", "")})
    return out


@route("GET", "/images/{name:path}/get", summary="Export one image as a docker-archive tarball", tag=TAG,
       produces="application/x-tar")
def save_one(ctx: Any, req: Any, name: str) -> Any:
    return _save(ctx, [name])


@route("POST", "/images/{name:path}/tag", summary="Tag an image", tag=TAG, status=201, params=[
    Param("repo", "string", required=True), Param("tag", "string")])
def tag(ctx: Any, req: Any, name: str) -> Any:
    from podium.engine.errors import ImageNotFound
    repo = req.arg("repo")
    if not repo:
        raise bad_request("repo is required")
    new = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
    try:
        ctx.engine.images.tag(name, new)
    except ImageNotFound:
        raise _not_found(name) from None
    return Response(201, b"", content_type="")


@route("DELETE", "/images/{name:path}", summary="Remove an image", tag=TAG, params=[
    Param("force", "boolean"), Param("noprune", "boolean")])
def remove(ctx: Any, req: Any, name: str) -> Any:
    force = req.flag("force")
    req.flag("noprune")
    eng = ctx.engine

    def rm_containers(names: list[str]) -> None:
        for n in names:
            eng.containers.remove(n, force=True)
    [rep] = eng.images.remove([name], force=force, remove_containers=rm_containers)
    if rep.error is not None:
        from podium.engine.errors import ImageNotFound
        if isinstance(rep.error, ImageNotFound):
            raise _not_found(name)
        raise rep.error
    return ([{"Untagged": shapes.familiar(n)} for n in rep.untagged]
            + [{"Deleted": "sha256:" + d} for d in rep.deleted])
