"""podium's embedded engine (import name ``podium.engine``): the one API every front door calls.

``Engine`` is the facade (containers, images, pods, volumes, networks of one
storage root); ``ContainerSpec`` the neutral spec every input converges on;
the errors are the one exception tree. Attributes load on first use so that
importing the package costs nothing on the CLI's hot path.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists", "ArchiveError", "CannotInvoke", "CommandNotFound", "ConfigError",
    "ContainerSpec", "Engine", "ImageNotFound", "InUse", "InvalidState", "NotFound",
    "PodiumError", "RuntimeFailure", "StoreError",
]


def __getattr__(name: str) -> object:
    if name == "Engine":
        from .engine import Engine
        return Engine
    if name == "ContainerSpec":
        from .spec import ContainerSpec
        return ContainerSpec
    if name in __all__:
        from . import errors
        return getattr(errors, name)
    raise AttributeError(f"module 'podium.engine' has no attribute {name!r}")
