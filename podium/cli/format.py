"""Output: human tables, ``--format json`` and Go-template-ish ``--format '{{.Names}}'``.

Podman users script against Go templates; podium understands the subset they
use: ``{{.Field}}``, ``{{.A.B}}``, ``{{json .X}}``, ``{{upper .X}}``,
``{{lower .X}}``, ``{{index .Labels "k"}}``, ``{{join .X ","}}``, a leading
``table`` for a header row, and ``\\t``/``\\n`` escapes.
"""

from __future__ import annotations

import json
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")


class TemplateError(ValueError):
    pass


def _lookup(obj: Any, path: str) -> Any:
    if path in (".", ""):
        return obj
    cur = obj
    for part in path.lstrip(".").split("."):
        if isinstance(cur, dict):
            if part in cur:
                cur = cur[part]
                continue
            low = {k.lower(): v for k, v in cur.items()}
            if part.lower() in low:
                cur = low[part.lower()]
                continue
        raise TemplateError(f"template: can't evaluate field {part}")
    return cur


def _args(expr: str) -> list[str]:
    return re.findall(r'"(?:[^"\\]|\\.)*"|\S+', expr)


def _value(tok: str, obj: Any) -> Any:
    if tok.startswith('"'):
        return json.loads(tok)
    return _lookup(obj, tok)


def _str(v: Any) -> str:
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_str(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_str(x) for x in v) + "]"
    return str(v)


def _eval(expr: str, obj: Any) -> str:
    toks = _args(expr)
    if not toks:
        return ""
    fn, rest = toks[0], toks[1:]
    if fn == "json":
        return json.dumps(_value(rest[0], obj) if rest else obj)
    if fn in ("upper", "lower", "title"):
        s = _str(_value(rest[0], obj))
        return {"upper": s.upper, "lower": s.lower, "title": s.title}[fn]()
    if fn == "index":
        cur = _value(rest[0], obj)
        for key in rest[1:]:
            k = _value(key, obj)
            cur = cur[int(k)] if isinstance(cur, list) else (cur or {}).get(k)
        return _str(cur)
    if fn == "join":
        return _value(rest[1], obj).join(_str(x) for x in _value(rest[0], obj) or [])
    if fn == "len":
        return str(len(_value(rest[0], obj) or []))
    if fn.startswith(".") or fn.startswith('"'):
        return _str(_value(fn, obj))
    raise TemplateError(f'template: function "{fn}" not defined')


def render(template: str, obj: Any) -> str:
    tpl = template.replace("\\t", "\t").replace("\\n", "\n")
    return _ACTION.sub(lambda m: _eval(m.group(1), obj), tpl)


def header_for(template: str) -> str:
    """``table {{.ID}}\\t{{.Names}}`` -> ``ID\\tNAMES`` (Podman upper-cases the field names)."""
    def name(m: re.Match[str]) -> str:
        toks = _args(m.group(1))
        field = next((t for t in toks if t.startswith(".")), toks[-1] if toks else "")
        return field.lstrip(".").split(".")[-1].upper() or "VALUE"
    return _ACTION.sub(name, template.replace("\\t", "\t").replace("\\n", "\n"))


def emit(rows: Iterable[Any], fmt: str | None, *, table: Callable[[list[Any]], None] | None = None,
         out: Any = None) -> None:
    """Print ``rows`` as json, a template per row, or the command's own table."""
    out = out or sys.stdout
    rows = list(rows)
    if fmt == "json":
        out.write(json.dumps(rows, indent=4) + "\n")
        return
    if fmt:
        tpl = fmt
        if tpl.startswith("table"):
            tpl = tpl[5:].lstrip()
            lines = [header_for(tpl)] + [render(tpl, r) for r in rows]
            out.write(align(lines))
            return
        for r in rows:
            out.write(render(tpl, r) + "\n")
        return
    if table is not None:
        table(rows)


def align(lines: list[str]) -> str:
    """Tab-separated lines as space-padded columns (Go's tabwriter, padding 2)."""
    cells = [ln.split("\t") for ln in lines]
    widths: list[int] = []
    for row in cells:
        for i, cell in enumerate(row[:-1]):
            if i >= len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(cell))
    text = []
    for row in cells:
        parts = [cell.ljust(widths[i] + 2) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        text.append("".join(parts).rstrip())
    return "".join(t + "\n" for t in text)


def table(headers: list[str], rows: list[list[str]], out: Any = None) -> None:
    (out or sys.stdout).write(align(["\t".join(headers)] + ["\t".join(r) for r in rows]))


def emit_inspect(items: list[Any], fmt: str | None, *, as_json: Any = None) -> None:
    """``inspect``'s output: a Go template per item, else indented JSON (``as_json`` when the
    JSON differs from the items the template sees)."""
    if fmt and fmt != "json":
        emit(items, fmt)
    else:
        sys.stdout.write(json.dumps(items if as_json is None else as_json, indent=4) + "\n")
