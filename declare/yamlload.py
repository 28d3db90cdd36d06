"""YAML text -> plain Python documents that remember where each value was written.

Kubernetes YAML and compose files both load through here: ruamel.yaml's
round-trip loader keeps a line and column for every mapping key, mapping value
and sequence item, and ``Document.where(path)`` turns a field path such as
``("spec", "containers", 1, "ports", 0, "containerPort")`` into
``pod.yaml:12:9`` (1-based, as editors count). The data itself is converted to
plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` so that
schema validation and models never see ruamel's types.

YAML 1.1 is used, as Kubernetes' own loader (go-yaml v2 via sigs.k8s.io/yaml)
does: ``defaultMode: 0644`` is octal 420 and ``yes``/``no`` are booleans.
Syntax errors and duplicate keys become one ``ConfigError`` with the position.

ruamel.yaml is imported inside the functions: this module is only loaded on
the declarative code paths, never by ``podium ps``.
"""

from __future__ import annotations

from podium.engine.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

Path = tuple  # of str (mapping keys) and int (sequence indexes)


def format_path(path: "Iterable[str | int]") -> str:
    """``("spec", "containers", 1, "image")`` -> ``spec.containers[1].image``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += "." + str(part)
        else:
            out = str(part)
    return out


class Document:
    """One YAML document: its plain data, the file it came from and its positions."""

    def __init__(self, data: Any, *, source: str, index: int, node: Any, line: int, column: int) -> None:
        self.data = data
        self.source = source      # file name as the user gave it, or "<stdin>"
        self.index = index        # 0-based position among the file's non-empty documents
        self._node = node         # ruamel's node tree, kept for positions only
        self._start = (line, column)

    def position(self, path: "Iterable[str | int]", *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path``, or of its nearest existing parent.

        ``key=True`` points at the last mapping key instead of its value (for a field that
        should not be there at all)."""
        node = self._node
        line, col = self._start
        path = tuple(path)
        for n, part in enumerate(path):
            lc = getattr(node, "lc", None)
            try:
                if isinstance(part, int):
                    if lc is None or not isinstance(node, list) or part >= len(node):
                        break
                    line, col = lc.item(part)
                else:
                    if lc is None or not isinstance(node, dict) or part not in node:
                        break
                    child = node[part]
                    # a non-empty mapping or list: where its key is; a scalar: where its value is
                    line, col = lc.key(part) if (isinstance(child, (dict, list)) and child) or \
                        (key and n == len(path) - 1) else lc.value(part)
                node = node[part]
            except (KeyError, IndexError, TypeError, AttributeError):
                break
        return line + 1, col + 1

    def where(self, path: "Iterable[str | int]" = (), *, key: bool = False) -> str:
        line, col = self.position(path, key=key)
        return f"{self.source}:{line}:{col}"

    def error(self, path: "Iterable[str | int]", message: str, *, key: bool = False) -> ConfigError:
        path = tuple(path)
        return ConfigError(message, where=self.where(path, key=key), field=format_path(path) or None)


def to_plain(node: Any) -> Any:
    """ruamel's round-trip types -> plain Python values."""
    if isinstance(node, dict):
        return {_key(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return bool(node) if type(node).__name__ == "ScalarBoolean" else int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if hasattr(node, "isoformat"):  # YAML timestamps
        return node.isoformat()
    return node


def _key(k: Any) -> str:
    """Mapping keys become strings, as in the JSON Kubernetes converts YAML to."""
    if isinstance(k, bool):
        return "true" if k else "false"
    return k if isinstance(k, str) else str(to_plain(k))


def _loader() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.resolver import VersionedResolver

    class Yaml11Resolver(VersionedResolver):
        """YAML 1.1 for every document of a stream (``YAML.version`` holds for the first only)."""

        @property
        def processing_version(self) -> Any:
            return (1, 1)

    y = YAML(typ="rt")
    y.Resolver = Yaml11Resolver
    y.allow_duplicate_keys = False
    return y


def load_documents(text: str, source: str) -> list[Document]:
    """Every non-empty document of ``text``; a syntax error raises a located ConfigError."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    docs: list[Document] = []
    try:
        for node in _loader().load_all(text):
            if node is None:
                continue
            lc = getattr(node, "lc", None)
            line = getattr(lc, "line", 0) or 0
            col = getattr(lc, "col", 0) or 0
            docs.append(Document(to_plain(node), source=source, index=len(docs), node=node,
                                 line=line, column=col))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(problem) or "found duplicate key" in str(exc):
            problem = str(problem).split("\n")[0]
        raise ConfigError(f"invalid YAML: {' '.join(str(problem).split())}", where=where) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())}", where=source) from None
    return docs


def load_file(path: str, *, stdin: Any = None) -> list[Document]:
    """Documents of one file, ``-`` meaning standard input."""
    if path == "-":
        import sys
        stream = stdin if stdin is not None else sys.stdin
        return load_documents(stream.read(), "<stdin>")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return load_documents(text, path)


def load_paths(paths: "Iterable[str]", *, suffixes: tuple[str, ...] = (".yaml", ".yml", ".json"),
               stdin: Any = None) -> list[Document]:
    """Files, directories (their YAML files, sorted by name, not recursive) and ``-``."""
    import os

    docs: list[Document] = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            names = sorted(n for n in os.listdir(p) if n.endswith(suffixes))
            if not names:
                raise ConfigError(f"{p}: directory holds no {'/'.join(suffixes)} files")
            for n in names:
                docs += load_file(os.path.join(p, n))
        else:
            docs += load_file(p, stdin=stdin)
    return docs
