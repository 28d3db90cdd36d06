"""One registry's HTTP API (OCI distribution v2) on httpx: auth, manifests, blobs, uploads.

``RegistryClient(host)`` first pings ``/v2/`` to learn the scheme (HTTPS; for
an insecure registry HTTPS without verification, then plain HTTP) and the
auth challenge. Requests then carry the credential the challenge asks for:
``Basic`` sends the user's password, ``Bearer`` trades it (or nothing, for
anonymous pulls) at the challenge's realm for a token scoped to the
repository and actions, cached per scope. A 401 with a new challenge
(``insufficient_scope``) is answered once more; a second 401 is an AuthError.

Every transport failure becomes a RegistryError naming the host, so callers
never see httpx's exceptions. The client is shared by the threads that fetch
layers in parallel (httpx's pool is thread-safe; the token cache has a lock).
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
import sys
import types
from urllib.parse import urljoin

# httpx's package __init__ imports its own command-line tool (click, rich, pygments) when
# those happen to be installed: ~70 ms of every pull spent on a CLI podium never runs.
# A placeholder module makes that optional import fail fast, as it does without them.
sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))
import httpx  # noqa: E402

from .errors import AuthError, DigestMismatch, ManifestUnknown, RegistryError
from .manifest import ACCEPT, MAX_MANIFEST

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator

USER_AGENT = "podium/0.1 (OCI distribution client; httpx)"
CHUNK = 1 << 20


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y",scope="a b"`` -> ("bearer", {...}); quoted commas kept."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            val = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                val.append(rest[i])
                i += 1
            i += 1
            params[key] = "".join(val)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            params[key] = rest[i:end].strip()
            i = end
    return scheme.lower(), params


def basic_header(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Name or service not known" in text or "Temporary failure in name resolution" in text \
            or "No address associated" in text:
        return "the host name does not resolve"
    if "Connection refused" in text:
        return "connection refused"
    return text


class RegistryClient:
    """Talks to one registry host (``quay.io``, ``127.0.0.1:5000``)."""

    def __init__(self, host: str, *, insecure: bool = False,
                 credentials: tuple[str, str] | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.host, self.insecure, self.credentials = host, insecure, credentials
        self.http = httpx.Client(
            transport=transport,
            verify=not insecure, follow_redirects=True, trust_env=False,
            timeout=httpx.Timeout(timeout, connect=15.0),
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))
        self.base: str | None = None
        self.challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- connection and auth ---------------------------------------------------
    def ping(self) -> None:
        """Learn scheme and challenge from ``GET /v2/`` (done once, before anything else)."""
        if self.base is not None:
            return
        schemes = ["https", "http"] if self.insecure else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            base = f"{scheme}://{self.host}"
            try:
                r = self.http.get(base + "/v2/")
            except httpx.HTTPError as exc:
                last = exc
                continue
            if r.status_code == 401:
                self.challenge = parse_challenge(r.headers.get("www-authenticate", ""))
            elif r.status_code >= 400 and r.status_code != 404:
                raise RegistryError(f"registry {self.host}: /v2/ answered {r.status_code}; "
                                    "is this an OCI registry?")
            self.base = base
            return
        hint = "" if self.insecure else \
            " (a plain-HTTP registry needs --tls-verify=false or insecure = true in registries.conf)"
        raise RegistryError(f"cannot reach registry {self.host}: {_reason(last or Exception())}"
                            + (hint if last and "SSL" in str(last) else ""))

    def _token(self, scope: str, params: dict[str, str], *, fresh: bool = False) -> str:
        with self._lock:
            if not fresh and scope in self._tokens:
                return self._tokens[scope]
        realm = params.get("realm")
        if not realm:
            raise AuthError(f"registry {self.host}: bearer challenge without a realm")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        for s in scope.split(" "):
            if s:
                query.append(("scope", s))
        auth = None
        if self.credentials:
            user, password = self.credentials
            if user != "<token>":
                query.append(("account", user))
                auth = httpx.BasicAuth(user, password)
        try:
            r = self.http.get(realm, params=query, auth=auth)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry {self.host}: token service {realm}: "
                                f"{_reason(exc)}") from None
        if r.status_code in (401, 403):
            raise AuthError(self._denied(r.status_code))
        if r.status_code != 200:
            raise RegistryError(f"registry {self.host}: token service answered {r.status_code}")
        try:
            body = r.json()
            token = body.get("token") or body.get("access_token")
        except ValueError:
            token = None
        if not token:
            raise AuthError(f"registry {self.host}: token service sent no token")
        with self._lock:
            self._tokens[scope] = token
        return token

    def _denied(self, status: int) -> str:
        if self.credentials:
            return f"registry {self.host}: credentials refused ({status} unauthorized)"
        return (f"registry {self.host}: authentication required ({status} unauthorized): "
                f"log in with 'podium login {self.host}'")

    def _auth(self, scope: str, *, fresh: bool = False) -> dict[str, str]:
        if self.challenge is None:
            return {}
        scheme, params = self.challenge
        if scheme == "basic":
            if not self.credentials:
                return {}
            user, password = self.credentials
            return {"Authorization": basic_header(user, password)}
        if scheme == "bearer":
            return {"Authorization": "Bearer " + self._token(scope, params, fresh=fresh)}
        raise AuthError(f"registry {self.host}: unsupported auth scheme {scheme!r}")

    def url(self, path: str) -> str:
        self.ping()
        assert self.base is not None
        return urljoin(self.base + "/", path.lstrip("/")) if not path.startswith("http") else path

    def request(self, method: str, path: str, scope: str, *, stream: bool = False,
                ok: Iterable[int] = (200,), **kw: Any) -> httpx.Response:
        """One API call with auth; a second 401 is an AuthError. Statuses in ``ok`` return."""
        url = self.url(path)
        headers = dict(kw.pop("headers", None) or {})
        for attempt in (0, 1):
            hdrs = {**headers, **self._auth(scope, fresh=attempt == 1)}
            try:
                req = self.http.build_request(method, url, headers=hdrs, **kw)
                r = self.http.send(req, stream=stream)
            except httpx.HTTPError as exc:
                raise RegistryError(f"registry {self.host}: {method} {_short(url)}: "
                                    f"{_reason(exc)}") from None
            if r.status_code != 401:
                break
            if stream:
                r.close()
            new = r.headers.get("www-authenticate")
            if attempt == 0 and new:
                self.challenge = parse_challenge(new)
                if self.challenge[0] == "bearer" and "scope" in self.challenge[1]:
                    want = self.challenge[1]["scope"]
                    scope = " ".join(dict.fromkeys((scope + " " + want).split()))
                continue
            if attempt == 0 and self.challenge is None:
                continue
            raise AuthError(self._denied(401))
        if r.status_code in ok:
            return r
        if stream:
            r.read()
            r.close()
        raise self._error(r, method, url)

    def _error(self, r: httpx.Response, method: str, url: str) -> RegistryError:
        detail = ""
        try:
            errs = r.json().get("errors") or []
            if errs:
                detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errs)
        except (ValueError, AttributeError):
            pass
        where = f"registry {self.host}: {method} {_short(url)}: {r.status_code}"
        if r.status_code == 403:
            return AuthError(f"{where} denied" + (f" ({detail})" if detail else ""))
        if r.status_code == 404 or "MANIFEST_UNKNOWN" in detail or "NAME_UNKNOWN" in detail:
            return ManifestUnknown(f"{where} not found" + (f" ({detail})" if detail else ""))
        return RegistryError(where + (f" ({detail})" if detail else ""))

    # ---- manifests -------------------------------------------------------------
    def get_manifest(self, path: str, ref: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest, its digest verified."""
        r = self.request("GET", f"/v2/{path}/manifests/{ref}", f"repository:{path}:pull",
                         stream=True, headers={"Accept": ACCEPT})
        try:
            data = _read_limited(r, MAX_MANIFEST, f"{path}:{ref} manifest", self.host)
        finally:
            r.close()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ref.startswith("sha256:") and ref != digest:
            raise DigestMismatch(f"registry {self.host}: manifest {path}@{ref} has content "
                                 f"{digest}")
        return data, r.headers.get("content-type", ""), digest

    def head_manifest(self, path: str, ref: str) -> str:
        """The digest a tag points at now, cheaply (HEAD; a GET when the header is missing)."""
        r = self.request("HEAD", f"/v2/{path}/manifests/{ref}", f"repository:{path}:pull",
                         headers={"Accept": ACCEPT})
        digest = r.headers.get("docker-content-digest")
        if digest and digest.startswith("sha256:"):
            return digest
        return self.get_manifest(path, ref)[2]

    def put_manifest(self, path: str, ref: str, data: bytes, media_type: str) -> str:
        self.request("PUT", f"/v2/{path}/manifests/{ref}", f"repository:{path}:pull,push",
                     ok=(200, 201, 202), content=data, headers={"Content-Type": media_type})
        return "sha256:" + hashlib.sha256(data).hexdigest()

    # ---- blobs -----------------------------------------------------------------
    @contextmanager
    def blob(self, path: str, digest: str) -> Iterator[httpx.Response]:
        """A streaming response for a blob; the caller verifies what it reads."""
        r = self.request("GET", f"/v2/{path}/blobs/{digest}", f"repository:{path}:pull",
                         stream=True, headers={"Accept-Encoding": "identity"})
        try:
            yield r
        finally:
            r.close()

    def get_blob(self, path: str, digest: str, limit: int) -> bytes:
        with self.blob(path, digest) as r:
            data = _read_limited(r, limit, f"blob {digest[:19]}", self.host)
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != digest:
            raise DigestMismatch(f"registry {self.host}: blob {path}@{digest[:19]} has content "
                                 f"{got[:19]}: refusing it")
        return data

    def has_blob(self, path: str, digest: str) -> bool:
        r = self.request("HEAD", f"/v2/{path}/blobs/{digest}", f"repository:{path}:pull,push",
                         ok=(200, 404))
        return r.status_code == 200

    def mount_blob(self, path: str, digest: str, source: str) -> str | None:
        """Cross-repository mount; None when mounted, else the upload URL to use instead."""
        scope = f"repository:{path}:pull,push repository:{source}:pull"
        r = self.request("POST", f"/v2/{path}/blobs/uploads/", scope, ok=(201, 202),
                         params={"mount": digest, "from": source})
        if r.status_code == 201:
            return None
        return self._location(r)

    def start_upload(self, path: str) -> str:
        r = self.request("POST", f"/v2/{path}/blobs/uploads/", f"repository:{path}:pull,push",
                         ok=(202,))
        return self._location(r)

    def _location(self, r: httpx.Response) -> str:
        loc = r.headers.get("location")
        if not loc:
            raise RegistryError(f"registry {self.host}: upload answer without a Location")
        return urljoin(str(r.url), loc)

    def upload(self, path: str, location: str, chunks: Iterable[bytes], digest_of: Any) -> str:
        """Chunked upload (PATCH per chunk with Content-Range), then PUT with the digest.

        ``digest_of()`` is called after the last chunk: the digest of what was
        sent, known only once the (compressing) producer is done.
        """
        scope = f"repository:{path}:pull,push"
        offset = 0
        for chunk in chunks:
            if not chunk:
                continue
            r = self.request("PATCH", location, scope, ok=(202, 204), content=chunk, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Length": str(len(chunk))})
            offset += len(chunk)
            location = self._location(r)
        digest = digest_of()
        sep = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{sep}digest={digest}", scope, ok=(201, 204),
                     content=b"", headers={"Content-Length": "0"})
        return digest

    # ---- listing ---------------------------------------------------------------
    def catalog(self, limit: int = 1000) -> list[str]:
        r = self.request("GET", "/v2/_catalog", "registry:catalog:*", params={"n": limit})
        return list(r.json().get("repositories") or [])

    def tags(self, path: str) -> list[str]:
        r = self.request("GET", f"/v2/{path}/tags/list", f"repository:{path}:pull")
        return list(r.json().get("tags") or [])


def _short(url: str) -> str:
    return url.split("?", 1)[0]


def _read_limited(r: httpx.Response, limit: int, what: str, host: str) -> bytes:
    buf = bytearray()
    try:
        for chunk in r.iter_bytes(CHUNK):
            buf += chunk
            if len(buf) > limit:
                raise RegistryError(f"registry {host}: {what} is larger than {limit} bytes")
    except httpx.HTTPError as exc:
        raise RegistryError(f"registry {host}: reading {what}: {_reason(exc)}") from None
    return bytes(buf)
