"""The distribution client against an in-process fake registry (httpx.MockTransport):
challenges, bearer tokens and their scopes, basic auth, digest checks, uploads."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from podium.engine.registry.client import RegistryClient, parse_challenge
from podium.engine.registry.errors import AuthError, DigestMismatch, ManifestUnknown, RegistryError

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"digest": "sha256:" + "0" * 64, "size": 2}, "layers": []}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def test_parse_challenge() -> None:
    scheme, p = parse_challenge('Bearer realm="https://auth.example/token",service="reg",'
                                'scope="repository:a/b:pull,push",error="insufficient_scope"')
    assert scheme == "bearer"
    assert p == {"realm": "https://auth.example/token", "service": "reg",
                 "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}
    assert parse_challenge('Basic realm="r"') == ("basic", {"realm": "r"})
    assert parse_challenge("Bearer realm=plain, service=s") == ("bearer", {"realm": "plain", "service": "s"})


class FakeRegistry:
    """Bearer auth as Docker Hub does it: /v2/ asks for a token; tokens carry their scope."""

    def __init__(self, *, users: dict[str, str] | None = None, anonymous_pull: bool = True,
                 scheme: str = "bearer") -> None:
        self.users = users or {}
        self.anonymous_pull = anonymous_pull
        self.scheme = scheme
        self.token_requests: list[httpx.QueryParams] = []
        self.requests: list[httpx.Request] = []
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, bytearray] = {}

    def _user(self, req: httpx.Request) -> str | None:
        h = req.headers.get("authorization", "")
        if not h.startswith("Basic "):
            return None
        user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        return user if self.users.get(user) == pw else "!bad"

    def challenge(self, scope: str = "") -> httpx.Response:
        if self.scheme == "basic":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="fake"'})
        extra = f',scope="{scope}"' if scope else ""
        return httpx.Response(401, headers={
            "WWW-Authenticate": f'Bearer realm="https://auth.fake/token",service="fake"{extra}'})

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        url = req.url
        if url.host == "auth.fake":
            self.token_requests.append(url.params)
            user = self._user(req)
            if user == "!bad":
                return httpx.Response(401)
            scopes = url.params.get_list("scope")
            if any(s.endswith("push") for s in scopes) and user is None:
                return httpx.Response(401)
            if user is None and not self.anonymous_pull:
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "T:" + " ".join(scopes)})
        path = url.path
        if self.scheme == "basic":
            if self._user(req) in (None, "!bad"):
                return self.challenge()
        elif path != "/v2/" or "authorization" in req.headers:
            tok = req.headers.get("authorization", "")
            want = "push" if req.method in ("POST", "PATCH", "PUT") else "pull"
            if not tok.startswith("Bearer T:") or want not in tok:
                return self.challenge(f"repository:a/b:{'pull,push' if want == 'push' else 'pull'}")
        if path == "/v2/":
            return httpx.Response(200) if self.scheme == "basic" else self.challenge()
        if path == "/v2/a/b/manifests/v1" or path == f"/v2/a/b/manifests/{DIGEST}":
            return httpx.Response(200, content=MANIFEST, headers={
                "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                "Docker-Content-Digest": DIGEST})
        if path == "/v2/a/b/manifests/sha256:" + "9" * 64:  # content of another digest
            return httpx.Response(200, content=MANIFEST)
        if path.startswith("/v2/a/b/blobs/uploads/") and req.method == "POST":
            if req.url.params.get("mount") in self.blobs:
                return httpx.Response(201)
            self.uploads["u1"] = bytearray()
            return httpx.Response(202, headers={"Location": "/v2/a/b/blobs/uploads/u1?_state=s"})
        if path == "/v2/a/b/blobs/uploads/u1" and req.method == "PATCH":
            start, _, end = req.headers["content-range"].partition("-")
            buf = self.uploads["u1"]
            assert int(start) == len(buf) and int(end) == len(buf) + len(req.content) - 1
            buf += req.content
            return httpx.Response(202, headers={"Location": f"/v2/a/b/blobs/uploads/u1?_state={len(buf)}"})
        if path == "/v2/a/b/blobs/uploads/u1" and req.method == "PUT":
            digest = req.url.params["digest"]
            data = bytes(self.uploads.pop("u1"))
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID", "message": "bad"}]})
            self.blobs[digest] = data
            return httpx.Response(201)
        if path.startswith("/v2/a/b/blobs/"):
            digest = path.rsplit("/", 1)[1]
            if digest in self.blobs:
                return httpx.Response(200, content=self.blobs[digest])
            return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]})
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})


def client(fake: FakeRegistry, creds: tuple[str, str] | None = None) -> RegistryClient:
    return RegistryClient("reg.fake", credentials=creds, transport=httpx.MockTransport(fake))


def test_anonymous_bearer_token_scoped_and_cached() -> None:
    fake = FakeRegistry()
    with client(fake) as c:
        data, mt, digest = c.get_manifest("a/b", "v1")
        assert (data, digest) == (MANIFEST, DIGEST)
        assert c.get_manifest("a/b", DIGEST)[2] == DIGEST
    assert len(fake.token_requests) == 1  # the token for repository:a/b:pull is reused
    q = fake.token_requests[0]
    assert q.get("service") == "fake" and q.get_list("scope") == ["repository:a/b:pull"]
    assert "account" not in q


def test_bearer_with_credentials_and_scope_upgrade_for_push() -> None:
    fake = FakeRegistry(users={"u": "pw"})
    with client(fake, ("u", "pw")) as c:
        loc = c.start_upload("a/b")
        digest = c.upload("a/b", loc, [b"abc", b"def"], lambda: "sha256:" + hashlib.sha256(b"abcdef").hexdigest())
    assert fake.blobs[digest] == b"abcdef"
    assert fake.token_requests[0].get("account") == "u"
    assert "repository:a/b:pull,push" in fake.token_requests[0].get_list("scope")
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert [r.headers["content-range"] for r in patches] == ["0-2", "3-5"]


def test_mount_answers_201_or_an_upload_location() -> None:
    fake = FakeRegistry(users={"u": "pw"})
    fake.blobs["sha256:" + "1" * 64] = b"x"
    with client(fake, ("u", "pw")) as c:
        assert c.mount_blob("a/b", "sha256:" + "1" * 64, "other/repo") is None
        loc = c.mount_blob("a/b", "sha256:" + "2" * 64, "other/repo")
        assert loc is not None and loc.startswith("https://reg.fake/v2/a/b/blobs/uploads/u1")
    scopes = fake.token_requests[0].get_list("scope")
    assert scopes == ["repository:a/b:pull,push", "repository:other/repo:pull"]


def test_refused_credentials_and_missing_ones() -> None:
    with client(FakeRegistry(users={"u": "pw"}), ("u", "wrong")) as c:
        with pytest.raises(AuthError, match="credentials refused"):
            c.get_manifest("a/b", "v1")
    with client(FakeRegistry(anonymous_pull=False)) as c:
        with pytest.raises(AuthError, match="authentication required .*podium login reg.fake"):
            c.get_manifest("a/b", "v1")


def test_basic_auth_registry() -> None:
    fake = FakeRegistry(users={"u": "pw"}, scheme="basic")
    with client(fake, ("u", "pw")) as c:
        assert c.get_manifest("a/b", "v1")[2] == DIGEST
    assert fake.token_requests == []
    with client(FakeRegistry(users={"u": "pw"}, scheme="basic")) as c:
        with pytest.raises(AuthError, match="authentication required"):
            c.get_manifest("a/b", "v1")


def test_digest_checks_and_errors() -> None:
    fake = FakeRegistry()
    fake.blobs["sha256:" + "3" * 64] = b"not what the digest says"
    with client(fake) as c:
        with pytest.raises(DigestMismatch, match="has content " + DIGEST):
            c.get_manifest("a/b", "sha256:" + "9" * 64)
        with pytest.raises(DigestMismatch, match="refusing it"):
            c.get_blob("a/b", "sha256:" + "3" * 64, 1 << 20)
        with pytest.raises(ManifestUnknown, match="not found .*MANIFEST_UNKNOWN"):
            c.get_manifest("a/b", "nope")


def test_unreachable_host_is_a_registry_error() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    c = RegistryClient("nowhere.invalid", transport=httpx.MockTransport(refuse))
    with pytest.raises(RegistryError, match="^cannot reach registry nowhere.invalid: the host name does not resolve$"):
        c.ping()


def test_insecure_falls_back_to_plain_http() -> None:
    seen = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.scheme)
        if req.url.scheme == "https":
            raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        return httpx.Response(200)

    c = RegistryClient("plain.example:5000", insecure=True, transport=httpx.MockTransport(handler))
    c.ping()
    assert c.base == "http://plain.example:5000" and seen == ["https", "http"]
    strict = RegistryClient("plain.example:5000", transport=httpx.MockTransport(handler))
    with pytest.raises(RegistryError, match="--tls-verify=false"):
        strict.ping()
