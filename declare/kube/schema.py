"""Kubernetes documents checked against the JSON Schemas in schemas/kube/.

Two questions are asked of each document, both answered from the same schema:

- ``check(doc)``: is every value of the right type and shape? The first
  violation becomes a ``ConfigError`` naming ``file:line:column`` and the field
  path (``spec.containers[1].ports[0].containerPort: expected integer``).
- ``unsupported(doc)``: which fields does podium not know? The schemas list
  the subset podium maps (and, marked ``x-podium-ignored``, fields it accepts
  and deliberately ignores); any other field is reported by path so that
  ``--validate=warn`` can name it and ``--validate=strict`` can refuse it.

The schemas ship as package data (``podium.schemas``: ``kube/*.json``). For
``check`` they also ship compiled ahead of time (``podium.declare._validators``,
``kube_<Kind>``, made by scripts/gen_validators.py): a valid document, the usual
case, is accepted without importing jsonschema (~100 ms); jsonschema reads only
the documents the compiled code rejects, to find and word the first problem,
and if it finds none the document is accepted.
"""

from __future__ import annotations

import json
from functools import lru_cache

from podium.engine.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from podium.declare.yamlload import Document

KINDS = {
    "Pod": "v1", "ConfigMap": "v1", "Secret": "v1", "PersistentVolumeClaim": "v1", "Service": "v1",
    "Deployment": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1",
}
DEFS_ID = "urn:podium:kube:defs"


def _schema_dir() -> Any:
    """Package data (``podium.schemas``) when installed, the repository's schemas/ otherwise."""
    try:
        from importlib.resources import files
        candidate = files("podium.schemas").joinpath("kube")
        if candidate.joinpath("defs.json").is_file():
            return candidate
    except (ModuleNotFoundError, TypeError, FileNotFoundError):
        pass
    from pathlib import Path
    return Path(__file__).resolve().parent.parent.parent / "schemas" / "kube"


@lru_cache(maxsize=None)
def _raw(name: str) -> dict[str, Any]:
    try:
        return json.loads(_schema_dir().joinpath(f"{name}.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"podium's schema for {name} is missing: the installation is broken") from None


@lru_cache(maxsize=None)
def _registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = [(DEFS_ID, Resource.from_contents(_raw("defs"), default_specification=DRAFT202012))]
    resources += [(f"urn:podium:kube:{k}", Resource.from_contents(_raw(k), default_specification=DRAFT202012))
                  for k in KINDS]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator
    return Draft202012Validator(_raw(kind), registry=_registry())


def schema_for(kind: str) -> dict[str, Any]:
    return _raw(kind)


# ---- type and shape ---------------------------------------------------------------------

_JSON_TYPES = {"integer": "integer", "string": "string", "boolean": "boolean", "object": "mapping",
               "array": "list", "number": "number", "null": "null"}


def _message(err: Any) -> tuple[tuple[Any, ...], str]:
    """A jsonschema error -> (path, short message in the user's terms)."""
    path = tuple(err.absolute_path)
    v, val = err.validator, err.validator_value
    if v == "type":
        types = [val] if isinstance(val, str) else list(val)
        got = _describe(err.instance)
        return path, f"expected {' or '.join(_JSON_TYPES.get(t, t) for t in types)}, got {got}"
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else str(val)
        return path, f"missing required field {missing!r}"
    if v == "enum":
        return path, f"unsupported value {err.instance!r}: expected one of {', '.join(repr(x) for x in val)}"
    if v == "const":
        return path, f"unsupported value {err.instance!r}: expected {val!r}"
    if v == "pattern":
        return path, (f"invalid name {err.instance!r}: use lowercase letters, digits and '-'"
                      if "a-z0-9" in str(val) else f"invalid value {err.instance!r}")
    if v in ("minimum", "maximum"):
        return path, f"value {err.instance!r} out of range ({v} {val})"
    if v == "minItems":
        return path, f"needs at least {val} item{'s' if val != 1 else ''}"
    if v == "maxLength":
        return path, f"{err.instance!r} is longer than {val} characters"
    return path, err.message


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def check(doc: "Document", kind: str) -> None:
    """Raise the first schema violation of ``doc`` (in document order) as a located error."""
    from podium.declare._validators import accepts

    if accepts(f"kube_{kind}", doc.data):
        return
    errors = list(_validator(kind).iter_errors(doc.data))
    if not errors:
        return
    # the most specific error first: the deepest, then the earliest in the file
    def key(e: Any) -> tuple[int, int, int]:
        p = tuple(e.absolute_path)
        line, col = doc.position(p)
        return (line, col, -len(p))
    err = min(errors, key=key)
    path, msg = _message(err)
    raise doc.error(path, msg)


# ---- unsupported fields -----------------------------------------------------------------

def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        base, _, frag = ref.partition("#")
        target = _raw("defs") if base in ("", DEFS_ID) else _raw(base.rsplit(":", 1)[-1])
        for part in frag.strip("/").split("/") if frag else []:
            target = target[part]
        schema = target
    return schema


def _properties(schema: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """(properties, additionalProperties) of a schema, through $ref and allOf."""
    schema = _resolve(schema)
    props: dict[str, Any] = dict(schema.get("properties") or {})
    extra = schema.get("additionalProperties")
    for sub in schema.get("allOf") or []:
        p, e = _properties(sub)
        props.update(p)
        extra = extra if extra is not None else e
    return props, extra


def unsupported(doc: "Document", kind: str) -> list[tuple[tuple[Any, ...], str]]:
    """Paths of the fields podium does not know, with a note, in document order."""
    return list(_walk(doc.data, _raw(kind), ()))


def _walk(data: Any, schema: dict[str, Any], path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    schema = _resolve(schema)
    if schema.get("x-podium-ignored"):
        return
    if isinstance(data, dict):
        props, extra = _properties(schema)
        if not props and extra is None:
            return  # a free-form object
        for k, v in data.items():
            if k in props:
                yield from _walk(v, props[k], path + (k,))
            elif isinstance(extra, dict):
                yield from _walk(v, extra, path + (k,))
            else:
                yield path + (k,), "unsupported field"
    elif isinstance(data, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(data):
                yield from _walk(v, items, path + (i,))
