"""The HTTP layer of `podium system service`, in-process on a temporary socket and storage root:
keep-alive, pipelining, chunked request bodies, 100-continue, HEAD, limits, malformed input,
the idle timeout. No containers: only endpoints that touch the store (volumes) or nothing."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from podium.api.server import Service


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    s = Service(root=str(tmp_path / "root"), runroot=str(tmp_path / "run"))
    s.listen(f"unix://{tmp_path}/api.sock")
    t = threading.Thread(target=s.serve, daemon=True)
    t.start()
    s.sock_path = str(tmp_path / "api.sock")  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stopping.set()
        t.join(timeout=10)


def _conn(svc: Service) -> socket.socket:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(svc.sock_path)  # type: ignore[attr-defined]
    return c


def _read_response(c: socket.socket, buf: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One response off a keep-alive connection (Content-Length or chunked)."""
    while b"\r\n\r\n" not in buf:
        buf += c.recv(65536)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    body = b""
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            rest += c.recv(65536)
        body, rest = rest[:n], rest[n:]
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            while b"\r\n" not in rest:
                rest += c.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += c.recv(65536)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                break
    buf[:] = rest
    return status, headers, body


def test_keep_alive_and_pipelining(svc: Service) -> None:
    c = _conn(svc)
    buf = bytearray()
    c.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"HEAD /v1.41/volumes HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(3):
        status, headers, body = _read_response(c, buf)
        assert status == 200 and body == b"OK" and headers["api-version"] == "1.41"
    c.sendall(b"GET /v1.41/volumes HTTP/1.1\r\nHost: x\r\n\r\n")
    # HEAD on a GET route: the headers of the answer it would give, no body
    while b"\r\n\r\n" not in buf:
        buf += c.recv(65536)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"Content-Length: 32" in head
    buf[:] = rest
    status, _, body = _read_response(c, buf)
    assert status == 200 and json.loads(body) == {"Volumes": [], "Warnings": []}
    c.close()


def test_chunked_body_and_100_continue(svc: Service) -> None:
    c = _conn(svc)
    buf = bytearray()
    payload = json.dumps({"Name": "chunky", "Labels": {"a": "b"}}).encode()
    half = len(payload) // 2
    c.sendall(b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n"
              + f"{half:x}\r\n".encode() + payload[:half] + b"\r\n"
              + f"{len(payload) - half:x}\r\n".encode() + payload[half:] + b"\r\n0\r\n\r\n")
    status, _, body = _read_response(c, buf)
    assert status == 201 and json.loads(body)["Labels"] == {"a": "b"}

    body2 = json.dumps({"Name": "patient"}).encode()
    c.sendall(b"POST /volumes/create HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
              + f"Content-Length: {len(body2)}\r\n\r\n".encode())
    while b"\r\n\r\n" not in buf:
        buf += c.recv(65536)
    assert bytes(buf).startswith(b"HTTP/1.1 100")
    buf[:] = bytes(buf).partition(b"\r\n\r\n")[2]
    c.sendall(body2)
    status, _, body = _read_response(c, buf)
    assert status == 201 and json.loads(body)["Name"] == "patient"
    c.close()


def test_errors_keep_the_service_alive(svc: Service) -> None:
    c = _conn(svc)
    c.sendall(b"\x00\x01garbage\r\n\r\n")
    data = c.recv(65536)
    assert data.startswith(b"HTTP/1.1 400")
    c.close()
    c = _conn(svc)
    buf = bytearray()
    c.sendall(b"POST /volumes/create HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{\"Name\":1")
    status, _, body = _read_response(c, buf)
    assert status == 400 and "malformed JSON" in json.loads(body)["message"]
    c.sendall(b"GET /v1.41/volumes/nope HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = _read_response(c, buf)
    assert status == 404 and json.loads(body) == {"message": "get nope: no such volume"}
    c.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n")
    data = bytes(buf) + c.recv(65536)
    assert data.startswith(b"HTTP/1.1 431") or data.startswith(b"HTTP/1.1 400")
    c.close()


def test_idle_timeout_ends_the_service(tmp_path: Path) -> None:
    s = Service(root=str(tmp_path / "root"), runroot=str(tmp_path / "run"))
    s.listen(f"unix://{tmp_path}/idle.sock")
    t0 = time.monotonic()
    s.serve(idle_timeout=0.5)
    assert 0.4 < time.monotonic() - t0 < 10
    assert not (tmp_path / "idle.sock").exists()


def test_a_live_socket_is_not_taken_over(svc: Service) -> None:
    from podium.engine.errors import ConfigError
    other = Service(root=None, runroot=None)
    with pytest.raises(ConfigError, match="another service"):
        other.listen(f"unix://{svc.sock_path}")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="invalid URI"):
        other.listen("http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="absolute path"):
        other.listen("unix://relative.sock")


def test_podium_ps_does_not_load_the_server_stack(tmp_path: Path) -> None:
    import subprocess
    import sys
    code = (
        "import sys, io, contextlib\n"
        "from podium.cli.main import main\n"
        "try:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(['--root', sys.argv[1], '--runroot', sys.argv[2], 'ps', '-a'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('h11', 'jsonschema', 'docker')"
        " or m.startswith('podium.api')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r"), str(tmp_path / "rr")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
