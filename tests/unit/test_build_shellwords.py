"""ARG/ENV substitution and quoting as Docker's shell lexer does it."""

from __future__ import annotations

import pytest

from podium.engine.build.shellwords import (expand_heredoc, name_values, process_word, process_words,
                                            split_quoted)
from podium.engine.errors import ConfigError

ENV = {"A": "1", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize("word, want", [
    ("$A", "1"), ("${A}", "1"), ("a${A}b", "a1b"), ("$NOPE", ""), ("$", "$"), ("$1x", "x"),
    ("${NOPE:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${A:-d}", "1"),
    ("${A:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${NOPE+alt}", ""),
    ("'$A'", "$A"), ('"$A"', "1"), ('"a \\"q\\" $A"', 'a "q" 1'), ("\\$A", "$A"),
    ('"\\n"', "\\n"), ("${NOPE:-$A}", "1"),
])
def test_process_word(word: str, want: str) -> None:
    assert process_word(word, ENV) == want


def test_backtick_escape() -> None:
    assert process_word("`$A", ENV, "`") == "$A"
    assert process_word("c:\\dir", ENV, "`") == "c:\\dir"


def test_words_split_values_but_not_quotes() -> None:
    assert process_words('a "b c" $SP', ENV) == ["a", "b c", "x", "y"]
    assert process_words("'' x", ENV) == ["", "x"]


@pytest.mark.parametrize("word, words", [
    ("${NOPE:?must be set}", "must be set"), ("${A", "missing"), ("${A%x}", "unsupported"),
    ("'open", "missing closing"), ('"open', "missing closing"),
])
def test_errors(word: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        process_word(word, ENV)


def test_split_quoted_keeps_quotes() -> None:
    assert split_quoted('A="b c" D=e\\ f') == ['A="b c"', "D=e\\ f"]


def test_env_pairs_see_the_environment_before_the_instruction() -> None:
    assert name_values("A=2 B=$A", ENV, "\\", "ENV") == [("A", "2"), ("B", "1")]
    assert name_values('K "a b"', ENV, "\\", "ENV") == [("K", "a b")]
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        name_values("A=1 B", ENV, "\\", "ENV")


def test_heredoc_bodies_expand_variables_only() -> None:
    assert expand_heredoc('a=$A "b" \'${SP}\' \\$A ${NOPE:-d}\n', ENV) == \
        'a=1 "b" \'x y\' $A d\n'
