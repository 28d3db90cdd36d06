"""A thin command declaration over argparse: a name, its arguments, its handler.

argparse exits 2 and prints usage on bad input; Podman exits 125 with one
line, so the parser here raises ConfigError instead.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

from podium.engine.errors import ConfigError


class _Formatter(argparse.HelpFormatter):
    """argparse asks shutil for the terminal width on every add_argument; that import
    alone costs start-up time, so take the width from $COLUMNS instead."""

    def __init__(self, prog: str) -> None:
        import os
        try:
            width = int(os.environ.get("COLUMNS", "100"))
        except ValueError:
            width = 100
        super().__init__(prog, width=max(width - 2, 40))


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message.replace("the following arguments are required", "missing argument"))


class Command:
    """One CLI command: ``build(parser)`` adds its arguments, ``handler(args, g)`` runs it."""

    def __init__(self, handler: Callable[..., int], build: Callable[[Parser], None], help: str, *,
                 short_help: bool = True) -> None:
        self.handler = handler
        self.build = build
        self.help = help
        self.short_help = short_help

    def invoke(self, prog: str, argv: list[str], g: Any) -> int:
        p = Parser(prog=prog, description=self.help, add_help=False, allow_abbrev=False)
        p.add_argument("--help", action="help", help="show this help")
        if self.short_help:
            p.add_argument("-h", action="help", help=argparse.SUPPRESS)
        self.build(p)
        args = p.parse_args(argv)
        return self.handler(args, g) or 0


def flag(p: Parser, *names: str, help: str = "") -> None:
    p.add_argument(*names, action="store_true", help=help)


def multi(p: Parser, *names: str, help: str = "", dest: str | None = None) -> None:
    kw: dict[str, Any] = {"action": "append", "default": [], "help": help}
    if dest:
        kw["dest"] = dest
    p.add_argument(*names, **kw)


def kv(values: list[str], what: str, *, require_value: bool = False) -> dict[str, str]:
    """``KEY=VALUE`` flags (labels, annotations, options) into a dict; one clear error otherwise."""
    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not k or (require_value and not sep):
            raise ConfigError(f"invalid {what} {v!r}: expected KEY=VALUE")
        out[k] = val
    return out


def parse_filters(values: list[str], keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--filter key=value`` flags, each key one of ``keys``."""
    out = []
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or k not in keys:
            raise ConfigError(f"invalid filter {v!r}: use one of {', '.join(f + '=' for f in keys)}")
        out.append((k, val))
    return out


def print_error(exc: Exception) -> None:
    """One ``Error:`` line on stderr, after whatever stdout already holds."""
    import sys
    sys.stdout.flush()
    sys.stderr.write("Error: " + " ".join(str(exc).split()) + "\n")


def parse_bool(value: str) -> bool:
    """Podman's BOOL flag values (``--tls-verify=false``, ``--start=true``)."""
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ConfigError(f"invalid boolean {value!r}: use true or false")
