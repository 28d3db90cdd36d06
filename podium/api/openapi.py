"""The OpenAPI description of what podium serves, built from the route table.

``python -m podium.api.openapi > podium/api/openapi.json`` rewrites the
checked-in file; a unit test fails when the file and the routes disagree, so
the description cannot drift from the server.
"""

from __future__ import annotations

import json
import re

from . import routes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TYPES = {"string": "string", "boolean": "boolean", "integer": "integer"}
ERROR = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}


def _nullable_to_openapi(schema: Any) -> Any:
    """JSON Schema (2020-12) as OpenAPI 3.1 takes it: the same, copied."""
    return json.loads(json.dumps(schema))


def build() -> dict[str, Any]:
    routes.load()
    paths: dict[str, Any] = {}
    for r in routes.ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary, "tags": [r.tag],
            "operationId": re.sub(r"\W+", "_", f"{r.method.lower()}{r.openapi_path}").strip("_"),
        }
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"\{(\w+)(?::path)?\}", r.path)]
        params += [{"name": p.name, "in": "query", "required": p.required,
                    **({"description": p.doc} if p.doc else {}),
                    "schema": {"type": _TYPES.get(p.type, "string")}} for p in r.params]
        if params:
            op["parameters"] = params
        if r.body_kind == "json":
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _nullable_to_openapi(r.body)}}}
        elif r.body_kind == "tar":
            op["requestBody"] = {"required": False, "content": {
                "application/x-tar": {"schema": {"type": "string", "format": "binary"}}}}
        elif r.body_kind == "yaml":
            op["requestBody"] = {"required": True, "content": {
                "application/yaml": {"schema": {"type": "string"}}}}
        ok: dict[str, Any] = {"description": "success"}
        if r.status not in (204, 101) and r.method != "HEAD":
            ok["content"] = {r.produces: {"schema": {} if r.produces == "application/json"
                                          else {"type": "string"}}}
        responses = {str(r.status): ok}
        for code, what in (("400", "bad parameter or body"), ("404", "no such object"),
                           ("409", "conflict with the object's state"), ("500", "server error")):
            responses[code] = {"description": what, "content": {"application/json": {"schema": ERROR}}}
        if r.path.endswith(("/start", "/stop")) and r.path.startswith("/containers"):
            responses["304"] = {"description": "already started / already stopped"}
        if r.limit:
            op["x-body-limit"] = r.limit
        op["responses"] = responses
        paths.setdefault(r.openapi_path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "podium REST API", "version": routes.API_VERSION,
                 "description": "Docker Engine API (served bare and under /v1.24 ... /v"
                                f"{routes.MAX_API[0]}.{routes.MAX_API[1]}/) and libpod-style native "
                                "endpoints (under any /vX.Y.Z/libpod/), as podium serves them."},
        "paths": dict(sorted(paths.items())),
    }


def render() -> str:
    return json.dumps(build(), indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    import sys
    sys.stdout.write(render())
