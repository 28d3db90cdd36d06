"""A container's network, from spec to running namespace and back.

The container layer calls four functions and knows nothing else of networks:

- ``config_from_spec(engine, spec)`` at create: validates ``--network``,
  ``--network-alias``, ``--ip`` and ``-p`` and returns the config fragment
  stored with the container (``network_mode``, ``networks``, ``ports``).
- ``attach(engine, c)`` at start, before the runtime creates the container:
  makes the network namespace and connects it; returns what the OCI config
  and the /etc files need (``netns`` path, ``ip``, ``nameservers``, ``search``).
- ``detach(engine, c)`` when the container stops: tears the namespace down.
- ``release(engine, c)`` when the container is removed: frees its addresses.

Modes: ``none`` (a namespace with only lo), ``host``, ``ns:PATH`` and
``container:ID`` need no set-up here.
"""

from __future__ import annotations

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine import Engine
    from ..spec import ContainerSpec

SIMPLE_MODES = ("none", "host")


def config_from_spec(engine: "Engine", spec: "ContainerSpec") -> dict[str, Any]:
    network = spec.network or "none"
    if spec.ports:
        raise ConfigError("publishing ports (-p) needs a bridge network, which is not supported yet")
    if network in SIMPLE_MODES or network.startswith("ns:") or network.startswith("container:"):
        return {"network_mode": network, "networks": {}, "ports": []}
    raise ConfigError(f"network mode {network!r} is not supported yet: use none, host, container:NAME or ns:PATH")


def attach(engine: "Engine", c: dict[str, Any]) -> dict[str, Any]:
    return {}


def detach(engine: "Engine", c: dict[str, Any]) -> None:
    return None


def release(engine: "Engine", c: dict[str, Any]) -> None:
    return None
