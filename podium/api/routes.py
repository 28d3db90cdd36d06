"""The route table: every endpoint once, with what the OpenAPI description says about it.

Handlers register with ``@route(METHOD, PATH, ...)``. Docker's paths are
served bare and under ``/v1.NN/`` (NN between ``MIN_API`` and ``MAX_API``);
native paths start ``/libpod/`` and are served under any ``/vX.Y.Z/`` prefix,
as Podman's clients build them. ``{name:path}`` matches across slashes (image
names). The same declarations (query parameters, body schema, body kind,
success status) feed both request checking and ``openapi.json``.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

API_VERSION = "1.41"      # what /version and /_ping advertise (Podman's choice too)
MIN_API = (1, 24)
MAX_API = (1, 51)         # the newest a client may put in a path (docker 28 speaks 1.50/1.51)
LIBPOD_VERSION = "4.0.0"

KB, MB, GB = 1024, 1024 ** 2, 1024 ** 3
JSON_LIMIT = 1 * MB       # JSON and YAML bodies
ARCHIVE_LIMIT = 16 * GB   # tarballs (image load, docker cp)


class Param:
    __slots__ = ("name", "type", "doc", "required")

    def __init__(self, name: str, type: str = "string", doc: str = "", required: bool = False) -> None:
        self.name, self.type, self.doc, self.required = name, type, doc, required


class Route:
    def __init__(self, method: str, path: str, handler: Callable[..., Any], *, summary: str,
                 tag: str, params: list[Param], body: dict[str, Any] | None, body_kind: str,
                 status: int, produces: str, limit: int) -> None:
        self.method = method
        self.path = path
        self.handler = handler
        self.summary = summary
        self.tag = tag
        self.params = params
        self.body = body            # JSON schema of a JSON body
        self.body_kind = body_kind  # "", "json", "tar", "yaml"
        self.status = status        # the success status
        self.produces = produces    # the success content type
        self.limit = limit
        self.regex = _compile(path)

    @property
    def openapi_path(self) -> str:
        return re.sub(r"\{(\w+):path\}", r"{\1}", self.path)


ROUTES: list[Route] = []


def _compile(path: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{\w+(?::path)?\})", path):
        m = re.fullmatch(r"\{(\w+)(:path)?\}", part)
        if m:
            out += f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out + "$")


def route(method: str, path: str, *, summary: str, tag: str, params: list[Param] | None = None,
          body: dict[str, Any] | None = None, body_kind: str | None = None, status: int = 200,
          produces: str = "application/json", limit: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    kind = body_kind if body_kind is not None else ("json" if body is not None else "")
    lim = limit if limit is not None else (ARCHIVE_LIMIT if kind == "tar" else JSON_LIMIT)

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(Route(method, path, fn, summary=summary, tag=tag, params=params or [],
                            body=body, body_kind=kind, status=status, produces=produces, limit=lim))
        return fn
    return deco


_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
_LIBPOD = re.compile(r"^/v\d+(?:\.\d+){0,2}(/libpod/.*)$")


class NoRoute(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def split_version(path: str) -> tuple[str, str]:
    """``/v1.41/containers/json`` -> ("1.41", "/containers/json"); libpod and bare paths too."""
    m = _LIBPOD.match(path)
    if m:
        return "", m.group(1)
    m = _VERSIONED.match(path)
    if m:
        ver = (int(m.group(1)), int(m.group(2)))
        if ver > MAX_API:
            raise NoRoute(400, f"client version {ver[0]}.{ver[1]} is too new. Maximum supported API "
                               f"version is {MAX_API[0]}.{MAX_API[1]}")
        if ver < MIN_API:
            raise NoRoute(400, f"client version {ver[0]}.{ver[1]} is too old. Minimum supported API "
                               f"version is {MIN_API[0]}.{MIN_API[1]}, please upgrade your client")
        return f"{ver[0]}.{ver[1]}", m.group(3)
    return "", path


def match(method: str, path: str) -> tuple[Route, dict[str, str], str]:
    """(route, path parameters, API version) or NoRoute (404 unknown path, 405 wrong method)."""
    load()
    version, bare = split_version(path)
    allowed = []
    for r in ROUTES:
        m = r.regex.match(bare)
        if m is None:
            continue
        if r.method == method or (method == "HEAD" and r.method == "GET" and not _has(bare, "HEAD")):
            return r, m.groupdict(), version
        allowed.append(r.method)
    if allowed:
        raise NoRoute(405, f"method {method} not allowed on {bare}: use {', '.join(sorted(set(allowed)))}")
    raise NoRoute(404, f"page not found: {bare}")


def _has(path: str, method: str) -> bool:
    return any(r.method == method and r.regex.match(path) for r in ROUTES)


_LOADED = False


def load() -> None:
    """Import the handler modules once (they register their routes)."""
    global _LOADED
    if _LOADED:
        return
    from .docker import build, containers, exec as exec_, images, networks, system, volumes  # noqa: F401
    from . import libpod, reconcile  # noqa: F401
    _LOADED = True
