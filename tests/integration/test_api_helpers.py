"""Shared pieces of the REST API tests: a `podium system service` process on the test's own
root and socket (killed by PID at teardown), and a tiny raw HTTP client over a unix socket.

Holds no tests itself; the test_api_* modules import the fixture from here.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import PODIUM, REPO, Podium


class Service:
    def __init__(self, podium: Podium, uri: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.podium = podium
        self.uri = uri
        self.proc = proc
        self.log = log
        self.sock = uri[len("unix://"):] if uri.startswith("unix://") else ""

    @property
    def env(self) -> dict[str, str]:
        """The environment for a docker client: DOCKER_HOST at this service, no config of the host's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.uri
        env["DOCKER_CONFIG"] = str(self.podium.base / "docker-config")
        return env

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                raw: bytes | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
        conn = UnixHTTPConnection(self.sock, timeout=timeout)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        out = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, out

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}:\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}\nservice log:\n{self.log_text()}")
        return proc

    def log_text(self) -> str:
        try:
            return self.log.read_text()[-4000:]
        except OSError:
            return ""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def start_service(podium: Podium, uri: str | None = None, *, extra: tuple[str, ...] = ("--time", "0"),
                  wait: bool = True) -> Service:
    uri = uri or f"unix://{podium.base}/api.sock"
    log = podium.base / "service.log"
    podium.base.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as f:
        proc = subprocess.Popen([*PODIUM, "system", "service", *extra, uri], env=podium.env, cwd=str(REPO),
                                stdout=f, stderr=subprocess.STDOUT)
    svc = Service(podium, uri, proc, log)
    if wait:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"the service exited {proc.returncode}: {svc.log_text()}")
            if svc.sock and os.path.exists(svc.sock):
                try:
                    if svc.request("GET", "/_ping", timeout=5)[0] == 200:
                        return svc
                except OSError:
                    pass
            elif not svc.sock and svc.log.stat().st_size >= 0:
                host, port = uri[len("tcp://"):].rsplit(":", 1)
                try:
                    socket.create_connection((host, int(port)), timeout=1).close()
                    return svc
                except OSError:
                    pass
            time.sleep(0.05)
        stop_service(svc)
        raise AssertionError(f"the service did not come up: {svc.log_text()}")
    return svc


def stop_service(svc: Service) -> None:
    if svc.proc.poll() is None:
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            svc.proc.wait(timeout=10)


@pytest.fixture
def api(podium: Podium) -> Iterator[Service]:
    """`podium system service` on the test's own root and socket; stopped by PID at teardown."""
    svc = start_service(podium)
    try:
        yield svc
    finally:
        stop_service(svc)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
