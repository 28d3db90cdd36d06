"""Requests and responses as handlers see them, and the one error translation of the API.

A handler gets a ``Request`` (method, path, typed query, a body already read
within its route's size limit) and returns one of: a JSON-able value (200), a
``Response`` (any status, bytes), a ``Stream`` (chunks sent as they come, for
logs, events and pulls) or a ``Hijack`` (Docker's attach and exec: the server
answers ``101 UPGRADED`` and hands the raw socket to the handler). Every
``PodiumError`` becomes Docker's ``{"message": ...}`` with the class's status;
anything else becomes a 500 with one line, never a traceback.
"""

from __future__ import annotations

import json
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator

from podium.engine.errors import ConfigError, PodiumError

JSON = "application/json"


class ApiError(Exception):
    """An HTTP error with Docker's body: ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def error_status(exc: BaseException) -> tuple[int, str]:
    """(status, message) for any exception a handler let through."""
    if isinstance(exc, ApiError):
        return exc.status, exc.message
    if isinstance(exc, PodiumError):
        return exc.http_status, " ".join(str(exc).split())
    return 500, f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"


class Response:
    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = JSON,
                 headers: list[tuple[str, str]] | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list(headers or [])


def json_response(value: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(value).encode() + b"\n")


def no_content() -> Response:
    return Response(204, b"", content_type="")


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


class Stream:
    """A response whose body is produced while it is sent (chunked transfer encoding)."""

    def __init__(self, chunks: Iterable[bytes], content_type: str = JSON, status: int = 200,
                 headers: list[tuple[str, str]] | None = None) -> None:
        self.chunks = chunks
        self.content_type = content_type
        self.status = status
        self.headers = list(headers or [])


class Hijack:
    """Take the connection over: after the status line, ``run(sock)`` owns the socket."""

    def __init__(self, run: Callable[[socket.socket], None],
                 content_type: str = "application/vnd.docker.multiplexed-stream") -> None:
        self.run = run
        self.content_type = content_type


def json_lines(values: Iterable[Any]) -> Iterator[bytes]:
    for v in values:
        yield json.dumps(v).encode() + b"\n"


# ---- the request ---------------------------------------------------------------------


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off", "none")


class Request:
    def __init__(self, method: str, path: str, query: dict[str, list[str]],
                 headers: dict[str, str], body: bytes, sock: socket.socket | None = None) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.sock = sock
        self.api_version = ""  # "1.41" on a versioned Docker path, "" otherwise
        self.body_file: Any = None  # tar bodies: spooled to a temporary file, not held in memory
        self.body_size = len(body)

    def stream(self) -> Any:
        """The body as a binary file object (tarballs: the spooled file)."""
        if self.body_file is not None:
            return self.body_file
        import io
        return io.BytesIO(self.body)

    # ---- query parameters (Docker's spelling of booleans, numbers and JSON maps) ----
    def arg(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[-1] if vals else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.arg(name)
        if v is None:
            return default
        low = v.strip().lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise bad_request(f"invalid boolean value {v!r} for query parameter {name!r}")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        v = self.arg(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise bad_request(f"invalid integer value {v!r} for query parameter {name!r}") from None

    def filters(self, allowed: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """Docker's ``filters`` parameter: JSON ``{"key": ["v", ...]}`` (or the old ``{"key": {"v": true}}``)."""
        raw = self.arg("filters")
        if not raw:
            return []
        try:
            data = json.loads(raw)
        except ValueError:
            raise bad_request(f"invalid filters {raw!r}: expected a JSON object") from None
        if not isinstance(data, dict):
            raise bad_request(f"invalid filters {raw!r}: expected a JSON object")
        allowed = set(allowed) if allowed is not None else None
        out: list[tuple[str, str]] = []
        for key, vals in data.items():
            if allowed is not None and key not in allowed:
                raise bad_request(f"invalid filter {key!r}: use one of {', '.join(sorted(allowed))}")
            if isinstance(vals, dict):
                vals = [k for k, on in vals.items() if on]
            elif isinstance(vals, str):
                vals = [vals]
            if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
                raise bad_request(f"invalid filter {key!r}: values must be strings")
            out += [(key, v) for v in vals]
        return out

    # ---- the body ------------------------------------------------------------------------
    def json(self, *, required: bool = True, schema: dict[str, Any] | None = None) -> Any:
        if not self.body.strip():
            if required:
                raise bad_request("a JSON request body is required")
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"malformed JSON body: {exc}") from None
        if schema is not None:
            check(value, schema)
        return value

    def client_gone(self) -> bool:
        """True once the client closed its end (streams that write rarely check this)."""
        if self.sock is None:
            return False
        import select
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


# ---- body validation -------------------------------------------------------------------

_VALIDATORS: dict[int, Any] = {}


def check(value: Any, schema: dict[str, Any]) -> None:
    """Validate a JSON body against its route's schema; the first problem becomes a 400."""
    from jsonschema import Draft202012Validator

    v = _VALIDATORS.get(id(schema))
    if v is None:
        v = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    err = next(iter(sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))), None)
    if err is None:
        return
    where = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        field = ".".join(filter(None, [where, extra[0] if extra else ""]))
        raise bad_request(f"unknown field {field!r} in the request body")
    msg = err.message if len(err.message) < 200 else err.message[:200] + "..."
    raise bad_request(f"invalid request body{' at ' + where if where else ''}: {msg}")


def require_config(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)
