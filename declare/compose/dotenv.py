"""Env files (``.env``, ``--env-file``, a service's ``env_file``) -> ordered ``{name: value}``.

The syntax is Docker Compose's:

- ``KEY=VALUE``, ``export KEY=VALUE``; blank lines and ``# comment`` lines are skipped;
- unquoted values end at the line end, an inline comment needs a blank before
  ``#``, trailing blanks are dropped, ``$VAR``/``${VAR:-default}`` are interpolated;
- ``'single quoted'`` values are literal (``\\'`` escapes the quote) and may span lines;
- ``"double quoted"`` values may span lines, understand ``\\n \\r \\t \\\\ \\" \\$``
  and are interpolated; anything after the closing quote is ignored;
- a bare ``KEY`` takes its value from the environment, and is skipped when unset.

Interpolation looks a name up in the given environment first, then among the
keys defined earlier in the same file.
"""

from __future__ import annotations

from typing import Callable, Mapping

from podium.engine.errors import ConfigError

from .interpolate import InterpolationError, substitute
from .located import display_name

Lookup = Callable[[str], "str | None"]

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$$"}


def _is_key_char(c: str) -> bool:
    return c.isalnum() or c in "_.-"


class _Parser:
    def __init__(self, text: str, filename: str, lookup: Lookup) -> None:
        self.s = text.replace("\r\n", "\n")
        self.i = 0
        self.where_file = display_name(filename)
        self.lookup = lookup
        self.out: dict[str, str] = {}

    def line(self) -> int:
        return self.s.count("\n", 0, self.i) + 1

    def fail(self, message: str) -> ConfigError:
        return ConfigError(message, where=f"{self.where_file}:{self.line()}")

    def resolve(self, name: str) -> str | None:
        v = self.lookup(name)
        if v is not None:
            return v
        return self.out.get(name)

    def expand(self, value: str) -> str:
        try:
            return substitute(value, self.resolve)
        except InterpolationError as exc:
            raise self.fail(str(exc)) from None

    def parse(self) -> dict[str, str]:
        s = self.s
        n = len(s)
        while True:
            # skip blanks, empty lines and comment lines
            while self.i < n and s[self.i] in " \t\n\f\v":
                self.i += 1
            if self.i >= n:
                return self.out
            if s[self.i] == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
                continue
            self.statement()

    def statement(self) -> None:
        s = self.s
        n = len(s)
        if s.startswith("export", self.i) and self.i + 6 < n and s[self.i + 6] in " \t":
            self.i += 6
            while self.i < n and s[self.i] in " \t":
                self.i += 1
        start = self.i
        while self.i < n and _is_key_char(s[self.i]):
            self.i += 1
        key = s[start:self.i]
        while self.i < n and s[self.i] in " \t":
            self.i += 1
        if not key:
            bad = s[self.i] if self.i < n else "end of file"
            raise self.fail(f"unexpected character {bad!r} in variable name")
        if self.i >= n or s[self.i] in "\n#":
            inherited = self.lookup(key)
            if inherited is not None:
                self.out[key] = inherited
            self.skip_line()
            return
        if s[self.i] not in "=:":
            raise self.fail(f"unexpected character {s[self.i]!r} in variable name {key!r}")
        self.i += 1
        while self.i < n and s[self.i] in " \t":
            self.i += 1
        self.out[key] = self.value()

    def skip_line(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = len(self.s) if end < 0 else end

    def value(self) -> str:
        s = self.s
        n = len(s)
        if self.i < n and s[self.i] in "'\"":
            quote = s[self.i]
            line = self.line()
            self.i += 1
            buf: list[str] = []
            while True:
                if self.i >= n:
                    raise ConfigError(f"unterminated quoted value (opened with {quote})",
                                      where=f"{self.where_file}:{line}")
                c = s[self.i]
                if c == "\\" and self.i + 1 < n:
                    nxt = s[self.i + 1]
                    if quote == "'":
                        if nxt == "'":
                            buf.append("'")
                            self.i += 2
                            continue
                    elif nxt in _ESCAPES:
                        buf.append(_ESCAPES[nxt])
                        self.i += 2
                        continue
                    buf.append(c)
                    self.i += 1
                    continue
                if c == quote:
                    self.i += 1
                    break
                if quote == '"' and c == "$":
                    buf.append("$")
                else:
                    buf.append(c)
                self.i += 1
            self.skip_line()
            raw = "".join(buf)
            if quote == "'":
                return raw
            return self.expand(raw)
        end = s.find("\n", self.i)
        end = n if end < 0 else end
        raw = s[self.i:end]
        self.i = end
        # an inline comment starts at a '#' preceded by a blank
        for j, c in enumerate(raw):
            if c == "#" and (j == 0 or raw[j - 1] in " \t"):
                raw = raw[:j]
                break
        return self.expand(raw.rstrip())


def parse_env_text(text: str, *, filename: str = "<env>", lookup: Lookup | Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse env-file text; ``lookup`` supplies bare ``KEY`` lines and interpolated names."""
    if lookup is None:
        fn: Lookup = lambda _name: None  # noqa: E731
    elif callable(lookup):
        fn = lookup
    else:
        env = lookup
        fn = env.get
    return _Parser(text, filename, fn).parse()


def read_env_file(path: str, *, lookup: Lookup | Mapping[str, str] | None = None) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"env file {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"env file {path} is a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(f"env file {path} is not UTF-8 text") from None
    return parse_env_text(text, filename=path, lookup=lookup)
