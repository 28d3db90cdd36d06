"""A compose document checked against the compose specification's JSON Schema.

The schema (``schemas/compose-spec.json``, Draft 7, from the compose-spec
project) is checked first by a validator generated from it ahead of time
(``podium.declare._validators.compose_spec``, scripts/gen_validators.py):
it only says yes or no, but a valid file, the usual case, then never pays the
~100 ms of importing jsonschema. Only a document it rejects is read again by
``jsonschema``, whose verdict is the one that counts and whose raw messages are
turned into one line per problem, each naming ``file:line:column`` and the
field path: ``compose.yaml:7:9: services.web.ports[0]: must be a string or a
number or a mapping, not a list``. For a ``oneOf`` (most short/long syntaxes)
the branch whose type fits the value is the one reported, so a typo inside a
long form says what is wrong there rather than "is not valid under any of the
given schemas".
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from typing import Any

from podium.engine.errors import ConfigError

from .located import SourceFile, fmt_path

MAX_REPORTED = 20

_validator: Any = None


def schema_path() -> str:
    """Where the compose JSON Schema is: package data when installed, the repository's schemas/ otherwise."""
    try:
        from importlib.resources import files

        candidate = files("podium.schemas") / "compose-spec.json"
        if candidate.is_file():
            return str(candidate)
    except (ModuleNotFoundError, TypeError, FileNotFoundError):
        pass
    here = os.path.dirname(os.path.realpath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "schemas", "compose-spec.json")


def validator() -> Any:
    global _validator
    if _validator is None:
        from jsonschema import Draft7Validator

        with open(schema_path(), encoding="utf-8") as f:
            schema = json.load(f)
        _validator = Draft7Validator(schema)
    return _validator


_TYPE_WORDS = {
    "string": "a string", "boolean": "a boolean", "number": "a number", "integer": "an integer",
    "array": "a list", "object": "a mapping", "null": "null",
}


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _types(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _join(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _is_root_type_error(err: Any, parent: Any) -> bool:
    return err.validator == "type" and list(err.absolute_path) == list(parent.absolute_path)


def _describe(err: Any) -> list[tuple[tuple, str]]:
    """(path, message) pairs for one jsonschema error."""
    path = tuple(err.absolute_path)
    v = err.validator
    if v in ("oneOf", "anyOf") and err.context:
        branches: dict[Any, list[Any]] = defaultdict(list)
        for sub in err.context:
            branches[sub.relative_schema_path[0]].append(sub)
        fitting = [errs for errs in branches.values() if not any(_is_root_type_error(e, err) for e in errs)]
        if fitting:
            errs = fitting[0]
            deepest = max(errs, key=lambda e: len(e.absolute_path))
            return _describe(deepest)
        expected: list[str] = []
        for errs in branches.values():
            for e in errs:
                if e.validator == "type":
                    expected += [_TYPE_WORDS.get(t, t) for t in _types(e.validator_value)]
        return [(path, f"must be {_join(expected)}, not {_what(err.instance)}")]
    if v == "type":
        expected = [_TYPE_WORDS.get(t, t) for t in _types(err.validator_value)]
        return [(path, f"must be {_join(expected)}, not {_what(err.instance)}")]
    if v == "additionalProperties" and isinstance(err.instance, dict):
        schema = err.schema
        props = schema.get("properties", {})
        patterns = list(schema.get("patternProperties", {}))
        out = []
        for key in err.instance:
            if key in props or any(re.search(p, key) for p in patterns):
                continue
            if props:
                out.append((path + (key,), f"unknown attribute {key!r} (not in the compose specification)"))
            else:
                pattern = ", ".join(p for p in patterns if p != "^x-")
                out.append((path + (key,), f"invalid name {key!r} (must match {pattern})"))
        return out or [(path, err.message)]
    if v == "required":
        missing = [r for r in err.validator_value if isinstance(err.instance, dict) and r not in err.instance]
        return [(path, f"missing required attribute {_join([repr(m) for m in missing])}")]
    if v == "enum":
        allowed = ", ".join(str(x) for x in err.validator_value)
        return [(path, f"must be one of {allowed}, not {err.instance!r}")]
    if v == "uniqueItems":
        return [(path, "contains duplicate entries")]
    if v == "pattern":
        return [(path, f"invalid value {err.instance!r} (must match {err.validator_value})")]
    if v == "minimum":
        return [(path, f"must be at least {err.validator_value}, not {err.instance!r}")]
    if v == "maximum":
        return [(path, f"must be at most {err.validator_value}, not {err.instance!r}")]
    return [(path, err.message)]


def problems(doc: Any, source: SourceFile) -> list[ConfigError]:
    """Every schema violation in ``doc`` as a located ``ConfigError``, in file order."""
    from podium.declare._validators import accepts

    if accepts("compose_spec", doc):
        return []
    found: list[tuple[tuple[int, int], str, ConfigError]] = []
    seen: set[tuple[tuple, str]] = set()
    for err in validator().iter_errors(doc):
        for path, message in _describe(err):
            if (path, message) in seen:
                continue
            seen.add((path, message))
            pos = source.position(path) or (0, 0)
            exc = source.error(message, path)
            exc.reason = message  # type: ignore[attr-defined]
            found.append((pos, fmt_path(path), exc))
    found.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in found]


def check(doc: Any, source: SourceFile) -> None:
    """Raise one ``ConfigError`` for the first problem; its message lists every problem, one per line."""
    errs = problems(doc, source)
    if not errs:
        return
    first = errs[0]
    lines = [first.reason] + [e.message for e in errs[1:MAX_REPORTED]]  # type: ignore[attr-defined]
    if len(errs) > MAX_REPORTED:
        lines.append(f"... and {len(errs) - MAX_REPORTED} more problems")
    exc = ConfigError("\n".join(lines), where=first.where, field=first.field)
    exc.errors = errs  # type: ignore[attr-defined]
    raise exc
