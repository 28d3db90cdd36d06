"""Variable substitution and word splitting in Containerfile arguments, as Docker does it.

A port of the rules of moby/buildkit's ``shell.Lex``: ``$VAR`` and ``${VAR}``,
the modifiers ``${VAR:-word}``, ``${VAR-word}``, ``${VAR:+word}``,
``${VAR+word}``, ``${VAR:?message}`` and ``${VAR?message}``; single quotes keep
everything literal, double quotes keep blanks and allow ``$`` expansion; the
escape character (``\\`` or the backtick chosen by ``# escape=``) makes the next
character literal. ``process_word`` returns one string (quotes removed);
``process_words`` also splits on unquoted blanks, including blanks that come
from a variable's value. ``split_quoted`` is the parser's quote-aware split of
``ENV``/``LABEL``/``ARG`` arguments, which keeps the quotes for the later
``process_word``.
"""

from __future__ import annotations

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping


class _Lex:
    def __init__(self, text: str, env: Mapping[str, str], escape: str, *,
                 split: bool, quotes: bool = True) -> None:
        self.s, self.i, self.env, self.esc, self.split = text, 0, env, escape, split
        self.quotes = quotes
        self.words: list[str] = []
        self.cur: list[str] = []
        self.in_word = False

    # word building: raw characters never split, plain ones split on blanks
    def _raw(self, text: str) -> None:
        self.cur.append(text)
        self.in_word = True

    def _plain(self, text: str) -> None:
        for ch in text:
            if ch.isspace() and self.split:
                self._end()
            else:
                self._raw(ch)

    def _end(self) -> None:
        if self.in_word:
            self.words.append("".join(self.cur))
        self.cur, self.in_word = [], False

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def run(self, stop: str = "") -> str:
        """Process up to ``stop`` (for ``${VAR:-word}``'s word); returns the flat result."""
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                break
            if ch in ("'", '"') and not self.quotes:
                self.next()
                out.append(ch)
                self._raw(ch)
            elif ch == "'":
                text = self._single()
                out.append(text)
                self._raw(text)
            elif ch == '"':
                text = self._double()
                out.append(text)
                self._raw(text)
            elif ch == "$":
                text = self._dollar()
                out.append(text)
                self._plain(text)
            elif ch == self.esc:
                self.next()
                nxt = self.next()
                out.append(nxt)
                if nxt:
                    self._raw(nxt)
            else:
                self.next()
                out.append(ch)
                self._plain(ch)
        return "".join(out)

    def _single(self) -> str:
        self.next()
        start = self.i
        end = self.s.find("'", start)
        if end < 0:
            raise ConfigError(f"unexpected end of text: missing closing ' in {self.s!r}")
        self.i = end + 1
        if start == end:
            self.in_word = True  # '' is an empty word, not nothing
        return self.s[start:end]

    def _double(self) -> str:
        self.next()
        out: list[str] = []
        self.in_word = True
        while True:
            ch = self.peek()
            if not ch:
                raise ConfigError(f"unexpected end of text: missing closing \" in {self.s!r}")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
            elif ch == self.esc:
                self.next()
                nxt = self.next()
                if nxt in ('"', "$", self.esc):
                    out.append(nxt)
                else:
                    out.append(ch + nxt)
            else:
                out.append(self.next())

    def _name(self) -> str:
        start = self.i
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.i += 1
        return self.s[start:self.i]

    def _dollar(self) -> str:
        self.next()  # $
        if self.peek() != "{":
            if self.peek().isdigit():  # a positional parameter: one digit, always empty
                return self.env.get(self.next(), "")
            name = self._name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.next()  # {
        name = self._name()
        if not name:
            raise ConfigError(f"bad substitution in {self.s!r}: ${{ must be followed by a name")
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        if not ch:
            raise ConfigError(f"missing '}}' in substitution of {name} in {self.s!r}")
        colon = ch == ":"
        if colon:
            ch = self.next()
        if ch not in ("-", "+", "?"):
            raise ConfigError(f"unsupported modifier ({':' if colon else ''}{ch}) in substitution "
                              f"of {name} in {self.s!r}: use :- :+ :? - + or ?")
        sub = _Lex(self.s, self.env, self.esc, split=False)
        sub.i = self.i
        word = sub.run(stop="}")
        if sub.next() != "}":
            raise ConfigError(f"missing '}}' in substitution of {name} in {self.s!r}")
        self.i = sub.i
        value = self.env.get(name)
        is_set = value is not None and (value != "" or not colon)
        if ch == "-":
            return value if is_set else word  # type: ignore[return-value]
        if ch == "+":
            return word if is_set else ""
        if not is_set:
            raise ConfigError(f"{name}: {word or 'is not set'}")
        return value  # type: ignore[return-value]


def process_word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables and remove quotes; the result is one word."""
    return _Lex(text, env, escape, split=False).run()


def process_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand variables, remove quotes and split on unquoted blanks."""
    lex = _Lex(text, env, escape, split=True)
    lex.run()
    lex._end()
    return lex.words


def expand_heredoc(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """An unquoted heredoc's body: ``$VAR`` and ``${VAR...}`` substituted, the escape
    character protecting a ``$``; quotes are just characters here."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == escape and i + 1 < len(text) and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if ch == "$":
            lex = _Lex(text, env, escape, split=False, quotes=False)
            lex.i = i
            out.append(lex._dollar())
            i = lex.i
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def split_quoted(text: str, escape: str = "\\") -> list[str]:
    """Split on blanks outside quotes, keeping quotes and escapes (Docker's parseWords)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote and ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
            i += 1
            continue
        if ch == escape and i + 1 < len(text) and quote != "'":
            cur.append(ch + text[i + 1])
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        cur.append(ch)
        i += 1
    if cur:
        words.append("".join(cur))
    return words


def name_values(text: str, env: Mapping[str, str], escape: str, what: str
                ) -> list[tuple[str, str]]:
    """``ENV``/``LABEL`` arguments -> [(key, value)] with substitution (from ``env``, which
    is the environment *before* the instruction, as in Docker: ``ENV A=1 B=$A`` sees the old A)."""
    words = split_quoted(text, escape)
    if not words:
        raise ConfigError(f"{what} requires at least one argument")
    if "=" not in words[0]:
        key, _, rest = text.strip().partition(" ")
        rest = rest.strip()
        if not rest:
            raise ConfigError(f"{what} {key} needs a value: {what} {key}=VALUE")
        return [(process_word(key, env, escape), process_word(rest, env, escape))]
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise ConfigError(f"{what}: {w!r} is not KEY=VALUE (quote values that hold blanks)")
        out.append((process_word(key, env, escape), process_word(value, env, escape)))
    return out
