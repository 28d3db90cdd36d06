"""A compose project in outline: what commands on existing containers need of it.

``down``, ``ps``, ``stop``, ``logs`` and the like act on the containers that
carry the project's labels; of the file they need only the project's name, the
services it defines (to tell orphans) and the order to stop them in. Building the
full pydantic ``Project`` for that cost more than the rest of such a command, so
they get this instead, from the same checked and merged document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutlineService:
    name: str
    depends_on: dict[str, Any] = field(default_factory=dict)
    network_mode: str | None = None


@dataclass
class Outline:
    name: str
    working_dir: str
    services: dict[str, OutlineService]
    disabled_services: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def outline(merged: dict[str, Any], *, name: str, working_dir: str, warnings: list[str]) -> Outline:
    """Every service of the merged document, whatever its profiles: a service of an
    inactive profile is still the project's, never an orphan."""
    services = {}
    for svc_name, svc in (merged.get("services") or {}).items():
        svc = svc if isinstance(svc, dict) else {}
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {} for d in deps}
        mode = svc.get("network_mode")
        services[svc_name] = OutlineService(svc_name, dict(deps), mode if isinstance(mode, str) else None)
    return Outline(name=name, working_dir=working_dir, services=services, warnings=list(warnings))
