"""Image references for registries: ``[host[:port]/]path[:tag][@digest]`` into its parts.

The grammar and its checks are the image store's (``images.normalize_name``);
this module only adds what talking to a registry needs: which host serves a
domain (``docker.io`` is ``registry-1.docker.io``), the repository path in the
API's URLs, and the tag-or-digest a manifest request names.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..images import normalize_name, split_name

DOCKER_IO = "docker.io"
DOCKER_API_HOST = "registry-1.docker.io"


@dataclass(frozen=True)
class Reference:
    """A fully qualified reference: ``domain/path`` plus a tag, a digest or both."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repo(self) -> str:
        """``domain/path``: the name without tag or digest (auth keys, store names)."""
        return f"{self.domain}/{self.path}"

    @property
    def api_host(self) -> str:
        return DOCKER_API_HOST if self.domain == DOCKER_IO else self.domain

    @property
    def manifest_ref(self) -> str:
        """What ``/v2/<path>/manifests/<ref>`` names: the digest when there is one."""
        return self.digest or self.tag or "latest"

    def with_domain(self, domain: str, path: str | None = None) -> "Reference":
        return Reference(domain, self.path if path is None else path, self.tag, self.digest)

    def __str__(self) -> str:
        return (self.repo + (f":{self.tag}" if self.tag else "")
                + (f"@{self.digest}" if self.digest else ""))


def is_short_name(ref: str) -> bool:
    """True when ``ref`` names no registry (``busybox``, ``library/busybox:1``)."""
    return split_name(ref.strip())[0] is None


def parse(ref: str) -> Reference:
    """A qualified reference (it names a registry) into a Reference; ConfigError otherwise."""
    ref = ref.strip()
    if ref.startswith("docker://"):
        ref = ref[len("docker://"):]
    if is_short_name(ref):
        raise ConfigError(f"{ref}: not a fully qualified reference (it names no registry)")
    full = normalize_name(ref)
    domain, path, tag, digest = split_name(full)
    assert domain is not None
    return Reference(domain, path, tag, digest)


def qualify(ref: str, registry: str) -> Reference:
    """A short name placed on ``registry`` (``busybox`` on docker.io is ``library/busybox``)."""
    return parse(f"{registry.rstrip('/')}/{ref.strip()}")
