"""``.containerignore`` / ``.dockerignore`` -> which context paths a build may read.

Docker's rules (moby/patternmatcher): one pattern per line, ``#`` lines are
comments, blanks are trimmed, each pattern is cleaned like ``filepath.Clean``
and a leading ``/`` is dropped; ``*`` and ``?`` never match ``/``; ``**`` matches
any number of directories (zero included); ``[...]`` classes and ``\\`` escapes
work as in ``filepath.Match``. A pattern that matches a directory excludes all
below it; a line starting with ``!`` re-includes what matches it; the last
matching line wins. ``.containerignore`` is preferred to ``.dockerignore``
(Podman's order); a ``<Containerfile>.dockerignore`` next to the build file
comes first, as BuildKit reads it.
"""

from __future__ import annotations

import os
import posixpath
import re

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

IGNORE_FILES = (".containerignore", ".dockerignore")


class Pattern:
    def __init__(self, text: str) -> None:
        self.text = text
        self.exclusion = text.startswith("!")
        body = text[1:].strip() if self.exclusion else text
        body = posixpath.normpath(body) if body else body
        if body.startswith("/"):
            body = body.lstrip("/") or "."
        if body in ("", "."):
            self.regex: re.Pattern[str] | None = None
        else:
            self.regex = re.compile(_compile(body))
        self.body = body

    def match(self, path: str) -> bool:
        if self.regex is None:
            return False
        if self.regex.match(path):
            return True
        parts = path.split("/")
        return any(self.regex.match("/".join(parts[:i])) for i in range(1, len(parts)))

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _compile(pattern: str) -> str:
    """patternmatcher's translation of one cleaned pattern into an anchored regex."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    out.append(".*" if out == ["^"] else "(/.*)?")
                else:
                    out.append("(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2 if i + 1 < n and pattern[i + 1] in "!^" else i + 1)
            if end < 0:
                raise ConfigError(f"invalid ignore pattern {pattern!r}: unclosed '['")
            body = pattern[i + 1:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        elif ch == "\\":
            i += 1
            if i < n:
                out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


def parse_patterns(text: str) -> list[Pattern]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == "!":
            raise ConfigError("invalid ignore pattern '!': an exclusion needs a pattern")
        out.append(Pattern(line))
    return out


class Matcher:
    """Decides, for a path relative to the context root, whether it is excluded."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns = list(patterns)
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        path = posixpath.normpath(path).lstrip("/")
        if path in ("", "."):
            return False
        matched = False
        for p in self.patterns:  # the last matching pattern decides
            if p.exclusion != matched:
                continue  # cannot change the outcome (patternmatcher's shortcut)
            if p.match(path):
                matched = not p.exclusion
        return matched

    def may_include_below(self, directory: str) -> bool:
        """Whether an excluded directory could still hold re-included paths (worth walking)."""
        if not self.has_exclusions:
            return False
        directory = posixpath.normpath(directory).lstrip("/")
        for p in self.patterns:
            if not p.exclusion or p.regex is None:
                continue
            if p.body.startswith("**") or p.body.startswith(directory + "/") or \
                    p.match(directory):
                return True
            prefix = re.split(r"[*?\[\\]", p.body, maxsplit=1)[0]
            if prefix.startswith(directory + "/") or (directory + "/").startswith(prefix):
                return True
        return False


def load(context: str, containerfile: str | None = None) -> Matcher:
    """The matcher for a context: ``<containerfile>.containerignore``/``.dockerignore``,
    else the context's ``.containerignore``, else its ``.dockerignore``; none is fine."""
    candidates = []
    if containerfile:
        candidates += [containerfile + ".containerignore", containerfile + ".dockerignore"]
    candidates += [os.path.join(context, f) for f in IGNORE_FILES]
    for c in candidates:
        try:
            with open(c, encoding="utf-8") as f:
                return Matcher(parse_patterns(f.read()))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read {c}: {exc.strerror}") from None
    return Matcher([])
