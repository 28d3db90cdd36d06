"""YAML text -> plain Python data plus the line/column of every value.

ruamel.yaml composes the node graph (YAML 1.2, so ``no``/``yes``/``on`` stay
strings as in Docker Compose); this module builds plain dicts, lists and
scalars from it itself, so that it can record where each value was written,
expand anchors/aliases and ``<<`` merge keys, refuse duplicate keys, read
``0644`` as octal (as Go's YAML does for compose ``mode:`` fields), and keep the
compose merge tags ``!reset`` and ``!override`` as paths beside the data.

(A shared ``declare/yamlload.py`` did not exist when this was written; if one
appears, this module can become a thin adapter over it.)
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

from podium.engine.errors import ConfigError

from .located import Path, display_name, fmt_path

MAX_NODES = 2_000_000  # alias expansion guard ("billion laughs")

_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class Document:
    """One YAML document: data, positions (path -> (line, col), 1-based) and merge tags."""

    data: Any
    positions: dict[Path, tuple[int, int]]
    resets: list[Path] = field(default_factory=list)
    overrides: list[Path] = field(default_factory=list)


def _tag(node: Any) -> str:
    t = node.tag
    if isinstance(t, str):
        return t
    return str(getattr(t, "value", t))


def _int(text: str) -> int:
    s = text.replace("_", "")
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    low = s.lower()
    if low.startswith("0x"):
        return sign * int(low[2:], 16)
    if low.startswith("0o"):
        return sign * int(low[2:], 8)
    if low.startswith("0b"):
        return sign * int(low[2:], 2)
    if len(s) > 1 and s.startswith("0") and s.isdigit() and all(c in "01234567" for c in s):
        return sign * int(s, 8)
    return sign * int(s, 10)


def _float(text: str) -> float:
    low = text.lower().replace("_", "")
    if low in (".inf", "+.inf"):
        return math.inf
    if low == "-.inf":
        return -math.inf
    if low == ".nan":
        return math.nan
    return float(low)


class _Builder:
    def __init__(self, display: str) -> None:
        self.display = display
        self.positions: dict[Path, tuple[int, int]] = {}
        self.resets: list[Path] = []
        self.overrides: list[Path] = []
        self.active: set[int] = set()
        self.count = 0

    def fail(self, message: str, node: Any, path: Path) -> ConfigError:
        m = node.start_mark
        return ConfigError(message, where=f"{self.display}:{m.line + 1}:{m.column + 1}", field=fmt_path(path) or None)

    def mark(self, path: Path, node: Any) -> None:
        m = node.start_mark
        self.positions.setdefault(path, (m.line + 1, m.column + 1))

    def build(self, node: Any, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail("document expands to too many nodes (alias bomb?)", node, path)
        tag = _tag(node)
        if tag == "!override":
            self.overrides.append(path)
        kind = node.id
        if kind == "scalar":
            return self._scalar(node, tag)
        if id(node) in self.active:
            raise self.fail("recursive alias: a node contains itself", node, path)
        self.active.add(id(node))
        try:
            if kind == "sequence":
                return self._sequence(node, path)
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: Any, tag: str) -> Any:
        v = node.value
        if tag.endswith(":null"):
            return None
        if tag.endswith(":bool"):
            return v.lower() == "true"
        if tag.endswith(":int"):
            try:
                return _int(v)
            except ValueError:
                return v
        if tag.endswith(":float"):
            try:
                return _float(v)
            except ValueError:
                return v
        return v

    def _sequence(self, node: Any, path: Path) -> list:
        out = []
        for item in node.value:
            p = path + (len(out),)
            if _tag(item) == "!reset":
                continue
            self.mark(p, item)
            out.append(self.build(item, p))
        return out

    def _mapping(self, node: Any, path: Path) -> dict:
        out: dict[str, Any] = {}
        seen: dict[str, Any] = {}
        merges: list[Any] = []
        for knode, vnode in node.value:
            if knode.id != "scalar":
                raise self.fail("mapping keys must be plain scalars", knode, path)
            if _tag(knode) == _MERGE:
                merges.append(vnode)
                continue
            key = str(knode.value)
            p = path + (key,)
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise self.fail(f"duplicate key {key!r} (first defined on line {first})", knode, p)
            seen[key] = knode
            if _tag(vnode) == "!reset":
                self.resets.append(p)
                self.mark(p, knode)
                continue
            self.mark(p, knode)
            out[key] = self.build(vnode, p)
        for mnode in merges:
            sources = mnode.value if mnode.id == "sequence" else [mnode]
            for src in sources:
                if src.id != "mapping":
                    raise self.fail("a merge key '<<' takes a mapping or a list of mappings", src, path)
                merged = self._mapping(src, path)
                for k, v in merged.items():
                    if k not in out:
                        out[k] = v
        return out


def load_documents(text: str, filename: str, *, cwd: str | None = None) -> list[Document]:
    """Parse every document of a YAML stream; empty documents are skipped.

    Errors name the file relative to ``cwd`` (the current directory by default).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    docs: list[Document] = []
    try:
        nodes = list(yaml.compose_all(io.StringIO(text)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = display_name(filename, cwd)
        if mark is not None:
            where += f":{mark.line + 1}:{mark.column + 1}"
        problem = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ConfigError(f"invalid YAML: {problem or exc}", where=where) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=display_name(filename, cwd)) from None
    for node in nodes:
        if node is None or (node.id == "scalar" and _tag(node).endswith(":null")):
            continue  # an empty document
        b = _Builder(display_name(filename, cwd))
        b.mark((), node)
        data = b.build(node, ())
        docs.append(Document(data=data, positions=b.positions, resets=b.resets, overrides=b.overrides))
    return docs
