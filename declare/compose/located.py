"""Where a value came from: field paths, source files with positions, located errors.

A *path* is a tuple of mapping keys (str) and sequence indices (int) from the
root of a compose document, printed the way users read it:
``("services", "web", "ports", 0)`` -> ``services.web.ports[0]``.

Every loaded file keeps a table ``path -> (line, column)`` (1-based), so any
stage of the pipeline can turn a bad value into a ``ConfigError`` that names
``file:line:column`` and the field path. After files are merged, a ``Locator``
finds the file that last defined a path (override files win, as in the merge).
"""

from __future__ import annotations

import os
from typing import Iterable

from podium.engine.errors import ConfigError

Path = tuple  # tuple[str | int, ...]


def fmt_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def display_name(filename: str, cwd: str | None = None) -> str:
    """A file name as users want to read it: relative to the working directory when under it."""
    if filename in ("-", "<stdin>"):
        return "<stdin>"
    try:
        rel = os.path.relpath(filename, cwd or os.getcwd())
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


class SourceFile:
    """One parsed document: its file name and the position of every path in it."""

    __slots__ = ("filename", "display", "positions", "doc_index")

    def __init__(self, filename: str, positions: dict[Path, tuple[int, int]], *, doc_index: int = 0,
                 cwd: str | None = None) -> None:
        self.filename = filename
        self.display = display_name(filename, cwd)
        self.positions = positions
        self.doc_index = doc_index

    def where(self, path: Path) -> str:
        """``file:line:col`` of the nearest located prefix of ``path`` (the file alone if none)."""
        pos = self.position(path)
        if pos is None:
            return self.display
        return f"{self.display}:{pos[0]}:{pos[1]}"

    def position(self, path: Path) -> tuple[int, int] | None:
        p = tuple(path)
        while True:
            pos = self.positions.get(p)
            if pos is not None:
                return pos
            if not p:
                return None
            p = p[:-1]

    def depth_known(self, path: Path) -> int:
        """How many leading parts of ``path`` this file defines (-1: not even the root)."""
        p = tuple(path)
        while p:
            if p in self.positions:
                return len(p)
            p = p[:-1]
        return 0 if () in self.positions else -1

    def error(self, message: str, path: Path) -> ConfigError:
        return ConfigError(message, where=self.where(path), field=fmt_path(path) or None)


class Locator:
    """Finds, after a merge, the file that defined a path last; maps extended services back to their base."""

    def __init__(self) -> None:
        self.sources: list[SourceFile] = []
        # ("services", name) -> [(source, ("services", base_name)), ...] for extends
        self.aliases: dict[Path, list[tuple[SourceFile, Path]]] = {}

    def add(self, source: SourceFile) -> None:
        self.sources.append(source)

    def alias(self, prefix: Path, source: SourceFile, target: Path) -> None:
        self.aliases.setdefault(tuple(prefix), []).append((source, tuple(target)))

    def where(self, path: Path, *, upto: int | None = None) -> str | None:
        """``file:line:col`` of ``path`` in the last file defining most of it (among the first ``upto`` files)."""
        path = tuple(path)
        best: tuple[int, SourceFile, Path] | None = None
        candidates: list[tuple[SourceFile, Path]] = [(s, path) for s in self.sources[:upto]]
        for prefix, targets in self.aliases.items():
            if path[: len(prefix)] == prefix:
                candidates += [(src, target + path[len(prefix):]) for src, target in targets]
        for source, p in reversed(candidates):
            depth = source.depth_known(p)
            if depth > 0 and (best is None or depth > best[0]):
                best = (depth, source, p)
        if best is None:
            return self.sources[0].display if self.sources else None
        return best[1].where(best[2])

    def error(self, message: str, path: Path) -> ConfigError:
        return ConfigError(message, where=self.where(path), field=fmt_path(path) or None)
