"""Health checks without a daemon (placeholder until the health-check work lands).

``config_from_spec`` turns ``--health-*`` flags and the image's HEALTHCHECK into
the config fragment kept with the container; ``start_checker`` and
``stop_checker`` run next to conmon for a container that has a check.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .engine import Engine
    from .spec import ContainerSpec


def config_from_spec(spec: "ContainerSpec", image_config: dict[str, Any]) -> dict[str, Any]:
    return {"healthcheck": None}


def start_checker(engine: "Engine", c: dict[str, Any]) -> None:
    return None


def stop_checker(engine: "Engine", c: dict[str, Any]) -> None:
    return None
