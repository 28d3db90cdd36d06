"""The HTTP server: a listening socket, one thread per connection, h11 for HTTP/1.1.

Why this stack (docs/api.md says more): Docker's attach and exec take the
connection over (``101 UPGRADED``, then a raw multiplexed stream both ways on
the same socket), which ASGI servers cannot hand to an application; h11 is a
strict HTTP/1.1 state machine (chunked bodies, keep-alive, header limits,
protocol switches) that leaves the socket to us, and threads suit an engine
whose calls block (runc, conmon, SQLite). Each request gets its own ``Engine``:
they are cheap, and the store's SQLite connection must stay in one thread.

``--time N`` ends the service after N seconds without a connection.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import urllib.parse

import h11

from . import routes
from .http import (ApiError, Hijack, Request, Response, Stream, error_response, error_status,
                   json_response)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_HEADER_BYTES = 64 * 1024
DISCARD_LIMIT = 64 * 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024   # tar bodies past this go to a temporary file
LOG = bool(os.environ.get("PODIUM_API_LOG"))
READ_TIMEOUT_S = 300.0


class Context:
    """What a handler may use: an engine of this connection's thread and the service's shared state.

    The engine (and its SQLite connection) lives as long as the HTTP connection, so a
    client's keep-alive requests skip opening the store each time; it is never shared
    between threads.
    """

    def __init__(self, service: "Service", owner: "Connection | None" = None) -> None:
        self.service = service
        self.owner = owner
        self._engine = None

    @property
    def engine(self) -> Any:
        if self.owner is not None:
            return self.owner.engine()
        if self._engine is None:
            self._engine = self.service.new_engine()
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


class Service:
    """One API service over one listening socket."""

    def __init__(self, *, root: str | None, runroot: str | None, runtime: str | None = None) -> None:
        self.root, self.runroot, self.runtime = root, runroot, runtime
        self.state: dict[str, Any] = {}      # handler modules keep their registries here
        self.lock = threading.RLock()
        self.active = 0
        self.last_activity = time.monotonic()
        self.stopping = threading.Event()
        self.listener: socket.socket | None = None
        self.unix_path: str | None = None

    def new_engine(self) -> Any:
        from podium.engine.engine import Engine
        return Engine(root=self.root, runroot=self.runroot, runtime=self.runtime)

    def registry(self, name: str, factory: Any) -> Any:
        with self.lock:
            if name not in self.state:
                self.state[name] = factory()
            return self.state[name]

    # ---- listening -------------------------------------------------------------------
    def listen(self, uri: str) -> str:
        """Bind ``unix:///path`` (mode 0660) or ``tcp://HOST:PORT``; returns a warning or ''."""
        from podium.engine.errors import ConfigError
        warning = ""
        if uri.startswith("unix://"):
            path = uri[len("unix://"):]
            if not path.startswith("/"):
                raise ConfigError(f"invalid URI {uri!r}: a unix socket needs an absolute path (unix:///run/x.sock)")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                probe.settimeout(0.5)
                probe.connect(path)
                probe.close()
                raise ConfigError(f"{path}: another service is listening on this socket")
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            except OSError:
                pass
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o117)
            try:
                s.bind(path)
            finally:
                os.umask(old)
            os.chmod(path, 0o660)
            self.unix_path = path
        elif uri.startswith("tcp://"):
            hostport = uri[len("tcp://"):].rstrip("/")
            host, sep, port = hostport.rpartition(":")
            if not sep or not port.isdigit() or not host:
                raise ConfigError(f"invalid URI {uri!r}: use tcp://HOST:PORT")
            host = host.strip("[]")
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, int(port)))
            except OSError as exc:
                s.close()
                raise ConfigError(f"cannot listen on {uri}: {exc.strerror}") from None
            if host not in ("127.0.0.1", "::1", "localhost"):
                warning = (f"the API on {uri} is not on a loopback address and is unauthenticated: "
                           "anyone who can reach it controls podium as root")
        else:
            raise ConfigError(f"invalid URI {uri!r}: use unix:///path/to.sock or tcp://127.0.0.1:PORT")
        s.listen(128)
        self.listener = s
        return warning

    def serve(self, idle_timeout: float = 0) -> None:
        """Accept until stopped (a signal) or, with ``idle_timeout``, idle that long."""
        import select
        routes.load()
        assert self.listener is not None
        try:
            while not self.stopping.is_set():
                r, _, _ = select.select([self.listener], [], [], 0.25)
                if r:
                    try:
                        conn, _ = self.listener.accept()
                    except OSError:
                        continue
                    with self.lock:
                        self.active += 1
                        self.last_activity = time.monotonic()
                    threading.Thread(target=self._connection, args=(conn,), daemon=True).start()
                elif idle_timeout > 0:
                    with self.lock:
                        idle = self.active == 0 and time.monotonic() - self.last_activity > idle_timeout
                    if idle:
                        break
        finally:
            self.close()

    def close(self) -> None:
        self.stopping.set()
        if self.listener is not None:
            try:
                self.listener.close()
            except OSError:
                pass
            self.listener = None
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass
            self.unix_path = None

    # ---- one connection ------------------------------------------------------------------
    def _connection(self, sock: socket.socket) -> None:
        try:
            Connection(self, sock).run()
        except Exception as exc:  # noqa: BLE001 - a broken connection must not end the service
            if os.environ.get("PODIUM_DEBUG"):
                import traceback
                traceback.print_exc()
            else:
                sys.stderr.write(f"podium api: connection error: {type(exc).__name__}: {exc}\n")
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with self.lock:
                self.active -= 1
                self.last_activity = time.monotonic()


def _reason(status: int) -> bytes:
    import http
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class _Closed(Exception):
    pass


class Connection:
    """HTTP/1.1 on one socket: requests in order, keep-alive, until either side closes."""

    def __init__(self, service: Service, sock: socket.socket) -> None:
        self.service = service
        self.sock = sock
        self.h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self._engine: Any = None
        sock.settimeout(READ_TIMEOUT_S)

    def engine(self) -> Any:
        if self._engine is None:
            self._engine = self.service.new_engine()
        return self._engine

    def _next(self) -> Any:
        while True:
            ev = self.h.next_event()
            if ev is h11.NEED_DATA:
                try:
                    data = self.sock.recv(65536)
                except (socket.timeout, OSError):
                    raise _Closed() from None
                self.h.receive_data(data)
                continue
            return ev

    def _send(self, *events: Any) -> None:
        out = b"".join(self.h.send(e) or b"" for e in events)
        if out:
            self.sock.sendall(out)

    def run(self) -> None:
        try:
            self._serve()
        finally:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def _serve(self) -> None:
        while True:
            try:
                ev = self._next()
            except _Closed:
                return
            except h11.RemoteProtocolError as exc:
                self._protocol_error(exc)
                return
            if isinstance(ev, h11.ConnectionClosed) or ev is h11.PAUSED:
                return
            if not isinstance(ev, h11.Request):
                return
            keep = self._request(ev)
            if not keep or self.h.our_state is h11.MUST_CLOSE:
                return
            try:
                self.h.start_next_cycle()
            except h11.LocalProtocolError:
                return

    def _protocol_error(self, exc: h11.RemoteProtocolError) -> None:
        status = exc.error_status_hint or 400
        if self.h.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = error_response(status, f"malformed HTTP request: {exc}").body
            try:
                self._send(h11.Response(status_code=status, reason=_reason(status), headers=[
                    ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                    ("Connection", "close")]), h11.Data(data=body), h11.EndOfMessage())
            except (h11.LocalProtocolError, OSError):
                pass

    def _request(self, ev: h11.Request) -> bool:
        method = ev.method.decode("ascii", "replace").upper()
        target = ev.target.decode("latin-1")
        if sum(len(k) + len(v) + 4 for k, v in ev.headers) + len(ev.target) > MAX_HEADER_BYTES:
            self._answer(error_response(431, f"request headers too large: the limit is {MAX_HEADER_BYTES} bytes"),
                         close=True)
            return False
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in ev.headers}
        url = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            route, params, version = routes.match(method, path)
        except routes.NoRoute as exc:
            return self._drain_and_answer(error_response(exc.status, exc.message))
        spool = None
        if route.body_kind == "tar":
            import tempfile
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        body, err = self._read_body(route.limit, spool)
        if err is not None:
            if spool is not None:
                spool.close()
            self._answer(err, close=True)
            return False
        if LOG:
            sys.stderr.write(f"podium api: {method} {target}\n")
            sys.stderr.flush()
        req = Request(method, path, query, headers, body, sock=self.sock)
        req.api_version = version
        if spool is not None:
            req.body_size = spool.tell()
            spool.seek(0)
            req.body_file = spool
        ctx = Context(self.service, self)
        try:
            try:
                result = route.handler(ctx, req, **params)
            except Exception as exc:  # noqa: BLE001 - translated once, here
                status, message = error_status(exc)
                if status >= 500 and not isinstance(exc, ApiError) and os.environ.get("PODIUM_DEBUG"):
                    import traceback
                    traceback.print_exc()
                result = error_response(status, message)
            if isinstance(result, Hijack):
                self._hijack(req, result)
                return False
            if isinstance(result, Stream) and method == "HEAD":
                close = getattr(result.chunks, "close", None)
                if close:
                    close()
                return self._answer(Response(result.status, b"", result.content_type, result.headers), head=True)
            if isinstance(result, Stream):
                return self._stream(req, result)
            if not isinstance(result, Response):
                result = json_response(result, route.status)
            return self._answer(result, head=method == "HEAD")
        finally:
            ctx.close()
            if spool is not None:
                spool.close()

    def _read_body(self, limit: int, spool: Any = None) -> tuple[bytes, Response | None]:
        chunks, size = [], 0
        if self.h.client_is_waiting_for_100_continue:
            try:
                self._send(h11.InformationalResponse(status_code=100, headers=[]))
            except (OSError, h11.LocalProtocolError):
                pass
        while True:
            try:
                ev = self._next()
            except _Closed:
                return b"", error_response(400, "the request body ended early")
            except h11.RemoteProtocolError as exc:
                return b"", error_response(400, f"malformed HTTP request body: {exc}")
            if isinstance(ev, h11.EndOfMessage):
                return b"".join(chunks), None
            if isinstance(ev, h11.Data):
                size += len(ev.data)
                if size > limit:
                    self._discard(DISCARD_LIMIT)
                    return b"", error_response(413, f"request body too large: the limit is {limit} bytes")
                if spool is not None:
                    spool.write(ev.data)
                else:
                    chunks.append(bytes(ev.data))
            elif isinstance(ev, h11.ConnectionClosed):
                return b"", error_response(400, "the request body ended early")

    def _discard(self, budget: int) -> None:
        """Read and drop the rest of a refused body (up to ``budget``), so the client gets to read
        the answer instead of a broken pipe."""
        while budget > 0:
            try:
                ev = self._next()
            except (_Closed, h11.RemoteProtocolError):
                return
            if isinstance(ev, h11.Data):
                budget -= len(ev.data)
            else:
                return

    def _drain_and_answer(self, resp: Response) -> bool:
        _, err = self._read_body(routes.JSON_LIMIT)
        if err is not None:
            self._answer(resp, close=True)
            return False
        return self._answer(resp)

    def _headers(self, content_type: str, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
        h = [("Api-Version", routes.API_VERSION), ("Docker-Experimental", "false"),
             ("Ostype", "linux"), ("Server", "podium (linux)"),
             ("Libpod-Api-Version", routes.LIBPOD_VERSION)]
        if content_type:
            h.append(("Content-Type", content_type))
        return h + extra

    def _answer(self, resp: Response, *, head: bool = False, close: bool = False) -> bool:
        headers = self._headers(resp.content_type, resp.headers)
        if resp.status not in (204, 304):
            headers.append(("Content-Length", str(len(resp.body))))
        if close:
            headers.append(("Connection", "close"))
        try:
            events: list[Any] = [h11.Response(status_code=resp.status, headers=headers, reason=_reason(resp.status))]
            if resp.body and not head and resp.status not in (204, 304):
                events.append(h11.Data(data=resp.body))
            events.append(h11.EndOfMessage())
            self._send(*events)
        except (OSError, h11.LocalProtocolError):
            return False
        return not close

    def _stream(self, req: Request, st: Stream) -> bool:
        chunks = iter(st.chunks)
        try:
            first = next(chunks, None)
        except Exception as exc:  # noqa: BLE001 - an error before anything was sent: a real status
            status, message = error_status(exc)
            return self._answer(error_response(status, message))
        try:
            self._send(h11.Response(status_code=st.status, reason=_reason(st.status),
                                    headers=self._headers(st.content_type, st.headers)))
            if first:
                self._send(h11.Data(data=first))
            for chunk in chunks:
                if chunk:
                    self._send(h11.Data(data=chunk))
            self._send(h11.EndOfMessage())
        except (OSError, h11.LocalProtocolError):
            return False
        except Exception as exc:  # noqa: BLE001 - too late for a status: end the stream, log one line
            sys.stderr.write(f"podium api: stream {req.path} ended: {type(exc).__name__}: {exc}\n")
            return False
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return True

    def _hijack(self, req: Request, hj: Hijack) -> None:
        upgrade = "upgrade" in req.headers.get("connection", "").lower() and req.headers.get("upgrade")
        if upgrade:
            head = ("HTTP/1.1 101 UPGRADED\r\nContent-Type: " + hj.content_type
                    + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        else:
            head = "HTTP/1.1 200 OK\r\nContent-Type: " + hj.content_type + "\r\n\r\n"
        self.sock.settimeout(None)
        try:
            self.sock.sendall(head.encode())
            hj.run(self.sock)
        except OSError:
            pass
        finally:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(uri: str, *, root: str | None, runroot: str | None, runtime: str | None,
          idle_timeout: float) -> int:
    """``podium system service``: listen, serve until a signal or the idle timeout."""
    import signal
    svc = Service(root=root, runroot=runroot, runtime=runtime)
    warning = svc.listen(uri)
    if warning:
        sys.stderr.write(f"Warning: {warning}\n")
        sys.stderr.flush()

    def stop(_signum: int, _frame: object) -> None:
        svc.stopping.set()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    svc.serve(idle_timeout)
    return 0
