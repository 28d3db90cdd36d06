"""Registry failures, as members of podium's one exception tree.

    PodiumError
    └── RegistryError (125, 502)   a registry could not be reached or answered wrongly
        ├── AuthError (125, 401)   credentials missing or refused
        ├── ManifestUnknown (125, 404)  the registry has no such name, tag or digest
        └── DigestMismatch (125, 502)   content did not hash to the digest that named it

httpx's errors are translated into these where the client catches them, so a
front door never sees a transport exception.
"""

from __future__ import annotations

from ..errors import PodiumError


class RegistryError(PodiumError):
    http_status = 502


class AuthError(RegistryError):
    http_status = 401


class ManifestUnknown(RegistryError):
    http_status = 404


class DigestMismatch(RegistryError):
    pass
