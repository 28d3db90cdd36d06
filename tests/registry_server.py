"""A real registry for tests: Debian's docker-registry (distribution) on 127.0.0.1.

``Registry`` starts ``/usr/bin/docker-registry serve CONFIG`` on a free port
with its own temporary storage directory (optionally with htpasswd auth, the
bcrypt file written with the ``bcrypt`` test dependency), waits until
``/v2/`` answers, and stops it by its PID. ``registry`` / ``auth_registry``
are pytest fixtures; other test modules import them
(``from tests.registry_server import registry``) or use ``Registry`` directly.

``upload_image`` puts hand-made content into it over the plain HTTP API
(monolithic uploads, no podium code involved), so tests can serve what
podium's own push would never write: manifest lists, zstd layers, Docker
schema2 media types. ``blob_path`` finds a blob in the storage directory,
for tests that corrupt it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import need

EXE = "/usr/bin/docker-registry"
USER, PASSWORD = "podium", "s3cret-pass"

CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: podium-test-secret
{auth}"""

AUTH = """auth:
  htpasswd:
    realm: podium-test
    path: {htpasswd}
"""

TOKEN_AUTH = """auth:
  token:
    realm: http://127.0.0.1:{token_port}/token
    service: podium-test-registry
    issuer: podium-test-issuer
    rootcertbundle: {cert}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """One docker-registry process with private storage; ``host`` is ``127.0.0.1:PORT``."""

    def __init__(self, *, htpasswd: bool = False, token: bool = False,
                 base: Path | None = None) -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix="pdmreg", dir="/tmp"))
        self.storage = self.base / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.auth = (USER, PASSWORD) if htpasswd else None
        if htpasswd:
            import bcrypt
            hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
            (self.base / "htpasswd").write_text(f"{USER}:{hashed}\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.tokens: TokenServer | None = TokenServer(self.base) if token else None
        if token:
            self.auth = (USER, PASSWORD)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, port: int | None = None) -> "Registry":
        """Start (again, after ``stop``: same storage; a new free port unless one is given)."""
        for _ in range(5):
            self.port = port or free_port()
            if self.tokens is not None:
                auth = TOKEN_AUTH.format(token_port=self.tokens.port, cert=self.tokens.cert)
            else:
                auth = AUTH.format(htpasswd=self.base / "htpasswd") if self.auth else ""
            cfg = self.base / "config.yml"
            cfg.write_text(CONFIG.format(storage=self.storage, port=self.port, auth=auth))
            log = open(self.base / "registry.log", "ab")
            self.proc = subprocess.Popen([EXE, "serve", str(cfg)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            if self._wait_ready():
                return self
            self.stop()
            if port:
                break
        raise RuntimeError(f"docker-registry did not start: {(self.base / 'registry.log').read_text()[-2000:]}")

    def _wait_ready(self, timeout: float = 30) -> bool:
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                r = httpx.get(self.url + "/v2/", timeout=2)
                if r.status_code in (200, 401):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the process we started, by its PID (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL at once: a registry dying in the middle of a transfer."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self.tokens is not None:
            self.tokens.close()
        shutil.rmtree(self.base, ignore_errors=True)

    # ---- direct API access (no podium code) ----------------------------------------
    def client(self):  # noqa: ANN201 - an httpx.Client on the registry
        import httpx
        if self.tokens is not None:
            return httpx.Client(base_url=self.url, timeout=60, auth=_TokenAuth(self.tokens))
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=60)

    def upload_blob(self, repo: str, data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self.client() as c:
            r = c.post(f"/v2/{repo}/blobs/uploads/")
            assert r.status_code == 202, r.text
            loc = r.headers["location"]
            sep = "&" if "?" in loc else "?"
            r = c.put(f"{loc}{sep}digest={digest}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, r.text
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, repo: str, ref: str, doc: dict[str, object]) -> dict[str, object]:
        data = json.dumps(doc).encode()
        with self.client() as c:
            r = c.put(f"/v2/{repo}/manifests/{ref}", content=data,
                      headers={"Content-Type": str(doc["mediaType"])})
            assert r.status_code == 201, r.text
        return {"mediaType": doc["mediaType"], "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "size": len(data)}

    def blob_path(self, digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


class TokenServer:
    """A Docker token service for distribution's ``auth: token`` (as Docker Hub's realm).

    ``GET /token?service=&scope=repository:NAME:pull,push`` answers a JWT signed
    RS256 (with the ``openssl`` program) whose ``x5c`` header carries the
    self-signed certificate the registry trusts. USER/PASSWORD (Basic) get every
    action asked for; anonymous requests get ``pull`` only; wrong credentials 401.
    ``requests`` records the query of each request, for assertions.
    """

    def __init__(self, base: Path) -> None:
        import http.server
        import threading
        need(shutil.which("openssl") is not None, "openssl is not installed (apt-get install openssl)")
        self.dir = base / "token"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = self.dir / "key.pem", self.dir / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(self.key), "-out", str(self.cert), "-days", "2", "-subj",
                        "/CN=podium-test-token"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[dict[str, list[str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                from urllib.parse import parse_qs, urlparse
                q = parse_qs(urlparse(self.path).query)
                server.requests.append(q)
                user = None
                h = self.headers.get("Authorization", "")
                if h.startswith("Basic "):
                    u, _, pw = base64.b64decode(h[6:]).decode().partition(":")
                    if (u, pw) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = u
                token = server.issue(user, q.get("scope", []))
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def issue(self, user: str | None, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = [a for a in actions.split(",") if user is not None or a == "pull"]
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        claims = {"iss": "podium-test-issuer", "sub": user or "", "aud": "podium-test-registry",
                  "exp": now + 300, "nbf": now - 30, "iat": now,
                  "jti": base64.b16encode(os.urandom(8)).decode(), "access": access}
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing.encode(), check=True, capture_output=True).stdout
        return signing + "." + b64(sig)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _token_auth_class():  # noqa: ANN202 - httpx is imported when a test needs it
    import re

    import httpx

    class TokenAuth(httpx.Auth):
        """Answers a bearer challenge with a token for the scope it names (direct API use)."""

        def __init__(self, tokens: TokenServer) -> None:
            self.tokens = tokens

        def auth_flow(self, request: httpx.Request):  # noqa: ANN201
            response = yield request
            if response.status_code == 401:
                m = re.search(r'scope="([^"]+)"', response.headers.get("www-authenticate", ""))
                scopes = m.group(1).split(" ") if m else []
                request.headers["Authorization"] = "Bearer " + self.tokens.issue(USER, scopes)
                yield request

    return TokenAuth


def _TokenAuth(tokens: TokenServer):  # noqa: N802, ANN202
    return _token_auth_class()(tokens)


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar with these files (parents created), fixed times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for name, data in sorted(files.items()):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                    tf.addfile(ti)
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755, 1700000000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        import gzip
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        exe = shutil.which("zstd")
        assert exe, "the zstd program (apt-get install zstd) makes zstd layers for tests"
        return subprocess.run([exe, "-q", "-c", "-3"], input=data, capture_output=True,
                              check=True).stdout
    return data


MT_LAYER = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
            "": "application/vnd.oci.image.layer.v1.tar"}


def upload_image(reg: Registry, repo: str, tag: str | None, layers: list[bytes], *,
                 compression: str = "gzip", arch: str = "amd64", cmd: list[str] | None = None,
                 docker_types: bool = False) -> dict[str, object]:
    """Upload an image of these uncompressed layer tars; returns its manifest descriptor
    (with ``platform`` set, ready for an index)."""
    descs, diff_ids = [], []
    for raw in layers:
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        blob = compress(raw, compression)
        d = reg.upload_blob(repo, blob)
        mt = ("application/vnd.docker.image.rootfs.diff.tar.gzip" if docker_types
              else MT_LAYER[compression])
        descs.append({"mediaType": mt, **d})
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cdesc = reg.upload_blob(repo, config)
    if docker_types:
        doc = {"schemaVersion": 2,
               "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
               "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **cdesc},
               "layers": descs}
    else:
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cdesc},
               "layers": descs}
    mdesc = reg.put_manifest(repo, tag or "sha256:" + hashlib.sha256(json.dumps(doc).encode()).hexdigest(), doc)
    return {**mdesc, "platform": {"os": "linux", "architecture": arch}}


def upload_index(reg: Registry, repo: str, tag: str, manifests: list[dict[str, object]]) -> dict[str, object]:
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": manifests}
    return reg.put_manifest(repo, tag, doc)


def basic_auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _need_registry() -> None:
    need(os.path.exists(EXE), "docker-registry is not installed (apt-get install docker-registry)")


@pytest.fixture
def registry() -> Iterator[Registry]:
    """An open registry (no auth) on 127.0.0.1, private storage, stopped after the test."""
    _need_registry()
    reg = Registry().start()
    try:
        yield reg
    finally:
        reg.cleanup()


@pytest.fixture
def auth_registry() -> Iterator[Registry]:
    """A registry with htpasswd auth (``reg.auth`` is (user, password))."""
    _need_registry()
    need(_has_bcrypt(), "python bcrypt is not installed (pip install bcrypt; a test dependency)")
    reg = Registry(htpasswd=True).start()
    try:
        yield reg
    finally:
        reg.cleanup()


@pytest.fixture
def token_registry() -> Iterator[Registry]:
    """A registry with Docker token auth (a bearer challenge; ``reg.tokens`` the token service)."""
    _need_registry()
    reg = Registry(token=True).start()
    try:
        yield reg
    finally:
        reg.cleanup()


def _has_bcrypt() -> bool:
    try:
        import bcrypt  # noqa: F401
        return True
    except ImportError:
        return False
