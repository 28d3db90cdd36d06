"""``login`` (credentials checked against the registry, then stored), ``logout``'s look-up
helpers, and ``search`` over a registry's catalog.

A login is only recorded once the registry accepted it: for a Basic
challenge ``GET /v2/`` must answer 200 with the credentials; for a Bearer
challenge the token service must issue a token for them. A registry that asks
for no authentication at all is accepted as Podman accepts it.
"""

from __future__ import annotations

from ..errors import ConfigError
from . import auth
from .client import RegistryClient
from .config import load as load_conf
from .errors import AuthError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _key(registry: str) -> tuple[str, str]:
    """``https://host:5000/ns`` -> ("host:5000/ns", "host:5000")."""
    key = auth.normalize_key(registry)
    if not key or " " in key:
        raise ConfigError(f"invalid registry {registry!r}")
    host = key.split("/", 1)[0]
    return key, host


def _insecure(host: str, tls_verify: bool | None) -> bool:
    if tls_verify is not None:
        return not tls_verify
    return load_conf().insecure(host)


def _api_host(host: str) -> str:
    return "registry-1.docker.io" if host == "docker.io" else host


def login(registry: str, user: str, password: str, *, authfile: str | None = None,
          tls_verify: bool | None = None) -> None:
    """Check the credentials with the registry, then store them."""
    if not user:
        raise ConfigError("user name must not be empty")
    key, host = _key(registry)
    with RegistryClient(_api_host(host), insecure=_insecure(host, tls_verify),
                        credentials=(user, password)) as c:
        c.ping()
        if c.challenge is not None:
            scheme, _ = c.challenge
            if scheme == "basic":
                r = c.http.get(c.url("/v2/"), headers=c._auth(""))
                if r.status_code == 401:
                    raise AuthError(f"registry {host}: login refused: invalid user name or "
                                    "password")
            else:
                try:
                    c._auth("", fresh=True)
                except AuthError:
                    raise AuthError(f"registry {host}: login refused: invalid user name or "
                                    "password") from None
    auth.store(key, user, password, authfile=authfile)


def stored_user(registry: str, *, authfile: str | None = None) -> str:
    key, _ = _key(registry)
    creds = auth.lookup(key, authfile=authfile)
    if creds is None:
        raise ConfigError(f"not logged into {registry}")
    return creds[0]


def search(term: str, *, list_tags: bool = False, limit: int = 25, authfile: str | None = None,
           tls_verify: bool | None = None) -> list[dict[str, Any]]:
    """Repositories of REGISTRY whose name contains TERM (``_catalog``), or a repo's tags."""
    host, sep, rest = term.partition("/")
    if not sep or not ("." in host or ":" in host or host == "localhost"):
        raise ConfigError(f"{term}: name the registry to search (REGISTRY/TERM); podium does "
                          "not search registries it was not given")
    creds = auth.lookup(term if list_tags else host, authfile=authfile)
    with RegistryClient(_api_host(host), insecure=_insecure(host, tls_verify),
                        credentials=creds) as c:
        if list_tags:
            path = rest.rsplit(":", 1)[0] if rest.rfind(":") > rest.rfind("/") else rest
            return [{"Name": f"{host}/{path}", "Tag": t} for t in c.tags(path)[:limit]]
        repos = [r for r in c.catalog() if rest in r]
        return [{"Name": f"{host}/{r}"} for r in repos[:limit]]
