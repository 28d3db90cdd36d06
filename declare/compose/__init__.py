"""Compose files -> a normalized project model (import name ``podium.declare.compose``).

The public entry point is ``load_project``; the models are in ``model``. Names
are resolved lazily so that importing this package costs nothing until a
compose command actually loads a project (pydantic, jsonschema and ruamel.yaml
stay out of ``podium ps``).

    from podium.declare.compose import load_project
    project = load_project(["compose.yaml"], profiles=["debug"])
    project.services["web"].ports[0].published
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_project", "Project", "Service", "normalize_project_name"]

_LAZY = {
    "load_project": ("load", "load_project"),
    "Project": ("model", "Project"),
    "Service": ("model", "Service"),
    "normalize_project_name": ("discover", "normalize_project_name"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value
