#!/usr/bin/env python3
"""Regenerate declare/_validators/ from the JSON Schemas in schemas/.

Why: importing jsonschema (with referencing, attrs, rpds) costs ~100 ms per
``compose``/``kube`` invocation, only to learn that a document is valid, which
it nearly always is. fastjsonschema turns each schema into plain Python ahead
of time; podium runs that code first and calls jsonschema only to word the
errors of a document it rejected (declare/compose/validate.py,
declare/kube/schema.py).

What it writes, one module per schema, each headed by the sha256 of every
schema file it was made from (tests/unit/test_compiled_validators.py fails
when a schema changes and its module was not regenerated):

- ``compose_spec.py`` from ``schemas/compose-spec.json`` (Draft 7, as is);
- ``kube_<Kind>.py`` from ``schemas/kube/<Kind>.json`` (Draft 2020-12) bundled
  with ``defs.json``: fastjsonschema implements Draft 7 only and its resolver
  cannot join a fragment onto a ``urn:`` base, so every document reached by a
  ``$ref`` is embedded under ``$defs`` and the refs rewritten to local
  pointers (recursion stays a ref), and a 2020-12 ``$ref`` with sibling
  keywords becomes an ``allOf`` (Draft 7 would ignore the siblings).

Every keyword met is checked against the set whose meaning is the same in
fastjsonschema's Draft 7 code and in jsonschema for the schema's own draft;
any other keyword stops the generation rather than yield a validator that
accepts what jsonschema rejects. ``format`` is only an annotation in both
(jsonschema runs without a FormatChecker, fastjsonschema with
``use_formats=False``), defaults are never written into the document
(``use_default=False``), and a ``pattern`` is compiled as written (Python's
``$``, as jsonschema's ``re.search`` reads it, not fastjsonschema's ``\\Z``).

The generated code does not import fastjsonschema (its import costs ~25 ms,
mostly urllib.request): its two exception classes come from the package.

Usage: .venv/bin/python scripts/gen_validators.py [--check]
(``--check`` writes nothing and exits 1 if any module is out of date).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
OUT = REPO / "declare" / "_validators"

DRAFT7 = "draft-07"
DRAFT2020 = "draft/2020-12"

# Keywords that validate the same way in fastjsonschema's Draft 7 generator and in
# jsonschema's validator for the draft named (for 2020-12: after the rewrites above).
_COMMON = {
    "type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "minLength", "maxLength", "pattern",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    "uniqueItems", "items", "minProperties", "maxProperties", "required", "properties",
    "patternProperties", "additionalProperties", "propertyNames", "contains", "if", "then", "else",
    "$ref",
}
VALIDATING = {DRAFT7: _COMMON | {"dependencies", "additionalItems"}, DRAFT2020: _COMMON}
ANNOTATIONS = {"$schema", "$id", "$defs", "definitions", "$comment", "title", "description", "default",
               "examples", "deprecated", "readOnly", "writeOnly", "format"}

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_ONE = ("additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
               "propertyNames")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


class GenerationError(Exception):
    pass


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def draft_of(schema: dict[str, Any], where: str) -> str:
    uri = schema.get("$schema", "")
    for draft in (DRAFT7, DRAFT2020):
        if draft in uri:
            return draft
    raise GenerationError(f"{where}: unsupported $schema {uri!r} (Draft 7 or 2020-12 only)")


def subschemas(node: dict[str, Any]) -> list[tuple[str, Any]]:
    """(keyword path, subschema) for every schema directly inside ``node``."""
    out: list[tuple[str, Any]] = []
    for key in _SCHEMA_MAPS:
        for name, sub in (node.get(key) or {}).items():
            out.append((f"{key}/{name}", sub))
    for key in _SCHEMA_ONE:
        if key in node:
            out.append((key, node[key]))
    for key in _SCHEMA_LISTS:
        for i, sub in enumerate(node.get(key) or []):
            out.append((f"{key}/{i}", sub))
    items = node.get("items")
    if isinstance(items, list):
        out += [(f"items/{i}", sub) for i, sub in enumerate(items)]
    elif items is not None:
        out.append(("items", items))
    for name, dep in (node.get("dependencies") or {}).items():
        if isinstance(dep, dict):
            out.append((f"dependencies/{name}", dep))
    return out


def audit(schema: Any, draft: str, where: str, *, root: bool = True) -> None:
    """Refuse any keyword whose meaning the generated code would not reproduce exactly."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise GenerationError(f"{where}: a schema must be an object or a boolean")
    for key in schema:
        if key in VALIDATING[draft] or key in ANNOTATIONS or key.startswith("x-"):
            continue
        raise GenerationError(f"{where}: keyword {key!r} is not handled the same way by fastjsonschema "
                              f"(Draft 7) and jsonschema ({draft}); extend scripts/gen_validators.py")
    if "$id" in schema and not root:
        raise GenerationError(f"{where}: a nested $id is not supported")
    if draft == DRAFT2020 and isinstance(schema.get("items"), list):
        raise GenerationError(f"{where}: 'items' as a list means something else in 2020-12")
    if "$ref" in schema and not isinstance(schema["$ref"], str):
        raise GenerationError(f"{where}: $ref must be a string")
    for path, sub in subschemas(schema):
        audit(sub, draft, f"{where}/{path}", root=False)


def _split_ref(ref: str, base: str) -> tuple[str, str]:
    """(document id, JSON pointer) of a ``$ref`` met in the document ``base``."""
    doc, _, frag = ref.partition("#")
    if frag and not frag.startswith("/"):
        raise GenerationError(f"$ref {ref!r}: only JSON-pointer fragments are supported")
    return (doc or base), frag


def bundle(root_id: str, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One self-contained 2020-12 schema: every document the root refers to embedded under $defs."""
    embedded: dict[str, str] = {}  # document id -> pointer of its copy inside the bundle
    out = copy.deepcopy(documents[root_id])
    out.pop("$id", None)
    defs = out.setdefault("$defs", {})
    pending: list[tuple[Any, str]] = [(out, root_id)]

    def local(doc_id: str) -> str:
        if doc_id == root_id:
            return ""
        if doc_id not in documents:
            raise GenerationError(f"$ref to unknown document {doc_id!r} (from {root_id})")
        if doc_id not in embedded:
            slot = "bundled:" + doc_id.rsplit(":", 1)[-1]
            if slot in defs:
                raise GenerationError(f"{root_id}: $defs already has {slot!r}")
            body = copy.deepcopy(documents[doc_id])
            body.pop("$id", None)
            body.pop("$schema", None)
            defs[slot] = body
            embedded[doc_id] = "/$defs/" + slot
            pending.append((body, doc_id))
        return embedded[doc_id]

    def rewrite(node: Any, doc_id: str) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            target_doc, pointer = _split_ref(node["$ref"], doc_id)
            node["$ref"] = "#" + local(target_doc) + pointer
            siblings = {k: node.pop(k) for k in list(node) if k != "$ref"}
            if siblings:  # 2020-12 applies a $ref's siblings too; Draft 7 code would drop them
                ref = node.pop("$ref")
                node["allOf"] = [{"$ref": ref}, siblings]
        for _, sub in subschemas(node):
            rewrite(sub, doc_id)

    while pending:
        node, doc_id = pending.pop()
        rewrite(node, doc_id)
    if not defs:
        del out["$defs"]
    return out


def const_as_enum(node: Any) -> None:
    """``const: X`` -> ``enum: [X]`` (the same test in every draft and in both libraries).

    fastjsonschema 2.22 cannot generate ``const`` with ``detailed_exceptions=False``
    (its message template names a field it does not pass: KeyError).
    """
    if not isinstance(node, dict):
        return
    if "const" in node:
        value = node.pop("const")
        node["enum"] = [v for v in node["enum"] if v == value and type(v) is type(value)] if "enum" in node else [value]
    for _, sub in subschemas(node):
        const_as_enum(sub)


def python_patterns(code: str) -> str:
    """Compile every ``pattern`` as written, the way jsonschema's ``re.search`` reads it.

    fastjsonschema turns each unescaped ``$`` into ``\\Z`` (ECMA-262's end of
    input), so ``"web\\n"`` would fail ``^[a-z]+$`` here and pass in jsonschema.
    Rewriting ``REGEX_PATTERNS`` to compile its own keys keeps the verdicts equal.
    """
    tree = ast.parse(code)
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["REGEX_PATTERNS"]:
            assert isinstance(node.value, ast.Dict) and node.end_lineno is not None
            entries = []
            for key, value in zip(node.value.keys, node.value.values):
                if not (isinstance(key, ast.Constant) and isinstance(value, ast.Call) and value.args):
                    raise GenerationError("unexpected REGEX_PATTERNS in fastjsonschema's output")
                flags = [ast.get_source_segment(code, a) or "" for a in value.args[1:]]
                entries.append(f"    {key.value!r}: re.compile({', '.join([repr(key.value)] + flags)}),")
            lines = code.splitlines()
            block = ["REGEX_PATTERNS = {"] + entries + ["}"]
            return "\n".join(lines[:node.lineno - 1] + block + lines[node.end_lineno:]) + "\n"
    return code


def compile_module(schema: dict[str, Any], sources: list[Path]) -> str:
    import fastjsonschema

    schema = copy.deepcopy(schema)
    const_as_enum(schema)
    code = fastjsonschema.compile_to_code(schema, handlers={}, use_default=False, use_formats=False,
                                          detailed_exceptions=False, fast_fail=True)
    line = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException"
    if code.count(line) != 1:
        raise GenerationError("unexpected fastjsonschema output: the exception import is not where expected")
    code = code.replace(line, "from . import JsonSchemaValueException, JsonSchemaValuesException")
    code = python_patterns(code)
    if "fastjsonschema" in code or "urlopen" in code:
        raise GenerationError("the generated code still refers to fastjsonschema or fetches a URI")
    entry = _entry_point(code)
    header = [
        "# Generated by scripts/gen_validators.py: do not edit. Regenerate after changing the schema:",
        "#   .venv/bin/python scripts/gen_validators.py",
        f"# fastjsonschema {fastjsonschema.VERSION}, compile_to_code(use_default=False, use_formats=False,",
        "#   detailed_exceptions=False): accept/reject only; jsonschema words the errors.",
    ]
    header += [f"# schema {p.relative_to(REPO).as_posix()} sha256 {sha256(p)}" for p in sources]
    header += ["# fmt: off", "# ruff: noqa", "# type: ignore", ""]
    footer = ["", "", f"validate = {entry}", ""] if entry != "validate" else [""]
    return "\n".join(header) + code.rstrip("\n") + "\n" + "\n".join(footer)


def _entry_point(code: str) -> str:
    """The name of the function for the schema's root (the first one defined after NoneType)."""
    for line in code.splitlines():
        if line.startswith("def "):
            return line[4:].split("(", 1)[0]
    raise GenerationError("no validation function in the generated code")


def targets() -> dict[str, tuple[dict[str, Any], list[Path]]]:
    """Module name -> (schema to compile, the files it was made from)."""
    out: dict[str, tuple[dict[str, Any], list[Path]]] = {}
    compose = SCHEMAS / "compose-spec.json"
    schema = json.loads(compose.read_text(encoding="utf-8"))
    audit(schema, draft_of(schema, str(compose)), compose.name)
    out["compose_spec"] = (schema, [compose])

    kube_dir = SCHEMAS / "kube"
    docs: dict[str, dict[str, Any]] = {}
    files: dict[str, Path] = {}
    for path in sorted(kube_dir.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if draft_of(doc, str(path)) != DRAFT2020:
            raise GenerationError(f"{path}: the kube schemas are Draft 2020-12")
        audit(doc, DRAFT2020, f"kube/{path.name}")
        docs[doc["$id"]] = doc
        files[doc["$id"]] = path
    for doc_id, path in files.items():
        if path.stem == "defs":
            continue
        bundled = bundle(doc_id, docs)
        used = [files[doc_id]] + [files[d] for d in sorted(docs) if d != doc_id and _embeds(bundled, d)]
        out[f"kube_{path.stem}"] = (bundled, used)
    return out


def _embeds(bundled: dict[str, Any], doc_id: str) -> bool:
    return "bundled:" + doc_id.rsplit(":", 1)[-1] in bundled.get("$defs", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a module is out of date")
    args = parser.parse_args(argv)
    try:
        wanted = {f"{name}.py": compile_module(schema, sources) for name, (schema, sources) in targets().items()}
    except GenerationError as exc:
        print(f"gen_validators: {exc}", file=sys.stderr)
        return 2
    stale = [name for name, text in wanted.items()
             if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text]
    # __init__.py (``accepts``) is written by hand; every other module here is generated
    extra = [p.name for p in OUT.glob("*.py") if p.name not in wanted and p.name != "__init__.py"] \
        if OUT.is_dir() else []
    if args.check:
        for name in stale + extra:
            print(f"gen_validators: declare/_validators/{name} is out of date", file=sys.stderr)
        return 1 if stale or extra else 0
    OUT.mkdir(exist_ok=True)
    for name in stale:
        (OUT / name).write_text(wanted[name], encoding="utf-8")
        print(f"wrote declare/_validators/{name}")
    for name in extra:
        (OUT / name).unlink()
        print(f"removed declare/_validators/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
