"""Variable interpolation in compose values, as the compose specification defines it.

``substitute(text, lookup)`` turns one string into another:

=====================  ==================================================
``$VAR``, ``${VAR}``   the value; unset -> "" (and a warning)
``${VAR:-default}``    ``default`` when VAR is unset or empty
``${VAR-default}``     ``default`` when VAR is unset
``${VAR:?message}``    error naming VAR and ``message`` when unset or empty
``${VAR?message}``     error when unset
``${VAR:+alt}``        ``alt`` when VAR is set and not empty, else ""
``${VAR+alt}``         ``alt`` when VAR is set, else ""
``$$``                 a literal ``$``
=====================  ==================================================

Defaults, messages and alternatives may nest (``${A:-${B:-x}}``) and are
expanded only when used. Anything else after a ``$`` is an error, as in Docker
Compose ("you may need to escape any $ with another $").

``interpolate_tree`` applies it to every string value of a parsed document
(keys are never interpolated) and raises ``ConfigError`` naming file:line and
the field path.
"""

from __future__ import annotations

from typing import Any, Callable

from .located import Path, SourceFile, fmt_path

Lookup = Callable[[str], "str | None"]


class InterpolationError(ValueError):
    pass


def _name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _name_char(c: str) -> bool:
    return _name_start(c) or ("0" <= c <= "9")


def _closing_brace(s: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start`` (-1 if none)."""
    depth = 1
    i = start
    n = len(s)
    while i < n:
        if s.startswith("${", i):
            depth += 1
            i += 2
            continue
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def substitute(text: str, lookup: Lookup, *, on_unset: Callable[[str], None] | None = None) -> str:
    """Interpolate one string; raises ``InterpolationError`` with a user-facing message."""
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)

    def invalid() -> InterpolationError:
        return InterpolationError(f"invalid interpolation format: {text!r}; you may need to escape any $ with another $")

    while i < n:
        c = text[i]
        if c != "$":
            j = text.find("$", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise invalid()
            body = text[i + 2:end]
            out.append(_braced(body, lookup, on_unset, invalid))
            i = end + 1
            continue
        if _name_start(nxt):
            j = i + 1
            while j < n and _name_char(text[j]):
                j += 1
            name = text[i + 1:j]
            value = lookup(name)
            if value is None:
                if on_unset is not None:
                    on_unset(name)
                value = ""
            out.append(value)
            i = j
            continue
        raise invalid()
    return "".join(out)


def _braced(body: str, lookup: Lookup, on_unset: Callable[[str], None] | None,
            invalid: Callable[[], InterpolationError]) -> str:
    if not body or not _name_start(body[0]):
        raise invalid()
    j = 1
    while j < len(body) and _name_char(body[j]):
        j += 1
    name, rest = body[:j], body[j:]
    value = lookup(name)
    if not rest:
        if value is None:
            if on_unset is not None:
                on_unset(name)
            return ""
        return value
    op = rest[:2] if rest[:2] in (":-", ":?", ":+") else rest[:1]
    if op not in (":-", ":?", ":+", "-", "?", "+"):
        raise invalid()
    arg = rest[len(op):]

    def expand(s: str) -> str:
        return substitute(s, lookup, on_unset=on_unset)

    empty = value is None or (op.startswith(":") and value == "")
    if op in (":-", "-"):
        return expand(arg) if empty else value  # type: ignore[return-value]
    if op in (":?", "?"):
        if empty:
            message = expand(arg)
            tail = f": {message}" if message else ""
            raise InterpolationError(f"required variable {name} is missing a value{tail}")
        return value  # type: ignore[return-value]
    return "" if empty else expand(arg)


def interpolate_tree(data: Any, lookup: Lookup, *, source: SourceFile, warnings: list[str] | None = None,
                     path: Path = ()) -> Any:
    """Interpolate every string value of ``data`` (a parsed document); keys are left alone."""
    seen: set[str] = set()

    def warn(name: str) -> None:
        if warnings is not None and name not in seen:
            seen.add(name)
            warnings.append(f'{source.display}: the "{name}" variable is not set. Defaulting to a blank string.')

    def walk(value: Any, p: Path) -> Any:
        if isinstance(value, str):
            try:
                return substitute(value, lookup, on_unset=warn)
            except InterpolationError as exc:
                msg = str(exc)
                if msg.startswith("invalid interpolation format"):
                    msg = msg.replace("invalid interpolation format", f"invalid interpolation format for {fmt_path(p)}", 1)
                raise source.error(msg, p) from None
        if isinstance(value, dict):
            return {k: walk(v, p + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, p + (i,)) for i, v in enumerate(value)]
        return value

    return walk(data, path)
