"""Errors as Docker returns them, request limits, the socket's mode, TCP and the idle timeout."""

from __future__ import annotations

import json
import os
import socket
import stat
import time

import pytest

from tests.conftest import Podium
from tests.integration.test_api_helpers import Service, api, free_port, start_service, stop_service  # noqa: F401

pytestmark = pytest.mark.timeout(180)


def _msg(body: bytes) -> str:
    data = json.loads(body)
    assert set(data) == {"message"}, data
    assert "Traceback" not in data["message"]
    return data["message"]


def test_docker_error_statuses(api: Service, image: str) -> None:
    status, _, body = api.request("GET", "/v1.41/containers/nosuch/json")
    assert status == 404 and _msg(body) == "No such container: nosuch"
    status, _, body = api.request("GET", "/v1.41/nowhere")
    assert status == 404 and "page not found" in _msg(body)
    status, _, body = api.request("PUT", "/v1.41/containers/json")
    assert status == 405 and _msg(body)
    status, _, body = api.request("GET", "/v1.99/version")
    assert status == 400 and "too new" in _msg(body)
    status, _, body = api.request("GET", "/v1.41/images/localhost/nosuch/json")
    assert status == 404 and _msg(body) == "No such image: localhost/nosuch"

    status, _, body = api.request("POST", "/v1.41/containers/create?name=errs",
                                  {"Image": "localhost/busybox", "Cmd": ["sleep", "300"],
                                   "HostConfig": {"NetworkMode": "none"}, "StopTimeout": 1})
    assert status == 201, body
    cid = json.loads(body)["Id"]
    status, _, body = api.request("POST", "/v1.41/containers/create?name=errs", {"Image": "localhost/busybox"})
    assert status == 409 and "already in use" in _msg(body)
    assert api.request("POST", f"/v1.41/containers/{cid}/stop")[0] == 304
    assert api.request("POST", f"/v1.41/containers/{cid}/start")[0] == 204
    assert api.request("POST", f"/v1.41/containers/{cid}/start")[0] == 304
    status, _, body = api.request("DELETE", f"/v1.41/containers/{cid}")
    assert status == 409 and "running" in _msg(body)
    status, _, body = api.request("POST", f"/v1.41/containers/{cid}/kill?signal=NOPE")
    assert status == 400 and "signal" in _msg(body)
    assert api.request("DELETE", f"/v1.41/containers/{cid}?force=1")[0] == 204
    status, _, body = api.request("POST", f"/v1.41/containers/{cid}/kill")
    assert status == 404


BAD_BODIES = [
    (b"{not json", "malformed JSON"),
    (b'{"Image": "localhost/busybox", "Bogus": 1}', "unknown field 'Bogus'"),
    (b'{"Image": "localhost/busybox", "HostConfig": {"Nope": true}}', "unknown field 'HostConfig.Nope'"),
    (b'{"Image": 7}', "Image"),
    (b'{"Cmd": ["true"]}', "Image"),
    (b'[1, 2]', "invalid request body"),
    (b'{"Image": "localhost/busybox", "HostConfig": {"Links": ["a:b"]}}', "HostConfig.Links"),
    (b'{"Image": "localhost/busybox", "HostConfig": {"SecurityOpt": ["apparmor=x"]}}', "SecurityOpt"),
    (b'{"Image": "localhost/busybox", "Domainname": "example.org"}', "Domainname"),
    (b'{"Image": "localhost/busybox", "HostConfig": {"Memory": 1}}', "memory"),
]


def test_bad_bodies_are_400_with_a_message(api: Service, image: str) -> None:
    for raw, expect in BAD_BODIES:
        status, _, body = api.request("POST", "/v1.41/containers/create", raw=raw)
        assert status == 400, (raw, body)
        assert expect.lower() in _msg(body).lower(), (raw, body)
    # nothing was stored
    status, _, body = api.request("GET", "/containers/json?all=1")
    assert status == 200 and json.loads(body) == []


def test_limits_and_malformed_http(api: Service) -> None:
    big = b'{"Name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, _, body = api.request("POST", "/v1.41/volumes/create", raw=big)
    assert status == 413 and "too large" in _msg(body)
    status, _, body = api.request("GET", "/v1.41/containers/json?all=maybe")
    assert status == 400 and "boolean" in _msg(body)
    status, _, body = api.request("GET", '/v1.41/containers/json?filters={"bogus":["x"]}')
    assert status == 400 and "bogus" in _msg(body)
    # garbage instead of HTTP: a 400, and the service lives on
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(api.sock)
    s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    reply = s.recv(4096)
    s.close()
    assert reply.startswith(b"HTTP/1.1 400")
    assert api.request("GET", "/_ping")[0] == 200


def test_socket_mode_tcp_warning_and_idle_exit(podium: Podium) -> None:
    svc = start_service(podium, extra=("--time", "1"))
    try:
        mode = stat.S_IMODE(os.stat(svc.sock).st_mode)
        assert mode == 0o660
        deadline = time.monotonic() + 30
        while svc.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert svc.proc.returncode == 0, svc.log_text()
        assert not os.path.exists(svc.sock)
    finally:
        stop_service(svc)

    port = free_port()
    tcp = start_service(podium, f"tcp://127.0.0.1:{port}")
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(b"GET /v1.41/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        conn.close()
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"OK")
        assert "unauthenticated" not in tcp.log_text()
    finally:
        stop_service(tcp)

    wide = start_service(podium, f"tcp://0.0.0.0:{free_port()}", extra=("--time", "1"), wait=False)
    try:
        wide.proc.wait(timeout=30)
        assert "unauthenticated" in wide.log_text()
    finally:
        stop_service(wide)
