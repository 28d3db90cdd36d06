"""``POST /build``: Docker's classic build endpoint on podium's builder.

The body is the build context as a tar (plain or compressed), unpacked safely
into a private directory; the builder (``podium.engine.build``) runs in a
thread and its step lines stream out as Docker's ``{"stream": ...}`` messages,
then ``{"aux": {"ID": ...}}`` and ``Successfully built``/``tagged`` lines, which
is what docker-py's ``images.build`` and the docker CLI's classic builder read.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile

from podium.api.http import Stream, bad_request
from podium.api.routes import Param, route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TAG = "images (Docker)"


def _json_map(req: Any, name: str) -> dict[str, str]:
    raw = req.arg(name)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise bad_request(f"invalid {name} {raw!r}: expected a JSON object") from None
    if not isinstance(data, dict):
        raise bad_request(f"invalid {name}: expected a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


@route("POST", "/build", summary="Build an image from a tar context (classic builder)", tag=TAG,
       body_kind="tar", params=[
           Param("t", "string", "name:tag (repeat)"), Param("dockerfile", "string"),
           Param("buildargs", "string", "JSON object"), Param("labels", "string", "JSON object"),
           Param("target", "string"), Param("nocache", "boolean"), Param("q", "boolean"),
           Param("rm", "boolean"), Param("forcerm", "boolean"), Param("pull", "string"),
           Param("networkmode", "string"), Param("remote", "string"), Param("platform", "string"),
           Param("version", "string")])
def build(ctx: Any, req: Any) -> Any:
    from podium.api.docker.containers import _extract
    from podium.api.docker.images import _progress_stream
    if req.arg("remote"):
        raise bad_request("remote build contexts are not supported: send the context as the body")
    if req.arg("version") not in (None, "", "1"):
        raise bad_request("only the classic builder (version=1) is served; BuildKit sessions are not")
    tags = [t for t in req.args("t") if t]
    build_args, labels = _json_map(req, "buildargs"), _json_map(req, "labels")
    target, no_cache, quiet = req.arg("target") or None, req.flag("nocache"), req.flag("q")
    req.flag("rm")
    req.flag("forcerm")
    pull = req.arg("pull") or ""
    pull_policy = "always" if pull.lower() in ("1", "true", "always") else "missing"
    network = req.arg("networkmode") or None
    if network not in (None, "default", "bridge", "none", "host"):
        raise bad_request(f"networkmode {network!r} is not supported: use default, none or host")
    if network in ("default", "bridge"):
        network = None
    dockerfile = req.arg("dockerfile") or ""
    if not req.body_size:
        raise bad_request("the build context is required as a tar body")
    tmp = tempfile.mkdtemp(prefix="podium-build-ctx-")
    try:
        try:
            with tarfile.open(fileobj=req.stream(), mode="r:*") as tf:
                _extract(tf, tmp)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise bad_request(f"invalid build context: {exc}") from None
        containerfile = None
        if dockerfile:
            cand = os.path.normpath(os.path.join(tmp, dockerfile))
            if not cand.startswith(tmp + os.sep) or not os.path.isfile(cand):
                raise bad_request(f"Cannot locate specified Dockerfile: {dockerfile}")
            containerfile = cand
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    service = ctx.service

    def work(prog: Any) -> list[dict[str, Any]]:
        from podium.engine.build.executor import Builder
        eng = service.new_engine()

        def say(line: str) -> None:
            if not quiet:
                prog.q.put({"stream": line + "\n"})
        try:
            iid = Builder(eng, tmp, containerfile=containerfile, tags=tags, build_args=build_args,
                          target=target, no_cache=no_cache, labels=labels, progress=say,
                          network=network, pull=pull_policy).run()
        finally:
            eng.close()
            shutil.rmtree(tmp, ignore_errors=True)
        out: list[dict[str, Any]] = [{"aux": {"ID": "sha256:" + iid}}]
        if not quiet:
            out.append({"stream": f"Successfully built {iid[:12]}\n"})
            out += [{"stream": f"Successfully tagged {t}\n"} for t in tags]
        return out
    return Stream(_progress_stream(work, {"stream": "Sending build context to podium\n"}))
