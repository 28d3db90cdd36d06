"""Registry credentials: containers-auth.json (Podman's format) and Docker's config.json.

Where podium looks, first match wins (containers/image's order):
``--authfile`` or ``$REGISTRY_AUTH_FILE``; ``$XDG_RUNTIME_DIR/containers/auth.json``
(``/run/containers/<uid>/auth.json`` without that variable);
``$XDG_CONFIG_HOME/containers/auth.json``; Docker's ``$DOCKER_CONFIG/config.json``
(``~/.docker/config.json``). ``login`` and ``logout`` write only the first one.

A file maps keys to ``{"auth": base64("user:password")}``. A key is a registry
(``quay.io``, ``localhost:5000``) or a namespace in it (``quay.io/team``); the
most specific key matching a repository wins. Docker's keys may carry a
scheme and a path (``https://index.docker.io/v1/``) and are normalised.
Credential helpers (``credHelpers``/``credsStore``) are not run.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def default_authfile() -> Path:
    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        return Path(env)
    rt = os.environ.get("XDG_RUNTIME_DIR")
    if rt:
        return Path(rt) / "containers" / "auth.json"
    return Path(f"/run/containers/{os.getuid()}/auth.json")


def read_files(authfile: str | None = None) -> list[Path]:
    """Files to read credentials from, in order."""
    if authfile:
        return [Path(authfile)]
    cfg_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    docker = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    return [default_authfile(), Path(cfg_home) / "containers" / "auth.json",
            Path(docker) / "config.json"]


def normalize_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://h:5000/x`` -> ``h:5000/x``."""
    key = key.strip()
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            host, _, rest = key.partition("/")
            key = host if rest in ("", "v1", "v1/", "v2", "v2/") else f"{host}/{rest.rstrip('/')}"
    key = key.rstrip("/")
    host, sep, rest = key.partition("/")
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
    return host + sep + rest


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable auth file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise ConfigError(f"{path}: not an auth file (expected {{\"auths\": {{...}}}})")
    return data


def _decode(entry: Any, key: str, path: Path) -> tuple[str, str] | None:
    if not isinstance(entry, dict):
        return None
    raw = entry.get("auth")
    if raw:
        try:
            user, sep, password = base64.b64decode(raw).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(f"{path}: credentials for {key} are not valid base64") from None
        if not sep:
            raise ConfigError(f"{path}: credentials for {key} are not user:password")
        return user, password
    if entry.get("username") is not None:
        return str(entry["username"]), str(entry.get("password") or "")
    if entry.get("identitytoken"):
        return "<token>", str(entry["identitytoken"])
    return None


def lookup(repo: str, *, authfile: str | None = None) -> tuple[str, str] | None:
    """(user, password) for ``domain/path``, or None: the most specific key of the first file."""
    parts = repo.split("/")
    wanted = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
    for path in read_files(authfile):
        auths = {normalize_key(k): v for k, v in (_read(path).get("auths") or {}).items()}
        for key in wanted:
            if key in auths:
                creds = _decode(auths[key], key, path)
                if creds:
                    return creds
    return None


def _write(path: Path, data: dict[str, Any]) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".auth-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def store(key: str, user: str, password: str, *, authfile: str | None = None) -> Path:
    """Record credentials for ``key`` (a registry or registry/namespace); returns the file."""
    path = Path(authfile) if authfile else default_authfile()
    data = _read(path)
    auths = data.setdefault("auths", {})
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    auths[normalize_key(key)] = {"auth": token}
    _write(path, data)
    return path


def remove(key: str | None, *, authfile: str | None = None) -> list[str]:
    """Forget credentials for ``key`` (every key when None); returns the keys removed."""
    path = Path(authfile) if authfile else default_authfile()
    data = _read(path)
    auths = data.get("auths") or {}
    if key is None:
        gone = list(auths)
    else:
        norm = normalize_key(key)
        gone = [k for k in auths if normalize_key(k) == norm]
    if not gone:
        return []
    for k in gone:
        del auths[k]
    data["auths"] = auths
    _write(path, data)
    return gone
