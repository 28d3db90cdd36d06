"""Pull policies: when a command that needs an image goes to the registry for it.

    always    pull every time (layers already present are not fetched again)
    missing   pull only when no local image matches (the default of run/create)
    never     only the local store; a missing image is ImageNotFound
    newer     pull when the registry's manifest digest differs from the local
              image's; when the registry cannot be asked, use the local image

Kubernetes' ``imagePullPolicy`` (Always, IfNotPresent, Never) and compose's
``pull_policy`` (always, missing, never, if_not_present, build, daily...) map
onto these with ``normalize``. Image ids and names under ``localhost/`` are
local by nature: ``missing`` never sends them to a registry.
"""

from __future__ import annotations

from ..errors import ConfigError, ImageNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..images import ImageStore
    from .pull import PullOptions

POLICIES = ("always", "missing", "never", "newer")
_ALIASES = {"ifnotpresent": "missing", "if_not_present": "missing", "if-not-present": "missing",
            "build": "missing", "daily": "newer", "weekly": "newer"}


def normalize(policy: str | None) -> str:
    """Any spelling of a policy (Podman, Kubernetes, compose) -> one of POLICIES."""
    if policy is None or policy == "":
        return "missing"
    p = policy.strip().lower()
    p = _ALIASES.get(p, p)
    if p.startswith("every_"):
        p = "newer"
    if p not in POLICIES:
        raise ConfigError(f"invalid pull policy {policy!r}: use always, missing, never or newer")
    return p


def _local_only(ref: str) -> bool:
    from ..images import split_name

    r = ref.strip()
    if r.startswith("sha256:"):
        return True
    return split_name(r)[0] == "localhost"


def check_pullable(ref: str) -> None:
    """ImageNotFound, cheaply (no HTTP client loaded), for a missing image that no registry
    could provide: an id, a ``localhost/`` name, a short name with no search registry."""
    from .config import load

    if _local_only(ref):
        raise ImageNotFound(f"{ref}: image not known")
    try:
        load().candidates(ref)
    except ConfigError as exc:
        if "short-name" in str(exc):
            raise ImageNotFound(f"{ref}: image not known, and not pulled: {exc}") from None
        raise


def ensure(ims: ImageStore, ref: str, policy: str | None = "missing",
           opts: PullOptions | None = None) -> dict[str, Any]:
    """The image ``ref`` names, pulled first if ``policy`` says so; returns its record."""
    from .errors import RegistryError
    from .pull import PullOptions, pull, remote_digest

    policy = normalize(policy)
    try:
        local: dict[str, Any] | None = ims.resolve(ref)
    except ImageNotFound:
        local = None
    if policy == "never":
        if local is None:
            raise ImageNotFound(f"{ref}: image not known (pull policy is never)")
        return local
    if policy == "missing":
        if local is not None:
            return local
        check_pullable(ref)
    opts = opts or PullOptions()
    if policy == "newer" and local is not None:
        try:
            if remote_digest(ref, opts) == local["digest"]:
                return local
        except (RegistryError, ConfigError):
            return local
    try:
        return pull(ims, ref, opts)
    except ConfigError as exc:
        if local is None and "short-name" in str(exc):
            raise ImageNotFound(f"{ref}: image not known, and not pulled: {exc}") from None
        raise
