"""``POST /libpod/apply`` and ``POST /libpod/diff``: podium's reconciler over the API.

The body carries the stack's files (``{"stack": NAME, "files": {"compose.yaml": TEXT, ...}}``);
they are written under ``<root>/api-stacks/<stack>/`` (kept, so that relative
bind mounts and config files keep pointing at something), then loaded, planned
and applied by ``podium.declare.reconcile`` exactly as ``podium apply -f DIR``
does. The answer is the same report ``podium apply --format json`` prints.
"""

from __future__ import annotations

import os
import posixpath
import re

from podium.api.http import bad_request, json_response
from podium.api.routes import route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TAG = "apply (podium)"
MAX_FILES = 200
BODY_SCHEMA = {
    "type": "object",
    "properties": {
        "stack": {"type": "string"},
        "files": {"type": "object", "additionalProperties": {"type": "string"}},
        "values": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        "prune": {"type": ["boolean", "null"]},
        "prune_volumes": {"type": ["boolean", "null"]},
        "dry_run": {"type": ["boolean", "null"]},
        "wait": {"type": ["boolean", "null"]},
        "timeout": {"type": ["number", "null"]},
        "parallel": {"type": ["integer", "null"]},
    },
    "required": ["stack", "files"],
    "additionalProperties": False,
}
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _write(ctx: Any, body: dict[str, Any]) -> str:
    from podium.declare.sources import check_stack_name
    stack = check_stack_name(body["stack"])
    files = body["files"]
    if not files:
        raise bad_request("files is empty: send the stack's YAML files as {name: text}")
    if len(files) > MAX_FILES:
        raise bad_request(f"too many files ({len(files)}): at most {MAX_FILES}")
    clean = {}
    for name, text in files.items():
        norm = posixpath.normpath(name)
        parts = norm.split("/")
        if norm.startswith("/") or ".." in parts or not all(_NAME.fullmatch(p) for p in parts):
            raise bad_request(f"invalid file name {name!r}: use relative names of letters, digits, . _ -")
        clean[norm] = text
    base = os.path.join(str(ctx.engine.paths.root), "api-stacks", stack)
    tmp = base + f".tmp{os.getpid()}-{os.urandom(3).hex()}"
    import shutil
    try:
        for name, text in clean.items():
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        old = base + ".old" + os.urandom(3).hex()
        if os.path.exists(base):
            os.rename(base, old)
        os.rename(tmp, base)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return base


def _load(ctx: Any, body: dict[str, Any]) -> Any:
    from podium.declare import reconcile
    base = _write(ctx, body)
    sets = [f"{k}={v}" for k, v in (body.get("values") or {}).items()]
    return reconcile.load(ctx.engine, [base], stack=body["stack"], sets=sets)


@route("POST", "/libpod/apply", summary="Converge the host on a stack's files (podium apply)", tag=TAG,
       body=BODY_SCHEMA)
def apply(ctx: Any, req: Any) -> Any:
    from podium.declare import reconcile
    body = req.json(schema=BODY_SCHEMA)
    parallel = body.get("parallel") or 4
    if parallel < 1:
        raise bad_request("parallel must be at least 1")
    desired = _load(ctx, body)
    opts = reconcile.ApplyOptions(prune=bool(body.get("prune")), prune_volumes=bool(body.get("prune_volumes")),
                                  dry_run=bool(body.get("dry_run")), wait=bool(body.get("wait")),
                                  timeout=float(body.get("timeout") or 300), parallel=parallel)
    report = reconcile.apply(ctx.engine, desired, opts)
    out = report.to_json(dry_run=opts.dry_run)
    out["warnings"] = list(desired.warnings) + [w for w in out["warnings"] if w not in desired.warnings]
    return json_response(out)


@route("POST", "/libpod/diff", summary="The plan for a stack's files, without acting (podium diff)", tag=TAG,
       body=BODY_SCHEMA)
def diff(ctx: Any, req: Any) -> Any:
    from podium.declare import reconcile
    body = req.json(schema=BODY_SCHEMA)
    desired = _load(ctx, body)
    plan = reconcile.diff(ctx.engine, desired, prune=bool(body.get("prune")),
                          prune_volumes=bool(body.get("prune_volumes")))
    out = reconcile.Report(desired.stack, plan).to_json(dry_run=True, command="diff")
    out["text"] = plan.text()
    return json_response(out)
